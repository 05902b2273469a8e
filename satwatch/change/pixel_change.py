"""Pixel-level change between two windows, where objects are not the right unit: ground disturbance, new structures.

Sentinel-1: log-ratio of window composites
    Per window, the per-pixel median of sigma0 in *linear power* (VV, each scene multilooked first), then
    ``10 log10(test / baseline)`` in dB. The median of several speckled dates is a robust composite; the ratio
    (not the difference) is the right statistic for multiplicative speckle. Pixels whose log-ratio is beyond
    ``s1_threshold_db`` (default 3 dB) are ``s1_increase`` (new structures, vehicles, metal) or ``s1_decrease``.

Sentinel-2: change against a seasonal model, per acquisition
    Optical change between two windows is dominated by the season (autumn senescence lowers NDVI, raises red,
    SWIR and NDBI), and by *how far into the season* each composite is: where clouds leave only early or only
    late dates, a median composite sits at another point of the season than its neighbours. Neither is ground
    disturbance. Real senescence is a broad shift shared by all pixels that looked alike at the baseline; a camp,
    a new building or a cleared plot is a compact anomaly against pixels that started in the same state. So:

    1. *Features*, per scene, on clear land only (SCL 4, 5, 7; never nodata, saturated, shadow, water, cloud,
       cirrus or snow): NDVI ``(B08 - B04) / (B08 + B04)``, NDBI ``(B11 - B08) / (B11 + B08)`` and LNVIS
       ``ln((B02 + B03 + B04) / 3)``, the log of visible brightness (tents, roofs, gravel and compacted ground
       are bright; a log makes an illumination or seasonal *factor* an additive offset).
    2. *Strata*: each pixel is put in a bin of its baseline state (median baseline NDVI and NDBI, bins 0.025
       wide; a bin with fewer than :data:`S2_STRATUM_MIN_PX` sampled pixels falls back to bins 0.05, 0.1, ...
       wide and finally to the whole AOI). A stratum is "pixels that looked alike": forest, grass, soil, roofs
       and every mixture of them at class edges each get their own. A pixel's expected change is interpolated
       bilinearly between the bins around its state, so it is continuous in the state (no steps at bin edges).
    3. *Seasonal model* (Tukey's median polish on the pixel x acquisition table of each stratum, pixel levels
       from the baseline acquisitions only): ``F[s, p] = mu[p] + phi[s, stratum(p)] + residual``, where ``mu``
       is the pixel's baseline level and ``phi`` the offset of acquisition ``s`` for the stratum (the season, the
       illumination and the atmosphere of that date, for that kind of ground). Offsets are medians over the
       stratum's clear pixels in that acquisition (falling back to coarser strata when fewer than
       :data:`S2_STRATUM_MIN_PX` are clear), so up to half of a stratum may change without moving its offset.
       Each test acquisition is compared with the season *of its own date*: cloud gaps no longer bias a pixel.
    4. *Local background*: the median residual's 2-D field of local medians (cells of ``background_m / 8``,
       medians over 9 x 9 cells, i.e. a ``~background_m`` square, bilinearly interpolated) is subtracted, so
       smooth regional differences in phenology (valley against ridge, early against late fields) are absorbed
       while a compact anomaly, a small minority of its window, is not.
    5. *Score and persistence*: residuals are scaled per stratum and feature by ``1.4826 MAD`` of the test
       acquisitions' residuals, floored at :data:`S2_FLOORS` (0.025 NDVI/NDBI, 0.05 LNVIS: changes smaller than
       that are not ground disturbance whatever the noise). A pixel is ``s2_disturbance`` when the score of its
       median residual ``sqrt(sum_f (r_f / sigma_f)^2) >= s2_z`` *and* the same holds on at least
       ``s2_persistence`` (half) of its clear test acquisitions and on at least two of them (one when the test
       window has one scene): a single odd date (haze, a missed cloud edge, a parked lorry) is not a change.
       Both directions count: a camp on grass lowers NDVI, a camp on bare soil *raises* it (olive tents are
       bright in NIR) and brightens it (white tents, sheds).

    Limits. Anything that changes a *minority* of a stratum's pixels at once is reported: harvest, ploughing,
    mowing, burning, flooding, a felled forest stand are real ground change and are flagged like a camp; the
    analyst reads the polygon's shape and context. A change covering more than about half of a stratum (a whole
    land-cover class of a small AOI) or of the background window (a site of more than ~``background_m``
    squared / 2) is partly absorbed by the model, so a very large new site is under-reported; a larger
    ``s2_background_m`` (or 0: no background) keeps more of it at the cost of regional phenology showing up. A
    change that starts late in the test window fails the persistence rule until the next window. Patchy snow
    is masked (SCL 11), so snow-covered ground is simply unobserved. Pixels at class edges mix 10 m and 20 m
    bands, and real scenes are co-registered to about a pixel between dates, so high-contrast edges carry more
    residual; cleaning, the minimum area and persistence remove most of it. The simulator's scenes carry far
    less noise than real ones: there the floors, not the fitted noise, bound what is reported. The model is
    fitted on every :data:`S2_FIT_EVERY`-th assessed pixel and holds both windows' features in memory
    (``scenes x 3 x pixels x 4`` bytes).

Each mask is cleaned (binary closing then opening with a 3 x 3 cross, holes filled), vectorised with
:func:`rasterio.features.shapes`, and polygons below ``min_area_m2`` are dropped. Areas are geodesic m2.

All scenes of one window must be of one sensor; they are resampled (nearest) onto the grid of the first
baseline scene when their grids differ. Returned polygons are EPSG:4326.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import rasterio.features
import rasterio.warp
import shapely
from affine import Affine
from numpy.lib.stride_tricks import sliding_window_view
from pyproj import CRS
from scipy import ndimage
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from satwatch.aoi import project_geometry
from satwatch.change.matching import geodesic_area_m2
from satwatch.change.timeseries import Window
from satwatch.errors import SceneFormatError
from satwatch.imagery.scene import Scene, read_scene

log = logging.getLogger("satwatch")

__all__ = [
    "PIXEL_CHANGE_COLUMNS",
    "S2_CLEAR_LAND",
    "S2_FEATURES",
    "S2_FLOORS",
    "Composite",
    "FeatureStack",
    "SeasonalChange",
    "WindowPixelChange",
    "change_polygons",
    "pixel_change",
    "pixel_change_between",
    "s1_composite",
    "s1_log_ratio_db",
    "s2_feature_stack",
    "s2_seasonal_change",
]

S2_CLEAR_LAND = (4.0, 5.0, 7.0)
"""SCL classes used for land change: vegetation (4), not vegetated (5), unclassified (7). Never used: nodata (0),
saturated or dark (1, 2), cloud shadow (3), water (6), cloud (8, 9), cirrus (10), snow (11: it hides the ground)."""
S2_FEATURES = ("NDVI", "NDBI", "LNVIS")
"""Per-scene Sentinel-2 features, in this order: NDVI, NDBI and the natural log of mean visible reflectance."""
S2_FLOORS = (0.025, 0.025, 0.05)
"""Least residual scale per feature of :data:`S2_FEATURES` (index units; LNVIS: ln units, 0.05 ~ 5%). With the
default ``s2_z = 4`` a lone feature must depart from its seasonal expectation by 0.1 NDVI/NDBI or ~22% in
brightness."""
S2_STRATUM_WIDTH = 0.025
"""Finest bin width (NDVI and NDBI units) of the baseline-state strata."""
S2_STRATUM_LEVELS = 5
"""Levels of strata, each twice as wide as the one before (0.025 .. 0.4); then one stratum of the whole AOI."""
S2_STRATUM_MIN_PX = 50
"""Fewest sampled clear pixels (1 in :data:`S2_FIT_EVERY`) a stratum needs for its own offset or scale in an
acquisition; with fewer, the next coarser stratum's is used."""
S2_FIT_EVERY = 4
"""The seasonal model is fitted on every 4th assessed pixel (raster order) and applied to all (speed)."""
PIXEL_CHANGE_COLUMNS = (
    "aoi", "sensor", "kind", "area_m2", "mean_change", "baseline", "test", "baseline_scenes", "test_scenes",
    "simulated",
)
"""Columns of :func:`pixel_change` (then ``geometry``, Polygons in EPSG:4326). ``mean_change`` is in dB for
Sentinel-1 and, for Sentinel-2, the NDVI residual (observed minus the seasonal expectation; negative:
vegetation lost)."""

