"""Water masks derived from the image itself, for detecting vessels on water.

Both masks are ``(height, width)`` boolean arrays on the scene's pixel grid, True on water, and are built at
two scales:

1. **Water bodies** (coarse): the water index is averaged over blocks of about ``smooth_m`` metres and
   median-filtered over about ``median_m`` metres, then thresholded; land features narrower than ``open_m``
   (150 m) are opened away. Vessels (with their blur and radar sidelobes), piers and rocks narrower than
   that become part of the water; islands wider than that stay land. Water bodies smaller than
   ``min_water_area_m2`` are dropped.
2. **Water pixels** (fine): inside the water bodies, each pixel is classified again at full resolution.
   Vessels now show as holes; every hole of at most ``max_hole_m2`` that lies wholly inside the water
   bodies is filled, so vessels are inside the mask and can be searched. A non-water region that touches
   land outside the water bodies (the shore, a pier, a quay, and any vessel moored against them) is not a
   hole and stays out. Last, the mask is shrunk by ``shore_buffer_m`` so that bright mixed shore pixels are
   never searched.

The water index is VV backscatter in dB for Sentinel-1 (:func:`sar_water_mask`: calm water is dark; averaging
dB rather than linear power keeps a bright vessel from brightening its whole block; Otsu's threshold
when the scene shows both land and water, else a fixed default; with VH, a block brighter than the threshold
whose VV exceeds VH by :data:`SEA_CROSS_POL_DB` or more is wind-roughened sea, water too) and NDWI =
(green - NIR) / (green + NIR) for Sentinel-2 and VHR (:func:`optical_water_mask`, united with Sentinel-2's
scene-classification water, SCL 6).

Limits: a vessel moored against a pier or quay is not inside the mask: the baseline does not see berthed
vessels. Rocks and islets narrower than ``open_m`` (150 m) are treated like vessels (filled) and may be
detected as such (static false detections, the same on every date), and a raft of vessels wider than that
may be taken for an islet and missed, except on Sentinel-1 where land wholly surrounded by water whose
brightest pixel reaches 0 dB VV (a metal hull; natural islets return far less) joins the water body up to
0.4 km2 (a big ship with its sidelobe haze and blur is often 150-200 m wide at the coarse scale).
Wind-roughened sea brighter than the SAR threshold is missed as water when VH is absent or the cross-
polarisation ratio is below :data:`SEA_CROSS_POL_DB` (light-to-moderate wind near the threshold), and so is
turbid or glinting water with NDWI below the optical threshold. Window sizes are given in metres and converted
with the scene's ground sample distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = [
    "OPTICAL_WATER",
    "SAR_COAST_SEPARATION_DB",
    "SAR_WATER",
    "WaterDefaults",
    "block_mean",
    "erode_box",
    "fill_small_holes",
    "optical_water_mask",
    "otsu_threshold",
    "remove_small_regions",
    "sar_coast_separation_db",
    "sar_water_mask",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float32]
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class WaterDefaults:
    """The defaults of one water mask, written once: the mask functions and the baseline detector's params use them.

    Arguments of the same names are explained at :func:`sar_water_mask` and :func:`optical_water_mask`.
    """

    smooth_m: float
    """Block size of the coarse average, metres."""
    median_m: float
    """Median window over the blocks, metres."""
    open_m: float
    """Land features narrower than this join the water bodies, metres."""
    min_water_area_m2: float
    """Smallest water body kept, m2."""
    max_hole_m2: float
    """Largest hole inside water filled (a vessel), m2."""
    shore_buffer_m: float
    """Water this close to land or nodata is left out, metres."""
    fine_smooth_m: float = 0.0
    """Box average before the per-pixel test, metres (radar speckle; 0: none)."""
    fine_sigmas: float | None = None
    """Per-pixel test: robust standard deviations from the local water level (None: no such test)."""


SAR_WATER = WaterDefaults(smooth_m=30.0, median_m=150.0, open_m=150.0, min_water_area_m2=50_000.0,
                          max_hole_m2=100_000.0, shore_buffer_m=30.0, fine_smooth_m=30.0, fine_sigmas=3.0)
"""Defaults of :func:`sar_water_mask` (and :class:`~satwatch.detection.models.baseline.SarParams`)."""
OPTICAL_WATER = WaterDefaults(smooth_m=30.0, median_m=150.0, open_m=90.0, min_water_area_m2=50_000.0,
                              max_hole_m2=40_000.0, shore_buffer_m=20.0)
"""Defaults of :func:`optical_water_mask` (and :class:`~satwatch.detection.models.baseline.OpticalParams`): a narrower
opening than radar's, as optical vessels have no sidelobes, so that more islets stay land."""


