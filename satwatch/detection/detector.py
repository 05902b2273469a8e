"""The detector extension point: the :class:`Detector` protocol, the registry and :func:`detect_files`.

A detector turns one :class:`~satwatch.imagery.scene.Scene` into detections following the contract of
:mod:`satwatch.detection.detections` (GeoDataFrame, EPSG:4326). Detectors are looked up by name with
:func:`get_detector`; ``baseline`` is the classical CFAR / local-contrast vessel detector
(:mod:`satwatch.detection.models.baseline`), ``cnn`` the PyTorch detector (:mod:`satwatch.detection.models.cnn`)
and ``auto`` (the default) the best of them per profile on real validation data (:mod:`satwatch.detection.auto`),
which gets from the registry the function that makes its delegates (so ``auto`` never imports the registry).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import geopandas as gpd
import pandas as pd

from satwatch.detection.auto import AutoDetector
from satwatch.detection.detections import DETECTION_COLUMNS, concat_detections
from satwatch.detection.models.baseline import BaselineDetector
from satwatch.detection.profiles import MODELS_DIR
from satwatch.errors import InputFileError, UsageError
from satwatch.imagery.scene import Scene, read_scene, read_scene_header, unique_scene_ids

__all__ = [
    "CNN_OPTION_DETECTORS", "DETECTORS", "Detector", "default_detector", "detect_files", "detect_path", "get_detector",
    "with_source",
]


@runtime_checkable
class Detector(Protocol):
    """Finds objects in a scene."""

    @property
    def name(self) -> str:
        """Name and version, written to each detection's ``detector`` column (e.g. ``baseline-cfar-1``)."""
        ...

    @property
    def classes(self) -> tuple[str, ...]:
        """Classes the detector can report (``vessel``, ``vehicle``, ``encampment``); counts cover only these."""
        ...

    def detect(self, scene: Scene) -> gpd.GeoDataFrame:
        """Return the objects found in ``scene`` as a detections GeoDataFrame (EPSG:4326, contract columns)."""
        ...


def _cnn(**options: Any) -> Detector:
    from satwatch.detection.models.cnn import CnnDetector

    return CnnDetector(**options)


def _baseline(**options: Any) -> Detector:
    return BaselineDetector()


def _cnn_extent(**options: Any) -> Detector:
    from satwatch.detection.models.hybrid import ExtentDetector

    return ExtentDetector(**options)


def _cfar_cnn(**options: Any) -> Detector:
    from satwatch.detection.models.hybrid import ConfirmedCfarDetector

    return ConfirmedCfarDetector(**options)


def _cnn_cfar(**options: Any) -> Detector:
    from satwatch.detection.models.hybrid import CfarCheckedCnnDetector

    return CfarCheckedCnnDetector(**options)


def _auto(models_dir: Path = MODELS_DIR, **cnn_options: Any) -> Detector:
    """Return the ``auto`` detector, which makes its delegates through this registry.

    A delegate that takes the CNN's options (:data:`CNN_OPTION_DETECTORS`) gets ``cnn_options`` and
    ``models_dir``; any other is made without options.
    """

    def make(name: str) -> Detector:
        if name in CNN_OPTION_DETECTORS:
            return get_detector(name, **{**cnn_options, "models_dir": models_dir})
        return get_detector(name)

    return AutoDetector(make, models_dir)


DETECTORS: dict[str, Callable[..., Detector]] = {"auto": _auto, "baseline": _baseline, "cnn": _cnn,
                                                 "cnn-extent": _cnn_extent, "cfar-cnn": _cfar_cnn,
                                                 "cnn-cfar": _cnn_cfar}
"""Registry: detector name -> factory taking keyword options (those of :data:`CNN_OPTION_DETECTORS`: device,
batch_size, precision, progress, models_dir)."""
CNN_OPTION_DETECTORS = ("auto", "cnn", "cnn-extent", "cfar-cnn", "cnn-cfar")
"""Detectors that take the CNN's options (device, batch size, precision, progress)."""


