"""Verdicts that carry the detector's measured error, and the short-event test (hand-made run folders, fast)."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from satwatch.change.error_model import ErrorModel
from satwatch.change.timeseries import Window, compare_windows
from satwatch.claims.catalog import Claim, parse_claims
from satwatch.claims.verdicts import _short_event, evaluate_run, write_claims_outputs
from satwatch.detection.training.figures import Estimate

from .conftest import RunMaker, days

BASE, TEST = date(2024, 9, 1), date(2024, 10, 6)


def _model(recall: tuple[float, float, float], fa: tuple[float, float, float] = (0.0, 0.0, 0.0),
           sensor: str = "s2", source: str = "real") -> dict[str, Any]:
    return ErrorModel("baseline", "baseline-cfar-1", sensor, "vessel", Estimate(*recall), Estimate(*fa), source,
                      "test-set").to_dict()


def _claim(measure: str, expect: str, min_effect: float, aoi: str = "ru_vladivostok") -> Claim:
    raw = {"claims": [{
        "id": "T1", "date": "2024-10-20", "claimant": "test", "statement": "ships arrived",
        "sources": [{"publisher": "test", "title": "t", "date": "2024-10-20"}], "aois": [aoi],
        "baseline": "2024-09-01/2024-10-05", "test": "2024-10-06/2024-10-30",
        "indicators": [{"aoi": aoi, "measure": measure, "expect": expect, "min_effect": min_effect}],
    }]}
    return parse_claims(raw)["T1"]


def _steady(before: int, after: list[int], n_base: int = 7) -> dict[str, list[tuple[date, float, float]]]:
    return {"s2": [(d, 1.0, before) for d in days(BASE, n_base)]
            + [(d, 1.0, n) for d, n in zip(days(TEST, len(after)), after, strict=True)]}


def test_contradiction_only_because_recall_is_low_becomes_inconclusive(make_run: RunMaker) -> None:
    claim = _claim("large_vessel_presence", "increase", 4.0)
    values = _steady(3, [3] * 5)
    # A detector whose error is unknown is read at face value: no change rules out +3 (as before issue 15) ...
    perfect = make_run(aoi="ru_vladivostok", values=values, name="unknown", detector="my-own-1")
    [v] = evaluate_run(perfect, [claim])
    s = v.indicators[0].sensors[0]
    assert v.verdict == "contradicted" and s.ci_high < 4.0
    assert "error unknown" in s.reason and s.error_model["source"] == "unknown"
    # ... but the same detections from a detector that finds 1 to 5 ships in 10 cannot rule it out: +4 true ships
    # would show as +0.4 detections per acquisition, inside the interval.
    low = make_run(aoi="ru_vladivostok", values=values, name="low", error_models=[_model((0.3, 0.1, 0.5))])
    [v] = evaluate_run(low, [claim])
    s = v.indicators[0].sensors[0]
    assert v.verdict == "inconclusive" and s.verdict == "inconclusive"
    assert s.detections_low < 0.1 * 4.0 < s.detections_high
    assert "recall alone could hide it" in s.note and "as low as 0.10" in s.note
    # a high recall interval still contradicts (the rule is not simply switched off)
    high = make_run(aoi="ru_vladivostok", values=values, name="high", error_models=[_model((0.95, 0.9, 0.99))])
    assert evaluate_run(high, [claim])[0].verdict == "contradicted"


def test_effects_are_divided_by_recall_with_its_interval(make_run: RunMaker) -> None:
    run = make_run(aoi="ru_vladivostok", values=_steady(2, [6, 6, 6, 6, 6]),
                   error_models=[_model((0.5, 0.4, 0.8))])
    [v] = evaluate_run(run, [_claim("vessel_count", "increase", 1.0)])
    s = v.indicators[0].sensors[0]
    assert s.detections_effect == pytest.approx(4.0)
    assert s.effect == pytest.approx(8.0)  # 4 more detections at recall 0.5 are 8 more ships
    assert s.detections_low > 0
    assert s.ci_low == pytest.approx(s.detections_low / 0.8) and s.ci_high == pytest.approx(s.detections_high / 0.4)
    assert v.verdict == "supported" and s.error_model["recall"]["value"] == 0.5


def test_false_alarm_rich_increase_is_not_supported(make_run: RunMaker) -> None:
    # Baseline acquisitions saw 10 km2 of water, test acquisitions 40 km2 (clouds moved off the bay): at the
    # detector's worst plausible false-alarm rate the extra water alone adds more detections than the increase.
    claim = _claim("vessel_count", "increase", 1.0)
    values = _steady(2, [8, 8, 8, 8, 8])
    models = [_model((0.9, 0.85, 0.95), (0.5, 0.3, 1.0))]
    base = make_run(aoi="ru_vladivostok", values={"s2": values["s2"][:7]}, name="b", error_models=models,
                    water_km2=10.0)
    scenes = json.loads((base / "scenes.geojson").read_text())
    run = make_run(aoi="ru_vladivostok", values=values, name="fa", error_models=models, water_km2=10.0)
    doc = json.loads((run / "scenes.geojson").read_text())
    for feat in doc["features"][len(scenes["features"]):]:
        feat["properties"]["observed_water_km2"] = 40.0
    (run / "scenes.geojson").write_text(json.dumps(doc))
    [v] = evaluate_run(run, [claim])
    s = v.indicators[0].sensors[0]
    assert s.detections_low > 0  # a clear increase in detections ...
    assert v.verdict == "inconclusive" and "false alarms at their worst plausible rate" in s.reason  # ... not ships
    # the same counts with the same water in both windows are supported
    same = make_run(aoi="ru_vladivostok", values=values, name="same", error_models=models, water_km2=10.0)
    assert evaluate_run(same, [claim])[0].verdict == "supported"


def test_sightings_false_alarms_could_make_are_not_presence(make_run: RunMaker) -> None:
    claim = _claim("vessel_count", "present", 1.0, aoi="ru_dunai")
    values = {"s1": [(d, 1.0, 1) for d in days(BASE, 3)] + [(d, 1.0, n) for d, n in
                                                            zip(days(TEST, 4), (1, 1, 0, 0), strict=True)]}
    noisy = make_run(aoi="ru_dunai", values=values, name="noisy", water_km2=50.0,
                     error_models=[_model((0.65, 0.49, 0.81), (0.27, 0.0, 0.67), sensor="s1")])
    [v] = evaluate_run(noisy, [claim])
    assert v.verdict == "inconclusive" and "false alarms at their worst plausible rate" in v.indicators[0].reason
    clean = make_run(aoi="ru_dunai", values=values, name="clean", water_km2=50.0,
                     error_models=[_model((0.65, 0.49, 0.81), (0.0, 0.0, 0.0), sensor="s1")])
    assert evaluate_run(clean, [claim])[0].verdict == "supported"


def test_false_alarms_at_berths_count_in_the_aoi_rate(make_run: RunMaker) -> None:
    """cnn-cfar: no false alarms on open water, the CNN's 2 per km2 on the water within 60 m of a coast."""
    claim = _claim("vessel_count", "present", 1.0, aoi="ru_dunai")
    values = {"s1": [(d, 1.0, 1) for d in days(BASE, 3)] + [(d, 1.0, n) for d, n in
                                                            zip(days(TEST, 4), (1, 1, 0, 0), strict=True)]}
    model = ErrorModel("cnn-cfar", "cnn-cfar-x", "s1", "vessel", Estimate(0.65, 0.49, 0.81), Estimate(0.0, 0.0, 0.0),
                       "real", "test-set", berth_false_alarms_per_km2=Estimate(2.0, 1.0, 3.0)).to_dict()
    coastal = make_run(aoi="ru_dunai", values=values, name="coastal", water_km2=50.0, berth_km2=5.0,
                       error_models=[model])
    [v] = evaluate_run(coastal, [claim])
    [s] = v.indicators[0].sensors
    assert v.verdict == "inconclusive" and "false alarms at their worst plausible rate" in v.indicators[0].reason
    fa = s.error_model["false_alarms_per_km2"]  # a tenth of the water at berths: 0.1 x (2.0 [1.0, 3.0])
    assert fa["value"] == pytest.approx(0.2) and fa["ci95"] == pytest.approx([0.1, 0.3])
    open_sea = make_run(aoi="ru_dunai", values=values, name="open", water_km2=50.0, berth_km2=0.0,
                        error_models=[model])
    assert evaluate_run(open_sea, [claim])[0].verdict == "supported"


