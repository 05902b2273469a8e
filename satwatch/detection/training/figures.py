"""Each detector's measured figures per profile, with 95% intervals, and the default chosen from them.

A detector's quality is its figure on **real imagery it was not trained on**; simulated figures come second and
are labelled simulated. This module turns an :class:`~satwatch.detection.training.evaluate.Evaluation` of one
detector on one validation set into :class:`Figures` (precision, recall, F1, median per-scene count error, median
length error against AIS or labels, false alarms per km2 of observed water, each with a 95% interval), stores them
in the committed metrics file ``models/<profile>.metrics.json`` (format :data:`METRICS_FORMAT`) and applies the
default rule (:func:`choose_default`).

Intervals: percentile bootstrap over scenes (chips, ports or images are the resampling unit; 2,000 draws, fixed
seed), so the interval reflects how much a figure moves between scenes, not only between objects. With few
scenes (four held-out ports) the interval is wide, as it should be.

Which figures a set can give: a set whose labels are **exhaustive** (every object of the class labelled: the
sen2ships ports, the aerial vehicle images, the simulator) gives all of them; a set with one AIS ship labelled
per chip (EOTDL, OpenSARShip) gives recall and length error, and false alarms only on chips known to hold no
other ship (``negatives`` in :func:`figures_from_evaluation`); precision, F1 and count error are then unknown
(``None``), never guessed.

The default rule (:func:`choose_default`), per profile, on the real figures only: a detector is *eligible* when,
on every real set and every figure both it and ``baseline`` have, it is not measurably worse than ``baseline``:
its 95% interval does not lie wholly on the worse side of the baseline's value (higher is better for precision,
recall and F1; lower for count, length error and false alarms). Length error is compared on the objects both
detectors matched (:func:`paired_length_errors`: the interval of the paired difference must not lie wholly above
0) when that pairing was recorded. A difference inside the noise of a few dozen labelled ships is not counted
as worse; a point estimate that is worse is still reported in the reason. A set on which the baseline made no
detection at all (it cannot see the class: the classical detector finds vessels only) gives nothing to be worse
than, so it is not compared. Among
eligible detectors the default is the one with the best mean of its primary figures (F1 where known, else
recall) over the real sets; a tie on it (equal within rounding) goes to the detector measurably *better* than
``baseline`` on more real figures (its interval wholly on the better side of the baseline's value: the same
finding as at equal recall, with a fraction of the false alarms); between detectors still tied (a CNN and its
hybrid that re-measures the same detections), to the one whose point values beat the others' more often; and
``baseline`` wins any tie that remains, so a detector is never the default where it is worse than the classical
baseline on real data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from satwatch.errors import InputFileError

__all__ = [
    "BOOTSTRAP_DRAWS",
    "FIGURE_NAMES",
    "METRICS_FORMAT",
    "Estimate",
    "Figures",
    "SceneTally",
    "choose_default",
    "figures_from_tallies",
    "load_metrics",
    "paired_length_errors",
    "recorded_default",
]

METRICS_FORMAT = "satwatch-metrics-2"
"""Format tag of ``models/<profile>.metrics.json``."""
BOOTSTRAP_DRAWS = 2000
"""Bootstrap resamples of the scenes behind every interval."""
_SEED = 20261202
HIGHER_IS_BETTER = {"precision": True, "recall": True, "f1": True, "median_count_error": False,
                    "median_length_error_m": False, "false_alarms_per_km2": False}
"""Every figure name -> whether a higher value is better."""
FIGURE_NAMES = tuple(HIGHER_IS_BETTER)
"""The figures a validation set can give, in report order."""

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Estimate:
    """One figure with its 95% bootstrap interval."""

    value: float
    """Point estimate on all scenes (NaN: not measurable on this set)."""
    low: float
    """2.5th percentile over bootstrap resamples of the scenes."""
    high: float
    """97.5th percentile over bootstrap resamples of the scenes."""

    def to_dict(self) -> dict[str, Any]:
        """``{"value", "ci95": [low, high]}`` with NaN as None."""
        return {"value": _num(self.value), "ci95": [_num(self.low), _num(self.high)]}

    def text(self, digits: int = 2) -> str:
        """``0.79 [0.66, 0.90]`` or ``-`` when unknown."""
        if math.isnan(self.value):
            return "-"
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


@dataclass(frozen=True)
class SceneTally:
    """What one detector did on one validation scene, for one class."""

    scene_id: str
    """Scene (chip, port, image) id."""
    tp: int
    """Detections matched to a visible label."""
    fp: int
    """Unmatched detections that count as false alarms (0 where the scene's negatives are unknown)."""
    fn: int
    """Visible labels not matched."""
    length_errors_m: tuple[tuple[int, float], ...] = ()
    """``(label index, |detected - labelled length|)`` of the matched objects with a labelled length, metres."""
    water_km2: float = 0.0
    """Observed water (or land, for land classes) where false alarms were counted, km2 (0: not counted)."""
    negatives_known: bool = True
    """Whether every object of the class in the scene is labelled (so ``fp`` are false alarms)."""


@dataclass(frozen=True)
class Figures:
    """A detector's figures on one validation set and class."""

    dataset: str
    """Validation set name, e.g. ``sen2ships-holdout``, ``opensarship-val``."""
    cls: str
    """Class scored (``vessel``, ``vehicle``)."""
    real: bool
    """Real imagery (True) or simulated (False: a demonstration, never evidence)."""
    scenes: int
    """Scenes evaluated."""
    labels: int
    """Visible labelled objects."""
    detections: int
    """Detections counted (matched plus false alarms where negatives are known)."""
    estimates: Mapping[str, Estimate]
    """Figure name (:data:`FIGURE_NAMES`) -> estimate; NaN value where the set cannot measure it."""
    paired_length_m: tuple[float, float, int, float, float] | None = None
    """Against ``baseline`` on the objects both matched: ``(this detector's median length error, baseline's,
    objects, low, high)``, low/high the 95% interval of the difference of the two medians; None for ``baseline``
    itself or when not computed (see :func:`paired_length_errors`)."""

    def summary(self) -> str:
        """One line: the set, then each measurable figure with its interval (lengths in whole metres)."""
        parts = [f"{k} {est.text(0 if k.endswith('_m') else 2)}" for k, est in self.estimates.items()
                 if not math.isnan(est.value)]
        return f"{self.dataset} ({self.scenes} scenes, {self.labels} {self.cls}s): " + ", ".join(parts)

    def get(self, name: str) -> float:
        """Point estimate of one figure (NaN when unknown)."""
        est = self.estimates.get(name)
        return est.value if est is not None else math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in the metrics file)."""
        out = {"dataset": self.dataset, "class": self.cls, "real": self.real, "scenes": self.scenes,
               "labels": self.labels, "detections": self.detections,
               **{k: v.to_dict() for k, v in self.estimates.items()}}
        if self.paired_length_m is not None:
            mine, base, n, lo, hi = self.paired_length_m
            out["paired_length_error_m"] = {"detector": _num(mine), "baseline": _num(base), "objects": n,
                                            "difference_ci95": [_num(lo), _num(hi)]}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Figures:
        """Inverse of :meth:`to_dict`."""
        est = {}
        for name in FIGURE_NAMES:
            item = data.get(name)
            if isinstance(item, Mapping):
                lo, hi = item.get("ci95") or [None, None]
                est[name] = Estimate(_nan(item.get("value")), _nan(lo), _nan(hi))
        paired = data.get("paired_length_error_m")
        pair = None
        if isinstance(paired, Mapping):
            lo, hi = paired.get("difference_ci95") or [None, None]
            pair = (_nan(paired["detector"]), _nan(paired["baseline"]), int(paired["objects"]), _nan(lo), _nan(hi))
        return cls(dataset=str(data["dataset"]), cls=str(data["class"]), real=bool(data["real"]),
                   scenes=int(data["scenes"]), labels=int(data["labels"]), detections=int(data["detections"]),
                   estimates=est, paired_length_m=pair)


def _num(v: float) -> float | None:
    return None if v is None or math.isnan(v) else round(float(v), 4)


def _nan(v: Any) -> float:
    return math.nan if v is None else float(v)


def _figures(tp: F64, fp: F64, fn: F64, neg: F64, water: F64, lengths: Sequence[F64]) -> dict[str, float]:
    """Figures from per-scene arrays (one bootstrap draw or the point estimate)."""
    out: dict[str, float] = {}
    t, m = tp.sum(), fn.sum()
    out["recall"] = float(t / (t + m)) if t + m > 0 else math.nan
    if neg.all() and len(neg):
        f = fp.sum()
        out["precision"] = float(t / (t + f)) if t + f > 0 else math.nan
        out["f1"] = float(2 * t / (2 * t + f + m)) if t + f + m > 0 else math.nan
        labels = tp + fn
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.abs((tp + fp) - labels) / labels
        rel = rel[labels > 0]
        out["median_count_error"] = float(np.median(rel)) if len(rel) else math.nan
    else:
        out["precision"] = out["f1"] = out["median_count_error"] = math.nan
    area = water[neg.astype(bool)].sum()
    out["false_alarms_per_km2"] = float(fp[neg.astype(bool)].sum() / area) if area > 0 else math.nan
    pooled = np.concatenate(lengths) if lengths else np.zeros(0)
    out["median_length_error_m"] = float(np.median(pooled)) if len(pooled) else math.nan
    return out


def figures_from_tallies(tallies: Sequence[SceneTally], dataset: str, cls: str, real: bool,
                         draws: int = BOOTSTRAP_DRAWS) -> Figures:
    """Point estimates and 95% percentile-bootstrap intervals (scenes resampled) of every figure.

    Precision, F1 and count error are measured only when every scene's negatives are known; false alarms per
    km2 only over scenes whose negatives are known and whose ``water_km2`` is positive.

    Example:
        >>> f = figures_from_tallies([SceneTally("a", 8, 1, 2), SceneTally("b", 5, 0, 0)], "x", "vessel", True)
        >>> round(f.get("recall"), 3), round(f.get("f1"), 3)
        (0.867, 0.897)
    """
    tp = np.array([t.tp for t in tallies], dtype=np.float64)
    fp = np.array([t.fp for t in tallies], dtype=np.float64)
    fn = np.array([t.fn for t in tallies], dtype=np.float64)
    neg = np.array([t.negatives_known for t in tallies], dtype=np.float64)
    water = np.array([t.water_km2 for t in tallies], dtype=np.float64)
    lengths = [np.asarray([e for _, e in t.length_errors_m], dtype=np.float64) for t in tallies]
    point = _figures(tp, fp, fn, neg, water, lengths)
    rng = np.random.default_rng(_SEED)
    n = len(tallies)
    samples: dict[str, list[float]] = {k: [] for k in point}
    if n:
        for _ in range(draws):
            idx = rng.integers(0, n, n)
            drawn = _figures(tp[idx], fp[idx], fn[idx], neg[idx], water[idx], [lengths[i] for i in idx])
            for k, v in drawn.items():
                samples[k].append(v)
    est = {}
    for name in FIGURE_NAMES:
        vals = np.array([v for v in samples[name] if not math.isnan(v)])
        if math.isnan(point[name]) or not len(vals):
            est[name] = Estimate(point[name], math.nan, math.nan)
        else:
            est[name] = Estimate(point[name], float(np.percentile(vals, 2.5)), float(np.percentile(vals, 97.5)))
    detections = int(tp.sum() + fp[neg.astype(bool)].sum())
    return Figures(dataset=dataset, cls=cls, real=real, scenes=n, labels=int(tp.sum() + fn.sum()),
                   detections=detections, estimates=est)


def paired_length_errors(mine: Sequence[SceneTally], base: Sequence[SceneTally],
                         draws: int = BOOTSTRAP_DRAWS) -> tuple[float, float, int, float, float]:
    """Median length errors of two detectors over the labelled objects both matched (same scenes, same order).

    A detector that finds only the easy, isolated ships would otherwise look more accurate than one that also
    measures the hard ones: length error is compared object for object.

    Returns:
        ``(median mine, median base, objects, low, high)``: low/high bound the 95% bootstrap interval (objects
        resampled in pairs) of ``median mine - median base``; NaN and 0 objects when none is shared.
    """
    a: list[float] = []
    b: list[float] = []
    for tm, tb in zip(mine, base, strict=True):
        theirs = dict(tb.length_errors_m)
        for label, err in tm.length_errors_m:
            if label in theirs:
                a.append(err)
                b.append(theirs[label])
    if not a:
        return math.nan, math.nan, 0, math.nan, math.nan
    x, y = np.asarray(a), np.asarray(b)
    rng = np.random.default_rng(_SEED)
    idx = rng.integers(0, len(x), (draws, len(x)))
    diff = np.median(x[idx], axis=1) - np.median(y[idx], axis=1)
    return (float(np.median(x)), float(np.median(y)), len(a), float(np.percentile(diff, 2.5)),
            float(np.percentile(diff, 97.5)))


def _worse(f: Figures, base: Figures, name: str) -> tuple[bool, str]:
    """Whether ``f`` is measurably worse than ``base`` on one figure (module docstring), and a phrase saying so."""
    higher_better = HIGHER_IS_BETTER[name]
    if name == "median_length_error_m" and f.paired_length_m is not None and f.paired_length_m[2] > 0:
        mine, theirs, n, lo, _ = f.paired_length_m
        return lo > 0, f"{name} on {f.dataset} ({mine:.3g} vs {theirs:.3g} on {n} shared objects)"
    est, ref = f.estimates.get(name), base.get(name)
    if est is None or math.isnan(est.value) or math.isnan(ref):
        return False, ""
    low, high = (est.low, est.high) if not math.isnan(est.low) else (est.value, est.value)
    worse = high < ref if higher_better else low > ref
    return worse, f"{name} on {f.dataset} ({est.text(3)} vs {ref:.3g})"


def _better(f: Figures, base: Figures, name: str) -> tuple[bool, str]:
    """Whether ``f`` is measurably better than ``base`` on one figure (the mirror of :func:`_worse`)."""
    if name == "median_length_error_m" and f.paired_length_m is not None and f.paired_length_m[2] > 0:
        mine, theirs, n, _, hi = f.paired_length_m
        return hi < 0, f"{name} on {f.dataset} ({mine:.3g} vs {theirs:.3g} on {n} shared objects)"
    est, ref = f.estimates.get(name), base.get(name)
    if est is None or math.isnan(est.value) or math.isnan(ref) or math.isnan(est.low):
        return False, ""
    better = est.low > ref if HIGHER_IS_BETTER[name] else est.high < ref
    return better, f"{name} on {f.dataset} ({est.text(3)} vs {ref:.3g})"


def _point_wins(real: Mapping[str, Sequence[Figures]], name: str, rivals: Sequence[str]) -> int:
    """How many (rival, set, figure) point values of ``name`` are strictly better than a tied rival's."""
    wins = 0
    for rival in rivals:
        theirs = {(f.dataset, f.cls): f for f in real[rival]} if rival != name else {}
        for f in real[name]:
            other = theirs.get((f.dataset, f.cls))
            for key, higher in HIGHER_IS_BETTER.items():
                mine, ref = (f.get(key), other.get(key)) if other is not None else (math.nan, math.nan)
                if not (math.isnan(mine) or math.isnan(ref)) and (mine > ref if higher else mine < ref):
                    wins += 1
    return wins


