"""The simulated imagery source: deterministic Sentinel-2 L2A, Sentinel-1 GRD and VHR scenes with ground truth.

No credentials, no network. Every scene is rendered from the AOI's real geometry and a
:class:`~satwatch.imagery.scenario.Scenario` (planted activity); it is labelled simulated everywhere
(``SATWATCH_SIMULATED=true``, ``simulated`` on every truth feature): a demonstration, never evidence.

The world (static per AOI and scenario seed, identical on every date and sensor)
    All static fields live in map coordinates of the AOI's UTM zone, on lattices anchored at multiples of their
    step, and are sampled bilinearly at each grid's pixel centres, so a 10 m and a 0.5 m grid show the same
    coast, roads and sites. Land and water come from the real 1 km GLOBE land mask shipped in the
    ``global-land-mask`` package (read offline, only the rows the AOI needs), refined with deterministic fractal
    value noise down to 40 m and turned into a signed distance to the coast (metres, positive on land). Inland
    AOIs may get a meandering river (always, when the scenario plants vessels there). Land cover: forest, grass,
    bare soil and urban blocks (30 m roofs and streets) from further noise fields, urban favoured near the
    coast of port AOIs; roads are meandering lines cut at the water; ports get concrete quays and piers.
    Berths lie along pier sides (ships pointing away from the shore towards the pier head), anchorages in
    open water, shipping lanes for moving vessels, vehicle parks (gravel lots, vehicles in rows) and
    encampments (compacted ground, rows of tents, a few sheds) on open land. Object ``k`` of an activity keeps
    its place and size on every date where the planted count exceeds ``k``.

Per acquisition
    Random draws (cloud fraction, cloud type and height, wind, noise, speckle, moving objects' positions, which
    hulls Sentinel-2 SCL takes for cloud) come from generators seeded with SHA-256 of (scenario seed, AOI,
    sensor, acquisition time): the same inputs always give bit-identical arrays.

Sensors (all on the AOI's UTM grid, ``aoi.utm_epsg``)
    - ``s2``: 10 m, bands ``B02 B03 B04 B08 B11 B12 SCL``; surface reflectance 0..1 (float32) with per-material
      spectra, autumn senescence of vegetation, a Gaussian PSF (sigma 0.55 px), B11/B12 at 20 m (2 x 2 block
      means), additive noise; clouds from a fractal field thresholded so their fraction is the acquisition's
      ``cloud_fraction`` (drawn from a Beta distribution around ``scenario.cloud_cover``), thin cirrus on some
      dates, cloud shadows displaced by the sun's position and the cloud height. SCL: 3 shadow, 4 vegetation,
      5 not vegetated (also objects), 6 water, 8/9 cloud medium/high, 10 cirrus (0 is never used: every pixel
      of the bounding box is valid). Bright hulls: as ESA's scene classification does for white hulls, the
      hull pixels of about one in eight vessels of at least 60 m on water in clear sky are SCL 9 (cloud)
      (:data:`BRIGHT_HULL_RATE`); the reflectance is unchanged and their truth stays ``visible`` (see
      :func:`satwatch.imagery.bands.scl_not_clear`).
    - ``s1``: 10 m, ``VV VH`` sigma0 in dB: sea clutter from the day's wind speed (calmer near the coast),
      land and urban brighter, ships as bright scatterers with cross-shaped sidelobes, dark wakes, a PSF
      (sigma 0.8 px), thermal noise floor and multiplicative speckle of 4 looks correlated over about two
      pixels (:func:`~satwatch.imagery.speckle.correlated_speckle`) in linear power. Speckle and ship brightness
      are calibrated on real OpenSARShip chips (``scripts/s1_clutter_stats.py``; version 5).
    - ``vhr``: 0.5 m ``R G B N`` reflectance, never the whole AOI: a window of at most 2048 x 2048 px
      (1024 m) centred on the planted land activity (encampment, else the first vehicle park), else the first
      berth, else the AOI centre; individual vehicles, tents and ship superstructures are visible. No clouds.

Ground truth (:attr:`Rendered.truth`, EPSG:4326): one row per planted object present in the scene: vessels as
Points at the hull centre, vehicle parks, convoys and encampments as Polygons (see :data:`TRUTH_COLUMNS`); in
VHR scenes (0.5 m) every vehicle is its own Point (``count`` 1) instead of its park's or convoy's polygon.
Headings are degrees clockwise from grid north of the UTM zone (the bow's direction, 0..360).

Limits: no terrain or relief shading, no layover or azimuth shift of moving ships in SAR, a single incidence
angle per scene, no atmosphere beyond clouds, the 1 km land mask misses narrow bays (Vladivostok's Golden Horn
is land here), and lakes are not in the mask.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import math
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
import shapely.ops
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.features import rasterize
from scipy import ndimage
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from satwatch.aoi import AOI, project_geometry
from satwatch.errors import ScenarioError, UsageError
from satwatch.imagery.bands import scl_not_clear
from satwatch.imagery.scenario import Activity, Scenario, overpass_time, s1_orbit_pass, stable_seed
from satwatch.imagery.scene import SENSOR_BANDS, SENSORS, Scene, SceneMeta, format_acquired
from satwatch.imagery.source import Acquisition
from satwatch.imagery.speckle import correlated_speckle

__all__ = [
    "BRIGHT_HULL_MIN_LENGTH_M",
    "BRIGHT_HULL_RATE",
    "BRIGHT_HULL_SCL",
    "GSD_M",
    "TRUTH_COLUMNS",
    "VHR_MAX_PX",
    "Rendered",
    "SimulatedSource",
    "cloud_fraction",
    "overpass_time",
    "render",
    "scene_grid",
]

SIMULATOR_VERSION = "5"
"""Bumped whenever rendering changes, so archived simulated scenes are rendered again."""

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]

GSD_M: dict[str, float] = {"s2": 10.0, "s1": 10.0, "vhr": 0.5}
"""Pixel size in metres per simulated sensor."""
VHR_MAX_PX = 2048
"""Largest VHR window edge, pixels (1024 m at 0.5 m)."""
BRIGHT_HULL_RATE = 1 / 8
"""Share of the vessels of at least :data:`BRIGHT_HULL_MIN_LENGTH_M` on water in clear sky whose hull pixels the
Sentinel-2 SCL marks as cloud (:data:`BRIGHT_HULL_SCL`), drawn per vessel and acquisition from the scene seed.
White-hulled ferries, cruise ships, car carriers and white-decked tankers are a minority of the larger ships in
port and at anchor, and ESA's scene classification takes some of them for cloud on a given date (a white deck
is as bright as cloud in every band): about one in eight is the planted rate. A drawn vessel under cloud or
shadow is not marked; one whose blob :func:`~satwatch.imagery.bands.scl_not_clear` would not give back (its ring
not mostly water, as in a narrow dock, or within 300 m of a cloud bank) keeps its SCL 5, so the rate holds
among the vessels the rule can give back. Measured: 43 of 347 such vessels (0.124) over 98 scenes of
``scenarios/train.yaml``, 8 of 52 (0.154) over 30 scenes of ``scenarios/demo.yaml``."""
BRIGHT_HULL_MIN_LENGTH_M = 60.0
"""Shortest vessel whose hull can be marked cloud, metres (smaller hulls are mixed pixels, rarely that bright)."""
BRIGHT_HULL_SCL = 9.0
"""SCL class written on a bright hull: cloud, high probability."""
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

_LATTICE_M = 20.0
_MARGIN_M = 1000.0

# Land-cover classes of the static world.
WATER, FOREST, GRASS, SOIL, URBAN, CONCRETE, ASPHALT, GRAVEL = range(8)
# Surface reflectance per class, bands B02 B03 B04 B08 B11 B12 (the VHR R G B N take B04 B03 B02 B08).
_LUT = np.array([
    [0.040, 0.046, 0.030, 0.018, 0.010, 0.007],  # water (coastal, slightly turbid)
    [0.025, 0.045, 0.025, 0.300, 0.150, 0.070],  # forest
    [0.040, 0.070, 0.050, 0.280, 0.220, 0.120],  # grass, crops
    [0.080, 0.105, 0.135, 0.210, 0.300, 0.240],  # bare soil
    [0.095, 0.105, 0.115, 0.170, 0.200, 0.180],  # urban roofs
    [0.190, 0.200, 0.210, 0.240, 0.270, 0.240],  # concrete quays and piers
    [0.065, 0.075, 0.085, 0.110, 0.130, 0.120],  # asphalt
    [0.130, 0.140, 0.150, 0.200, 0.260, 0.230],  # gravel lots
], dtype=np.float32)
_TEXTURE = np.array([0.04, 0.18, 0.15, 0.12, 0.25, 0.06, 0.08, 0.08], dtype=np.float32)
# Sentinel-1 sigma0 per class, dB (VV, VH); water is replaced by the wind model.
_S1_DB = np.array([
    [-20.0, -30.0], [-7.5, -13.5], [-10.0, -17.0], [-12.0, -19.0],
    [-4.0, -11.0], [-11.0, -19.0], [-17.0, -25.0], [-10.0, -18.0],
], dtype=np.float32)
_S1_TEXTURE_DB = np.array([0.0, 1.5, 2.0, 1.5, 5.0, 1.0, 1.0, 1.5], dtype=np.float32)
# Sentinel-1 ships, calibrated on the real OpenSARShip training package (2016-01-31, 70 ships with lengths;
# ``scripts/s1_clutter_stats.py``): brightest pixel within 4 px of the centre VV 6.0 + 17.3 log10(L/100) dB
# (residual spread 4.7 dB), VH -3.9 + 13.3 log10(L/100) (2.9 dB). Up to simulator version 4 the same fit gave
# VV 15.5 + 18.1 log10(L/100) (3.2 dB) and VH 9.0 + 19.2 log10(L/100): ships 9.5 dB too bright in VV and
# 12.9 dB in VH, and too alike; version 5 gives VV 6.0 + 19.3 log10(L/100) (5.0 dB) and VH -4.2 + 16.9
# log10(L/100) (2.9 dB) on 76 ships of scenarios/train.yaml. Values are the hull's sigma0 before the PSF.
S1_REAL_SHIP_PEAKS: dict[str, tuple[float, float, float]] = {"VV": (6.0, 17.3, 4.7), "VH": (-3.9, 13.3, 2.9)}
"""Real Sentinel-1 ships the simulator is calibrated on: per band ``(a, b, spread)`` of the least-squares fit
``peak_dB = a + b log10(L / 100 m)`` of the brightest pixel within 4 px of the ship's centre, and the residual
standard deviation, dB; measured by ``scripts/s1_clutter_stats.py`` on the OpenSARShip training package."""
_S1_SHIP_DB_100M = 4.3
"""VV sigma0 of a 100 m hull, dB (the superstructure 4 dB more)."""
_S1_SHIP_DB_PER_DECADE = 12.0
"""Added to a hull's sigma0 per decade of length, dB."""
_S1_SHIP_VH_BELOW_VV_DB = (10.4, 9.4)
"""VH below VV, dB, for the hull and the superstructure."""
_S1_SHIP_SPREAD_DB = 3.4
"""Standard deviation of a vessel's own VV brightness offset, dB (drawn once per vessel; the real spread 4.7 dB
less the 3.2 dB the simulator already had from size, PSF and speckle)."""
# Object materials, bands B02 B03 B04 B08 B11 B12.
_DECKS = np.array([
    [0.140, 0.150, 0.160, 0.190, 0.180, 0.150],  # naval grey
    [0.080, 0.080, 0.150, 0.210, 0.220, 0.180],  # rust red
    [0.060, 0.060, 0.065, 0.100, 0.110, 0.090],  # dark
    [0.070, 0.110, 0.080, 0.190, 0.170, 0.120],  # green deck
    [0.160, 0.150, 0.170, 0.230, 0.210, 0.180],  # containers
    [0.220, 0.210, 0.190, 0.260, 0.250, 0.210],  # light bulk cargo
], dtype=np.float32)
_WHITE = np.array([0.420, 0.440, 0.450, 0.480, 0.400, 0.330], dtype=np.float32)
_VEHICLE = np.array([0.050, 0.070, 0.060, 0.190, 0.150, 0.100], dtype=np.float32)
_TENT_OLIVE = np.array([0.060, 0.080, 0.070, 0.220, 0.180, 0.120], dtype=np.float32)
_TENT_WHITE = np.array([0.480, 0.490, 0.500, 0.540, 0.450, 0.380], dtype=np.float32)
_SHED = np.array([0.300, 0.310, 0.320, 0.340, 0.330, 0.300], dtype=np.float32)
_CAMP_GROUND = np.array([0.110, 0.130, 0.150, 0.210, 0.290, 0.250], dtype=np.float32)
_FOAM = np.array([0.200, 0.210, 0.210, 0.140, 0.060, 0.040], dtype=np.float32)
_CLOUD = np.array([0.560, 0.570, 0.580, 0.600, 0.430, 0.300], dtype=np.float32)
_CIRRUS = np.array([0.300, 0.300, 0.300, 0.300, 0.220, 0.140], dtype=np.float32)