S1_BOXCAR_PX = 5
"""Each Sentinel-1 scene is multilooked with a 5 x 5 boxcar (linear power) before the median: speckle of
single-look-equivalent ENL ~4.4 becomes ENL ~100, so a 3 dB threshold is ~10 standard deviations."""

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
_CROSS = ndimage.generate_binary_structure(2, 1)
_HIST_STEP = 0.002
"""Resolution of the histogram medians of the seasonal model (feature units)."""
_HIST_HALF = 1.0
"""Histogram medians cover values in ``[-1, 1]``; values beyond count at the ends (medians are robust to it)."""
_HIST_BINS = round(2 * _HIST_HALF / _HIST_STEP) + 1
_BACKGROUND_CELLS = 9
"""The local background is the median over 9 x 9 cells of ``background_m / 8``."""


@dataclass(frozen=True)
class Composite:
    """A per-pixel median of several scenes of one sensor over one window, on one grid."""

    data: F32
    """``(bands, height, width)`` float32, NaN where no scene had a usable pixel. S1: VV, VH linear power."""
    crs: CRS
    """CRS of the grid."""
    transform: Affine
    """Pixel-to-CRS affine transform of the grid."""
    n_scenes: int
    """Scenes that went into the composite."""
    simulated: bool
    """True when any scene was simulated."""


