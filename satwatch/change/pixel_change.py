"""Pixel-level change between two windows, where objects are not the right unit: ground disturbance, new structures.

Two measures, each on window composites so that one noisy or cloudy date does not make a change:

- **Sentinel-1 log-ratio**: per window, the per-pixel median of sigma0 in *linear power* (VV), then
  ``10 log10(test / baseline)`` in dB. The median of several speckled dates is a robust composite; the ratio
  (not the difference) is the right statistic for multiplicative speckle. Pixels whose log-ratio is beyond
  ``s1_threshold_db`` (default 3 dB) are ``s1_increase`` (new structures, vehicles, metal) or ``s1_decrease``.
- **Sentinel-2 index change on land**: per scene NDVI ``(B08 - B04) / (B08 + B04)`` and NDBI
  ``(B11 - B08) / (B11 + B08)`` on *clear land pixels only* (SCL 4, 5, 7, 11: never nodata, cloud, shadow,
  cirrus or water), then the per-pixel median per window. Each index change is turned into a robust z-score
  against the AOI's own change (its median is subtracted first, so autumn senescence of the whole AOI is not a
  change; divided by 1.4826 MAD). A pixel is ``s2_disturbance`` when the combined score
  ``hypot(z_ndvi, z_ndbi) >= s2_z`` and the change itself ``hypot(d_ndvi, d_ndbi) >= s2_min_delta``: both
  directions count, because a camp on bare soil *lowers* NDBI (olive tents are bright in NIR) while a camp on
  grass lowers NDVI.

Each mask is cleaned (binary closing then opening with a 3 x 3 cross, holes filled), vectorised with
:func:`rasterio.features.shapes`, and polygons below ``min_area_m2`` are dropped. Areas are geodesic m2.

All scenes of one composite must be of one sensor; they are resampled (nearest) onto the grid of the first
scene when their grids differ. Returned polygons are EPSG:4326.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import rasterio.features
import rasterio.warp
import shapely
from affine import Affine
from pyproj import CRS
from scipy import ndimage
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from satwatch.aoi import project_geometry
from satwatch.change.matching import geodesic_area_m2
from satwatch.errors import SceneFormatError
from satwatch.imagery.scene import Scene

__all__ = [
    "PIXEL_CHANGE_COLUMNS",
    "S2_CLEAR_LAND",
    "Composite",
    "change_polygons",
    "pixel_change",
    "s1_composite",
    "s1_log_ratio_db",
    "s2_index_change",
    "s2_index_composite",
]

S2_CLEAR_LAND = (4.0, 5.0, 7.0, 11.0)
"""SCL classes used for land index change: vegetation (4), not vegetated (5), unclassified (7), snow (11). Never
used: nodata (0), saturated or dark (1, 2), cloud shadow (3), water (6), cloud (8, 9), cirrus (10)."""
PIXEL_CHANGE_COLUMNS = (
    "aoi", "sensor", "kind", "area_m2", "mean_change", "baseline", "test", "baseline_scenes", "test_scenes",
    "simulated",
)
"""Columns of :func:`pixel_change` (then ``geometry``, Polygons in EPSG:4326). ``mean_change`` is in dB for
Sentinel-1 and NDVI units (negative: vegetation lost) for Sentinel-2."""

S1_BOXCAR_PX = 5
"""Each Sentinel-1 scene is multilooked with a 5 x 5 boxcar (linear power) before the median: speckle of
single-look-equivalent ENL ~4.4 becomes ENL ~100, so a 3 dB threshold is ~10 standard deviations."""

F32 = npt.NDArray[np.float32]
Bool = npt.NDArray[np.bool_]
_CROSS = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class Composite:
    """A per-pixel median of several scenes of one sensor over one window, on one grid."""

    data: F32
    """``(bands, height, width)`` float32, NaN where no scene had a usable pixel. S1: VV, VH linear power;
    S2: NDVI, NDBI."""
    crs: CRS
    """CRS of the grid."""
    transform: Affine
    """Pixel-to-CRS affine transform of the grid."""
    n_scenes: int
    """Scenes that went into the composite."""
    simulated: bool
    """True when any scene was simulated."""


def _on_grid(arr: F32, scene: Scene, crs: CRS, transform: Affine, shape_hw: tuple[int, int]) -> F32:
    """Resample ``arr`` ``(bands, h, w)`` from ``scene``'s grid to the given grid (nearest); NaN outside."""
    if scene.crs == crs and scene.transform == transform and arr.shape[1:] == shape_hw:
        return arr
    out = np.full((arr.shape[0], *shape_hw), np.nan, dtype=np.float32)
    rasterio.warp.reproject(arr, out, src_transform=scene.transform, src_crs=scene.crs, dst_transform=transform,
                            dst_crs=crs, src_nodata=np.nan, dst_nodata=np.nan,
                            resampling=rasterio.warp.Resampling.nearest)
    return out


