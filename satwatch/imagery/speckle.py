"""Sentinel-1 GRD speckle as the sensor makes it: multi-looked and correlated between neighbouring pixels.

An IW GRDH pixel is 10 m but the resolution is about 20 x 22 m, so neighbouring pixels share scatterers and the
speckle comes in grains of about two pixels. Measured on the real sea of OpenSARShip chips (sea pixels away
from the labelled ship, linear VV; ``scripts/s1_clutter_stats.py``): intensity autocorrelation 0.64 at one
pixel and 0.17 at two, in rows and columns alike, for all three packages. Independent per-pixel gamma draws
(what the simulator used up to version 4) have none: their grains are one pixel, which a detector learns to
ignore and then meets, twice the size, on real sea.

Model: each look is the intensity of a circular complex Gaussian field smoothed by a Gaussian kernel of
:data:`SPECKLE_FIELD_SIGMA_PX`, so its intensity autocorrelation at lag ``d`` pixels is
``exp(-d**2 / (2 * sigma**2))`` (0.64 at 1 px, 0.17 at 2 px for sigma 1.06 px); ``looks`` independent looks are
averaged, giving a gamma marginal with ``looks`` equivalent looks and mean 1.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import ndimage

__all__ = ["SPECKLE_FIELD_SIGMA_PX", "SPECKLE_LOOKS", "correlated_speckle", "intensity_autocorrelation"]

SPECKLE_FIELD_SIGMA_PX = 1.06
"""Standard deviation, pixels, of the Gaussian kernel that smooths each look's complex field. Chosen so the
intensity autocorrelation is 0.64 at a lag of one pixel (``exp(-1 / (2 sigma**2))``), as measured on the real
sea of the OpenSARShip training package (2016-01-31, median of 66 chips; the other two packages agree)."""
SPECKLE_LOOKS = 4
"""Equivalent number of looks of simulated IW GRDH speckle (ESA's nominal ENL is 4.4; the real chips' sea,
texture included, measures 3.3-4.5 median per package)."""


def _field_variance(sigma_px: float) -> float:
    """Variance of white unit-variance noise after ``ndimage.gaussian_filter`` with ``sigma_px`` (2-D)."""
    delta = np.zeros(8 * math.ceil(sigma_px) + 9)
    delta[len(delta) // 2] = 1.0
    kernel = ndimage.gaussian_filter1d(delta, sigma_px, mode="constant")
    return float(np.sum(kernel**2)) ** 2


def correlated_speckle(shape: tuple[int, ...], rng: np.random.Generator, looks: int = SPECKLE_LOOKS,
                       sigma_px: float = SPECKLE_FIELD_SIGMA_PX) -> npt.NDArray[np.float32]:
    """Return multiplicative speckle of mean 1, correlated over about two pixels, for linear sigma0.

    Args:
        shape: ``(H, W)`` or ``(bands, H, W)``; bands get independent speckle.
        rng: the generator every draw comes from (the same generator state gives the same array).
        looks: equivalent number of looks, >= 1 (the marginal is gamma with this shape and mean 1).
        sigma_px: Gaussian smoothing of each look's complex field, pixels (0: independent pixels).

    Returns:
        float32 array of ``shape``, mean 1, variance ``1 / looks``; intensity autocorrelation
        ``exp(-d**2 / (2 sigma_px**2))`` at lag ``d`` pixels along rows and columns.
    """
    if looks < 1:
        raise ValueError(f"looks must be >= 1, not {looks}")
    planes = (1, *shape) if len(shape) == 2 else shape
    out = np.zeros(planes, dtype=np.float32)
    norm = 2.0 * (_field_variance(sigma_px) if sigma_px > 0 else 1.0)
    for band in range(planes[0]):
        for _ in range(looks):
            re = rng.standard_normal(planes[1:], dtype=np.float32)
            im = rng.standard_normal(planes[1:], dtype=np.float32)
            if sigma_px > 0:
                re = ndimage.gaussian_filter(re, sigma_px, mode="wrap")
                im = ndimage.gaussian_filter(im, sigma_px, mode="wrap")
            out[band] += (re * re + im * im) / np.float32(norm)
    out /= np.float32(looks)
    return out.reshape(shape)


def intensity_autocorrelation(intensity: npt.NDArray[np.floating], ok: npt.NDArray[np.bool_] | None = None,
                              lag: int = 1) -> tuple[float, float]:
    """Pearson correlation of linear intensity with its neighbour ``lag`` pixels away, along rows and columns.

    Args:
        intensity: ``(H, W)`` linear power.
        ok: ``(H, W)`` pixels to use (both of a pair must be ok); None: all finite pixels.
        lag: distance, pixels.

    Returns:
        ``(along_columns, along_rows)``: correlation with the pixel ``lag`` to the right, and ``lag`` below.
    """
    a = np.asarray(intensity, dtype=np.float64)
    ok = np.isfinite(a) if ok is None else ok & np.isfinite(a)
    def corr(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], o: npt.NDArray[np.bool_]) -> float:
        return float(np.corrcoef(x[o], y[o])[0, 1])

    return (corr(a[:, :-lag], a[:, lag:], ok[:, :-lag] & ok[:, lag:]), corr(a[:-lag], a[lag:], ok[:-lag] & ok[lag:]))