def _primary(figs: Sequence[Figures]) -> float:
    vals = [f.get("f1") if not math.isnan(f.get("f1")) else f.get("recall") for f in figs]
    vals = [v for v in vals if not math.isnan(v)]
    return float(np.mean(vals)) if vals else -1.0


def choose_default(real: Mapping[str, Sequence[Figures]]) -> tuple[str, str]:
    """Apply the default rule (module docstring) to each detector's real figures.

    Args:
        real: detector name -> its figures on the profile's real validation sets (``baseline`` must be present).

    Returns:
        ``(detector, reason)``: the default and one sentence saying why.

    Example:
        >>> e = lambda v: Estimate(v, v, v)
        >>> base = [Figures("s", "vessel", True, 1, 10, 10, {"recall": e(0.8), "median_length_error_m": e(12.0)})]
        >>> cnn = [Figures("s", "vessel", True, 1, 10, 10, {"recall": e(0.6), "median_length_error_m": e(39.0)})]
        >>> choose_default({"baseline": base, "cnn": cnn})[0]
        'baseline'
    """
    if "baseline" not in real:
        raise ValueError("the default rule compares every detector with baseline: its figures are missing")
    base = {(f.dataset, f.cls): f for f in real["baseline"]}
    eligible: dict[str, float] = {}
    better: dict[str, list[str]] = {}
    refused: list[str] = []
    for name, figs in real.items():
        pairs = [(f, base[(f.dataset, f.cls)], k) for f in figs
                 if (f.dataset, f.cls) in base and base[(f.dataset, f.cls)].detections > 0
                 for k in HIGHER_IS_BETTER] if name != "baseline" else []
        worse = [phrase for bad, phrase in (_worse(*p) for p in pairs) if bad]
        if worse:
            refused.append(f"{name} is worse than baseline on {', '.join(worse)}")
        else:
            eligible[name] = _primary(figs)
            better[name] = [phrase for good, phrase in (_better(*p) for p in pairs) if good]
    top = max(eligible.values())
    tied = [n for n, v in eligible.items() if math.isclose(v, top, abs_tol=5e-4)]
    # a tie goes to the detector measurably better than baseline on more figures, then to the one whose point
    # values beat the other tied detectors' (not the baseline's) more often: the same detections, closer lengths;
    # baseline wins what still ties
    rivals = [n for n in tied if n != "baseline"]  # point values never unseat the baseline: only measured ones
    best_name = max(tied, key=lambda n: (len(better[n]), _point_wins(real, n, rivals) if n != "baseline" else 0,
                                         n == "baseline"))
    best = (best_name, eligible[best_name])
    reason = (f"{best[0]}: best real F1 (recall where F1 is not measurable) among detectors not measurably worse "
              f"than baseline on any real figure ({best[1]:.3f})")
    if best_name != "baseline" and len(tied) > 1:
        others = ", ".join(n for n in tied if n != best_name)
        reason += f", tied with {others} and measurably better on {', '.join(better[best_name])}"
    if refused:
        reason += "; " + "; ".join(refused)
    return best[0], reason


def load_metrics(path: Path) -> dict[str, Any]:
    """Read a metrics file (``models/<profile>.metrics.json``); raises :class:`InputFileError` if unreadable."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputFileError(f"cannot read detector metrics {path}: {exc}") from exc
    return data


def real_figures(metrics: Mapping[str, Any]) -> dict[str, list[Figures]]:
    """Detector name -> its real-data :class:`Figures` from a loaded metrics file."""
    out: dict[str, list[Figures]] = {}
    for name, entry in (metrics.get("detectors") or {}).items():
        out[name] = [Figures.from_dict(f) for f in entry.get("real", [])]
    return out


def recorded_default(metrics: Mapping[str, Any]) -> str | None:
    """Return the default recorded in a metrics file of :data:`METRICS_FORMAT`, or None (older or missing format)."""
    if metrics.get("format") != METRICS_FORMAT:
        return None
    default = metrics.get("default") or {}
    name = default.get("detector")
    return str(name) if name else None
