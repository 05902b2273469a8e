"""The three simulated sensors, rendered from the world and the objects present at one acquisition.

``s2``: 10 m, 6 reflectance bands and SCL, with clouds, cirrus, cloud shadows and bright hulls
(:data:`BRIGHT_HULL_RATE`); ``s1``: 10 m VV/VH sigma0 in dB with sea clutter from the wind, ship sidelobes and
speckle; ``vhr``: a 0.5 m R G B N window (``_vhr_grid``) around the activity. Arrays ``(bands, H, W)`` float32 on a
``_Grid`` of the AOI's UTM zone.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy import ndimage

from satwatch.aoi import AOI
from satwatch.imagery.bands import scl_not_clear
from satwatch.imagery.scenario import Scenario, s1_orbit_pass, stable_seed
from satwatch.imagery.scene import format_acquired
from satwatch.imagery.simulated.arrays import F32, Bool
from satwatch.imagery.simulated.conditions import _sun, _wind, cloud_fraction
from satwatch.imagery.simulated.grid import GSD_M, VHR_MAX_PX, _Grid, _Lattice
from satwatch.imagery.simulated.landcover import _landcover, _optical_base
from satwatch.imagery.simulated.materials import (
    _CIRRUS,
    _CLOUD,
    _S1_DB,
    _S1_TEXTURE_DB,
    FOREST,
    GRASS,
    S2_NOISE,
    URBAN,
    WATER,
)
from satwatch.imagery.simulated.noise import _fbm, _rng
from satwatch.imagery.simulated.objects import _Present, _Ship
from satwatch.imagery.simulated.painting import _Canvas, _paint_objects
from satwatch.imagery.simulated.world import _World
from satwatch.imagery.speckle import correlated_speckle

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
        band += rng.standard_normal(band.shape, dtype=np.float32) * np.float32(S2_NOISE)
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


def _vhr_grid(world: _World) -> _Grid:
    res = GSD_M["vhr"]
    minx, miny, maxx, maxy = world.bounds
    w = min(VHR_MAX_PX, round((maxx - minx) / res))
    h = min(VHR_MAX_PX, round((maxy - miny) / res))
    fx, fy = world.focus
    x0 = min(max(math.floor((fx - w * res / 2) / res) * res, minx), maxx - w * res)
    y1 = max(min(math.ceil((fy + h * res / 2) / res) * res, maxy), miny + h * res)
    return _Grid(x0=x0, y0=y1, res=res, width=w, height=h)
