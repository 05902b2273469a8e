"""Planted objects at one acquisition: the vessels, vehicle parks, convoys and encampment present.

Counts are the scenario's planted values on the acquisition's UTC date; anchored vessels swing with the day's
wind, moving ones are somewhere on their lane, convoys somewhere on a road. Map metres of the AOI's UTM zone,
headings in degrees clockwise from grid north.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import shapely.ops
from shapely.geometry import Polygon

from satwatch.imagery.scenario import Scenario, stable_seed
from satwatch.imagery.scene import format_acquired
from satwatch.imagery.simulated.conditions import _wind
from satwatch.imagery.simulated.noise import _hash01, _rng
from satwatch.imagery.simulated.sites import _Camp, _compass, _Park, _Vessel
from satwatch.imagery.simulated.world import _World


@dataclass(frozen=True)
class _Ship:
    """A planted vessel as it is at one acquisition."""

    vessel: _Vessel
    """The vessel (identity, size, deck)."""
    x: float
    """Hull centre, map x (m)."""
    y: float
    """Hull centre, map y (m)."""
    heading: float
    """Bow direction, degrees clockwise from grid north."""
    speed_ms: float
    """Speed through the water, m/s (0 when moored or anchored)."""


@dataclass(frozen=True)
class _Convoy:
    """A convoy on a road at one acquisition."""

    object_id: str
    """Stable id ``<aoi>-vehicle-road-<g>``."""
    points: tuple[tuple[float, float, float], ...]
    """``(x, y, heading)`` of each vehicle, map metres and degrees."""
    corridor: Polygon
    """The stretch of road holding the convoy, 12 m wide (map metres)."""


@dataclass
class _Present:
    """What is planted at one acquisition (built up by :func:`_present`)."""

    ships: list[_Ship] = field(default_factory=list)
    """Vessels present."""
    parks: list[tuple[_Park, int]] = field(default_factory=list)
    """Vehicle parks in use and how many vehicles each holds."""
    convoys: list[_Convoy] = field(default_factory=list)
    """Convoys on roads."""
    camp: tuple[_Camp, float] | None = None
    """The encampment and its area in m2, when planted."""


def _present(world: _World, scenario: Scenario, aoi_id: str, acquired: datetime) -> _Present:
    day = acquired.astimezone(UTC).date()
    stamp = format_acquired(acquired)
    out = _Present()
    _, wind_from = _wind(scenario.seed, aoi_id, day)
    for where, vessels in world.vessels.items():
        n = int(scenario.value_at(aoi_id, "vessel", where, day))
        for v in vessels[:n]:
            if where == "berth":
                out.ships.append(_Ship(v, v.x, v.y, v.heading, 0.0))
            elif where == "anchor":
                rng = _rng(scenario.seed, v.object_id, day.isoformat(), "swing")
                heading = (wind_from + float(rng.normal(0, 20))) % 360.0
                out.ships.append(_Ship(v, v.x, v.y, round(heading, 2), 0.0))
            else:
                assert v.lane is not None
                rng = _rng(scenario.seed, v.object_id, stamp, "underway")
                x0, y0, x1, y1 = v.lane
                s = float(rng.uniform(0.15, 0.85))
                heading = v.heading if rng.random() < 0.5 else (v.heading + 180.0) % 360.0
                speed = float(rng.uniform(3.0, 7.5))
                out.ships.append(_Ship(v, x0 + s * (x1 - x0), y0 + s * (y1 - y0), round(heading, 2), speed))
    n_park = int(scenario.value_at(aoi_id, "vehicle", "land", day))
    for park in world.parks:
        k = min(n_park, park.capacity)
        if k > 0:
            out.parks.append((park, k))
        n_park -= k
    n_road = int(scenario.value_at(aoi_id, "vehicle", "road", day))
    g = 0
    while n_road > 0 and world.roads:
        size = min(20, n_road)
        road = world.roads[g % len(world.roads)]
        spacing = 30.0
        span = spacing * (size - 1)
        rng = _rng(scenario.seed, aoi_id, "convoy", g, stamp)
        start = float(rng.uniform(50.0, max(50.0, road.length - span - 50.0)))
        pts = []
        for i in range(size):
            s = start + i * spacing
            p, q = road.interpolate(s), road.interpolate(min(road.length, s + 5.0))
            heading = _compass(q.x - p.x, q.y - p.y) if q.distance(p) > 0 else 0.0
            pts.append((float(p.x), float(p.y), heading))
        piece = shapely.ops.substring(road, max(0.0, start - 8.0), min(road.length, start + span + 8.0))
        corridor = piece.buffer(6.0, cap_style="flat")
        out.convoys.append(_Convoy(f"{aoi_id}-vehicle-road-{g:03d}", tuple(pts), corridor))
        n_road -= size
        g += 1
    if world.camp is not None:
        area = scenario.value_at(aoi_id, "encampment", "land", day)
        if area > 0:
            out.camp = (world.camp, area)
    return out


def _tent_cells(camp: _Camp, area: float) -> list[tuple[int, int, int]]:
    """``(i, j, kind)`` of tent-lattice cells inside the camp of ``area``; kind 0 olive tent, 1 white, 2 shed."""
    long_side, short_side = camp.sides(area)
    ni = int((long_side / 2 - 4 - 5) // camp.pitch_long)
    nj = int((short_side / 2 - 4 - 3.5) // camp.pitch_short)
    out = []
    for i in range(-ni, ni + 1):
        for j in range(-nj, nj + 1):
            h = float(_hash01(np.array([i]), np.array([j]), stable_seed(camp.object_id, "tents"))[0])
            out.append((i, j, 2 if h < 0.07 else 1 if h < 0.22 else 0))
    return out