def block_mean(values: FloatArray, valid: BoolArray, factor: int) -> tuple[FloatArray, FloatArray]:
    """Average ``values`` over ``factor`` x ``factor`` blocks, counting only ``valid`` pixels.

    Args:
        values: ``(height, width)`` float array.
        valid: ``(height, width)`` boolean mask of pixels to average.
        factor: block edge in pixels (>= 1); the last row/column of blocks may be partial.

    Returns:
        ``(mean, valid_fraction)``, each ``(ceil(height / factor), ceil(width / factor))`` float32; ``mean``
        is NaN where a block has no valid pixel.
    """
    h, w = values.shape
    hb, wb = -(-h // factor), -(-w // factor)
    total = np.zeros((hb * factor, wb * factor), dtype=np.float64)
    count = np.zeros_like(total)
    total[:h, :w] = np.where(valid, values, 0.0)
    count[:h, :w] = valid
    sums = total.reshape(hb, factor, wb, factor).sum(axis=(1, 3))
    counts = count.reshape(hb, factor, wb, factor).sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / counts, np.nan)
    return mean.astype(np.float32), (counts / float(factor * factor)).astype(np.float32)


def otsu_threshold(values: npt.NDArray[np.floating], bins: int = 256) -> tuple[float, float]:
    """Otsu's threshold of a sample, and the distance between the two classes' means it separates.

    Args:
        values: 1-D sample (finite values only).
        bins: histogram bins.

    Returns:
        ``(threshold, separation)`` in the units of ``values``; ``(nan, 0.0)`` for fewer than two distinct values.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size < 2 or float(v.min()) == float(v.max()):
        return float("nan"), 0.0
    hist, edges = np.histogram(v, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2.0
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    m = np.cumsum(hist * centres)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean0 = m / w0
        mean1 = (m[-1] - m) / w1
        between = w0 * w1 * (mean0 - mean1) ** 2
    between[~np.isfinite(between)] = -1.0
    i = int(np.argmax(between))
    return float(edges[i + 1]), float(mean1[i] - mean0[i])


def remove_small_regions(mask: BoolArray, min_pixels: int) -> BoolArray:
    """Drop 8-connected True regions of fewer than ``min_pixels`` pixels; returns a new ``(h, w)`` mask."""
    if min_pixels <= 1 or not mask.any():
        return mask.copy()
    labels, n = ndimage.label(mask, structure=_EIGHT)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= min_pixels
    keep[0] = False
    return np.asarray(keep[labels], dtype=bool)


def fill_small_holes(
    mask: BoolArray, max_pixels: int, fillable: BoolArray | None = None, bridge_px: int = 0
) -> BoolArray:
    """Fill holes of ``mask`` up to ``max_pixels`` pixels that lie wholly inside it.

    A hole is an 8-connected region of False pixels. It is filled only if it has at most ``max_pixels``
    pixels, does not touch the image border, and does not touch a pixel outside ``fillable`` (for example
    nodata, cloud, or land: what lies beyond is not water, so the region is a bay, a pier or a moored vessel,
    not a hole). With ``bridge_px`` > 0, parts of holes up to ``2 * bridge_px`` pixels apart count as one
    (a faint pier broken by speckle stays one pier joined to its shore).

    Args:
        mask: ``(height, width)`` boolean mask (water).
        max_pixels: largest hole to fill, pixels.
        fillable: ``(height, width)`` boolean mask of pixels a hole may touch; None: all.
        bridge_px: gap, in pixels on each side, bridged when grouping hole parts (binary closing).

    Returns:
        A new ``(height, width)`` boolean mask.
    """
    known = np.ones_like(mask) if fillable is None else fillable
    holes = ~mask & known
    linked = ndimage.binary_closing(holes, structure=_EIGHT, iterations=bridge_px) | holes if bridge_px else holes
    labels, n = ndimage.label(linked, structure=_EIGHT)
    if n == 0:
        return mask.copy()
    sizes = np.bincount(labels[holes], minlength=n + 1)
    small = sizes <= max_pixels
    small[0] = False
    edge = np.zeros_like(mask)
    edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = True
    edge |= ndimage.binary_dilation(~known, structure=_EIGHT)
    small[np.unique(labels[edge & linked])] = False
    return np.asarray(mask | (small[labels] & holes), dtype=bool)


def erode_box(mask: BoolArray, radius_px: int) -> BoolArray:
    """Erode ``mask`` with a ``(2 r + 1)`` square; the image border does not erode (one box-filter pass)."""
    if radius_px <= 0:
        return mask.copy()
    size = 2 * radius_px + 1
    frac = ndimage.uniform_filter(mask.astype(np.float32), size=size, mode="nearest")
    return np.asarray(frac > 1.0 - 0.5 / (size * size), dtype=bool)


def _to_pixels(blocks: npt.NDArray[Any], factor: int, shape: tuple[int, int]) -> npt.NDArray[Any]:
    """Repeat each block value over its ``factor`` x ``factor`` pixels, cropped to ``shape`` (height, width)."""
    return np.repeat(np.repeat(blocks, factor, axis=0), factor, axis=1)[:shape[0], :shape[1]]


def _odd_px(metres: float, gsd_m: float) -> int:
    return max(1, round(metres / gsd_m) | 1)


def _two_scale(
    index: FloatArray,
    valid: BoolArray,
    gsd_m: float,
    *,
    water_below: bool,
    threshold: float,
    smooth_m: float,
    median_m: float,
    open_m: float,
    min_water_area_m2: float,
    max_hole_m2: float,
    shore_buffer_m: float,
    auto: tuple[float, float, float] | None = None,
    fine_smooth_m: float = 0.0,
    fine_sigmas: float | None = None,
    extra_fine: BoolArray | None = None,
    vessel_peak: float | None = None,
    extra_coarse: FloatArray | None = None,
    extra_coarse_min: float = 0.0,
) -> BoolArray:
    """Shared two-scale water mask (module docstring); water is where ``index`` is below/above the threshold.

    ``vessel_peak``: coarse land wholly surrounded by water, no larger than :data:`VESSEL_BLOB_HOLES` x
    ``max_hole_m2``, whose brightest
    pixel reaches this value joins the water body (:func:`_fill_bright_holes`); None: never.

    ``extra_coarse``: a second per-pixel index (same grid) whose smoothed block values at or above
    ``extra_coarse_min`` make a block water whatever ``index`` says (Sentinel-1: windy sea by its cross-polarisation
    ratio); there the per-pixel test is relative to the local water level only, not capped by ``threshold``.

    ``auto`` = (low, high, min_separation): use Otsu's threshold, clipped to [low, high], when its classes are
    at least min_separation apart. ``fine_sigmas``: the per-pixel test asks for water within this many robust
    standard deviations (of the fine values about the local level) of the local water level, never beyond
    ``threshold``.
    """
    factor = max(1, round(smooth_m / gsd_m))
    coarse, frac = block_mean(index, valid, factor)
    known = frac >= 0.5
    land_value = np.float32(np.inf if water_below else -np.inf)
    filled = np.where(known & np.isfinite(coarse), coarse, land_value)
    size = max(3, round(median_m / (factor * gsd_m)) | 1)
    smooth = ndimage.median_filter(filled, size=size, mode="nearest")
    finite = known & np.isfinite(smooth)
    if auto is not None and finite.any():
        lo, hi, min_separation = auto
        span = hi - lo
        otsu, separation = otsu_threshold(np.clip(smooth[finite], lo - span, hi + span))
        if separation >= min_separation:
            threshold = float(np.clip(otsu, lo, hi))
    coarse_water = finite & ((smooth < threshold) if water_below else (smooth > threshold))
    forced = np.zeros_like(coarse_water)
    if extra_coarse is not None:
        extra, _ = block_mean(extra_coarse, valid & np.isfinite(extra_coarse), factor)
        extra = ndimage.median_filter(np.where(known & np.isfinite(extra), extra, -np.inf).astype(np.float32),
                                      size=size, mode="nearest")
        forced = finite & (extra >= extra_coarse_min) & ~coarse_water
        coarse_water |= forced
    # Land narrower than ``open_m`` (vessels that survived the median, piers, rocks) joins the water body.
    iterations = max(1, round((open_m / (factor * gsd_m) - 1.0) / 2.0))
    coarse_land = ndimage.binary_opening(known & ~coarse_water, structure=_EIGHT, iterations=iterations)
    coarse_water = known & ~coarse_land
    coarse_water = remove_small_regions(coarse_water, int(np.ceil(min_water_area_m2 / (gsd_m * factor) ** 2)))
    h, w = index.shape
    if vessel_peak is not None:
        coarse_water = _fill_bright_holes(coarse_water, known, index, valid, factor, vessel_peak,
                                          int(VESSEL_BLOB_HOLES * max_hole_m2 / (gsd_m * factor) ** 2))
    bodies = _to_pixels(coarse_water, factor, (h, w)) & valid
    fine_size = _odd_px(fine_smooth_m, gsd_m)
    fine_index = index
    if fine_size > 1:
        weight = ndimage.uniform_filter(valid.astype(np.float32), size=fine_size, mode="nearest")
        total = ndimage.uniform_filter(np.where(valid, index, np.float32(0.0)), size=fine_size, mode="nearest")
        with np.errstate(divide="ignore", invalid="ignore"):
            fine_index = (total / weight).astype(np.float32)
    limit: float | FloatArray = threshold
    if fine_sigmas is not None and bodies.any():
        # Local water level: the mean of nearby blocks that are clearly water (nearer the typical water than
        # the threshold, so blocks straddling the shore do not count); the per-pixel test asks for values
        # within ``fine_sigmas`` robust standard deviations of it, never beyond the threshold.
        typical = float(np.median(smooth[coarse_water]))
        clear = coarse_water & (np.abs(smooth - typical) <= np.abs(threshold - typical) / 2.0)
        reach = max(3, round(median_m / (factor * gsd_m)) | 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            local = ndimage.uniform_filter(np.where(clear, smooth, 0.0).astype(np.float32), reach, mode="nearest")
            share = ndimage.uniform_filter(clear.astype(np.float32), reach, mode="nearest")
            coarse_level = np.where(share > 0.05, local / share, typical).astype(np.float32)
        level = _to_pixels(coarse_level, factor, (h, w))
        resid = (fine_index - level)[bodies]
        spread = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
        sign = 1.0 if water_below else -1.0
        bound = (level + np.float32(sign * fine_sigmas * spread)).astype(np.float32)
        limit = np.minimum(bound, np.float32(threshold)) if water_below else np.maximum(bound, np.float32(threshold))
        if forced.any():
            limit = np.where(_to_pixels(forced, factor, (h, w)), bound, limit)
    with np.errstate(invalid="ignore"):
        fine = (fine_index < limit) if water_below else (fine_index > limit)
    if extra_fine is not None:
        fine |= extra_fine
    # A hole is a vessel only if it lies clear of the shore: within the shore buffer it may be a pier, a quay
    # or a moored vessel, which are never searched anyway.
    buffer_px = round(shore_buffer_m / gsd_m)
    water = fill_small_holes(bodies & fine, int(max_hole_m2 / (gsd_m * gsd_m)),
                             fillable=erode_box(bodies, buffer_px), bridge_px=1)
    return erode_box(water, buffer_px) & valid


SEA_CROSS_POL_DB = 10.0
"""VV - VH, dB, from which a block brighter than the water threshold is still sea. Wind-roughened sea is as
bright as land in VV (-11 dB median over the 72 chips of the windy OpenSARShip training package, 2016-01-31,
where the VV threshold alone called 81% of the chips' sea land and the baseline found 10 of 72 ships) but
returns little cross-polarised power: VV - VH 12.7 dB median there; vegetated land and buildings return 5-8 dB
(volume and multiple scattering). 10 dB leaves a margin on the land side; calm sea, whose VH sinks to the noise
floor, is dark in VV and caught by the threshold."""
SEA_MAX_VV_DB = -6.0
"""Brightest VV (dB) the cross-polarisation rule takes for sea (gale-force sea at IW incidences stays below it;
bright urban blocks do not)."""
VESSEL_BLOB_HOLES = 4.0
"""A bright coarse blob (:func:`_fill_bright_holes`) may be this many times ``max_hole_m2``: at the coarse scale a
big ship is its hull plus its blur, sidelobe haze and the median's spread, several times the hull's area."""


def _fill_bright_holes(coarse_water: BoolArray, known: BoolArray, index: FloatArray, valid: BoolArray,
                      factor: int, peak: float, max_blocks: int) -> BoolArray:
    """Fill the coarse holes of the water (blocks) holding a pixel of ``index`` at or above ``peak``.

    A big vessel with its blur and radar sidelobes can be wider than ``open_m`` and survive as coarse "land",
    so it would never be searched; a metal hull's brightest pixel (0 dB and more in VV) is far above what
    natural islets and rocks of that size return, which stay land.
    """
    holes = fill_small_holes(coarse_water, max_blocks, fillable=known) & ~coarse_water
    labels, n = ndimage.label(holes, structure=_EIGHT)
    if n == 0:
        return coarse_water
    h, w = index.shape
    full = _to_pixels(labels, factor, (h, w))
    peaks = np.asarray(ndimage.maximum(np.where(valid, index, -np.inf), full, index=np.arange(1, n + 1)))
    bright = np.concatenate([[False], peaks >= peak])
    return np.asarray(coarse_water | bright[labels], dtype=bool)


SAR_COAST_SEPARATION_DB = 5.0
"""Least distance, dB, between the two classes Otsu finds in a Sentinel-1 scene's smoothed VV for the scene to
show a coast (land against water); below it the scene is taken for one surface (open sea) and its threshold is not
trusted."""


def sar_coast_separation_db(vv_db: FloatArray, valid: BoolArray, gsd_m: float, *,
                            smooth_m: float = SAR_WATER.smooth_m, median_m: float = SAR_WATER.median_m) -> float:
    """Distance, dB, between the two classes Otsu finds in a Sentinel-1 scene's VV, at the water mask's scale.

    VV (dB) is averaged over ``smooth_m`` blocks and median-filtered over ``median_m`` as in
    :func:`sar_water_mask`; a scene with a coast separates by :data:`SAR_COAST_SEPARATION_DB` or more, open sea
    (however windy) by far less.

    Args:
        vv_db: ``(height, width)`` VV sigma0 in dB.
        valid: ``(height, width)`` mask of pixels with data.
        gsd_m: ground sample distance, metres per pixel.
        smooth_m: block size of the average, metres.
        median_m: median window over the blocks, metres.

    Returns:
        The separation in dB; 0.0 for a scene with fewer than two distinct block values.
    """
    factor = max(1, round(smooth_m / gsd_m))
    coarse, frac = block_mean(np.where(valid, vv_db, np.float32(0.0)).astype(np.float32), valid, factor)
    known = (frac >= 0.5) & np.isfinite(coarse)
    if not known.any():
        return 0.0
    size = max(3, round(median_m / (factor * gsd_m)) | 1)
    smooth = ndimage.median_filter(np.where(known, coarse, np.float32(np.nanmedian(coarse[known]))), size=size,
                                   mode="nearest")
    return otsu_threshold(smooth[known])[1]


def sar_water_mask(
    vv_db: FloatArray,
    valid: BoolArray,
    gsd_m: float,
    *,
    threshold_db: float | None = None,
    default_threshold_db: float = -15.0,
    threshold_range_db: tuple[float, float] = (-24.0, -10.0),
    min_separation_db: float = SAR_COAST_SEPARATION_DB,
    smooth_m: float = SAR_WATER.smooth_m,
    median_m: float = SAR_WATER.median_m,
    open_m: float = SAR_WATER.open_m,
    fine_smooth_m: float = SAR_WATER.fine_smooth_m,
    fine_sigmas: float | None = SAR_WATER.fine_sigmas,
    min_water_area_m2: float = SAR_WATER.min_water_area_m2,
    max_hole_m2: float = SAR_WATER.max_hole_m2,
    shore_buffer_m: float = SAR_WATER.shore_buffer_m,
    vessel_peak_db: float | None = 0.0,
    vh_db: FloatArray | None = None,
    sea_cross_pol_db: float = SEA_CROSS_POL_DB,
    sea_max_vv_db: float = SEA_MAX_VV_DB,
) -> BoolArray:
    """Water mask of a Sentinel-1 scene from its VV backscatter (two scales, see the module docstring).

    Args:
        vv_db: ``(height, width)`` VV sigma0 in dB.
        valid: ``(height, width)`` mask of pixels with data.
        gsd_m: ground sample distance, metres per pixel.
        threshold_db: fixed water threshold (water is darker); None: derived from the scene.
        default_threshold_db: threshold when the scene shows no clear land/water contrast.
        threshold_range_db: bounds of the derived (Otsu) threshold.
        min_separation_db: distance of the two class means Otsu must reach to be trusted.
        smooth_m: block size of the coarse average, metres (at least one pixel).
        median_m: median window over the blocks, metres (at least 3 blocks).
        open_m: land features narrower than this join the water bodies (vessels with their blur and sidelobes,
            piers, rocks); wider islands stay land. Metres, at least 3 blocks.
        fine_smooth_m: box average of the dB values before the per-pixel test, metres (speckle).
        fine_sigmas: a pixel is water when it is within this many robust standard deviations of the local water
            level (mean of nearby blocks that are clearly water) and below the threshold, so that faint piers and
            breakwaters, a few dB above calm water, count as land joined to the shore rather than as water with
            a target on it.
        min_water_area_m2: smallest water body kept, m2.
        max_hole_m2: largest hole inside water filled (should exceed the largest vessel), m2.
        shore_buffer_m: water within this distance of land or nodata is dropped, metres.
        vessel_peak_db: land wholly surrounded by water, wider than ``open_m`` but at most
            :data:`VESSEL_BLOB_HOLES` x ``max_hole_m2``, joins
            the water when its brightest pixel reaches this VV (dB): a big ship with its sidelobes, not an
            islet. None: such land stays land.
        vh_db: ``(height, width)`` VH sigma0 in dB, or None. With it, blocks brighter than the threshold whose
            VV exceeds VH by at least ``sea_cross_pol_db`` and stays below ``sea_max_vv_db`` are water: wind-
            roughened sea, as bright as land in VV but with far less cross-polarised return than vegetation
            or buildings (:data:`SEA_CROSS_POL_DB`).
        sea_cross_pol_db: VV - VH (dB, block means) from which a bright block is taken for sea.
        sea_max_vv_db: brightest VV (dB, block mean) still taken for sea by the cross-polarisation rule.

    Returns:
        ``(height, width)`` boolean mask, True on water (vessels in open water included).
    """
    lo, hi = threshold_range_db
    cross: FloatArray | None = None
    if vh_db is not None:
        with np.errstate(invalid="ignore"):
            cross = np.where(valid & np.isfinite(vh_db) & (vv_db < sea_max_vv_db), vv_db - vh_db,
                             np.float32(np.nan)).astype(np.float32)
    return _two_scale(
        np.where(valid, vv_db, np.float32(0.0)).astype(np.float32), valid, gsd_m, water_below=True,
        threshold=default_threshold_db if threshold_db is None else threshold_db, smooth_m=smooth_m,
        median_m=median_m, open_m=open_m, min_water_area_m2=min_water_area_m2, max_hole_m2=max_hole_m2,
        shore_buffer_m=shore_buffer_m, auto=(lo, hi, min_separation_db) if threshold_db is None else None,
        fine_smooth_m=fine_smooth_m, fine_sigmas=fine_sigmas, vessel_peak=vessel_peak_db,
        extra_coarse=cross, extra_coarse_min=sea_cross_pol_db,
    )


def optical_water_mask(
    green: FloatArray,
    nir: FloatArray,
    valid: BoolArray,
    gsd_m: float,
    *,
    scl: FloatArray | None = None,
    ndwi_threshold: float = 0.0,
    smooth_m: float = OPTICAL_WATER.smooth_m,
    median_m: float = OPTICAL_WATER.median_m,
    open_m: float = OPTICAL_WATER.open_m,
    min_water_area_m2: float = OPTICAL_WATER.min_water_area_m2,
    max_hole_m2: float = OPTICAL_WATER.max_hole_m2,
    shore_buffer_m: float = OPTICAL_WATER.shore_buffer_m,
) -> BoolArray:
    """Water mask of an optical scene from NDWI (two scales, see the module docstring).

    Pixels outside ``valid`` (nodata, cloud, cloud shadow) are never water and no hole touching them is
    filled: what lies under a cloud is unknown.

    Args:
        green: ``(height, width)`` green reflectance 0..1 (Sentinel-2 B03, VHR G).
        nir: ``(height, width)`` near-infrared reflectance 0..1 (Sentinel-2 B08, VHR N).
        valid: ``(height, width)`` mask of usable pixels (data present and clear).
        gsd_m: ground sample distance, metres per pixel.
        scl: optional ``(height, width)`` Sentinel-2 scene classification; class 6 counts as a water pixel.
        ndwi_threshold: NDWI above which a pixel (or a block) is water (McFeeters: 0).
        smooth_m: block size of the coarse average, metres.
        median_m: median window over the blocks, metres.
        open_m: land features narrower than this join the water bodies, metres (see :func:`sar_water_mask`).
        min_water_area_m2: smallest water body kept, m2.
        max_hole_m2: largest hole inside water filled (should exceed the largest vessel), m2.
        shore_buffer_m: water within this distance of land, nodata or cloud is dropped, metres.

    Returns:
        ``(height, width)`` boolean mask, True on water (vessels in open water included).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ndwi = ((green - nir) / (green + nir)).astype(np.float32)
    usable = valid & np.isfinite(ndwi)
    return _two_scale(
        ndwi, usable, gsd_m, water_below=False, threshold=ndwi_threshold, smooth_m=smooth_m, median_m=median_m,
        open_m=open_m, min_water_area_m2=min_water_area_m2, max_hole_m2=max_hole_m2, shore_buffer_m=shore_buffer_m,
        extra_fine=None if scl is None else usable & (scl == 6),
    )