@dataclass(frozen=True)
class FeatureStack:
    """Sentinel-2 features of each acquisition of one window, on one grid."""

    data: F32
    """``(acquisitions, 3, height, width)`` float32, features :data:`S2_FEATURES`; NaN where not clear land."""
    crs: CRS
    """CRS of the grid (projected, metres)."""
    transform: Affine
    """Pixel-to-CRS affine transform of the grid."""
    acquired: tuple[datetime, ...]
    """Acquisition time of each scene, in stack order."""
    simulated: bool
    """True when any scene was simulated."""

    @property
    def n_scenes(self) -> int:
        """Acquisitions in the stack."""
        return int(self.data.shape[0])


@dataclass(frozen=True)
class SeasonalChange:
    """Sentinel-2 change against the seasonal model (see the module docstring), on the baseline grid."""

    residual: F32
    """``(3, height, width)`` median over clear test acquisitions of observed minus expected features
    (:data:`S2_FEATURES`), local background removed; NaN where not assessed."""
    score: F32
    """``(height, width)`` ``sqrt(sum_f (residual_f / sigma_f)^2)`` (robust z units); NaN where not assessed."""
    hits: npt.NDArray[np.int16]
    """``(height, width)`` clear test acquisitions whose own score is at least ``z``."""
    clear: npt.NDArray[np.int16]
    """``(height, width)`` clear test acquisitions."""
    assessed: Bool
    """``(height, width)`` pixels inside the region with a baseline level and enough clear test acquisitions."""
    mask: Bool
    """``(height, width)`` changed pixels (before cleaning and minimum area)."""


