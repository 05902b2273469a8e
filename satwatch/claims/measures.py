"""Measures: the value of an indicator per acquisition, read from a run folder and nothing else.

A run folder (``satwatch.pipeline.assemble.finish_run``) holds what every measure needs: ``run.json`` (the
detector and the classes it reports, per sensor when it says so), ``scenes.geojson`` (each acquisition's observed
fraction of its AOI), ``detections.geojson`` (the detections contract: ``class``, ``score``, ``length_m``,
``area_m2``, ...) and, for claims with ground-change indicators, ``claim_ground_change.csv`` (written by
:func:`satwatch.claims.check.measure_ground_change`). Verdicts made from these files alone can be made again
from a copied run folder, with no archive and no network::

    run = load_run(Path("data/outputs/20241201T000000Z-c05-enacted"))
    series = acquisition_series(run, indicator, "s2", claim.baseline, claim.test)

Time-series rows follow ``satwatch.change.timeseries``: an acquisition is *used* when its observed fraction is at
least ``min_observed`` (default 0.5); the others are listed as excluded, never counted as zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from satwatch.change.matching import match_presences
from satwatch.change.timeseries import MIN_OBSERVED_FRACTION, Window
from satwatch.claims.catalog import Indicator
from satwatch.detection.detections import as_detections, empty_detections
from satwatch.errors import InputFileError

__all__ = [
    "GROUND_CHANGE_CSV",
    "GROUND_CHANGE_GEOJSON",
    "SERIES_COLUMNS",
    "RunData",
    "acquisition_series",
    "arrival_series",
    "load_run",
    "window_of",
]

GROUND_CHANGE_CSV = "claim_ground_change.csv"
"""Per claim, AOI and sensor: pixel-change area between the claim's window composites and the scenes in each."""
GROUND_CHANGE_GEOJSON = "claim_ground_change.geojson"
"""The pixel-change polygons behind :data:`GROUND_CHANGE_CSV` (EPSG:4326), for a GIS user."""
SERIES_COLUMNS = (
    "aoi", "class", "sensor", "date", "acquired", "scene_id", "window", "count", "observed_fraction", "used",
    "excluded_reason", "min_object_length_m", "simulated",
)
"""Columns of :func:`acquisition_series` and :func:`arrival_series`. ``count`` is the measure's value (objects,
or m2 for area measures, or arrivals); ``observed_fraction`` is the exposure used by the window comparison
(arrivals: weeks since the previous used acquisition)."""


@dataclass(frozen=True, eq=False)
class RunData:
    """What a run folder holds that verdicts read (small tables, no pixels)."""

    run_dir: Path
    """The run folder."""
    record: dict[str, Any]
    """``run.json``."""
    scenes: pd.DataFrame
    """``scenes.geojson`` without geometry: ``scene_id, aoi, sensor, acquired, observed_fraction,
    min_object_length_m, path, simulated, ...``; ``acquired`` as UTC ISO 8601 text."""
    detections: gpd.GeoDataFrame
    """``detections.geojson`` in the detections contract (EPSG:4326)."""
    ground_change: pd.DataFrame
    """``claim_ground_change.csv`` (empty when the run has none)."""

    @property
    def simulated(self) -> bool:
        """True when the run's imagery was simulated."""
        return bool(self.record.get("simulated")) or (
            bool(self.scenes["simulated"].astype(bool).any()) if len(self.scenes) else False)

    @property
    def detector_name(self) -> str:
        """Name and version of the run's detector (``run.json`` ``detector.name``)."""
        det = self.record.get("detector") or {}
        return str(det.get("name") or (self.record.get("parameters") or {}).get("detector") or "unknown")

    def classes_for(self, sensor: str) -> tuple[str, ...]:
        """Classes the run's detector reports on ``sensor``.

        ``detector.classes_by_sensor`` of ``run.json`` when recorded, else ``detector.classes``.
        """
        det = self.record.get("detector") or {}
        by_sensor = det.get("classes_by_sensor")
        if isinstance(by_sensor, dict) and sensor in by_sensor:
            return tuple(str(c) for c in by_sensor[sensor])
        return tuple(str(c) for c in det.get("classes", ()))

    def sensors_of(self, aoi: str) -> tuple[str, ...]:
        """Sensors with at least one acquisition of ``aoi`` in the run, sorted."""
        if self.scenes.empty:
            return ()
        return tuple(sorted(set(self.scenes.loc[self.scenes["aoi"] == aoi, "sensor"].astype(str))))