def default_detector() -> str:
    """``auto``: per profile, the detector with the best real-data figures (:mod:`satwatch.detection.auto`)."""
    return "auto"


def get_detector(name: str, **options: Any) -> Detector:
    """Return a new detector by registry name (``options`` go to its factory).

    Raises:
        UsageError: ``name`` is not registered (the message lists the choices).

    Example:
        >>> get_detector("baseline").name
        'baseline-cfar-1'
    """
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise UsageError(f"unknown detector {name!r}; choose one of: {', '.join(sorted(DETECTORS))}") from None
    return factory(**options)


def detect_path(detector: Detector, path: str | Path, scene: Scene | None = None) -> gpd.GeoDataFrame:
    """Detect objects in one scene file.

    A detector with a ``detect_file`` method (the CNN) reads the file itself in windows, so memory stays bounded;
    any other gets the whole scene: ``scene`` when the caller has already read it, else the file read once.
    ``auto`` hands the work to its profile's default first (so ``cnn-cfar`` gets the caller's scene, and what it
    derives from the pixels, :attr:`Scene.derived`, is there for observability too).
    """
    delegate = getattr(detector, "delegate", None)
    if callable(delegate):
        sensor = scene.meta.sensor if scene is not None else read_scene_header(path).meta.sensor
        detector = delegate(sensor)
    detect_file = getattr(detector, "detect_file", None)
    if detect_file is not None:
        found: gpd.GeoDataFrame = detect_file(path)
        return found
    return detector.detect(scene if scene is not None else read_scene(path))


def with_source(detections: gpd.GeoDataFrame, scene_id: str, path: str | Path) -> gpd.GeoDataFrame:
    """Return ``detections`` with ``scene_id`` and a ``source_file`` column (the absolute path) on every row."""
    out = detections.copy()
    out["scene_id"] = pd.Series([scene_id] * len(out), index=out.index, dtype="str")
    out["source_file"] = pd.Series([str(Path(path).resolve())] * len(out), index=out.index, dtype="str")
    return out


def detect_files(
    paths: Iterable[str | Path],
    detector: str | Detector = "baseline",
    progress: Callable[[int, int, Path], None] | None = None,
) -> gpd.GeoDataFrame:
    """Run a detector over scene files and return all detections in one frame (EPSG:4326).

    Scenes are read one at a time (:func:`~satwatch.imagery.scene.read_scene`), so memory holds one scene.
    The detector name, every path and every file's header are checked before the first scene is read. Each
    detection names its scene uniquely (:func:`~satwatch.imagery.scene.unique_scene_ids`: files that share a
    tagged scene id get their file stem added) and its file in an extra ``source_file`` column (absolute path).

    Args:
        paths: scene GeoTIFFs following the scene file contract.
        detector: registry name or a :class:`Detector` instance.
        progress: called after each scene with ``(done, total, path)``.

    Raises:
        UsageError: unknown detector name.
        InputFileError: a file does not exist.
        SceneFormatError: a file is not a satwatch scene.
        DetectionError: the detector cannot handle a scene (sensor, missing bands).

    Example:
        >>> detections = detect_files(["data/archive/ru_dunai/s1/20241008T015230.tif"])  # doctest: +SKIP
    """
    det = get_detector(detector) if isinstance(detector, str) else detector
    files = [Path(p) for p in paths]
    for path in files:
        if not path.is_file():
            raise InputFileError(f"scene file {path} does not exist")
    scene_ids = unique_scene_ids([read_scene_header(p) for p in files])
    frames = []
    for i, (path, scene_id) in enumerate(zip(files, scene_ids, strict=True), start=1):
        frames.append(with_source(detect_path(det, path), scene_id, path))
        if progress is not None:
            progress(i, len(files), path)
    detections = concat_detections(frames)  # keeps the contract's columns only: source_file is added back
    sources = {scene_id: str(path.resolve()) for path, scene_id in zip(files, scene_ids, strict=True)}
    detections.insert(len(DETECTION_COLUMNS), "source_file",
                      pd.Series([sources[i] for i in detections["scene_id"]], index=detections.index, dtype="str"))
    return detections