def _regrid(arr: F32, src_crs: CRS, src_transform: Affine, crs: CRS, transform: Affine,
            shape_hw: tuple[int, int]) -> F32:
    """Resample ``arr`` ``(bands, h, w)`` to the given grid (nearest); NaN outside."""
    if src_crs == crs and src_transform == transform and arr.shape[1:] == shape_hw:
        return arr
    out = np.full((arr.shape[0], *shape_hw), np.nan, dtype=np.float32)
    rasterio.warp.reproject(arr, out, src_transform=src_transform, src_crs=src_crs, dst_transform=transform,
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


def _nanmedian0(stack: F32) -> F32:
    """Median over axis 0 ignoring NaN (NaN where all are NaN); a sort, much faster than :func:`np.nanmedian`."""
    s = np.sort(stack, axis=0)  # NaN sort last
    n = np.isfinite(stack).sum(axis=0)
    lo = np.maximum((n - 1) // 2, 0)[None]
    hi = np.maximum(n // 2, 0)[None]
    med = 0.5 * (np.take_along_axis(s, lo, axis=0)[0] + np.take_along_axis(s, hi, axis=0)[0])
    return np.where(n > 0, med, np.nan).astype(np.float32)


def _median_composite(per_scene: Iterable[tuple[Scene, F32]]) -> Composite | None:
    stack: list[F32] = []
    grid: tuple[CRS, Affine, tuple[int, int]] | None = None
    simulated = False
    for scene, arr in per_scene:
        if grid is None:
            grid = (scene.crs, scene.transform, (scene.height, scene.width))
        stack.append(_regrid(arr, scene.crs, scene.transform, *grid))
        simulated |= scene.meta.simulated
    if grid is None:
        return None
    data = _nanmedian0(np.stack(stack))
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


def s1_log_ratio_db(baseline: Composite, test: Composite) -> F32:
    """Return ``10 log10(test VV / baseline VV)`` in dB on the baseline grid, ``(height, width)``; NaN where unknown."""
    t = _regrid(test.data, test.crs, test.transform, baseline.crs, baseline.transform, baseline.data.shape[1:])
    with np.errstate(all="ignore"):
        return np.asarray(10.0 * np.log10(t[0] / baseline.data[0]), dtype=np.float32)


def s2_feature_stack(scenes: Iterable[Scene], like: FeatureStack | None = None) -> FeatureStack | None:
    """Per-scene NDVI, NDBI and LNVIS (:data:`S2_FEATURES`) on clear land; None if no scene.

    Args:
        scenes: Sentinel-2 scenes with bands ``B02 B03 B04 B08 B11 SCL`` (reflectance 0..1); consumed once.
        like: put every scene on this stack's grid; None: on the first scene's grid.

    Returns:
        :class:`FeatureStack` ``(scenes, 3, height, width)``, NaN where SCL is not in :data:`S2_CLEAR_LAND` or a
        reflectance is not positive.
    """
    layers: list[F32] = []
    times: list[datetime] = []
    grid: tuple[CRS, Affine, tuple[int, int]] | None = None
    if like is not None:
        grid = (like.crs, like.transform, (int(like.data.shape[2]), int(like.data.shape[3])))
    simulated = False
    for s in scenes:
        if s.meta.sensor != "s2":
            raise SceneFormatError(f"scene {s.meta.scene_id} is {s.meta.sensor}, not s2; compare one sensor")
        if grid is None:
            grid = (s.crs, s.transform, (s.height, s.width))
        blue, green, red, nir, swir = (s.band(b) for b in ("B02", "B03", "B04", "B08", "B11"))
        vis = (blue + green + red) / np.float32(3.0)
        clear = np.isin(s.band("SCL"), S2_CLEAR_LAND) & (vis > 0) & (nir + red > 0) & (swir + nir > 0)
        with np.errstate(all="ignore"):
            feats = np.stack([(nir - red) / (nir + red), (swir - nir) / (swir + nir), np.log(vis)])
        feats[:, ~clear] = np.nan
        layers.append(_regrid(feats.astype(np.float32), s.crs, s.transform, *grid))
        times.append(s.meta.acquired)
        simulated |= s.meta.simulated
    if grid is None:
        return None
    return FeatureStack(data=np.stack(layers), crs=grid[0], transform=grid[1], acquired=tuple(times),
                        simulated=simulated)


def _histogram(key: I64, vals: F32, n_groups: int) -> npt.NDArray[np.int64]:
    """``(n_groups, bins)`` counts of ``vals`` per group, bins of :data:`_HIST_STEP` over ``+-_HIST_HALF``."""
    q = np.clip(np.rint((vals + _HIST_HALF) / _HIST_STEP), 0, _HIST_BINS - 1).astype(np.int64)
    return np.bincount(key * _HIST_BINS + q, minlength=n_groups * _HIST_BINS).reshape(n_groups, _HIST_BINS)


def _histogram_median(hist: npt.NDArray[np.int64]) -> tuple[F64, I64]:
    """Median per group of a :func:`_histogram` (NaN for an empty group) and the group counts."""
    count = hist.sum(axis=1)
    idx = np.argmax(np.cumsum(hist, axis=1) >= ((count + 1) // 2)[:, None], axis=1)
    return np.where(count > 0, idx * _HIST_STEP - _HIST_HALF, np.nan), count


def _compact(keys: I64) -> tuple[I64, int]:
    """Labels ``0..k-1`` of non-negative integer keys, in key order, and ``k`` (linear time)."""
    used = np.bincount(keys) > 0
    lut = np.cumsum(used) - 1
    return lut[keys].astype(np.int64), int(used.sum())


@dataclass(frozen=True)
class _Strata:
    """Nested baseline-state strata: bins of NDVI x NDBI, finest first, each level twice as wide."""

    label: I64
    """``(n,)`` finest stratum of each assessed pixel, ``0..k0-1``."""
    parents: tuple[I64, ...]
    """Per coarser level (the last: one stratum of all), the ``(k0,)`` stratum of each finest stratum."""
    sizes: tuple[int, ...]
    """Strata per level, finest first (``k0`` then one per entry of ``parents``)."""
    corners: npt.NDArray[np.int32]
    """``(4, n)`` finest strata whose bin centres surround each pixel's state (bilinear interpolation)."""
    weights: F32
    """``(4, n)`` bilinear weights of ``corners``, renormalised over the bins that hold pixels (sum 1)."""

    def interpolate(self, per_stratum: F64) -> F32:
        """Per pixel ``(n,)``: a ``(k0,)`` value per finest stratum, interpolated at the pixel's state.

        Bilinear between bin centres, so the expected change is continuous in the baseline state (hard bins
        would put steps into the residual wherever the season varies steeply with the state).
        """
        v = per_stratum.astype(np.float32)
        out: F32 = self.weights[0] * v[self.corners[0]]
        for i in range(1, 4):
            out += self.weights[i] * v[self.corners[i]]
        return out


def _strata(state: F32) -> _Strata:
    """Nested strata of ``state`` ``(2, n)`` (baseline NDVI and NDBI of the assessed pixels).

    Levels: bins :data:`S2_STRATUM_WIDTH` wide, then 2, 4, ... times wider (:data:`S2_STRATUM_LEVELS` in all),
    then the whole AOI.
    """
    side = round(2.0 / S2_STRATUM_WIDTH) + 1
    u = (np.clip(state, -1.0, 1.0) + 1.0) / S2_STRATUM_WIDTH  # continuous bin coordinates, 0..side-1
    cells = np.minimum(np.floor(u), side - 1).astype(np.int64)
    label, k0 = _compact(cells[0] * side + cells[1])
    first = np.zeros(k0, dtype=np.int64)
    first[label] = np.arange(label.size)
    ix, iy = cells[0][first], cells[1][first]  # cell of each finest stratum
    parents: list[I64] = []
    sizes = [k0]
    for level in range(1, S2_STRATUM_LEVELS):
        parent, k = _compact((ix >> level) * side + (iy >> level))
        parents.append(parent)
        sizes.append(k)
    parents.append(np.zeros(k0, dtype=np.int64))
    sizes.append(1)

    lut = np.full((side + 1) * (side + 1), -1, dtype=np.int32)  # bin -> finest stratum; -1: no pixel there
    lut[ix * (side + 1) + iy] = np.arange(k0, dtype=np.int32)
    pos = u - 0.5  # relative to bin centres
    lo = np.clip(np.floor(pos), 0, side - 1).astype(np.int64)
    frac = np.clip(pos - lo, 0.0, 1.0).astype(np.float32)
    corners = np.empty((4, label.size), dtype=np.int32)
    weights = np.empty((4, label.size), dtype=np.float32)
    for i, (dx, dy) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        stratum = lut[(lo[0] + dx) * (side + 1) + lo[1] + dy]
        wx = frac[0] if dx else 1.0 - frac[0]
        wy = frac[1] if dy else 1.0 - frac[1]
        corners[i] = np.maximum(stratum, 0)
        weights[i] = np.where(stratum >= 0, wx * wy, 0.0)
    total = weights.sum(axis=0)
    own = total <= 1e-6  # no surrounding bin holds pixels (cannot happen but for rounding): the pixel's own
    weights[:, own] = 0.0
    weights[0, own] = 1.0
    corners[0, own] = label[own]
    weights /= np.maximum(weights.sum(axis=0), 1e-6)
    return _Strata(label=label, parents=tuple(parents), sizes=tuple(sizes), corners=corners, weights=weights)


def _stratum_medians(strata: _Strata, label: I64, vals: F32) -> F64:
    """Median of ``vals`` per finest stratum ``(k0,)``, from the finest level holding enough of them.

    ``label`` and ``vals`` are samples (finest stratum, value), NaN values ignored. A stratum with fewer than
    :data:`S2_STRATUM_MIN_PX` samples takes the median of the first coarser stratum that has enough (at the
    last level, the whole AOI, any sample is enough); NaN where there is no sample at all.
    """
    ok = np.isfinite(vals)
    lab, v = label[ok], vals[ok]
    med, count = _histogram_median(_histogram(lab, v, strata.sizes[0]))
    out = np.where(count >= S2_STRATUM_MIN_PX, med, np.nan)
    for i, parent in enumerate(strata.parents):
        todo = np.isnan(out)
        if not todo.any():
            break
        med_l, count_l = _histogram_median(_histogram(parent[lab], v, strata.sizes[i + 1]))
        enough = count_l >= (1 if i == len(strata.parents) - 1 else S2_STRATUM_MIN_PX)
        out = np.where(todo & enough[parent], med_l[parent], out)
    return out


def _background(values: F32, assessed: Bool, cell_px: int) -> F32:
    """Smooth local median field ``(height, width)`` of ``values`` over ``assessed`` pixels (0 where unknown).

    Medians of ``cell_px`` square cells (a cell needs 10% assessed pixels), then the median over
    :data:`_BACKGROUND_CELLS` squared cells around each cell, bilinearly interpolated to the pixels.
    """
    h, w = values.shape
    gh, gw = -(-h // cell_px), -(-w // cell_px)
    pad = np.full((gh * cell_px, gw * cell_px), np.nan, dtype=np.float32)
    pad[:h, :w] = np.where(assessed, values, np.nan)
    cells = pad.reshape(gh, cell_px, gw, cell_px).transpose(1, 3, 0, 2).reshape(cell_px * cell_px, gh, gw)
    cell_med = _nanmedian0(cells)
    cell_med[np.isfinite(cells).sum(axis=0) < max(1, cell_px * cell_px // 10)] = np.nan
    r = _BACKGROUND_CELLS // 2
    windows = sliding_window_view(np.pad(cell_med, r, constant_values=np.nan), (2 * r + 1, 2 * r + 1))
    local = _nanmedian0(np.ascontiguousarray(windows.reshape(gh, gw, -1).transpose(2, 0, 1)))
    local = np.where(np.isfinite(local), local, 0.0).astype(np.float32)
    yy = (np.arange(h) + 0.5) / cell_px - 0.5
    xx = (np.arange(w) + 0.5) / cell_px - 0.5
    grid_y, grid_x = np.meshgrid(yy, xx, indexing="ij")
    return np.asarray(ndimage.map_coordinates(local, [grid_y, grid_x], order=1, mode="nearest"), dtype=np.float32)


def _pixel_size_m(crs: CRS, transform: Affine) -> float:
    size = abs(float(transform.a))
    return size * 111_320.0 if crs.is_geographic else size


def s2_seasonal_change(
    baseline: FeatureStack,
    test: FeatureStack,
    inside: Bool | None = None,
    z: float = 4.0,
    persistence: float = 0.5,
    background_m: float = 2000.0,
    min_clear: int = 2,
    polish_iterations: int = 2,
) -> SeasonalChange:
    """Disturbed land between two windows: test acquisitions against a per-stratum seasonal model.

    The method, its reasons and its limits are in the module docstring.

    Args:
        baseline: :func:`s2_feature_stack` of the baseline window.
        test: the same for the test window (resampled to the baseline grid if needed).
        inside: ``(height, width)`` mask of the pixels to consider and to fit the model on (the AOI); all when
            None.
        z: robust z-score (over the three features, floors :data:`S2_FLOORS`) at which a pixel changed.
        persistence: least share of a pixel's clear test acquisitions that must each score ``z`` or more.
        background_m: side of the local background window, metres (0: no local background).
        min_clear: least clear test acquisitions of a pixel (capped at the window's scenes); fewer: not assessed.
        polish_iterations: median polish iterations of the baseline levels.

    Returns:
        :class:`SeasonalChange` on the baseline grid.

    Example:
        >>> import numpy as np
        >>> from affine import Affine
        >>> from datetime import datetime
        >>> from pyproj import CRS
        >>> rng = np.random.default_rng(0)
        >>> def stack(shift: float) -> FeatureStack:
        ...     data = np.stack([np.stack([np.full((40, 40), 0.7), np.full((40, 40), -0.1),
        ...                                np.full((40, 40), -2.7)]) + shift for _ in range(3)])
        ...     data += rng.normal(0, 0.01, data.shape)
        ...     return FeatureStack(data.astype(np.float32), CRS.from_epsg(32653), Affine(10, 0, 0, 0, -10, 0),
        ...                         (datetime(2024, 9, 1),) * 3, True)
        >>> base, late = stack(0.0), stack(-0.2)  # the whole scene shifts: the season
        >>> late.data[:, 0, 10:20, 10:20] -= 0.4  # a compact plot loses NDVI on every date
        >>> out = s2_seasonal_change(base, late)
        >>> int(out.mask.sum()), bool(out.mask[10:20, 10:20].all())
        (100, True)
    """
    shape_hw = (int(baseline.data.shape[2]), int(baseline.data.shape[3]))
    t_data = test.data
    if test.crs != baseline.crs or test.transform != baseline.transform or test.data.shape[2:] != shape_hw:
        t_data = np.stack([_regrid(a, test.crs, test.transform, baseline.crs, baseline.transform, shape_hw)
                           for a in test.data])
    region = np.ones(shape_hw, dtype=bool) if inside is None else inside
    n_floors = np.asarray(S2_FLOORS, dtype=np.float32)[:, None]
    clear_t = np.isfinite(t_data).all(axis=1)  # (St, H, W)
    n_clear = clear_t.sum(axis=0).astype(np.int16)
    need = max(1, min(min_clear, test.n_scenes))
    has_base = np.asarray(np.isfinite(baseline.data).all(axis=1), dtype=bool).any(axis=0)
    assessed = np.asarray(region & has_base & (n_clear >= need), dtype=bool)

    b = baseline.data[:, :, assessed]  # (Sb, 3, n)
    t = t_data[:, :, assessed]  # (St, 3, n)
    for stack in (b, t):  # a pixel of an acquisition is clear in all features or in none
        stack[np.broadcast_to(~np.asarray(np.isfinite(stack).all(axis=1), dtype=bool)[:, None], stack.shape)] = np.nan
    n = b.shape[2]
    empty = np.full((3, *shape_hw), np.nan, dtype=np.float32)
    if n == 0:
        zeros = np.zeros(shape_hw, dtype=np.int16)
        return SeasonalChange(empty, empty[0].copy(), zeros, n_clear, assessed, np.zeros(shape_hw, dtype=bool))

    mu = _nanmedian0(b)  # (3, n) baseline level
    strata = _strata(mu[:2])
    fit = slice(None, None, S2_FIT_EVERY)
    fit_label = strata.label[fit]

    def offsets(stack: F32) -> F32:
        """``(S, 3, n)`` offset of each acquisition for each pixel's stratum (NaN: no clear pixel at all)."""
        out = np.empty(stack.shape, dtype=np.float32)
        for s in range(stack.shape[0]):
            for f in range(3):
                out[s, f] = strata.interpolate(_stratum_medians(strata, fit_label, stack[s, f, fit] - mu[f, fit]))
        return out

    for _ in range(max(0, polish_iterations)):
        mu = _nanmedian0(b - offsets(b))
    res = t - mu[None] - offsets(t)  # (St, 3, n): observed minus the season of that date for that stratum
    med = _nanmedian0(res)  # (3, n)

    if background_m > 0:
        cell_px = max(1, round(background_m / 8.0 / _pixel_size_m(baseline.crs, baseline.transform)))
        grid = np.full(shape_hw, np.nan, dtype=np.float32)
        for f in range(3):
            grid[assessed] = med[f]
            bg = _background(grid, assessed, cell_px)[assessed]
            med[f] -= bg
            res[:, f] -= bg[None]

    sigma = np.empty((3, n), dtype=np.float32)
    for f in range(3):
        sample = np.abs(res[:, f, fit])  # (St, n_fit), all test acquisitions pooled
        mad = _stratum_medians(strata, np.tile(fit_label, res.shape[0]), sample.ravel())
        sigma[f] = 1.4826 * np.nan_to_num(mad, nan=0.0)[strata.label]
    sigma = np.maximum(sigma, n_floors)
    with np.errstate(invalid="ignore"):
        per_acq = np.sqrt(np.sum((res / sigma[None]) ** 2, axis=1))  # (St, n), NaN where not clear
        hits = np.sum(per_acq >= z, axis=0).astype(np.int16)
        score = np.sqrt(np.sum((med / sigma) ** 2, axis=0)).astype(np.float32)
        clear = np.isfinite(per_acq).sum(axis=0)
        changed = ((score >= z) & (hits >= np.maximum(need, np.ceil(persistence * clear - 1e-9))))

    def on_grid(v: npt.NDArray[np.generic], fill: float | int | bool) -> npt.NDArray[np.generic]:
        out = np.full((*v.shape[:-1], *shape_hw), fill, dtype=v.dtype)
        out[..., assessed] = v
        return out

    return SeasonalChange(
        residual=np.asarray(on_grid(med, np.nan), dtype=np.float32),
        score=np.asarray(on_grid(score, np.nan), dtype=np.float32),
        hits=np.asarray(on_grid(hits, 0), dtype=np.int16),
        clear=n_clear,
        assessed=assessed,
        mask=np.asarray(on_grid(changed, False), dtype=bool),
    )


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


def _inside(aoi_geometry: BaseGeometry | None, crs: CRS, transform: Affine, shape_hw: Sequence[int]) -> Bool:
    hw = (int(shape_hw[0]), int(shape_hw[1]))
    if aoi_geometry is None:
        return np.ones(hw, dtype=bool)
    geom = project_geometry(aoi_geometry, 4326, crs)
    return np.asarray(~rasterio.features.geometry_mask([geom], out_shape=hw, transform=transform), dtype=bool)


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
    s2_persistence: float = 0.5,
    s2_background_m: float = 2000.0,
) -> gpd.GeoDataFrame:
    """Change polygons of one AOI and sensor between a baseline and a test window.

    Args:
        sensor: ``s1`` (log-ratio of VV composites) or ``s2`` (change against a seasonal model on clear land).
        baseline_scenes: scenes of the baseline window (an iterator is fine; consumed once).
        test_scenes: scenes of the test window.
        aoi: AOI id written to every row.
        aoi_geometry: AOI polygon, EPSG:4326; change outside it is ignored and the S2 seasonal model is fitted
            inside it (None: the whole grid).
        baseline_label: the baseline window as text, written to every row.
        test_label: the test window as text, written to every row.
        min_area_m2: smallest polygon kept, geodesic m2 (default 2000 m2 = 20 Sentinel pixels).
        s1_threshold_db: |log-ratio| in dB beyond which a Sentinel-1 pixel changed.
        s2_z: robust z-score of the Sentinel-2 residual at which a pixel changed (see :func:`s2_seasonal_change`).
        s2_persistence: least share of clear test acquisitions on which a Sentinel-2 pixel must score ``s2_z``.
        s2_background_m: side of the Sentinel-2 local background window, metres (0: none).

    Returns:
        GeoDataFrame with :data:`PIXEL_CHANGE_COLUMNS` and Polygons in EPSG:4326 (empty when either window has
        no scene). ``kind`` is ``s1_increase``, ``s1_decrease`` or ``s2_disturbance``.

    Example:
        >>> out = pixel_change("s2", iter(()), iter(()))
        >>> len(out), list(out.columns)[:3]
        (0, ['aoi', 'sensor', 'kind'])
    """
    if sensor not in ("s1", "s2"):
        raise SceneFormatError(f"pixel change needs s1 or s2 scenes, not {sensor!r}")
    frames: list[gpd.GeoDataFrame] = []
    counts = (0, 0)
    simulated = False
    if sensor == "s1":
        base, test = s1_composite(baseline_scenes), s1_composite(test_scenes)
        if base is not None and test is not None:
            counts, simulated = (base.n_scenes, test.n_scenes), base.simulated or test.simulated
            inside = _inside(aoi_geometry, base.crs, base.transform, base.data.shape[1:])
            lr = s1_log_ratio_db(base, test)
            with np.errstate(invalid="ignore"):
                for kind, mask in (("s1_increase", lr >= s1_threshold_db), ("s1_decrease", lr <= -s1_threshold_db)):
                    frames.append(change_polygons(mask & inside, base.transform, base.crs, min_area_m2, lr)
                                  .assign(kind=kind))
    else:
        b2 = s2_feature_stack(baseline_scenes)
        t2 = s2_feature_stack(test_scenes, like=b2) if b2 is not None else None
        if b2 is not None and t2 is not None:
            counts, simulated = (b2.n_scenes, t2.n_scenes), b2.simulated or t2.simulated
            inside = _inside(aoi_geometry, b2.crs, b2.transform, b2.data.shape[2:])
            change = s2_seasonal_change(b2, t2, inside, s2_z, s2_persistence, s2_background_m)
            frames.append(change_polygons(change.mask, b2.transform, b2.crs, min_area_m2, change.residual[0])
                          .assign(kind="s2_disturbance"))
    rows = [f for f in frames if len(f)]
    if not rows:
        return _empty()
    gdf = _concat(rows)
    gdf = gdf.assign(aoi=aoi, sensor=sensor, baseline=baseline_label, test=test_label,
                     baseline_scenes=counts[0], test_scenes=counts[1], simulated=simulated)
    return gpd.GeoDataFrame(gdf[[*PIXEL_CHANGE_COLUMNS, "geometry"]], geometry="geometry", crs=4326)


def _empty() -> gpd.GeoDataFrame:
    """No change: :data:`PIXEL_CHANGE_COLUMNS` with their dtypes (so that concatenating keeps numbers numbers)."""
    import pandas as pd

    dtypes = {"area_m2": "float64", "mean_change": "float64", "baseline_scenes": "int64", "test_scenes": "int64",
              "simulated": "bool"}
    cols = {c: pd.Series([], dtype=dtypes.get(c, "object")) for c in PIXEL_CHANGE_COLUMNS}
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def _concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    import pandas as pd

    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)


@dataclass(frozen=True)
class WindowPixelChange:
    """Pixel change of one AOI and sensor between two windows, and how many archived scenes each window had."""

    polygons: gpd.GeoDataFrame
    """:data:`PIXEL_CHANGE_COLUMNS` and Polygons in EPSG:4326 (empty when either window has no scene)."""
    baseline_scenes: int
    """Archived scenes of the baseline window that were used."""
    test_scenes: int
    """Archived scenes of the test window that were used."""


def _read_each(paths: Sequence[str]) -> Iterator[Scene]:
    for p in paths:
        yield read_scene(p)


def pixel_change_between(sensor: str, scenes: pd.DataFrame, baseline: Window, test: Window, aoi: str = "",
                         aoi_geometry: BaseGeometry | None = None, min_area_m2: float = 2000.0) -> WindowPixelChange:
    """Pixel change between the archived scenes of two windows: the one block run folders and claims both use.

    Args:
        sensor: ``s1`` or ``s2``.
        scenes: the acquisitions of one AOI and sensor to draw from (already filtered by observed fraction), with
            ``acquired`` (UTC ISO 8601) and ``path`` (the archived GeoTIFF) columns; a scene whose UTC day falls
            in a window belongs to it, scenes no longer on disk are skipped.
        baseline: baseline window (UTC days, inclusive), written to every row as text.
        test: test window.
        aoi: AOI id written to every row.
        aoi_geometry: AOI polygon, EPSG:4326 (None: the whole grid).
        min_area_m2: smallest polygon kept, geodesic m2.

    Returns:
        :class:`WindowPixelChange`; when either window has no archived scene, nothing is read, the polygons are
        empty and a warning is logged.
    """
    days = scenes["acquired"].astype(str).str.slice(0, 10).map(date.fromisoformat) if len(scenes) else None
    paths: dict[str, list[str]] = {}
    for name, window in (("baseline", baseline), ("test", test)):
        inside = scenes[window.contains(days)] if days is not None else scenes
        paths[name] = [p for p in inside["path"].astype(str) if Path(p).is_file()] if len(inside) else []
    counts = (len(paths["baseline"]), len(paths["test"]))
    if not paths["baseline"] or not paths["test"]:
        log.warning("pixel change %s %s: no archived scenes in one window; skipped", aoi, sensor)
        return WindowPixelChange(_empty(), *counts)
    polygons = pixel_change(sensor, _read_each(paths["baseline"]), _read_each(paths["test"]), aoi, aoi_geometry,
                            str(baseline), str(test), min_area_m2=min_area_m2)
    return WindowPixelChange(polygons, *counts)

