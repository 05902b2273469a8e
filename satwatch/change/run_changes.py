"""Recompute the change outputs of an existing run folder: time series, window comparisons, change layers.

:func:`write_changes` recomputes them over an existing run folder (``satwatch change``, which also records the
summary in ``run.json``)::

    summary = write_changes(Path("data/outputs/20241201T000000Z-primorsky-autumn-2024"))
    summary.to_dict()   # for run.json

It reads ``run.json`` (the period), ``scenes.geojson`` (observability and archived scene paths),
``counts.csv`` and ``detections.geojson``, and (re)writes ``timeseries.csv``, ``comparisons.csv``,
``changes.geojson`` and the change layers of ``layers.gpkg`` (the run's other layers are kept). Schema and
statistics: ``docs/change.md``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.geometry.base import BaseGeometry

from satwatch.change.matching import footprint_change, match_presences
from satwatch.change.pixel_change import pixel_change, pixel_change_between
from satwatch.change.timeseries import (
    MIN_OBSERVED_FRACTION,
    Window,
    WindowComparison,
    build_timeseries,
    compare_windows,
    comparisons_frame,
)
from satwatch.errors import InputFileError
from satwatch.outputs.files import write_csv, write_geojson, write_geopackage, write_json

__all__ = [
    "CHANGE_LAYERS",
    "ChangeOutputs",
    "ChangeSummary",
    "compute_changes",
    "write_change_tables",
    "write_changes",
]

log = logging.getLogger("satwatch")

CHANGE_LAYERS = ("change_presences", "change_footprints", "change_pixels")
"""Layers :func:`write_changes` adds to ``layers.gpkg`` (and merges into ``changes.geojson`` with ``layer``)."""
POINT_CLASSES = ("vessel",)
"""Classes linked across dates as presences."""
AREA_CLASSES = ("encampment", "vehicle")
"""Classes compared as footprints (polygon detections only)."""


@dataclass(frozen=True)
class ChangeSummary:
    """What :func:`write_changes` computed: small, JSON-ready (``to_dict``), for ``run.json``."""

    baseline: str
    """Baseline window ``YYYY-MM-DD/YYYY-MM-DD`` (UTC days, inclusive)."""
    test: str
    """Test window ``YYYY-MM-DD/YYYY-MM-DD``."""
    min_observed: float
    """Least observed fraction of an AOI for an acquisition to be used."""
    acquisitions_used: int
    """Acquisitions (scenes) with observed fraction >= ``min_observed``, both windows and outside them."""
    acquisitions_excluded: int
    """Acquisitions excluded as too little observed (never counted as zero)."""
    comparisons: tuple[WindowComparison, ...]
    """Baseline vs test per AOI, class and sensor, with 95% intervals."""
    presences: dict[str, int] = field(default_factory=dict)
    """Number of linked presences per status (``arrived``, ``departed``, ``persisted``, ``visited``)."""
    pixel_change_m2: dict[str, float] = field(default_factory=dict)
    """Summed area (m2) of pixel-change polygons per ``<aoi>/<sensor>/<kind>``."""
    outputs: tuple[str, ...] = ()
    """Files written in the run folder."""
    simulated: bool = False
    """True when the run's imagery was simulated: a demonstration, never evidence."""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable) with ``comparisons`` as a list of dicts (``cls`` as ``class``)."""
        out = asdict(self)
        out["comparisons"] = [{("class" if k == "cls" else k): v for k, v in c.items()} for c in out["comparisons"]]
        out["outputs"] = list(self.outputs)
        return out


def _read(run: Path, name: str) -> Path:
    path = run / name
    if not path.is_file():
        raise InputFileError(f"{path} is missing; is {run} a satwatch run folder (run `satwatch run` first)?")
    return path


def _default_windows(run: Path, scenes: pd.DataFrame) -> tuple[Window, Window]:
    start = end = None
    record = run / "run.json"
    if record.is_file():
        params = json.loads(record.read_text(encoding="utf-8")).get("parameters", {})
        if params.get("start") and params.get("end"):
            start, end = date.fromisoformat(params["start"]), date.fromisoformat(params["end"])
    if start is None or end is None:
        if scenes.empty:
            raise InputFileError(f"{run} has no scenes and no period in run.json; give --baseline and --test")
        days = scenes["acquired"].astype(str).str.slice(0, 10)
        start, end = date.fromisoformat(days.min()), date.fromisoformat(days.max())
    return Window.halves(start, end)


def _in_window(acquired: pd.Series, window: Window) -> pd.Series:
    return window.contains(acquired.astype(str).str.slice(0, 10).map(date.fromisoformat))


def _aoi_geometries(gpkg: Path) -> dict[str, BaseGeometry]:
    if not gpkg.is_file() or "aois" not in set(pyogrio.list_layers(gpkg)[:, 0]):
        return {}
    aois = gpd.read_file(gpkg, layer="aois")
    return {str(i): g for i, g in zip(aois["id"], aois.geometry, strict=True)}


