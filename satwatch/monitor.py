"""The main job as plain functions: plan a monitoring run, process each scene, write the run folder.

The Prefect flow ``flows/monitor.py`` only puts these in order and adds retries and fan-out; a notebook user
or a test calls them directly::

    request = build_request(["ru_dunai"], date(2024, 9, 1), date(2024, 9, 30), scenario_path="scenarios/tiny.yaml")
    source = open_source(request)
    run_dir = new_run_dir(load_settings().outputs_dir, request)
    results = [process_scene(source.fetch(acq, aoi, archive_root), aoi, request.detector, run_dir)
               for aoi in request.aois for sensor in request.sensors
               for acq in source.search(aoi, request.start, request.end, sensor)]
    finish_run(request, results, run_dir, started)
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import platform
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely import wkt

from satwatch.aoi import AOI, resolve_aois
from satwatch.atomic import atomic_path
from satwatch.change.counts import count_table
from satwatch.change.error_model import detector_versions, error_models
from satwatch.change.observability import Observability, observe
from satwatch.change.run_changes import write_changes
from satwatch.change.timeseries import Window
from satwatch.detection.auto import detector_record
from satwatch.detection.detections import concat_detections, empty_detections
from satwatch.detection.detector import Detector, default_detector, detect_path, get_detector
from satwatch.errors import NoDataError, SatwatchError, SceneFormatError, UsageError
from satwatch.imagery.scene import SENSORS, format_acquired, read_scene, read_scene_header
from satwatch.imagery.source import Acquisition, ImagerySource
from satwatch.outputs.files import write_csv, write_geojson, write_geopackage, write_json
from satwatch.settings import REPO_ROOT

__all__ = [
    "DEMO_SCENARIO",
    "SIMULATED_NOTICE",
    "ExcludedScene",
    "MonitorRequest",
    "SceneResult",
    "build_request",
    "fetch_scene",
    "finish_run",
    "new_run_dir",
    "open_source",
    "process_scene",
    "scene_stage",
]

log = logging.getLogger("satwatch")

DEMO_SCENARIO = REPO_ROOT / "scenarios" / "demo.yaml"
"""The embedded demo: fictional activity on real AOI geometry, run by ``satwatch run`` with no arguments."""
SOURCES = ("simulated", "archive", "sentinel-hub", "cdse")
SIMULATED_NOTICE = (
    "SIMULATED imagery: every count, detection and change in this run comes from rendered scenes with planted "
    "objects. It demonstrates the method and is not evidence about the real world."
)


@dataclass(frozen=True)
class MonitorRequest:
    """What one monitoring run covers."""

    aois: tuple[AOI, ...]
    """AOIs to monitor."""
    start: date
    """First day (UTC) of the period, inclusive."""
    end: date
    """Last day (UTC) of the period, inclusive."""
    sensors: tuple[str, ...]
    """Sensors to search, e.g. ``("s2", "s1")``."""
    source: str = "simulated"
    """Imagery source name."""
    scenario_path: Path | None = None
    """Simulation scenario YAML (simulated source only); None for a scenario with no planted activity."""
    detector: str = "baseline"
    """Detector name (see ``satwatch.detection.detector.get_detector``)."""
    name: str = "monitor"
    """Short label used in the run id (the scenario name for simulated runs)."""

    @property
    def simulated(self) -> bool:
        """True when the imagery is simulated."""
        return self.source == "simulated"


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


def build_request(
    aois: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    sensors: Sequence[str] | None = None,
    source: str = "simulated",
    scenario_path: str | Path | None = None,
    detector: str | None = None,
) -> MonitorRequest:
    """Validate run parameters, filling gaps from the scenario (the demo scenario when nothing is given).

    Raises:
        UsageError: unknown source/sensor, end before start, or no period given without a scenario.
        UnknownAOIError: an AOI is neither a catalog id nor a vector file.
    """
    from satwatch.imagery.scenario import load_scenario

    if source not in SOURCES:
        raise UsageError(f"--source {source!r} is not available; choose one of {', '.join(SOURCES)}")
    if source == "simulated" and scenario_path is None and not aois and start is None and end is None:
        scenario_path = DEMO_SCENARIO
    if source != "simulated" and scenario_path is not None:
        raise UsageError("--scenario only applies to --source simulated")
    scenario = load_scenario(scenario_path) if scenario_path is not None else None
    aoi_specs = list(aois) if aois else (list(scenario.aois) if scenario else [])
    if not aoi_specs:
        raise UsageError("name at least one --aoi (or give a --scenario that lists its AOIs)")
    if scenario is not None:
        start = start or scenario.start
        end = end or scenario.end
        sensors = sensors or tuple(scenario.sensors)
    if start is None or end is None:
        raise UsageError("give --start and --end (YYYY-MM-DD), or a --scenario that has a period")
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}")
    sensors = tuple(sensors or ("s2", "s1"))
    bad = [s for s in sensors if s not in SENSORS]
    if bad:
        raise UsageError(f"unknown sensor(s) {bad}; choose from {', '.join(SENSORS)}")
    return MonitorRequest(
        aois=tuple(resolve_aois(aoi_specs)),
        start=start,
        end=end,
        sensors=sensors,
        source=source,
        scenario_path=Path(scenario_path) if scenario_path is not None else None,
        detector=detector or default_detector(),
        name=scenario.name if scenario is not None else "monitor",
    )


def open_source(request: MonitorRequest) -> ImagerySource:
    """Return the imagery source the request names."""
    from satwatch.imagery.archive import ArchiveSource
    from satwatch.imagery.scenario import Scenario, load_scenario
    from satwatch.imagery.simulated import SimulatedSource
    from satwatch.settings import load_settings

    if request.source == "archive":
        return ArchiveSource(load_settings().archive_dir)
    if request.source in ("sentinel-hub", "cdse"):
        from satwatch.imagery.sentinel_hub import SentinelHubSource

        return SentinelHubSource(request.source, load_settings())
    if request.scenario_path is not None:
        scenario = load_scenario(request.scenario_path)
    else:
        scenario = Scenario.default([a.id for a in request.aois], request.start, request.end)
    return SimulatedSource(scenario)


def new_run_dir(outputs_dir: Path, request: MonitorRequest, now: datetime | None = None) -> Path:
    """Create and return a new run folder ``<outputs_dir>/<UTC stamp>-<name>`` (suffixed if it exists)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    label = re.sub(r"[^a-z0-9_-]+", "-", request.name.lower()).strip("-") or "run"
    base = outputs_dir.resolve() / f"{stamp}-{label}"
    run_dir, i = base, 1
    while run_dir.exists():
        i += 1
        run_dir = base.with_name(f"{base.name}-{i}")
    (run_dir / "per_scene").mkdir(parents=True)
    return run_dir


