"""The int8 CPU model: made from the shipped weights, used by default on a CPU, close to the float network."""

from __future__ import annotations

import logging
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from satwatch.cli import main
from satwatch.detection.models.cnn import MODELS_DIR, CnnDetector, decode_points, load_model
from satwatch.detection.models.network import build_network
from satwatch.detection.models.quantized import QuantizedNet, export_int8, load_int8
from satwatch.detection.profiles import PROFILES, model_input
from satwatch.errors import DetectionError, UsageError
from satwatch.imagery.scene import write_scene
from tests.detection._synthetic import Ship, land_columns, optical_scene

SHAPE = (1024, 1024)


def _fleet(n: int = 40, seed: int = 1) -> list[Ship]:
    rng = np.random.default_rng(seed)
    return [Ship(float(rng.uniform(40, SHAPE[0] - 40)), float(rng.uniform(300, SHAPE[1] - 40)),
                 float(rng.uniform(40, 200)), float(rng.uniform(10, 30)), float(rng.uniform(0, 180)))
            for _ in range(n)]


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_shipped_int8_models_are_made_from_the_shipped_weights_and_are_the_cpu_default(profile: str) -> None:
    auto = load_model(profile, device="cpu")
    assert auto.precision == "int8" and isinstance(auto.net, QuantizedNet)
    assert auto.net.metadata["satwatch_source_sha256"] == auto.sha256
    assert auto.net.metadata["satwatch_profile"] == profile
    assert "athens" not in auto.net.metadata["satwatch_calibration"]  # held-out ports never calibrate
    assert auto.net.mask_classes == len(auto.profile.mask_classes)
    fp32 = load_model(profile, device="cpu", precision="fp32")
    assert fp32.precision == "fp32" and isinstance(fp32.net, torch.nn.Module)


def test_without_an_int8_model_auto_runs_float_and_int8_is_refused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MODELS_DIR / "s1.pt", models / "s1.pt")
    assert load_model("s1", models, "cpu").precision == "fp32"
    with pytest.raises(DetectionError, match=r"quantize_detector\.py --profile s1 or use --precision fp32"):
        load_model("s1", models, "cpu", precision="int8")


def test_int8_detections_agree_with_the_float_network(tmp_path: Path) -> None:
    ships = _fleet()
    scene = optical_scene("s2", SHAPE, ships, land_columns(SHAPE, 250), seed=4)
    path = write_scene(scene, tmp_path / "s2.tif")
    got = {p: CnnDetector(device="cpu", precision=p).detect_file(path) for p in ("fp32", "int8")}
    f32, i8 = (np.column_stack([g.geometry.x, g.geometry.y]) for g in (g.to_crs(scene.crs) for g in got.values()))
    assert len(f32) >= 0.8 * len(ships)  # the float network finds most of them (else this test proves nothing)
    assert abs(len(i8) - len(f32)) <= max(2, 0.05 * len(f32))
    # float detections have an int8 twin on the same hull (ships here are 40-200 m long: a peak may move a cell)
    dist = np.sqrt(((f32[:, None, :] - i8[None, :, :]) ** 2).sum(-1)).min(1)
    assert (dist < 10.0).mean() >= 0.8 and (dist < 30.0).mean() >= 0.95, np.sort(dist)[-5:]
    assert got["fp32"]["detector"].iloc[0] != got["int8"]["detector"].iloc[0]  # caches tell them apart


def _copy_models(dst: Path) -> Path:
    dst.mkdir()
    for name in ("s2.pt", "s2.int8.onnx", "s2.md"):
        shutil.copy(MODELS_DIR / name, dst / name)
    return dst


def test_a_stale_int8_model_is_never_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    models = _copy_models(tmp_path / "models")
    payload = torch.load(models / "s2.pt", map_location="cpu", weights_only=True)
    payload["meta"]["note"] = "retrained"  # other bytes, so another SHA-256: the int8 file no longer matches
    torch.save(payload, models / "s2.pt")
    with caplog.at_level(logging.WARNING, logger="satwatch.detection.models.quantized"):
        loaded = load_model("s2", models, "cpu")
    assert loaded.precision == "fp32" and "made from other weights" in caplog.text
    with pytest.raises(DetectionError, match=r"no int8 model of s2\.pt"):
        load_model("s2", models, "cpu", precision="int8")


