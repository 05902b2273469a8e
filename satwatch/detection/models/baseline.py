"""The classical baseline vessel detector: CFAR on Sentinel-1 water, local contrast on Sentinel-2/VHR water.

Sentinel-1 (bands ``VV`` and optionally ``VH``, sigma0 in dB), following ESA SNAP's ship detection:

1. water mask from the image (:func:`satwatch.detection.water.sar_water_mask`): VV averaged in blocks,
   median-filtered and thresholded into water bodies, then classified per pixel; vessels (holes inside water,
   clear of the shore) are filled, piers and quays stay land, a shore buffer is removed;
2. two-parameter CFAR on linear power: for every water pixel, the mean and standard deviation of the
   background are taken over water pixels in the annulus between a guard window and a background window
   (masked box sums, :func:`annulus_stats`), in two passes, the second one leaving out bright targets found
   by the first (so that a neighbouring vessel does not hide another). A pixel is a target when
   ``(x_t - mean) / std > t``, ``x_t`` being the mean power of the target window. ``t`` comes from the
   false-alarm probability ``pfa``: SNAP takes the Gaussian quantile (``clutter="gaussian"``); the default
   (``clutter="gamma"``) takes it from a gamma distribution of sea-clutter intensity whose shape (the
   equivalent number of looks) is measured on the scene's water, which keeps the false-alarm rate near
   ``pfa`` on speckled sea (the Gaussian quantile lets through tens of speckle peaks per 2000 x 2000 scene);
3. pixels above a looser threshold (``pfa_extent``) that connect to a target pixel form the object
   (hysteresis), trimmed to its bright part around the peak (``trim``: drops sidelobes);
4. size discrimination: objects shorter than ``min_length_m``, longer than ``max_length_m`` or wider than
   ``max_width_m`` are dropped.

Default windows (SNAP's, in metres, converted with :attr:`Scene.gsd_m`, odd pixel counts): target 10 m
(one GRD pixel; SNAP's 50 m dilutes small vessels), guard 500 m, background 800 m; ``pfa`` 10^-6.5.

Sentinel-2 (needs ``B03`` and ``B08``; uses ``B04`` and ``B11`` when present, and ``SCL`` to leave out
no-data/defective pixels (:data:`~satwatch.imagery.bands.SCL_INVALID`) and what
:func:`~satwatch.imagery.bands.scl_not_clear` calls not clear among ``cloud_classes`` (default cloud shadow 3,
cloud 8, 9 and cirrus 10, plus a buffer; a ship-sized cloud blob on water, a bright hull that SCL took for
cloud, is searched and gets no buffer, and an object centred on it must be elongated, ``hull_min_elongation``,
as a cloud puff is not), and to add water (6)) and VHR (``G``, ``N``, ``R``):

1. water mask from NDWI (:func:`satwatch.detection.water.optical_water_mask`), same two-scale scheme;
2. a brightness index (mean of B04, B08, B11 where present; VHR: mean of R and N): vessels are bright in the
   red, near and short-wave infrared, water is dark there;
3. local contrast: ``z = (x - mean) / max(std, sigma_floor)`` against the same water-only, target-censored
   annulus statistics; a target pixel has ``z > k_core``, ``x - mean > min_contrast`` and NDVI below
   ``max_ndvi`` (not vegetation); the object grows over pixels with ``z > k_extent`` (hysteresis) and is
   trimmed to its part above a quarter of its peak contrast (separates the hull from its wake); the same size
   discrimination follows.

For every object: centre, length, width and heading from its second moments (PCA of the pixel coordinates).
Each pixel is weighted by its brightness above the background (linear power for radar, reflectance for
optical), capped at a quantile of the object's own weights (``moment_quantile``: 0.75 radar, 0.9 optical) so
that a few bright scatterers or speckle peaks do not dominate while partly covered edge pixels count in
proportion. For a rectangle of length ``L`` the variance along its axis is ``L^2 / 12``, so
``L = sqrt(12 * lambda_1)`` after removing the pixel's own ``1/12 px^2`` (added back for unweighted masks)
and the sensor's point spread (``psf_sigma_m``), never less than one pixel. Moments are taken in ground
metres via :func:`satwatch.detection.detections.ground_axes_m`, so pixels of any size, CRS or orientation are
right; the heading is the long axis' orientation clockwise from the grid north of the scene CRS (rows grow
southwards), 0..180. On a UTM grid, grid north is within about 2 degrees of true north at mid latitudes.
The score maps the object's peak contrast to 0..1 with a logistic curve (about 0.1 at the detection
threshold, 0.5 five dB (radar) or ``k_core`` sigmas (optical) above it).

Limits: vessels moored against piers and quays are outside the water mask and are not detected (the
baseline counts vessels on open water); rocks and islets narrower than ``water_open_m`` can be reported as
vessels, the same ones on every date; bright shore features inside the shore buffer are ignored; SAR azimuth
ambiguities, optical wakes of small vessels, whitecaps and sun glint can add false detections, shift centres
or lengthen objects; vessels under cloud (Sentinel-2) are not seen; a small isolated cloud puff on open water
(given back with the bright hulls) is reported as a vessel only when it looks elongated (``hull_min_elongation``),
and a bright hull shorter than about 2.5 times its measured width is lost when SCL marks it cloud. Everything is
vectorised numpy/scipy on float32 (about 15 full-size arrays at once): a 2000 x 2000 scene takes well under a
second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
from scipy import ndimage, special
from shapely.geometry import Point

from satwatch.detection.detections import Detection, detections_from_records, ground_axes_m
from satwatch.detection.water import OPTICAL_WATER, SAR_WATER, optical_water_mask, sar_water_mask
from satwatch.errors import DetectionError
from satwatch.imagery.bands import SCL_INVALID, SCL_NOT_CLEAR, scl_not_clear
from satwatch.imagery.scene import Scene

__all__ = [
    "BaselineDetector",
    "Components",
    "OpticalParams",
    "SarParams",
    "annulus_stats",
    "cfar_multiplier",
    "detect_optical",
    "detect_sar",
    "measure_components",
    "odd_pixels",
    "sar_berths",
    "sar_scene_water",
]

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
_EIGHT = np.ones((3, 3), dtype=bool)
_OPTICAL_BANDS = {"s2": ("B03", "B08", ("B04", "B08", "B11")), "vhr": ("G", "N", ("R", "N"))}


@dataclass(frozen=True)
class SarParams:
    """Settings of the Sentinel-1 CFAR detector; sizes in metres, converted with the scene's pixel size."""

    polarisation: Literal["VV", "VV+VH"] = "VV"
    """Power the CFAR runs on: ``VV`` (as SNAP) or the sum of linear VV and VH power (needs ``VH``)."""
    target_window_m: float = 10.0
    """Target window edge, metres (odd pixel count, at least 1). SNAP's 50 m dilutes small vessels and blurs
    their extent; one Sentinel-1 GRD pixel (10 m) is the default here."""
    guard_window_m: float = 500.0
    """Guard window edge, metres (SNAP default): pixels this close to the target are left out of its
    background, so a vessel up to ~250 m from its centre in any direction never pollutes its own statistics."""
    background_window_m: float = 800.0
    """Background window edge, metres (SNAP default): background statistics come from the annulus between the
    guard and background windows."""
    pfa: float = 10**-6.5
    """Probability of false alarm per target window (SNAP default 10^-6.5)."""
    pfa_extent: float = 1e-3
    """Looser false-alarm probability of the pixels that extend a detected object (hysteresis)."""
    clutter: Literal["gamma", "gaussian"] = "gamma"
    """Sea-clutter model turning ``pfa`` into a threshold: gamma intensity with the scene's measured number of
    looks, or SNAP's Gaussian quantile."""
    min_background_fraction: float = 0.25
    """Least share of the annulus that must be usable water for a pixel to be tested."""
    min_pixels: int = 2
    """Smallest object, pixels."""
    min_length_m: float = 20.0
    """Shortest object kept, metres."""
    max_length_m: float = 500.0
    """Longest object kept, metres (longer: land, breakwaters, ambiguity streaks)."""
    max_width_m: float = 80.0
    """Widest object kept, metres (the widest ships have a 60-65 m beam; wider objects are islets)."""
    water_threshold_db: float | None = None
    """Fixed VV water threshold, dB; None: Otsu's threshold on the scene, else -15 dB."""
    water_smooth_m: float = SAR_WATER.smooth_m
    """Block size of the speckle average for the water mask, metres."""
    water_median_m: float = SAR_WATER.median_m
    """Median window of the coarse water bodies, metres."""
    water_open_m: float = SAR_WATER.open_m
    """Land features narrower than this join the water bodies (vessels with sidelobes, piers, rocks), metres;
    wider islands stay land (see :mod:`satwatch.detection.water`)."""
    water_fine_smooth_m: float = SAR_WATER.fine_smooth_m
    """Box average of VV dB values before the per-pixel water test, metres (speckle)."""
    water_fine_sigmas: float | None = SAR_WATER.fine_sigmas
    """Per-pixel water test: within this many robust standard deviations of the local water level (faint
    piers then count as land joined to the shore, see :func:`satwatch.detection.water.sar_water_mask`)."""
    min_water_area_m2: float = SAR_WATER.min_water_area_m2
    """Smallest water body searched, m2."""
    max_hole_m2: float = SAR_WATER.max_hole_m2
    """Largest hole inside water taken for a vessel and filled, m2: a very bright vessel's halo and sidelobes
    make a hole much larger than its hull. Islands wider than ``water_open_m`` never count as holes."""
    shore_buffer_m: float = SAR_WATER.shore_buffer_m
    """Water this close to land or nodata is not searched, metres."""
    drop_rim: bool = True
    """Drop objects touching the rim of the searchable water: in radar, faint piers and quays are hard to
    tell from water, and what touches the shore buffer is more often a pier end than a vessel."""
    moment_quantile: float | None = 0.75
    """Object moments weight each pixel by its power above background, capped at this quantile of the
    object's own weights (see :func:`measure_components`); None: uncapped."""
    trim: tuple[float, float] | None = (0.1, 0.9)
    """``(fraction, quantile)``: an object keeps only its part, around its peak, above ``fraction`` of the
    ``quantile`` of its pixels' power (a robust peak: speckle), grown back by one pixel; this drops sidelobes
    and ambiguities joined to a vessel (see :func:`measure_components`). None: no trimming."""
    psf_sigma_m: float = 8.0
    """Standard deviation of the point spread, metres, removed from the measured size (Sentinel-1 IW GRD
    resolves about 20 x 22 m: a Gaussian of about 9 m)."""
    score_midpoint_db: float = 5.0
    """Peak contrast above the detection threshold, dB, that scores 0.5."""
    score_width_db: float = 2.5
    """Logistic width of the score, dB."""


