"""Verdicts: each indicator, then each claim, is ``supported``, ``contradicted`` or ``inconclusive``.

:func:`evaluate_run` reads a run folder only (:mod:`satwatch.claims.measures`) and returns one
:class:`ClaimVerdict` per claim; :func:`write_claims_outputs` writes ``claims.json`` (with the claim definitions
the verdicts were made with) and ``claims.csv``; :func:`reproduce` makes the verdicts again from ``claims.json``
and the run folder alone. Rules (``docs/claims.md``):

- **Per sensor.** Sensors are never mixed (Sentinel-1 and -2 see different objects); an indicator with
  ``sensor: any`` is tested on each sensor of the run. Sensors that disagree (one supports, one contradicts) make
  the indicator inconclusive.
- **Enough acquisitions.** Each window needs at least :data:`MIN_USED` used acquisitions (observed fraction at
  least ``min_observed``), else ``inconclusive``; excluded acquisitions are listed, never read as zero.
- **Increase / decrease** (count, area and arrival measures): effect = test minus baseline with a confidence
  interval (quasi-Poisson for counts and arrivals, Welch's t for areas). ``increase`` is supported when the
  interval lies above 0 and the effect reaches ``min_effect``; contradicted when the interval lies below
  ``min_effect`` (an increase as large as claimed is ruled out); otherwise inconclusive (within noise).
  ``decrease`` mirrors it.
- **Present / absent**: the share of used test acquisitions showing the object (value >= ``min_effect``), with a
  Clopper-Pearson interval. Present is supported when at least :data:`MIN_HITS` acquisitions show it and
  contradicted when at least :data:`MIN_USED_ABSENT` used acquisitions show none; absent mirrors it.
- **Ground change** has no interval: supported when the change area reaches ``min_effect``, contradicted when it
  stays under a tenth of it with at least 3 scenes in each composite.
- **Confidence.** Intervals are at ``1 - 0.05 / m`` for a claim with ``m`` testable (indicator, sensor) pairs
  (Bonferroni), so that a claim with many indicators is not "supported" by chance.
- **Claim.** Supported when some indicator is supported and none contradicted; contradicted when some is
  contradicted and none supported; otherwise inconclusive (nothing decisive, or indicators disagree).
- A class the run's detector does not report gives ``inconclusive`` with "not measured by detector X", never a
  zero. Results from simulated imagery say so everywhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from satwatch.change.counts import WATER_CLASSES
from satwatch.change.error_model import ErrorModel, models_from_record, unknown_model
from satwatch.change.timeseries import MIN_OBSERVED_FRACTION, Window, compare_windows
from satwatch.claims.catalog import Claim, Indicator, parse_claims
from satwatch.claims.factors import expected_observables, interpret_effect
from satwatch.claims.measures import RunData, acquisition_series, arrival_series, load_run
from satwatch.errors import InputFileError
from satwatch.outputs.files import write_csv, write_json

__all__ = [
    "CLAIMS_CSV_COLUMNS",
    "FAMILY_ALPHA",
    "MIN_HITS",
    "MIN_USED",
    "MIN_USED_ABSENT",
    "SHORT_EVENT_MIN",
    "SIMULATED_CLAIMS_NOTICE",
    "ClaimVerdict",
    "IndicatorVerdict",
    "SensorResult",
    "evaluate_claim",
    "evaluate_run",
    "reproduce",
    "verdicts_frame",
    "write_claims_outputs",
]

MIN_USED = 2
"""Least used (well observed) acquisitions per window for a window comparison; fewer gives ``inconclusive``."""
MIN_HITS = 2
"""Least used test acquisitions that must show an object for ``present`` (one sighting may be a false alarm)."""
MIN_USED_ABSENT = 3
"""Least used test acquisitions, all showing nothing, for ``absent`` to be supported (or ``present``
contradicted)."""
FAMILY_ALPHA = 0.05
"""Chance, per claim, of calling an indicator decisive by noise alone (split over its tests, Bonferroni)."""
SHORT_EVENT_MIN = 2
"""Least used test acquisitions that must each exceed the baseline's predictive distribution for the short-event
test to see an increase (one exceptional acquisition may be a burst of false alarms)."""
SIMULATED_CLAIMS_NOTICE = (
    "SIMULATED imagery: these verdicts test the method on planted objects. They are a demonstration and say "
    "nothing about whether the claims are true in the real world."
)
PEOPLE_LIMIT = ("People are never visible in this imagery: numbers of soldiers are inferred through planning "
                "factors, never counted.")
NATIONALITY_LIMIT = "Imagery shows objects, not their nationality, owner or cargo."
VEHICLE_LIMIT = ("A single truck (about 2.5 x 8 m) is about one pixel at 10 m: single vehicles are not visible in "
                 "Sentinel-1/2, only vehicle parks and convoys as areas.")
PIXEL_LIMIT = ("Pixel change shows that the ground changed, not what was built or why; across seasons Sentinel-2 "
               "change is dominated by vegetation.")
BERTH_LIMIT = "The baseline detector often misses ships moored against a quay (it cannot separate hull from pier)."
CLAIMS_CSV_COLUMNS = (
    "claim", "claim_verdict", "indicator", "aoi", "measure", "expect", "min_effect", "unit", "sensor", "verdict",
    "reason", "effect", "ci_low", "ci_high", "confidence", "baseline_value", "test_value", "baseline_used",
    "baseline_excluded", "test_used", "test_excluded", "method", "detections_effect", "detections_low",
    "detections_high", "short_event", "detector", "error_source", "recall", "recall_low", "recall_high",
    "false_alarms_per_km2", "false_alarms_high", "note", "simulated",
)
"""Columns of ``claims.csv``: one row per claim, indicator and sensor (sensor ``all`` for the indicator's
combined verdict)."""


@dataclass(frozen=True)
class SensorResult:
    """An indicator tested on one sensor's acquisitions."""

    sensor: str
    """``s1``, ``s2`` or ``vhr``."""
    verdict: str
    """``supported``, ``contradicted`` or ``inconclusive``."""
    reason: str
    """Why, in one sentence."""
    effect: float = math.nan
    """Effect size in the measure's unit: test minus baseline (increase/decrease), share of used test
    acquisitions showing the object (present/absent), or change area in m2 (ground change); NaN when none."""
    ci_low: float = math.nan
    """Lower bound of the effect's confidence interval (NaN when there is none)."""
    ci_high: float = math.nan
    """Upper bound of the effect's confidence interval."""
    baseline_value: float = math.nan
    """Baseline window: rate per fully observed acquisition (counts, arrivals per week) or mean (areas)."""
    test_value: float = math.nan
    """Test window: the same."""
    baseline_used: int = 0
    """Baseline acquisitions used (observed fraction >= min_observed)."""
    baseline_excluded: int = 0
    """Baseline acquisitions excluded as too little observed."""
    test_used: int = 0
    """Test acquisitions used."""
    test_excluded: int = 0
    """Test acquisitions excluded."""
    method: str = ""
    """How the interval was computed."""
    used_scenes: tuple[str, ...] = ()
    """Scene ids of the used acquisitions, both windows."""
    excluded_scenes: tuple[str, ...] = ()
    """Scene ids of the excluded acquisitions, with their reason: ``<scene_id> (<reason>)``."""
    min_object_length_m: float = math.nan
    """Smallest resolvable object over the used acquisitions, m."""
    confidence: float = math.nan
    """Confidence level of this result's interval (the claim's, or its half when shared with the short-event
    test)."""
    detections_effect: float = math.nan
    """Effect in detections before the detector's error is taken into account (test minus baseline)."""
    detections_low: float = math.nan
    """Lower bound of ``detections_effect``'s interval."""
    detections_high: float = math.nan
    """Upper bound of ``detections_effect``'s interval."""
    short_event: str = ""
    """What the short-event test found (test acquisitions exceeding the baseline's predictive distribution)."""
    error_model: dict[str, Any] = field(default_factory=dict, hash=False)
    """The detector's measured error used (:class:`satwatch.change.error_model.ErrorModel` as a dict): detector,
    recall and false alarms per km2 with 95% intervals, ``source`` real / simulated / unknown."""
    note: str = ""
    """A plain sentence when the detector's recall alone could hide the claimed effect (empty otherwise)."""


