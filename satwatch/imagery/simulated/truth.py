"""Ground truth of one rendered scene: a row per planted object present, in EPSG:4326.

Columns :data:`TRUTH_COLUMNS` + ``geometry``: vessels as Points at the hull centre, vehicle parks, convoys and the
encampment as Polygons (in VHR scenes every vehicle its own Point); ``visible`` follows the Sentinel-2 SCL rule
:func:`~satwatch.imagery.bands.scl_not_clear`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from satwatch.aoi import project_geometry
from satwatch.imagery.bands import scl_not_clear
from satwatch.imagery.scene import SceneMeta, format_acquired
from satwatch.imagery.simulated.arrays import F32, Bool
from satwatch.imagery.simulated.grid import _Grid
from satwatch.imagery.simulated.noise import _rng
from satwatch.imagery.simulated.objects import _Present, _tent_cells
from satwatch.imagery.simulated.sites import _rect

TRUTH_COLUMNS: dict[str, str] = {
    "object_id": "str",
    "class": "str",
    "where": "str",
    "length_m": "float64",
    "width_m": "float64",
    "heading_deg": "float64",
    "area_m2": "float64",
    "count": "int64",
    "moving": "bool",
    "simulated": "bool",
    "aoi": "str",
    "sensor": "str",
    "acquired": "str",
    "scene_id": "str",
    "visible": "bool",
}
"""Ground-truth columns and dtypes (then ``geometry``). ``object_id`` is ``<aoi>-<class>-<where>-<k:03d>`` and
stable across dates; ``length_m``/``width_m`` are hull or rectangle sides; ``heading_deg`` vessels only;
``area_m2`` polygons only (planar UTM area); ``count`` objects represented (1 per vessel, vehicles in a park or
convoy, tents and sheds in an encampment); ``visible`` is False where Sentinel-2 SCL flags the ground as not
clear (3, 8, 9, 10) by :func:`~satwatch.imagery.bands.scl_not_clear` (so a bright hull marked cloud on water
stays visible)."""


def _visible(not_clear: Bool | None, grid: _Grid, points: Sequence[tuple[float, float]]) -> bool:
    """Return False when most of the points fall where SCL says the ground is not clear.

    ``not_clear`` is :func:`~satwatch.imagery.bands.scl_not_clear` of the scene's SCL, the rule of
    ``satwatch.change.observability`` and of the detectors (cloud shadow, cloud, cirrus; ship-sized cloud blobs
    on water given back), so truth, detector search area and observed fraction agree on what could be seen.
    """
    if not_clear is None:
        return True
    hits = [grid.pixel(x, y) for x, y in points]
    flags = [bool(not_clear[p]) for p in hits if p is not None]
    return not flags or sum(flags) <= len(flags) / 2


def _polygon_points(poly: Polygon, n: int = 5) -> list[tuple[float, float]]:
    minx, miny, maxx, maxy = poly.bounds
    gx, gy = np.meshgrid(np.linspace(minx, maxx, n), np.linspace(miny, maxy, n))
    ok = shapely.contains_xy(poly, gx.ravel(), gy.ravel())
    pts = [(float(x), float(y)) for x, y in zip(gx.ravel()[ok], gy.ravel()[ok], strict=True)]
    c = poly.centroid
    return pts or [(float(c.x), float(c.y))]


def _truth(present: _Present, grid: _Grid, meta: SceneMeta, epsg: int, scl: F32 | None) -> gpd.GeoDataFrame:
    not_clear = None if scl is None else scl_not_clear(scl, grid.res)
    rows: list[dict[str, Any]] = []
    geoms: list[BaseGeometry] = []
    minx, miny, maxx, maxy = grid.bounds

    def inside(x: float, y: float) -> bool:
        return minx <= x < maxx and miny < y <= maxy

    def add(geom: BaseGeometry, **values: Any) -> None:
        rows.append(values)
        geoms.append(geom)

    base = {"simulated": True, "aoi": meta.aoi, "sensor": meta.sensor, "acquired": format_acquired(meta.acquired),
            "scene_id": meta.scene_id}
    for ship in present.ships:
        v = ship.vessel
        if not inside(ship.x, ship.y):
            continue
        add(Point(ship.x, ship.y), object_id=v.object_id, **{"class": "vessel"}, where=v.where, length_m=v.length,
            width_m=v.width, heading_deg=ship.heading, area_m2=math.nan, count=1, moving=ship.speed_ms > 0,
            visible=_visible(not_clear, grid, [(ship.x, ship.y)]), **base)
    if meta.sensor == "vhr":  # at <= 1 m single vehicles are the objects: one point per vehicle
        for park, n in present.parks:
            t = math.radians(park.heading)
            sizes = _rng(park.object_id, "vehicle-sizes").uniform(0.85, 1.25, (park.capacity, 2))
            for k in range(min(n, park.capacity)):
                ahead = (k // park.per_row - (park.rows - 1) / 2) * park.pitch_row
                right = (k % park.per_row - (park.per_row - 1) / 2) * park.pitch_side
                x = park.x + ahead * math.sin(t) + right * math.cos(t)
                y = park.y + ahead * math.cos(t) - right * math.sin(t)
                if inside(x, y):
                    add(Point(x, y), object_id=f"{park.object_id}-{k:03d}", **{"class": "vehicle"}, where="land",
                        length_m=round(7.0 * sizes[k, 0], 2), width_m=round(2.5 * sizes[k, 1], 2),
                        heading_deg=park.heading % 360.0, area_m2=math.nan, count=1, moving=False, visible=True,
                        **base)
        for convoy in present.convoys:
            for k, (x, y, heading) in enumerate(convoy.points):
                if inside(x, y):
                    add(Point(x, y), object_id=f"{convoy.object_id}-{k:03d}", **{"class": "vehicle"}, where="road",
                        length_m=7.6, width_m=2.6, heading_deg=heading % 360.0, area_m2=math.nan, count=1,
                        moving=True, visible=True, **base)
    else:  # at 10 m: vehicle parks and convoys as polygons with their vehicle count
        for park, n in present.parks:
            rows_used = math.ceil(n / park.per_row)
            cols_used = min(n, park.per_row)
            along = (rows_used - 1) * park.pitch_row + 7.0 * 1.25 + 4.0
            across = (cols_used - 1) * park.pitch_side + 2.5 * 1.25 + 4.0
            t = math.radians(park.heading)
            shift_u = (rows_used - park.rows) / 2 * park.pitch_row
            shift_v = (cols_used - park.per_row) / 2 * park.pitch_side
            cx = park.x + math.sin(t) * shift_u + math.cos(t) * shift_v
            cy = park.y + math.cos(t) * shift_u - math.sin(t) * shift_v
            if not inside(cx, cy):
                continue
            poly = _rect(cx, cy, park.heading, along, across)
            add(poly, object_id=park.object_id, **{"class": "vehicle"}, where="land", length_m=round(along, 2),
                width_m=round(across, 2), heading_deg=math.nan, area_m2=round(poly.area, 1), count=n, moving=False,
                visible=_visible(not_clear, grid, _polygon_points(poly)), **base)
        for convoy in present.convoys:
            c = convoy.corridor.centroid
            if not inside(c.x, c.y):
                continue
            add(convoy.corridor, object_id=convoy.object_id, **{"class": "vehicle"}, where="road",
                length_m=round(30.0 * (len(convoy.points) - 1) + 16.0, 2), width_m=12.0, heading_deg=math.nan,
                area_m2=round(convoy.corridor.area, 1), count=len(convoy.points), moving=True,
                visible=_visible(not_clear, grid, [(p[0], p[1]) for p in convoy.points]), **base)
    if present.camp is not None:
        camp, area = present.camp
        long_side, short_side = camp.sides(area)
        if inside(camp.x, camp.y):
            poly = _rect(camp.x, camp.y, camp.heading, long_side, short_side)
            add(poly, object_id=camp.object_id, **{"class": "encampment"}, where="land",
                length_m=round(long_side, 2), width_m=round(short_side, 2), heading_deg=math.nan,
                area_m2=round(area, 1), count=len(_tent_cells(camp, area)), moving=False,
                visible=_visible(not_clear, grid, _polygon_points(poly)), **base)
    frame = pd.DataFrame(rows, columns=list(TRUTH_COLUMNS)).astype(TRUTH_COLUMNS)
    geo = [project_geometry(g, epsg, 4326) for g in geoms]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geo, crs=4326), crs=4326)
