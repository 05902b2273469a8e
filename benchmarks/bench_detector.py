"""Detector speed and peak memory on one synthetic 4-band Sentinel-2 scene, against the architecture peers use.

One command, five methods on the same file (a 4096 x 4096 px, B02 B03 B04 B08 cloud-optimized GeoTIFF at
10 m with 300 planted vessels and land on one side), each in its own child process so that its peak resident
memory (``ru_maxrss``) is its own:

1. ``read``: a raw rasterio read of the whole scene (the floor: what any method must at least do);
2. ``baseline``: the classical CFAR / local-contrast detector (:mod:`satwatch.detection.models.baseline`);
3. ``cnn``: the shipped CNN as ``satwatch detect`` runs it on a CPU (the int8 ``models/s2.int8.onnx`` made from
   ``models/s2.pt``), with its windowed, tiled reads; ``cnn_fp32``: the same with the float32 PyTorch network;
4. ``faster_rcnn``: torchvision's ``fasterrcnn_mobilenet_v3_large_fpn`` (random weights: speed only) over the
   same 512 px tiles with 64 px overlap, on B04 B03 B02. It is slow, so it runs on ``--frcnn-tiles`` tiles
   and its megapixels per second are over the pixels of those tiles' cores.

Prints megapixels per second, seconds and peak memory of each, and the ratios to ``read`` and of the CNN to
Faster R-CNN. CPU threads: torch's default (all cores).

Run: ``.venv/bin/python benchmarks/bench_detector.py [--size 4096] [--frcnn-tiles 12]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_scene(path: Path, size: int, seed: int = 0) -> int:
    """Write the synthetic scene; return the number of planted vessels."""
    from affine import Affine
    from pyproj import CRS
    from scipy import ndimage

    from satwatch.imagery.scene import Scene, SceneMeta, write_scene

    rng = np.random.default_rng(seed)
    bands = ("B02", "B03", "B04", "B08")
    water = np.array([0.04, 0.05, 0.03, 0.02], dtype=np.float32)
    land = np.array([0.06, 0.09, 0.08, 0.30], dtype=np.float32)
    data = np.empty((4, size, size), dtype=np.float32)
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (size, size)).astype(np.float32), 3)
    is_land = np.zeros((size, size), dtype=bool)
    is_land[:, : size // 4] = True
    for b in range(4):
        data[b] = np.where(is_land, land[b] * (1 + 0.3 * texture), water[b]) + rng.normal(0, 0.004, (size, size))
    n = 0
    for _ in range(300):
        r, c = rng.integers(40, size - 40), rng.integers(size // 4 + 40, size - 40)
        length, width = int(rng.integers(3, 20)), int(rng.integers(1, 4))
        data[:, r:r + width, c:c + length] = np.array([0.15, 0.17, 0.18, 0.25], dtype=np.float32)[:, None, None]
        n += 1
    scene = Scene(data=data, bands=bands, crs=CRS.from_epsg(32653), transform=Affine(10, 0, 300_000, 0, -10, 4_800_000),
                  meta=SceneMeta(sensor="s2", acquired=datetime(2024, 10, 8, 1, 50, tzinfo=UTC), source="benchmark",
                                 simulated=True, aoi="", scene_id="bench"))
    write_scene(scene, path)
    return n


def _run(method: str, path: str, frcnn_tiles: int, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    import rasterio
    import torch
    from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn

    from satwatch.detection.models.baseline import BaselineDetector
    from satwatch.detection.models.cnn import CnnDetector, tile_origins
    from satwatch.imagery.scene import read_scene

    # Python imports (about 3 s of geopandas, torch, ...) are once per process, not detection time: every method
    # starts its clock after them. Loading the CNN's weights is timed; building Faster R-CNN is not (below).
    t0 = time.perf_counter()
    extra: dict[str, object] = {}
    with rasterio.open(path) as src:
        pixels = src.width * src.height
    if method == "read":
        with rasterio.open(path) as src:
            src.read()
    elif method == "baseline":
        extra["detections"] = len(BaselineDetector().detect(read_scene(path)))
    elif method in ("cnn", "cnn_fp32"):
        detector = CnnDetector(device="cpu", precision="auto" if method == "cnn" else "fp32")
        extra["detections"] = len(detector.detect_file(path))
        extra["precision"] = detector.model("s2").precision
    else:
        net = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=2, min_size=512,
                                                max_size=512).eval()
        t0 = time.perf_counter()  # model construction is not detection time
        starts = tile_origins(4096, 512, 64)
        tiles = [(r, c) for r in starts for c in starts][:frcnn_tiles]
        with rasterio.open(path) as src, torch.inference_mode():
            for r, c in tiles:
                rgb = src.read([3, 2, 1], window=rasterio.windows.Window(c, r, 512, 512)).astype(np.float32)
                net([torch.from_numpy(np.clip(rgb / 0.3, 0, 1))])
        pixels = len(tiles) * (512 - 64) ** 2  # each tile's share of the scene (its core)
        extra["tiles"] = len(tiles)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"method": method, "seconds": seconds, "mpix_per_s": pixels / seconds / 1e6, "peak_mb": peak_mb,
               **extra})


def main(argv: list[str] | None = None) -> int:
    """Run the five methods and print the table; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--frcnn-tiles", type=int, default=12)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scene.tif"
        planted = make_scene(path, args.size)
        results = []
        for method in ("read", "baseline", "cnn", "cnn_fp32", "faster_rcnn"):
            queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
            proc = ctx.Process(target=_run, args=(method, str(path), args.frcnn_tiles, queue))
            proc.start()
            results.append(queue.get())
            proc.join()
    read = results[0]["mpix_per_s"]
    print(f"scene {args.size} x {args.size} px, 4 bands, {planted} planted vessels")
    print(f"{'method':<12} {'Mpx/s':>8} {'seconds':>8} {'peak MB':>8} {'x read':>8}  notes")
    for r in results:
        notes = ", ".join(f"{k} {v}" for k, v in r.items() if k in ("detections", "tiles", "precision"))
        print(f"{r['method']:<12} {r['mpix_per_s']:8.2f} {r['seconds']:8.2f} {r['peak_mb']:8.0f} "
              f"{r['mpix_per_s'] / read:8.3f}  {notes}")
    by = {r["method"]: r for r in results}
    print(f"cnn / faster_rcnn speed: {by['cnn']['mpix_per_s'] / by['faster_rcnn']['mpix_per_s']:.1f}x; "
          f"cnn / baseline: {by['cnn']['mpix_per_s'] / by['baseline']['mpix_per_s']:.2f}x; "
          f"cnn / cnn_fp32: {by['cnn']['mpix_per_s'] / by['cnn_fp32']['mpix_per_s']:.2f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
