"""Rendering one simulated acquisition: :func:`render` gives a :class:`Rendered`, the scene and its truth.

The scene is ``(bands, H, W)`` float32 on the AOI's bounding-box grid in its UTM zone (VHR: a window); the truth a
GeoDataFrame in EPSG:4326 (:data:`~satwatch.imagery.simulated.truth.TRUTH_COLUMNS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import geopandas as gpd
from pyproj import CRS

from satwatch.aoi import AOI
from satwatch.errors import UsageError
from satwatch.imagery.scenario import Scenario
from satwatch.imagery.scene import SENSOR_BANDS, SENSORS, Scene, SceneMeta
from satwatch.imagery.simulated.arrays import F32
from satwatch.imagery.simulated.grid import GSD_M, _bbox_grid
from satwatch.imagery.simulated.objects import _present
from satwatch.imagery.simulated.sensors import _render_s1, _render_s2, _render_vhr, _vhr_grid
from satwatch.imagery.simulated.truth import _truth
from satwatch.imagery.simulated.world import _world


@dataclass(frozen=True, eq=False)
class Rendered:
    """One simulated scene and the ground truth of what was planted in it."""

    scene: Scene
    """The scene (``meta.source = "simulated"``, ``meta.simulated = True``, ``meta.aoi`` = the AOI id)."""
    truth: gpd.GeoDataFrame = field(repr=False)
    """Planted objects present in the scene, EPSG:4326, columns :data:`TRUTH_COLUMNS` + ``geometry``."""
    properties: dict[str, Any] = field(default_factory=dict, hash=False)
    """STAC properties of the rendering conditions (cloud cover in percent, sun, wind, orbit, scenario; for
    Sentinel-2 ``satwatch:bright_hulls``, the object ids of the vessels whose hulls SCL marks as cloud)."""


def render(aoi: AOI, acquired: datetime, sensor: str, scenario: Scenario) -> Rendered:
    """Render one simulated acquisition of ``aoi`` by ``sensor`` at ``acquired``, with its ground truth.

    Args:
        aoi: the AOI; its UTM zone (``aoi.utm_epsg``) is the scene CRS.
        acquired: acquisition time (aware UTC; naive is taken as UTC). Planted values are those of its UTC date.
        sensor: ``s2`` (10 m, 7 bands), ``s1`` (10 m, VV/VH dB) or ``vhr`` (0.5 m RGBN window <= 2048 px).
        scenario: planted activity, seed and cloudiness.

    Returns:
        :class:`Rendered`: the scene ``(bands, H, W)`` float32 on the AOI's bounding-box grid (VHR: a window)
        and the truth GeoDataFrame. The same inputs always give bit-identical arrays.

    Raises:
        UsageError: unknown sensor.
        ScenarioError: the AOI has no room for the planted activity (e.g. no water for vessels at anchor).

    Example:
        >>> from satwatch.aoi import load_catalog
        >>> from satwatch.imagery.scenario import load_scenario
        >>> s = load_scenario("scenarios/tiny.yaml")
        >>> aoi = load_catalog()["ru_dunai"]
        >>> r = render(aoi, s.acquisitions(aoi, "s2")[0], "s2", s)
        >>> r.scene.bands[-1], bool(r.truth["simulated"].all())
        ('SCL', True)
    """
    if sensor not in SENSORS:
        raise UsageError(f"sensor {sensor!r} is not one of {', '.join(SENSORS)}")
    when = acquired.replace(tzinfo=UTC) if acquired.tzinfo is None else acquired.astimezone(UTC)
    world = _world(aoi, scenario.seed, scenario.activities(aoi.id))
    grid = _vhr_grid(world) if sensor == "vhr" else _bbox_grid(aoi, GSD_M[sensor])
    present = _present(world, scenario, aoi.id, when)
    meta = SceneMeta(sensor=sensor, acquired=when, source="simulated", simulated=True, aoi=aoi.id)
    scl: F32 | None = None
    if sensor == "s2":
        data, props = _render_s2(world, aoi, scenario, grid, when, present)
        scl = data[6]
    elif sensor == "s1":
        data, props = _render_s1(world, aoi, scenario, grid, when, present)
    else:
        data, props = _render_vhr(world, aoi, scenario, grid, when, present)
    scene = Scene(data=data, bands=SENSOR_BANDS[sensor], crs=CRS.from_epsg(world.epsg), transform=grid.transform,
                  meta=meta)
    truth = _truth(present, grid, meta, world.epsg, scl)
    props.update({"satwatch:scenario": scenario.name, "satwatch:scenario_seed": scenario.seed,
                  "satwatch:planted_objects": len(truth)})
    return Rendered(scene=scene, truth=truth, properties=props)
