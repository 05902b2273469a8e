"""Pixel grids and map lattices in the AOI's UTM zone (``aoi.utm_epsg``), in map metres.

``_Grid`` is a north-up pixel grid (upper-left corner, square pixels); ``_Lattice`` a float32 field on map nodes,
sampled bilinearly. :func:`scene_grid` and ``_bbox_grid`` give an AOI's bounding-box grid, snapped outwards to
multiples of the pixel size of :data:`GSD_M`; VHR windows are at most :data:`VHR_MAX_PX` pixels on a side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from pyproj import CRS
from scipy import ndimage

from satwatch.aoi import AOI
from satwatch.imagery.simulated.arrays import F32, F64

GSD_M: dict[str, float] = {"s2": 10.0, "s1": 10.0, "vhr": 0.5}
"""Pixel size in metres per simulated sensor."""
VHR_MAX_PX = 2048
"""Largest VHR window edge, pixels (1024 m at 0.5 m)."""


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
