"""Training samples: files round-trip within their stated precision, training runs from a file, v2 networks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from satwatch.detection.data.samples import CROP_PX, Sample, _resize, batch_targets, crop, load_samples, save_samples
from satwatch.detection.models.cnn import load_model
from satwatch.detection.models.network import ARCH_V1, ARCH_V2, build_network
from satwatch.detection.profiles import PROFILES
from satwatch.errors import InputFileError

REPO = Path(__file__).resolve().parents[2]
S2 = PROFILES["s2"]


def _sample(seed: int = 0, size: int = 300) -> Sample:
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.005, 0.6, (6, size, size)).astype(np.float32)
    raw[5] = rng.integers(0, 12, (size, size))  # SCL codes
    raw[:5, :10, :10] = np.nan
    points = np.array([[150.0, 150.0, 120.0, 20.0, 30.0, 0.0]])
    masks = np.zeros((2, size, size), dtype=np.uint8)
    masks[0, 50:80, 50:90] = 1
    return Sample(name=f"s{seed}", raw=raw, names=("B02", "B03", "B04", "B08", "B11", "SCL"), points=points,
                  ignore=np.zeros((0, 3)), masks=masks, mask_known=(True, False))


def test_samples_file_round_trips_within_its_stated_precision(tmp_path: Path) -> None:
    a, b = _sample(0), _sample(1)
    path = save_samples({"simulated": [a], "real": [b]}, S2, tmp_path / "s.npz")
    back = load_samples(path, S2)
    assert [s.name for s in back["simulated"]] == ["s0"] and [s.name for s in back["real"]] == ["s1"]
    got = back["real"][0]
    assert got.names == b.names and got.mask_known == (True, False)
    assert np.isnan(got.raw[:5, :10, :10]).all() and np.isfinite(got.raw[:5, 10:, 10:]).all()
    ok = np.isfinite(b.raw[:5])
    rel = np.abs(got.raw[:5][ok] - b.raw[:5][ok]) / b.raw[:5][ok]
    assert rel.max() < 0.0155  # half of a 3% step (254 log10 steps over 0.001-2.0)
    assert np.array_equal(got.raw[5], b.raw[5])  # SCL codes exact
    assert np.array_equal(got.masks, b.masks) and np.array_equal(got.points, b.points)
    assert not list(tmp_path.glob(".*partial*"))


def test_samples_file_errors_are_clear(tmp_path: Path) -> None:
    path = save_samples({"simulated": [_sample()]}, S2, tmp_path / "s.npz")
    with pytest.raises(InputFileError, match="holds s2 samples, not s1"):
        load_samples(path, PROFILES["s1"])
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="cannot read samples file"):
        load_samples(bad, S2)


def test_crops_carry_unlabelled_mask_classes_with_zero_weight() -> None:
    sample = _sample()
    rng = np.random.default_rng(3)
    for _ in range(8):
        item = crop(sample, S2, rng)
        assert item["x"].shape == (S2.in_channels, CROP_PX, CROP_PX)
        assert item["mask_w"][1].max() == 0.0  # vehicle parks: not labelled, no loss
        assert item["mask_w"][0].max() == 1.0  # encampments: labelled (here as present or absent)
    batch = batch_targets([crop(sample, S2, rng) for _ in range(2)], S2)
    assert batch["mask_w"].shape == (2, 2, CROP_PX // 2, CROP_PX // 2)
    assert batch["mask_w"][:, 1].sum() == 0


def test_resize_keeps_no_data_and_class_codes() -> None:
    data = np.full((2, 100, 100), 0.1, dtype=np.float32)
    data[1] = 7.0
    data[0, :50] = np.nan
    out = _resize(data, ("B04", "SCL"), 125)
    assert out.shape == (2, 125, 125)
    assert np.isnan(out[0, :60]).all() and np.allclose(out[0, 66:], 0.1)
    assert set(np.unique(out[1][np.isfinite(out[1])])) <= {7.0}


def test_architectures_build_and_v1_weights_still_load() -> None:
    x = torch.zeros((1, S2.in_channels, 128, 128))
    for arch in (ARCH_V1, ARCH_V2):
        net = build_network(S2, arch).eval()
        out = net(x)
        assert out["heat"].shape == (1, 1, 64, 64) and out["mask"].shape == (1, 2, 64, 64)
        assert net.arch == arch
    assert load_model("s1", device="cpu", precision="fp32").net.arch == ARCH_V1
    assert load_model("s2", device="cpu", precision="fp32").net.arch == ARCH_V2


def test_train_cli_trains_from_an_exported_samples_file(tmp_path: Path) -> None:
    samples = save_samples({"simulated": [_sample(0), _sample(1)], "real": []}, S2, tmp_path / "s.npz")
    out = tmp_path / "w" / "s2.pt"
    cmd = [sys.executable, "-m", "satwatch.cli", "train", "--profile", "s2", "--samples", str(samples),
           "--epochs", "2", "--steps-per-epoch", "2", "--batch-size", "2", "--workers", "1", "--device", "cpu",
           "--out", str(out)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = load_model("s2", out.parent, "cpu")
    assert loaded.meta["simulated_scenes"] == 2 and loaded.meta["completed_epochs"] == 2
    assert loaded.net.arch == ARCH_V2 and loaded.meta["config"]["workers"] == 1
    bad = subprocess.run([*cmd[:6], str(tmp_path / "missing.npz")], cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0 and "missing.npz" in bad.stderr and "Traceback" not in bad.stderr
