"""The *scene* stage: one acquisition to a :class:`SceneResult` (or an :class:`ExcludedScene`), written once.

:func:`detect_scene` is the one per-scene detection step every caller goes through (the monitor and claims
runs via :func:`process_scene`, ``satwatch batch`` via :func:`satwatch.batch.run_batch`): the scene's header
(read once, no pixels) keys the detection cache; on a miss the detector runs (the CNN always with its own
windowed reads) and the entry is written. :func:`process_scene` adds what the scene observed of the AOI and the
run folder's per-scene file; :func:`scene_stage` adds the fault path (quarantine, fetch again, else exclude).
An executor (a plain loop, Prefect tasks, Dask) only decides where these run::

    fetched = fetch_scene(source, planned.acquisition, planned.aoi, archive_root)
    result = scene_stage(request, planned.acquisition, planned.aoi, fetched, run_dir, archive_root)
"""

from __future__ import annotations

import functools
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd

from satwatch.aoi import AOI
from satwatch.atomic import atomic_path
from satwatch.cache import CacheEntry, DetectionCache
from satwatch.change.observability import Observability, observe
from satwatch.detection.detector import Detector, detect_path, get_detector
from satwatch.errors import NoDataError, SatwatchError, SceneFormatError
from satwatch.imagery.scene import Scene, SceneHeader, format_acquired, read_scene, read_scene_header
from satwatch.imagery.source import Acquisition, ImagerySource
from satwatch.pipeline.request import MonitorRequest, open_source

__all__ = [
    "ExcludedScene",
    "SceneDetections",
    "SceneResult",
    "cached_detector",
    "detect_scene",
    "fetch_scene",
    "process_scene",
    "scene_stage",
]

log = logging.getLogger("satwatch")


@dataclass(frozen=True)
class SceneResult:
    """What processing one scene produced (small: paths and numbers, never pixels)."""

    scene_path: str
    """The archived scene GeoTIFF."""
    detections_path: str
    """Per-scene detections GeoJSON in the run folder."""
    observability: Observability
    """What the scene shows of the AOI."""
    footprint_wkt: str
    """Scene footprint, EPSG:4326 WKT."""
    source: str
    """Source the scene came from."""
    simulated: bool
    """True for simulated imagery."""
    n_detections: int
    """Number of detections in the scene."""
    truth_path: str | None = None
    """Simulator ground truth GeoJSON beside the scene, when there is one."""
    scene_key: str = ""
    """The scene file's header key (:attr:`satwatch.imagery.scene.SceneHeader.key`): which bytes were used."""


@dataclass(frozen=True)
class ExcludedScene:
    """An acquisition a run could not use, and why: listed in ``run.json`` (``excluded``) and the report."""

    aoi: str
    """AOI id."""
    sensor: str
    """``s2``, ``s1`` or ``vhr``."""
    acquired: str
    """Acquisition time, UTC ISO 8601."""
    kind: str
    """``no-data`` (the provider sent no valid pixel), ``unreadable`` (the scene file could not be read and could
    not be fetched or rendered again)."""
    reason: str
    """What went wrong, one line."""
    path: str | None = None
    """The scene file it concerned, if any (it has been moved to the quarantine folder)."""
    quarantine: str | None = None
    """The quarantine folder the unreadable file went to."""


@dataclass(frozen=True)
class SceneDetections:
    """What :func:`detect_scene` found in one scene file."""

    detections: gpd.GeoDataFrame
    """The detections contract (EPSG:4326), as the detector wrote them (scene id from the file's tags)."""
    entry: CacheEntry
    """The detection-cache entry holding them (its file is the bytes a run folder copies)."""
    cached: bool
    """True when they came from the cache (no pixel read, no inference)."""


@functools.lru_cache(maxsize=4)
def cached_detector(name: str) -> Detector:
    """One detector per name per process (the CNN loads its weights once, not once per scene)."""
    return get_detector(name)


def detect_scene(header: SceneHeader, detector: Detector, cache: DetectionCache, *, pixels: Scene | None = None,
                 use_cache: bool = True) -> SceneDetections:
    """Return the detections of one scene: from the detection cache when present, else detected and cached.

    Args:
        header: the scene's header, read once (:func:`~satwatch.imagery.scene.read_scene_header`); its key
            names the cache entry, so a hit costs no pixel read.
        detector: the detector (its ``name`` includes its version).
        cache: the detection cache (``<SATWATCH_DATA_DIR>/cache``).
        pixels: the whole scene when the caller has already read it (a prefetching reader); a detector with its
            own windowed reads (the CNN) reads the file in windows anyway, the only CNN path.
        use_cache: False to detect again even on a hit (the entry is replaced).

    Raises:
        SceneFormatError: the pixels cannot be decoded (truncated or corrupt file).
    """
    entry = cache.entry(header, detector.name)
    found = cache.read(entry) if use_cache else None  # a damaged entry reads as a miss (logged)
    if found is not None:
        log.debug("%s: detections from the cache (%s)", header.meta.scene_id, entry.path)
        return SceneDetections(found, entry, cached=True)
    found = detect_path(detector, header.path, pixels)
    cache.put(entry, found)
    return SceneDetections(found, entry, cached=False)


def _excluded(acquisition: Acquisition, kind: str, reason: str, path: str | None = None,
              quarantine: Path | None = None) -> ExcludedScene:
    return ExcludedScene(aoi=acquisition.aoi, sensor=acquisition.sensor, acquired=format_acquired(acquisition.acquired),
                         kind=kind, reason=reason.splitlines()[0] if reason else kind, path=path,
                         quarantine=str(quarantine) if quarantine is not None else None)