@dataclass(frozen=True)
class IndicatorVerdict:
    """One indicator of a claim: its verdict over sensors, the per-sensor results and the limits that apply."""

    indicator: Indicator
    """The indicator tested."""
    verdict: str
    """``supported``, ``contradicted`` or ``inconclusive``."""
    reason: str
    """Why, in one sentence."""
    sensors: tuple[SensorResult, ...]
    """Per-sensor results (empty when nothing could be measured)."""
    confidence: float
    """Confidence level of the intervals (Bonferroni over the claim's tests)."""
    limits: tuple[str, ...] = ()
    """Resolution and method limits that apply to this indicator."""
    interpretation: str = ""
    """What the effect could mean through the planning factors, or empty."""

    @property
    def main(self) -> SensorResult | None:
        """The sensor result the indicator's verdict rests on (the decisive one with most used acquisitions)."""
        if not self.sensors:
            return None
        decisive = [s for s in self.sensors if s.verdict == self.verdict] or list(self.sensors)
        return max(decisive, key=lambda s: (s.baseline_used + s.test_used, s.sensor))


@dataclass(frozen=True)
class ClaimVerdict:
    """A claim's verdict with its indicators, expected observables and the limits of what imagery can say."""

    claim: Claim
    """The claim as tested (its definition is stored in claims.json)."""
    verdict: str
    """``supported``, ``contradicted`` or ``inconclusive``."""
    reason: str
    """Why, in one sentence."""
    indicators: tuple[IndicatorVerdict, ...]
    """One verdict per indicator, in catalog order."""
    confidence: float
    """Confidence level of every interval of this claim."""
    tests: int
    """Number of (indicator, sensor) tests the confidence level was split over."""
    simulated: bool
    """True when the imagery was simulated: a demonstration, never evidence."""
    limits: tuple[str, ...] = ()
    """Limits that apply to the whole claim (people, nationality)."""
    expected: tuple[str, ...] = ()
    """What the claim's numbers would look like in imagery (planning factors)."""
    min_observed: float = MIN_OBSERVED_FRACTION
    """Least observed fraction of an AOI for an acquisition to be used."""
    evidence: dict[str, Any] = field(default_factory=dict, hash=False)
    """Evidence package paths relative to the run folder (filled when the package is written)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (NaN as null)."""
        inds = []
        for iv in self.indicators:
            inds.append({
                "indicator": iv.indicator.to_dict(), "label": iv.indicator.label,
                "unit": iv.indicator.spec.unit, "verdict": iv.verdict, "reason": iv.reason,
                "confidence": iv.confidence, "interpretation": iv.interpretation, "limits": list(iv.limits),
                "sensors": [_clean(asdict(s)) for s in iv.sensors],
            })
        return {
            "id": self.claim.id, "verdict": self.verdict, "reason": self.reason, "simulated": self.simulated,
            "confidence": self.confidence, "tests": self.tests, "min_observed": self.min_observed,
            "claimant": self.claim.claimant, "date": self.claim.date.isoformat(),
            "statement": self.claim.statement, "baseline": str(self.claim.baseline), "test": str(self.claim.test),
            "conflicts_with": list(self.claim.conflicts_with), "expected_observables": list(self.expected),
            "limits": list(self.limits), "indicators": inds, "evidence": dict(self.evidence),
        }


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else round(obj, 4)
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    return obj


