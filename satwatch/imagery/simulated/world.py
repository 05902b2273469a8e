"""The static world of one AOI for one scenario seed and planted activity, identical on every date and sensor.

``_world`` builds (once per process) a ``_World``: the signed distance to the coast (m, positive on land) from the
real land mask refined with fractal noise (inland AOIs may get a river), the land-cover fields, roads, piers and
quays, and the sites of the planted objects. Fields are ``_Lattice`` nodes every 20 m over the AOI's 10 m grid
and a 1 km margin; everything is in map metres of the AOI's UTM zone (``aoi.utm_epsg``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.ops
from pyproj import Transformer
from scipy import ndimage
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from satwatch.aoi import AOI
from satwatch.errors import ScenarioError
from satwatch.imagery.scenario import Activity, stable_seed
from satwatch.imagery.simulated.arrays import F32, F64, Bool
from satwatch.imagery.simulated.grid import _bbox_grid, _Lattice
from satwatch.imagery.simulated.land_mask import _ocean_fraction
from satwatch.imagery.simulated.materials import ASPHALT, CONCRETE, GRAVEL
from satwatch.imagery.simulated.noise import _fbm, _rng
from satwatch.imagery.simulated.sites import (
    _activity_lengths,
    _anchor_vessels,
    _berth_vessels,
    _Camp,
    _land_site,
    _moving_vessels,
    _Park,
    _piers,
    _rect,
    _Vessel,
)

_LATTICE_M = 20.0
_MARGIN_M = 1000.0


@dataclass(frozen=True)
class _World:
    """Everything static about one AOI for one scenario seed and planted activity."""

    aoi_id: str
    """AOI id."""
    epsg: int
    """UTM EPSG code of all map coordinates."""
    sdist: _Lattice
    """Signed distance to the coast, m: positive on land, negative on water."""
    urban: _Lattice
    """Urban-ness; > 0.62 is urban."""
    soil: _Lattice
    """Bare-soil-ness; > 0.38 is bare soil."""
    grass: _Lattice
    """Grass-ness; > 0.05 is grass, else forest."""
    texture: _Lattice
    """Static texture, about -1..1."""
    shapes: tuple[tuple[BaseGeometry, int], ...]
    """``(polygon, class)`` burnt over the land cover in order: roads, quays, piers, lots."""
    roads: tuple[LineString, ...]
    """Road centre lines (convoys drive on the longest)."""
    vessels: dict[str, tuple[_Vessel, ...]] = field(hash=False)
    """Planted vessels per ``where``, in object order (as many as the largest planted count)."""
    parks: tuple[_Park, ...]
    """Vehicle parks, filled in order."""
    camp: _Camp | None
    """The encampment site, when one is planted."""
    focus: tuple[float, float]
    """Centre of VHR windows, map metres."""
    bounds: tuple[float, float, float, float]
    """10 m grid bounds of the AOI, map metres."""
    quays: tuple[tuple[float, float], ...] = ()
    """Pier roots: the shore within 320 m of each is a concrete quay 45 m deep."""


@functools.lru_cache(maxsize=16)
def _world(aoi: AOI, seed: int, activities: tuple[Activity, ...]) -> _World:
    """Build (once per process) the static world of ``aoi`` for a scenario seed and its planted activity."""
    epsg = aoi.utm_epsg
    grid = _bbox_grid(aoi, 10.0)
    bminx, bminy, bmaxx, bmaxy = grid.bounds
    step = _LATTICE_M
    lx0 = math.floor((bminx - _MARGIN_M) / step) * step
    ly0 = math.ceil((bmaxy + _MARGIN_M) / step) * step
    nx = math.ceil((bmaxx + _MARGIN_M - lx0) / step) + 1
    ny = math.ceil((ly0 - (bminy - _MARGIN_M)) / step) + 1
    xs = np.asarray(lx0 + np.arange(nx) * step, dtype=np.float64)
    ys = np.asarray(ly0 - np.arange(ny) * step, dtype=np.float64)
    salt = stable_seed(seed, aoi.id, "world")
    rng = _rng(seed, aoi.id, "world")
    wants = {(a.cls, a.where): a for a in activities}
    plants_vessels = any(c == "vessel" for c, _ in wants)
    port = plants_vessels or "vessel" in aoi.watch

    # Land and water: the real 1 km mask (sampled on a 100 m sub-lattice) plus fractal detail.
    to_geo = Transformer.from_crs(epsg, 4326, always_xy=True)
    cxs, cys = xs[::5], ys[::5]
    glon, glat = to_geo.transform(*np.meshgrid(cxs, cys))
    ocean = _Lattice(float(cxs[0]), float(cys[0]), step * 5,
                     _ocean_fraction(np.asarray(glon), np.asarray(glat)).astype(np.float32))
    landness = 1.0 - ocean.sample(xs, ys) + 0.55 * _fbm(xs, ys, (1280, 640, 320, 160, 80, 40), salt + 1)
    land = _drop_specks(landness > 0.5, min_land_cells=int(0.05e6 / step**2), min_water_cells=int(0.02e6 / step**2))
    if land.all():
        sd = np.full(land.shape, 1e5, dtype=np.float32)
    elif not land.any():
        sd = np.full(land.shape, -1e5, dtype=np.float32)
    else:
        d_land = ndimage.distance_transform_edt(land)
        d_water = ndimage.distance_transform_edt(~land)
        sd = (np.where(land, d_land - 0.5, -(d_water - 0.5)) * step).astype(np.float32)
    inside_bbox = (slice(int(_MARGIN_M / step), ny - int(_MARGIN_M / step)),
                   slice(int(_MARGIN_M / step), nx - int(_MARGIN_M / step)))
    water_share = float((sd[inside_bbox] < 0).mean())
    sd = ndimage.gaussian_filter(sd, 1.0).astype(np.float32)
    if water_share < 0.02 and (plants_vessels or rng.random() < 0.7):
        width = 350.0 if plants_vessels else float(rng.uniform(45, 150))
        sd = np.minimum(sd, _river(xs, ys, grid.bounds, width, rng))
    sdist = _Lattice(float(lx0), float(ly0), step, sd)

    urban_v = 0.45 + 0.5 * _fbm(xs, ys, (3000, 1500, 750, 375, 190), salt + 2)
    if port:
        urban_v += 0.2 * np.exp(-np.maximum(sd, 0) / 1200.0)
    urban = _Lattice(float(lx0), float(ly0), step, urban_v.astype(np.float32))
    soil = _Lattice(float(lx0), float(ly0), step, _fbm(xs, ys, (1200, 600, 300, 150, 75), salt + 3))
    grass = _Lattice(float(lx0), float(ly0), step, _fbm(xs, ys, (1600, 800, 400, 200, 100), salt + 4))
    texture = _Lattice(float(lx0), float(ly0), step, _fbm(xs, ys, (320, 160, 80, 40), salt + 5, gain=0.7))

    poly = aoi.geometry_in(epsg)
    roads = _roads(rng, sdist, grid.bounds, poly.area)
    shapes: list[tuple[BaseGeometry, int]] = []
    piers: list[Polygon] = []
    pier_axes: list[tuple[float, float, float, float, float, float]] = []
    if port:
        n_piers = int(rng.integers(3, 7))
        berth = wants.get(("vessel", "berth"))
        hulls = _activity_lengths(seed, aoi.id, berth) if berth else []
        need = sum(h[0] + 12.0 for h in hulls)
        piers, pier_axes = _piers(rng, sdist, poly, n_piers, need)
    vessels: dict[str, tuple[_Vessel, ...]] = {}
    if ("vessel", "berth") in wants:
        vessels["berth"] = _berth_vessels(seed, aoi.id, wants[("vessel", "berth")], pier_axes, piers, sdist)
    if ("vessel", "anchor") in wants:
        vessels["anchor"] = _anchor_vessels(seed, aoi.id, wants[("vessel", "anchor")], sdist, poly, piers)
    if ("vessel", "moving") in wants:
        vessels["moving"] = _moving_vessels(seed, aoi.id, wants[("vessel", "moving")], sdist, poly)

    sites: list[tuple[float, float, float]] = []  # (x, y, radius) taken on land
    camp = None
    if ("encampment", "land") in wants:
        long_side, short_side = _Camp("", 0, 0, 0).sides(wants[("encampment", "land")].max_value)
        cx, cy, heading = _land_site(rng, sdist, urban, poly, roads, sites, long_side + 20, short_side + 20, None,
                                     f"an encampment of {wants[('encampment', 'land')].max_value:,.0f} m2", aoi.id)
        camp = _Camp(f"{aoi.id}-encampment-land-000", cx, cy, heading)
        sites.append((cx, cy, 0.5 * math.hypot(long_side, short_side) + 40))
    parks: list[_Park] = []
    if ("vehicle", "land") in wants:
        n_parks = math.ceil(wants[("vehicle", "land")].max_value / 60)
        near = (camp.x, camp.y) if camp else None
        for j in range(n_parks):
            proto = _Park("", 0, 0, 0)
            along, across = proto.lot_size
            px, py, heading = _land_site(rng, sdist, urban, poly, roads, sites, along, across, near,
                                         f"{n_parks} vehicle parks", aoi.id)
            parks.append(_Park(f"{aoi.id}-vehicle-land-{j:03d}", px, py, heading))
            sites.append((px, py, 0.5 * math.hypot(along, across) + 15))
            near = (px, py)
    for park in parks:
        along, across = park.lot_size
        shapes.append((_rect(park.x, park.y, park.heading, along, across), GRAVEL))
    access = _access_roads([(s[0], s[1]) for s in sites], roads, sdist)
    if ("vehicle", "road") in wants:
        needed = 30.0 * min(20.0, wants[("vehicle", "road")].max_value) + 100
        if not roads or max(r.length for r in roads) < needed:
            raise ScenarioError(f"AOI {aoi.id} has no road long enough for a convoy; lower the road vehicle count")
    road_polys = [(r.buffer(w / 2, cap_style="flat"), ASPHALT) for r, w in
                  [*((r, 9.0) for r in roads), *((a, 6.0) for a in access)]]
    shapes = [*road_polys, *((p, CONCRETE) for p in piers), *shapes]

    if camp is not None:
        focus = (camp.x, camp.y)
    elif parks:
        focus = (parks[0].x, parks[0].y)
    elif vessels.get("berth"):
        focus = (vessels["berth"][0].x, vessels["berth"][0].y)
    else:
        c = poly.centroid
        focus = (float(c.x), float(c.y))
    return _World(
        aoi_id=aoi.id, epsg=epsg, sdist=sdist, urban=urban, soil=soil, grass=grass, texture=texture,
        shapes=tuple(shapes), roads=tuple(sorted(roads, key=lambda r: -r.length)), vessels=vessels,
        parks=tuple(parks), camp=camp, focus=focus, bounds=grid.bounds,
        quays=tuple((a[0], a[1]) for a in pier_axes),
    )


def _drop_specks(land: Bool, min_land_cells: int, min_water_cells: int) -> Bool:
    """Remove islets and ponds smaller than the given sizes (lattice cells) that the fractal detail creates."""
    out = land.copy()
    for value, min_cells in ((True, min_land_cells), (False, min_water_cells)):
        labels, n = ndimage.label(out == value)
        if n:
            sizes = np.bincount(labels.ravel())
            small = sizes < min_cells
            small[0] = False
            out[small[labels]] = not value
    return out


def _river(xs: F64, ys: F64, bounds: tuple[float, float, float, float], width: float,
           rng: np.random.Generator) -> F32:
    """Signed distance (m, negative inside) to a meandering river crossing the AOI box."""
    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    cx += float(rng.uniform(-0.25, 0.25)) * (bounds[2] - bounds[0])
    cy += float(rng.uniform(-0.25, 0.25)) * (bounds[3] - bounds[1])
    ang = float(rng.uniform(0, math.pi))
    dx = xs[None, :] - cx
    dy = ys[:, None] - cy
    u = dx * math.cos(ang) + dy * math.sin(ang)
    v = -dx * math.sin(ang) + dy * math.cos(ang)
    a1, l1, p1 = rng.uniform(150, 450), rng.uniform(1500, 4000), rng.uniform(0, 2 * math.pi)
    a2, l2, p2 = rng.uniform(40, 150), rng.uniform(400, 1200), rng.uniform(0, 2 * math.pi)
    centre = a1 * np.sin(2 * math.pi * u / l1 + p1) + a2 * np.sin(2 * math.pi * u / l2 + p2)
    return (np.abs(v - centre) - width / 2).astype(np.float32)


def _roads(rng: np.random.Generator, sdist: _Lattice, bounds: tuple[float, float, float, float],
           area_m2: float) -> list[LineString]:
    """Meandering roads crossing the AOI, cut where they meet water, pieces shorter than 300 m dropped."""
    n = int(min(8, 2 + area_m2 / 40e6 + rng.integers(0, 2)))
    minx, miny, maxx, maxy = bounds
    half = 0.5 * math.hypot(maxx - minx, maxy - miny) + _MARGIN_M
    out: list[LineString] = []
    for _ in range(n):
        px, py = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        ang = rng.uniform(0, math.pi)
        t = np.arange(-half, half, 20.0)
        amp, lam, ph = rng.uniform(30, 180), rng.uniform(1500, 5000), rng.uniform(0, 2 * math.pi)
        off = amp * np.sin(2 * math.pi * t / lam + ph)
        x = px + t * math.cos(ang) - off * math.sin(ang)
        y = py + t * math.sin(ang) + off * math.cos(ang)
        ok = (sdist.at(x, y) > 12.0) & (x > minx - 500) & (x < maxx + 500) & (y > miny - 500) & (y < maxy + 500)
        out.extend(_runs(x, y, ok, 15))
    return out


def _runs(x: F64, y: F64, ok: Bool, min_points: int) -> list[LineString]:
    """LineStrings through consecutive ``ok`` points, runs of at least ``min_points``."""
    out = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a >= min_points:
            out.append(LineString(np.column_stack([x[a:b], y[a:b]])))
    return out


def _access_roads(sites: Sequence[tuple[float, float]], roads: Sequence[LineString],
                  sdist: _Lattice) -> list[LineString]:
    """Straight access roads from each site to the nearest road, when short and dry."""
    if not roads:
        return []
    union = shapely.union_all(list(roads))
    out = []
    for x, y in sites:
        p = Point(x, y)
        q = shapely.ops.nearest_points(p, union)[1]
        line = LineString([(x, y), (q.x, q.y)])
        if 0 < line.length < 2500:
            t = np.linspace(0, 1, max(3, int(line.length / 20)))
            if np.all(sdist.at(x + t * (q.x - x), y + t * (q.y - y)) > 5):
                out.append(line)
    return out
