"""Each detector's measured error per profile and class, and true counts estimated from detections.

A count of detections is not the number of objects: on real imagery the Sentinel-2 default finds about half the
ships berthed in a port and raises false alarms besides. :class:`ErrorModel` holds what the committed metrics
files (``models/<profile>.metrics.json``, :mod:`satwatch.detection.training.figures`) measured for one detector, profile
and class: **recall** and **false alarms per km2** of observed water (vessels) or land (other classes), each an
:class:`~satwatch.detection.training.figures.Estimate` with its 95% interval, and where they come from (``source``):

- ``real``: the detector's validation on real imagery it was not trained on. The point value is the first real
  set that measures both recall and false alarms (the exhaustively labelled ports or images); the recall
  interval spans every real set of the class (lowest low to highest high), because a user's imagery may look
  like any of them.
- ``simulated``: no real figures for the class, only the simulator's (recall with a Clopper-Pearson interval
  from the recorded matches; false alarms per km2 are not recorded there, so unknown). Labelled simulated.
- ``unknown``: no figures at all (a user's own detector, weights other than those validated, a class nobody
  measured). Nothing is corrected or widened silently: estimates are left empty and verdicts say so.

:func:`estimate_true` turns detections into an estimate of the true number (``docs/change.md``)::

    true = max(0, (detections - false_alarms_per_km2 x area_km2) / recall)

A detector that keeps untested proposals at berths (``cnn-cfar``: within 60 m of a coast a CFAR cannot tell a
hull from its quay) has a second rate, :attr:`ErrorModel.berth_false_alarms_per_km2`: that of the detector whose
proposals it keeps there (its metrics entry names it, ``berth_false_alarms_from``), applied to the observed
water within 60 m of a coast (``observed_berth_km2``); the first rate applies to the rest of the water. No real
labelled Sentinel-1 port exists to measure the berth rate itself, so it is the proposing CNN's open-sea rate,
and the model's note says so.

with a 95% interval by simulation: recall drawn within its interval (logit-normal), the false-alarm rate
likewise (gamma), the false alarms of the scene as Poisson noise on that rate, and the objects missed given the
true detections as negative-binomial noise (each present object detected with the drawn recall).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from satwatch.detection.profiles import MODELS_DIR
from satwatch.detection.training.figures import Estimate, Figures, load_metrics
from satwatch.errors import InputFileError

__all__ = [
    "DRAWS",
    "SOURCES",
    "ErrorModel",
    "detector_versions",
    "error_model",
    "error_models",
    "estimate_true",
    "models_from_record",
    "unknown_model",
]

DRAWS = 4000
"""Monte Carlo draws behind every estimated-count interval."""
SOURCES = ("real", "simulated", "unknown")
"""Where an error model's figures come from."""
_SEED = 20261215
_NAN = Estimate(math.nan, math.nan, math.nan)
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ErrorModel:
    """What a detector gets wrong on one profile (sensor) and class, measured with 95% intervals."""

    detector: str
    """Registry name of the detector (``baseline``, ``cnn``, ``cnn-extent``, ...; never ``auto``)."""
    version: str
    """Name and version the figures were measured with (``cnn-c7cd5c7f29+extent-1``); empty when unknown."""
    profile: str
    """Sensor profile: ``s2``, ``s1`` or ``vhr``."""
    cls: str
    """Object class: ``vessel``, ``vehicle`` or ``encampment``."""
    recall: Estimate
    """Share of present objects detected (NaN when unknown)."""
    false_alarms_per_km2: Estimate
    """False alarms per km2 of observed water (vessels) or land (other classes) (NaN when unknown)."""
    source: str
    """``real``, ``simulated`` or ``unknown`` (:data:`SOURCES`)."""
    dataset: str = ""
    """Validation set(s) the figures come from."""
    note: str = ""
    """Why the figures are unknown or partial, in one sentence (empty when complete)."""
    berth_false_alarms_per_km2: Estimate = _NAN
    """False alarms per km2 of observed water within 60 m of a coast, where the detector keeps another's
    proposals untested (``cnn-cfar``); NaN: one rate, :attr:`false_alarms_per_km2`, applies to all water."""

    @property
    def known(self) -> bool:
        """True when a recall above zero is known (estimates and corrections are possible)."""
        return math.isfinite(self.recall.value) and self.recall.value > 0

    @property
    def recall_range(self) -> tuple[float, float]:
        """``(low, high)`` plausible recall (the 95% interval; the point value twice when no interval)."""
        r = self.recall
        lo = r.low if math.isfinite(r.low) else r.value
        hi = r.high if math.isfinite(r.high) else r.value
        return max(min(lo, r.value), 1e-3), min(max(hi, r.value), 1.0)

    @property
    def false_alarm_range(self) -> tuple[float, float]:
        """``(point, worst)`` false alarms per km2 (0 when unknown: read :attr:`note`)."""
        f = self.false_alarms_per_km2
        if not math.isfinite(f.value):
            return 0.0, 0.0
        hi = f.high if math.isfinite(f.high) else f.value
        return f.value, max(hi, f.value)

    def at_berth_share(self, share: float) -> ErrorModel:
        """Return this model with one false-alarm rate for water of which ``share`` (0..1) lies at berths.

        The rate (and each end of its interval) is ``(1 - share) x`` :attr:`false_alarms_per_km2` ``+ share x``
        :attr:`berth_false_alarms_per_km2`; the model itself when it has no berth rate or ``share`` is not
        positive.
        """
        b = self.berth_false_alarms_per_km2
        if not (math.isfinite(b.value) and math.isfinite(share) and share > 0):
            return self
        s = min(share, 1.0)
        f = self.false_alarms_per_km2
        f_lo, f_hi = (f.low if math.isfinite(f.low) else f.value), (f.high if math.isfinite(f.high) else f.value)
        b_lo, b_hi = (b.low if math.isfinite(b.low) else b.value), (b.high if math.isfinite(b.high) else b.value)
        mixed = Estimate((1 - s) * f.value + s * b.value, (1 - s) * f_lo + s * b_lo, (1 - s) * f_hi + s * b_hi)
        return replace(self, false_alarms_per_km2=mixed, berth_false_alarms_per_km2=_NAN)

    def text(self) -> str:
        """One line: ``cnn-extent on s2 vessel (real, sen2ships-holdout): recall 0.49 [0.26, 0.69], ...``."""
        if self.source == "unknown":
            return f"{self.detector} on {self.profile} {self.cls}: error unknown ({self.note})"
        fa = self.false_alarms_per_km2.text(2)
        berth = (f" ({self.berth_false_alarms_per_km2.text(2)} within 60 m of a coast)"
                 if math.isfinite(self.berth_false_alarms_per_km2.value) else "")
        return (f"{self.detector} on {self.profile} {self.cls} ({self.source}, {self.dataset}): recall "
                f"{self.recall.text(2)}, false alarms {fa if fa != '-' else 'unknown'} per km2{berth}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``run.json``, ``claims.json``)."""
        return {"detector": self.detector, "version": self.version, "profile": self.profile, "class": self.cls,
                "source": self.source, "dataset": self.dataset, "recall": self.recall.to_dict(),
                "false_alarms_per_km2": self.false_alarms_per_km2.to_dict(), "note": self.note,
                "berth_false_alarms_per_km2": self.berth_false_alarms_per_km2.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ErrorModel:
        """Inverse of :meth:`to_dict`."""
        def est(item: Any) -> Estimate:
            if not isinstance(item, Mapping):
                return _NAN
            lo, hi = item.get("ci95") or [None, None]
            return Estimate(*(math.nan if v is None else float(v) for v in (item.get("value"), lo, hi)))

        return cls(detector=str(data.get("detector", "")), version=str(data.get("version", "")),
                   profile=str(data.get("profile", "")), cls=str(data.get("class", "")),
                   recall=est(data.get("recall")), false_alarms_per_km2=est(data.get("false_alarms_per_km2")),
                   source=str(data.get("source", "unknown")), dataset=str(data.get("dataset", "")),
                   note=str(data.get("note", "")),
                   berth_false_alarms_per_km2=est(data.get("berth_false_alarms_per_km2")))


def unknown_model(detector: str, profile: str, cls: str, note: str, version: str = "") -> ErrorModel:
    """Return an error model that says the error is unknown, and why."""
    return ErrorModel(detector, version, profile, cls, _NAN, _NAN, "unknown", "", note)


def _metrics(profile: str, models_dir: Path) -> dict[str, Any] | None:
    path = models_dir / f"{profile}.metrics.json"
    if not path.is_file():
        return None
    try:
        return load_metrics(path)
    except InputFileError:
        return None


def _resolve(detector: str, metrics: Mapping[str, Any]) -> str | None:
    """Registry name of ``detector`` (registry or versioned name, ``auto``) in a metrics file, or None."""
    entries = metrics.get("detectors") or {}
    if detector == "auto" or detector.startswith("auto-"):
        name = (metrics.get("default") or {}).get("detector")
        return str(name) if name else None
    if detector in entries:
        return detector
    for name, entry in entries.items():
        if str(entry.get("name", "")) == detector:
            return str(name)
    return None


def _from_real(figs: Sequence[Figures]) -> tuple[Estimate, Estimate, str] | None:
    with_recall = [f for f in figs if math.isfinite(f.get("recall"))]
    if not with_recall:
        return None
    both = [f for f in with_recall if math.isfinite(f.get("false_alarms_per_km2"))]
    primary = (both or with_recall)[0]
    rec = primary.estimates["recall"]
    lows = [f.estimates["recall"].low for f in with_recall if math.isfinite(f.estimates["recall"].low)]
    highs = [f.estimates["recall"].high for f in with_recall if math.isfinite(f.estimates["recall"].high)]
    recall = Estimate(rec.value, min([*lows, rec.value]), max([*highs, rec.value]))
    fa = primary.estimates.get("false_alarms_per_km2", _NAN) if both else _NAN
    names = ", ".join(f.dataset for f in with_recall)
    return recall, fa, names


def _berth_rate(entry: Mapping[str, Any], metrics: Mapping[str, Any], cls: str) -> tuple[Estimate, str]:
    """Return the false alarms per km2 at berths of a detector that keeps another's proposals there, and a note."""
    source = entry.get("berth_false_alarms_from")
    if not source:
        return _NAN, ""
    other = (metrics.get("detectors") or {}).get(str(source)) or {}
    real = _from_real([Figures.from_dict(f) for f in other.get("real", []) if f.get("class") == cls])
    if real is None or not math.isfinite(real[1].value):
        return _NAN, f"within 60 m of a coast it keeps {source}'s proposals untested, whose false alarms are unknown"
    return real[1], (f"within 60 m of a coast it keeps {source}'s proposals untested: {source}'s false-alarm rate "
                     "applies there, measured on open sea (no real labelled Sentinel-1 port measures it at a quay)")


def _from_simulated(entry: Mapping[str, Any], cls: str) -> Estimate | None:
    sim = entry.get("simulated") or {}
    if not sim.get("simulated"):
        return None
    for row in sim.get("per_class") or []:
        if row.get("class") == cls:
            tp, fn = int(row.get("tp") or 0), int(row.get("fn") or 0)
            if tp + fn == 0:
                return None
            lo = float(stats.beta.ppf(0.025, tp, fn + 1)) if tp > 0 else 0.0
            hi = float(stats.beta.ppf(0.975, tp + 1, fn)) if fn > 0 else 1.0
            return Estimate(tp / (tp + fn), lo, hi)
    return None


def error_model(detector: str, profile: str, cls: str, version: str | None = None,
                models_dir: Path = MODELS_DIR) -> ErrorModel:
    """Return the error model of ``detector`` on ``profile`` and ``cls`` from the committed metrics files.

    Args:
        detector: registry name (``cnn-extent``, ``baseline``, ``auto``: the profile's default) or the versioned
            name a run records (``baseline-cfar-1``).
        profile: ``s2``, ``s1`` or ``vhr``.
        cls: object class.
        version: name and version of the detector that actually ran on this profile; when it differs from the
            one the figures were measured with (other weights), the error is unknown.
        models_dir: folder of the metrics files.

    Example:
        >>> m = error_model("baseline", "s1", "vessel")
        >>> m.source, round(m.recall.value, 2)
        ('real', 0.65)
    """
    metrics = _metrics(profile, models_dir)
    if metrics is None:
        return unknown_model(detector, profile, cls, f"no readable metrics file for profile {profile}")
    name = _resolve(detector, metrics)
    if name is None:
        return unknown_model(detector, profile, cls, f"{detector} has no recorded figures on {profile}")
    entry = (metrics.get("detectors") or {})[name]
    measured = str(entry.get("name", ""))
    if version and measured and version != measured and not version.startswith("auto-"):
        return unknown_model(name, profile, cls, f"the detector that ran ({version}) is not the one validated "
                             f"({measured}): its figures do not apply", version)
    figs = [Figures.from_dict(f) for f in entry.get("real", []) if f.get("class") == cls]
    real = _from_real(figs)
    if real is not None:
        recall, fa, names = real
        note = "" if math.isfinite(fa.value) else "false alarms per km2 not measured on the real sets"
        berth, berth_note = _berth_rate(entry, metrics, cls)
        note = "; ".join(n for n in (note, berth_note) if n)
        return ErrorModel(name, measured, profile, cls, recall, fa, "real", names, note, berth)
    sim = _from_simulated(entry, cls)
    if sim is not None:
        return ErrorModel(name, measured, profile, cls, sim, _NAN, "simulated", "simulated validation scenes",
                          "no real-data figures for this class: simulated recall, false alarms unknown")
    return unknown_model(name, profile, cls, f"no real or simulated figures for {cls} on {profile}", measured)


def error_models(detector: str, classes_by_sensor: Mapping[str, Sequence[str]],
                 versions: Mapping[str, str] | None = None,
                 models_dir: Path = MODELS_DIR) -> dict[tuple[str, str], ErrorModel]:
    """Return ``(sensor, class) -> ErrorModel`` for every class the detector reports on each sensor.

    ``versions`` maps a sensor to the versioned name of the detector that ran on it (``detector.name``, or for
    ``auto`` its delegate's name), used to refuse figures measured with other weights.
    """
    out: dict[tuple[str, str], ErrorModel] = {}
    for sensor, classes in classes_by_sensor.items():
        for cls in classes:
            out[(sensor, cls)] = error_model(detector, sensor, cls, (versions or {}).get(sensor), models_dir)
    return out


def detector_versions(detector: Any, sensors: Sequence[str]) -> dict[str, str]:
    """Sensor -> versioned name of the detector object that runs on it (``auto``: each profile's delegate)."""
    delegate = getattr(detector, "delegate", None)
    out: dict[str, str] = {}
    for sensor in sensors:
        try:
            out[sensor] = str(delegate(sensor).name) if delegate is not None else str(detector.name)
        except Exception:  # a profile the detector cannot run: no version, figures by name only
            continue
    return out


def models_from_record(record: Mapping[str, Any], models_dir: Path = MODELS_DIR) -> dict[tuple[str, str],
                                                                                     ErrorModel]:
    """Error models of a run, from its ``run.json`` alone when it stores them.

    ``detector.error_models`` (written since issue 15) is read as stored, so verdicts made again from a copied
    run folder use the figures the run was made with. Older run folders get them from the metrics files, by
    the detector recorded per sensor (``detector.by_sensor``) or the detector's name.
    """
    det = record.get("detector") or {}
    stored = det.get("error_models")
    if isinstance(stored, list):
        models = [ErrorModel.from_dict(m) for m in stored if isinstance(m, Mapping)]
        return {(m.profile, m.cls): m for m in models}
    by_sensor = det.get("classes_by_sensor")
    if not isinstance(by_sensor, Mapping):
        sensors = (record.get("parameters") or {}).get("sensors") or ["s2", "s1", "vhr"]
        by_sensor = {s: det.get("classes", ()) for s in sensors}
    found = det.get("by_sensor")
    records: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    fallback = str(det.get("name") or (record.get("parameters") or {}).get("detector") or "unknown")
    out: dict[tuple[str, str], ErrorModel] = {}
    for sensor, classes in by_sensor.items():
        name = str((records.get(sensor) or {}).get("detector") or fallback)
        for cls in classes:
            out[(str(sensor), str(cls))] = error_model(name, str(sensor), str(cls), models_dir=models_dir)
    return out


def _recall_draws(model: ErrorModel, n: int, rng: np.random.Generator) -> F64:
    """Draw recall logit-normal: median at the point value, 95% of draws inside the interval."""
    lo, hi = model.recall_range
    value = min(max(model.recall.value, 1e-3), 0.999)

    def logit(p: float) -> float:
        p = min(max(p, 1e-3), 0.999)
        return math.log(p / (1 - p))

    sd = max(logit(hi) - logit(value), logit(value) - logit(lo), 1e-6) / 1.96
    z = rng.normal(logit(value), sd, n)
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def _fa_draws(f: Estimate, n: int, rng: np.random.Generator) -> F64:
    """Draw false alarms per km2 from a gamma of the point value's mean and the interval's spread (0: unknown)."""
    if not math.isfinite(f.value):
        return np.zeros(n)
    hi = f.high if math.isfinite(f.high) else f.value
    lo = f.low if math.isfinite(f.low) else f.value
    if f.value <= 0:
        return rng.exponential(hi / 3.69, n) if hi > 0 else np.zeros(n)  # 97.5% of draws under hi
    sd = max((hi - lo) / 3.92, 1e-9)
    shape = (f.value / sd) ** 2
    return np.asarray(rng.gamma(shape, f.value / shape, n), dtype=np.float64)


def estimate_true(detections: Sequence[float] | F64, area_km2: Sequence[float] | F64, model: ErrorModel,
                  draws: int = DRAWS, seed: int = _SEED,
                  berth_km2: Sequence[float] | F64 | None = None) -> tuple[F64, F64, F64]:
    """Estimate the true number of objects behind each count of detections, with its 95% interval.

    Args:
        detections: detections per scene (one value per row).
        area_km2: observed water (vessels) or land (other classes) per scene, km2 (NaN or 0: no false alarms
            subtracted).
        model: the detector's error model for the rows' profile and class.
        berth_km2: the part of ``area_km2`` within 60 m of a coast per scene, km2 (NaN: none), where
            :attr:`ErrorModel.berth_false_alarms_per_km2` applies when the model has one.
        draws: Monte Carlo draws.
        seed: random seed (estimates are reproducible).

    Returns:
        ``(estimate, low, high)`` arrays: ``max(0, (n - fa x area) / recall)`` at the point figures and the
        2.5th/97.5th percentiles of the simulated true numbers (module docstring); all NaN when the model is not
        :attr:`~ErrorModel.known`.

    Example:
        >>> m = ErrorModel("x", "x-1", "s1", "vessel", Estimate(0.5, 0.4, 0.6), Estimate(0.0, 0.0, 0.0), "real")
        >>> est, lo, hi = estimate_true([10], [0.0], m)
        >>> float(est[0]), bool(lo[0] < 20 < hi[0])
        (20.0, True)
    """
    n = np.asarray(detections, dtype=np.float64)
    area = np.nan_to_num(np.asarray(area_km2, dtype=np.float64), nan=0.0).clip(min=0.0)
    if not model.known or not len(n):
        nan = np.full(len(n), np.nan)
        return nan, nan.copy(), nan.copy()
    berth = np.zeros_like(area)
    if berth_km2 is not None and math.isfinite(model.berth_false_alarms_per_km2.value):
        berth = np.minimum(np.nan_to_num(np.asarray(berth_km2, dtype=np.float64), nan=0.0).clip(min=0.0), area)
    f_point, _ = model.false_alarm_range
    fb_point = model.berth_false_alarms_per_km2.value if berth.any() else 0.0
    point = np.maximum(0.0, (n - f_point * (area - berth) - fb_point * berth) / model.recall.value)
    rng = np.random.default_rng(seed)
    r = _recall_draws(model, draws, rng)[None, :]
    f = _fa_draws(model.false_alarms_per_km2, draws, rng)[None, :]
    fb = _fa_draws(model.berth_false_alarms_per_km2, draws, rng)[None, :] if berth.any() else 0.0
    false_alarms = rng.poisson(f * (area - berth)[:, None] + fb * berth[:, None])
    hits = np.maximum(n[:, None] - false_alarms, 0.0)
    missed = rng.negative_binomial(hits + 1.0, r)  # objects missed before the last of `hits` detections
    true = hits + missed
    low = np.minimum(np.percentile(true, 2.5, axis=1), point)
    high = np.maximum(np.percentile(true, 97.5, axis=1), point)
    return point, low, high