def _boxcar(arr: F32, size: int) -> F32:
    """Mean of each ``size x size`` neighbourhood per band, NaN-aware (multilooking against speckle)."""
    if size <= 1:
        return arr
    ok = np.isfinite(arr)
    num = ndimage.uniform_filter(np.where(ok, arr, 0.0).astype(np.float32), size=(1, size, size), mode="nearest")
    den = ndimage.uniform_filter(ok.astype(np.float32), size=(1, size, size), mode="nearest")
    with np.errstate(all="ignore"):
        return np.where(ok & (den > 0), num / den, np.nan).astype(np.float32)


def _median_composite(per_scene: Iterable[tuple[Scene, F32]]) -> Composite | None:
    stack: list[F32] = []
    grid: tuple[CRS, Affine, tuple[int, int]] | None = None
    simulated = False
    for scene, arr in per_scene:
        if grid is None:
            grid = (scene.crs, scene.transform, (scene.height, scene.width))
        stack.append(_on_grid(arr, scene, *grid))
        simulated |= scene.meta.simulated
    if grid is None:
        return None
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels give NaN, on purpose
            data = np.nanmedian(np.stack(stack), axis=0).astype(np.float32)
    return Composite(data=data, crs=grid[0], transform=grid[1], n_scenes=len(stack), simulated=simulated)


def s1_composite(scenes: Iterable[Scene]) -> Composite | None:
    """Median of sigma0 in linear power per pixel, bands ``VV, VH`` (input scenes are in dB); None if no scene.

    Scenes are consumed one at a time (an iterator of :func:`~satwatch.imagery.scene.read_scene` keeps
    memory to the composite stack of two bands per scene).
    """
    def arrays() -> Iterable[tuple[Scene, F32]]:
        for s in scenes:
            if s.meta.sensor != "s1":
                raise SceneFormatError(f"scene {s.meta.scene_id} is {s.meta.sensor}, not s1; composite one sensor")
            db = np.stack([s.band("VV"), s.band("VH")])
            power = np.power(np.float32(10.0), db / np.float32(10.0)).astype(np.float32)
            yield s, _boxcar(power, S1_BOXCAR_PX)

    return _median_composite(arrays())


def s2_index_composite(scenes: Iterable[Scene]) -> Composite | None:
    """Median NDVI and NDBI per pixel over clear land pixels (SCL in :data:`S2_CLEAR_LAND`); None if no scene."""
    def arrays() -> Iterable[tuple[Scene, F32]]:
        for s in scenes:
            if s.meta.sensor != "s2":
                raise SceneFormatError(f"scene {s.meta.scene_id} is {s.meta.sensor}, not s2; composite one sensor")
            red, nir, swir = s.band("B04"), s.band("B08"), s.band("B11")
            clear = np.isin(s.band("SCL"), S2_CLEAR_LAND)
            with np.errstate(all="ignore"):
                ndvi = (nir - red) / (nir + red)
                ndbi = (swir - nir) / (swir + nir)
            yield s, np.stack([np.where(clear, ndvi, np.nan), np.where(clear, ndbi, np.nan)]).astype(np.float32)

    return _median_composite(arrays())


def s1_log_ratio_db(baseline: Composite, test: Composite) -> F32:
    """Return ``10 log10(test VV / baseline VV)`` in dB on the baseline grid, ``(height, width)``; NaN where unknown."""
    t = _align(test, baseline)
    with np.errstate(all="ignore"):
        return np.asarray(10.0 * np.log10(t[0] / baseline.data[0]), dtype=np.float32)