def load_run(run_dir: str | Path, record: dict[str, Any] | None = None) -> RunData:
    """Read the tables verdicts need from a run folder.

    ``record``: the run's ``run.json`` content when the caller holds it in memory (the assemble stage judges
    claims before it writes ``run.json``, once); default: read from the folder.

    Raises:
        InputFileError: ``run.json`` (when ``record`` is None) or ``scenes.geojson`` is missing (not a run folder).
    """
    run = Path(run_dir)
    for name in ("scenes.geojson",) if record is not None else ("run.json", "scenes.geojson"):
        if not (run / name).is_file():
            raise InputFileError(f"{run / name} is missing; is {run} a satwatch run folder?")
    if record is None:
        record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    scenes_gdf = gpd.read_file(run / "scenes.geojson")
    scenes = pd.DataFrame(scenes_gdf.drop(columns="geometry"))
    if len(scenes):
        acquired = scenes["acquired"]
        if pd.api.types.is_datetime64_any_dtype(acquired.dtype):
            scenes["acquired"] = pd.to_datetime(acquired, utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        scenes["acquired"] = scenes["acquired"].astype(str)
        scenes["simulated"] = scenes["simulated"].astype(bool)
        scenes = scenes.sort_values(["aoi", "sensor", "acquired"], ignore_index=True)
    else:
        scenes = pd.DataFrame(columns=["scene_id", "aoi", "sensor", "acquired", "observed_fraction",
                                       "min_object_length_m", "path", "simulated"])
    det_path = run / "detections.geojson"
    detections = as_detections(gpd.read_file(det_path)) if det_path.is_file() else empty_detections()
    gc_path = run / GROUND_CHANGE_CSV
    ground = pd.read_csv(gc_path, dtype={"claim": str}) if gc_path.is_file() else pd.DataFrame(
        columns=["claim", "aoi", "sensor", "area_m2", "baseline_scenes", "test_scenes", "baseline", "test"])
    return RunData(run_dir=run, record=record, scenes=scenes, detections=detections, ground_change=ground)


def window_of(day: date, baseline: Window, test: Window) -> str:
    """``baseline``, ``test`` or ``""`` for a UTC day."""
    if baseline.start <= day <= baseline.end:
        return "baseline"
    if test.start <= day <= test.end:
        return "test"
    return ""


def _scene_rows(run: RunData, aoi: str, sensor: str, baseline: Window, test: Window,
                min_observed: float) -> pd.DataFrame:
    sc = run.scenes[(run.scenes["aoi"] == aoi) & (run.scenes["sensor"] == sensor)].copy()
    if sc.empty:
        return sc.assign(date=[], window=[], used=[], excluded_reason=[])
    sc["date"] = sc["acquired"].str.slice(0, 10)
    sc["window"] = [window_of(date.fromisoformat(d), baseline, test) for d in sc["date"]]
    sc = sc[sc["window"] != ""].copy()
    obs = sc["observed_fraction"].astype(float)
    sc["used"] = obs >= min_observed
    sc["excluded_reason"] = np.where(
        sc["used"], "", np.where(obs <= 0, "not observed", f"observed_fraction < {min_observed:g}"))
    return sc.sort_values("acquired", ignore_index=True)


def _finish(rows: pd.DataFrame, values: pd.Series, cls: str) -> pd.DataFrame:
    out = pd.DataFrame({
        "aoi": rows["aoi"].astype(str), "class": cls, "sensor": rows["sensor"].astype(str),
        "date": rows["date"], "acquired": rows["acquired"], "scene_id": rows["scene_id"].astype(str),
        "window": rows["window"], "count": values.to_numpy(dtype=float),
        "observed_fraction": rows["observed_fraction"].astype(float), "used": rows["used"].astype(bool),
        "excluded_reason": rows["excluded_reason"],
        "min_object_length_m": rows.get("min_object_length_m", pd.Series(np.nan, index=rows.index)).astype(float),
        "simulated": rows["simulated"].astype(bool),
    })
    return out.reset_index(drop=True)


def acquisition_series(
    run: RunData, indicator: Indicator, sensor: str, baseline: Window, test: Window,
    min_observed: float = MIN_OBSERVED_FRACTION,
) -> pd.DataFrame:
    """Return the indicator's value on every acquisition of its AOI by ``sensor`` inside the two windows.

    Count measures count detections of the measure's class (``large_vessel_presence``: vessels with
    ``length_m >= min_length_m``); area measures sum ``area_m2`` of the class's polygon detections. Only the
    detections of the scene count; an acquisition with none is a measured zero with its observed fraction.

    Returns:
        Columns :data:`SERIES_COLUMNS`, one row per acquisition, oldest first; ``window`` is ``baseline`` or
        ``test``.
    """
    spec = indicator.spec
    rows = _scene_rows(run, indicator.aoi, sensor, baseline, test, min_observed)
    cls = spec.cls or ""
    if rows.empty:
        return pd.DataFrame(columns=list(SERIES_COLUMNS))
    det = run.detections
    det = det[(det["aoi"] == indicator.aoi) & (det["sensor"] == sensor) & (det["class"] == cls)]
    if indicator.measure == "large_vessel_presence":
        det = det[det["length_m"].to_numpy(dtype=float) >= indicator.min_length_m]
    if spec.kind == "area":
        det = det[det.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
        per_scene = det.groupby("scene_id")["area_m2"].sum()
    else:
        per_scene = det.groupby("scene_id").size()
    values = rows["scene_id"].astype(str).map(per_scene).fillna(0.0).astype(float)
    return _finish(rows, values, cls)


def arrival_series(
    run: RunData, indicator: Indicator, sensor: str, baseline: Window, test: Window,
    min_observed: float = MIN_OBSERVED_FRACTION, min_sightings: int = 1,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Vessel arrivals per used acquisition, with the weeks since the previous used acquisition as exposure.

    Vessel detections of the used acquisitions of both windows are linked into presences
    (:func:`satwatch.change.matching.match_presences`, 50 m, one missed acquisition allowed). An arrival is a
    presence first seen on acquisition ``i > 0`` of that sequence (and seen on at least ``min_sightings``
    acquisitions). It is counted on acquisition ``i``, whose exposure is the time since acquisition ``i - 1``
    in weeks; the window comparison then gives arrivals per week. Excluded (too little observed) acquisitions
    are listed with no exposure. Every new presence counts by default: false alarms and ships the detector
    missed twice in a row then add "arrivals" to both windows alike, which widens the interval but does not
    bias the difference; requiring two sightings would instead drop every arrival on the last acquisition, a
    bias against the test window.

    Returns:
        ``(series, presences)``: the series (columns :data:`SERIES_COLUMNS`; ``observed_fraction`` holds the
        exposure in weeks) and the linked presences (``satwatch.change.matching.PRESENCE_COLUMNS``) with a
        column ``arrival`` (bool).
    """
    rows = _scene_rows(run, indicator.aoi, sensor, baseline, test, min_observed)
    if rows.empty:
        return pd.DataFrame(columns=list(SERIES_COLUMNS)), gpd.GeoDataFrame(geometry=[], crs=4326)
    used = rows[rows["used"]].reset_index(drop=True)
    det = run.detections[(run.detections["aoi"] == indicator.aoi) & (run.detections["sensor"] == sensor)]
    presences = match_presences(det, used[["aoi", "sensor", "acquired", "scene_id"]], ("vessel",))
    first_acq = used["acquired"].iloc[0] if len(used) else ""
    arrival = ((presences["first_seen"].astype(str) != first_acq)
               & (presences["n_seen"].astype(int) >= min_sightings))
    presences = presences.assign(arrival=arrival.astype(bool))
    arrivals = presences.loc[presences["arrival"].to_numpy(dtype=bool), "first_seen"].astype(str).value_counts()
    times = pd.to_datetime(rows["acquired"], utc=True)
    used_times = times[rows["used"].to_numpy()]
    previous = used_times.shift(1)
    weeks = ((used_times - previous).dt.total_seconds() / (7 * 86400.0)).reindex(rows.index)
    exposure = np.where(rows["used"].to_numpy(), weeks.fillna(0.0).to_numpy(dtype=float), 0.0)
    values = rows["acquired"].map(arrivals).fillna(0.0).astype(float)
    series = _finish(rows, values, "vessel")
    series["observed_fraction"] = np.round(exposure, 4)
    # The first used acquisition has no previous one: nothing can be an arrival there, so it carries no exposure.
    series.loc[series["used"] & (series["observed_fraction"] <= 0), "used"] = False
    series.loc[(series["excluded_reason"] == "") & ~series["used"], "excluded_reason"] = "first used acquisition"
    return series, presences