def _counts(series: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for w in ("baseline", "test"):
        rows = series[series["window"] == w]
        out[f"{w}_used"] = int(rows["used"].sum())
        out[f"{w}_excluded"] = int((~rows["used"].astype(bool)).sum())
    used = series[series["used"].astype(bool)]
    out["used_scenes"] = tuple(used["scene_id"].astype(str))
    ex = series[~series["used"].astype(bool)]
    out["excluded_scenes"] = tuple(f"{s} ({r})" for s, r in zip(ex["scene_id"], ex["excluded_reason"], strict=True))
    lengths = used["min_object_length_m"].astype(float)
    out["min_object_length_m"] = float(lengths.max()) if lengths.notna().any() else math.nan
    return out


def _too_few(counts: Mapping[str, Any]) -> str:
    return (f"too few observed acquisitions: baseline {counts['baseline_used']} used "
            f"({counts['baseline_excluded']} excluded), test {counts['test_used']} used "
            f"({counts['test_excluded']} excluded); need {MIN_USED} per window")


def _directional(expect: str, effect: float, low: float, high: float, min_effect: float, unit: str) -> tuple[str, str]:
    """Decide increase/decrease from an effect (test - baseline) and its interval."""
    if not (math.isfinite(effect) and math.isfinite(low) and math.isfinite(high)):
        return "inconclusive", "no interval could be computed"
    span = f"{effect:+.2f} [{low:+.2f}, {high:+.2f}] {unit}"
    if expect == "increase":
        if low > 0 and effect >= min_effect:
            return "supported", f"increase of {span}, at least the claimed {min_effect:g}"
        if high < min_effect:
            return "contradicted", f"change {span}: an increase of {min_effect:g} or more is ruled out"
        return "inconclusive", f"change {span}: within noise of both no change and the claimed {min_effect:g}"
    if high < 0 and effect <= -min_effect:
        return "supported", f"decrease of {span}, at least the claimed {min_effect:g}"
    if low > -min_effect:
        return "contradicted", f"change {span}: a decrease of {min_effect:g} or more is ruled out"
    return "inconclusive", f"change {span}: within noise of both no change and the claimed -{min_effect:g}"


def _clopper_pearson(k: int, n: int, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def _model(run: RunData, sensor: str, cls: str, series: pd.DataFrame | None = None) -> ErrorModel:
    """Return the run's error model for ``(sensor, cls)`` (read from run.json once per run).

    With ``series`` (rows of one AOI with ``scene_id``), a vessel model with a second false-alarm rate at berths
    (``cnn-cfar``) comes back with one rate for that AOI's water: the two mixed by the share of its observed water
    within 60 m of a coast over those scenes (:meth:`ErrorModel.at_berth_share`).
    """
    cache: dict[tuple[str, str], ErrorModel] | None = getattr(run, "_error_models", None)
    if cache is None:
        cache = models_from_record(run.record)
        object.__setattr__(run, "_error_models", cache)
    model = cache.get((sensor, cls)) or unknown_model(run.detector_name, sensor, cls,
                                                      "no figures recorded for this run's detector")
    if series is None or cls not in WATER_CLASSES or not {"observed_berth_km2", "observed_water_km2"} <= set(
            run.scenes.columns):
        return model
    by_scene = run.scenes.set_index("scene_id")
    ids = series["scene_id"].astype(str)
    water = float(ids.map(by_scene["observed_water_km2"].astype(float)).sum())
    berth = float(ids.map(by_scene["observed_berth_km2"].astype(float)).sum())
    return model.at_berth_share(berth / water if water > 0 else 0.0)


def _recall_of(model: ErrorModel) -> tuple[float, float, float]:
    """``(point, low, high)`` recall, or ``(1, 1, 1)`` when unknown (detections taken as objects, said so)."""
    if not model.known:
        return 1.0, 1.0, 1.0
    low, high = model.recall_range
    return model.recall.value, low, high


def _error_text(model: ErrorModel) -> str:
    if not model.known:
        return f"detector error unknown ({model.note}): detections taken as objects, nothing corrected"
    return (f"{model.detector} recall {model.recall.text(2)} ({model.source})"
            + (f", false alarms {model.false_alarms_per_km2.text(2)}/km2"
               if math.isfinite(model.false_alarms_per_km2.value) else ""))


def _area_per_acquisition(run: RunData, series: pd.DataFrame, cls: str) -> pd.Series:
    """Observed water (vessels) or land km2 of each row's scene per fully observed acquisition (0 if unknown)."""
    col = "observed_water_km2" if cls in WATER_CLASSES else "observed_land_km2"
    if col not in run.scenes:
        return pd.Series(0.0, index=series.index)
    area = series["scene_id"].astype(str).map(run.scenes.set_index("scene_id")[col].astype(float))
    obs = series["observed_fraction"].astype(float).where(lambda o: o > 0)
    return (area / obs).fillna(0.0)


def _worst_false_alarms(model: ErrorModel, base_counts: npt.NDArray[np.float64],
                        base_exposure: npt.NDArray[np.float64], base_area: float) -> float:
    """Return the worst plausible false-alarm rate per km2 at this AOI.

    The validation's upper bound, but never more than the AOI's own baseline window allows: all of its
    detections could be false alarms, no more (upper 97.5% Poisson bound of its rate over its observed area).
    """
    if not model.known:
        return 0.0
    f_hi = model.false_alarm_range[1]
    if len(base_counts) >= MIN_USED and base_exposure.sum() > 0 and base_area > 0:
        upper = float(stats.chi2.ppf(0.975, 2 * (base_counts.sum() + 1))) / 2 / float(base_exposure.sum())
        f_hi = min(f_hi, upper / base_area)
    return f_hi


def _presence(ind: Indicator, series: pd.DataFrame, confidence: float, run: RunData) -> SensorResult:
    counts = _counts(series)
    sensor = str(series["sensor"].iloc[0]) if len(series) else ""
    model = _model(run, sensor, ind.spec.cls or "", series)
    test = series[(series["window"] == "test") & series["used"].astype(bool)]
    n = len(test)
    hits = int((test["count"].astype(float) >= ind.min_effect).sum())
    base = series[(series["window"] == "baseline") & series["used"].astype(bool)]
    base_share = float((base["count"].astype(float) >= ind.min_effect).mean()) if len(base) else math.nan
    share = hits / n if n else math.nan
    low, high = _clopper_pearson(hits, n, confidence) if n else (math.nan, math.nan)
    alpha = 1.0 - confidence
    _, r_lo, _ = _recall_of(model)
    # absent after n clear misses only when even the lowest plausible recall would have seen it: (1 - r)^n <= alpha
    need_absent = MIN_USED_ABSENT if r_lo >= 1 else max(MIN_USED_ABSENT,
                                                        math.ceil(math.log(alpha) / math.log(1.0 - r_lo)))
    # sightings that false alarms at their worst plausible rate could make: P(>= hits of n) by chance
    _, f_hi = model.false_alarm_range if model.known else (0.0, 0.0)
    fa_p = 0.0  # chance that false alarms alone make the sightings (0: no false alarms recorded)
    worst = 0.0
    if hits and f_hi > 0:
        cls = ind.spec.cls or ""
        f_hi = _worst_false_alarms(model, base["count"].to_numpy(dtype=float),
                                   base["observed_fraction"].to_numpy(dtype=float),
                                   float(_area_per_acquisition(run, base, cls).mean()) if len(base) else 0.0)
        area = _area_per_acquisition(run, test, cls) * test["observed_fraction"].astype(float)
        worst = float(f_hi * area.mean())
        q = float(stats.poisson.sf(math.ceil(ind.min_effect) - 1, worst))
        fa_p = float(stats.binom.sf(hits - 1, n, q))
    seen = f"{hits} of {n} used test acquisitions show it"
    fa_explains = hits >= MIN_HITS and fa_p > alpha
    fa_text = (f"; false alarms at their worst plausible rate ({worst:.2g} per acquisition) could make "
               f"{hits} such sightings (p = {fa_p:.2g})")
    if ind.expect == "present":
        if hits >= MIN_HITS and not fa_explains:
            verdict, reason = "supported", seen
        elif n >= need_absent and hits == 0:
            verdict, reason = "contradicted", f"none of {n} used test acquisitions shows it"
        elif fa_explains:
            verdict, reason = "inconclusive", seen + fa_text
        else:
            verdict, reason = "inconclusive", (f"{seen}; need {MIN_HITS} sightings, or {need_absent} clear misses "
                                               f"at recall as low as {r_lo:.2f}")
    else:
        if n >= need_absent and hits == 0:
            verdict, reason = "supported", f"none of {n} used test acquisitions shows it"
        elif hits >= MIN_HITS and not fa_explains:
            verdict, reason = "contradicted", seen
        elif fa_explains:
            verdict, reason = "inconclusive", seen + fa_text
        else:
            verdict, reason = "inconclusive", (f"{seen}; need {need_absent} clear acquisitions at recall as low as "
                                               f"{r_lo:.2f}")
    note = ""
    if model.known and hits == 0 and MIN_USED_ABSENT <= n < need_absent:
        note = (f"At recall as low as {r_lo:.2f} the detector misses a present object on all {n} acquisitions with "
                f"probability {(1 - r_lo) ** n:.0%}: recall alone could hide it.")
    return SensorResult(
        sensor=sensor, verdict=verdict, reason=reason, effect=share,
        ci_low=low, ci_high=high, baseline_value=base_share, test_value=share, confidence=confidence,
        method=f"share of used test acquisitions with value >= {ind.min_effect:g}, Clopper-Pearson", **counts,
        error_model=model.to_dict(), note=note,
    )


@dataclass(frozen=True)
class _ShortEvent:
    """The short-event test: used test acquisitions exceeding the baseline's predictive distribution."""

    exceeding: tuple[str, ...]
    """Scene ids of the test acquisitions whose value exceeds it at the per-acquisition level."""
    tested: int
    """Used test acquisitions tested."""
    level: float
    """Per-acquisition level: ``SHORT_EVENT_MIN x`` the test's share of the claim's alpha over ``tested``."""

    @property
    def significant(self) -> bool:
        """True when at least :data:`SHORT_EVENT_MIN` acquisitions exceed."""
        return len(self.exceeding) >= SHORT_EVENT_MIN

    def text(self) -> str:
        """One phrase saying what was found."""
        return (f"{len(self.exceeding)} of {self.tested} test acquisitions exceed the baseline's predictive "
                f"distribution (p < {self.level:.2g} each)")


def _short_event(series: pd.DataFrame, alpha: float, extra_per_acquisition: float) -> _ShortEvent:
    """Test each used test acquisition against the baseline window's predictive distribution.

    The baseline's rate ``lambda = sum(y) / sum(exposure)`` (0.5 added to a zero total) and dispersion
    ``phi >= 1`` (Pearson, baseline alone) give each test acquisition with exposure ``o`` a predictive mean
    ``o * (lambda + extra)`` (``extra``: false alarms the worst plausible rate adds on more observed water) and
    variance ``phi * mean + o^2 * phi * lambda / sum(exposure)`` (the rate's own uncertainty), as a negative
    binomial (Poisson when ``phi = 1`` and the rate is exact). An acquisition exceeds when its upper-tail
    probability is at most ``k * alpha / m`` for ``m`` tested acquisitions and ``k =`` :data:`SHORT_EVENT_MIN`
    required exceedances: the expected number of exceedances under no change is then ``k * alpha``, so the chance
    that ``k`` or more exceed by noise alone is at most ``alpha`` (Markov's inequality), whatever the
    correlation between acquisitions (a ship that stays for days, a shared baseline estimate).
    """
    used = series[series["used"].astype(bool)]
    base, test = used[used["window"] == "baseline"], used[used["window"] == "test"]
    yb, eb = base["count"].to_numpy(dtype=float), base["observed_fraction"].to_numpy(dtype=float)
    m = len(test)
    if not m or eb.sum() <= 0:
        return _ShortEvent((), m, math.nan)
    lam = max(float(yb.sum()), 0.5) / float(eb.sum())
    phi = 1.0
    if len(yb) >= 3:
        mu_b = eb * lam
        phi = max(1.0, float(np.sum((yb - mu_b) ** 2 / mu_b)) / (len(yb) - 1))
    level = min(1.0, SHORT_EVENT_MIN * alpha / m)
    exceeding: list[str] = []
    for y, o, sid in zip(test["count"].to_numpy(dtype=float), test["observed_fraction"].to_numpy(dtype=float),
                         test["scene_id"].astype(str), strict=True):
        mu = o * (lam + extra_per_acquisition)
        var = phi * mu + o * o * phi * lam / float(eb.sum())
        k = round(y)
        if k <= 0 or mu <= 0:
            continue
        if var <= mu * (1 + 1e-9):
            p = float(stats.poisson.sf(k - 1, mu))
        else:
            size = mu * mu / (var - mu)
            p = float(stats.nbinom.sf(k - 1, size, size / (size + mu)))
        if p <= level:
            exceeding.append(sid)
    return _ShortEvent(tuple(exceeding), m, level)


def _welch(ind: Indicator, series: pd.DataFrame, confidence: float) -> SensorResult:
    counts = _counts(series)
    sensor = str(series["sensor"].iloc[0])
    if counts["baseline_used"] < MIN_USED or counts["test_used"] < MIN_USED:
        return SensorResult(sensor=sensor, verdict="inconclusive", reason=_too_few(counts),
                            method="Welch t on the mean area per acquisition", **counts)
    used = series[series["used"].astype(bool)]
    b = used[used["window"] == "baseline"]["count"].to_numpy(dtype=float)
    t = used[used["window"] == "test"]["count"].to_numpy(dtype=float)
    diff = float(t.mean() - b.mean())
    vb, vt = float(b.var(ddof=1)) / len(b), float(t.var(ddof=1)) / len(t)
    se = math.sqrt(vb + vt)
    if se > 0:
        df = (vb + vt) ** 2 / ((vb**2 / (len(b) - 1) if vb else 0.0) + (vt**2 / (len(t) - 1) if vt else 0.0))
        crit = float(stats.t.ppf(0.5 + confidence / 2, df))
        low, high = diff - crit * se, diff + crit * se
    else:
        low = high = diff
    verdict, reason = _directional(ind.expect, diff, low, high, ind.min_effect, "m2")
    return SensorResult(sensor=sensor, verdict=verdict, reason=reason, effect=diff, ci_low=low, ci_high=high,
                        baseline_value=float(b.mean()), test_value=float(t.mean()),
                        method="Welch t on the mean area per used acquisition", **counts)


def _rates(ind: Indicator, series: pd.DataFrame, confidence: float, what: str, baseline: Window,
           test: Window, run: RunData) -> SensorResult:
    counts = _counts(series)
    sensor = str(series["sensor"].iloc[0])
    cls = ind.spec.cls or "vessel"
    model = _model(run, sensor, cls, series)
    unit = ind.spec.unit
    if counts["baseline_used"] < MIN_USED or counts["test_used"] < MIN_USED:
        return SensorResult(sensor=sensor, verdict="inconclusive", reason=_too_few(counts),
                            method=f"quasi-Poisson {what}", **counts, error_model=model.to_dict())
    alpha = 1.0 - confidence
    short = ind.expect == "increase"
    window_conf = 1.0 - alpha / 2 if short else confidence  # alpha shared with the short-event test
    ts = series.copy()
    ts["count"] = ts["count"].round().astype(int)
    [cmp] = compare_windows(ts, baseline, test, window_conf)
    d, lo, hi = cmp.rate_difference, cmp.difference_low, cmp.difference_high
    r, r_lo, r_hi = _recall_of(model)
    # false alarms are the detector's and the water's: alike in both windows, they cancel in the difference,
    # except where one window saw more water per acquisition: at the worst plausible rate that adds this many
    used = series[series["used"].astype(bool)]
    area = _area_per_acquisition(run, used, cls)
    a_b = float(area[used["window"] == "baseline"].mean())
    a_t = float(area[used["window"] == "test"].mean())
    base = used[used["window"] == "baseline"]
    f_hi = _worst_false_alarms(model, base["count"].to_numpy(dtype=float),
                               base["observed_fraction"].to_numpy(dtype=float), a_b) \
        if ind.spec.kind != "arrivals" else 0.0
    shift_up, shift_down = f_hi * max(a_t - a_b, 0.0), f_hi * max(a_b - a_t, 0.0)
    effect = d / r
    low = lo / (r_hi if lo >= 0 else r_lo)
    high = hi / (r_lo if hi >= 0 else r_hi)
    event = _short_event(series, alpha / 2, shift_up) if short else None
    seen = f"{d:+.2f} [{lo:+.2f}, {hi:+.2f}] detections"
    true = f"{effect:+.2f} [{low:+.2f}, {high:+.2f}] {unit}" if model.known else f"{unit} (in detections)"
    shown = f"change {seen} -> {true}" if model.known else f"change {seen} {unit}"
    if ind.expect == "increase":
        assert event is not None
        window_sig = lo > shift_up
        if (window_sig or event.significant) and effect >= ind.min_effect:
            why = "window comparison" if window_sig else event.text()
            verdict, reason = "supported", f"{shown}: at least the claimed {ind.min_effect:g} ({why})"
        elif hi + shift_down < r_lo * ind.min_effect and not event.significant:
            verdict, reason = "contradicted", (f"{shown}: an increase of {ind.min_effect:g} or more is ruled out "
                                               f"even at recall {r_lo:.2f}")
        elif (lo > 0 or event.significant) and effect >= ind.min_effect and shift_up > 0:
            verdict, reason = "inconclusive", (f"{shown}: false alarms at their worst plausible rate on the test "
                                               f"window's extra water ({shift_up:.2g} per acquisition) could "
                                               "explain it")
        elif lo > 0 or event.significant:
            verdict, reason = "inconclusive", f"{shown}: an increase, but less than the claimed {ind.min_effect:g}"
        else:
            verdict, reason = "inconclusive", (f"{shown}: within noise of both no change and the claimed "
                                               f"{ind.min_effect:g}")
    else:
        if hi < -shift_down and -effect >= ind.min_effect:
            verdict, reason = "supported", f"{shown}: a decrease of at least the claimed {ind.min_effect:g}"
        elif lo - shift_up > -r_lo * ind.min_effect:
            verdict, reason = "contradicted", (f"{shown}: a decrease of {ind.min_effect:g} or more is ruled out "
                                               f"even at recall {r_lo:.2f}")
        else:
            verdict, reason = "inconclusive", (f"{shown}: within noise of both no change and the claimed "
                                               f"-{ind.min_effect:g}")
    note = ""
    seen_as = r_lo * ind.min_effect * (1 if ind.expect == "increase" else -1)
    if model.known and verdict != "supported" and r_lo < 1 and lo <= seen_as <= hi \
            and not (lo <= ind.min_effect * (1 if ind.expect == "increase" else -1) <= hi):
        note = (f"At recall as low as {r_lo:.2f} the claimed {ind.min_effect:g} {unit} would show as only "
                f"{abs(seen_as):.2g} detections per acquisition, inside this interval: recall alone could hide it.")
    if not model.known:
        reason += f"; {_error_text(model)}"
    method = (f"quasi-Poisson {what} (dispersion {cmp.dispersion:.2f}, baseline window), rate difference at "
              f"{window_conf:.1%}" + (f" + short-event test at alpha {alpha / 2:.3g}" if short else "")
              + ("; divided by recall over its interval" if model.known else ""))
    return SensorResult(
        sensor=sensor, verdict=verdict, reason=reason, effect=effect, ci_low=low, ci_high=high,
        baseline_value=cmp.baseline_rate, test_value=cmp.test_rate, method=method, **counts,
        confidence=window_conf, detections_effect=d, detections_low=lo, detections_high=hi,
        short_event=event.text() if event is not None else "", error_model=model.to_dict(), note=note,
    )


def _ground(ind: Indicator, run: RunData, claim_id: str, sensor: str) -> SensorResult:
    g = run.ground_change
    rows = g[(g["claim"].astype(str) == claim_id) & (g["aoi"] == ind.aoi) & (g["sensor"] == sensor)] if len(g) else g
    method = "pixel change between window composites (no interval)"
    if rows.empty:
        return SensorResult(sensor=sensor, verdict="inconclusive", method=method,
                            reason="ground change was not computed for this claim window (run `satwatch claims "
                                   "check` to compute it)")
    row = rows.iloc[0]
    nb, nt, area = int(row["baseline_scenes"]), int(row["test_scenes"]), float(row["area_m2"])
    base = dict(sensor=sensor, effect=area, baseline_used=nb, test_used=nt, method=method)
    if nb < MIN_USED or nt < MIN_USED:
        return SensorResult(verdict="inconclusive", reason=f"too few observed scenes in the composites: baseline "
                            f"{nb}, test {nt}; need {MIN_USED} each", **base)  # type: ignore[arg-type]
    small = 0.1 * ind.min_effect
    enough = nb >= 3 and nt >= 3
    found = f"{area:,.0f} m2 of ground change"
    if ind.expect in ("present", "increase"):
        if area >= ind.min_effect:
            verdict, reason = "supported", f"{found}, at least the claimed {ind.min_effect:,.0f} m2"
        elif area < small and enough:
            verdict, reason = "contradicted", f"only {found}, under a tenth of the claimed {ind.min_effect:,.0f} m2"
        else:
            verdict, reason = "inconclusive", f"{found}, less than the claimed {ind.min_effect:,.0f} m2"
    else:
        if area < small and enough:
            verdict, reason = "supported", f"only {found}"
        elif area >= ind.min_effect:
            verdict, reason = "contradicted", found
        else:
            verdict, reason = "inconclusive", found
    return SensorResult(verdict=verdict, reason=reason, **base)  # type: ignore[arg-type]


def _sensors_for(run: RunData, ind: Indicator) -> tuple[list[str], list[str]]:
    """(sensors to test, sensors of the AOI whose detector does not report the class)."""
    present = list(run.sensors_of(ind.aoi))
    if ind.sensor != "any":
        present = [s for s in present if s == ind.sensor]
    if ind.spec.kind == "pixel":
        return [s for s in present if s in ("s1", "s2")], []
    cls = ind.spec.cls or ""
    ok = [s for s in present if cls in run.classes_for(s)]
    return ok, [s for s in present if s not in ok]


def _limits(ind: Indicator, run: RunData, results: Sequence[SensorResult]) -> tuple[str, ...]:
    out: list[str] = []
    if ind.spec.cls == "vessel":
        for r in results:
            if math.isfinite(r.min_object_length_m):
                out.append(f"{r.sensor}: vessels shorter than about {r.min_object_length_m:.0f} m are not resolved")
        out.append("Sentinel-1 sees through cloud and at night; Sentinel-2 sees nothing under cloud.")
        if run.detector_name.startswith("baseline"):
            out.append(BERTH_LIMIT)
    if ind.spec.cls == "vehicle":
        out.append(VEHICLE_LIMIT)
    if ind.spec.cls == "encampment":
        out.append("Tents and camps show as textured patches at 10 m; single tents are at the limit of resolution.")
    if ind.spec.kind == "pixel":
        out.append(PIXEL_LIMIT)
    return tuple(out)


def _combine(results: Sequence[SensorResult]) -> tuple[str, str]:
    decisive = {r.verdict for r in results} - {"inconclusive"}
    if len(decisive) > 1:
        detail = "; ".join(f"{r.sensor} {r.verdict}" for r in results)
        return "inconclusive", f"sensors disagree ({detail})"
    if decisive:
        verdict = decisive.pop()
        r = max((r for r in results if r.verdict == verdict), key=lambda r: r.baseline_used + r.test_used)
        return verdict, f"{r.sensor}: {r.reason}"
    if not results:
        return "inconclusive", "nothing measured"
    r = max(results, key=lambda r: (r.baseline_used + r.test_used, r.sensor))
    return "inconclusive", f"{r.sensor}: {r.reason}"


def evaluate_indicator(run: RunData, claim: Claim, ind: Indicator, confidence: float,
                       min_observed: float = MIN_OBSERVED_FRACTION) -> IndicatorVerdict:
    """Test one indicator of ``claim`` on the run (see the module docstring for the rules)."""
    if not run.sensors_of(ind.aoi):
        return IndicatorVerdict(ind, "inconclusive", f"AOI {ind.aoi} is not covered by this run (no acquisitions)",
                                (), confidence)
    sensors, unmeasured = _sensors_for(run, ind)
    if not sensors:
        if unmeasured:
            classes = sorted({c for s in unmeasured for c in run.classes_for(s)})
            return IndicatorVerdict(
                ind, "inconclusive", f"not measured by detector {run.detector_name} "
                f"(reports {', '.join(classes) or 'nothing'} on {', '.join(unmeasured)}, not {ind.spec.cls})",
                (), confidence, _limits(ind, run, ()))
        return IndicatorVerdict(ind, "inconclusive", f"no {ind.sensor} acquisitions of {ind.aoi} in this run", (),
                                confidence)
    results: list[SensorResult] = []
    for sensor in sensors:
        kind = ind.spec.kind
        if kind == "pixel":
            results.append(_ground(ind, run, claim.id, sensor))
            continue
        if kind == "arrivals":
            series, _ = arrival_series(run, ind, sensor, claim.baseline, claim.test, min_observed)
        else:
            series = acquisition_series(run, ind, sensor, claim.baseline, claim.test, min_observed)
        if series.empty:
            results.append(SensorResult(sensor, "inconclusive", "no acquisitions inside the claim's windows"))
            continue
        if ind.measure == "large_vessel_presence":
            det = run.detections
            vessels = det[(det["aoi"] == ind.aoi) & (det["sensor"] == sensor) & (det["class"] == "vessel")]
            if len(vessels) and vessels["length_m"].isna().all():
                results.append(SensorResult(sensor, "inconclusive",
                                            f"detector {run.detector_name} does not measure vessel length"))
                continue
        if ind.expect in ("present", "absent"):
            results.append(_presence(ind, series, confidence, run))
        elif kind == "area":
            results.append(_welch(ind, series, confidence))
        else:
            what = "arrivals per week" if kind == "arrivals" else "rate per fully observed acquisition"
            results.append(_rates(ind, series, confidence, what, claim.baseline, claim.test, run))
    verdict, reason = _combine(results)
    if unmeasured:
        reason += f" (not measured on {', '.join(unmeasured)} by detector {run.detector_name})"
    iv = IndicatorVerdict(ind, verdict, reason, tuple(results), confidence, _limits(ind, run, results))
    main = iv.main
    if main is not None and ind.expect in ("increase", "decrease") and verdict == "supported":
        effect = main.effect if ind.expect == "increase" else -main.effect
        iv = IndicatorVerdict(ind, verdict, reason, tuple(results), confidence, iv.limits,
                              interpret_effect(ind.measure, effect))
    return iv


def _testable(run: RunData, ind: Indicator) -> int:
    if not run.sensors_of(ind.aoi):
        return 0
    return len(_sensors_for(run, ind)[0])


def evaluate_claim(run: RunData, claim: Claim, min_observed: float = MIN_OBSERVED_FRACTION) -> ClaimVerdict:
    """Test every indicator of ``claim`` on the run and combine them into the claim's verdict."""
    tests = max(1, sum(_testable(run, i) for i in claim.indicators))
    confidence = round(1.0 - FAMILY_ALPHA / tests, 6)
    indicators = tuple(evaluate_indicator(run, claim, i, confidence, min_observed) for i in claim.indicators)
    kinds = [iv.verdict for iv in indicators]
    n_sup, n_con = kinds.count("supported"), kinds.count("contradicted")
    if n_sup and not n_con:
        verdict, reason = "supported", f"{n_sup} of {len(kinds)} indicators support it and none contradicts it"
    elif n_con and not n_sup:
        verdict, reason = "contradicted", f"{n_con} of {len(kinds)} indicators contradict it and none supports it"
    elif n_sup and n_con:
        verdict, reason = "inconclusive", f"indicators disagree: {n_sup} support it, {n_con} contradict it"
    else:
        measured = sum(1 for iv in indicators if iv.sensors)
        verdict = "inconclusive"
        reason = (f"no indicator is decisive ({measured} of {len(kinds)} could be measured)" if measured
                  else "no indicator could be measured in this run")
    limits = [NATIONALITY_LIMIT]
    if "people" in claim.claimed or any(w in claim.statement.lower() for w in ("soldier", "troop", "forces")):
        limits.insert(0, PEOPLE_LIMIT)
    return ClaimVerdict(claim=claim, verdict=verdict, reason=reason, indicators=indicators, confidence=confidence,
                        tests=tests, simulated=run.simulated, limits=tuple(limits),
                        expected=tuple(expected_observables(claim.claimed)), min_observed=min_observed)


def evaluate_run(run_dir: str | Path | RunData, claims: Iterable[Claim],
                 min_observed: float = MIN_OBSERVED_FRACTION) -> list[ClaimVerdict]:
    """Verdicts of ``claims`` from the run folder alone (see the module docstring).

    Example:
        >>> verdicts = evaluate_run("data/outputs/<run-id>", [load_claims()["C05"]])  # doctest: +SKIP
        >>> verdicts[0].verdict  # doctest: +SKIP
        'supported'
    """
    run = run_dir if isinstance(run_dir, RunData) else load_run(run_dir)
    return [evaluate_claim(run, c, min_observed) for c in claims]


def verdicts_frame(verdicts: Sequence[ClaimVerdict]) -> pd.DataFrame:
    """``claims.csv``: one row per claim, indicator and sensor, plus one ``all`` row per indicator."""
    rows: list[dict[str, Any]] = []
    for cv in verdicts:
        for iv in cv.indicators:
            ind = iv.indicator
            common = {"claim": cv.claim.id, "claim_verdict": cv.verdict, "indicator": ind.label, "aoi": ind.aoi,
                      "measure": ind.measure, "expect": ind.expect, "min_effect": ind.min_effect,
                      "unit": ind.spec.unit, "confidence": iv.confidence, "simulated": cv.simulated}
            main = iv.main
            rows.append({**common, "sensor": "all", "verdict": iv.verdict, "reason": iv.reason,
                         **_numbers(main)})
            for s in iv.sensors:
                rows.append({**common, "sensor": s.sensor, "verdict": s.verdict, "reason": s.reason, **_numbers(s)})
    frame = pd.DataFrame(rows, columns=list(CLAIMS_CSV_COLUMNS))
    for col in ("baseline_used", "baseline_excluded", "test_used", "test_excluded"):
        frame[col] = frame[col].astype("Int64")
    return frame


_TEXT = ("method", "short_event", "note", "detector", "error_source")


def _numbers(s: SensorResult | None) -> dict[str, Any]:
    keys = ("effect", "ci_low", "ci_high", "baseline_value", "test_value", "baseline_used", "baseline_excluded",
            "test_used", "test_excluded", "method", "detections_effect", "detections_low", "detections_high",
            "short_event", "note")
    if s is None:
        return {k: (math.nan if k not in _TEXT else "") for k in (*keys, *CLAIMS_CSV_COLUMNS[-9:-2])}
    out = {k: getattr(s, k) for k in keys}
    m = s.error_model
    rec, fa = m.get("recall") or {}, m.get("false_alarms_per_km2") or {}
    out.update(detector=m.get("detector", ""), error_source=m.get("source", "unknown"), recall=rec.get("value"),
               recall_low=(rec.get("ci95") or [None, None])[0], recall_high=(rec.get("ci95") or [None, None])[1],
               false_alarms_per_km2=fa.get("value"), false_alarms_high=(fa.get("ci95") or [None, None])[1])
    for k, v in out.items():
        if k not in _TEXT and not isinstance(v, int):
            out[k] = round(float(v), 4) if v is not None and math.isfinite(float(v)) else math.nan
    return out


def write_claims_outputs(run_dir: str | Path, verdicts: Sequence[ClaimVerdict], claims_file: str | Path | None,
                         claims_sha256: str | None = None, record: dict[str, Any] | None = None) -> Path:
    """Write ``claims.json`` and ``claims.csv`` into the run folder (atomically); return ``claims.json``'s path.

    ``claims.json`` holds the run id, the simulated flag and notice, the claims file and its SHA-256, the claim
    definitions the verdicts were made with (``catalog``, enough for :func:`reproduce`) and every verdict.
    ``record``: the run's ``run.json`` content when held in memory (default: read from the folder, if there).
    """
    run = Path(run_dir)
    simulated = any(v.simulated for v in verdicts)
    if record is None:
        record = json.loads((run / "run.json").read_text(encoding="utf-8")) if (run / "run.json").is_file() else {}
    doc = {
        "run_id": run.name,
        "simulated": simulated,
        "notice": SIMULATED_CLAIMS_NOTICE if simulated else
        "Real imagery: each verdict holds only within the resolution limits and windows it states.",
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "detector": record.get("detector"),
        "claims_file": str(claims_file) if claims_file is not None else None,
        "claims_sha256": claims_sha256,
        "rules": {"min_used_per_window": MIN_USED, "min_hits": MIN_HITS, "min_used_absent": MIN_USED_ABSENT,
                  "family_alpha": FAMILY_ALPHA, "min_observed": verdicts[0].min_observed if verdicts else None},
        "catalog": {"claims": [v.claim.to_dict() for v in verdicts]},
        "claims": [v.to_dict() for v in verdicts],
    }
    write_csv(verdicts_frame(verdicts), run / "claims.csv")
    return write_json(doc, run / "claims.json")


def reproduce(run_dir: str | Path) -> list[ClaimVerdict]:
    """Make the verdicts of ``claims.json`` again from the run folder alone (claim definitions included).

    Raises:
        InputFileError: the run folder has no ``claims.json``.
    """
    run = Path(run_dir)
    path = run / "claims.json"
    if not path.is_file():
        raise InputFileError(f"{path} is missing; run `satwatch claims check` first")
    doc = json.loads(path.read_text(encoding="utf-8"))
    claims = parse_claims(doc["catalog"], str(path), check_conflicts=False)
    min_observed = float((doc.get("rules") or {}).get("min_observed") or MIN_OBSERVED_FRACTION)
    return evaluate_run(run, claims.values(), min_observed)
