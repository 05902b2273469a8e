"""Where planted objects sit in the static world: vessels, piers, vehicle parks and the encampment site.

Map metres of the AOI's UTM zone; headings in degrees clockwise from grid north. Vessels lie at berths along pier
sides (``_piers``), at anchor in open water or on straight lanes (``_Vessel``); vehicle parks (``_Park``) and the
encampment (``_Camp``) take open land off roads. Object ``k`` of an activity has its size fixed by its index
(``_activity_lengths``), so it keeps its place and size on every date.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from satwatch.errors import ScenarioError
from satwatch.imagery.scenario import Activity
from satwatch.imagery.simulated.arrays import F64
from satwatch.imagery.simulated.grid import _Lattice
from satwatch.imagery.simulated.materials import _DECKS
from satwatch.imagery.simulated.noise import _rng


@dataclass(frozen=True)
class _Vessel:
    """One planted vessel (its place for berth/anchor; its lane for moving ones)."""

    object_id: str
    """Stable id ``<aoi>-vessel-<where>-<k>``."""
    where: str
    """``berth``, ``anchor`` or ``moving``."""
    x: float
    """Hull centre, map x (moving: lane start)."""
    y: float
    """Hull centre, map y (moving: lane start)."""
    heading: float
    """Bow direction, degrees clockwise from grid north (moving: lane direction)."""
    length: float
    """Hull length, m."""
    width: float
    """Beam, m."""
    deck: int
    """Row of the deck palette."""
    lane: tuple[float, float, float, float] | None = None
    """Moving vessels: lane ``(x_start, y_start, x_end, y_end)``, map metres."""


@dataclass(frozen=True)
class _Park:
    """A vehicle park: a gravel lot with vehicles side by side in rows."""

    object_id: str
    """Stable id ``<aoi>-vehicle-land-<k>``."""
    x: float
    """Lot centre, map x."""
    y: float
    """Lot centre, map y."""
    heading: float
    """Direction vehicles point, degrees clockwise from grid north (rows run across it)."""
    rows: int = 6
    """Rows of vehicles."""
    per_row: int = 10
    """Vehicles per row."""
    pitch_side: float = 4.5
    """Centre spacing of vehicles within a row, m."""
    pitch_row: float = 14.0
    """Centre spacing of rows, m."""

    @property
    def capacity(self) -> int:
        """Vehicles the lot holds."""
        return self.rows * self.per_row

    @property
    def lot_size(self) -> tuple[float, float]:
        """``(along, across)`` lot extent in metres (along = vehicle direction)."""
        return self.rows * self.pitch_row + 10.0, self.per_row * self.pitch_side + 10.0


@dataclass(frozen=True)
class _Camp:
    """An encampment: a rectangle of compacted ground growing about a fixed centre, tents in a fixed lattice."""

    object_id: str
    """Stable id ``<aoi>-encampment-land-000``."""
    x: float
    """Centre, map x."""
    y: float
    """Centre, map y."""
    heading: float
    """Direction of the long side, degrees clockwise from grid north."""
    aspect: float = 1.6
    """Long side / short side."""
    pitch_long: float = 14.0
    """Tent lattice spacing along the long side, m."""
    pitch_short: float = 9.0
    """Tent lattice spacing along the short side, m."""

    def sides(self, area: float) -> tuple[float, float]:
        """``(long, short)`` sides in metres of the rectangle of ``area`` m2."""
        long_side = math.sqrt(area * self.aspect)
        return long_side, (area / long_side if long_side > 0 else 0.0)


def _activity_lengths(seed: int, aoi_id: str, act: Activity) -> list[tuple[float, float, int]]:
    """``(length, width, deck)`` of every object an activity can plant, fixed per object index."""
    out = []
    for k in range(int(act.max_value)):
        rng = _rng(seed, aoi_id, act.cls, act.where, k, "hull")
        if act.length_m is not None:
            length = float(rng.uniform(act.length_m[0], act.length_m[1]))
        else:  # harbour traffic: many small craft and coasters, few large ships
            length = float(min(300.0, 20.0 + rng.lognormal(math.log(45.0), 0.8)))
        width = max(4.0, length / 6.5 * float(rng.uniform(0.9, 1.1)))
        out.append((round(length, 1), round(width, 1), int(rng.integers(len(_DECKS)))))
    return out


def _rect(x: float, y: float, heading: float, along: float, across: float) -> Polygon:
    """Rectangle centred at ``(x, y)`` with sides ``along`` (in the heading direction) and ``across``, map m."""
    t = math.radians(heading)
    fx, fy = math.sin(t), math.cos(t)
    rx, ry = math.cos(t), -math.sin(t)
    a, b = along / 2, across / 2
    return Polygon([(x + fx * sa * a + rx * sb * b, y + fy * sa * a + ry * sb * b)
                    for sa, sb in ((1, 1), (1, -1), (-1, -1), (-1, 1))])


def _piers(rng: np.random.Generator, sdist: _Lattice, poly: BaseGeometry, n_piers: int,
           berth_length_needed: float) -> tuple[list[Polygon], list[tuple[float, float, float, float, float, float]]]:
    """Piers from the coast into open water: polygons and axes ``(x_root, y_root, dx, dy, length, width)``."""
    values = sdist.values
    grad = np.gradient(values)
    gy, gx = np.asarray(grad[0], dtype=np.float64), np.asarray(grad[1], dtype=np.float64)
    # Coast nodes: water right at the shore, well inside the AOI.
    rows, cols = np.nonzero((values < 0) & (values > -30))
    if rows.size == 0:
        return [], []
    xs = sdist.x0 + cols * sdist.step
    ys = sdist.y0 - rows * sdist.step
    inner = poly.buffer(-250)
    keep = shapely.contains_xy(inner, xs, ys) if not inner.is_empty else np.zeros(xs.shape, bool)
    rows, cols, xs, ys = rows[keep], cols[keep], xs[keep], ys[keep]
    order = rng.permutation(rows.size)
    piers: list[Polygon] = []
    axes: list[tuple[float, float, float, float, float, float]] = []
    capacity = 0.0
    for i in order[: min(order.size, 4000)]:
        if len(piers) >= max(n_piers, 1) and capacity >= berth_length_needed:
            break
        if len(piers) >= 24:
            break
        # Direction towards water: down the distance gradient (map y grows opposite to rows).
        ddx, ddy = -float(gx[rows[i], cols[i]]), float(gy[rows[i], cols[i]])
        norm = math.hypot(ddx, ddy)
        if norm < 1e-6:
            continue
        ddx, ddy = ddx / norm, ddy / norm
        length = float(rng.uniform(180, 420))
        width = float(rng.uniform(25, 45))
        t = np.arange(20.0, length + 120.0, 20.0)
        ahead = sdist.at(xs[i] + ddx * t, ys[i] + ddy * t)
        if not np.all(ahead < -(0.45 * t) + 5) or ahead[-1] > -0.6 * length:
            continue
        if any(math.hypot(xs[i] - a[0], ys[i] - a[1]) < 250 + 0.5 * (length + a[4]) * 0.3 for a in axes):
            continue
        shape = LineString([(xs[i] - ddx * 25, ys[i] - ddy * 25), (xs[i] + ddx * length, ys[i] + ddy * length)])
        pier = shape.buffer(width / 2, cap_style="flat")
        if any(pier.buffer(120).intersects(p) for p in piers) or not poly.contains(pier):
            continue
        piers.append(pier)
        axes.append((float(xs[i]), float(ys[i]), ddx, ddy, length, width))
        capacity += 2 * (length - 20.0)
    return piers, axes


def _hull_on_water(sdist: _Lattice, x: float, y: float, heading: float, length: float, width: float,
                   margin: float) -> bool:
    corners = np.asarray(_rect(x, y, heading, length + 2 * margin, width + 2 * margin).exterior.coords)
    pts = np.vstack([corners, [[x, y]]])
    return bool(np.all(sdist.at(pts[:, 0], pts[:, 1]) < -1.0))


def _compass(dx: float, dy: float) -> float:
    return math.degrees(math.atan2(dx, dy)) % 360.0


def _berth_vessels(seed: int, aoi_id: str, act: Activity, axes: Sequence[tuple[float, float, float, float, float,
                   float]], piers: Sequence[Polygon], sdist: _Lattice) -> tuple[_Vessel, ...]:
    """Vessels moored along pier sides in order, bows towards the pier heads."""
    hulls = _activity_lengths(seed, aoi_id, act)
    sides = [(a, s) for a in axes for s in (1.0, -1.0)]
    out: list[_Vessel] = []
    side_i, cursor = 0, 25.0
    for k, (length, width, deck) in enumerate(hulls):
        placed = False
        while side_i < len(sides) and not placed:
            (x0, y0, dx, dy, plen, pwid), s = sides[side_i]
            if cursor + length > plen - 5:
                side_i, cursor = side_i + 1, 25.0
                continue
            along = cursor + length / 2
            off = s * (pwid / 2 + width / 2 + 1.5)
            x = x0 + dx * along + dy * off
            y = y0 + dy * along - dx * off
            heading = _compass(dx, dy)
            cursor += 20.0
            if _hull_on_water(sdist, x, y, heading, length, width, 0.5) and not any(
                    p.intersects(_rect(x, y, heading, length, width)) for p in piers):
                out.append(_Vessel(f"{aoi_id}-vessel-berth-{k:03d}", "berth", round(x, 2), round(y, 2),
                                   round(heading, 2), length, width, deck))
                cursor += length - 20.0 + 12.0
                placed = True
        if not placed:
            raise ScenarioError(f"AOI {aoi_id} has berths for {len(out)} vessels, fewer than the {len(hulls)} "
                                "planted; lower the berth count or plant some at anchor")
    return tuple(out)


def _water_candidates(sdist: _Lattice, poly: BaseGeometry, depth: float, inset: float) -> tuple[F64, F64]:
    rows, cols = np.nonzero(sdist.values < -depth)
    xs = np.asarray(sdist.x0 + cols * sdist.step, dtype=np.float64)
    ys = np.asarray(sdist.y0 - rows * sdist.step, dtype=np.float64)
    inner = poly.buffer(-inset)
    if inner.is_empty:
        return xs[:0], ys[:0]
    keep = shapely.contains_xy(inner, xs, ys)
    return xs[keep], ys[keep]


def _anchor_vessels(seed: int, aoi_id: str, act: Activity, sdist: _Lattice, poly: BaseGeometry,
                    piers: Sequence[Polygon]) -> tuple[_Vessel, ...]:
    """Vessels at anchor in open water, spread apart, away from piers."""
    hulls = _activity_lengths(seed, aoi_id, act)
    rng = _rng(seed, aoi_id, "anchorage")
    out: list[_Vessel] = []
    pier_union = shapely.union_all(list(piers)) if piers else None
    for depth in (500.0, 300.0, 150.0, 60.0):
        xs, ys = _water_candidates(sdist, poly, depth, 200.0)
        if xs.size >= max(1, len(hulls)):
            break
    if len(hulls) and xs.size == 0:
        raise ScenarioError(f"AOI {aoi_id} has no open water for vessels at anchor; plant them at another AOI")
    order = rng.permutation(xs.size)
    j = 0
    for k, (length, width, deck) in enumerate(hulls):
        while j < order.size:
            x, y = float(xs[order[j]]), float(ys[order[j]])
            j += 1
            if any(math.hypot(x - v.x, y - v.y) < 120 + length + v.length for v in out):
                continue
            if pier_union is not None and pier_union.distance(Point(x, y)) < 250:
                continue
            if not _hull_on_water(sdist, x, y, 0.0, length, length, 5.0):
                continue
            out.append(_Vessel(f"{aoi_id}-vessel-anchor-{k:03d}", "anchor", round(x, 2), round(y, 2), 0.0, length,
                               width, deck))
            break
        else:
            raise ScenarioError(f"AOI {aoi_id} has room for {len(out)} vessels at anchor, fewer than the "
                                f"{len(hulls)} planted; lower the anchor count")
    return tuple(out)


def _moving_vessels(seed: int, aoi_id: str, act: Activity, sdist: _Lattice,
                    poly: BaseGeometry) -> tuple[_Vessel, ...]:
    """Vessels under way, each on its own straight lane through open water."""
    hulls = _activity_lengths(seed, aoi_id, act)
    rng = _rng(seed, aoi_id, "lanes")
    for depth in (300.0, 150.0, 80.0):
        xs, ys = _water_candidates(sdist, poly, depth, 150.0)
        if xs.size > 2:
            break
    out: list[_Vessel] = []
    for k, (length, width, deck) in enumerate(hulls):
        for _ in range(400):
            if xs.size < 2:
                break
            i, j = rng.integers(xs.size, size=2)
            x0, y0, x1, y1 = float(xs[i]), float(ys[i]), float(xs[j]), float(ys[j])
            span = math.hypot(x1 - x0, y1 - y0)
            if span < max(800.0, 6 * length):
                continue
            t = np.linspace(0, 1, max(4, int(span / 40)))
            if not np.all(sdist.at(x0 + t * (x1 - x0), y0 + t * (y1 - y0)) < -(length / 2 + 30)):
                continue
            out.append(_Vessel(f"{aoi_id}-vessel-moving-{k:03d}", "moving", x0, y0,
                               round(_compass(x1 - x0, y1 - y0), 2), length, width, deck, lane=(x0, y0, x1, y1)))
            break
        else:
            raise ScenarioError(f"AOI {aoi_id} has no open water lane for moving vessel {k}; lower the moving count")
        if len(out) <= k:
            raise ScenarioError(f"AOI {aoi_id} has no open water for moving vessels; plant them at another AOI")
    return tuple(out)


def _land_site(rng: np.random.Generator, sdist: _Lattice, urban: _Lattice, poly: BaseGeometry,
               roads: Sequence[LineString], taken: Sequence[tuple[float, float, float]], along: float,
               across: float, near: tuple[float, float] | None, what: str, aoi_id: str) -> tuple[float, float, float]:
    """Pick a centre and heading for a rectangle of open land (not urban, not water, off roads and other sites)."""
    radius = 0.5 * math.hypot(along, across)
    inner = poly.buffer(-(radius + 30))
    sub = 3
    xs = sdist.xs[::sub]
    ys = sdist.ys[::sub]
    mx, my = np.meshgrid(xs, ys)
    gx, gy = mx.ravel(), my.ravel()
    if inner.is_empty:
        raise ScenarioError(f"AOI {aoi_id} is too small for {what}; lower the planted amount")
    ok = shapely.contains_xy(inner, gx, gy)
    ok &= sdist.values[::sub, ::sub].ravel() > radius + 40
    for limit in (0.5, 0.62, 10.0):
        cand = ok & (urban.values[::sub, ::sub].ravel() < limit)
        if cand.any():
            break
    idx = np.flatnonzero(cand)
    if idx.size == 0:
        raise ScenarioError(f"AOI {aoi_id} has no open land for {what}; lower the planted amount")
    if near is not None:
        d = np.hypot(gx[idx] - near[0], gy[idx] - near[1])
        idx = idx[np.argsort(d + rng.uniform(0, 150, idx.size))]
    else:
        idx = rng.permutation(idx)
    road_union = shapely.union_all(list(roads)) if roads else None
    heading = float(rng.uniform(0, 180))
    for i in idx[:3000]:
        x, y = float(gx[i]), float(gy[i])
        if any(math.hypot(x - tx, y - ty) < radius + tr for tx, ty, tr in taken):
            continue
        if road_union is not None and road_union.distance(Point(x, y)) < radius + 12:
            continue
        corners = np.asarray(_rect(x, y, heading, along, across).exterior.coords)
        if np.all(sdist.at(corners[:, 0], corners[:, 1]) > 25):
            return x, y, heading
    raise ScenarioError(f"AOI {aoi_id} has no open land for {what}; lower the planted amount")
