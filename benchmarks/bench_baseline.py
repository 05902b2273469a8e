"""Speed of the classical baseline detector on 2000 x 2000 synthetic Sentinel-1 and Sentinel-2 scenes.

Times are reported as a ratio to a reference operation timed in the same process on the same machine: one
``scipy.ndimage.uniform_filter`` pass (81 x 81 box, the 800 m background window at 10 m) over a 2000 x 2000
float32 array. Medians of several runs. The planted vessels are also matched, as a sanity check that the
timed run did the real work.

Run: ``.venv/bin/python benchmarks/bench_baseline.py [--size 2000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from satwatch.detection.models.baseline import BaselineDetector
from satwatch.imagery.scene import Scene
from tests.detection._synthetic import Ship, land_columns, optical_scene, s1_scene


def _median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _fleet(size: int, land_cols: int, n: int, seed: int) -> tuple[Ship, ...]:
    rng = np.random.default_rng(seed)
    ships: list[Ship] = []
    while len(ships) < n:
        row, col = rng.uniform(60, size - 60), rng.uniform(land_cols + 60, size - 60)
        if all(math.hypot(row - s.row, col - s.col) > 60 for s in ships):
            length = float(rng.uniform(40, 300))
            ships.append(Ship(row, col, length, length / rng.uniform(4, 8), float(rng.uniform(0, 180))))
    return tuple(ships)


def _recall(scene: Scene, ships: tuple[Ship, ...], detector: BaselineDetector) -> tuple[float, int]:
    recs = detector.find(scene)
    found = sum(any(math.hypot(r.centre[0] - s.col, r.centre[1] - s.row) <= 2 for r in recs) for s in ships)
    return found / len(ships), len(recs)


def main(argv: list[str] | None = None) -> int:
    """Print the timings; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2000, help="scene edge, pixels (default 2000)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per measurement (default 5)")
    args = ap.parse_args(argv)
    size, land_cols = args.size, args.size // 4
    shape = (size, size)
    land = land_columns(shape, land_cols)
    ships = _fleet(size, land_cols, 40, seed=7)
    scenes = {
        "s1": s1_scene(shape, ships, land, seed=1, spots_db=10.0),
        "s2": optical_scene("s2", shape, ships, land, seed=1),
    }
    detector = BaselineDetector()
    ref_input = np.random.default_rng(0).random(shape, dtype=np.float32)
    reference = _median_time(lambda: ndimage.uniform_filter(ref_input, size=81), args.repeat)
    print(f"reference: uniform_filter 81x81 on {size}x{size} float32: {reference * 1000:.1f} ms (median of "
          f"{args.repeat})")
    for sensor, scene in scenes.items():
        seconds = _median_time(lambda scene=scene: detector.detect(scene), args.repeat)  # type: ignore[misc]
        recall, n = _recall(scene, ships, detector)
        print(f"baseline {sensor} {size}x{size}: {seconds:.2f} s = {seconds / reference:.1f} x reference; "
              f"{n} detections, recall {recall:.2f} on {len(ships)} planted vessels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
