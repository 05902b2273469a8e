"""Cost of ``cnn-cfar`` (the Sentinel-1 default) against the CNN alone and the CFAR baseline, on a CPU.

One synthetic Sentinel-1 scene (``--size`` px square at 10 m: land on the left quarter, speckled sea, 200 bright
planted targets; :func:`bench_precision.make_scene`), detected by ``cnn``, ``cnn-cfar`` and ``baseline`` in the same
process, alternating, ``--repeats`` times after one warm-up each. Prints the median seconds, detections and each
detector's time as a ratio of the CNN's (same process, same scene: the ratios are what to quote).

Run: ``.venv/bin/python benchmarks/bench_s1_hybrid.py [--size 2048] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

DETECTORS = ("cnn", "cnn-cfar", "baseline")


def main(argv: list[str] | None = None) -> int:
    """Print one line per detector; returns 0."""
    from bench_precision import make_scene

    from satwatch.detection.detector import get_detector
    from satwatch.imagery.scene import read_scene

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        scene = read_scene(make_scene("s1", args.size, Path(tmp) / "s1.tif"))
    dets = {n: get_detector(n, device="cpu") if n != "baseline" else get_detector(n) for n in DETECTORS}
    times: dict[str, list[float]] = {n: [] for n in DETECTORS}
    found: dict[str, int] = {}
    for n, d in dets.items():
        found[n] = len(d.detect(scene))  # warm-up
    for _ in range(args.repeats):
        for n, d in dets.items():
            t0 = time.perf_counter()
            d.detect(scene)
            times[n].append(time.perf_counter() - t0)
    ref = statistics.median(times["cnn"])
    for n in DETECTORS:
        med = statistics.median(times[n])
        print(f"{n:9s} {med:7.2f} s  {args.size**2 / med / 1e6:6.2f} Mpx/s  {found[n]:4d} detections  "
              f"{med / ref:5.2f} x the CNN's time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
