"""Verdict rules on hand-made run folders: fast, no imagery."""

from __future__ import annotations

import json
import math
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from satwatch.claims.catalog import Claim, parse_claims
from satwatch.claims.check import verdict_table
from satwatch.claims.verdicts import evaluate_run, reproduce, write_claims_outputs

from .conftest import RunMaker, days

BASE, TEST = date(2024, 9, 1), date(2024, 10, 6)


def _claim(*indicators: dict[str, Any], aoi: str = "ru_ussuriysk", claimed: dict[str, Any] | None = None) -> Claim:
    raw = {"claims": [{
        "id": "T1", "date": "2024-10-20", "claimant": "test", "statement": "soldiers arrived",
        "sources": [{"publisher": "test", "title": "t", "date": "2024-10-20"}], "aois": [aoi],
        "baseline": "2024-09-01/2024-10-05", "test": "2024-10-06/2024-10-30",
        "indicators": [{"aoi": aoi, **i} for i in indicators], "claimed": claimed or {},
    }]}
    return parse_claims(raw)["T1"]


def _area(before: float, after: float, n: int = 5, observed: float = 1.0) -> list[tuple[date, float, float]]:
    return [(d, observed, before) for d in days(BASE, n)] + [(d, observed, after) for d in days(TEST, n)]


@pytest.mark.parametrize(("area_class", "measure", "reading"), [
    ("encampment", "encampment_area_m2", "could house 600-1,800 people"),
    ("vehicle", "vehicle_park_area_m2", "could hold 300-600 vehicles"),
])
def test_area_growth_is_supported_when_the_detector_reports_the_class(
    make_run: RunMaker, area_class: str, measure: str, reading: str,
) -> None:
    run = make_run(values={"s2": _area(0.0, 18_000.0)}, classes=("vessel", "vehicle", "encampment"), detector="cnn-1",
                   area_class=area_class)
    [v] = evaluate_run(run, [_claim({"measure": measure, "expect": "increase", "min_effect": 5000})])
    iv = v.indicators[0]
    assert iv.verdict == "supported" and v.verdict == "supported"
    s = iv.sensors[0]
    assert s.effect == pytest.approx(18_000, rel=0.01) and s.ci_low > 0
    assert (s.baseline_used, s.test_used) == (5, 5)
    assert reading in iv.interpretation
    assert any("People are never visible" in lim for lim in v.limits)


def test_class_the_detector_does_not_report_is_inconclusive_never_zero(make_run: RunMaker) -> None:
    run = make_run(values={"s2": _area(0.0, 0.0)}, classes=("vessel",), detector="baseline-cfar-1")
    [v] = evaluate_run(run, [_claim({"measure": "encampment_area_m2", "expect": "increase"},
                                    {"measure": "vehicle_count", "expect": "present"})])
    for iv in v.indicators:
        assert iv.verdict == "inconclusive"
        assert "not measured by detector baseline-cfar-1" in iv.reason
        assert iv.sensors == ()
    assert v.verdict == "inconclusive"
    assert any("single vehicles are not visible" in lim for lim in v.indicators[1].limits)


def test_classes_per_sensor_are_respected(make_run: RunMaker) -> None:
    values = {"s2": _area(0.0, 18_000.0), "s1": _area(0.0, 0.0)}
    run = make_run(values=values, classes=("vessel", "encampment"),
                   classes_by_sensor={"s2": ("vessel", "encampment"), "s1": ("vessel",)})
    [v] = evaluate_run(run, [_claim({"measure": "encampment_area_m2", "expect": "increase"})])
    iv = v.indicators[0]
    assert [s.sensor for s in iv.sensors] == ["s2"] and iv.verdict == "supported"
    assert "not measured on s1" in iv.reason


def test_no_change_with_enough_acquisitions_contradicts_and_never_supports(make_run: RunMaker) -> None:
    values = {"s2": [(d, 1.0, 3) for d in days(BASE, 7)] + [(d, 1.0, 3) for d in days(TEST, 5)]}
    run = make_run(aoi="ru_vladivostok", values=values, detector="my-own-1")  # error unknown: face value
    [v] = evaluate_run(run, [_claim({"measure": "large_vessel_presence", "expect": "increase", "min_effect": 4.0},
                                    aoi="ru_vladivostok")])
    assert v.verdict == "contradicted"
    s = v.indicators[0].sensors[0]
    assert s.effect == pytest.approx(0.0, abs=1e-9) and s.ci_high < 4.0


