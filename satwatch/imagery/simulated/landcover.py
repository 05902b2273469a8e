"""Land cover of the static world on a pixel grid, and the optical sensors' surface reflectance.

``_landcover`` gives the class map ``(H, W)`` uint8 (classes of :mod:`~satwatch.imagery.simulated.materials`),
texture and the urban blocks (30 m cells of roofs, streets and yards); ``_optical_base`` the reflectance
``(bands, H, W)`` float32 of the static world with the season's greenness.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
from rasterio.features import rasterize

from satwatch.imagery.scenario import stable_seed
from satwatch.imagery.simulated.arrays import F32
from satwatch.imagery.simulated.conditions import _greenness
from satwatch.imagery.simulated.grid import _Grid
from satwatch.imagery.simulated.materials import (
    _LUT,
    _QUAY_CELLS_M,
    _TEXTURE,
    ASPHALT,
    CONCRETE,
    FOREST,
    GRASS,
    SOIL,
    URBAN,
    WATER,
)
from satwatch.imagery.simulated.noise import _hash01
from satwatch.imagery.simulated.world import _World


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


def _quay_clutter(aoi_id: str, grid: _Grid) -> F32:
    """Brightness factor ``(H, W)`` of quay clutter.

    The product of one uniform draw per cell of each size in :data:`_QUAY_CELLS_M`; cells are in map
    coordinates, so every grid (10 m or 0.5 m) shows the same clutter.
    """
    factor = np.ones((grid.height, grid.width), dtype=np.float32)
    for cell, (lo, hi) in _QUAY_CELLS_M:
        ix = np.floor(grid.xs / cell).astype(np.int64)
        iy = np.floor(grid.ys / cell).astype(np.int64)
        draw = _hash01(iy[:, None], ix[None, :], stable_seed(aoi_id, "quay-clutter", cell))
        factor *= (lo + (hi - lo) * draw).astype(np.float32)
    return factor


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
    quay = cls == CONCRETE
    if quay.any():
        amp = np.where(quay, amp * _quay_clutter(world.aoi_id, grid), amp)
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
