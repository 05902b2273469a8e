"""Figures with intervals, the default rule, the auto detector, the extent measurement and the detectors listing."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from satwatch.detection.auto import AutoDetector, default_choices, describe_defaults, metrics_path
from satwatch.detection.detector import get_detector
from satwatch.detection.models.hybrid import measure_vessel
from satwatch.detection.training.figures import (
    METRICS_FORMAT,
    Estimate,
    Figures,
    SceneTally,
    choose_default,
    figures_from_tallies,
    load_metrics,
    paired_length_errors,
    real_figures,
    recorded_default,
)
from satwatch.detection.training.validation import embed_in_clutter
from tests.detection._synthetic import Ship, optical_scene, s1_scene

REPO = Path(__file__).resolve().parents[2]


def _fig(dataset: str, **values: float) -> Figures:
    return Figures(dataset, "vessel", True, 10, 50, 50, {k: Estimate(v, v, v) for k, v in values.items()})


def test_figures_from_exhaustive_tallies_give_every_figure_with_intervals_around_them() -> None:
    tallies = [SceneTally(f"s{i}", tp=8 + i % 3, fp=i % 2, fn=2, length_errors_m=((0, 10.0 + i),), water_km2=2.0)
               for i in range(12)]
    f = figures_from_tallies(tallies, "x", "vessel", real=True)
    tp, fp, fn = sum(t.tp for t in tallies), sum(t.fp for t in tallies), sum(t.fn for t in tallies)
    assert f.get("recall") == pytest.approx(tp / (tp + fn))
    assert f.get("precision") == pytest.approx(tp / (tp + fp))
    assert f.get("f1") == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert f.get("false_alarms_per_km2") == pytest.approx(fp / 24.0)
    assert f.get("median_length_error_m") == pytest.approx(15.5)
    for est in f.estimates.values():
        assert est.low <= est.value <= est.high
    assert f.estimates["recall"].high - f.estimates["recall"].low > 0  # scenes differ: the interval is not a point
    assert Figures.from_dict(json.loads(json.dumps(f.to_dict()))).get("f1") == pytest.approx(f.get("f1"), abs=1e-4)


def test_one_labelled_ship_per_chip_gives_recall_but_never_precision() -> None:
    tallies = [SceneTally("a", 1, 0, 0, negatives_known=False), SceneTally("b", 0, 0, 1, negatives_known=False),
               SceneTally("c", 1, 3, 0, water_km2=1.5, negatives_known=True)]
    f = figures_from_tallies(tallies, "chips", "vessel", real=True)
    assert f.get("recall") == pytest.approx(2 / 3)
    assert math.isnan(f.get("precision")) and math.isnan(f.get("f1")) and math.isnan(f.get("median_count_error"))
    assert f.get("false_alarms_per_km2") == pytest.approx(2.0)  # 3 false alarms on the one clean 1.5 km2 chip
    assert f.to_dict()["precision"]["value"] is None


def test_default_rule_refuses_a_detector_worse_than_baseline_on_any_real_figure() -> None:
    base = [_fig("s1", recall=0.79, median_length_error_m=12.0)]
    cnn = [_fig("s1", recall=0.64, median_length_error_m=39.0)]
    name, reason = choose_default({"baseline": base, "cnn": cnn})
    assert name == "baseline" and "cnn is worse than baseline" in reason
    better = [_fig("s1", recall=0.85, median_length_error_m=10.0)]
    assert choose_default({"baseline": base, "cnn": better})[0] == "cnn"
    # better recall but one worse figure (more false alarms): still refused
    noisy = [_fig("s1", recall=0.95, median_length_error_m=10.0, false_alarms_per_km2=2.0)]
    assert choose_default({"baseline": [_fig("s1", recall=0.79, false_alarms_per_km2=0.3)], "cnn": noisy})[0] == \
        "baseline"
    # as good is not better: the classical method keeps the default
    assert choose_default({"baseline": base, "cnn": base})[0] == "baseline"


def test_a_tie_goes_to_the_detector_measurably_better_on_another_figure() -> None:
    base = [Figures("s1", "vessel", True, 37, 37, 40, {"recall": Estimate(0.78, 0.65, 0.92),
                                                       "false_alarms_per_km2": Estimate(0.44, 0.08, 1.0)})]
    quiet = [Figures("s1", "vessel", True, 37, 37, 30, {"recall": Estimate(0.78, 0.65, 0.92),
                                                        "false_alarms_per_km2": Estimate(0.09, 0.0, 0.32)})]
    name, reason = choose_default({"baseline": base, "cfar-cnn": quiet})
    assert name == "cfar-cnn" and "false_alarms_per_km2" in reason
    # the same recall and false alarms inside the baseline's noise: nothing measurably better, baseline stays
    close = [replace(quiet[0], estimates={"recall": Estimate(0.78, 0.65, 0.92),
                                          "false_alarms_per_km2": Estimate(0.30, 0.05, 0.60)})]
    assert choose_default({"baseline": base, "cfar-cnn": close})[0] == "baseline"
    # two detectors with the same detections (a CNN and its re-measured hybrid): the closer lengths win the tie
    same = [replace(quiet[0], estimates={**quiet[0].estimates, "median_length_error_m": Estimate(26.0, 13, 52)})]
    closer = [replace(quiet[0], estimates={**quiet[0].estimates, "median_length_error_m": Estimate(21.0, 5, 43)})]
    assert choose_default({"baseline": base, "cnn": same, "cnn-extent": closer})[0] == "cnn-extent"
    assert choose_default({"baseline": base, "cnn-extent": closer, "cnn": same})[0] == "cnn-extent"
    # measurably better on false alarms but lower recall: the primary figure still decides
    lower = [replace(quiet[0], estimates={"recall": Estimate(0.70, 0.55, 0.85),
                                          "false_alarms_per_km2": Estimate(0.09, 0.0, 0.32)})]
    assert choose_default({"baseline": base, "cfar-cnn": lower})[0] == "baseline"


def test_length_error_is_compared_object_for_object_when_paired() -> None:
    mine = [SceneTally("a", 2, 0, 0, ((0, 5.0), (1, 60.0))), SceneTally("b", 1, 0, 0, ((0, 4.0),))]
    base = [SceneTally("a", 1, 0, 1, ((0, 9.0),)), SceneTally("b", 1, 0, 0, ((0, 6.0),))]
    mine_m, base_m, n, low, high = paired_length_errors(mine, base)
    assert (mine_m, base_m, n) == (4.5, 7.5, 2) and low <= -3.0 <= high
    # unpaired, the detector that also measured a hard ship (60 m off) looks worse; paired, it is not
    cnn = Figures("s", "vessel", True, 2, 3, 3, {"recall": Estimate(1.0, 1.0, 1.0),
                                                  "median_length_error_m": Estimate(32.0, 30, 60)},
                  paired_length_m=(4.5, 7.5, 2, low, high))
    b = _fig("s", recall=0.67, median_length_error_m=4.0)
    assert choose_default({"baseline": [b], "cnn": [cnn]})[0] == "cnn"
    # paired and clearly worse on every shared ship: refused
    far = [SceneTally("a", 3, 0, 0, ((0, 40.0), (1, 50.0), (2, 45.0)))]
    near = [SceneTally("a", 3, 0, 0, ((0, 5.0), (1, 6.0), (2, 4.0)))]
    worse = Figures("s", "vessel", True, 1, 3, 3, {"recall": Estimate(1.0, 1.0, 1.0)},
                    paired_length_m=paired_length_errors(far, near))
    assert choose_default({"baseline": [b], "cnn": [worse]})[0] == "baseline"


def test_a_baseline_blind_to_the_class_is_no_reference() -> None:
    blind = [Figures("v", "vehicle", True, 40, 800, 0, {"recall": Estimate(0.0, 0.0, 0.0), "f1": Estimate(0.0, 0, 0),
                                                         "false_alarms_per_km2": Estimate(0.0, 0.0, 0.0)})]
    cnn = [Figures("v", "vehicle", True, 40, 800, 600, {"recall": Estimate(0.6, 0.5, 0.7),
                                                         "f1": Estimate(0.7, 0.6, 0.8),
                                                         "false_alarms_per_km2": Estimate(400.0, 300.0, 500.0)})]
    assert choose_default({"baseline": blind, "cnn": cnn})[0] == "cnn"
    assert choose_default({"baseline": blind, "cnn": [replace(cnn[0], estimates={"f1": Estimate(0.0, 0, 0)})]})[0] \
        == "baseline"  # a tie at zero stays with the classical method


def test_a_difference_inside_the_interval_is_not_worse() -> None:
    base = [_fig("s", recall=0.50, median_length_error_m=11.0)]
    close = [Figures("s", "vessel", True, 40, 35, 35, {"recall": Estimate(0.60, 0.45, 0.75),
                                                        "median_length_error_m": Estimate(14.0, 6.0, 30.0)})]
    name, reason = choose_default({"baseline": base, "cnn": close})
    assert name == "cnn" and "cnn is worse" not in reason


@pytest.mark.parametrize("profile", ["s2", "s1", "vhr"])
def test_shipped_default_follows_the_rule_from_its_own_recorded_real_figures(profile: str) -> None:
    metrics = load_metrics(metrics_path(profile))
    assert metrics["format"] == METRICS_FORMAT
    figs = real_figures(metrics)
    assert figs["baseline"], "the baseline's real figures are recorded"
    assert recorded_default(metrics) == choose_default(figs)[0]
    assert default_choices()[profile] == recorded_default(metrics)


@pytest.mark.parametrize("profile", ["s2", "s1", "vhr"])
def test_recorded_figures_belong_to_the_shipped_weights(profile: str) -> None:
    """The figures were measured on the weights shipped now: a CNN's name hashes every profile's weights, so
    retraining one profile means validating all of them again (else runs would read their error as unknown)."""
    from satwatch.detection.detector import CNN_OPTION_DETECTORS, get_detector

    metrics = load_metrics(metrics_path(profile))
    for name, entry in metrics["detectors"].items():
        det = get_detector(name, device="cpu") if name in CNN_OPTION_DETECTORS else get_detector(name)
        assert entry["name"] == det.name, (
            f"models/{profile}.metrics.json measured {entry['name']}, the shipped {name} is {det.name}: run "
            f"{metrics['command']}")


def _write_metrics(folder: Path, profile: str, default: str) -> None:
    entry = {"format": METRICS_FORMAT, "profile": profile, "detectors": {
        "baseline": {"name": "baseline-cfar-1", "real": [_fig("x", recall=0.5).to_dict()]}},
        "default": {"detector": default, "reason": "test"}}
    metrics_path(profile, folder).write_text(json.dumps(entry))


def test_auto_detector_dispatches_by_profile_and_falls_back_to_baseline(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    _write_metrics(tmp_path, "s2", "baseline")
    metrics_path("vhr", tmp_path).write_text("{not json")
    with caplog.at_level(logging.WARNING):
        auto = get_detector("auto", models_dir=tmp_path)
    assert isinstance(auto, AutoDetector)
    assert auto.choices == {"s2": "baseline", "s1": "baseline", "vhr": "baseline"}
    assert "profile s1" in caplog.text and "profile vhr" in caplog.text  # missing and unreadable both said
    scene = optical_scene(ships=[Ship(150, 150, 120.0, 20.0, 30.0)])
    found = auto.detect(scene)
    assert len(found) == 1 and set(found["detector"]) == {"baseline-cfar-1"}
    assert auto.name.startswith("auto-") and auto.classes_for("s2") == ("vessel",)
    assert describe_defaults(tmp_path)["s2"]["real"][0]["recall"]["value"] == 0.5


def test_measure_vessel_recovers_length_and_heading_from_the_pixels() -> None:
    scene = optical_scene(shape=(60, 60), ships=[Ship(30, 30, 150.0, 24.0, 60.0)], seed=3)
    got = measure_vessel(scene, 30.0, 30.0)
    assert got is not None
    _, _, length, width, heading = got
    assert length == pytest.approx(150.0, abs=20.0) and width < 45.0
    assert heading == pytest.approx(60.0, abs=8.0)
    sar = s1_scene(shape=(60, 60), ships=[Ship(30, 30, 200.0, 30.0, 120.0)], seed=2)
    got = measure_vessel(sar, 30.0, 30.0)
    assert got is not None and got[2] == pytest.approx(200.0, abs=40.0)
    # nothing there: no measurement (the detector's own size stays)
    assert measure_vessel(optical_scene(shape=(60, 60), seed=4), 30.0, 30.0) is None


def test_small_sar_chip_sits_unchanged_on_clutter_of_its_own_statistics() -> None:
    chip = s1_scene(shape=(40, 30), ships=[Ship(20, 15, 100.0, 20.0, 0.0)], seed=5)
    canvas = embed_in_clutter(chip, canvas_px=128)
    assert canvas.data.shape == (2, 128, 128)
    r0, c0 = (128 - 40) // 2, (128 - 30) // 2
    np.testing.assert_array_equal(canvas.data[:, r0:r0 + 40, c0:c0 + 30], chip.data)
    assert canvas.transform @ (c0, r0) == pytest.approx(chip.transform @ (0, 0))
    clutter = canvas.data[0, :20, :]
    assert abs(float(np.median(10 ** (clutter / 10))) - float(np.median(10 ** (chip.data[0, :3, :] / 10)))) < \
        0.5 * float(np.median(10 ** (chip.data[0, :3, :] / 10)))


def test_detectors_listing_and_detect_help_name_each_profiles_default(capsys: pytest.CaptureFixture[str]) -> None:
    from satwatch.cli import main

    assert main(["detectors"]) == 0
    out = capsys.readouterr().out
    for profile, name in default_choices().items():
        assert f"{profile}: default {name}" in out
    assert "recall" in out
    assert "a detection matches a label within 3 m (vehicle)" in out  # the criterion behind each figure
    assert main(["detectors", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert set(listing) == {"s2", "s1", "vhr"}
    for profile, entry in listing.items():  # a detector that keeps another's proposals at berths says whose
        source = entry.get("berth_false_alarms_from")
        if source:
            assert entry["berth_real"] and f"keeps {source}'s proposals untested" in out, profile
    with pytest.raises(SystemExit):
        main(["detect", "--help"])
    assert "Default detector per profile" in capsys.readouterr().out


def test_run_json_record_names_each_sensors_detector_and_its_real_figures_or_unknown(tmp_path: Path) -> None:
    from satwatch.detection.auto import detector_record

    _write_metrics(tmp_path, "s2", "baseline")
    rec = detector_record("auto", ("s2", "s1"), tmp_path)
    assert rec["s2"]["detector"] == "baseline" and rec["s2"]["real"][0]["recall"]["value"] == 0.5
    assert rec["s1"]["detector"] == "baseline" and "unknown" in rec["s1"]["error"]  # no metrics file for s1
    named = detector_record("cnn", ("s2",), tmp_path)
    assert named["s2"]["detector"] == "cnn" and "unknown" in named["s2"]["error"]  # cnn has no recorded figures