@functools.lru_cache(maxsize=4)
def _detector(name: str) -> Detector:
    """One detector per name per process (the CNN loads its weights once, not once per scene)."""
    return get_detector(name)


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


def _excluded(acquisition: Acquisition, kind: str, reason: str, path: str | None = None,
              quarantine: Path | None = None) -> ExcludedScene:
    return ExcludedScene(aoi=acquisition.aoi, sensor=acquisition.sensor, acquired=format_acquired(acquisition.acquired),
                         kind=kind, reason=reason.splitlines()[0] if reason else kind, path=path,
                         quarantine=str(quarantine) if quarantine is not None else None)


def fetch_scene(source: ImagerySource, acquisition: Acquisition, aoi: AOI,
                archive_root: str | Path) -> Path | ExcludedScene:
    """Fetch one acquisition into the archive; an all-no-data answer (:class:`NoDataError`) is skipped and named.

    Any other error (network, quota, credentials) is raised: the flow's fetch task retries those.
    """
    try:
        return source.fetch(acquisition, aoi, Path(archive_root))
    except NoDataError as exc:
        log.warning("skipped %s %s %s: %s", acquisition.aoi, acquisition.sensor,
                    format_acquired(acquisition.acquired), exc)
        return _excluded(acquisition, "no-data", str(exc))


