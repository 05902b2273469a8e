"""Observability: how much of an AOI one acquisition actually shows, and the smallest object it can show.

A count is only a count of the AOI when the AOI was observed. For every scene this module measures, inside the
AOI polygon:

- ``valid_fraction``: share of the AOI area covered by valid pixels (inside the footprint, not nodata, and for
  Sentinel-2 not SCL no-data or defective, :data:`~satwatch.imagery.bands.SCL_INVALID`);
- ``cloud_fraction``: share of the valid AOI pixels flagged cloud, cloud shadow or cirrus by the Sentinel-2
  scene classification (SCL 3, 8, 9, 10) as :func:`~satwatch.imagery.bands.scl_not_clear` reads it: a
  ship-sized cloud blob on water (a bright hull SCL took for cloud) is observed water, not cloud, as it is
  searched by the detectors; 0 for Sentinel-1, which sees through cloud;
- ``observed_fraction``: share of the AOI area that is valid and clear: the honest denominator of a count;
- ``min_object_length_m``: the shortest object the sensor can resolve at the scene's ground sample distance;
- ``observed_water_km2`` / ``observed_land_km2``: the observed (valid, clear) AOI area that is water / land, from
  the same water masks the baseline detector searches (``satwatch.detection.water``). Vessel counts per km2 of
  observed water (and vehicle or camp figures per km2 of observed land) are the honest measure when AOIs of
  different sizes or coastlines are compared; NaN when the scene lacks the bands to tell water from land;
- ``observed_berth_km2`` (Sentinel-1): the observed water within ``BERTH_M`` (60 m) of a coast, where the
  ``cnn-cfar`` detector keeps the network's proposals untested, so its counts there carry the network's
  false-alarm rate: the zone and water of :func:`~satwatch.detection.models.baseline.sar_berths`, on the whole
  scene as the detector sees it (no shore buffer, so it reaches closer to land than ``observed_water_km2``);
  0 where no such zone applies (open sea, optical scenes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rasterio.features import geometry_mask

from satwatch.aoi import AOI
from satwatch.imagery.bands import SCL_INVALID, scl_not_clear
from satwatch.imagery.scene import Scene, format_acquired

__all__ = ["MIN_OBJECT_PIXELS", "Observability", "min_object_length_m", "observe", "pixel_area_m2", "water_mask"]

MIN_OBJECT_PIXELS = {"s2": 2.5, "s1": 3.0, "vhr": 3.0}
"""Shortest resolvable object in pixels: ~25 m ships at Sentinel-2's 10 m; Sentinel-1 IW GRD has ~20 x 22 m
resolution on 10 m pixels, so ~30 m; very-high-resolution imagery resolves ~3 pixels (1.5 m at 0.5 m: cars)."""


@dataclass(frozen=True)
class Observability:
    """What one scene shows of one AOI."""

    scene_id: str
    """Id of the scene measured."""
    aoi: str
    """Id of the AOI."""
    sensor: str
    """``s2``, ``s1`` or ``vhr``."""
    acquired: str
    """Acquisition time, UTC ISO 8601."""
    gsd_m: float
    """Ground sample distance of the scene, metres."""
    valid_fraction: float
    """Share 0..1 of the AOI area covered by valid (non-nodata) pixels."""
    cloud_fraction: float
    """Share 0..1 of the valid AOI pixels under cloud, shadow or cirrus (0 for radar)."""
    observed_fraction: float
    """Share 0..1 of the AOI area valid and clear: what a count really covers."""
    min_object_length_m: float
    """Shortest object (metres) resolvable at this resolution; smaller objects cannot be counted."""
    observed_water_km2: float = float("nan")
    """Observed (valid, clear) AOI area that is water, km2; NaN when the scene cannot tell water from land."""
    observed_land_km2: float = float("nan")
    """Observed (valid, clear) AOI area that is land, km2; NaN when the scene cannot tell water from land."""
    observed_berth_km2: float = 0.0
    """Observed AOI water within 60 m of a coast (Sentinel-1, the detector's water mask without shore buffer), km2,
    where ``cnn-cfar``'s berth false-alarm rate applies; 0 where none applies (open sea, optical scenes)."""


def min_object_length_m(sensor: str, gsd_m: float) -> float:
    """Shortest resolvable object length in metres for ``sensor`` at ``gsd_m`` metres per pixel."""
    return round(MIN_OBJECT_PIXELS.get(sensor, 3.0) * gsd_m, 2)


def observe(scene: Scene, aoi: AOI) -> Observability:
    """Measure what ``scene`` shows of ``aoi`` (see the module docstring).

    The AOI polygon is projected to the scene's CRS and rasterised on its grid (pixel centres inside count).
    AOI area outside the scene grid counts as not observed.
    """
    geom = aoi.geometry_in(scene.crs)
    inside = ~geometry_mask([geom], out_shape=(scene.height, scene.width), transform=scene.transform)
    pixel_area = abs(scene.transform.a * scene.transform.e - scene.transform.b * scene.transform.d)
    aoi_pixels = max(geom.area / pixel_area, float(inside.sum()), 1.0)
    valid = np.isfinite(scene.data).all(axis=0) & inside
    n_valid = float(valid.sum())
    gsd = scene.gsd_m
    if "SCL" in scene.bands:
        scl = scene.band("SCL")
        valid &= ~np.isin(scl, SCL_INVALID)
        cloudy = valid & scl_not_clear(scl, gsd)
        n_valid = float(valid.sum())
    else:
        cloudy = np.zeros_like(valid)
    n_cloud = float(cloudy.sum())
    clear = valid & ~cloudy
    water = water_mask(scene, clear, gsd)
    km2_per_pixel = pixel_area_m2(scene) / 1e6
    water_km2 = float("nan") if water is None else round(float((water & clear).sum()) * km2_per_pixel, 4)
    land_km2 = float("nan") if water is None else round(float((~water & clear).sum()) * km2_per_pixel, 4)
    berth_km2 = 0.0
    if water is not None and "VV" in scene.bands:
        from satwatch.detection.models.baseline import SarParams, sar_berths

        sar_water, berth = sar_berths(scene, np.isfinite(scene.band("VV")), SarParams())
        berth_km2 = round(float((berth & sar_water & clear).sum()) * km2_per_pixel, 4)
    return Observability(
        scene_id=scene.meta.scene_id,
        aoi=aoi.id,
        sensor=scene.meta.sensor,
        acquired=format_acquired(scene.meta.acquired),
        gsd_m=round(gsd, 3),
        valid_fraction=round(min(1.0, n_valid / aoi_pixels), 4),
        cloud_fraction=round(n_cloud / n_valid, 4) if n_valid else 0.0,
        observed_fraction=round(min(1.0, (n_valid - n_cloud) / aoi_pixels), 4),
        min_object_length_m=min_object_length_m(scene.meta.sensor, gsd),
        observed_water_km2=water_km2,
        observed_land_km2=land_km2,
        observed_berth_km2=berth_km2,
    )


def pixel_area_m2(scene: Scene) -> float:
    """Ground area of one pixel at the scene centre, m2 (true ground metres, also for EPSG:3857 grids)."""
    return scene.gsd_m**2


def water_mask(scene: Scene, clear: npt.NDArray[np.bool_], gsd_m: float) -> npt.NDArray[np.bool_] | None:
    """Return the water mask the baseline detector would search, or None when the scene lacks the bands for one."""
    from satwatch.detection.water import optical_water_mask, sar_water_mask

    bands = set(scene.bands)
    if {"VV"} <= bands:
        return sar_water_mask(scene.band("VV"), clear, gsd_m, vh_db=scene.band("VH") if "VH" in bands else None)
    for green, nir in (("B03", "B08"), ("G", "N")):
        if {green, nir} <= bands:
            scl = scene.band("SCL") if "SCL" in bands else None
            return optical_water_mask(scene.band(green), scene.band(nir), clear, gsd_m, scl=scl)
    return None
