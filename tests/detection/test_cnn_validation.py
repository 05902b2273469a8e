"""Regression: the shipped weights still reach their validation metrics (models/<profile>.metrics.json)."""

from __future__ import annotations

import json

import pytest

from satwatch.detection.cnn import MODELS_DIR, load_model
from satwatch.detection.profiles import PROFILES
from satwatch.detection.sen2ships import DEFAULT_ROOT
from satwatch.detection.training import evaluate
from satwatch.detection.training_data import validation_scenes

pytestmark = pytest.mark.slow


def _recorded(profile: str, key: str) -> dict[str, object]:
    report = json.loads((MODELS_DIR / f"{profile}.metrics.json").read_text())
    recorded: dict[str, object] = report[key]
    return recorded


def _class_f1(report: dict[str, object], cls: str) -> float:
    for m in report["per_class"]:  # type: ignore[attr-defined]
        if m["class"] == cls:
            return float(m["f1"])
    raise AssertionError(f"no {cls} in the report")


@pytest.mark.skipif(not (DEFAULT_ROOT / "annotations.json").is_file(), reason=f"sen2ships not at {DEFAULT_ROOT}")
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_shipped_s2_model_reaches_its_validation_f1_on_held_out_real_ports(precision: str) -> None:
    loaded = load_model("s2", device="cpu", precision=precision)
    recorded = _recorded("s2" if precision == "fp32" else "s2.int8", "cnn_real")
    scenes = validation_scenes(PROFILES["s2"], simulated=False)["real"]
    result = evaluate(loaded, scenes, match_distance_m=20.0)
    vessel = next(m for m in result.per_class if m.cls == "vessel")
    assert vessel.f1 >= _class_f1(recorded, "vessel") - 0.01, result.table()
    # and it still beats the classical baseline measured on the same ports (the 0.85 target is not reached yet:
    # models/s2.md)
    assert vessel.f1 > _class_f1(_recorded("s2", "baseline_real"), "vessel"), result.table()
