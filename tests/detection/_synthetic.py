"""Small synthetic Sentinel-1, Sentinel-2 and VHR scenes with planted vessels of known size and heading.

Not realistic imagery: just enough physics for the baseline detector's tests and benchmark. Sentinel-1 is
sea and land backscatter with multiplicative gamma speckle (equivalent number of looks ``enl``); Sentinel-2 is
per-band water/land/hull reflectance with Gaussian noise, an optional SCL band and cloud boxes. Vessels are
rotated rectangles rasterised with sub-pixel coverage and a Gaussian blur of ``psf_m`` metres (the sensor's
point spread: about 8 m for Sentinel-1 IW GRD, 4 m here for Sentinel-2).
Pixel size ``gsd_m`` is the ground size of a pixel; ``crs_units_per_m`` lets a grid use other units
(EPSG:3857's metres are 1 / cos(lat) ground metres).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import CRS
from scipy import ndimage

from satwatch.imagery.scene import SENSOR_BANDS, Scene, SceneMeta

ACQUIRED = datetime(2024, 10, 8, 1, 52, 30, tzinfo=UTC)
X0, Y0 = 284_000.0, 4_752_000.0  # UTM 53N, near Vladivostok


@dataclass(frozen=True)
class Ship:
    """A planted vessel."""

    row: float
    """Centre row, pixel space (corner-based: pixel (r, c) has its centre at (r + 0.5, c + 0.5))."""
    col: float
    """Centre column, pixel space (corner-based)."""
    length_m: float
    """Length, metres."""
    width_m: float
    """Width (beam), metres."""
    heading_deg: float
    """Long-axis orientation, degrees clockwise from north (grid up)."""


def coverage(shape: tuple[int, int], ships: Sequence[Ship], gsd_m: float, sub: int = 5) -> npt.NDArray[np.float32]:
    """Fraction 0..1 of each pixel covered by the ships (``sub`` x ``sub`` samples per pixel)."""
    out = np.zeros(shape, dtype=np.float32)
    offsets = (np.arange(sub) + 0.5) / sub
    for s in ships:
        h = math.radians(s.heading_deg)
        ux, uy = math.sin(h), -math.cos(h)  # along the length, in (col, row): north is row - 1
        vx, vy = math.cos(h), math.sin(h)
        reach = (s.length_m + s.width_m) / 2.0 / gsd_m + 2
        r0, r1 = max(0, int(s.row - reach)), min(shape[0], int(s.row + reach) + 1)
        c0, c1 = max(0, int(s.col - reach)), min(shape[1], int(s.col + reach) + 1)
        if r0 >= r1 or c0 >= c1:
            continue
        rows = (np.arange(r0, r1)[:, None] + offsets[None, :]).ravel()
        cols = (np.arange(c0, c1)[:, None] + offsets[None, :]).ravel()
        yy, xx = np.meshgrid(rows - s.row, cols - s.col, indexing="ij")
        a = (xx * ux + yy * uy) * gsd_m
        b = (xx * vx + yy * vy) * gsd_m
        inside = (np.abs(a) <= s.length_m / 2) & (np.abs(b) <= s.width_m / 2)
        frac = inside.reshape(r1 - r0, sub, c1 - c0, sub).mean(axis=(1, 3))
        out[r0:r1, c0:c1] = np.maximum(out[r0:r1, c0:c1], frac)
    return out


def _scene(sensor: str, bands: tuple[str, ...], data: npt.NDArray[np.float32], gsd_m: float, epsg: int,
           crs_units_per_m: float, x0: float, y0: float) -> Scene:
    size = gsd_m * crs_units_per_m
    return Scene(
        data=data.astype(np.float32),
        bands=bands,
        crs=CRS.from_epsg(epsg),
        transform=Affine(size, 0, x0, 0, -size, y0),
        meta=SceneMeta(sensor=sensor, acquired=ACQUIRED, source="test", simulated=True, aoi="synthetic"),
    )


def land_columns(shape: tuple[int, int], cols: int) -> npt.NDArray[np.bool_]:
    """Land on the ``cols`` leftmost columns, with a ragged coastline."""
    h, w = shape
    edge = cols + (3 * np.sin(np.arange(h) / 7.0)).astype(int)
    return np.arange(w)[None, :] < edge[:, None]


def s1_scene(
    shape: tuple[int, int] = (300, 300),
    ships: Sequence[Ship] = (),
    land: npt.NDArray[np.bool_] | None = None,
    gsd_m: float = 10.0,
    seed: int = 0,
    enl: float = 4.4,
    sea_db: float = -20.0,
    land_db: float = -7.0,
    ship_db: float = 0.0,
    psf_m: float = 8.0,
    spots_db: float = 0.0,
    bands: tuple[str, ...] = ("VV", "VH"),
    epsg: int = 32653,
    crs_units_per_m: float = 1.0,
    x0: float = X0,
    y0: float = Y0,
) -> Scene:
    """A Sentinel-1 scene: sigma0 in dB, gamma speckle, textured land, bright planted ships.

    ``spots_db`` > 0 adds three point scatterers per ship (bow, middle, stern thirds), that much brighter than
    the hull, as superstructures and cranes are on real vessels.
    """
    rng = np.random.default_rng(seed)
    cover = coverage(shape, ships, gsd_m)
    if spots_db > 0:
        for s in ships:
            h = math.radians(s.heading_deg)
            for f in (-0.3, 0.0, 0.3):
                r = int(s.row - math.cos(h) * f * s.length_m / gsd_m)
                c = int(s.col + math.sin(h) * f * s.length_m / gsd_m)
                if 0 <= r < shape[0] and 0 <= c < shape[1]:
                    cover[r, c] *= 10 ** (spots_db / 10)
    if psf_m > 0:
        cover = ndimage.gaussian_filter(cover, psf_m / gsd_m)
    is_land = np.zeros(shape, dtype=bool) if land is None else land
    layers = []
    for band in bands:
        offset = 0.0 if band == "VV" else -8.0
        texture = ndimage.gaussian_filter(rng.normal(0.0, 3.0, shape), 2.0) * 2.0
        base_db = np.where(is_land, land_db + offset + texture, sea_db + offset)
        power = 10 ** (base_db / 10) * (1 - np.minimum(cover, 1.0)) + 10 ** ((ship_db + offset) / 10) * cover
        power = power * rng.gamma(enl, 1.0 / enl, shape)
        layers.append(10 * np.log10(power))
    return _scene("s1", bands, np.stack(layers), gsd_m, epsg, crs_units_per_m, x0, y0)


WATER = {"B02": 0.06, "B03": 0.05, "B04": 0.03, "B08": 0.015, "B11": 0.01, "B12": 0.008,
         "R": 0.03, "G": 0.05, "B": 0.06, "N": 0.015}
LAND = {"B02": 0.04, "B03": 0.07, "B04": 0.05, "B08": 0.30, "B11": 0.20, "B12": 0.12,
        "R": 0.05, "G": 0.07, "B": 0.04, "N": 0.30}
HULL = {"B02": 0.20, "B03": 0.20, "B04": 0.20, "B08": 0.22, "B11": 0.18, "B12": 0.14,
        "R": 0.20, "G": 0.20, "B": 0.20, "N": 0.22}
CLOUD = 0.5


def optical_scene(
    sensor: str = "s2",
    shape: tuple[int, int] = (300, 300),
    ships: Sequence[Ship] = (),
    land: npt.NDArray[np.bool_] | None = None,
    clouds: Sequence[tuple[int, int, int, int]] = (),
    gsd_m: float = 10.0,
    seed: int = 0,
    noise: float = 0.003,
    psf_m: float = 4.0,
    bands: tuple[str, ...] | None = None,
    hull_scale: float = 1.0,
    epsg: int = 32653,
    crs_units_per_m: float = 1.0,
    x0: float = X0,
    y0: float = Y0,
) -> Scene:
    """A Sentinel-2 (or VHR) scene: reflectance 0..1, water/land/hull spectra, noise, SCL, cloud boxes.

    ``clouds`` are ``(row0, row1, col0, col1)`` boxes: bright in every band and SCL 9 (cloud, high probability).
    """
    rng = np.random.default_rng(seed)
    names = bands or SENSOR_BANDS[sensor]
    cover = coverage(shape, ships, gsd_m)
    if psf_m > 0:
        cover = ndimage.gaussian_filter(cover, psf_m / gsd_m)
    is_land = np.zeros(shape, dtype=bool) if land is None else land
    cloud = np.zeros(shape, dtype=bool)
    for r0, r1, c0, c1 in clouds:
        cloud[r0:r1, c0:c1] = True
    layers = []
    for band in names:
        if band == "SCL":
            scl = np.where(is_land, 4.0, 6.0)
            scl[cover > 0.5] = 5.0
            scl[cloud] = 9.0
            layers.append(scl)
            continue
        base = np.where(is_land, LAND[band], WATER[band])
        refl = base * (1 - cover) + HULL[band] * hull_scale * cover
        refl = np.where(cloud, CLOUD, refl) + rng.normal(0.0, noise, shape)
        layers.append(np.clip(refl, 0.0, 1.0))
    return _scene(sensor, names, np.stack(layers), gsd_m, epsg, crs_units_per_m, x0, y0)


FLEET = (
    Ship(60.0, 200.0, 200.0, 32.0, 30.0),
    Ship(150.0, 160.0, 120.0, 20.0, 100.0),
    Ship(230.0, 240.0, 60.0, 12.0, 0.0),
    Ship(120.0, 260.0, 300.0, 45.0, 150.0),
    Ship(250.0, 150.0, 40.0, 10.0, 70.0),
)
"""Five vessels on the open water of a 300 x 300 scene at 10 m with land on the left 80 columns."""