def test_clouded_windows_are_inconclusive_and_excluded_not_zero(make_run: RunMaker) -> None:
    values = {"s2": [(d, 1.0, 3) for d in days(BASE, 7)]
              + [(d, obs, 0) for d, obs in zip(days(TEST, 5), (0.0, 0.1, 0.3, 0.0, 0.6), strict=True)]}
    run = make_run(aoi="ru_vladivostok", values=values)
    [v] = evaluate_run(run, [_claim({"measure": "vessel_count", "expect": "increase"}, aoi="ru_vladivostok")])
    s = v.indicators[0].sensors[0]
    assert v.verdict == "inconclusive" and "too few observed acquisitions" in s.reason
    assert (s.test_used, s.test_excluded) == (1, 4)
    assert any("not observed" in e for e in s.excluded_scenes)


def test_missing_length_is_inconclusive(make_run: RunMaker) -> None:
    values = {"s2": [(d, 1.0, 2) for d in days(BASE, 5)] + [(d, 1.0, 6) for d in days(TEST, 5)]}
    run = make_run(aoi="ru_vladivostok", values=values, length_m=None)
    [v] = evaluate_run(run, [_claim({"measure": "large_vessel_presence", "expect": "increase"},
                                    aoi="ru_vladivostok")])
    assert "does not measure vessel length" in v.indicators[0].reason


@pytest.mark.parametrize(("test_counts", "expect", "verdict"), [
    ((0, 1, 1, 0), "present", "supported"),
    ((0, 0, 0, 0), "present", "contradicted"),
    ((0, 1, 0, 0), "present", "inconclusive"),
    ((0, 0, 0, 0), "absent", "supported"),
    ((2, 2, 0, 0), "absent", "contradicted"),
])
def test_presence_rules(make_run: RunMaker, test_counts: tuple[int, ...], expect: str, verdict: str) -> None:
    values = {"s1": [(d, 1.0, 0) for d in days(BASE, 3)] + [(d, 1.0, n) for d, n in
                                                            zip(days(TEST, 4), test_counts, strict=True)]}
    run = make_run(aoi="ru_dunai", values=values, detector="my-own-1")  # error unknown: the plain rules
    [v] = evaluate_run(run, [_claim({"measure": "vessel_count", "expect": expect}, aoi="ru_dunai")])
    s = v.indicators[0].sensors[0]
    assert v.indicators[0].verdict == verdict
    assert 0.0 <= s.ci_low <= s.effect <= s.ci_high <= 1.0


def test_uncovered_aoi_and_bonferroni(make_run: RunMaker) -> None:
    values = {"s2": _area(0.0, 18_000.0), "s1": _area(0.0, 18_000.0)}
    run = make_run(values=values, classes=("encampment",))
    raw = {"claims": [{
        "id": "T2", "date": "2024-10-20", "claimant": "t", "statement": "s",
        "sources": [{"publisher": "p", "title": "t", "date": "2024-10-20"}], "aois": ["ru_ussuriysk", "ru_dunai"],
        "baseline": "2024-09-01/2024-10-05", "test": "2024-10-06/2024-10-30",
        "indicators": [{"aoi": "ru_ussuriysk", "measure": "encampment_area_m2", "expect": "increase"},
                       {"aoi": "ru_dunai", "measure": "vessel_count", "expect": "increase"}]}]}
    [v] = evaluate_run(run, parse_claims(raw).values())
    assert v.tests == 2 and v.confidence == pytest.approx(0.975)
    assert "not covered by this run" in v.indicators[1].reason


def test_claims_json_and_reproduction_from_the_run_folder_alone(make_run: RunMaker, tmp_path: Path) -> None:
    run = make_run(values={"s2": _area(0.0, 18_000.0)}, classes=("vessel", "encampment"))
    claim = _claim({"measure": "encampment_area_m2", "expect": "increase"}, claimed={"people": [1500, 1500]})
    verdicts = evaluate_run(run, [claim])
    write_claims_outputs(run, verdicts, None)
    doc = json.loads((run / "claims.json").read_text())
    assert doc["simulated"] is True and "SIMULATED" in doc["notice"]
    assert doc["claims"][0]["verdict"] == "supported" and doc["catalog"]["claims"][0]["id"] == "T1"
    table = pd.read_csv(run / "claims.csv")
    assert table["simulated"].all() and set(table["sensor"]) == {"all", "s2"}
    copy = tmp_path / "elsewhere" / "copied-run"
    shutil.copytree(run, copy)
    again = reproduce(copy)
    assert [v.to_dict() for v in again] == [{**v.to_dict()} for v in verdicts]
    text = verdict_table(again)
    assert "T1" in text and "SUPPORTED" in text and "SIMULATED" in text and "people" in text


def test_nan_never_leaks_into_json(make_run: RunMaker) -> None:
    run = make_run(values={"s2": _area(0.0, 0.0, n=1)}, classes=("encampment",))
    [v] = evaluate_run(run, [_claim({"measure": "encampment_area_m2", "expect": "increase"})])
    text = json.dumps(v.to_dict(), allow_nan=False)
    assert "too few observed acquisitions" in text
    assert math.isnan(v.indicators[0].sensors[0].effect)
