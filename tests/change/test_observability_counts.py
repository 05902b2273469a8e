import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from shapely.geometry import Point, box

from satwatch.aoi import project_geometry, validate_aoi
from satwatch.change.counts import COUNT_COLUMNS, count_table
from satwatch.change.observability import observe
from tests.conftest import make_scene


def _aoi_covering_left_half(scene):  # type: ignore[no-untyped-def]
    x0, y0 = scene.transform.c, scene.transform.f
    w = scene.width * scene.transform.a
    h = scene.height * scene.transform.e
    half = box(x0, y0 + h, x0 + w / 2, y0)
    return validate_aoi("half", project_geometry(half, scene.crs, 4326), {}, "test")


def test_clear_scene_fully_observed() -> None:
    scene = make_scene("s2", height=100, width=100)
    obs = observe(scene, _aoi_covering_left_half(scene))
    assert obs.valid_fraction == pytest.approx(1.0, abs=0.03)
    assert obs.cloud_fraction == 0.0
    assert obs.observed_fraction == pytest.approx(1.0, abs=0.03)
    assert obs.min_object_length_m == pytest.approx(25.0, abs=0.1)


def test_cloud_and_nodata_reduce_observed_fraction() -> None:
    scene = make_scene("s2", height=100, width=100)
    scl = scene.bands.index("SCL")
    scene.data[scl, :25, :] = 9.0  # cloud over the top quarter
    scene.data[:, 75:, :] = np.nan  # no data over the bottom quarter
    obs = observe(scene, _aoi_covering_left_half(scene))
    assert obs.valid_fraction == pytest.approx(0.75, abs=0.03)
    assert obs.cloud_fraction == pytest.approx(1 / 3, abs=0.03)
    assert obs.observed_fraction == pytest.approx(0.5, abs=0.03)


def test_aoi_partly_outside_scene_is_not_observed_there() -> None:
    scene = make_scene("s1", height=100, width=100)
    shifted = make_scene("s1", height=100, width=100)
    moved = type(shifted)(data=shifted.data, bands=shifted.bands, crs=shifted.crs,
                          transform=Affine(10, 0, shifted.transform.c + 500, 0, -10, shifted.transform.f),
                          meta=shifted.meta)
    obs = observe(moved, _aoi_covering_left_half(scene))
    assert obs.observed_fraction == pytest.approx(0.0, abs=0.03)
    assert obs.cloud_fraction == 0.0


def test_count_table_has_zero_rows_and_areas() -> None:
    a = make_scene("s2", height=50, width=50)
    b = make_scene("s2", height=50, width=50).with_meta(scene_id="other")
    aoi = _aoi_covering_left_half(a)
    obs = [observe(a, aoi), observe(b, aoi)]
    det = gpd.GeoDataFrame(
        {"scene_id": [a.meta.scene_id] * 3, "class": ["vessel", "vessel", "encampment"],
         "area_m2": [np.nan, np.nan, 1200.0]},
        geometry=[Point(0, 0), Point(0, 1), box(0, 0, 1, 1)], crs=4326,
    )
    table = count_table(det, obs, ["vessel", "encampment"], simulated=True)
    assert list(table.columns) == list(COUNT_COLUMNS)
    assert len(table) == 4
    got = {(r.scene_id, r["class"]): (r["count"], r.area_m2) for _, r in table.iterrows()}
    assert got[(a.meta.scene_id, "vessel")] == (2, 0.0)
    assert got[(a.meta.scene_id, "encampment")] == (1, 1200.0)
    assert got[("other", "vessel")] == (0, 0.0)
    assert table["simulated"].all()


def test_observed_water_and_land_area() -> None:
    scene = make_scene("s2", height=100, width=100)  # 1 km x 1 km at 10 m
    b = {name: i for i, name in enumerate(scene.bands)}
    scene.data[:, :, :] = 0.05
    scene.data[b["B03"], :, :50], scene.data[b["B08"], :, :50] = 0.08, 0.02  # water: NDWI 0.6
    scene.data[b["B03"], :, 50:], scene.data[b["B08"], :, 50:] = 0.06, 0.30  # vegetation: NDWI -0.67
    scene.data[b["SCL"], :, :50], scene.data[b["SCL"], :, 50:] = 6.0, 4.0
    x0, y0 = scene.transform.c, scene.transform.f
    whole = validate_aoi("whole", project_geometry(box(x0, y0 - 1000, x0 + 1000, y0), scene.crs, 4326), {}, "t")
    obs = observe(scene, whole)
    # half the square kilometre is water, less the detector's 20 m shore buffer
    assert obs.observed_water_km2 == pytest.approx(0.48, abs=0.03)
    assert obs.observed_water_km2 + obs.observed_land_km2 == pytest.approx(1.0, abs=0.02)
    table = count_table(gpd.GeoDataFrame({"scene_id": [scene.meta.scene_id] * 2, "class": ["vessel"] * 2,
                                          "area_m2": [np.nan] * 2}, geometry=[Point(0, 0)] * 2, crs=4326),
                        [obs], ["vessel"], simulated=True)
    assert table["per_km2"].iloc[0] == pytest.approx(2 / obs.observed_water_km2, rel=1e-3)


