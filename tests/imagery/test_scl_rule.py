"""The Sentinel-2 "not clear" rule: ship-sized cloud blobs on water (bright hulls SCL took for cloud) are clear;
and the simulator marks bright hulls as cloud at its documented rate, their truth visible."""

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from satwatch.aoi import load_catalog
from satwatch.imagery.bands import (
    HULL_CLEAR_OF_BANK_M,
    HULL_RING_WATER_SHARE,
    SCL_NOT_CLEAR,
    hull_bank_px,
    hull_blob_max_pixels,
    hull_ring_px,
    scl_not_clear,
)
from satwatch.imagery.scenario import Activity, Scenario
from satwatch.imagery.simulated import (
    BRIGHT_HULL_MIN_LENGTH_M,
    BRIGHT_HULL_RATE,
    BRIGHT_HULL_SCL,
    render,
)

WATER, LAND, SHADOW, CLOUD = 6.0, 5.0, 3.0, 9.0


def _sea(h: int = 100, w: int = 100) -> np.ndarray:
    return np.full((h, w), WATER, dtype=np.float32)


def test_bounds_at_10_and_20_m() -> None:
    assert hull_blob_max_pixels(10.0) == 484  # (400 + 40) x (70 + 40) m
    assert hull_blob_max_pixels(20.0) == 121
    assert hull_ring_px(10.0) == 3 and hull_ring_px(20.0) == 2 and hull_ring_px(60.0) == 2
    assert HULL_RING_WATER_SHARE == 0.5
    with pytest.raises(ValueError, match="positive"):
        scl_not_clear(_sea(), 0.0)
    with pytest.raises(ValueError, match="2-D"):
        scl_not_clear(_sea()[None], 10.0)


def test_hull_sized_blob_in_water_is_clear() -> None:
    scl = _sea()
    scl[40:45, 30:50] = CLOUD  # 5 x 20 px: a 50 m x 200 m white hull
    assert not scl_not_clear(scl, 10.0).any()
    scl[40:45, 30:50] = 8.0  # medium probability and cirrus too
    scl[42, 35:40] = 10.0
    assert not scl_not_clear(scl, 10.0).any()


def test_large_cloud_is_not_clear() -> None:
    scl = _sea(300, 300)
    scl[50:250, 50:250] = CLOUD
    nc = scl_not_clear(scl, 10.0)
    assert nc[50:250, 50:250].all() and nc.sum() == 200 * 200


def test_area_bound_is_inclusive() -> None:
    scl = _sea()
    scl[20:42, 20:42] = CLOUD  # 22 x 22 = 484 px: the largest ship at 10 m
    assert not scl_not_clear(scl, 10.0).any()
    scl[42, 20] = CLOUD  # 485 px
    assert scl_not_clear(scl, 10.0)[20:43, 20:42].sum() == 485
    # at 20 m the same 484 px is 0.19 km2: a cloud
    assert scl_not_clear(scl, 20.0).sum() == 485


def test_small_cloud_over_land_or_coast_is_not_clear() -> None:
    scl = _sea()
    scl[:, :50] = LAND
    scl[40:45, 20:40] = CLOUD  # over land
    scl[70:75, 40:54] = CLOUD  # on the coast, mostly over land: ring under half water
    nc = scl_not_clear(scl, 10.0)
    assert nc[40:45, 20:40].all() and nc[70:75, 40:54].all()


def test_berthed_hull_stays_clear_but_a_hull_in_a_dock_does_not() -> None:
    scl = _sea()
    scl[:, :30] = LAND
    scl[40:46, 30:60] = CLOUD  # alongside a quay: land on one long side, water on three sides
    assert not scl_not_clear(scl, 10.0)[40:46, 30:60].any()
    dock = _sea()
    dock[:, :30] = LAND
    dock[38:40, 30:80] = LAND  # pier above
    dock[46:48, 30:80] = LAND  # pier below
    dock[40:46, 30:60] = CLOUD  # in the slip between them
    assert scl_not_clear(dock, 10.0)[40:46, 30:60].all()


def test_ring_of_nodata_or_cloud_does_not_count_as_water() -> None:
    scl = _sea()
    scl[30:70, 30:70] = 0.0  # no data
    scl[45:50, 40:60] = CLOUD
    assert scl_not_clear(scl, 10.0)[45:50, 40:60].all()
    nan = _sea()
    nan[30:70, 30:70] = np.nan
    nan[45:50, 40:60] = CLOUD
    assert scl_not_clear(nan, 10.0)[45:50, 40:60].all()
    # a small blob in a gap of a cloud bank: its ring is mostly (another blob's) cloud
    bank = _sea()
    bank[20:80, 20:80] = CLOUD
    bank[48:52, 38:62] = WATER  # one pixel of water around it, then the bank
    bank[49:51, 40:60] = CLOUD
    assert scl_not_clear(bank, 10.0)[49:51, 40:60].all()


def test_blob_near_a_cloud_bank_is_not_clear() -> None:
    assert hull_bank_px(10.0) == 30 and HULL_CLEAR_OF_BANK_M == 300.0
    scl = _sea(200, 200)
    scl[100:200, 100:200] = CLOUD  # a bank cut by the border
    scl[60:65, 60:80] = CLOUD  # 350 m away: a hull
    scl[80:85, 60:80] = CLOUD  # 150 m away: a fragment of the bank
    nc = scl_not_clear(scl, 10.0)
    assert not nc[60:65, 60:80].any() and nc[80:85, 60:80].all() and nc[100:, 100:].all()
    scl[20:30, 150:160] = SHADOW  # shadow is no bank
    scl[15:20, 150:170] = CLOUD
    assert not scl_not_clear(scl, 10.0)[15:20, 150:170].any()