# ----------------------------------------------------------------------------------------------------------------
# Deterministic noise
# ----------------------------------------------------------------------------------------------------------------

_H1 = np.uint64(0x9E3779B97F4A7C15)
_H2 = np.uint64(0xC2B2AE3D27D4EB4F)
_H3 = np.uint64(0xFF51AFD7ED558CCD)
_H4 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_S11 = np.uint64(11)


def _hash01(iy: I64, ix: I64, salt: int) -> F64:
    """Uniform [0, 1) values from integer lattice coordinates (broadcast) and a salt: a pure function."""
    h = np.asarray(iy, dtype=np.int64).view(np.uint64) * _H1
    h = h ^ (np.asarray(ix, dtype=np.int64).view(np.uint64) * _H2)
    h = h ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
    h = h ^ (h >> _S33)
    h = h * _H3
    h = h ^ (h >> _S33)
    h = h * _H4
    h = h ^ (h >> _S33)
    return (h >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)


def _value_noise(xs: F64, ys: F64, cell: float, salt: int) -> F32:
    """Smooth value noise in [0, 1] on the separable grid ``ys x xs`` (map metres), lattice cell ``cell`` m.

    Returns ``(len(ys), len(xs))`` float32. Lattice values hash the integer cell coordinates, so the field is
    a fixed function of map position: any grid samples the same noise.
    """
    fx = xs / cell
    ix = np.floor(fx)
    tx = (fx - ix).astype(np.float32)
    tx = tx * tx * (3 - 2 * tx)
    fy = ys / cell
    iy = np.floor(fy)
    ty = (fy - iy).astype(np.float32)
    ty = ty * ty * (3 - 2 * ty)
    ix0, iy0 = int(ix.min()), int(iy.min())
    lx = np.arange(ix0, int(ix.max()) + 2, dtype=np.int64)
    ly = np.arange(iy0, int(iy.max()) + 2, dtype=np.int64)
    v = _hash01(ly[:, None], lx[None, :], salt).astype(np.float32)
    cx = (ix - ix0).astype(np.intp)
    cy = (iy - iy0).astype(np.intp)
    a = v[:, cx] * (1 - tx) + v[:, cx + 1] * tx
    return np.asarray(a[cy] * (1 - ty)[:, None] + a[cy + 1] * ty[:, None], dtype=np.float32)


