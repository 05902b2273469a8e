"""The *assemble* stage: per-scene results to the run folder, each file written once, ``run.json`` last.

:func:`finish_run` takes the scene stage's results (in memory: small records naming each scene's detections)
and writes the run's tables and layers, the change outputs (computed from the same in-memory frames), the QGIS
styles, then ``run.json`` and last ``report.html``. A re-run of an unchanged period copies the derived files
from the run-output cache instead (:class:`satwatch.cache.RunOutputCache`)::

    run_json = finish_run(request, results, run_dir, started)
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely import wkt

from satwatch.atomic import atomic_path
from satwatch.change.counts import count_table
from satwatch.change.error_model import detector_versions, error_models
from satwatch.change.run_changes import compute_changes, write_change_tables
from satwatch.change.timeseries import Window
from satwatch.detection.auto import detector_record
from satwatch.detection.detections import concat_detections, empty_detections
from satwatch.outputs.files import write_csv, write_geojson, write_geopackage, write_json
from satwatch.pipeline.request import MonitorRequest
from satwatch.pipeline.scene import ExcludedScene, SceneResult, cached_detector

__all__ = ["SIMULATED_NOTICE", "Judge", "finish_run"]

log = logging.getLogger("satwatch")

SIMULATED_NOTICE = (
    "SIMULATED imagery: every count, detection and change in this run comes from rendered scenes with planted "
    "objects. It demonstrates the method and is not evidence about the real world."
)
"""The notice of a simulated run's ``run.json`` (and the report's banner)."""

Judge = Callable[[Path, dict[str, Any]], dict[str, Any]]
"""Judges claims on a run folder given the record of its ``run.json`` (in memory); returns the ``claims`` entry."""


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
    judge: Judge | None = None,
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

    ``judge`` (a claims run, :func:`satwatch.claims.check.claims_judge`) is called with the run folder and the
    record of ``run.json`` before that is written; it writes the claims' files and returns ``run.json``'s
    ``claims`` entry, so that ``run.json`` and ``report.html`` are written once, with the verdicts.
    """
    from satwatch.cache import RunOutputCache
    from satwatch.settings import load_settings

    run = Path(run_dir)
    excluded = sorted((r for r in results if isinstance(r, ExcludedScene)), key=lambda e: (e.aoi, e.sensor, e.acquired))
    used = [r for r in results if isinstance(r, SceneResult)]
    simulated = request.simulated or any(r.simulated for r in used)
    ordered = sorted(used, key=lambda r: (r.observability.aoi, r.observability.sensor, r.observability.acquired))
    detector = cached_detector(request.detector)
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
    if judge is not None:  # claims: judged on the files written so far and this record, before run.json
        claims = judge(run, record)
        record["outputs"] = sorted({*record["outputs"], *(p.name for p in run.iterdir() if p.is_file())})
        record["claims"] = claims
    path = write_json(record, run / "run.json")
    from satwatch.outputs.report import publish_report

    publish_report(run)  # last: the report shows run.json's provenance
    return path


def _times_as_read(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with ``acquired`` as a GeoJSON reader returns it (UTC datetimes, ms).

    The change outputs of a run and of ``satwatch change`` over its folder then hold the same text.
    """
    if not len(frame) or "acquired" not in frame:
        return frame
    return frame.assign(acquired=pd.to_datetime(frame["acquired"], utc=True).astype("datetime64[ms, UTC]"))


def _derive_outputs(request: MonitorRequest, run: Path, ordered: Sequence[SceneResult], simulated: bool,
                    by_sensor: dict[str, tuple[str, ...]], error: Any) -> dict[str, Any]:
    """Write the run's derived files, each once, from in-memory frames; return their part of run.json.

    Writes ``truth.geojson`` (simulated runs), ``scenes.geojson``, ``detections.geojson``, ``counts.csv``, the
    change tables (:func:`satwatch.change.run_changes.compute_changes` over the two halves of the period),
    ``layers.gpkg`` with every layer, then the QGIS styles; not ``run.json`` or ``report.html``.
    """
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
    changes: dict[str, Any] | None = None
    if ordered and request.end > request.start:  # default windows: the two halves of the period
        baseline, test = Window.halves(request.start, request.end)
        found = compute_changes(_times_as_read(scenes), counts, _times_as_read(detections), baseline, test,
                                {a.id: a.geometry for a in request.aois})
        write_change_tables(found, run)
        layers.update(found.layers)
        changes = found.summary.to_dict()
    write_geopackage(layers, run / "layers.gpkg")  # once, every layer
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