def test_absence_needs_enough_misses_for_the_lowest_plausible_recall(make_run: RunMaker) -> None:
    claim = _claim("vessel_count", "present", 1.0, aoi="ru_dunai")
    values = {"s1": [(d, 1.0, 0) for d in days(BASE, 3)] + [(d, 1.0, 0) for d in days(TEST, 4)]}
    run = make_run(aoi="ru_dunai", values=values, error_models=[_model((0.5, 0.3, 0.7), sensor="s1")])
    [v] = evaluate_run(run, [claim])
    s = v.indicators[0].sensors[0]
    # (1 - 0.3)^4 = 24%: four misses do not show that nothing was there
    assert v.verdict == "inconclusive" and "recall alone could hide it" in s.note


def test_short_event_seen_in_two_acquisitions_is_supported(make_run: RunMaker) -> None:
    # The Vladivostok series: a steady 2-3 in the baseline, 2, 9, 8 in the test window.
    base = [3, 3, 2, 3, 3, 3, 3, 3, 3]
    values = {"s2": [(d, 1.0, n) for d, n in zip(days(BASE, 9, 4), base, strict=True)]
              + [(d, 1.0, n) for d, n in zip(days(TEST, 3), (2, 9, 8), strict=True)]}
    run = make_run(aoi="ru_vladivostok", values=values, error_models=[_model((0.9, 0.85, 0.95))])
    [v] = evaluate_run(run, [_claim("large_vessel_presence", "increase", 0.5)])
    s = v.indicators[0].sensors[0]
    assert v.verdict == "supported" and s.short_event.startswith("2 of 3 test acquisitions exceed")
    assert s.detections_low < 0  # the window means alone could not tell
    # the same series with a one-acquisition blip is not
    values["s2"][-1] = (values["s2"][-1][0], 1.0, 3)
    again = make_run(aoi="ru_vladivostok", values=values, name="blip", error_models=[_model((0.9, 0.85, 0.95))])
    assert evaluate_run(again, [_claim("large_vessel_presence", "increase", 0.5)])[0].verdict == "inconclusive"


