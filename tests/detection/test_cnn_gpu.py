"""The CNN on CUDA (batched, pinned memory, float16 autocast) finds what it finds on the CPU.

Marked ``gpu`` (deselected by default; run with ``pytest -m gpu`` on a machine with a CUDA device).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import torch
from affine import Affine
from pyproj import CRS

from satwatch.detection.models.cnn import CnnDetector
from satwatch.imagery.scene import Scene, SceneMeta, write_scene

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]


def _scene(path: Path, size: int = 2048, n: int = 80) -> Path:
    rng = np.random.default_rng(5)
    water = np.array([0.04, 0.05, 0.03, 0.02, 0.01], dtype=np.float32)
    data = water[:, None, None] + rng.normal(0, 0.003, (5, size, size)).astype(np.float32)
    data[:, :, : size // 5] = np.array([0.06, 0.09, 0.08, 0.3, 0.25], dtype=np.float32)[:, None, None]
    for _ in range(n):
        r, c = rng.integers(40, size - 40), rng.integers(size // 5 + 60, size - 40)
        data[:, r:r + 3, c:c + int(rng.integers(8, 25))] = np.array([0.15, 0.17, 0.18, 0.3, 0.2])[:, None, None]
    meta = SceneMeta(sensor="s2", acquired=datetime(2024, 6, 1, tzinfo=UTC), source="test", simulated=True,
                     aoi="gpu", scene_id="gpu")
    scene = Scene(data=data, bands=("B02", "B03", "B04", "B08", "B11"), crs=CRS.from_epsg(32652),
                  transform=Affine(10, 0, 500000, 0, -10, 4700000), meta=meta)
    return write_scene(scene, path)


def test_cuda_inference_matches_cpu(tmp_path: Path) -> None:
    path = _scene(tmp_path / "s.tif")
    timings = {}
    found = {}
    for device, batch in (("cpu", 4), ("cuda", 16)):
        det = CnnDetector(device=device, batch_size=batch, precision="fp32")  # the same float weights on both
        det.detect_file(path)  # warm-up (CUDA context, cuDNN autotune)
        started = time.perf_counter()
        found[device] = det.detect_file(path)
        timings[device] = time.perf_counter() - started
    cpu, gpu = found["cpu"], found["cuda"]
    assert len(cpu) > 40
    assert abs(len(gpu) - len(cpu)) <= max(2, len(cpu) // 50)
    a = np.array([(g.x, g.y) for g in cpu.to_crs(32652).geometry])
    b = np.array([(g.x, g.y) for g in gpu.to_crs(32652).geometry])
    nearest = np.sqrt(((b[:, None, :] - a[None, :, :]) ** 2).sum(-1)).min(axis=1)
    assert np.median(nearest) < 2.0 and (nearest < 20.0).mean() > 0.97
    mpx = 2048 * 2048 / 1e6
    print(f"cpu {mpx / timings['cpu']:.2f} Mpx/s, cuda {mpx / timings['cuda']:.2f} Mpx/s "
          f"({timings['cpu'] / timings['cuda']:.1f}x)")