@dataclass(frozen=True)
class OpticalParams:
    """Settings of the Sentinel-2 / VHR local-contrast detector; sizes in metres, reflectance 0..1."""

    ndwi_threshold: float = 0.0
    """NDWI (green - NIR) / (green + NIR) above which a pixel is water."""
    max_ndvi: float = 0.3
    """Target pixels must have NDVI (NIR - red) / (NIR + red) below this (needs B04 / R): vegetation (islets,
    floating algae) is bright in the near infrared like a hull, but hulls are grey or red, not green."""
    guard_window_m: float = 500.0
    """Guard window edge, metres: pixels this close are left out of a pixel's background."""
    background_window_m: float = 800.0
    """Background window edge, metres: statistics come from the annulus between guard and background."""
    k_core: float = 6.0
    """Contrast in background standard deviations that makes a target pixel."""
    k_extent: float = 3.0
    """Contrast in standard deviations of the pixels that extend a detected object (hysteresis)."""
    min_contrast: float = 0.02
    """Least brightness above the background, reflectance, of a target pixel (half of it for the extent)."""
    sigma_floor: float = 0.004
    """Smallest background standard deviation used, reflectance (keeps glassy water from over-triggering)."""
    moment_quantile: float | None = 0.9
    """Object moments weight each pixel by its brightness above background, capped at this quantile of the
    object's own weights (see :func:`measure_components`); None: uncapped."""
    trim: tuple[float, float] | None = (0.25, 1.0)
    """``(fraction, quantile)``: an object keeps only its part, around its peak, above ``fraction`` of its
    peak contrast, grown back by one pixel; this separates a hull from its fainter wake (see
    :func:`measure_components`). None: no trimming."""
    psf_sigma_m: float = 0.0
    """Standard deviation of the point spread, metres, removed from the measured size."""
    cloud_classes: tuple[float, ...] = SCL_NOT_CLEAR
    """Sentinel-2 SCL classes not searched: cloud shadow (3), cloud medium/high probability (8, 9), thin
    cirrus (10); the classes :mod:`satwatch.change.observability` counts as not clear, so that detections and
    the observed fraction cover the same ground. Ship-sized cloud blobs on water (bright hulls SCL took for
    cloud) are searched all the same (:func:`~satwatch.imagery.bands.scl_not_clear`). Vessels often show
    through thin cirrus and in cloud shadow: ``(8.0, 9.0)`` searches there too."""
    cloud_buffer_m: float = 30.0
    """Distance around the not-clear ``cloud_classes`` pixels that is also left out, metres (none around the
    cloud blobs given back as bright hulls)."""
    hull_min_elongation: float = 2.5
    """Least length / width (as measured) of an object centred on a cloud blob given back as a bright hull: a
    hull is elongated, a small cloud puff is not. Measured on the simulator's cloudy port scenes: hulls 2.7-5.9,
    puffs 1.1-2.5 (one at 3.5); with this test and the rule's distance from cloud banks, none of 17 remains."""
    min_background_fraction: float = 0.25
    """Least share of the annulus that must be usable water for a pixel to be tested."""
    min_pixels: int = 2
    """Smallest object, pixels."""
    min_length_m: float = 20.0
    """Shortest object kept, metres (Sentinel-2 resolves vessels from about 25 m)."""
    max_length_m: float = 500.0
    """Longest object kept, metres."""
    max_width_m: float = 80.0
    """Widest object kept, metres (the widest ships have a 60-65 m beam; wider objects are islets)."""
    water_smooth_m: float = OPTICAL_WATER.smooth_m
    """Block size of the coarse NDWI average for the water bodies, metres."""
    water_median_m: float = OPTICAL_WATER.median_m
    """Median window of the coarse water bodies, metres."""
    water_open_m: float = OPTICAL_WATER.open_m
    """Land features narrower than this join the water bodies, metres (see :class:`SarParams`); narrower than
    for radar, as optical vessels have no sidelobes, so that more islets stay land."""
    min_water_area_m2: float = OPTICAL_WATER.min_water_area_m2
    """Smallest water body searched, m2."""
    max_hole_m2: float = OPTICAL_WATER.max_hole_m2
    """Largest hole inside water taken for a vessel and filled, m2."""
    shore_buffer_m: float = OPTICAL_WATER.shore_buffer_m
    """Water this close to land, nodata or cloud is not searched, metres."""
    drop_rim: bool = False
    """Drop objects touching the rim of the searchable water (see :class:`SarParams`); off for optical
    imagery, where NDWI separates piers from water well and the rim is mostly cloud buffer."""