def _align(c: Composite, ref: Composite) -> F32:
    if c.crs == ref.crs and c.transform == ref.transform and c.data.shape == ref.data.shape:
        return c.data
    out = np.full(ref.data.shape, np.nan, dtype=np.float32)
    rasterio.warp.reproject(c.data, out, src_transform=c.transform, src_crs=c.crs, dst_transform=ref.transform,
                            dst_crs=ref.crs, src_nodata=np.nan, dst_nodata=np.nan,
                            resampling=rasterio.warp.Resampling.nearest)
    return out


def _robust_z(d: F32, inside: Bool) -> F32:
    vals = d[inside & np.isfinite(d)]
    if vals.size < 10:
        return np.full_like(d, np.nan)
    med = float(np.median(vals))
    mad = 1.4826 * float(np.median(np.abs(vals - med)))
    return np.asarray((d - med) / max(mad, 1e-3), dtype=np.float32)


def s2_index_change(
    baseline: Composite, test: Composite, inside: Bool | None = None, z: float = 4.0, min_delta: float = 0.05,
) -> tuple[Bool, F32]:
    """Disturbed land between two S2 index composites.

    Args:
        baseline: :func:`s2_index_composite` of the baseline window.
        test: the same for the test window (resampled to the baseline grid if needed).
        inside: ``(height, width)`` mask of the pixels to consider (the AOI); all when None.
        z: combined robust z-score ``hypot(z_ndvi, z_ndbi)`` beyond which a pixel changed.
        min_delta: least change ``hypot(d_ndvi, d_ndbi)`` in index units.

    Returns:
        ``(mask, d_ndvi)``: the ``(height, width)`` disturbance mask and the NDVI change (test - baseline).
    """
    t = _align(test, baseline)
    d_ndvi = (t[0] - baseline.data[0]).astype(np.float32)
    d_ndbi = (t[1] - baseline.data[1]).astype(np.float32)
    region = np.ones(d_ndvi.shape, dtype=bool) if inside is None else inside
    z_ndvi, z_ndbi = _robust_z(d_ndvi, region), _robust_z(d_ndbi, region)
    with np.errstate(invalid="ignore"):
        mask = (np.hypot(z_ndvi, z_ndbi) >= z) & (np.hypot(d_ndvi, d_ndbi) >= min_delta)
    return mask & region, d_ndvi


def _clean(mask: Bool) -> Bool:
    m = ndimage.binary_closing(mask, structure=_CROSS, iterations=2)
    m = ndimage.binary_opening(m, structure=_CROSS)
    return np.asarray(ndimage.binary_fill_holes(m), dtype=bool)


def change_polygons(
    mask: Bool, transform: Affine, crs: CRS, min_area_m2: float, values: F32 | None = None, clean: bool = True,
) -> gpd.GeoDataFrame:
    """Vectorise a change mask to polygons (EPSG:4326) of at least ``min_area_m2`` geodesic m2.

    Args:
        mask: ``(height, width)`` boolean change mask on the grid ``transform`` / ``crs``.
        transform: pixel-to-CRS affine transform.
        crs: CRS of the grid.
        min_area_m2: smallest polygon kept, m2.
        values: optional ``(height, width)`` change values; their mean inside each polygon is ``mean_change``.
        clean: close, open and fill holes first (see the module docstring).

    Returns:
        GeoDataFrame with ``area_m2``, ``mean_change`` and valid Polygon geometries in EPSG:4326.
    """
    m = _clean(mask) if clean else mask
    labels, n = ndimage.label(m, structure=_CROSS)
    geoms: list[BaseGeometry] = []
    means: list[float] = []
    if n:
        means_all = (ndimage.mean(np.nan_to_num(values), labels, index=np.arange(1, n + 1))
                     if values is not None else np.full(n, np.nan))
        for geom, lab in rasterio.features.shapes(labels.astype(np.int32), mask=m, transform=transform,
                                                  connectivity=4):
            geoms.append(shapely.make_valid(shape(geom)))
            means.append(float(means_all[int(lab) - 1]))
    if not geoms:
        return gpd.GeoDataFrame({"area_m2": [], "mean_change": []}, geometry=[], crs=4326)
    gdf = gpd.GeoDataFrame({"mean_change": np.round(means, 4)}, geometry=geoms, crs=crs).to_crs(4326)
    gdf["geometry"] = shapely.make_valid(gdf.geometry.to_numpy())
    gdf["area_m2"] = np.round(geodesic_area_m2(gdf.geometry), 1)
    gdf = gdf[gdf["area_m2"] >= min_area_m2]
    return gpd.GeoDataFrame(gdf[["area_m2", "mean_change", "geometry"]], geometry="geometry", crs=4326)


