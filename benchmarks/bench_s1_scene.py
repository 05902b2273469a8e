"""Cost of one coastal Sentinel-1 scene in the pipeline: ``cnn-cfar`` detection, then observability, on one scene.

Both need the scene's water and berth masks (``baseline.sar_berths``); the pipeline computes them once and keeps
them in ``Scene.derived``. One synthetic Sentinel-1 scene (``--size`` px square at 10 m: land on the left quarter,
speckled sea, 200 bright planted targets; :func:`bench_precision.make_scene`) is read once, then detected with
``cnn-cfar`` and observed over its whole extent, either on the same scene object (shared masks, as
``pipeline.scene.process_scene`` does) or with observability given a fresh copy of the scene (the masks computed
twice, as before), alternating, ``--repeats`` times after one warm-up each, in the same process. Prints the median
seconds of each and their ratio (the figure to quote: these machines are noisy).

Run: ``.venv/bin/python benchmarks/bench_s1_scene.py [--size 2048] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    """Print the two timings and their ratio; returns 0."""
    from bench_precision import make_scene
    from shapely.geometry import box

    from satwatch.aoi import project_geometry, validate_aoi
    from satwatch.change.observability import observe
    from satwatch.detection.detector import detect_path, get_detector
    from satwatch.imagery.scene import read_scene

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    det = get_detector("cnn-cfar", device="cpu")
    times: dict[str, list[float]] = {"shared masks": [], "masks twice": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = make_scene("s1", args.size, Path(tmp) / "s1.tif")
        base = read_scene(path)
        x0, y0, n = base.transform.c, base.transform.f, args.size
        aoi = validate_aoi("bench", project_geometry(box(x0, y0 - 10.0 * n, x0 + 10.0 * n, y0), base.crs, 4326),
                           {}, "bench")
        found = 0
        for i in range(args.repeats + 1):
            for name in times:
                scene = replace(base)  # a scene as read: nothing derived yet
                t0 = time.perf_counter()
                found = len(detect_path(det, path, scene))
                observe(scene if name == "shared masks" else replace(scene), aoi)
                if i:  # the first round warms up
                    times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"cnn-cfar + observe, {n} x {n} px coastal Sentinel-1 scene ({found} detections): "
          f"{med['shared masks']:.2f} s with the masks shared, {med['masks twice']:.2f} s computing them twice: "
          f"{med['shared masks'] / med['masks twice']:.2f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