@dataclass(frozen=True)
class Components:
    """Measured connected components (objects) of a detection mask; every array has shape ``(n,)``."""

    pixels: npt.NDArray[np.int64]
    """Pixels per object."""
    x: npt.NDArray[np.float64]
    """Centre column in pixel space (corner-based: pixel ``(r, c)`` has its centre at ``c + 0.5``)."""
    y: npt.NDArray[np.float64]
    """Centre row in pixel space (corner-based)."""
    length_m: npt.NDArray[np.float64]
    """Long-axis length, metres (at least one pixel)."""
    width_m: npt.NDArray[np.float64]
    """Short-axis width, metres (at least one pixel)."""
    heading_deg: npt.NDArray[np.float64]
    """Long-axis orientation, degrees clockwise from grid north, 0..180."""
    peak: npt.NDArray[np.float64]
    """Largest value of the contrast statistic inside the object."""


def odd_pixels(metres: float, gsd_m: float) -> int:
    """Odd pixel count (at least 1) nearest ``metres`` at ``gsd_m`` metres per pixel: a window centred on a pixel."""
    return max(1, round(metres / gsd_m) | 1)


def _box_sum(a: FloatArray, size: int) -> FloatArray:
    out: FloatArray = ndimage.uniform_filter(a, size=size, mode="constant", cval=0.0)
    return out * np.float32(size * size)


