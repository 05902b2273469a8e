"""Time series and window comparison: observability exclusion and the quasi-Poisson interval."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from satwatch.change.timeseries import Window, build_timeseries, compare_windows, parse_window
from satwatch.errors import UsageError


def counts(values: list[tuple[str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame([
        {"aoi": "ru_dunai", "sensor": "s2", "acquired": f"{d}T01:40:00Z", "scene_id": f"s-{d}", "class": "vessel",
         "count": n, "area_m2": 0.0, "observed_fraction": f, "cloud_fraction": 1 - f, "min_object_length_m": 25.0,
         "simulated": True}
        for d, n, f in values
    ])


BASE, TEST = Window(date(2024, 9, 1), date(2024, 9, 30)), Window(date(2024, 10, 1), date(2024, 10, 31))


def test_fully_clouded_acquisition_is_excluded_never_zero() -> None:
    rows = [("2024-09-05", 3, 1.0), ("2024-09-10", 2, 0.9), ("2024-09-15", 3, 1.0),
            ("2024-10-05", 3, 1.0), ("2024-10-10", 3, 0.95), ("2024-10-15", 2, 1.0)]
    ts = build_timeseries(counts([*rows, ("2024-10-20", 0, 0.0), ("2024-10-25", 1, 0.3)]))
    clouded = ts[ts["date"] == "2024-10-20"].iloc[0]
    assert not clouded["used"] and clouded["excluded_reason"] == "not observed"
    assert np.isnan(clouded["count_per_observed"])
    assert ts[ts["date"] == "2024-10-25"].iloc[0]["excluded_reason"] == "observed_fraction < 0.5"
    [c] = compare_windows(ts, BASE, TEST)
    [ref] = compare_windows(build_timeseries(counts(rows)), BASE, TEST)
    assert (c.test_used, c.test_excluded, c.baseline_used, c.baseline_excluded) == (3, 2, 3, 0)
    assert c.test_rate == ref.test_rate and c.rate_ratio == ref.rate_ratio  # the clouded zero changed nothing
    assert c.simulated


def test_no_change_is_not_significant_and_a_step_is() -> None:
    rng = np.random.default_rng(3)
    days = [f"2024-09-{d:02d}" for d in range(2, 30, 4)] + [f"2024-10-{d:02d}" for d in range(2, 30, 4)]
    flat = counts([(d, int(rng.poisson(4)), float(rng.uniform(0.6, 1.0))) for d in days])
    [c] = compare_windows(build_timeseries(flat), BASE, TEST)
    assert not c.significant and c.ratio_low < 1 < c.ratio_high and c.method == "quasi-poisson"
    step = counts([(d, 2 if d < "2024-10" else 6, 1.0) for d in days])
    [s] = compare_windows(build_timeseries(step), BASE, TEST)
    assert s.significant and s.ratio_low < 3.0 < s.ratio_high and s.rate_ratio == pytest.approx(3.0)
    assert s.rate_difference == pytest.approx(4.0) and s.difference_low > 0


def test_exposure_is_the_observed_fraction() -> None:
    # 2 ships seen on half the AOI = 4 per fully observed acquisition
    ts = build_timeseries(counts([("2024-09-05", 2, 0.5), ("2024-10-05", 4, 1.0)]))
    [c] = compare_windows(ts, BASE, TEST)
    assert c.baseline_rate == 4.0 and c.test_rate == 4.0 and c.rate_ratio == 1.0


def test_window_without_used_acquisitions_gives_no_interval() -> None:
    ts = build_timeseries(counts([("2024-09-05", 0, 0.0), ("2024-10-05", 4, 1.0)]))
    [c] = compare_windows(ts, BASE, TEST)
    assert c.method == "insufficient acquisitions" and np.isnan(c.rate_ratio) and not c.significant
    assert c.baseline_excluded == 1


def test_windows_and_errors() -> None:
    b, t = Window.halves(date(2024, 9, 1), date(2024, 9, 21))
    assert (str(b), str(t)) == ("2024-09-01/2024-09-11", "2024-09-12/2024-09-21")
    with pytest.raises(UsageError, match="START/END"):
        parse_window("2024-09-01")
    with pytest.raises(UsageError, match="before it starts"):
        parse_window("2024-09-10/2024-09-01")
    with pytest.raises(UsageError, match="min_observed"):
        build_timeseries(counts([]), 0.0)
