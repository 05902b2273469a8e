"""Scenes per minute of ``satwatch batch`` (prefetching DataLoader) against a plain loop, same process.

Renders ``--n`` simulated scenes of one AOI (Sentinel-2 and Sentinel-1, the default scenario) into a temporary
archive, then times, on the same scenes and detector:

- the baseline: a plain loop ``read_scene`` -> ``detector.detect`` -> ``write_geojson``, no overlap;
- ``run_batch`` with ``--workers`` reader processes prefetching scenes (cache off: every scene is detected).

It prints scenes per minute for both and their ratio, and checks the two found the same number of objects.

CPU (here): ``.venv/bin/python benchmarks/bench_batch.py --n 12 --detector baseline --device cpu``
GPU box:    ``.venv/bin/python benchmarks/bench_batch.py --n 200 --detector cnn --device cuda --workers 6
--batch-size 16`` (needs models/*.pt; scenes render once into the temporary archive before timing)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=12, help="scenes (default 12)")
    p.add_argument("--aoi", default="ru_dunai")
    p.add_argument("--detector", default="baseline")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=8)
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    os.environ["SATWATCH_DATA_DIR"] = str(tmp / "data")
    from satwatch.batch import run_batch
    from satwatch.detection.detector import get_detector
    from satwatch.imagery.scene import read_scene
    from satwatch.outputs.files import write_geojson
    from satwatch.pipeline import build_request, open_source
    from satwatch.settings import load_settings

    start = date(2024, 9, 1)
    request = build_request([args.aoi], start, start + timedelta(days=5 * args.n), ["s2", "s1"], "simulated")
    source = open_source(request)
    aoi = request.aois[0]
    found = sorted((a for s in request.sensors for a in source.search(aoi, request.start, request.end, s)),
                   key=lambda a: a.acquired)[: args.n]
    t0 = time.perf_counter()
    scenes = [source.fetch(a, aoi, load_settings().archive_dir) for a in found]
    print(f"rendered {len(scenes)} scenes of {aoi.id} in {time.perf_counter() - t0:.1f} s", flush=True)

    options = {"device": args.device, "batch_size": args.batch_size} if args.detector == "cnn" else {}
    detector = get_detector(args.detector, **options)
    t0 = time.perf_counter()
    n_loop = 0
    for i, path in enumerate(scenes):
        det = detector.detect(read_scene(path))
        write_geojson(det, tmp / "loop" / f"{i}.geojson")
        n_loop += len(det)
    loop_s = time.perf_counter() - t0
    summary = run_batch(scenes, tmp / "batch", detector=args.detector, device=args.device,
                        batch_size=args.batch_size, workers=args.workers, use_cache=False, progress=False)
    assert summary.detections == n_loop, (summary.detections, n_loop)
    loop_rate = len(scenes) / loop_s * 60
    print(f"plain loop: {len(scenes)} scenes in {loop_s:.2f} s = {loop_rate:.1f} scenes/min")
    print(f"satwatch batch ({args.workers} readers, {summary.device}): {summary.scenes} scenes in "
          f"{summary.seconds:.2f} s = {summary.scenes_per_minute:.1f} scenes/min")
    print(f"batch/loop speed ratio {summary.scenes_per_minute / loop_rate:.2f} ({summary.detector}, "
          f"{summary.detections} detections both ways, os.cpu_count()={os.cpu_count()})")


if __name__ == "__main__":
    main()