def test_shadow_next_to_a_hull_blob_stays_not_clear() -> None:
    scl = _sea()
    scl[40:45, 30:50] = CLOUD
    scl[45:47, 32:52] = SHADOW  # touching it
    nc = scl_not_clear(scl, 10.0)
    assert not nc[40:45, 30:50].any() and nc[45:47, 32:52].all()
    # a detector that searches shadow and cirrus passes fewer classes
    assert not scl_not_clear(scl, 10.0, classes=(8.0, 9.0)).any()
    assert SCL_NOT_CLEAR == (3.0, 8.0, 9.0, 10.0)


def test_blob_on_a_tile_edge_is_judged_where_it_is_whole() -> None:
    scl = _sea(200, 700)
    scl[100:105, 452:476] = CLOUD  # a hull in the overlap (448..511) of two 512 px tiles overlapping by 64 px
    assert not scl_not_clear(scl, 10.0).any()  # the whole scene
    first, second = scl[:, :512], scl[:, 448:]  # the CNN's tiles: columns 0..511 and 448..699
    assert not scl_not_clear(first, 10.0).any()  # whole inside the first tile
    assert not scl_not_clear(second, 10.0).any()  # and inside the second
    cut = scl[:, :460]  # a tile ending inside the blob: its size is unknown there
    assert scl_not_clear(cut, 10.0)[100:105, 452:460].all()
    # a big cloud cut by a tile border to a ship-sized sliver stays not clear
    big = _sea(200, 700)
    big[50:150, 450:690] = CLOUD
    assert scl_not_clear(big[:, :455], 10.0)[50:150, 450:455].all()


def test_two_hulls_side_by_side_and_integer_codes() -> None:
    scl = _sea().astype(np.uint8)
    scl[40:45, 30:50] = 9
    scl[47:52, 30:50] = 8  # two pixels of water between them
    scl[80:90, 80:90] = 3
    nc = scl_not_clear(scl, 10.0)
    assert not nc[40:52, 30:50].any() and nc[80:90, 80:90].all()


# ----------------------------------------------------------------------------------------------------------------
# The simulator's bright hulls
# ----------------------------------------------------------------------------------------------------------------

T0, T1 = date(2024, 9, 1), date(2024, 10, 31)


def test_simulator_marks_bright_hulls_at_its_rate_and_they_stay_visible() -> None:
    aoi = load_catalog()["ru_dunai"]
    scen = Scenario(name="bright-hulls", aois=("ru_dunai",), start=T0, end=T1, seed=11, cloud_cover=0.0,
                    sensors=("s2",), revisit_days={"s2": 5, "s1": 12}, activity=(
        Activity(aoi="ru_dunai", cls="vessel", where="anchor", steps=((T0, 12.0),), length_m=(70.0, 200.0)),
        Activity(aoi="ru_dunai", cls="vessel", where="moving", steps=((T0, 4.0),), length_m=(60.0, 150.0))))
    dates = scen.acquisitions(aoi, "s2")[:6]
    marked = eligible = 0
    for when in dates:
        r = render(aoi, when, "s2", scen)
        scl = r.scene.data[6]
        bright = set(r.properties["satwatch:bright_hulls"])
        nc = scl_not_clear(scl, 10.0)
        vessels = r.truth[r.truth["class"] == "vessel"]
        assert bright <= set(vessels["object_id"])
        long_enough = vessels[vessels["length_m"] >= BRIGHT_HULL_MIN_LENGTH_M]
        eligible += len(long_enough)  # clear sky, open water: every one of them can be drawn
        marked += len(bright)
        for row in vessels.itertuples():
            if row.object_id in bright:
                assert row.visible  # the truth stays visible ...
                x, y = _pixel(r, row.geometry.x, row.geometry.y)
                hull = scl[y - 1:y + 2, x - 1:x + 2]
                assert (hull == BRIGHT_HULL_SCL).any()  # ... though SCL says cloud at the hull ...
                assert not nc[y - 1:y + 2, x - 1:x + 2].any()  # ... which the rule gives back as clear
        assert r.properties["eo:cloud_cover"] == 0.0
    assert eligible >= 80
    rate = marked / eligible
    assert 0.5 * BRIGHT_HULL_RATE <= rate <= 1.8 * BRIGHT_HULL_RATE, rate
    hit = next(t for t in dates if render(aoi, t, "s2", scen).properties["satwatch:bright_hulls"])
    a, b = render(aoi, hit, "s2", scen), render(aoi, hit, "s2", scen)  # deterministic from the scene seed
    assert a.properties["satwatch:bright_hulls"] == b.properties["satwatch:bright_hulls"]
    assert np.array_equal(a.scene.data, b.scene.data)
    other = render(aoi, hit, "s2", replace(scen, seed=12)).properties["satwatch:bright_hulls"]
    assert other != a.properties["satwatch:bright_hulls"]


def _pixel(r, lon: float, lat: float) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, r.scene.crs, always_xy=True).transform(lon, lat)
    col, row = ~r.scene.transform @ (x, y)
    return int(col), int(row)