def annulus_stats(
    values: FloatArray, usable: BoolArray, guard_px: int, background_px: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean, standard deviation and count of ``values`` over the usable pixels of each pixel's annulus.

    The annulus of a pixel is the ``background_px`` square around it minus the ``guard_px`` square (both odd,
    centred). Computed with six box filters, so the cost does not depend on the window sizes.

    Args:
        values: ``(height, width)`` float32 (finite wherever ``usable``).
        usable: ``(height, width)`` mask of pixels allowed in a background (water, not a target).
        guard_px: guard window edge, pixels (odd).
        background_px: background window edge, pixels (odd, > ``guard_px``).

    Returns:
        ``(mean, std, count)``, each ``(height, width)`` float32; mean and std are NaN where count is 0.
    """
    w = usable.astype(np.float32)
    xw = np.where(usable, values, np.float32(0.0)).astype(np.float32)
    x2w = xw * xw
    n = _box_sum(w, background_px) - _box_sum(w, guard_px)
    s1 = _box_sum(xw, background_px) - _box_sum(xw, guard_px)
    s2 = _box_sum(x2w, background_px) - _box_sum(x2w, guard_px)
    n = np.maximum(np.rint(n), np.float32(0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        var = np.maximum(s2 / n - mean * mean, np.float32(0.0))
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32), n.astype(np.float32)


def cfar_multiplier(pfa: float, looks: float, clutter: Literal["gamma", "gaussian"] = "gamma") -> float:
    """Two-parameter CFAR threshold ``t``: a target has ``(x - mean) / std > t``.

    Args:
        pfa: false-alarm probability per tested value.
        looks: shape of the gamma intensity distribution of the tested value (equivalent number of looks of a
            pixel times the pixels averaged in the target window); ignored for ``gaussian``.
        clutter: ``gamma``: ``t = (q / looks - 1) * sqrt(looks)`` with ``q`` the gamma(``looks``) upper
            quantile at ``pfa`` (exact for gamma-distributed intensity, whose std is ``mean / sqrt(looks)``);
            ``gaussian``: ``t = sqrt(2) * erfcinv(2 * pfa)`` (ESA SNAP).

    Example:
        >>> round(cfar_multiplier(10**-6.5, 1.0, "gaussian"), 2)
        4.98
    """
    if not 0.0 < pfa < 0.5:
        raise ValueError(f"pfa must be in (0, 0.5), not {pfa}")
    if clutter == "gaussian":
        return float(math.sqrt(2.0) * special.erfcinv(2.0 * pfa))
    q = float(special.gammainccinv(looks, pfa))
    return (q / looks - 1.0) * math.sqrt(looks)


def measure_components(
    extent: BoolArray,
    core: BoolArray,
    contrast: FloatArray,
    axes_m: npt.NDArray[np.float64],
    weights: FloatArray | None = None,
    saturate: float | None = None,
    trim: tuple[float, float] | None = None,
    psf_sigma_m: float = 0.0,
    exclude: BoolArray | None = None,
) -> Components:
    """Objects of a detection mask: 8-connected regions of ``extent | core`` that hold a ``core`` pixel.

    Args:
        extent: ``(height, width)`` mask of pixels that may belong to an object.
        core: ``(height, width)`` mask of target pixels; an object needs at least one.
        contrast: ``(height, width)`` statistic whose per-object maximum is reported as ``peak``.
        axes_m: ground metres per pixel step (:func:`satwatch.detection.detections.ground_axes_m`).
        weights: optional ``(height, width)`` non-negative weights (e.g. brightness above background) for the
            centre and moments; None: every pixel counts once (binary mask).
        saturate: with ``weights``, cap each object's weights at this quantile (0..1) of its own weights and
            rescale to at most 1, so a few very bright points (radar corner reflectors, speckle peaks) do not
            dominate the moments while partly covered edge pixels still count less. None: weights as given.
        trim: ``(fraction, quantile)``: with ``weights``, keep of each object only the part connected to its
            brightest pixel where the weight is at least ``fraction`` times the ``quantile`` (0..1) of the
            object's weights, grown back by one pixel: this separates a hull from its fainter wake (optical) or
            sidelobes (radar). None: no trimming.
        psf_sigma_m: standard deviation of the sensor's point spread, metres; its variance is removed from
            both axes before lengths are computed (a point target has the sensor's blur, not zero size).
        exclude: optional ``(height, width)`` mask; an object with a pixel on it is dropped (the rim of the
            searchable water: what touches it may be the end of a pier or quay).

    Returns:
        :class:`Components` with one entry per object, in label order (top to bottom).
    """
    labels, _ = ndimage.label(extent | core, structure=_EIGHT)
    rr, cc = np.nonzero(labels)
    lab = labels[rr, cc]
    if lab.size == 0:
        empty = np.zeros(0, dtype=np.float64)
        return Components(np.zeros(0, dtype=np.int64), empty, empty, empty, empty, empty, empty)
    keep = np.zeros(int(lab.max()) + 1, dtype=bool)
    keep[lab[core[rr, cc]]] = True
    if exclude is not None:
        keep[lab[exclude[rr, cc]]] = False
    sel = keep[lab]
    rr, cc, lab = rr[sel], cc[sel], lab[sel]
    _, inv = np.unique(lab, return_inverse=True)
    m = int(inv.max()) + 1 if inv.size else 0
    if m == 0:
        empty = np.zeros(0, dtype=np.float64)
        return Components(np.zeros(0, dtype=np.int64), empty, empty, empty, empty, empty, empty)
    if trim is not None and weights is not None:
        rr, cc, inv = _trim(rr, cc, inv, m, np.asarray(weights[rr, cc], dtype=np.float64), *trim, extent.shape)
    x = cc.astype(np.float64)
    y = rr.astype(np.float64)
    pixels = np.bincount(inv, minlength=m).astype(np.int64)
    if weights is None:
        w = np.ones_like(x)
        pixel_term = 1.0 / 12.0
    else:
        w = np.asarray(weights[rr, cc], dtype=np.float64)
        w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
        pixel_term = -1.0 / 12.0
        if saturate is not None:
            w = w / np.maximum(_group_quantile(w, inv, m, saturate)[inv], 1e-30)
            w = np.minimum(w, 1.0)
    wsum = np.bincount(inv, w, m)
    bad = wsum <= 0  # all-zero weights: fall back to counting pixels
    if bad.any():
        w = np.where(bad[inv], 1.0, w)
        wsum = np.bincount(inv, w, m)
    mx = np.bincount(inv, w * x, m) / wsum
    my = np.bincount(inv, w * y, m) / wsum
    dx = x - mx[inv]
    dy = y - my[inv]
    cxx = np.bincount(inv, w * dx * dx, m) / wsum + pixel_term
    cyy = np.bincount(inv, w * dy * dy, m) / wsum + pixel_term
    cxy = np.bincount(inv, w * dx * dy, m) / wsum
    (m00, m01), (m10, m11) = axes_m
    ee = m00 * m00 * cxx + 2 * m00 * m01 * cxy + m01 * m01 * cyy
    nn = m10 * m10 * cxx + 2 * m10 * m11 * cxy + m11 * m11 * cyy
    en = m00 * m10 * cxx + (m00 * m11 + m01 * m10) * cxy + m01 * m11 * cyy
    half = np.sqrt(((ee - nn) / 2.0) ** 2 + en * en)
    psf_var = psf_sigma_m * psf_sigma_m
    lam1 = np.maximum((ee + nn) / 2.0 + half - psf_var, 0.0)
    lam2 = np.maximum((ee + nn) / 2.0 - half - psf_var, 0.0)
    pixel_m = math.sqrt(abs(float(np.linalg.det(axes_m))))
    theta = np.degrees(0.5 * np.arctan2(2.0 * en, ee - nn))  # long axis, from grid east towards grid north
    order = np.argsort(inv, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inv[order]) > 0])
    peak = np.maximum.reduceat(np.asarray(contrast[rr, cc], dtype=np.float64)[order], starts)
    return Components(
        pixels=pixels,
        x=mx + 0.5,
        y=my + 0.5,
        length_m=np.maximum(np.sqrt(12.0 * lam1), pixel_m),
        width_m=np.maximum(np.sqrt(12.0 * lam2), pixel_m),
        heading_deg=np.mod(90.0 - theta, 180.0),
        peak=peak,
    )


def _trim(
    rr: npt.NDArray[np.intp], cc: npt.NDArray[np.intp], inv: npt.NDArray[np.intp], m: int,
    w: npt.NDArray[np.float64], fraction: float, quantile: float, shape: tuple[int, ...],
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Keep each object's bright part around its peak (see ``trim`` of :func:`measure_components`)."""
    w = np.where(np.isfinite(w), w, 0.0)
    strong = w >= fraction * _group_quantile(w, inv, m, quantile)[inv]
    order = np.lexsort((-w, inv))
    peaks = order[np.concatenate(([0], np.cumsum(np.bincount(inv, minlength=m))[:-1]))]
    strong[peaks] = True
    mask = np.zeros(shape, dtype=bool)
    mask[rr[strong], cc[strong]] = True
    parts, n = ndimage.label(mask, structure=_EIGHT)
    wanted = np.zeros(n + 1, dtype=bool)
    wanted[parts[rr[peaks], cc[peaks]]] = True
    kept = np.zeros(shape, dtype=bool)
    kept[rr[strong], cc[strong]] = wanted[parts[rr[strong], cc[strong]]]
    r0, r1 = int(rr.min()), int(rr.max()) + 2
    c0, c1 = int(cc.min()), int(cc.max()) + 2
    kept[max(r0 - 1, 0):r1, max(c0 - 1, 0):c1] = ndimage.binary_dilation(
        kept[max(r0 - 1, 0):r1, max(c0 - 1, 0):c1], structure=_EIGHT
    )
    sel = kept[rr, cc]
    return rr[sel], cc[sel], inv[sel]


def _group_quantile(
    values: npt.NDArray[np.float64], groups: npt.NDArray[np.intp], n: int, q: float
) -> npt.NDArray[np.float64]:
    """Per-group ``q`` quantile (nearest rank) of ``values``; ``groups`` are 0..n-1, each non-empty."""
    order = np.lexsort((values, groups))
    counts = np.bincount(groups, minlength=n)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    picks = starts + np.minimum((q * (counts - 1) + 0.5).astype(np.int64), counts - 1)
    out: npt.NDArray[np.float64] = values[order][picks]
    return out


def _logistic(value: npt.NDArray[np.float64], midpoint: float, width: float) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-(value - midpoint) / width))
    return out