def _inside(aoi_geometry: BaseGeometry | None, comp: Composite) -> Bool:
    shape_hw = comp.data.shape[1:]
    if aoi_geometry is None:
        return np.ones(shape_hw, dtype=bool)
    geom = project_geometry(aoi_geometry, 4326, comp.crs)
    return np.asarray(~rasterio.features.geometry_mask([geom], out_shape=shape_hw, transform=comp.transform),
                      dtype=bool)


def pixel_change(
    sensor: str,
    baseline_scenes: Iterable[Scene],
    test_scenes: Iterable[Scene],
    aoi: str = "",
    aoi_geometry: BaseGeometry | None = None,
    baseline_label: str = "",
    test_label: str = "",
    min_area_m2: float = 2000.0,
    s1_threshold_db: float = 3.0,
    s2_z: float = 4.0,
    s2_min_delta: float = 0.05,
) -> gpd.GeoDataFrame:
    """Change polygons of one AOI and sensor between a baseline and a test window.

    Args:
        sensor: ``s1`` (log-ratio of VV composites) or ``s2`` (NDVI/NDBI change on clear land).
        baseline_scenes: scenes of the baseline window (an iterator is fine; consumed once).
        test_scenes: scenes of the test window.
        aoi: AOI id written to every row.
        aoi_geometry: AOI polygon, EPSG:4326; change outside it is ignored (None: the whole grid).
        baseline_label: the baseline window as text, written to every row.
        test_label: the test window as text, written to every row.
        min_area_m2: smallest polygon kept, geodesic m2 (default 2000 m2 = 20 Sentinel pixels).
        s1_threshold_db: |log-ratio| in dB beyond which a Sentinel-1 pixel changed.
        s2_z: combined robust z-score threshold of Sentinel-2 index change.
        s2_min_delta: least Sentinel-2 index change (NDVI/NDBI units).

    Returns:
        GeoDataFrame with :data:`PIXEL_CHANGE_COLUMNS` and Polygons in EPSG:4326 (empty when either window has
        no scene). ``kind`` is ``s1_increase``, ``s1_decrease`` or ``s2_disturbance``.
    """
    if sensor not in ("s1", "s2"):
        raise SceneFormatError(f"pixel change needs s1 or s2 scenes, not {sensor!r}")
    comp = s1_composite if sensor == "s1" else s2_index_composite
    base, test = comp(baseline_scenes), comp(test_scenes)
    frames: list[gpd.GeoDataFrame] = []
    if base is not None and test is not None:
        inside = _inside(aoi_geometry, base)
        if sensor == "s1":
            lr = s1_log_ratio_db(base, test)
            with np.errstate(invalid="ignore"):
                for kind, mask in (("s1_increase", lr >= s1_threshold_db), ("s1_decrease", lr <= -s1_threshold_db)):
                    frames.append(change_polygons(mask & inside, base.transform, base.crs, min_area_m2, lr)
                                  .assign(kind=kind))
        else:
            mask, d_ndvi = s2_index_change(base, test, inside, s2_z, s2_min_delta)
            frames.append(change_polygons(mask, base.transform, base.crs, min_area_m2, d_ndvi)
                          .assign(kind="s2_disturbance"))
    rows = [f for f in frames if len(f)]
    if not rows:
        return gpd.GeoDataFrame(columns=list(PIXEL_CHANGE_COLUMNS), geometry=[], crs=4326)
    gdf = _concat(rows)
    assert base is not None and test is not None
    gdf = gdf.assign(aoi=aoi, sensor=sensor, baseline=baseline_label, test=test_label,
                     baseline_scenes=base.n_scenes, test_scenes=test.n_scenes,
                     simulated=base.simulated or test.simulated)
    return gpd.GeoDataFrame(gdf[[*PIXEL_CHANGE_COLUMNS, "geometry"]], geometry="geometry", crs=4326)


def _concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    import pandas as pd

    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)