def test_claims_json_states_the_detector_and_its_figures(make_run: RunMaker) -> None:
    run = make_run(aoi="ru_vladivostok", values=_steady(2, [4] * 5),
                   error_models=[_model((0.65, 0.49, 0.81), (0.27, 0.0, 0.67))])
    verdicts = evaluate_run(run, [_claim("vessel_count", "increase", 1.0)])
    write_claims_outputs(run, verdicts, None)
    [sensor] = json.loads((run / "claims.json").read_text())["claims"][0]["indicators"][0]["sensors"]
    m = sensor["error_model"]
    assert (m["detector"], m["source"], m["recall"]["value"], m["recall"]["ci95"]) == (
        "baseline", "real", 0.65, [0.49, 0.81])
    assert m["false_alarms_per_km2"]["value"] == 0.27
    row = pd.read_csv(run / "claims.csv").query("sensor == 's2'").iloc[0]
    assert (row["recall"], row["recall_low"], row["error_source"]) == (0.65, 0.49, "real")


@pytest.mark.slow
def test_the_short_event_test_and_the_window_comparison_keep_their_false_positive_rates() -> None:
    # Steady overdispersed traffic (negative binomial, mean 3): neither test may call an increase more often than
    # its share of alpha. 500 null series of 9 baseline and 3 test acquisitions.
    rng = np.random.default_rng(5)
    alpha = 0.05
    days_b, days_t = days(BASE, 9, 4), days(TEST, 3)
    short = window = 0
    trials = 500
    for _ in range(trials):
        y = rng.negative_binomial(6, 6 / 9, 12)  # mean 3, variance 4.5
        frame = pd.DataFrame({"date": [d.isoformat() for d in days_b + days_t], "count": y,
                              "observed_fraction": 1.0, "used": True, "aoi": "a", "class": "vessel",
                              "sensor": "s2", "simulated": True, "scene_id": [str(i) for i in range(12)],
                              "window": ["baseline"] * 9 + ["test"] * 3})
        short += _short_event(frame, alpha / 2, 0.0).significant
        [cmp] = compare_windows(frame, Window(BASE, date(2024, 10, 5)), Window(TEST, date(2024, 10, 30)),
                                1 - alpha / 2)
        window += cmp.difference_low > 0
    assert short / trials <= alpha / 2 and window / trials <= alpha / 2 + 0.01
    assert not math.isnan(short / trials)