def scene_stage(request: MonitorRequest, acquisition: Acquisition, aoi: AOI, fetched: str | Path | ExcludedScene,
                run_dir: str | Path, archive_root: str | Path) -> SceneResult | ExcludedScene:
    """Process one fetched acquisition; a scene file that cannot be read never stops the run.

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
    """Detect objects in one archived scene and measure its observability of ``aoi``.

    The scene's header is read first (no pixels) and keys the cache (:mod:`satwatch.cache`, under
    ``<SATWATCH_DATA_DIR>/cache``): detections of this scene by this detector version, and what it observed of this
    AOI, come from there when present, so an unchanged scene costs one header read. Otherwise the scene is read
    (a truncated file raises :class:`~satwatch.errors.SceneReadError` here), the detector runs and both results
    are cached first; an unreadable cache entry is a miss, replaced atomically. Writes
    ``<run_dir>/per_scene/<scene_id>.geojson`` (a copy of the cache entry, so a fresh and a cached run write the
    same bytes) and returns a small :class:`SceneResult`.

    Raises:
        SceneFormatError: the file is not a readable scene (:func:`scene_stage` quarantines it).
    """
    from satwatch.cache import DetectionCache
    from satwatch.settings import load_settings

    header = read_scene_header(scene_path)
    scene_id = header.meta.scene_id
    found = _detector(detector)
    cache = DetectionCache(load_settings().cache_dir)
    entry = cache.entry(header, found.name)
    det = cache.read(entry) if use_cache else None
    obs = cache.read_observation(header, aoi) if use_cache else None
    scene = read_scene(scene_path) if det is None or obs is None else None
    if det is None:
        det = detect_path(found, scene_path, scene)
        cache.put(entry, det)
    else:
        log.debug("%s: detections from the cache (%s)", scene_id, entry.path)
    if obs is None:
        assert scene is not None
        obs = observe(scene, aoi)
        cache.put_observation(header, aoi, obs)
    out = Path(run_dir) / "per_scene" / f"{scene_id}.geojson"
    with atomic_path(out, ".geojson") as tmp:
        shutil.copyfile(entry.path, tmp)
    truth = Path(scene_path).with_suffix(".truth.geojson")
    log.info("%s: %d detections, %.0f%% of %s observed", scene_id, len(det), 100 * obs.observed_fraction, aoi.id)
    return SceneResult(
        scene_path=str(header.path),  # absolute: the run folder is read from anywhere later
        detections_path=str(out),
        observability=obs,
        footprint_wkt=header.footprint().wkt,
        source=header.meta.source,
        simulated=header.meta.simulated,
        n_detections=len(det),
        truth_path=str(truth) if truth.is_file() else None,
        scene_key=header.key,
    )


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("satwatch", "numpy", "rasterio", "geopandas", "shapely", "pyproj", "torch", "prefect", "sentinelhub"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    try:
        import rasterio

        out["gdal"] = str(rasterio.__gdal_version__)
    except ImportError:  # pragma: no cover - rasterio is a hard dependency
        pass
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fingerprint(request: MonitorRequest, ordered: Sequence[SceneResult], excluded: Sequence[ExcludedScene],
                 detector: dict[str, Any], versions: dict[str, str]) -> str:
    """SHA-256 hex of everything a run's derived outputs depend on (not its id or times).

    The request (AOIs with their geometry and properties, period, sensors, source, scenario bytes), every scene
    (header key, path, observation, footprint, the bytes of its detections and truth), the excluded acquisitions,
    the detector record (name, classes, real figures, error models), package versions and the satwatch code.
    """
    from satwatch.cache import file_digest, source_digest

    scenes = []
    for r in ordered:
        scene = {k: v for k, v in asdict(r).items() if k != "detections_path"}
        scene["detections_sha256"] = file_digest(r.detections_path)
        scene["truth_sha256"] = file_digest(r.truth_path) if r.truth_path else None
        scenes.append(scene)
    doc = {
        "code": source_digest(),
        "versions": versions,
        "detector": detector,
        "request": {
            "aois": [{"id": a.id, "geometry": hashlib.sha256(a.geometry.wkb).hexdigest(),
                      "properties": a.to_feature()["properties"]} for a in request.aois],
            "start": request.start.isoformat(), "end": request.end.isoformat(), "sensors": list(request.sensors),
            "source": request.source, "detector": request.detector, "name": request.name,
            "scenario": _sha256(Path(request.scenario_path)) if request.scenario_path is not None else None,
        },
        "scenes": scenes,
        "excluded": [asdict(e) for e in excluded],
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def finish_run(
    request: MonitorRequest,
    results: Sequence[SceneResult | ExcludedScene],
    run_dir: str | Path,
    started: datetime,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Aggregate per-scene results and write the run folder; return the path of ``run.json``.

    Writes ``scenes.geojson``, ``detections.geojson``, ``counts.csv``, ``layers.gpkg`` (layers ``aois``,
    ``scenes``, ``detections`` and, for simulated runs, ``simulated_truth``), then the change outputs of
    :func:`satwatch.change.run_changes.write_changes` over the two halves of the period (``timeseries.csv``,
    ``comparisons.csv``, ``changes.geojson`` and the ``change_*`` layers), the QGIS styles, ``run.json`` and last
    ``report.html``. Every feature and row of a simulated run carries ``simulated = true``. Acquisitions in
    ``results`` that were excluded (:class:`ExcludedScene`: no data, unreadable) are listed in ``run.json`` under
    ``excluded`` and counted in its summary; the report shows them in its run section.

    Everything but ``run.json`` and ``report.html`` is kept in the run-output cache
    (:class:`satwatch.cache.RunOutputCache`) under a fingerprint of all it depends on; when an earlier run had the
    same fingerprint (a re-run of an unchanged period), those files are copied instead of computed again, and
    ``run.json`` says so (``derived_outputs``).
    """
    from satwatch.cache import RunOutputCache
    from satwatch.settings import load_settings

    run = Path(run_dir)
    excluded = sorted((r for r in results if isinstance(r, ExcludedScene)), key=lambda e: (e.aoi, e.sensor, e.acquired))
    used = [r for r in results if isinstance(r, SceneResult)]
    simulated = request.simulated or any(r.simulated for r in used)
    ordered = sorted(used, key=lambda r: (r.observability.aoi, r.observability.sensor, r.observability.acquired))
    detector = _detector(request.detector)
    classes = detector.classes
    classes_for = getattr(detector, "classes_for", None)
    by_sensor = {s: tuple(classes_for(s)) if classes_for is not None else classes for s in request.sensors}
    # the detector's measured error per sensor and class: estimated true counts, verdicts (docs/change.md)
    error = error_models(request.detector, by_sensor, detector_versions(detector, request.sensors))
    detector_doc = {"name": detector.name, "classes": list(classes),
                    "classes_by_sensor": {k: list(v) for k, v in by_sensor.items()},
                    # which detector ran on each sensor and its measured real-data figures (models/*.metrics.json)
                    "by_sensor": detector_record(request.detector, request.sensors),
                    "error_models": [m.to_dict() for m in error.values()]}
    versions = _versions()
    fingerprint = _fingerprint(request, ordered, excluded, detector_doc, versions)
    outputs_cache = RunOutputCache(load_settings().cache_dir)
    reused = outputs_cache.get(fingerprint)
    if reused is not None:  # an unchanged re-run: the same inputs, code and versions give the same files
        files, derived = reused
        try:
            for f in files:
                with atomic_path(run / f.name, f.suffix) as tmp:
                    shutil.copyfile(f, tmp)
            log.info("derived outputs unchanged since an earlier run: copied from %s", files[0].parent if files else "")
        except OSError as exc:  # the entry went away meanwhile (pruned, deleted): compute them after all
            log.warning("run-output cache entry %s unusable (%s): computing the outputs", fingerprint[:12], exc)
            reused = None
    if reused is None:
        derived = _derive_outputs(request, run, ordered, simulated, by_sensor, error)
        outputs_cache.put(fingerprint, sorted(p for p in run.iterdir() if p.is_file()), derived)
    scenario: dict[str, Any] | None = None
    if request.scenario_path is not None:
        scenario = {"name": request.name, "path": str(request.scenario_path),
                    "sha256": _sha256(Path(request.scenario_path))}
    record: dict[str, Any] = {
        "run_id": run.name,
        "simulated": simulated,
        "notice": SIMULATED_NOTICE if simulated else "Real imagery; see each output's resolution limits.",
        "started": started.astimezone(UTC).isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {
            "aois": [a.id for a in request.aois],
            "start": request.start.isoformat(),
            "end": request.end.isoformat(),
            "sensors": list(request.sensors),
            "source": request.source,
            "detector": request.detector,
        },
        "scenario": scenario,
        "changes": derived["changes"],
        "detector": detector_doc,
        "sources": sorted({r.source for r in ordered}) or [request.source],
        "versions": versions,
        "excluded": [asdict(e) for e in excluded],
        "summary": {"scenes": len(ordered), "excluded": len(excluded), **derived["summary"]},
        # the derived files' fingerprint (satwatch.cache.RunOutputCache), and whether they were copied from an
        # earlier run with the same one instead of computed here
        "derived_outputs": {"fingerprint": fingerprint, "reused": reused is not None},
        "outputs": [*sorted(p.name for p in run.iterdir() if p.is_file()), "run.json", "report.html"],
    }
    record.update(extra or {})
    path = write_json(record, run / "run.json")
    from satwatch.outputs.report import publish_report

    publish_report(run)  # last: the report shows run.json's provenance
    return path