def test_without_onnxruntime_auto_runs_float(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    with caplog.at_level(logging.WARNING, logger="satwatch.detection.models.quantized"):
        assert load_model("s2", device="cpu").precision == "fp32"
    assert "onnxruntime is not installed" in caplog.text


def test_an_unreadable_int8_model_is_a_clear_error(tmp_path: Path) -> None:
    models = _copy_models(tmp_path / "models")
    (models / "s2.int8.onnx").write_bytes(b"not onnx")
    with pytest.raises(DetectionError, match="not a usable quantised model"):
        load_model("s2", models, "cpu")


def test_bad_precision_options_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="unknown precision"):
        CnnDetector(device="cpu", precision="int4")
    from satwatch.cli import _PRECISIONS
    from satwatch.detection.models.cnn import PRECISIONS

    assert _PRECISIONS == PRECISIONS  # the CLI's choices are the detector's
    with pytest.raises(UsageError, match="unknown precision"):
        load_model("s2", device="cpu", precision="fp16")
    scene = write_scene(optical_scene("s2", (64, 64)), tmp_path / "s.tif")
    with pytest.raises(SystemExit) as exc:
        main(["detect", str(scene), "--precision", "int4", "--out", str(tmp_path / "d.geojson")])
    assert exc.value.code == 2 and "invalid choice: 'int4'" in capsys.readouterr().err
    assert not (tmp_path / "d.geojson").exists()


def test_cli_detect_runs_each_precision(tmp_path: Path) -> None:
    scene = write_scene(optical_scene("s2", (300, 300), _fleet(6, seed=2)[:6]), tmp_path / "s.tif")
    for precision in ("fp32", "int8"):
        out = tmp_path / f"{precision}.geojson"
        assert main(["detect", str(scene), "--detector", "cnn", "--device", "cpu", "--precision", precision,
                     "--out", str(out)]) == 0
        assert out.is_file()


def test_export_int8_round_trip_keeps_the_outputs_close(tmp_path: Path) -> None:
    """The shipped float s2 network quantised on crops of a synthetic scene, read back, compared."""
    fp32 = load_model("s2", device="cpu", precision="fp32")
    assert isinstance(fp32.net, torch.nn.Module)
    scene = optical_scene("s2", (512, 512), _fleet(12, seed=3), land_columns((512, 512), 200), seed=5)
    x = model_input(scene.data, scene.bands, fp32.profile)
    tiles = [np.ascontiguousarray(x[:, r:r + 256, c:c + 256]) for r in (0, 256) for c in (0, 256)]
    with pytest.raises(DetectionError, match="at least one calibration tile"):
        export_int8(fp32.net, "s2", fp32.sha256, [], tmp_path / "none.onnx")
    path = export_int8(fp32.net, "s2", fp32.sha256, tiles, tmp_path / "s2.int8.onnx", note="four crops")
    assert load_int8(path, "0" * 64) is None  # made from other weights: never used
    quant = load_int8(path, fp32.sha256)
    assert quant is not None and quant.metadata["satwatch_calibration"] == "four crops"
    assert set(quant.metadata["satwatch_float_heads"].split(",")) == {"/net/heat/Conv", "/net/regress/Conv",
                                                                      "/net/mask/Conv"}
    xt = torch.from_numpy(x[None])
    with torch.inference_mode():
        want = fp32.net(xt)
    got = quant(xt)
    assert {k: v.shape for k, v in got.items()} == {k: v.shape for k, v in want.items()}
    prob_err = (torch.sigmoid(got["heat"]) - torch.sigmoid(want["heat"])).abs()
    assert float(prob_err.mean()) < 0.002 and float(prob_err.max()) < 0.25
    f32, i8 = (np.array([(px, py) for _c, _s, px, py, *_ in img[0]])
               for img in (decode_points(want, [0.35]), decode_points(got, [0.35])))
    assert len(f32) >= 3 and len(i8) == len(f32)  # the same objects, each within a stride-2 cell or so
    assert np.abs(f32[:, None] - i8[None]).max(-1).min(1).max() <= 3.0
    # another tile size than the calibration's (dynamic height and width)
    assert quant(torch.zeros(1, fp32.profile.in_channels, 96, 128))["heat"].shape == (1, 1, 48, 64)


def test_export_int8_of_a_network_without_mask_head(tmp_path: Path) -> None:
    torch.manual_seed(0)
    profile = PROFILES["s1"]
    net = build_network(profile).eval()
    rng = np.random.default_rng(0)
    tiles = [rng.normal(0, 1, (profile.in_channels, 64, 64)).astype(np.float32) for _ in range(2)]
    quant = load_int8(export_int8(net, "s1", "a" * 64, tiles, tmp_path / "s1.int8.onnx"), "a" * 64)
    assert quant is not None and quant.mask_classes == 0
    got = quant(torch.from_numpy(np.stack(tiles)))
    assert got["heat"].shape == (2, 1, 32, 32) and got["mask"].shape == (2, 0, 32, 32)
    assert all(math.isfinite(float(v.sum())) for v in got.values())
