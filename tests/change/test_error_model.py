"""The detector error model (figures from the committed metrics files) and estimated true counts."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from satwatch.change.error_model import ErrorModel, error_model, estimate_true, models_from_record
from satwatch.detection.profiles import MODELS_DIR
from satwatch.detection.training.figures import Estimate


def _recorded_s1_baseline() -> dict[str, Any]:
    """The s1 baseline's real OpenSARShip figures as the committed metrics file records them."""
    metrics = json.loads((MODELS_DIR / "s1.metrics.json").read_text())
    real = metrics["detectors"]["baseline"]["real"]
    return next(f for f in real if f["dataset"].startswith("opensarship"))


def test_real_figures_are_read_from_the_metrics_files() -> None:
    m = error_model("baseline", "s1", "vessel")
    rec = _recorded_s1_baseline()
    assert (m.source, m.recall.value, m.recall.low, m.recall.high) == \
        ("real", rec["recall"]["value"], *rec["recall"]["ci95"])
    assert m.false_alarms_per_km2.value == pytest.approx(rec["false_alarms_per_km2"]["value"])
    assert m.version == "baseline-cfar-1" and "opensarship" in m.dataset
    metrics = json.loads((MODELS_DIR / "s1.metrics.json").read_text())
    default = metrics["default"]["detector"]
    auto = error_model("auto", "s1", "vessel")
    assert auto.detector == default  # auto resolves to the profile's recorded default, with its figures
    recorded = next(f for f in metrics["detectors"][default]["real"] if f["dataset"].startswith("opensarship"))
    assert (auto.recall.value, auto.recall.low, auto.recall.high) == \
        (recorded["recall"]["value"], *recorded["recall"]["ci95"])
    assert error_model("baseline-cfar-1", "s1", "vessel").recall == m.recall  # a run's versioned name
    assert ErrorModel.from_dict(m.to_dict()) == m


def test_unknown_error_is_said_never_guessed() -> None:
    mine = error_model("my-detector", "s2", "vessel")
    assert mine.source == "unknown" and not mine.known and "no recorded figures" in mine.note
    other = error_model("cnn", "s2", "vessel", version="cnn-0000000000")  # weights other than those validated
    assert other.source == "unknown" and "not the one validated" in other.note
    est, low, high = estimate_true([5, 0], [10.0, 10.0], mine)
    assert np.isnan(est).all() and np.isnan(low).all() and np.isnan(high).all()


def test_models_from_record_prefers_what_the_run_stored() -> None:
    stored = ErrorModel("cnn", "cnn-x", "s2", "vessel", Estimate(0.3, 0.2, 0.4), Estimate(1.0, 0.5, 2.0), "real")
    got = models_from_record({"detector": {"error_models": [stored.to_dict()]}})
    assert got == {("s2", "vessel"): stored}
    old = models_from_record({"detector": {"name": "baseline-cfar-1", "classes_by_sensor": {"s1": ["vessel"]}}})
    assert old[("s1", "vessel")].recall.value == pytest.approx(_recorded_s1_baseline()["recall"]["value"])


def test_estimate_subtracts_false_alarms_and_divides_by_recall() -> None:
    m = ErrorModel("x", "x-1", "s2", "vessel", Estimate(0.5, 0.4, 0.6), Estimate(0.2, 0.1, 0.3), "real")
    est, low, high = estimate_true([12, 1], [10.0, 10.0], m)
    assert est[0] == pytest.approx((12 - 0.2 * 10) / 0.5) and est[1] == 0.0  # floor 0
    assert low[0] < est[0] < high[0] and low[1] == 0.0 < high[1]


def test_berth_rate_applies_to_the_water_within_60_m_of_a_coast_only() -> None:
    m = ErrorModel("cnn-cfar", "x-1", "s1", "vessel", Estimate(0.999, 0.99, 0.999), Estimate(0.1, 0.0, 0.3), "real",
                   berth_false_alarms_per_km2=Estimate(2.0, 1.0, 3.0))
    est, low, high = estimate_true([10, 10], [10.0, 10.0], m, berth_km2=[2.0, 0.0])
    assert est[0] == pytest.approx((10 - 0.1 * 8 - 2.0 * 2) / 0.999)  # 8 km2 of open water, 2 at berths
    assert est[1] == pytest.approx((10 - 0.1 * 10) / 0.999)  # no berth: the open-water rate everywhere
    assert high[0] - low[0] > high[1] - low[1]  # the berth rate's spread widens the interval
    assert estimate_true([10], [10.0], m)[0][0] == est[1]  # berth area not given: one rate
    mixed = m.at_berth_share(0.25)
    assert (mixed.false_alarms_per_km2.value, mixed.false_alarms_per_km2.low, mixed.false_alarms_per_km2.high) == \
        pytest.approx((0.575, 0.25, 0.975))
    assert not np.isfinite(mixed.berth_false_alarms_per_km2.value) and m.at_berth_share(0.0) == m
    assert ErrorModel.from_dict(m.to_dict()) == m and "within 60 m of a coast" in m.text()


def test_cnn_cfar_carries_the_cnn_false_alarm_rate_at_berths() -> None:
    metrics = json.loads((MODELS_DIR / "s1.metrics.json").read_text())
    assert metrics["detectors"]["cnn-cfar"]["berth_false_alarms_from"] == "cnn"
    m, cnn = error_model("cnn-cfar", "s1", "vessel"), error_model("cnn", "s1", "vessel")
    assert m.berth_false_alarms_per_km2 == cnn.false_alarms_per_km2
    assert m.berth_false_alarms_per_km2.value > m.false_alarms_per_km2.value and "open sea" in m.note
    assert not np.isfinite(error_model("baseline", "s1", "vessel").berth_false_alarms_per_km2.value)


@pytest.mark.parametrize("recall_at", ["drawn", "low", "high"])
def test_intervals_cover_the_truth_at_the_stated_rate(recall_at: str) -> None:
    # Calibration: scenes with a known number of objects, each detected with the detector's recall, plus Poisson
    # false alarms on the observed water; the 95% interval must hold the truth about 95% of the time, wherever
    # in its interval the true recall lies.
    m = ErrorModel("x", "x-1", "s2", "vessel", Estimate(0.5, 0.35, 0.65), Estimate(0.1, 0.05, 0.2), "real")
    rng = np.random.default_rng(11)
    n = 600
    truth = rng.integers(0, 25, n)
    area = rng.uniform(2.0, 20.0, n)
    if recall_at == "drawn":
        r = np.clip(rng.normal(0.5, 0.15 / 1.96, n), 0.05, 0.95)
        f = np.clip(rng.normal(0.1, 0.15 / 3.92, n), 0.0, None)
    else:
        r = np.full(n, 0.37 if recall_at == "low" else 0.63)
        f = np.full(n, 0.1)
    detections = rng.binomial(truth, r) + rng.poisson(f * area)
    _, low, high = estimate_true(detections, area, m, draws=2000)
    coverage = float(np.mean((low <= truth) & (truth <= high)))
    assert coverage >= 0.93, coverage
    assert coverage < 1.0  # not trivially wide
