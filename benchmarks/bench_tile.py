"""Throughput of the CNN on one full Sentinel-2 tile, against a parallel plain read of the same file.

The issue's target (one GPU, 16 cores): at least 100 Mpx/s, or within 2x of a parallel plain read of the same
file, whichever is lower. One command writes a synthetic ``--size`` x ``--size`` px scene (default 10980, a full
Sentinel-2 tile at 10 m: 120.6 Mpx) with the bands ``B02 B03 B04 B08 B11 SCL`` as a tiled GeoTIFF (written window
by window: memory stays a few hundred MB), then times in this process, after the imports and one warm-up tile:

1. ``read``: a parallel plain read: ``--threads`` threads each read whole 512-row strips of every band with
   rasterio (GDAL releases the GIL), nothing else done with the pixels;
2. ``cnn``: :meth:`CnnDetector.detect_file` on the same file with ``--device`` (``cuda`` on a GPU box: windowed
   reads and normalisation by ``--threads`` reader threads, float16 autocast; ``cpu``: the int8 model), the
   path ``satwatch detect`` and ``satwatch batch`` take;
3. ``read`` again, so that page-cache warm-up favours neither side.

Prints megapixels per second of each, the ratio cnn / read and whether the target holds.

GPU box: ``.venv/bin/python benchmarks/bench_tile.py --device cuda --threads 16 --batch-size 32``
CPU (here, a check that it runs): ``.venv/bin/python benchmarks/bench_tile.py --size 2048 --device cpu
--threads 2 --batch-size 4``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_MPX_S = 100.0
"""The issue's absolute target, megapixels per second on one GPU."""
READ_RATIO = 0.5
"""The issue's relative target: at least half the speed of a parallel plain read."""
STRIP = 512
"""Rows per window, for writing and for the plain read."""


def make_tile(path: Path, size: int, seed: int = 0) -> None:
    """Write the synthetic tile: sea with ships and a land strip; float32 reflectance, SCL classes."""
    import rasterio
    from affine import Affine

    from satwatch.imagery.scene import SENSOR_BANDS, SceneMeta

    bands = tuple(SENSOR_BANDS["s2"])
    rng = np.random.default_rng(seed)
    water = np.array([0.040, 0.046, 0.022, 0.018, 0.010, 0.007], dtype=np.float32)
    land = np.array([0.060, 0.090, 0.080, 0.300, 0.220, 0.120], dtype=np.float32)
    hull = np.array([0.150, 0.160, 0.170, 0.220, 0.200, 0.170], dtype=np.float32)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": len(bands), "dtype": "float32",
               "crs": "EPSG:32652", "transform": Affine(10, 0, 600_000, 0, -10, 4_600_000), "tiled": True,
               "blockxsize": 512, "blockysize": 512, "compress": "deflate", "predictor": 3,
               "BIGTIFF": "IF_SAFER"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.update_tags(**SceneMeta(sensor="s2", acquired=datetime(2024, 10, 8, 1, 50, tzinfo=UTC),
                                    source="benchmark", simulated=True, aoi="", scene_id="bench_tile").tags())
        for b, name in enumerate(bands, start=1):
            dst.set_band_description(b, name)
        for r0 in range(0, size, STRIP):
            h = min(STRIP, size - r0)
            is_land = np.zeros((h, size), dtype=bool)
            is_land[:, : size // 5] = True
            block = np.empty((len(bands), h, size), dtype=np.float32)
            for b in range(len(bands) - 1):
                block[b] = np.where(is_land, land[b], water[b]) + rng.normal(0, 0.002, (h, size)).astype(np.float32)
            for _ in range(size // 200):  # ships on the sea part
                r, c = int(rng.integers(2, h - 4)), int(rng.integers(size // 5 + 10, size - 30))
                block[:-1, r:r + 3, c:c + int(rng.integers(4, 25))] = hull[:, None, None]
            block[-1] = np.where(is_land, 4, 6)
            dst.write(block, window=rasterio.windows.Window(0, r0, size, h))


def parallel_read(path: Path, threads: int) -> float:
    """Seconds to read every band of ``path`` in ``STRIP``-row windows on ``threads`` threads."""
    import rasterio

    with rasterio.open(path) as src:
        height, width = src.height, src.width

    def strip(r0: int) -> int:
        with rasterio.open(path) as src:  # one handle per call: GDAL handles are not shared across threads
            return int(src.read(window=rasterio.windows.Window(0, r0, width, min(STRIP, height - r0))).size)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(strip, range(0, height, STRIP)))
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Write the tile, time the read and the CNN, print the table; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=10980, help="tile edge, px (default 10980)")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--threads", type=int, default=16, help="reader threads for both methods (default 16)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--dir", type=Path, default=None, help="where to write the tile (default a temporary folder)")
    args = ap.parse_args(argv)

    from satwatch.detection.models.cnn import CnnDetector

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "tile.tif"
        t0 = time.perf_counter()
        make_tile(path, args.size)
        print(f"wrote {args.size} x {args.size} px ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        mpx = args.size * args.size / 1e6
        detector = CnnDetector(device=args.device, batch_size=args.batch_size, read_threads=args.threads)
        detector.model("s2")  # load the weights (and the CUDA context) before any clock starts
        read1 = parallel_read(path, args.threads)
        t0 = time.perf_counter()
        found = detector.detect_file(path)
        cnn = time.perf_counter() - t0
        read2 = parallel_read(path, args.threads)
    read = min(read1, read2)
    print(f"device {detector.device}, precision {detector.model('s2').precision}, {args.threads} threads, "
          f"batch {args.batch_size}")
    print(f"read  {mpx / read:8.1f} Mpx/s  ({read1:.1f} s, again {read2:.1f} s)")
    print(f"cnn   {mpx / cnn:8.1f} Mpx/s  ({cnn:.1f} s, {len(found)} detections)")
    ratio = read / cnn
    goal = min(TARGET_MPX_S, READ_RATIO * mpx / read)
    print(f"cnn / read {ratio:.2f}; target {goal:.1f} Mpx/s (min of {TARGET_MPX_S:.0f} and half the read): "
          f"{'met' if mpx / cnn >= goal else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