def _records(
    comps: Components, scores: npt.NDArray[np.float64], min_pixels: int, min_length_m: float,
    max_length_m: float, max_width_m: float,
) -> list[Detection]:
    keep = ((comps.pixels >= min_pixels) & (comps.length_m >= min_length_m) & (comps.length_m <= max_length_m)
            & (comps.width_m <= max_width_m))
    return [
        Detection(
            "vessel", round(float(np.clip(scores[i], 0.0, 1.0)), 4), Point(float(comps.x[i]), float(comps.y[i])),
            length_m=round(float(comps.length_m[i]), 1), width_m=round(float(comps.width_m[i]), 1),
            heading_deg=round(float(comps.heading_deg[i]), 1),
        )
        for i in np.flatnonzero(keep)
    ]


def _require(scene: Scene, names: tuple[str, ...], what: str) -> None:
    missing = [b for b in names if b not in scene.bands]
    if missing:
        raise DetectionError(
            f"scene {scene.meta.scene_id} ({scene.meta.sensor}) lacks band(s) {', '.join(missing)} that the "
            f"baseline detector needs for {what}; it has {', '.join(scene.bands)}"
        )


def _rim(searchable: BoolArray) -> BoolArray:
    """Searchable pixels next to unsearchable ones inside the image (shore buffer, nodata, cloud buffer)."""
    outside = np.pad(~searchable, 1, constant_values=False)
    near: BoolArray = ndimage.binary_dilation(outside, structure=_EIGHT)[1:-1, 1:-1]
    return searchable & near


