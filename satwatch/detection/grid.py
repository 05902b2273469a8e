"""The profile grid: a scene seen at a CNN profile's resolution, read by GDAL with on-the-fly resampling.

A profile (:mod:`satwatch.detection.profiles`) fixes a ground resolution; a source raster is seen through a
*profile grid* of that resolution covering the same extent (``scale`` = source pixels per profile pixel, from the
raster's true ground sample distance). Windows of the grid are read with rasterio, bilinear for values and nearest
for the Sentinel-2 SCL class band, NaN outside the raster and where the raster has no data.

Inference reads its tiles through :func:`read_tile` (:mod:`satwatch.detection.models.cnn`) and training data
resamples whole scenes with :func:`profile_raster` (:mod:`satwatch.detection.data.training_data`): one code path,
so training sees what inference sees. Pure raster preparation: imports numpy, rasterio and the profiles, nothing of
``models/``, ``data/`` or ``training/``.

Example:
    >>> from satwatch.detection.profiles import PROFILES
    >>> raw, names, scale = profile_raster(scene, PROFILES["s2"])  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rasterio.enums import Resampling
from rasterio.io import DatasetReader, MemoryFile
from rasterio.windows import Window

from satwatch.detection.profiles import Profile
from satwatch.imagery.scene import Scene

__all__ = ["ProfileGrid", "profile_grid", "profile_raster", "read_tile", "scene_dataset"]

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ProfileGrid:
    """The profile grid over a source raster."""

    width: int
    """Grid width, profile pixels."""
    height: int
    """Grid height, profile pixels."""
    scale: float
    """Source pixels per profile pixel."""
    resample: bool
    """Whether reads resample (False: the source already has the profile's resolution, within 2%)."""


def profile_grid(src_width: int, src_height: int, gsd_m: float, res_m: float) -> ProfileGrid:
    """Return the grid of resolution ``res_m`` over a ``src_width`` x ``src_height`` raster of ``gsd_m`` pixels."""
    scale = res_m / gsd_m
    if abs(scale - 1.0) < 0.02:
        return ProfileGrid(src_width, src_height, 1.0, False)
    return ProfileGrid(max(1, round(src_width / scale)), max(1, round(src_height / scale)), scale, True)


def read_tile(src: DatasetReader, band_idx: list[int], scl_idx: int | None, grid: ProfileGrid, r0: int, c0: int,
              tile: int, tile_w: int | None = None) -> F32:
    """Read a ``tile`` x ``tile_w`` window of the profile grid: ``(len(band_idx) + (1 if SCL), tile, tile_w)``.

    Values are resampled bilinearly (SCL: nearest) by GDAL on read; outside the raster they are NaN.
    """
    tw = tile if tile_w is None else tile_w
    n_out = len(band_idx) + (1 if scl_idx is not None else 0)
    out = np.full((n_out, tile, tw), np.nan, dtype=np.float32)
    h = min(tile, grid.height - r0)
    w = min(tw, grid.width - c0)
    if grid.resample:
        win = Window(c0 * grid.scale, r0 * grid.scale, w * grid.scale, h * grid.scale)
        out[: len(band_idx), :h, :w] = src.read(band_idx, window=win, out_shape=(len(band_idx), h, w),
                                                resampling=Resampling.bilinear, out_dtype="float32")
        if scl_idx is not None:
            out[-1, :h, :w] = src.read(scl_idx, window=win, out_shape=(h, w), resampling=Resampling.nearest,
                                       out_dtype="float32")
    else:
        win = Window(c0, r0, w, h)
        out[: len(band_idx), :h, :w] = src.read(band_idx, window=win, out_dtype="float32")
        if scl_idx is not None:
            out[-1, :h, :w] = src.read(scl_idx, window=win, out_dtype="float32")
    nodata = src.nodata
    if nodata is not None and not np.isnan(nodata):
        out[out == nodata] = np.nan
    return out


@contextlib.contextmanager
def scene_dataset(scene: Scene) -> Iterator[DatasetReader]:
    """Open an in-memory scene as a rasterio dataset (so that in-memory and file scenes share one code path)."""
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=scene.width, height=scene.height, count=len(scene.bands),
                      dtype="float32", crs=scene.crs.to_wkt(), transform=scene.transform,
                      nodata=float("nan")) as dst:
            dst.write(scene.data.astype(np.float32, copy=False))
            for i, name in enumerate(scene.bands, start=1):
                dst.set_band_description(i, name)
        with mem.open() as src:
            yield src


def profile_raster(scene: Scene, profile: Profile) -> tuple[F32, tuple[str, ...], float]:
    """Resample a whole scene to the profile grid, exactly as the detector reads its tiles.

    Returns:
        ``(raw, names, scale)``: ``raw`` ``(bands, H', W')`` float32 of the profile bands present (then ``SCL``
        for Sentinel-2), their names, and ``scale`` = source pixels per profile pixel.
    """
    profile.check_bands(scene.bands)
    use = [b for b in profile.bands if b in scene.bands]
    band_idx = [scene.bands.index(b) + 1 for b in use]
    scl_idx = scene.bands.index("SCL") + 1 if "SCL" in scene.bands and profile.sensor == "s2" else None
    grid = profile_grid(scene.width, scene.height, scene.gsd_m, profile.res_m)
    with scene_dataset(scene) as src:
        raw = read_tile(src, band_idx, scl_idx, grid, 0, 0, grid.height, grid.width)
    return raw, tuple(use) + (("SCL",) if scl_idx is not None else ()), grid.scale
