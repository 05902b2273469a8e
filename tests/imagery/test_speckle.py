"""Sentinel-1 speckle: multi-looked, correlated over about two pixels, as measured on real GRD sea."""

import numpy as np
import pytest

from satwatch.imagery.speckle import SPECKLE_LOOKS, correlated_speckle, intensity_autocorrelation


def test_speckle_has_mean_one_the_looks_variance_and_the_real_grain() -> None:
    s = correlated_speckle((2, 600, 600), np.random.default_rng(3))
    assert s.dtype == np.float32 and s.shape == (2, 600, 600) and (s > 0).all()
    for band in s:
        assert band.mean() == pytest.approx(1.0, abs=0.02)
        assert band.var() == pytest.approx(1.0 / SPECKLE_LOOKS, rel=0.08)
        # Real OpenSARShip sea: 0.64 at one pixel, 0.17 at two (scripts/s1_clutter_stats.py).
        for r in intensity_autocorrelation(band, lag=1):
            assert r == pytest.approx(0.64, abs=0.04)
        for r in intensity_autocorrelation(band, lag=2):
            assert r == pytest.approx(0.17, abs=0.04)
    # Bands are independent.
    assert abs(np.corrcoef(s[0].ravel(), s[1].ravel())[0, 1]) < 0.03


def test_uncorrelated_speckle_and_looks_are_honoured() -> None:
    s = correlated_speckle((400, 400), np.random.default_rng(0), looks=1, sigma_px=0.0)
    assert s.shape == (400, 400)
    assert s.var() == pytest.approx(1.0, rel=0.1)  # exponential intensity: one look
    assert abs(intensity_autocorrelation(s)[0]) < 0.03
    a = correlated_speckle((50, 50), np.random.default_rng(7))
    assert np.array_equal(a, correlated_speckle((50, 50), np.random.default_rng(7)))
    with pytest.raises(ValueError, match="looks"):
        correlated_speckle((5, 5), np.random.default_rng(0), looks=0)