def fetch_scene(source: ImagerySource, acquisition: Acquisition, aoi: AOI,
                archive_root: str | Path) -> Path | ExcludedScene:
    """Fetch one acquisition into the archive; an all-no-data answer (:class:`NoDataError`) is skipped and named.

    Returns the archived scene's path, or an :class:`ExcludedScene` of kind ``no-data``. Any other error
    (network, quota, credentials) is raised: the flow's fetch task retries those.
    """
    try:
        return source.fetch(acquisition, aoi, Path(archive_root))
    except NoDataError as exc:
        log.warning("skipped %s %s %s: %s", acquisition.aoi, acquisition.sensor,
                    format_acquired(acquisition.acquired), exc)
        return _excluded(acquisition, "no-data", str(exc))


def scene_stage(request: MonitorRequest, acquisition: Acquisition, aoi: AOI, fetched: str | Path | ExcludedScene,
                run_dir: str | Path, archive_root: str | Path) -> SceneResult | ExcludedScene:
    """Process one fetched acquisition (:func:`process_scene`); a scene file that cannot be read never stops the run.

    An unreadable scene (:class:`~satwatch.errors.SceneFormatError`: truncated, corrupt, not a scene) is moved to
    the quarantine folder (``<SATWATCH_DATA_DIR>/quarantine``, logged with its path and reason) and fetched
    again from the request's source (the simulator renders it again, Sentinel Hub downloads it again); when that
    fails too, or the source cannot (``--source archive``), the acquisition is returned as an
    :class:`ExcludedScene` for ``run.json`` and the report. ``fetched`` already excluded (no data) passes through.
    """
    from satwatch.imagery.archive import quarantine_scene
    from satwatch.settings import load_settings

    if isinstance(fetched, ExcludedScene):
        return fetched
    quarantine_root = load_settings().quarantine_dir
    path = Path(fetched)
    for attempt in (1, 2):
        try:
            return process_scene(path, aoi, request.detector, run_dir)
        except SceneFormatError as exc:  # the file, not the code: move it aside, then fetch it again (once)
            reason = str(exc).splitlines()[0]
            folder = quarantine_scene(path, reason, quarantine_root)
        if attempt == 2:
            log.warning("excluded %s from the run: fetched again, still unreadable (%s)", path, reason)
            return _excluded(acquisition, "unreadable", reason, str(path), folder)
        try:
            again = fetch_scene(open_source(request), acquisition, aoi, archive_root)
        except SatwatchError as exc:
            log.warning("excluded %s from the run: unreadable (%s) and not fetched again: %s", path, reason, exc)
            return _excluded(acquisition, "unreadable", f"{reason}; not fetched again: {exc}", str(path), folder)
        if isinstance(again, ExcludedScene):
            return again
        log.info("%s fetched again after quarantine", again)
        path = again
    raise AssertionError("unreachable")  # pragma: no cover


def process_scene(scene_path: str | Path, aoi: AOI, detector: str, run_dir: str | Path,
                  use_cache: bool = True) -> SceneResult:
    """Detect objects in one archived scene (:func:`detect_scene`) and measure its observability of ``aoi``.

    The scene's header is read once (no pixels) and keys the cache (:mod:`satwatch.cache`): detections of this
    scene by this detector version, and what it observed of this AOI, come from there when present, so an
    unchanged scene costs one header read. Otherwise the scene is read once (a truncated file raises
    :class:`~satwatch.errors.SceneReadError` here) and both results are cached first. Writes
    ``<run_dir>/per_scene/<scene_id>.geojson`` (a copy of the cache entry, so a fresh and a cached run write the
    same bytes) and returns a small :class:`SceneResult`.

    Raises:
        SceneFormatError: the file is not a readable scene (:func:`scene_stage` quarantines it).
    """
    from satwatch.settings import load_settings

    header = read_scene_header(scene_path)
    scene_id = header.meta.scene_id
    found = cached_detector(detector)
    cache = DetectionCache(load_settings().cache_dir)
    obs = cache.read_observation(header, aoi) if use_cache else None
    hit = use_cache and cache.entry(header, found.name).hit
    scene = read_scene(scene_path) if not hit or obs is None else None
    det = detect_scene(header, found, cache, pixels=scene, use_cache=use_cache)
    if obs is None:
        if scene is None:  # the cache had detections but no observation: the pixels are read once, here
            scene = read_scene(scene_path)
        obs = observe(scene, aoi)
        cache.put_observation(header, aoi, obs)
    out = Path(run_dir) / "per_scene" / f"{scene_id}.geojson"
    with atomic_path(out, ".geojson") as tmp:
        shutil.copyfile(det.entry.path, tmp)
    truth = Path(scene_path).with_suffix(".truth.geojson")
    log.info("%s: %d detections, %.0f%% of %s observed", scene_id, len(det.detections),
             100 * obs.observed_fraction, aoi.id)
    return SceneResult(
        scene_path=str(header.path),  # absolute: the run folder is read from anywhere later
        detections_path=str(out),
        observability=obs,
        footprint_wkt=header.footprint().wkt,
        source=header.meta.source,
        simulated=header.meta.simulated,
        n_detections=len(det.detections),
        truth_path=str(truth) if truth.is_file() else None,
        scene_key=header.key,
    )
