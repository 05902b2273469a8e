"""Time series of counts per AOI, class, sensor and acquisition, and the comparison of two time windows.

Every count carries the observed fraction of its acquisition (:mod:`satwatch.change.observability`). Only
acquisitions with ``observed_fraction >= min_observed`` (default :data:`MIN_OBSERVED_FRACTION`) are used; the
others are listed with ``used = false`` and a reason, and are never read as zero: a fully clouded acquisition
(observed fraction 0) says nothing about the AOI.

Window comparison (:func:`compare_windows`): a **quasi-Poisson rate ratio** with exposure = observed fraction.
The rate of a window is ``sum(count) / sum(observed_fraction)`` (objects per fully observed acquisition).
Counts at a port are overdispersed and autocorrelated (a ship stays for days; a detector misses some ships
on some dates), so a plain Poisson interval is too narrow; a bootstrap over acquisitions needs more
acquisitions than a window usually has (6 to 10 Sentinel-2 dates a month, fewer clear ones). The
quasi-Poisson model (a Poisson GLM with a window indicator and a ``log(observed_fraction)`` offset, its variance
scaled by the Pearson dispersion ``phi = max(1, X2 / df)``) keeps the Poisson point estimate, widens the
interval by ``sqrt(phi)`` when the data vary more than Poisson, and uses Student's t with ``df`` degrees of
freedom, which stays honest with few acquisitions. The dispersion is measured on the **baseline window alone**
(``df = n_baseline - 1``) when it has at least 3 used acquisitions: a short event inside the test window (ships
present on two of three dates) is the change being measured, and pooling it into the dispersion would hide it;
with fewer baseline acquisitions both windows are pooled (``df = n - 2``). A window total of zero gets 0.5
added (Haldane) so the log
ratio is finite. The rate difference gets the matching Wald interval. A change is ``significant`` when the 95%
interval of the ratio excludes 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from satwatch.errors import UsageError

__all__ = [
    "CONFIDENCE",
    "MIN_OBSERVED_FRACTION",
    "TIMESERIES_COLUMNS",
    "Window",
    "WindowComparison",
    "build_timeseries",
    "compare_windows",
    "comparisons_frame",
    "parse_window",
]

MIN_OBSERVED_FRACTION = 0.5
"""Default least observed fraction of the AOI for an acquisition to be used in a comparison: below half the AOI,
a count says more about the clouds than about the activity."""
CONFIDENCE = 0.95
"""Confidence level of every interval."""
TIMESERIES_COLUMNS = (
    "aoi", "class", "sensor", "date", "acquired", "scene_id", "count", "area_m2", "observed_fraction",
    "count_per_observed", "per_km2", "estimated_count", "estimated_low", "estimated_high", "error_source", "used",
    "excluded_reason", "min_object_length_m", "simulated",
)
"""Columns of :func:`build_timeseries` (``timeseries.csv``)."""


@dataclass(frozen=True)
class Window:
    """A window of UTC days, both ends inclusive."""

    start: date
    """First UTC day, inclusive."""
    end: date
    """Last UTC day, inclusive."""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise UsageError(f"window {self.start}/{self.end} ends before it starts; give START/END in order")

    def __str__(self) -> str:
        return f"{self.start.isoformat()}/{self.end.isoformat()}"

    def contains(self, days: pd.Series) -> pd.Series:
        """Boolean Series: which of ``days`` (``datetime.date`` values) lie inside the window."""
        return days.map(lambda d: self.start <= d <= self.end)

    @classmethod
    def halves(cls, start: date, end: date) -> tuple[Window, Window]:
        """Split ``start..end`` into two halves: ``(start, mid)`` and ``(mid + 1 day, end)``.

        Example:
            >>> b, t = Window.halves(date(2024, 9, 1), date(2024, 11, 30))
            >>> str(b), str(t)
            ('2024-09-01/2024-10-15', '2024-10-16/2024-11-30')
        """
        if end <= start:
            raise UsageError(f"period {start}/{end} is too short to split in two windows; give --baseline/--test")
        mid = start + (end - start) // 2
        return cls(start, mid), cls(date.fromordinal(mid.toordinal() + 1), end)


def parse_window(text: str) -> Window:
    """Parse ``YYYY-MM-DD/YYYY-MM-DD`` into a :class:`Window`; raises :class:`UsageError` with what to change.

    Example:
        >>> str(parse_window("2024-09-01/2024-10-07"))
        '2024-09-01/2024-10-07'
    """
    parts = text.strip().split("/")
    try:
        if len(parts) != 2:
            raise ValueError(text)
        start, end = date.fromisoformat(parts[0]), date.fromisoformat(parts[1])
    except ValueError:
        raise UsageError(f"window {text!r} is not START/END (YYYY-MM-DD/YYYY-MM-DD)") from None
    return Window(start, end)


def build_timeseries(counts: pd.DataFrame, min_observed: float = MIN_OBSERVED_FRACTION) -> pd.DataFrame:
    """Turn a counts table (``counts.csv``, :func:`satwatch.change.counts.count_table`) into the time series.

    Args:
        counts: one row per scene and class with ``aoi, sensor, acquired, scene_id, class, count, area_m2,
            observed_fraction, min_object_length_m, simulated``.
        min_observed: least observed fraction (0..1] for a row to be ``used``.

    Returns:
        One row per (aoi, class, sensor, acquisition), columns :data:`TIMESERIES_COLUMNS`: ``date`` is the UTC day
        (ISO text); ``count_per_observed`` is ``count / observed_fraction`` (the count scaled to the whole AOI,
        empty when nothing was observed); ``per_km2`` is the count per km2 of observed water (vessels) or land
        (other classes), from ``counts.csv``; ``estimated_count`` / ``estimated_low`` / ``estimated_high`` /
        ``error_source`` are the true-number estimate of ``counts.csv`` (empty and ``unknown`` for a counts table
        without it); ``used`` tells whether comparisons use the row and ``excluded_reason`` why not (``not
        observed`` for observed fraction 0, ``observed_fraction < X``).
    """
    if not 0.0 < min_observed <= 1.0:
        raise UsageError(f"min_observed {min_observed} must be in (0, 1]")
    if counts.empty:
        return pd.DataFrame(columns=list(TIMESERIES_COLUMNS))
    ts = counts.copy()
    ts["acquired"] = ts["acquired"].astype(str)
    ts["date"] = ts["acquired"].str.slice(0, 10)
    obs = ts["observed_fraction"].astype(float)
    ts["count_per_observed"] = np.where(obs > 0, ts["count"].astype(float) / obs.where(obs > 0, 1.0), np.nan)
    ts["count_per_observed"] = ts["count_per_observed"].round(3)
    ts["used"] = obs >= min_observed
    ts["excluded_reason"] = np.where(
        ts["used"], "", np.where(obs <= 0, "not observed", f"observed_fraction < {min_observed:g}")
    )
    for col in ("min_object_length_m", "area_m2", "per_km2", "estimated_count", "estimated_low", "estimated_high"):
        if col not in ts:
            ts[col] = np.nan
    if "error_source" not in ts:
        ts["error_source"] = "unknown"
    ts["simulated"] = ts["simulated"].astype(bool)
    ts = ts[list(TIMESERIES_COLUMNS)]
    return ts.sort_values(["aoi", "class", "sensor", "acquired"], ignore_index=True)


@dataclass(frozen=True)
class WindowComparison:
    """Baseline vs test window for one AOI, class and sensor: rates, their ratio and difference with 95% CIs."""

    aoi: str
    """AOI id."""
    cls: str
    """Object class (``vessel``, ``vehicle``, ``encampment``)."""
    sensor: str
    """Sensor of the acquisitions compared (sensors are never mixed: they see different objects)."""
    baseline: str
    """Baseline window ``YYYY-MM-DD/YYYY-MM-DD`` (UTC days, inclusive)."""
    test: str
    """Test window ``YYYY-MM-DD/YYYY-MM-DD``."""
    baseline_used: int
    """Acquisitions of the baseline window used (observed fraction >= ``min_observed``)."""
    baseline_excluded: int
    """Acquisitions of the baseline window excluded (too little observed; never counted as zero)."""
    test_used: int
    """Acquisitions of the test window used."""
    test_excluded: int
    """Acquisitions of the test window excluded."""
    baseline_count: int
    """Objects counted over the used baseline acquisitions."""
    test_count: int
    """Objects counted over the used test acquisitions."""
    baseline_rate: float
    """Objects per fully observed acquisition in the baseline: ``sum(count) / sum(observed_fraction)``; NaN if
    no acquisition was used."""
    test_rate: float
    """Objects per fully observed acquisition in the test window; NaN if none was used."""
    rate_ratio: float
    """``test_rate / baseline_rate`` (0.5 added to a zero total); NaN when a window has no used acquisition."""
    ratio_low: float
    """Lower bound of the 95% interval of the ratio (quasi-Poisson, t with the dispersion's df)."""
    ratio_high: float
    """Upper bound of the 95% interval of the ratio."""
    rate_difference: float
    """``test_rate - baseline_rate``, objects per fully observed acquisition."""
    difference_low: float
    """Lower bound of the 95% interval of the difference."""
    difference_high: float
    """Upper bound of the 95% interval of the difference."""
    dispersion: float
    """Pearson dispersion ``phi >= 1`` that widened the intervals (1 = Poisson), from the baseline window alone
    when it has at least 3 used acquisitions."""
    significant: bool
    """True when the interval of the ratio excludes 1."""
    method: str
    """How the interval was computed (``quasi-poisson``, or why none: ``insufficient acquisitions``)."""
    simulated: bool
    """True when the counts come from simulated imagery: a demonstration, never evidence."""


def _window_rows(ts: pd.DataFrame, window: Window) -> pd.DataFrame:
    days = ts["date"].map(date.fromisoformat)
    return ts[window.contains(days).to_numpy(dtype=bool)]


def _dispersion(yb: npt.NDArray[np.float64], eb: npt.NDArray[np.float64], yt: npt.NDArray[np.float64],
                et: npt.NDArray[np.float64]) -> tuple[float, int]:
    """Return the Pearson dispersion ``phi >= 1`` and its degrees of freedom.

    From the baseline window alone when it has at least 3 used acquisitions (a short event inside the test window
    is the signal, not noise), else from both windows pooled.
    """
    if len(yb) >= 3 and eb.sum() > 0:
        mu, y, df = eb * (yb.sum() / eb.sum()), yb, len(yb) - 1
    else:
        rate_b = yb.sum() / eb.sum() if eb.sum() > 0 else 0.0
        rate_t = yt.sum() / et.sum() if et.sum() > 0 else 0.0
        mu, y = np.concatenate([eb * rate_b, et * rate_t]), np.concatenate([yb, yt])
        df = len(y) - 2
    pos = mu > 0
    x2 = float(np.sum((y[pos] - mu[pos]) ** 2 / mu[pos]))
    return (max(1.0, x2 / df) if df > 0 else 1.0), df


def compare_windows(
    timeseries: pd.DataFrame, baseline: Window, test: Window, confidence: float = CONFIDENCE
) -> list[WindowComparison]:
    """Compare the test window with the baseline for every (aoi, class, sensor) of ``timeseries``.

    Args:
        timeseries: output of :func:`build_timeseries` (its ``used`` column decides which rows count).
        baseline: the reference window.
        test: the window tested for change.
        confidence: confidence level of the intervals.

    Returns:
        One :class:`WindowComparison` per (aoi, class, sensor), sorted; the statistics are described in the
        module docstring.
    """
    out: list[WindowComparison] = []
    if timeseries.empty:
        return out
    q = 0.5 + confidence / 2.0
    for (aoi, cls, sensor), grp in timeseries.groupby(["aoi", "class", "sensor"], sort=True):
        b_all, t_all = _window_rows(grp, baseline), _window_rows(grp, test)
        b, t = b_all[b_all["used"].astype(bool)], t_all[t_all["used"].astype(bool)]
        yb, yt = b["count"].to_numpy(dtype=float), t["count"].to_numpy(dtype=float)
        eb, et = b["observed_fraction"].to_numpy(dtype=float), t["observed_fraction"].to_numpy(dtype=float)
        nan = float("nan")
        values = dict(rate_ratio=nan, ratio_low=nan, ratio_high=nan, rate_difference=nan, difference_low=nan,
                      difference_high=nan, dispersion=nan)
        rate_b = float(yb.sum() / eb.sum()) if len(b) else nan
        rate_t = float(yt.sum() / et.sum()) if len(t) else nan
        method = "insufficient acquisitions"
        significant = False
        if len(b) and len(t):
            method = "quasi-poisson"
            phi, df = _dispersion(yb, eb, yt, et)
            crit = float(stats.t.ppf(q, df)) if df > 0 else float(stats.norm.ppf(q))
            sb, st = max(float(yb.sum()), 0.5), max(float(yt.sum()), 0.5)
            ratio = (st / et.sum()) / (sb / eb.sum())
            se_log = math.sqrt(phi * (1.0 / sb + 1.0 / st))
            diff = rate_t - rate_b
            se_diff = math.sqrt(phi * (sb / eb.sum() ** 2 + st / et.sum() ** 2))
            values = dict(
                rate_ratio=ratio, ratio_low=ratio * math.exp(-crit * se_log),
                ratio_high=ratio * math.exp(crit * se_log),
                rate_difference=diff, difference_low=diff - crit * se_diff, difference_high=diff + crit * se_diff,
                dispersion=phi,
            )
            significant = bool(values["ratio_low"] > 1.0 or values["ratio_high"] < 1.0)
        out.append(WindowComparison(
            aoi=str(aoi), cls=str(cls), sensor=str(sensor), baseline=str(baseline), test=str(test),
            baseline_used=len(b), baseline_excluded=len(b_all) - len(b), test_used=len(t),
            test_excluded=len(t_all) - len(t), baseline_count=int(yb.sum()), test_count=int(yt.sum()),
            baseline_rate=round(rate_b, 4), test_rate=round(rate_t, 4),
            **{k: round(v, 4) for k, v in values.items()},
            significant=significant, method=method, simulated=bool(grp["simulated"].astype(bool).any()),
        ))
    return out


def comparisons_frame(comparisons: list[WindowComparison]) -> pd.DataFrame:
    """Return the comparisons as a table (``comparisons.csv``): one row each, the fields as columns.

    The field ``cls`` is the column ``class``.
    """
    from dataclasses import asdict, fields

    cols = ["class" if f.name == "cls" else f.name for f in fields(WindowComparison)]
    rows = [{("class" if k == "cls" else k): v for k, v in asdict(c).items()} for c in comparisons]
    return pd.DataFrame(rows, columns=cols)
