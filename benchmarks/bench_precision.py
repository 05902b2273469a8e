"""int8 against float32 CNN inference on a CPU, for every profile that ships an int8 model.

For each profile: one synthetic scene of its sensor (``--size`` px square at the profile's resolution: sea and
land noise with bright planted targets), detected with ``--precision fp32`` and ``--precision int8`` by the
same process, alternating, ``--repeats`` times after one warm-up each. Prints the median seconds, megapixels per
second and the int8 / float32 speed ratio (same process, same scene: the ratio is what to quote).

Run: ``.venv/bin/python benchmarks/bench_precision.py [--size 2048] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BANDS = {"s2": ("B02", "B03", "B04", "B08", "B11"), "s1": ("VV", "VH"), "vhr": ("R", "G", "B", "N")}


def make_scene(sensor: str, size: int, path: Path, seed: int = 0) -> Path:
    """Write a synthetic ``sensor`` scene of ``size`` x ``size`` px at its profile's resolution."""
    from affine import Affine
    from pyproj import CRS

    from satwatch.detection.profiles import PROFILES
    from satwatch.imagery.scene import Scene, SceneMeta, write_scene

    rng = np.random.default_rng(seed)
    bands = BANDS[sensor]
    land = np.zeros((size, size), dtype=bool)
    land[:, : size // 4] = True
    if sensor == "s1":
        sea, ground, target = np.array([-22.0, -28.0]), np.array([-8.0, -14.0]), np.array([5.0, -3.0])
        noise = 1.5
    else:
        sea, ground = np.full(len(bands), 0.04), np.full(len(bands), 0.12)
        target, noise = np.full(len(bands), 0.3), 0.005
    data = np.where(land[None], ground[:, None, None], sea[:, None, None]).astype(np.float32)
    data += rng.normal(0, noise, data.shape).astype(np.float32)
    for _ in range(200):
        r, c = rng.integers(20, size - 20), rng.integers(size // 4 + 20, size - 20)
        data[:, r:r + 2, c:c + int(rng.integers(3, 12))] = target[:, None, None]
    res = PROFILES[sensor].res_m
    scene = Scene(data=data, bands=bands, crs=CRS.from_epsg(32653),
                  transform=Affine(res, 0, 300_000, 0, -res, 4_800_000),
                  meta=SceneMeta(sensor=sensor, acquired=datetime(2024, 10, 8, 1, 50, tzinfo=UTC), source="benchmark",
                                 simulated=True, aoi="", scene_id=f"bench-{sensor}"))
    return write_scene(scene, path)


def main(argv: list[str] | None = None) -> int:
    """Print one line per profile; returns 0."""
    from satwatch.detection.models.cnn import MODELS_DIR, CnnDetector
    from satwatch.detection.models.quantized import int8_path
    from satwatch.detection.profiles import PROFILES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"{'profile':<8} {'fp32 s':>8} {'int8 s':>8} {'fp32 Mpx/s':>11} {'int8 Mpx/s':>11} {'int8/fp32':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for profile in sorted(PROFILES):
            if not int8_path(MODELS_DIR, profile).is_file():
                print(f"{profile:<8} no int8 model")
                continue
            path = make_scene(profile, args.size, Path(tmp) / f"{profile}.tif")
            detectors = {p: CnnDetector(device="cpu", precision=p) for p in ("fp32", "int8")}
            times: dict[str, list[float]] = {p: [] for p in detectors}
            for det in detectors.values():
                det.detect_file(path)  # warm-up: weights, sessions, first-run allocations
            for _ in range(args.repeats):
                for p, det in detectors.items():
                    t0 = time.perf_counter()
                    det.detect_file(path)
                    times[p].append(time.perf_counter() - t0)
            f32, i8 = statistics.median(times["fp32"]), statistics.median(times["int8"])
            mpx = args.size * args.size / 1e6
            print(f"{profile:<8} {f32:8.2f} {i8:8.2f} {mpx / f32:11.2f} {mpx / i8:11.2f} {f32 / i8:9.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
