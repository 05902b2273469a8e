"""Quicklooks of archived scenes on a common map grid, for the HTML report.

A quicklook is a small JPEG of one scene resampled onto a :class:`MapGrid` (the AOI's projected CRS, a fixed
extent and pixel size), so every date of an AOI lines up pixel for pixel and vector layers can be drawn over any
of them with one affine transform::

    grid = MapGrid.for_geometry(aoi_geometry, "EPSG:32652")
    jpeg = render_quicklook("data/archive/ru_dunai/s2/20241016T021000.tif", grid)

Rendering: Sentinel-2 and VHR in true colour (``B04, B03, B02`` or ``R, G, B``, reflectance x 3.5, gamma 1.3: the
stretch of the claim evidence chips); Sentinel-1 as ``VV`` sigma0 from -25 dB (black) to 0 dB (white). Nodata and
pixels outside the scene are dark grey.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import shapely
from affine import Affine
from PIL import Image
from pyproj import CRS, Transformer
from rasterio.enums import Resampling
from rasterio.warp import reproject
from shapely.geometry.base import BaseGeometry

from satwatch.errors import InputFileError

__all__ = ["NODATA_GREY", "MapGrid", "quicklook_array", "render_quicklook"]

NODATA_GREY = 48
"""Grey level (0..255) of pixels with no data."""


def _apply(fn: Any, geometry: BaseGeometry) -> BaseGeometry:
    """Apply ``fn(xs, ys) -> (xs, ys)`` to every coordinate of ``geometry`` (2D)."""
    out: BaseGeometry = shapely.transform(
        geometry, lambda xy: np.column_stack([np.asarray(v, dtype=float) for v in fn(xy[:, 0], xy[:, 1])]))
    return out


@dataclass(frozen=True)
class MapGrid:
    """The pixel grid of one report map: a projected CRS, an extent and a pixel size.

    Pixel ``(col, row)`` covers ``transform * (col, row)`` to ``transform * (col + 1, row + 1)``; row 0 is north.
    """

    crs: str
    """CRS of the grid (``EPSG:<code>`` or WKT), normally the AOI's UTM zone."""
    transform: Affine
    """Affine from pixel (col, row) to grid CRS coordinates (metres), north up."""
    width: int
    """Pixels per row."""
    height: int
    """Rows."""

    @classmethod
    def for_geometry(cls, geometry_4326: BaseGeometry, crs: str, max_px: int = 560, pad: float = 0.04) -> MapGrid:
        """Grid covering ``geometry_4326`` (lon/lat) in ``crs``, padded by ``pad`` of its size, at most ``max_px``.

        Example::

            grid = MapGrid.for_geometry(aoi.geometry, f"EPSG:{aoi.utm_epsg}")
        """
        to_grid = Transformer.from_crs("EPSG:4326", CRS.from_user_input(crs), always_xy=True).transform
        minx, miny, maxx, maxy = _apply(to_grid, geometry_4326).bounds
        dx, dy = (maxx - minx) or 100.0, (maxy - miny) or 100.0
        minx, maxx, miny, maxy = minx - pad * dx, maxx + pad * dx, miny - pad * dy, maxy + pad * dy
        size = max(maxx - minx, maxy - miny) / max_px
        width, height = max(1, math.ceil((maxx - minx) / size)), max(1, math.ceil((maxy - miny) / size))
        return cls(crs=crs, transform=Affine(size, 0.0, minx, 0.0, -size, maxy), width=width, height=height)

    @property
    def pixel_size(self) -> float:
        """Pixel size in grid CRS units (metres)."""
        return float(self.transform.a)

    def to_pixels(self, geometry_4326: BaseGeometry) -> BaseGeometry:
        """``geometry_4326`` (lon/lat) in this grid's pixel coordinates (x = column, y = row, floats)."""
        to_grid = Transformer.from_crs("EPSG:4326", CRS.from_user_input(self.crs), always_xy=True).transform
        inverse = ~self.transform

        def to_px(x: Any, y: Any) -> tuple[Any, Any]:
            gx, gy = to_grid(x, y)
            col = inverse.a * np.asarray(gx) + inverse.b * np.asarray(gy) + inverse.c
            row = inverse.d * np.asarray(gx) + inverse.e * np.asarray(gy) + inverse.f
            return col, row

        return _apply(to_px, geometry_4326)


def _band_indexes(descriptions: tuple[str | None, ...]) -> tuple[list[int], bool]:
    names = [d or "" for d in descriptions]
    for rgb in (("B04", "B03", "B02"), ("R", "G", "B")):
        if set(rgb) <= set(names):
            return [names.index(n) + 1 for n in rgb], True
    return [names.index("VV") + 1 if "VV" in names else 1], False


def quicklook_array(scene_path: str | Path, grid: MapGrid) -> npt.NDArray[np.uint8]:
    """Resample the scene onto ``grid`` as display values: ``(height, width, 3)`` uint8 RGB.

    Raises:
        InputFileError: the scene file cannot be read (missing or not a raster).
    """
    path = Path(scene_path)
    try:
        src = rasterio.open(path)
    except (rasterio.errors.RasterioIOError, OSError) as exc:
        raise InputFileError(f"cannot read scene {path} for its quicklook: {exc}; re-run the monitor to "
                             "archive it again") from exc
    with src:
        indexes, colour = _band_indexes(tuple(src.descriptions))
        src_res = max(abs(src.transform.a), abs(src.transform.e))
        # Read decimated close to the grid's pixel size (at least 1 source pixel per output pixel).
        factor = max(1, int(grid.pixel_size // max(src_res, 1e-9)))
        shape = (len(indexes), max(1, src.height // factor), max(1, src.width // factor))
        data = src.read(indexes, out_shape=shape, resampling=Resampling.average, masked=True).astype(np.float32)
        values = data.filled(np.nan)
        src_transform = src.transform @ Affine.scale(src.width / shape[2], src.height / shape[1])
        src_crs = src.crs
    out = np.full((len(indexes), grid.height, grid.width), np.nan, dtype=np.float32)
    reproject(values, out, src_transform=src_transform, src_crs=src_crs, src_nodata=np.nan,
              dst_transform=grid.transform, dst_crs=CRS.from_user_input(grid.crs), dst_nodata=np.nan,
              resampling=Resampling.bilinear)
    if colour:
        scaled = np.clip(np.nan_to_num(out, nan=0.0) * 3.5, 0.0, 1.0) ** (1 / 1.3)
        rgb = np.moveaxis(scaled, 0, -1)
        missing = np.isnan(out).any(axis=0)
    else:
        grey = np.clip((np.nan_to_num(out[0], nan=-25.0) + 25.0) / 25.0, 0.0, 1.0)
        rgb = np.repeat(grey[..., None], 3, axis=-1)
        missing = np.isnan(out[0])
    img: npt.NDArray[np.uint8] = (rgb * 255.0 + 0.5).astype(np.uint8)
    img[missing] = NODATA_GREY
    return img


def render_quicklook(scene_path: str | Path, grid: MapGrid, quality: int = 72) -> bytes:
    """JPEG bytes of the scene's quicklook on ``grid`` (see :func:`quicklook_array`)."""
    buf = io.BytesIO()
    Image.fromarray(quicklook_array(scene_path, grid), mode="RGB").save(buf, format="JPEG", quality=quality,
                                                                          optimize=True)
    return buf.getvalue()