def _fbm(xs: F64, ys: F64, cells: Sequence[float], salt: int, gain: float = 0.55) -> F32:
    """Fractal sum of value noise octaves (coarse to fine), scaled to about [-1, 1]; shape ``(len(ys), len(xs))``."""
    total = np.zeros((len(ys), len(xs)), dtype=np.float32)
    amp, norm = 1.0, 0.0
    for i, cell in enumerate(cells):
        total += np.float32(amp) * (_value_noise(xs, ys, cell, salt + 7919 * i) * 2 - 1)
        norm += amp
        amp *= gain
    total *= np.float32(1.6 / norm)
    return total


def _rng(*parts: object) -> np.random.Generator:
    """Return a numpy Generator seeded from SHA-256 of the parts (stable across processes)."""
    return np.random.default_rng(stable_seed(*parts))


# ----------------------------------------------------------------------------------------------------------------
# Grids and lattices
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    """A north-up pixel grid in a UTM CRS: upper-left corner ``(x0, y0)``, square pixels of ``res`` metres."""

    x0: float
    """Map x of the left edge, m."""
    y0: float
    """Map y of the top edge, m."""
    res: float
    """Pixel size, m."""
    width: int
    """Columns."""
    height: int
    """Rows."""

    @property
    def xs(self) -> F64:
        """Map x of the column centres, ``(width,)``."""
        return np.asarray(self.x0 + (np.arange(self.width) + 0.5) * self.res, dtype=np.float64)

    @property
    def ys(self) -> F64:
        """Map y of the row centres, ``(height,)`` (decreasing)."""
        return np.asarray(self.y0 - (np.arange(self.height) + 0.5) * self.res, dtype=np.float64)

    @property
    def transform(self) -> Affine:
        """Pixel-to-map affine transform."""
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y0)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` in map metres."""
        return (self.x0, self.y0 - self.height * self.res, self.x0 + self.width * self.res, self.y0)

    def window(self, minx: float, miny: float, maxx: float, maxy: float) -> tuple[int, int, int, int] | None:
        """Pixel window ``(r0, r1, c0, c1)`` (end exclusive) covering a map box, clipped; None if outside."""
        c0 = max(0, math.floor((minx - self.x0) / self.res) - 1)
        c1 = min(self.width, math.ceil((maxx - self.x0) / self.res) + 1)
        r0 = max(0, math.floor((self.y0 - maxy) / self.res) - 1)
        r1 = min(self.height, math.ceil((self.y0 - miny) / self.res) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return r0, r1, c0, c1

    def pixel(self, x: float, y: float) -> tuple[int, int] | None:
        """``(row, col)`` of the pixel holding map point ``(x, y)``, or None outside the grid."""
        c = math.floor((x - self.x0) / self.res)
        r = math.floor((self.y0 - y) / self.res)
        return (r, c) if 0 <= r < self.height and 0 <= c < self.width else None


@dataclass(frozen=True)
class _Lattice:
    """A scalar field on map nodes ``(x0 + c * step, y0 - r * step)``, sampled bilinearly."""

    x0: float
    """Map x of column 0, m."""
    y0: float
    """Map y of row 0, m."""
    step: float
    """Node spacing, m."""
    values: F32 = field(repr=False)
    """``(rows, cols)`` float32 node values."""

    @property
    def xs(self) -> F64:
        """Map x of the columns."""
        return np.asarray(self.x0 + np.arange(self.values.shape[1]) * self.step, dtype=np.float64)

    @property
    def ys(self) -> F64:
        """Map y of the rows (decreasing)."""
        return np.asarray(self.y0 - np.arange(self.values.shape[0]) * self.step, dtype=np.float64)

    def sample(self, xs: F64, ys: F64) -> F32:
        """Bilinear values on the separable grid ``ys x xs``; shape ``(len(ys), len(xs))`` float32."""
        ny, nx = self.values.shape
        fx = np.clip((xs - self.x0) / self.step, 0, nx - 1.000001)
        fy = np.clip((self.y0 - ys) / self.step, 0, ny - 1.000001)
        cx = fx.astype(np.intp)
        cy = fy.astype(np.intp)
        tx = (fx - cx).astype(np.float32)
        ty = (fy - cy).astype(np.float32)
        r_lo, r_hi = int(cy.min()), int(cy.max()) + 2
        v = self.values[r_lo:r_hi]
        a = v[:, cx] * (1 - tx) + v[:, cx + 1] * tx
        cy = cy - r_lo
        return np.asarray(a[cy] * (1 - ty)[:, None] + a[cy + 1] * ty[:, None], dtype=np.float32)

    def at(self, x: F64 | float, y: F64 | float) -> F64:
        """Bilinear values at scattered map points (arrays of equal shape)."""
        fx = (np.asarray(x, dtype=np.float64) - self.x0) / self.step
        fy = (self.y0 - np.asarray(y, dtype=np.float64)) / self.step
        out = ndimage.map_coordinates(self.values, [np.atleast_1d(fy), np.atleast_1d(fx)], order=1, mode="nearest")
        return np.asarray(out, dtype=np.float64).reshape(np.shape(fx))


def scene_grid(aoi: AOI, sensor: str = "s2") -> tuple[CRS, Affine, int, int]:
    """Return the simulated ``s2``/``s1`` grid of an AOI: ``(crs, transform, width, height)``.

    The CRS is the AOI's UTM zone; the bounds are those of the AOI projected to it, snapped outwards to
    multiples of the pixel size (10 m). VHR grids are windows inside it (see :func:`render`).
    """
    grid = _bbox_grid(aoi, GSD_M["s2" if sensor == "vhr" else sensor])
    return CRS.from_epsg(aoi.utm_epsg), grid.transform, grid.width, grid.height


def _bbox_grid(aoi: AOI, res: float) -> _Grid:
    minx, miny, maxx, maxy = aoi.geometry_in(aoi.utm_epsg).bounds
    x0 = math.floor(minx / res + 1e-6) * res
    x1 = math.ceil(maxx / res - 1e-6) * res
    y0 = math.floor(miny / res + 1e-6) * res
    y1 = math.ceil(maxy / res - 1e-6) * res
    return _Grid(x0=x0, y0=y1, res=res, width=max(1, round((x1 - x0) / res)), height=max(1, round((y1 - y0) / res)))


# ----------------------------------------------------------------------------------------------------------------
# The real land mask (GLOBE, 1/120 degree, from the global-land-mask package)
# ----------------------------------------------------------------------------------------------------------------

_MASK_COLS = 43200
_MASK_ROWS = 21600


def _mask_file() -> Path:
    spec = importlib.util.find_spec("global_land_mask")
    if spec is None or not spec.submodule_search_locations:
        raise ScenarioError("the simulator needs the global-land-mask package; install satwatch's dependencies "
                            "(pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "globe_combined_mask_compressed.npz"


@functools.lru_cache(maxsize=64)
def _ocean_rows(r0: int, r1: int) -> npt.NDArray[np.bool_]:
    """Rows ``r0..r1-1`` of the GLOBE ocean mask (True = ocean), streamed from the package's npz.

    Only the needed rows are kept (the full mask is 933 MB uncompressed); reading stops after ``r1``.
    """
    with zipfile.ZipFile(_mask_file()) as zf, zf.open("mask.npy") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        if shape != (_MASK_ROWS, _MASK_COLS) or fortran or dtype != np.dtype(bool):
            raise ScenarioError(f"unexpected land mask layout {shape} {dtype}; reinstall global-land-mask")
        remaining = r0 * _MASK_COLS
        while remaining:
            chunk = fh.read(min(remaining, 1 << 24))
            if not chunk:
                break
            remaining -= len(chunk)
        raw = fh.read((r1 - r0) * _MASK_COLS)
    return np.frombuffer(raw, dtype=np.bool_).reshape(r1 - r0, _MASK_COLS)


def _ocean_fraction(lon: F64, lat: F64) -> F64:
    """Bilinear ocean fraction 0..1 of the 1 km GLOBE mask at lon/lat degrees (any shape)."""
    fr = np.clip((90.0 - lat) * 120.0, 0, _MASK_ROWS - 1.000001)
    fc = (lon + 180.0) * 120.0
    r0 = int(np.floor(fr.min()))
    r1 = min(_MASK_ROWS, int(np.floor(fr.max())) + 2)
    rows = _ocean_rows(r0, r1).astype(np.float32)
    ir = np.floor(fr).astype(np.intp)
    tr = fr - ir
    ir = ir - r0
    ir1 = np.minimum(ir + 1, rows.shape[0] - 1)
    ic = np.floor(fc).astype(np.int64)
    tc = fc - ic
    ic0 = (ic % _MASK_COLS).astype(np.intp)
    ic1 = ((ic + 1) % _MASK_COLS).astype(np.intp)
    top = rows[ir, ic0] * (1 - tc) + rows[ir, ic1] * tc
    bottom = rows[ir1, ic0] * (1 - tc) + rows[ir1, ic1] * tc
    return np.asarray(top * (1 - tr) + bottom * tr, dtype=np.float64)


# ----------------------------------------------------------------------------------------------------------------
# The static world of one AOI
# ----------------------------------------------------------------------------------------------------------------


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


def _rect(x: float, y: float, heading: float, along: float, across: float) -> Polygon:
    """Rectangle centred at ``(x, y)`` with sides ``along`` (in the heading direction) and ``across``, map m."""
    t = math.radians(heading)
    fx, fy = math.sin(t), math.cos(t)
    rx, ry = math.cos(t), -math.sin(t)
    a, b = along / 2, across / 2
    return Polygon([(x + fx * sa * a + rx * sb * b, y + fy * sa * a + ry * sb * b)
                    for sa, sb in ((1, 1), (1, -1), (-1, -1), (-1, 1))])


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


# ----------------------------------------------------------------------------------------------------------------
# Per-acquisition conditions
# ----------------------------------------------------------------------------------------------------------------


def cloud_fraction(scenario: Scenario, aoi_id: str, sensor: str, acquired: datetime) -> float:
    """Cloud fraction 0..1 of a simulated acquisition (0 for ``s1`` and ``vhr``).

    Drawn from a Beta distribution with mean ``scenario.cloud_cover`` (concentration 1.6: many clear and many
    overcast scenes, as in the real archive); the rendered scene's cloud mask (SCL 8, 9, 10) covers this
    fraction of its grid.
    """
    if sensor != "s2":
        return 0.0
    cc = scenario.cloud_cover
    if cc <= 0.0 or cc >= 1.0:
        return float(min(max(cc, 0.0), 1.0))
    rng = _rng(scenario.seed, aoi_id, sensor, format_acquired(acquired), "cloud-fraction")
    return round(float(rng.beta(1.6 * cc, 1.6 * (1 - cc))), 4)


def _wind(seed: int, aoi_id: str, day: date) -> tuple[float, float]:
    """``(speed m/s, direction it blows from, degrees)`` of the day's wind over an AOI."""
    rng = _rng(seed, aoi_id, day.isoformat(), "wind")
    return float(np.clip(rng.weibull(2.0) * 7.5, 1.0, 18.0)), float(rng.uniform(0, 360))


def _sun(lon: float, lat: float, when: datetime) -> tuple[float, float]:
    """``(azimuth, zenith)`` of the sun in degrees (NOAA approximation, good to ~0.5 degree)."""
    t = when.astimezone(UTC)
    hour = t.hour + t.minute / 60 + t.second / 3600
    g = 2 * math.pi / 365 * (t.timetuple().tm_yday - 1 + (hour - 12) / 24)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g) - 0.014615 * math.cos(2 * g)
                       - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    ha = math.radians((hour * 60 + eqtime + 4 * lon) / 4 - 180)
    phi = math.radians(lat)
    cos_z = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    zenith = math.degrees(math.acos(max(-1.0, min(1.0, cos_z))))
    azimuth = (math.degrees(math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi)))
               + 180.0) % 360.0
    return azimuth, zenith


def _greenness(day: date, lat: float) -> float:
    """Vegetation vigour 0.25..1: full in summer, falling from mid-September to mid-November (hemisphere-aware)."""
    doy = day.timetuple().tm_yday
    if lat < 0:
        doy = (doy + 182) % 365
    if doy < 160:
        return float(np.clip(0.25 + 0.75 * (doy - 90) / 60, 0.25, 1.0))
    return float(np.clip(1.0 - 0.75 * (doy - 258) / 56, 0.25, 1.0))


# ----------------------------------------------------------------------------------------------------------------
# Planted objects at one acquisition
# ----------------------------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------------------------
# Painting
# ----------------------------------------------------------------------------------------------------------------


class _Canvas:
    """Pixels being rendered: ``values`` ``(bands, H, W)`` float32 (reflectance, or linear sigma0 for s1)."""

    def __init__(self, grid: _Grid, values: F32, sensor: str) -> None:
        self.grid = grid
        self.values = values
        self.sensor = sensor
        self.objects = np.zeros((grid.height, grid.width), dtype=np.float32)
        self.ss = 8 if grid.res >= 5 else 2
        self.hulls: dict[str, tuple[tuple[int, int, int, int], F32]] = {}
        """Hull coverage 0..1 of each painted vessel, by object id: ``(window, (h, w) coverage)``."""

    def _frame(self, x: float, y: float, heading: float, reach: float) -> tuple[tuple[int, int, int, int], F64,
                                                                                   F64] | None:
        """Window around ``(x, y)`` and supersample coordinates rotated into the object frame (u ahead, v right)."""
        win = self.grid.window(x - reach, y - reach, x + reach, y + reach)
        if win is None:
            return None
        r0, r1, c0, c1 = win
        offs = (np.arange(self.ss) + 0.5) / self.ss
        sx = self.grid.x0 + (np.arange(c0, c1)[:, None] + offs[None, :]).ravel() * self.grid.res - x
        sy = self.grid.y0 - (np.arange(r0, r1)[:, None] + offs[None, :]).ravel() * self.grid.res - y
        t = math.radians(heading)
        u = sx[None, :] * math.sin(t) + sy[:, None] * math.cos(t)
        v = sx[None, :] * math.cos(t) - sy[:, None] * math.sin(t)
        return win, u, v

    def _cover(self, mask: F64 | Bool, win: tuple[int, int, int, int]) -> F32:
        r0, r1, c0, c1 = win
        h, w = r1 - r0, c1 - c0
        cov: F32 = np.asarray(mask, dtype=np.float32).reshape(h, self.ss, w, self.ss).mean(axis=(1, 3))
        return cov

    def paint(self, win: tuple[int, int, int, int], cov: F32, value: F32, solid: bool = True) -> None:
        """Blend ``value`` (per band) over the window with coverage ``cov`` 0..1."""
        r0, r1, c0, c1 = win
        block = self.values[:, r0:r1, c0:c1]
        block *= 1 - cov[None]
        block += value[:, None, None] * cov[None]
        if solid:
            np.maximum(self.objects[r0:r1, c0:c1], cov, out=self.objects[r0:r1, c0:c1])

    def multiply(self, win: tuple[int, int, int, int], factor: F32) -> None:
        """Multiply the window by ``factor`` ``(h, w)``."""
        r0, r1, c0, c1 = win
        self.values[:, r0:r1, c0:c1] *= factor[None]

    def material(self, spectrum: F32, s1_db: tuple[float, float]) -> F32:
        """Per-band value of a material for this canvas's sensor."""
        if self.sensor == "s1":
            return np.asarray([10 ** (s1_db[0] / 10), 10 ** (s1_db[1] / 10)], dtype=np.float32)
        if self.sensor == "vhr":
            return np.asarray(spectrum[[2, 1, 0, 3]], dtype=np.float32)
        return spectrum

    def ship(self, ship: _Ship) -> None:
        """Hull (pointed bow), superstructure aft, wake when under way; S1: bright scatterers and sidelobes."""
        v = ship.vessel
        if ship.speed_ms > 0:
            self.wake(ship)
        frame = self._frame(ship.x, ship.y, ship.heading, v.length / 2 + 2 * self.grid.res)
        if frame is None:
            return
        win, u, w = frame
        half_l, half_b, bow = v.length / 2, v.width / 2, 0.18 * v.length
        aw = np.abs(w)
        hull = (aw <= half_b) & (u >= -half_l) & (u <= half_l) & ((u <= half_l - bow) | (aw <= half_b * (half_l - u)
                                                                                          / bow))
        sup = (u >= -half_l + 0.04 * v.length) & (u <= -half_l + 0.22 * v.length) & (aw <= 0.4 * v.width)
        db = _S1_SHIP_DB_100M + _S1_SHIP_DB_PER_DECADE * math.log10(v.length / 100.0)
        offset = float(np.clip(_rng(v.object_id, "s1-brightness").normal(0.0, _S1_SHIP_SPREAD_DB), -8.0, 8.0))
        hull_vh, sup_vh = _S1_SHIP_VH_BELOW_VV_DB
        hull_cov = self._cover(hull, win)
        self.hulls[v.object_id] = (win, hull_cov)
        self.paint(win, hull_cov, self.material(_DECKS[v.deck], (db + offset, db - hull_vh)))
        self.paint(win, self._cover(sup, win), self.material(_WHITE, (db + 4.0 + offset, db + 4.0 - sup_vh)))

    def wake(self, ship: _Ship) -> None:
        """Turbulent wake and Kelvin arms behind a moving ship (optical: bright foam; SAR: dark trail)."""
        v = ship.vessel
        length = min(900.0, v.length * (3.0 + ship.speed_ms / 2.0))
        cx = ship.x - math.sin(math.radians(ship.heading)) * (v.length / 2 + length / 2)
        cy = ship.y - math.cos(math.radians(ship.heading)) * (v.length / 2 + length / 2)
        frame = self._frame(cx, cy, ship.heading, length / 2 + length * 0.36 + 10)
        if frame is None:
            return
        win, u, w = frame
        back = length / 2 - u  # metres behind the stern
        fade = np.clip(1 - back / length, 0, 1) * (back >= 0)
        aw = np.abs(w)
        turbulent = (aw <= 0.35 * v.width + back * 0.03) * fade**2
        kelvin = (np.abs(aw - back * 0.354) <= 1.5 + back * 0.01) * fade * 0.45
        if self.sensor == "s1":
            self.multiply(win, 1 - 0.7 * self._cover(turbulent, win))
        else:
            cov = self._cover(np.maximum(turbulent * 0.6, kelvin), win)
            self.paint(win, cov, self.material(_FOAM, (0.0, 0.0)), solid=False)

    def park(self, park: _Park, n: int) -> None:
        """Vehicles 7 x 2.5 m (sizes vary per vehicle) side by side in rows; rows fill first to last."""
        along, across = park.lot_size
        frame = self._frame(park.x, park.y, park.heading, 0.5 * math.hypot(along, across) + 2 * self.grid.res)
        if frame is None:
            return
        win, u, v = frame
        row = np.rint(u / park.pitch_row + (park.rows - 1) / 2).astype(np.int64)
        col = np.rint(v / park.pitch_side + (park.per_row - 1) / 2).astype(np.int64)
        du = u - (row - (park.rows - 1) / 2) * park.pitch_row
        dv = v - (col - (park.per_row - 1) / 2) * park.pitch_side
        k = row * park.per_row + col
        ok = (row >= 0) & (row < park.rows) & (col >= 0) & (col < park.per_row) & (k < n)
        sizes = _rng(park.object_id, "vehicle-sizes").uniform(0.85, 1.25, (park.capacity, 2))
        kk = np.clip(k, 0, park.capacity - 1)
        body = ok & (np.abs(du) <= 3.5 * sizes[kk, 0]) & (np.abs(dv) <= 1.25 * sizes[kk, 1])
        self.paint(win, self._cover(body, win), self.material(_VEHICLE, (4.0, -4.0)))

    def convoy(self, convoy: _Convoy) -> None:
        """Vehicles one by one along the road."""
        for x, y, heading in convoy.points:
            frame = self._frame(x, y, heading, 4.0 + 2 * self.grid.res)
            if frame is None:
                continue
            win, u, v = frame
            body = (np.abs(u) <= 3.8) & (np.abs(v) <= 1.3)
            self.paint(win, self._cover(body, win), self.material(_VEHICLE, (4.0, -4.0)))

    def camp(self, camp: _Camp, area: float) -> None:
        """Compacted ground of ``area`` m2, then olive and white tents and sheds in rows."""
        long_side, short_side = camp.sides(area)
        frame = self._frame(camp.x, camp.y, camp.heading, 0.5 * math.hypot(long_side, short_side) + 2 * self.grid.res)
        if frame is None:
            return
        win, u, v = frame
        ground = (np.abs(u) <= long_side / 2) & (np.abs(v) <= short_side / 2)
        self.paint(win, self._cover(ground, win), self.material(_CAMP_GROUND, (-11.0, -18.0)))
        cells = _tent_cells(camp, area)
        if not cells:
            return
        kinds = np.full((201, 201), -1, dtype=np.int64)
        for i, j, k in cells:
            kinds[i + 100, j + 100] = k
        ci = np.rint(u / camp.pitch_long).astype(np.int64)
        cj = np.rint(v / camp.pitch_short).astype(np.int64)
        inside = (np.abs(ci) <= 100) & (np.abs(cj) <= 100)
        kind = np.where(inside, kinds[np.clip(ci + 100, 0, 200), np.clip(cj + 100, 0, 200)], np.int64(-1))
        du = np.abs(u - ci * camp.pitch_long)
        dv = np.abs(v - cj * camp.pitch_short)
        tent = (du <= 5.0) & (dv <= 2.4)
        shed = (du <= 6.5) & (dv <= 3.6)
        self.paint(win, self._cover(tent & (kind == 0), win), self.material(_TENT_OLIVE, (-9.0, -17.0)))
        self.paint(win, self._cover(tent & (kind == 1), win), self.material(_TENT_WHITE, (-9.0, -17.0)))
        self.paint(win, self._cover(shed & (kind == 2), win), self.material(_SHED, (5.0, -6.0)))


# ----------------------------------------------------------------------------------------------------------------
# Land cover and sensors
# ----------------------------------------------------------------------------------------------------------------


def _landcover(world: _World, grid: _Grid) -> tuple[npt.NDArray[np.uint8], F32, F32, F32, F32]:
    """Class map ``(H, W)`` uint8, texture, and the urban roof factor, street and yard fractions (see below)."""
    xs, ys = grid.xs, grid.ys
    sd = world.sdist.sample(xs, ys)
    cls = np.full(sd.shape, FOREST, dtype=np.uint8)
    cls[world.grass.sample(xs, ys) > 0.05] = GRASS
    cls[world.soil.sample(xs, ys) > 0.38] = SOIL
    urban = world.urban.sample(xs, ys) > 0.62
    cls[urban] = URBAN
    cls[sd < 0] = WATER
    for qx, qy in world.quays:
        win = grid.window(qx - 330, qy - 330, qx + 330, qy + 330)
        if win is not None:
            r0, r1, c0, c1 = win
            near = np.hypot(xs[c0:c1][None, :] - qx, ys[r0:r1][:, None] - qy) < 320
            block = sd[r0:r1, c0:c1]
            cls[r0:r1, c0:c1][near & (block >= 0) & (block < 45)] = CONCRETE
    if world.shapes:
        burnt = rasterize(list(world.shapes), out_shape=(grid.height, grid.width), transform=grid.transform,
                          fill=255, dtype="uint8")
        cls = np.where(burnt != 255, burnt, cls).astype(np.uint8)
    texture = world.texture.sample(xs, ys)
    roof, street, yard = _urban_parts(world.aoi_id, grid)
    return cls, texture, roof, street, yard


def _urban_parts(aoi_id: str, grid: _Grid) -> tuple[F32, F32, F32]:
    """Urban blocks on 30 m cells: roof brightness factor, street and yard fractions, each ``(H, W)``.

    Each cell has its own roof (brightness 0.7..1.4) set back from 6 m streets by a per-cell yard. Grids finer
    than 5 m draw the pattern exactly; coarser grids use the mean fractions (a 10 m pixel mixes them).
    """
    xs, ys = grid.xs, grid.ys
    cell = 30.0
    ix = np.floor(xs / cell).astype(np.int64)
    iy = np.floor(ys / cell).astype(np.int64)
    roof = (0.7 + 0.7 * _hash01(iy[:, None], ix[None, :], stable_seed(aoi_id, "roofs"))).astype(np.float32)
    shape = (grid.height, grid.width)
    if grid.res >= 5:
        return roof, np.full(shape, 0.3, np.float32), np.full(shape, 0.15, np.float32)
    lx, ly = (xs % cell)[None, :], (ys % cell)[:, None]
    street = (lx < 6) | (ly < 6)
    setback = 1.0 + 5.0 * _hash01(iy[:, None], ix[None, :], stable_seed(aoi_id, "setback"))
    building = (lx > 6 + setback) & (lx < cell - setback) & (ly > 6 + setback) & (ly < cell - setback)
    return roof, street.astype(np.float32), (~street & ~building).astype(np.float32)


def _optical_base(world: _World, grid: _Grid, day: date, lat: float, band_idx: Sequence[int]
                  ) -> tuple[F32, npt.NDArray[np.uint8]]:
    """Surface reflectance ``(len(band_idx), H, W)`` of the static world, with season and texture."""
    cls, texture, roof, street, yard = _landcover(world, grid)
    g = _greenness(day, lat)
    lut = _LUT.copy()
    for veg in (FOREST, GRASS):
        lut[veg, 3] *= 0.6 + 0.4 * g
        lut[veg, 2] *= 1 + 0.9 * (1 - g)
        lut[veg, 1] *= 1 + 0.3 * (1 - g)
        lut[veg, 4:] *= 1 + 0.25 * (1 - g)
    lut = lut[:, list(band_idx)]
    out = np.empty((len(band_idx), grid.height, grid.width), dtype=np.float32)
    amp = _TEXTURE[cls] * texture
    amp += 1
    urban = cls == URBAN
    asphalt = _LUT[ASPHALT, list(band_idx)]
    for b in range(len(band_idx)):
        layer = lut[cls, b]
        layer *= amp
        out[b] = layer
        if urban.any():
            mix = lut[URBAN, b] * roof * (1 - street - yard) + asphalt[b] * street + lut[GRASS, b] * yard
            out[b] = np.where(urban, mix, out[b])
    return out, cls


def _clouds(scenario: Scenario, aoi: AOI, grid: _Grid, acquired: datetime
            ) -> tuple[F32, F32, bool, float]:
    """Cloud opacity and shadow strength ``(H, W)`` 0..1, whether the scene's cloud is cirrus, and the fraction."""
    frac = cloud_fraction(scenario, aoi.id, "s2", acquired)
    shape = (grid.height, grid.width)
    if frac <= 0:
        return np.zeros(shape, np.float32), np.zeros(shape, np.float32), False, 0.0
    rng = _rng(scenario.seed, aoi.id, "s2", format_acquired(acquired), "clouds")
    cirrus = bool(rng.random() < 0.2)
    height = float(rng.uniform(800, 3500))
    lon, lat = aoi.centroid_lonlat
    azimuth, zenith = _sun(lon, lat, acquired)
    reach = height * math.tan(math.radians(min(zenith, 80.0)))
    dx, dy = -reach * math.sin(math.radians(azimuth)), -reach * math.cos(math.radians(azimuth))
    minx, miny, maxx, maxy = grid.bounds
    step = 40.0
    lx0 = math.floor((minx - abs(dx) - 200) / step) * step
    ly0 = math.ceil((maxy + abs(dy) + 200) / step) * step
    xs = np.asarray(lx0 + np.arange(int((maxx + abs(dx) + 200 - lx0) / step) + 2) * step, dtype=np.float64)
    ys = np.asarray(ly0 - np.arange(int((ly0 - miny + abs(dy) + 200) / step) + 2) * step, dtype=np.float64)
    salt = stable_seed(scenario.seed, aoi.id, format_acquired(acquired), "cloud-field")
    field_ = _Lattice(lx0, ly0, step, _fbm(xs, ys, (6000, 3000, 1500, 750, 375, 190, 95), salt, gain=0.6))
    here = field_.sample(grid.xs, grid.ys)
    thr = float(np.quantile(here[:: max(1, grid.height // 300), :: max(1, grid.width // 300)], 1 - frac))
    if frac >= 1:
        thr = float(here.min()) - 1.0
    soft = 0.12
    alpha = np.clip((here - thr) / soft, 0, 1)
    alpha = np.where(here > thr, np.maximum(alpha, 0.02), 0).astype(np.float32)
    if cirrus:
        return (alpha * 0.22).astype(np.float32), np.zeros(shape, np.float32), True, frac
    shifted = field_.sample(grid.xs - dx, grid.ys - dy)
    shadow = np.clip((shifted - thr) / soft, 0, 1).astype(np.float32)
    return alpha, shadow, False, frac


def _render_s2(world: _World, aoi: AOI, scenario: Scenario, grid: _Grid, acquired: datetime,
               present: _Present) -> tuple[F32, dict[str, Any]]:
    day = acquired.astimezone(UTC).date()
    lon, lat = aoi.centroid_lonlat
    refl, cls = _optical_base(world, grid, day, lat, range(6))
    canvas = _Canvas(grid, refl, "s2")
    _paint_objects(canvas, present)
    data = np.empty((7, grid.height, grid.width), dtype=np.float32)
    for b in range(6):  # sensor PSF, band by band (keeps memory at about three scenes' worth)
        ndimage.gaussian_filter(canvas.values[b], 0.55, truncate=3.0, output=data[b])
    del refl, canvas.values
    refl = data[:6]
    h2, w2 = grid.height // 2 * 2, grid.width // 2 * 2
    for b in (4, 5):  # B11, B12 are 20 m bands
        block = refl[b, :h2, :w2].reshape(h2 // 2, 2, w2 // 2, 2).mean(axis=(1, 3))
        refl[b, :h2, :w2] = np.repeat(np.repeat(block, 2, axis=0), 2, axis=1)
    alpha, shadow, cirrus, frac = _clouds(scenario, aoi, grid, acquired)
    cloud_spec = _CIRRUS if cirrus else _CLOUD
    rng = _rng(scenario.seed, aoi.id, "s2", format_acquired(acquired), "noise")
    keep = (1 - 0.7 * shadow * (1 - alpha)) * (1 - alpha) if frac > 0 else None
    puff = (0.85 + 0.15 * np.clip(alpha * 3, 0, 1)) * alpha if frac > 0 else None
    for b in range(6):
        band = refl[b]
        if keep is not None and puff is not None:
            band *= keep
            band += np.float32(cloud_spec[b]) * puff
        band += rng.standard_normal(band.shape, dtype=np.float32) * np.float32(0.004)
    np.clip(refl, 0.0, 1.0, out=refl)
    scl = data[6]
    scl[...] = np.where(cls == WATER, 6, np.where((cls == FOREST) | (cls == GRASS), 4, 5))
    scl[canvas.objects > 0.5] = 5
    if frac > 0:
        scl[(shadow > 0.3) & (alpha == 0)] = 3
        if cirrus:
            scl[alpha > 0] = 10
        else:
            scl[alpha > 0] = 8
            scl[alpha >= 0.5] = 9
    bright = _bright_hulls(scl, canvas.hulls, present, grid.res,
                           (scenario.seed, aoi.id, "s2", format_acquired(acquired)))
    azimuth, zenith = _sun(lon, lat, acquired)
    props = {"eo:cloud_cover": round(100 * frac, 2), "view:sun_azimuth": round(azimuth, 2),
             "view:sun_elevation": round(90 - zenith, 2), "satwatch:cirrus": cirrus,
             "satwatch:bright_hulls": bright}
    return data, props


def _bright_hulls(scl: F32, hulls: dict[str, tuple[tuple[int, int, int, int], F32]], present: _Present,
                  pixel_m: float, salt: tuple[object, ...]) -> list[str]:
    """Mark the hulls of some vessels as cloud in ``scl`` ``(H, W)`` (in place): see :data:`BRIGHT_HULL_RATE`.

    Each vessel of at least :data:`BRIGHT_HULL_MIN_LENGTH_M` is drawn with probability :data:`BRIGHT_HULL_RATE`
    from ``salt`` (scene seed, AOI, sensor, acquisition) and its object id; a drawn vessel whose hull pixels
    (coverage above one half, the pixels SCL calls an object) are all clear (SCL 5) gets them set to
    :data:`BRIGHT_HULL_SCL`, and keeps it only where :func:`~satwatch.imagery.bands.scl_not_clear` gives the
    blob back (on water), so that its truth stays visible. Returns the object ids of the hulls marked.
    """
    drawn: list[tuple[str, tuple[slice, slice], Bool]] = []
    for ship in present.ships:
        v = ship.vessel
        if v.length < BRIGHT_HULL_MIN_LENGTH_M or v.object_id not in hulls:
            continue
        if _rng(*salt, v.object_id, "bright-hull").random() >= BRIGHT_HULL_RATE:
            continue
        (r0, r1, c0, c1), cov = hulls[v.object_id]
        px = cov > 0.5
        win = (slice(r0, r1), slice(c0, c1))
        if px.any() and bool((scl[win][px] == 5).all()):
            scl[win][px] = BRIGHT_HULL_SCL
            drawn.append((v.object_id, win, px))
    if not drawn:
        return []
    not_clear = scl_not_clear(scl, pixel_m)
    kept = []
    for object_id, win, px in drawn:
        if not_clear[win][px].any():
            scl[win][px] = 5  # not on water (a dock, a pier's corner, a cloud's edge): SCL keeps the object
        else:
            kept.append(object_id)
    return kept


def _render_s1(world: _World, aoi: AOI, scenario: Scenario, grid: _Grid, acquired: datetime,
               present: _Present) -> tuple[F32, dict[str, Any]]:
    day = acquired.astimezone(UTC).date()
    stamp = format_acquired(acquired)
    cls, texture, roof, _, _ = _landcover(world, grid)
    speed, wind_from = _wind(scenario.seed, aoi.id, day)
    xs, ys = grid.xs, grid.ys
    sig_db = _S1_DB[cls].transpose(2, 0, 1).copy()
    sig_db += (_S1_TEXTURE_DB[cls] * texture)[None]
    urban = cls == URBAN
    if urban.any():
        sig_db[:, urban] += ((roof[urban] - 1.05) * 12.0)[None]
    water = cls == WATER
    if water.any():
        sd = world.sdist.sample(xs, ys)
        gust = _fbm(xs, ys, (3000, 1200, 500, 200), stable_seed(scenario.seed, aoi.id, stamp, "gusts"))
        local = speed * (1 + 0.25 * gust) * (1 - 0.75 * np.exp(np.minimum(sd, 0) / 350.0))
        vv = -33.0 + 18.0 * np.log10(np.maximum(local, 0.5))
        sig_db[0] = np.where(water, vv, sig_db[0])
        sig_db[1] = np.where(water, vv - 12.0, sig_db[1])
    sigma = np.power(np.float32(10.0), sig_db / np.float32(10.0)).astype(np.float32)
    canvas = _Canvas(grid, sigma, "s1")
    _paint_objects(canvas, present)
    sigma = ndimage.gaussian_filter(canvas.values, (0, 0.8, 0.8), truncate=3.0)
    for ship in present.ships:
        _sidelobes(sigma, grid, ship)
    sigma[0] += np.float32(10 ** (-25.0 / 10))
    sigma[1] += np.float32(10 ** (-28.0 / 10))
    sigma *= correlated_speckle(sigma.shape, _rng(scenario.seed, aoi.id, "s1", stamp, "speckle"))
    db = (10.0 * np.log10(np.maximum(sigma, 1e-5))).astype(np.float32)
    np.clip(db, -40.0, 35.0, out=db)
    props = {"sat:orbit_state": s1_orbit_pass(aoi.id), "satwatch:wind_speed_ms": round(speed, 2),
             "satwatch:wind_from_deg": round(wind_from, 1), "sar:polarizations": ["VV", "VH"]}
    return db, props


def _sidelobes(sigma: F32, grid: _Grid, ship: _Ship) -> None:
    """Cross-shaped sidelobes (range along rows, azimuth along columns) around a bright ship, in linear power."""
    if ship.vessel.length < 50:
        return
    px = grid.pixel(ship.x, ship.y)
    if px is None:
        return
    r, c = px
    peak = sigma[:, r, c].copy()
    n = int(min(14, 4 + ship.vessel.length / 25))
    d = np.arange(1, n + 1)
    fall = (0.045 / d**1.5).astype(np.float32)
    for sgn in (-1, 1):
        cc = c + sgn * (d + 1)
        ok = (cc >= 0) & (cc < grid.width)
        sigma[:, r, cc[ok]] += peak[:, None] * fall[ok][None]
        rr = r + sgn * (d + 1)
        ok = (rr >= 0) & (rr < grid.height)
        sigma[:, rr[ok], c] += peak[:, None] * fall[ok][None]


def _render_vhr(world: _World, aoi: AOI, scenario: Scenario, grid: _Grid, acquired: datetime,
                present: _Present) -> tuple[F32, dict[str, Any]]:
    day = acquired.astimezone(UTC).date()
    lon, lat = aoi.centroid_lonlat
    refl, cls = _optical_base(world, grid, day, lat, (2, 1, 0, 3))
    fine = _fbm(grid.xs, grid.ys, (12.0, 5.0), stable_seed(world.aoi_id, "crowns"), gain=0.8)
    veg = (cls == FOREST) | (cls == GRASS)
    refl *= np.where(veg, 1 + 0.25 * fine, 1 + 0.05 * fine)[None].astype(np.float32)
    canvas = _Canvas(grid, refl, "vhr")
    _paint_objects(canvas, present)
    refl = ndimage.gaussian_filter(canvas.values, (0, 0.6, 0.6), truncate=3.0)
    rng = _rng(scenario.seed, aoi.id, "vhr", format_acquired(acquired), "noise")
    refl += rng.standard_normal(refl.shape, dtype=np.float32) * np.float32(0.006)
    np.clip(refl, 0.0, 1.0, out=refl)
    azimuth, zenith = _sun(lon, lat, acquired)
    return refl.astype(np.float32), {"view:sun_azimuth": round(azimuth, 2), "view:sun_elevation": round(90 - zenith, 2),
                                     "eo:cloud_cover": 0.0}


def _paint_objects(canvas: _Canvas, present: _Present) -> None:
    if present.camp is not None:
        canvas.camp(*present.camp)
    for park, n in present.parks:
        canvas.park(park, n)
    for convoy in present.convoys:
        canvas.convoy(convoy)
    for ship in present.ships:
        canvas.ship(ship)


def _vhr_grid(world: _World) -> _Grid:
    res = GSD_M["vhr"]
    minx, miny, maxx, maxy = world.bounds
    w = min(VHR_MAX_PX, round((maxx - minx) / res))
    h = min(VHR_MAX_PX, round((maxy - miny) / res))
    fx, fy = world.focus
    x0 = min(max(math.floor((fx - w * res / 2) / res) * res, minx), maxx - w * res)
    y1 = max(min(math.ceil((fy + h * res / 2) / res) * res, maxy), miny + h * res)
    return _Grid(x0=x0, y0=y1, res=res, width=w, height=h)


# ----------------------------------------------------------------------------------------------------------------
# Truth
# ----------------------------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------------------------


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


class SimulatedSource:
    """The embedded imagery source: renders scenes of a :class:`Scenario` on demand (no network, no credentials).

    Example:
        >>> from datetime import date
        >>> from satwatch.aoi import load_catalog
        >>> src = SimulatedSource(Scenario.default(["ru_dunai"], date(2024, 9, 1), date(2024, 9, 30)))
        >>> len(src.search(load_catalog()["ru_dunai"], date(2024, 9, 1), date(2024, 9, 30), "s2"))
        6
    """

    name: str = "simulated"
    """Source name written into outputs."""

    def __init__(self, scenario: Scenario) -> None:
        """Serve scenes of ``scenario``."""
        self.scenario = scenario

    def search(self, aoi: AOI, start: date, end: date, sensor: str) -> list[Acquisition]:
        """Acquisitions of ``sensor`` over ``aoi`` from ``start`` to ``end`` (inclusive UTC dates), oldest first.

        Dates follow the scenario's revisit for the sensor (any sensor works; see :meth:`Scenario.revisit`);
        Sentinel-2 acquisitions carry the cloud fraction their scene will be rendered with.
        """
        if sensor not in SENSORS:
            raise UsageError(f"sensor {sensor!r} is not one of {', '.join(SENSORS)}")
        out = []
        for when in self.scenario.acquisitions(aoi, sensor, start, end):
            meta = SceneMeta(sensor=sensor, acquired=when, source=self.name, simulated=True, aoi=aoi.id)
            out.append(Acquisition(
                aoi=aoi.id, sensor=sensor, acquired=when, source=self.name, simulated=True,
                cloud_fraction=cloud_fraction(self.scenario, aoi.id, sensor, when) if sensor == "s2" else None,
                coverage=1.0, item_id=meta.scene_id,
            ))
        return out

    def archive_root(self, archive_root: Path) -> Path:
        """Folder under ``archive_root`` that holds this scenario's scenes: ``simulated/<name>-<digest>``.

        Simulated scenes are kept apart from real ones, and per scenario: the digest covers the simulator
        version and the whole scenario (seed, cloud, activity), so editing a scenario never reuses scenes
        rendered from its earlier text.
        """
        digest = hashlib.sha256(f"{SIMULATOR_VERSION}|{self.scenario!r}".encode()).hexdigest()[:12]
        slug = re.sub(r"[^a-z0-9_-]+", "-", self.scenario.name.lower()).strip("-") or "scenario"
        return Path(archive_root) / "simulated" / f"{slug}-{digest}"

    def fetch(self, acquisition: Acquisition, aoi: AOI, archive_root: Path) -> Path:
        """Render the acquisition into the archive (scene, STAC Item, and ``<stem>.truth.geojson`` beside them).

        Scenes go under :meth:`archive_root`. A scene already archived for the same AOI geometry is returned
        without rendering (a user's AOI file that reuses an id with another shape is rendered again). The truth
        is written (atomically) before the scene, so an archived scene always has its truth.
        """
        from satwatch.imagery.archive import Archive
        from satwatch.outputs.files import write_geojson

        if acquisition.aoi != aoi.id:
            raise UsageError(f"acquisition is for AOI {acquisition.aoi!r}, not {aoi.id!r}")
        archive = Archive(self.archive_root(archive_root))
        geometry_sha = hashlib.sha256(aoi.geometry.wkb).hexdigest()
        path = archive.scene_path(aoi.id, acquisition.sensor, acquisition.acquired)
        if archive.has(aoi.id, acquisition.sensor, acquisition.acquired):
            stored = archive.get(aoi.id, acquisition.sensor, acquisition.acquired)
            if stored.properties.get("satwatch:aoi_geometry_sha256") == geometry_sha:
                return path
        rendered = render(aoi, acquisition.acquired, acquisition.sensor, self.scenario)
        truth_path = path.with_suffix(".truth.geojson")
        write_geojson(rendered.truth, truth_path)
        return archive.put(rendered.scene, {**rendered.properties, "satwatch:truth": truth_path.name,
                                            "satwatch:aoi_geometry_sha256": geometry_sha})