def _censored_stats(
    x: FloatArray, water: BoolArray, guard: int, background: int, t: float, min_count: float,
    sigma_floor: float = 0.0,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Annulus statistics in two passes, the second without the bright targets the first one finds."""
    mean, std, n = annulus_stats(x, water, guard, background)
    std = np.maximum(std, np.float32(sigma_floor))
    with np.errstate(invalid="ignore", divide="ignore"):
        bright = water & (n >= min_count) & ((x - mean) > t * std)
    if bright.any():
        bright = ndimage.binary_dilation(bright, structure=_EIGHT, iterations=2)
        mean, std, n = annulus_stats(x, water & ~bright, guard, background)
        std = np.maximum(std, np.float32(sigma_floor))
    ok = water & (n >= min_count) & (std > 0)
    return mean, std, ok


def sar_scene_water(scene: Scene, valid: BoolArray, params: SarParams, shore_buffer_m: float | None = None
                    ) -> BoolArray:
    """Return the water mask of a Sentinel-1 scene with the settings of ``params`` (VH used when present).

    Args:
        scene: bands ``VV`` (and optionally ``VH``), sigma0 in dB.
        valid: ``(height, width)`` mask of pixels with data.
        params: detector settings whose ``water_*``, ``min_water_area_m2`` and ``max_hole_m2`` apply.
        shore_buffer_m: water this close to land is dropped, metres; None: ``params.shore_buffer_m``.

    Returns:
        ``(height, width)`` boolean mask, True on water (:func:`satwatch.detection.water.sar_water_mask`).
    """
    p = params
    return sar_water_mask(
        scene.band("VV"), valid, scene.gsd_m, threshold_db=p.water_threshold_db, smooth_m=p.water_smooth_m,
        median_m=p.water_median_m, open_m=p.water_open_m, fine_smooth_m=p.water_fine_smooth_m,
        fine_sigmas=p.water_fine_sigmas, min_water_area_m2=p.min_water_area_m2, max_hole_m2=p.max_hole_m2,
        shore_buffer_m=p.shore_buffer_m if shore_buffer_m is None else shore_buffer_m,
        vh_db=scene.band("VH") if "VH" in scene.bands else None,
    )


BERTH_M = 60.0
"""Water this close to coast land is a berth, metres: there a CFAR cannot tell a hull from the quay it lies
against, so ``cnn-cfar`` keeps the CNN's proposals there untested, and counts take the CNN's false-alarm rate
there (``satwatch.change.error_model``)."""


def sar_berths(scene: Scene, valid: BoolArray, params: SarParams) -> tuple[BoolArray, BoolArray]:
    """Return ``(water, berth)`` of a Sentinel-1 scene: its water mask and the pixels within :data:`BERTH_M` of a coast.

    A scene shows a coast when the Otsu separation of its smoothed VV reaches
    :data:`~satwatch.detection.water.SAR_COAST_SEPARATION_DB`; then ``water`` is :func:`sar_scene_water` (no shore
    buffer) and ``berth`` the valid pixels within :data:`BERTH_M` of coast land that lies within :data:`BERTH_M`
    of water. Coast land is a land component larger than the water mask's vessel blobs (``VESSEL_BLOB_HOLES x
    max_hole_m2``: a big ship with its sidelobes holds no berth). Without a coast the scene is open sea however
    windy (the mask would call windy sea land): ``water`` is every valid pixel and ``berth`` is empty.

    Args:
        scene: bands ``VV`` (and optionally ``VH``), sigma0 in dB.
        valid: ``(height, width)`` mask of pixels with data.
        params: detector settings of the water mask.

    Returns:
        Two ``(height, width)`` boolean masks (read-only: computed once per scene, valid mask and settings, and
        kept in :attr:`Scene.derived` for the next caller: ``cnn-cfar`` and observability both need them).
    """
    key = ("sar_berths", params)
    memo = scene.derived.get(key)
    if memo is not None and np.array_equal(memo[0], valid):
        return memo[1], memo[2]
    water, berth = _sar_berths(scene, valid, params)
    for mask in (water, berth):
        mask.flags.writeable = False
    scene.derived[key] = (valid.copy(), water, berth)
    return water, berth


def _sar_berths(scene: Scene, valid: BoolArray, params: SarParams) -> tuple[BoolArray, BoolArray]:
    from scipy import ndimage

    from satwatch.detection.water import SAR_COAST_SEPARATION_DB, VESSEL_BLOB_HOLES, sar_coast_separation_db

    if sar_coast_separation_db(scene.band("VV"), valid, scene.gsd_m) < SAR_COAST_SEPARATION_DB:
        return valid.copy(), np.zeros_like(valid)
    water = sar_scene_water(scene, valid, params, shore_buffer_m=0.0)
    eight = np.ones((3, 3), dtype=bool)
    near_px = max(1, round(BERTH_M / scene.gsd_m))
    land, _ = ndimage.label(valid & ~water, structure=eight)
    sizes = np.bincount(land.ravel()) * scene.gsd_m**2
    sizes[0] = 0.0
    coast = (sizes > VESSEL_BLOB_HOLES * params.max_hole_m2)[land]
    shore = coast & ndimage.binary_dilation(water, structure=eight, iterations=near_px)
    berth = ndimage.binary_dilation(shore, structure=eight, iterations=near_px) & valid
    return water, berth


def detect_sar(scene: Scene, params: SarParams | None = None) -> list[Detection]:
    """Vessels in a Sentinel-1 scene by two-parameter CFAR on water (see the module docstring).

    Args:
        scene: bands ``VV`` (and ``VH`` for ``polarisation="VV+VH"``), sigma0 in dB, ``(bands, h, w)``.
        params: detector settings; None: :class:`SarParams` defaults.

    Returns:
        Vessel :class:`Detection` records in pixel space.

    Raises:
        DetectionError: a band the settings need is missing.

    Example:
        >>> records = detect_sar(read_scene("data/archive/ru_dunai/s1/20241008T015230.tif"))  # doctest: +SKIP
    """
    p = params or SarParams()
    needed = ("VV", "VH") if p.polarisation == "VV+VH" else ("VV",)
    _require(scene, needed, "Sentinel-1 CFAR")
    gsd = scene.gsd_m
    vv_db = scene.band("VV")
    valid = np.isfinite(vv_db)
    power = np.power(np.float32(10.0), np.where(valid, vv_db, np.float32(0.0)) / np.float32(10.0))
    if p.polarisation == "VV+VH":
        vh_db = scene.band("VH")
        valid &= np.isfinite(vh_db)
        power = power + np.power(np.float32(10.0), np.where(valid, vh_db, np.float32(0.0)) / np.float32(10.0))
    power = np.where(valid, power, np.float32(0.0)).astype(np.float32)
    water = sar_scene_water(scene, valid, p)
    if not water.any():
        return []
    guard = odd_pixels(p.guard_window_m, gsd)
    background = max(odd_pixels(p.background_window_m, gsd), guard + 2)
    target = odd_pixels(p.target_window_m, gsd)
    min_count = p.min_background_fraction * (background**2 - guard**2)
    first_t = cfar_multiplier(p.pfa, 4.0, p.clutter)
    mean, std, ok = _censored_stats(power, water, guard, background, first_t, min_count)
    if not ok.any():
        return []
    looks = float(np.clip(np.median((mean[ok] / std[ok]) ** 2), 0.5, 100.0))
    t_core = cfar_multiplier(p.pfa, looks * target * target, p.clutter)
    t_extent = cfar_multiplier(p.pfa_extent, looks, p.clutter)
    if p.clutter == "gamma" and target > 1:
        t_core *= 1.0 / target  # the target mean's std is std / target: express t in per-pixel std units
    x_t = power if target == 1 else ndimage.uniform_filter(power, size=target, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        z_t = (x_t - mean) / std
        z = (power - mean) / std
        ratio_db = (10.0 * np.log10(np.maximum(power, np.float32(1e-30)) / mean)).astype(np.float32)
    core = ok & (z_t > t_core)
    extent = ok & (z > t_extent)
    comps = measure_components(
        extent, core, np.where(ok, ratio_db, np.float32(-np.inf)), ground_axes_m(scene),
        weights=np.maximum(power - mean, np.float32(0.0)), saturate=p.moment_quantile, trim=p.trim,
        psf_sigma_m=p.psf_sigma_m, exclude=_rim(ok) if p.drop_rim else None,
    )
    threshold_db = 10.0 * math.log10(1.0 + t_core / math.sqrt(looks))
    scores = _logistic(comps.peak, threshold_db + p.score_midpoint_db, p.score_width_db)
    return _records(comps, scores, p.min_pixels, p.min_length_m, p.max_length_m, p.max_width_m)


def detect_optical(scene: Scene, params: OpticalParams | None = None) -> list[Detection]:
    """Vessels in a Sentinel-2 or VHR scene by local contrast on NDWI water (see the module docstring).

    Args:
        scene: Sentinel-2 with ``B03``, ``B08`` (and optionally ``B04``, ``B11``, ``SCL``), or VHR with ``G``,
            ``N`` (and optionally ``R``); reflectance 0..1, ``(bands, h, w)``.
        params: detector settings; None: :class:`OpticalParams` defaults.

    Returns:
        Vessel :class:`Detection` records in pixel space.

    Raises:
        DetectionError: the sensor is not ``s2``/``vhr`` or a required band is missing.

    Example:
        >>> records = detect_optical(read_scene("data/archive/ru_dunai/s2/20241008T015230.tif"))  # doctest: +SKIP
    """
    p = params or OpticalParams()
    sensor = scene.meta.sensor
    if sensor not in _OPTICAL_BANDS:
        raise DetectionError(f"scene {scene.meta.scene_id} is {sensor}; the optical baseline handles s2 and vhr")
    green_name, nir_name, bright_names = _OPTICAL_BANDS[sensor]
    _require(scene, (green_name, nir_name), "its NDWI water mask")
    gsd = scene.gsd_m
    green, nir = scene.band(green_name), scene.band(nir_name)
    present = [b for b in bright_names if b in scene.bands]
    bright = np.mean(np.stack([scene.band(b) for b in present]), axis=0).astype(np.float32)
    valid = np.isfinite(green) & np.isfinite(nir) & np.isfinite(bright)
    scl = scene.band("SCL") if "SCL" in scene.bands else None
    given_back: BoolArray | None = None
    if scl is not None:
        valid &= ~np.isin(scl, SCL_INVALID)
        cloud = scl_not_clear(scl, gsd, p.cloud_classes)
        given_back = np.isin(scl, p.cloud_classes) & ~cloud
        buffer_px = round(p.cloud_buffer_m / gsd)
        if cloud.any() and buffer_px > 0:
            cloud = ndimage.binary_dilation(cloud, structure=_EIGHT, iterations=buffer_px)
        valid &= ~cloud
    water = optical_water_mask(
        green, nir, valid, gsd, scl=scl, ndwi_threshold=p.ndwi_threshold, smooth_m=p.water_smooth_m,
        median_m=p.water_median_m, open_m=p.water_open_m, min_water_area_m2=p.min_water_area_m2,
        max_hole_m2=p.max_hole_m2, shore_buffer_m=p.shore_buffer_m,
    )
    if not water.any():
        return []
    x = np.where(valid, bright, np.float32(0.0)).astype(np.float32)
    guard = odd_pixels(p.guard_window_m, gsd)
    background = max(odd_pixels(p.background_window_m, gsd), guard + 2)
    min_count = p.min_background_fraction * (background**2 - guard**2)
    mean, std, ok = _censored_stats(x, water, guard, background, p.k_core, min_count, p.sigma_floor)
    with np.errstate(invalid="ignore"):
        excess = np.where(ok, x - mean, np.float32(0.0)).astype(np.float32)
        z = np.where(ok, excess / std, np.float32(-np.inf)).astype(np.float32)
    core = ok & (z > p.k_core) & (excess > p.min_contrast)
    red_name = bright_names[0]
    if red_name in scene.bands:
        red = scene.band(red_name)
        with np.errstate(divide="ignore", invalid="ignore"):
            core &= ~((nir - red) / (nir + red) >= p.max_ndvi)
    extent = ok & (z > p.k_extent) & (excess > p.min_contrast / 2.0)
    comps = measure_components(
        extent, core, z, ground_axes_m(scene), weights=np.maximum(excess, np.float32(0.0)), saturate=p.moment_quantile,
        trim=p.trim, psf_sigma_m=p.psf_sigma_m, exclude=_rim(ok) if p.drop_rim else None,
    )
    scores = _logistic(comps.peak, 2.0 * p.k_core, 0.5 * p.k_core)
    records = _records(comps, scores, p.min_pixels, p.min_length_m, p.max_length_m, p.max_width_m)
    if given_back is not None and given_back.any():
        records = [r for r in records if not _round_on(given_back, r, p.hull_min_elongation)]
    return records


def _round_on(mask: BoolArray, record: Detection, min_elongation: float) -> bool:
    """Whether ``record`` is centred on ``mask`` and less elongated than ``min_elongation`` (length / width)."""
    col, row = record.centre
    r, c = min(int(row), mask.shape[0] - 1), min(int(col), mask.shape[1] - 1)
    return bool(mask[r, c]) and record.length_m < min_elongation * record.width_m


@dataclass(frozen=True)
class BaselineDetector:
    """The classical baseline: CFAR on Sentinel-1, NDWI + local contrast on Sentinel-2 and VHR; vessels only.

    Example:
        >>> detections = BaselineDetector().detect(read_scene("scene.tif"))  # doctest: +SKIP
    """

    sar: SarParams = field(default_factory=SarParams)
    """Settings for Sentinel-1 scenes."""
    optical: OpticalParams = field(default_factory=OpticalParams)
    """Settings for Sentinel-2 and VHR scenes."""

    name: ClassVar[str] = "baseline-cfar-1"
    """Name and version written to every detection's ``detector`` column."""
    classes: ClassVar[tuple[str, ...]] = ("vessel",)
    """Classes this detector reports."""

    def find(self, scene: Scene) -> list[Detection]:
        """Vessel records of ``scene`` in pixel space (``detect`` places them on the map)."""
        if scene.meta.sensor == "s1":
            return detect_sar(scene, self.sar)
        if scene.meta.sensor in _OPTICAL_BANDS:
            return detect_optical(scene, self.optical)
        raise DetectionError(
            f"scene {scene.meta.scene_id} is {scene.meta.sensor}; the baseline detector handles s1, s2 and vhr"
        )

    def detect(self, scene: Scene) -> gpd.GeoDataFrame:
        """Detect vessels in ``scene``: the detections contract (EPSG:4326, one Point per vessel)."""
        return detections_from_records(self.find(scene), scene, detector=self.name)
