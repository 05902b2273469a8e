"""Counts per AOI, sensor, acquisition and class, each with the observability it was made under.

Every row holds the raw number of detections (``count``) and, from the detector's measured error
(:mod:`satwatch.change.error_model`), an estimate of the true number of objects with its 95% interval
(``estimated_count``, ``estimated_low``, ``estimated_high``) and where the figures come from (``error_source``:
``real``, ``simulated`` or ``unknown``, when the estimate is left empty). Formula: ``docs/change.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd

from satwatch.change.error_model import ErrorModel, estimate_true, unknown_model
from satwatch.change.observability import Observability

__all__ = ["COUNT_COLUMNS", "ESTIMATE_COLUMNS", "WATER_CLASSES", "add_estimates", "count_table"]

COUNT_COLUMNS = (
    "aoi", "sensor", "acquired", "scene_id", "class", "count", "area_m2", "observed_fraction", "cloud_fraction",
    "min_object_length_m", "observed_water_km2", "observed_land_km2", "observed_berth_km2", "per_km2",
    "estimated_count", "estimated_low", "estimated_high", "error_source", "simulated",
)
ESTIMATE_COLUMNS = ("estimated_count", "estimated_low", "estimated_high", "error_source")
"""Columns :func:`add_estimates` fills: the estimated true number, its 95% interval, the figures' source."""
WATER_CLASSES = ("vessel",)
"""Classes whose density is per km2 of observed water; the others are per km2 of observed land."""


def count_table(
    detections: gpd.GeoDataFrame,
    observations: Sequence[Observability],
    classes: Sequence[str] | Mapping[str, Sequence[str]],
    simulated: bool,
    error: Mapping[tuple[str, str], ErrorModel] | None = None,
) -> pd.DataFrame:
    """Count detections per scene and class, zeros included, with each scene's observability.

    Args:
        detections: detections of the scenes (DESIGN.md contract; needs ``scene_id``, ``class``, ``area_m2``).
        observations: one :class:`Observability` per scene processed (a scene with no detections still gets
            rows with ``count = 0``: "nothing seen" is a measurement, with its observed fraction).
        classes: the classes the detector can report, or per sensor (``{"s2": (...), "s1": (...)}``: a
            detector that reports encampments on Sentinel-2 but not on Sentinel-1 gets no encampment rows for
            Sentinel-1 scenes, never a false zero); only these get rows.
        simulated: whether the imagery was simulated (copied to every row).
        error: ``(sensor, class) -> ErrorModel`` of the detector that ran
            (:func:`satwatch.change.error_model.error_models`); missing pairs are ``unknown`` (no estimate).

    Returns:
        One row per (scene, class) with columns :data:`COUNT_COLUMNS`, sorted by aoi, sensor, acquired, class.
        ``area_m2`` is the summed area of polygon detections (encampments, vehicle parks); 0 for points.
        ``per_km2`` is the count per km2 of observed water (vessels) or observed land (other classes); empty
        when that area is unknown or zero. The estimate columns: :func:`add_estimates`.
    """
    rows = []
    by_key: dict[tuple[str, str], pd.DataFrame] = {}
    if len(detections):
        for (scene_id, cls), grp in detections.groupby(["scene_id", "class"]):
            by_key[(str(scene_id), str(cls))] = grp
    for obs in observations:
        scene_classes = classes.get(obs.sensor, ()) if isinstance(classes, Mapping) else classes
        for cls in scene_classes:
            grp = by_key.get((obs.scene_id, cls))
            n = 0 if grp is None else len(grp)
            area = 0.0 if grp is None else float(np.nansum(grp["area_m2"].to_numpy(dtype=float)))
            km2 = obs.observed_water_km2 if cls in WATER_CLASSES else obs.observed_land_km2
            per_km2 = round(n / km2, 4) if math.isfinite(km2) and km2 > 0 else float("nan")
            rows.append({
                "aoi": obs.aoi, "sensor": obs.sensor, "acquired": obs.acquired, "scene_id": obs.scene_id,
                "class": cls, "count": n, "area_m2": round(area, 1), "observed_fraction": obs.observed_fraction,
                "cloud_fraction": obs.cloud_fraction, "min_object_length_m": obs.min_object_length_m,
                "observed_water_km2": obs.observed_water_km2, "observed_land_km2": obs.observed_land_km2,
                "observed_berth_km2": obs.observed_berth_km2, "per_km2": per_km2, "simulated": simulated,
            })
    table = pd.DataFrame(rows, columns=list(COUNT_COLUMNS))
    table = add_estimates(table, error or {})
    return table.sort_values(["aoi", "sensor", "acquired", "class"], ignore_index=True)


def add_estimates(table: pd.DataFrame, error: Mapping[tuple[str, str], ErrorModel]) -> pd.DataFrame:
    """Fill :data:`ESTIMATE_COLUMNS` of a counts table from the detector's error models.

    Each row's detections become ``max(0, (count - false_alarms_per_km2 x area) / recall)`` with a Monte Carlo
    95% interval (:func:`satwatch.change.error_model.estimate_true`); the area is the scene's observed water for
    vessels, observed land for the other classes. A detector with a second false-alarm rate at berths applies it
    to ``observed_berth_km2`` (rows without that column: none). Rows whose model is unknown keep empty estimates and
    ``error_source = unknown``.
    """
    out = table.copy()
    for col in ESTIMATE_COLUMNS[:3]:
        out[col] = np.nan
    out["error_source"] = "unknown"
    if out.empty:
        return out
    for key, idx in out.groupby(["sensor", "class"]).groups.items():
        sensor, cls = (str(k) for k in key)  # type: ignore[attr-defined]
        model = error.get((sensor, cls)) or unknown_model("", sensor, cls, "no error model")
        rows = out.loc[idx]
        area_col = "observed_water_km2" if cls in WATER_CLASSES else "observed_land_km2"
        berth = rows["observed_berth_km2"].to_numpy(dtype=float) \
            if cls in WATER_CLASSES and "observed_berth_km2" in rows else None
        est, low, high = estimate_true(rows["count"].to_numpy(dtype=float), rows[area_col].to_numpy(dtype=float),
                                       model, berth_km2=berth)
        out.loc[idx, "estimated_count"] = np.round(est, 2)
        out.loc[idx, "estimated_low"] = np.round(low, 2)
        out.loc[idx, "estimated_high"] = np.round(high, 2)
        out.loc[idx, "error_source"] = model.source
    return out
