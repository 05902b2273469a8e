"""The ``auto`` detector: per profile, the detector that scores best on that profile's real validation.

``satwatch detect``, ``satwatch run``, ``satwatch batch``, the claims check and every flow default to ``auto``. For
each scene it hands the work to the detector recorded as the default of the scene's profile (``s2``, ``s1``,
``vhr``) in the committed metrics file ``models/<profile>.metrics.json``, chosen there by the rule of
:func:`satwatch.detection.training.figures.choose_default` from real-imagery figures: never a detector that is
worse than the classical ``baseline`` on any real figure of its profile. A profile whose metrics file is missing or
of an older format falls back to ``baseline`` (a warning says so).

Each detection keeps the ``detector`` column of the detector that made it, so a mixed run says which one
found what; ``run.json`` records the choice per sensor with its real figures (:func:`detector_record`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from satwatch.detection.profiles import MODELS_DIR, PROFILES
from satwatch.detection.training.figures import load_metrics, real_figures, recorded_default
from satwatch.errors import DetectionError, InputFileError

if TYPE_CHECKING:
    import geopandas as gpd

    from satwatch.imagery.scene import Scene

__all__ = ["AutoDetector", "default_choices", "describe_defaults", "detector_record", "metrics_path"]

log = logging.getLogger(__name__)


def metrics_path(profile: str, models_dir: Path = MODELS_DIR) -> Path:
    """Return the committed metrics file of a profile: ``<models_dir>/<profile>.metrics.json``."""
    return models_dir / f"{profile}.metrics.json"


def _metrics(profile: str, models_dir: Path) -> dict[str, Any] | None:
    """Return the profile's metrics when its file is readable and current (records a default), else None."""
    path = metrics_path(profile, models_dir)
    if not path.is_file():
        return None
    try:
        metrics = load_metrics(path)
    except InputFileError:
        return None
    return metrics if recorded_default(metrics) else None


def _choices(models_dir: Path) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """Profile -> (default detector, its metrics or None): every metrics file read once."""
    out: dict[str, tuple[str, dict[str, Any] | None]] = {}
    for profile in PROFILES:
        metrics = _metrics(profile, models_dir)
        out[profile] = ((recorded_default(metrics) if metrics else None) or "baseline", metrics)
    return out


def default_choices(models_dir: Path = MODELS_DIR) -> dict[str, str]:
    """Profile -> registry name of its default detector (``baseline`` where no current metrics file says)."""
    return {profile: name for profile, (name, _) in _choices(models_dir).items()}


def detector_record(registry_name: str, sensors: tuple[str, ...], models_dir: Path = MODELS_DIR) -> dict[str, Any]:
    """Return what run.json says of the detector per sensor: which detector ran and its real-data figures.

    ``auto`` resolves to each profile's default (with the reason recorded for the choice); any other registry
    name is itself on every sensor. Figures come from the committed metrics files, with the match distance they
    were scored at (``match_distance_m``); a detector that keeps another's proposals untested at berths names it
    (``berth_false_alarms_from``) with that one's figures (``berth_real``). A detector without recorded figures for
    a profile gets ``"error": "unknown"`` (nothing is widened or guessed).
    """
    choices = _choices(models_dir)
    out: dict[str, Any] = {}
    for sensor in sensors:
        default, metrics = choices.get(sensor, ("baseline", None))
        name = default if registry_name == "auto" else registry_name
        entry: dict[str, Any] = {"detector": name}
        if registry_name == "auto":
            entry["reason"] = (metrics or {}).get("default", {}).get("reason", "no current metrics: baseline")
        figs = real_figures(metrics).get(name, []) if metrics else []
        entry["real"] = [f.to_dict() for f in figs]
        if not figs:
            entry["error"] = "unknown: no real-data figures recorded for this detector and profile"
        elif metrics:
            entry["match_distance_m"] = metrics.get("match_distance_m")
            source = ((metrics.get("detectors") or {}).get(name) or {}).get("berth_false_alarms_from")
            if source:  # within 60 m of a coast it keeps that detector's proposals untested
                entry["berth_false_alarms_from"] = source
                entry["berth_real"] = [f.to_dict() for f in real_figures(metrics).get(str(source), [])]
        out[sensor] = entry
    return out


