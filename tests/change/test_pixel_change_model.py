"""The Sentinel-2 seasonal change model on small synthetic feature stacks, one mechanism per test.

Each stack is ``(acquisitions, 3, H, W)`` of NDVI, NDBI and LNVIS on a 10 m grid. Land covers start from
typical values; the season moves each cover by its own amount on each date (``season``), as real senescence
does; pixel noise is 0.005. Every test also states what a plain composite comparison would have done.
"""

from datetime import datetime, timedelta

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from satwatch.change.pixel_change import S2_FEATURES, FeatureStack, s2_seasonal_change

# NDVI, NDBI, LNVIS at full greenness, and the change per unit of senescence (1 - greenness), per cover
COVERS = {
    "forest": ((0.84, -0.33, np.log(0.032)), (-0.30, 0.30, 0.40)),
    "grass": ((0.69, -0.12, np.log(0.053)), (-0.60, 0.40, 0.60)),
    "soil": ((0.22, 0.175, np.log(0.107)), (0.0, 0.0, 0.0)),
}
BASE_G = (1.0, 1.0, 0.95, 0.9)
TEST_G = (0.7, 0.5, 0.35, 0.25)


def covers(h: int, w: int) -> np.ndarray:
    """Three vertical bands of forest, grass and soil."""
    names = np.empty((h, w), dtype=object)
    names[:, : w // 3], names[:, w // 3: 2 * w // 3], names[:, 2 * w // 3:] = "forest", "grass", "soil"
    return names


def stack(cover: np.ndarray, greenness: tuple[float, ...], seed: int, gain: np.ndarray | None = None) -> FeatureStack:
    """Features of each date; ``gain`` ``(H, W)`` scales the season per pixel (1 when None)."""
    rng = np.random.default_rng(seed)
    h, w = cover.shape
    data = np.empty((len(greenness), 3, h, w), dtype=np.float32)
    g_field = np.ones((h, w)) if gain is None else gain
    for s, g in enumerate(greenness):
        for name, (start, shift) in COVERS.items():
            sel = cover == name
            for f in range(3):
                data[s, f][sel] = start[f] + shift[f] * (1 - g) * g_field[sel]
    data += rng.normal(0, 0.005, data.shape).astype(np.float32)
    t0 = datetime(2024, 9, 1)
    return FeatureStack(data=data, crs=CRS.from_epsg(32653), transform=Affine(10, 0, 500_000, 0, -10, 4_800_000),
                        acquired=tuple(t0 + timedelta(days=10 * i) for i in range(len(greenness))), simulated=True)


def test_feature_order() -> None:
    assert S2_FEATURES == ("NDVI", "NDBI", "LNVIS")


def test_each_land_cover_keeps_its_own_season_and_compact_disturbances_are_found() -> None:
    """A global robust z-score (the AOI's median change) flags the forest or the soil band whole."""
    cover = covers(240, 240)
    base, test = stack(cover, BASE_G, 1), stack(cover, TEST_G, 2)
    camp = (slice(100, 116), slice(100, 116))  # 16 x 16 px in the grass: compacted ground and tents
    test.data[:, :, camp[0], camp[1]] = np.array([0.17, 0.16, np.log(0.13)], dtype=np.float32)[:, None, None]
    roofs = (slice(30, 45), slice(200, 215))  # 15 x 15 px on the soil: bright new roofs, NDVI barely moves
    test.data[:, 2, roofs[0], roofs[1]] += 0.6
    out = s2_seasonal_change(base, test)
    expected = np.zeros(cover.shape, dtype=bool)
    expected[camp] = expected[roofs] = True
    assert out.assessed.all()
    assert out.mask[expected].mean() > 0.95
    assert not out.mask[~expected].any()
    assert out.residual[0][camp].mean() < -0.15  # NDVI below the senesced grass


def test_cloud_gaps_do_not_move_a_pixel_along_the_season() -> None:
    """A block seen only on the two earliest test dates: its median composite sits earlier in the season than
    its neighbours' (NDVI +0.1, NDBI -0.07, LNVIS -0.1: score ~5.5), yet nothing changed on the ground."""
    cover = covers(240, 240)
    base, test = stack(cover, BASE_G, 3), stack(cover, TEST_G, 4)
    block = (slice(60, 100), slice(90, 130))  # in the grass
    test.data[2:, :, block[0], block[1]] = np.nan
    out = s2_seasonal_change(base, test, background_m=0.0)
    assert out.assessed[block].all() and (out.clear[block] == 2).all()
    assert not out.mask.any()
    assert np.nanmax(out.score[block]) < 2.0


def test_smooth_regional_phenology_is_absorbed_by_the_local_background() -> None:
    """Summer grass everywhere; in autumn the east senesces up to 1.8x as fast as the west, the rate rising over
    1.5 km (a valley against a ridge): the AOI-wide seasonal model leaves the east ~0.25 NDVI short. The local
    background absorbs that broad shift, not a compact disturbance inside it."""
    h, w = 300, 600
    cover = np.full((h, w), "grass", dtype=object)
    gain = np.broadcast_to(1.0 + 0.8 * np.clip((np.arange(w) - 350) / 150, 0, 1), (h, w))
    base, test = stack(cover, (1.0,) * 4, 5, gain), stack(cover, TEST_G, 6, gain)
    plot = (slice(200, 215), slice(520, 535))  # in the fast-senescing east
    test.data[:, 0, plot[0], plot[1]] -= 0.3
    test.data[:, 1, plot[0], plot[1]] += 0.2
    without = s2_seasonal_change(base, test, background_m=0.0)
    assert without.mask[:, 500:].mean() > 0.9  # the whole east
    expected = np.zeros(cover.shape, dtype=bool)
    expected[plot] = True
    for background_m in (1000.0, 2000.0):
        out = s2_seasonal_change(base, test, background_m=background_m)
        assert out.mask[expected].mean() > 0.95
        assert not out.mask[~expected].any()


@pytest.mark.parametrize(("dates_changed", "reported"), [(1, False), (2, True)])
def test_a_change_must_persist_over_the_test_window(dates_changed: int, reported: bool) -> None:
    """Two test acquisitions: a plot changed on one of them has a median (mean of two) residual of half the
    change, z ~ 8, which a median-only rule reports; the persistence rule wants it on both."""
    cover = covers(240, 240)
    base, test = stack(cover, BASE_G, 7), stack(cover, TEST_G[:2], 8)
    plot = (slice(100, 116), slice(20, 36))  # in the forest
    test.data[:dates_changed, 0, plot[0], plot[1]] -= 0.4
    out = s2_seasonal_change(base, test)
    assert np.nanmin(out.score[plot]) > 4.0
    assert bool(out.mask[plot].all()) is reported
    assert not out.mask[:, 60:].any()


def test_region_limits_the_model_and_the_report() -> None:
    cover = covers(120, 120)
    base, test = stack(cover, BASE_G, 9), stack(cover, TEST_G, 10)
    test.data[:, 0, 10:26, 40:56] -= 0.4
    inside = np.zeros(cover.shape, dtype=bool)
    inside[:, 60:] = True
    out = s2_seasonal_change(base, test, inside)
    assert not out.assessed[:, :60].any() and not out.mask.any()
    assert np.isnan(out.residual[:, :, :60]).all()