def _derive_outputs(request: MonitorRequest, run: Path, ordered: Sequence[SceneResult], simulated: bool,
                    by_sensor: dict[str, tuple[str, ...]], error: Any) -> dict[str, Any]:
    """Write the run's derived files (all but run.json and report.html); return their part of run.json."""
    scenes = gpd.GeoDataFrame(
        [
            {**asdict(r.observability), "source": r.source, "simulated": r.simulated, "detections": r.n_detections,
             "path": r.scene_path}
            for r in ordered
        ],
        geometry=[wkt.loads(r.footprint_wkt) for r in ordered],
        crs=4326,
    ) if ordered else gpd.GeoDataFrame({"scene_id": [], "simulated": []}, geometry=[], crs=4326)
    frames = [gpd.read_file(r.detections_path) for r in ordered]
    detections = concat_detections(frames) if frames else empty_detections()
    counts = count_table(detections, [r.observability for r in ordered], by_sensor, simulated, error)
    aois = gpd.GeoDataFrame(
        [{**a.to_feature()["properties"], "simulated": simulated} for a in request.aois],
        geometry=[a.geometry for a in request.aois],
        crs=4326,
    )
    aois["watch"] = aois["watch"].map(",".join)
    layers: dict[str, gpd.GeoDataFrame] = {"aois": aois, "scenes": scenes, "detections": detections}
    truth_paths = [r.truth_path for r in ordered if r.truth_path]
    if truth_paths:
        truth = gpd.GeoDataFrame(pd.concat([gpd.read_file(p) for p in truth_paths], ignore_index=True), crs=4326)
        layers["simulated_truth"] = truth
        write_geojson(truth, run / "truth.geojson")
    write_geojson(scenes, run / "scenes.geojson")
    write_geojson(detections, run / "detections.geojson")
    write_csv(counts, run / "counts.csv")
    write_geopackage(layers, run / "layers.gpkg")
    changes: dict[str, Any] | None = None
    if ordered and request.end > request.start:  # default windows: the two halves of the period
        baseline, test = Window.halves(request.start, request.end)
        changes = write_changes(run, (baseline.start, baseline.end), (test.start, test.end)).to_dict()
    from satwatch.outputs.styles import write_styles

    write_styles(run)  # QGIS styles: layer_styles in layers.gpkg, .qml beside the GeoJSON
    return {
        "changes": changes,
        "summary": {
            "detections": len(detections),
            "detections_by_aoi": {str(k): int(v) for k, v in detections.groupby("aoi").size().items()}
            if len(detections) else {},
        },
    }