def describe_defaults(models_dir: Path = MODELS_DIR) -> dict[str, Any]:
    """Per profile: the default detector, why, and its real figures (``satwatch detectors``)."""
    return detector_record("auto", tuple(PROFILES), models_dir)


class AutoDetector:
    """Dispatches each scene to its profile's default detector (see the module docstring).

    The detectors it hands work to are made by ``make``, which the registry gives it
    (:func:`satwatch.detection.detector.get_detector` with ``auto``), so this module needs nothing of the
    registry.

    Args:
        make: ``make(name)`` returns a new detector of that registry name, with the options it should have
            (the CNN's options, ``models_dir``).
        models_dir: folder of the weights and metrics files.

    Example:
        >>> from satwatch.detection.detector import get_detector
        >>> auto = get_detector("auto")  # an AutoDetector whose ``make`` is the registry's
    """

    def __init__(self, make: Callable[[str], Any], models_dir: Path = MODELS_DIR) -> None:
        self.make = make
        self.models_dir = models_dir
        choices = _choices(models_dir)
        self.choices = {profile: name for profile, (name, _) in choices.items()}
        for profile, (_, metrics) in choices.items():
            if metrics is None:
                log.warning("no readable real-data metrics for profile %s (%s): it falls back to the baseline "
                            "detector", profile, metrics_path(profile, models_dir))
        self._delegates: dict[str, Any] = {}
        self._name: str | None = None

    def delegate(self, sensor: str) -> Any:
        """Return the detector that handles scenes of ``sensor`` (created on first use, shared between profiles)."""
        if sensor not in self.choices:
            raise DetectionError(f"no detector profile for sensor {sensor!r}; profiles: {', '.join(self.choices)}")
        name = self.choices[sensor]
        if name not in self._delegates:
            self._delegates[name] = self.make(name)
        return self._delegates[name]

    @property
    def name(self) -> str:
        """``auto-`` + a digest of the per-profile choices and their detectors' names (changes with either)."""
        if self._name is None:
            parts = [f"{p}={self.delegate(p).name}" for p in sorted(self.choices)]
            self._name = "auto-" + hashlib.sha256(";".join(parts).encode()).hexdigest()[:10]
        return self._name

    @property
    def classes(self) -> tuple[str, ...]:
        """Every class some profile's default reports."""
        seen: list[str] = []
        for sensor in self.choices:
            seen.extend(c for c in self.classes_for(sensor) if c not in seen)
        return tuple(seen)

    def classes_for(self, sensor: str) -> tuple[str, ...]:
        """Classes reported on scenes of ``sensor``."""
        if sensor not in self.choices:
            return ()
        det = self.delegate(sensor)
        per_sensor: Callable[[str], tuple[str, ...]] | None = getattr(det, "classes_for", None)
        return per_sensor(sensor) if per_sensor is not None else tuple(det.classes)

    @property
    def precisions(self) -> dict[str, str]:
        """Precision per profile of the CNN profiles used so far (``fp32`` / ``int8``)."""
        out: dict[str, str] = {}
        for det in self._delegates.values():
            out.update(getattr(det, "precisions", {}))
        return out

    def detect(self, scene: Scene) -> gpd.GeoDataFrame:
        """Detect with the default detector of the scene's profile."""
        found: gpd.GeoDataFrame = self.delegate(scene.meta.sensor).detect(scene)
        return found

    def detect_file(self, path: str | Path) -> gpd.GeoDataFrame:
        """Detect in a scene file: windowed reads when the chosen detector has them, else one whole read."""
        from satwatch.imagery.scene import read_scene, read_scene_header

        det = self.delegate(read_scene_header(path).meta.sensor)
        detect_file = getattr(det, "detect_file", None)
        found: gpd.GeoDataFrame = detect_file(path) if detect_file is not None else det.detect(read_scene(path))
        return found