@dataclass(frozen=True)
class ChangeOutputs:
    """The change outputs of a run, in memory: :func:`compute_changes` makes them, the callers write them once."""

    timeseries: pd.DataFrame
    """``timeseries.csv``: counts per acquisition with used/excluded (``satwatch.change.timeseries``)."""
    comparisons: pd.DataFrame
    """``comparisons.csv``: baseline vs test per AOI, class and sensor."""
    changes: gpd.GeoDataFrame
    """``changes.geojson``: every change layer merged, with a ``layer`` column (EPSG:4326)."""
    layers: dict[str, gpd.GeoDataFrame]
    """The :data:`CHANGE_LAYERS` of ``layers.gpkg``, by name."""
    summary: ChangeSummary
    """What ``run.json`` records of them."""


def compute_changes(
    scenes: pd.DataFrame,
    counts: pd.DataFrame,
    detections: gpd.GeoDataFrame,
    baseline: Window,
    test: Window,
    aoi_geometries: dict[str, BaseGeometry],
    min_observed: float = MIN_OBSERVED_FRACTION,
    pixel: bool = True,
    min_area_m2: float = 2000.0,
) -> ChangeOutputs:
    """Compute a run's change outputs from its frames (nothing read from the run folder, nothing written).

    Args:
        scenes: one row per used acquisition (``scenes.geojson``'s columns: ``scene_id, aoi, sensor, acquired,
            observed_fraction, path, simulated``, ...).
        counts: ``counts.csv``'s rows (:func:`satwatch.change.counts.count_table`).
        detections: the run's detections (the detections contract).
        baseline: baseline window (UTC days, inclusive).
        test: test window.
        aoi_geometries: AOI polygons (EPSG:4326) by id, for pixel change (an AOI without one: its whole grid).
        min_observed: least observed fraction (0..1] of an AOI for an acquisition to be used.
        pixel: compute pixel-level change (reads the archived scenes named in ``scenes``' ``path``; scenes no
            longer on disk are skipped with a warning).
        min_area_m2: smallest change polygon kept, m2.

    Raises:
        UsageError: ``min_observed`` is outside (0, 1].
    """
    wb, wt = baseline, test
    simulated = bool(scenes["simulated"].astype(bool).any()) if len(scenes) else False
    ts = build_timeseries(counts, min_observed)
    comparisons = compare_windows(ts, wb, wt)

    obs = scenes["observed_fraction"].astype(float) if len(scenes) else pd.Series(dtype=float)
    used = scenes[obs >= min_observed] if len(scenes) else scenes

    presences = match_presences(detections, pd.DataFrame(used.drop(columns="geometry", errors="ignore")),
                                POINT_CLASSES)
    used_ids = set(used["scene_id"].astype(str)) if len(used) else set()
    det_used = detections[detections["scene_id"].astype(str).isin(used_ids)] if len(detections) else detections
    area_det = det_used[det_used["class"].isin(AREA_CLASSES)] if len(det_used) else det_used
    footprints = footprint_change(
        area_det[_in_window(area_det["acquired"], wb)] if len(area_det) else area_det,
        area_det[_in_window(area_det["acquired"], wt)] if len(area_det) else area_det,
        str(wb), str(wt), min_area_m2,
    )

    pixel_frames: list[gpd.GeoDataFrame] = []
    if pixel and len(used):
        for (aoi, sensor), grp in used.groupby(["aoi", "sensor"], sort=True):
            if sensor not in ("s1", "s2"):
                continue
            found = pixel_change_between(str(sensor), grp, wb, wt, str(aoi), aoi_geometries.get(str(aoi)),
                                         min_area_m2)
            if found.baseline_scenes and found.test_scenes:  # else skipped, with a warning
                pixel_frames.append(found.polygons)
    pixels = (gpd.GeoDataFrame(pd.concat(pixel_frames, ignore_index=True), geometry="geometry", crs=4326)
              if pixel_frames else pixel_change("s1", iter(()), iter(())))

    layers = {"change_presences": presences, "change_footprints": footprints, "change_pixels": pixels}
    merged = [gdf.assign(layer=name) for name, gdf in layers.items() if len(gdf)]
    changes = (gpd.GeoDataFrame(pd.concat(merged, ignore_index=True), geometry="geometry", crs=4326)
               if merged else gpd.GeoDataFrame({"layer": [], "simulated": []}, geometry=[], crs=4326))
    for col in changes.columns:
        if col not in ("geometry", "simulated", "area_m2", "length_m", "mean_change", "n_seen", "n_acquisitions",
                       "baseline_scenes", "test_scenes"):
            changes[col] = changes[col].fillna("").astype(str)
    if len(changes):
        changes["simulated"] = changes["simulated"].astype(bool)

    area: dict[str, float] = {}
    for _, row in pixels.iterrows():
        key = f"{row['aoi']}/{row['sensor']}/{row['kind']}"
        area[key] = round(area.get(key, 0.0) + float(row["area_m2"]), 1)
    summary = ChangeSummary(
        baseline=str(wb), test=str(wt), min_observed=min_observed,
        acquisitions_used=len(used), acquisitions_excluded=len(scenes) - len(used),
        comparisons=tuple(comparisons),
        presences={str(k): int(v) for k, v in presences["status"].value_counts().sort_index().items()},
        pixel_change_m2=area,
        outputs=("timeseries.csv", "comparisons.csv", "changes.geojson", "layers.gpkg"),
        simulated=simulated,
    )
    return ChangeOutputs(timeseries=ts, comparisons=comparisons_frame(comparisons), changes=changes,
                         layers=layers, summary=summary)