def test_scene_without_water_bands_has_unknown_water_area() -> None:
    scene = make_scene("vhr", height=200, width=200, gsd=1.0)
    scene = type(scene)(data=scene.data[:3], bands=("R", "G", "B"), crs=scene.crs, transform=scene.transform,
                        meta=scene.meta)
    obs = observe(scene, _aoi_covering_left_half(scene))
    assert np.isnan(obs.observed_water_km2) and np.isnan(obs.observed_land_km2)


def test_sentinel1_berth_zone_is_the_water_within_60_m_of_a_coast() -> None:
    rng = np.random.default_rng(0)
    coast = make_scene("s1", height=200, width=200)  # 2 km x 2 km at 10 m: sea on the left, land on the right
    coast.data[0] = np.where(np.arange(200)[None, :] < 100, -22.0, -6.0) + rng.normal(0, 1.0, (200, 200))
    coast.data[1] = coast.data[0] - 7.0
    x0, y0 = coast.transform.c, coast.transform.f
    whole = validate_aoi("whole", project_geometry(box(x0, y0 - 2000, x0 + 2000, y0), coast.crs, 4326), {}, "t")
    obs = observe(coast, whole)
    # a 60 m strip (plus the pixel the zone's edge rounds to) along 2 km of coast
    assert obs.observed_berth_km2 == pytest.approx(0.13, abs=0.02)
    assert obs.observed_berth_km2 < obs.observed_water_km2
    sea = make_scene("s1", height=200, width=200)
    sea.data[0] = -20.0 + rng.normal(0, 1.0, (200, 200))
    sea.data[1] = sea.data[0] - 7.0
    assert observe(sea, whole).observed_berth_km2 == 0.0  # open sea: no coast, no berth
    table = count_table(gpd.GeoDataFrame({"scene_id": [], "class": [], "area_m2": []}, geometry=[], crs=4326),
                        [obs], ["vessel"], simulated=True)
    assert table["observed_berth_km2"].iloc[0] == obs.observed_berth_km2
    optical = make_scene("s2", height=100, width=100)
    seen = observe(optical, _aoi_covering_left_half(optical))
    assert seen.observed_berth_km2 == 0.0 and seen == observe(optical, _aoi_covering_left_half(optical))


def test_sar_berths_are_computed_once_per_scene(monkeypatch: pytest.MonkeyPatch) -> None:
    """cnn-cfar and observability ask for the same water and berth masks of a scene: computed once, shared."""
    from dataclasses import replace

    import satwatch.detection.models.baseline as baseline

    calls = []
    real = baseline._sar_berths
    monkeypatch.setattr(baseline, "_sar_berths", lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(1)
    coast = make_scene("s1", height=120, width=120)
    coast.data[0] = np.where(np.arange(120)[None, :] < 60, -22.0, -6.0) + rng.normal(0, 1.0, (120, 120))
    coast.data[1] = coast.data[0] - 7.0
    valid = np.isfinite(coast.band("VV"))
    water, berth = baseline.sar_berths(coast, valid, baseline.SarParams())
    again = baseline.sar_berths(coast, valid.copy(), baseline.SarParams())
    assert len(calls) == 1 and again[0] is water and again[1] is berth and berth.any()
    assert not berth.flags.writeable  # shared: no caller may change it
    x0, y0 = coast.transform.c, coast.transform.f
    whole = validate_aoi("whole", project_geometry(box(x0, y0 - 1200, x0 + 1200, y0), coast.crs, 4326), {}, "t")
    assert observe(coast, whole).observed_berth_km2 > 0 and len(calls) == 1  # observability reuses them
    holed = valid.copy()
    holed[:10] = False
    baseline.sar_berths(coast, holed, baseline.SarParams())  # another valid mask: computed again
    baseline.sar_berths(replace(coast), valid, baseline.SarParams())  # another scene object: its own memo
    assert len(calls) == 3