def write_change_tables(outputs: ChangeOutputs, run_dir: Path) -> None:
    """Write ``timeseries.csv``, ``comparisons.csv`` and ``changes.geojson`` (the layers go in ``layers.gpkg``)."""
    run = Path(run_dir)
    write_csv(outputs.timeseries, run / "timeseries.csv")
    write_csv(outputs.comparisons, run / "comparisons.csv")
    write_geojson(outputs.changes, run / "changes.geojson")


def write_changes(
    run_dir: Path,
    baseline: tuple[date, date] | None = None,
    test: tuple[date, date] | None = None,
    min_observed: float = MIN_OBSERVED_FRACTION,
    pixel: bool = True,
    min_area_m2: float = 2000.0,
    update_record: bool = False,
) -> ChangeSummary:
    """Compute the change outputs of an existing run folder ``run_dir`` again and write them; return their summary.

    Reads ``scenes.geojson``, ``counts.csv``, ``detections.geojson`` (and the AOIs of ``layers.gpkg``), runs
    :func:`compute_changes` and writes its files; ``layers.gpkg`` keeps its other layers and gets new styles.
    A monitoring run computes the same from its in-memory frames (:func:`satwatch.pipeline.assemble.finish_run`).

    Args:
        run_dir: a run folder written by :func:`satwatch.pipeline.assemble.finish_run`.
        baseline: ``(first, last)`` UTC day of the baseline window, inclusive; with ``test`` None, the default
            splits the run period (``run.json`` start/end, else the scenes' dates) into two halves: baseline =
            first half (start .. start + (end - start) // 2), test = the rest.
        test: ``(first, last)`` UTC day of the test window, inclusive.
        min_observed: least observed fraction (0..1] of an AOI for an acquisition to be used.
        pixel: compute pixel-level change (reads the archived scenes named in ``scenes.geojson``; scenes no
            longer on disk are skipped with a warning).
        min_area_m2: smallest change polygon kept, m2.
        update_record: also replace ``run.json``'s ``changes`` entry with the new summary (``satwatch change``).

    Returns:
        :class:`ChangeSummary`.

    Raises:
        InputFileError: ``run_dir`` is not a folder, or ``scenes.geojson``, ``counts.csv`` or
            ``detections.geojson`` is missing.
        UsageError: a window ends before it starts, or ``min_observed`` is outside (0, 1].
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise InputFileError(f"run folder {run} does not exist")
    scenes = gpd.read_file(_read(run, "scenes.geojson"))
    counts = pd.read_csv(_read(run, "counts.csv"))
    detections = gpd.read_file(_read(run, "detections.geojson"))
    if baseline is None or test is None:
        default_b, default_t = _default_windows(run, scenes)
        wb = Window(*baseline) if baseline is not None else default_b
        wt = Window(*test) if test is not None else default_t
    else:
        wb, wt = Window(*baseline), Window(*test)
    gpkg = run / "layers.gpkg"
    outputs = compute_changes(scenes, counts, detections, wb, wt, _aoi_geometries(gpkg) if pixel else {},
                              min_observed, pixel, min_area_m2)
    write_change_tables(outputs, run)
    existing: dict[str, gpd.GeoDataFrame] = {}
    if gpkg.is_file():
        for name in pyogrio.list_layers(gpkg)[:, 0]:
            if str(name) not in CHANGE_LAYERS and str(name) != "layer_styles":  # styles: rewritten below
                existing[str(name)] = gpd.read_file(gpkg, layer=str(name))
    write_geopackage({**existing, **outputs.layers}, gpkg)
    from satwatch.outputs.styles import write_gpkg_styles

    write_gpkg_styles(gpkg)  # QGIS default styles of every layer (docs/outputs.md)
    if update_record and (run / "run.json").is_file():
        record = json.loads((run / "run.json").read_text(encoding="utf-8"))
        record["changes"] = outputs.summary.to_dict()
        write_json(record, run / "run.json")
    return outputs.summary

