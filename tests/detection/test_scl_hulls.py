"""Bright hulls that Sentinel-2 SCL marks as cloud: searched by the CNN and the baseline, observed by the
observed fraction (the rule is :func:`satwatch.imagery.bands.scl_not_clear`)."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from pyproj import Geod
from shapely.geometry import box

from satwatch.aoi import load_catalog, project_geometry, validate_aoi
from satwatch.change.observability import observe
from satwatch.detection.models.baseline import OpticalParams, detect_optical
from satwatch.detection.profiles import PROFILES, model_input
from satwatch.imagery.scenario import Activity, Scenario
from satwatch.imagery.scene import Scene
from satwatch.imagery.simulated import render
from tests.detection._synthetic import FLEET, coverage, land_columns, optical_scene

SHAPE = (300, 300)
LAND = land_columns(SHAPE, 80)
REPO = Path(__file__).resolve().parents[2]


def _mark_hulls_as_cloud(scene: Scene, ships: tuple[int, ...], scl_class: float = 9.0) -> Scene:
    """SCL of the hull pixels (coverage above one half) of ``FLEET[i]`` for i in ``ships`` set to cloud."""
    scl = scene.bands.index("SCL")
    for i in ships:
        hull = coverage(SHAPE, [FLEET[i]], 10.0) > 0.5
        assert hull.sum() >= 4
        scene.data[scl][hull] = scl_class
    return scene


def _nearest_px(records: list, row: float, col: float) -> float:  # type: ignore[type-arg]
    return min((math.hypot(r.centre[0] - col, r.centre[1] - row) for r in records), default=math.inf)


def test_model_input_keeps_a_hull_blob_valid() -> None:
    prof = PROFILES["s2"]
    names = ("B02", "B03", "B04", "B08", "B11", "SCL")
    data = np.full((6, 200, 200), 0.03, dtype=np.float32)
    scl = data[5]
    scl[...] = 6.0
    scl[20:25, 20:40] = 9.0  # a 50 m x 200 m hull marked cloud, on water
    scl[140:190, 140:190] = 9.0  # a real cloud, 500 m x 500 m, over 1 km away
    scl[100, 10] = 1.0  # a defective pixel
    scl[5:8, 5:8] = 3.0  # cloud shadow
    x = model_input(data, names, prof)
    valid = x[-1]
    assert valid[20:25, 20:40].all()
    assert not valid[140:190, 140:190].any() and not valid[5:8, 5:8].any() and valid[100, 10] == 0
    assert valid.sum() == 200 * 200 - 50 * 50 - 9 - 1
    # the CNN reads tiles: a blob cut by the tile's border is not judged there
    assert not model_input(data[:, :, :30], names, prof)[-1][20:25, 20:30].any()


def test_baseline_detects_bright_hulls_marked_cloud_on_water() -> None:
    plain = detect_optical(optical_scene("s2", SHAPE, FLEET, LAND, seed=0))
    marked_scene = _mark_hulls_as_cloud(optical_scene("s2", SHAPE, FLEET, LAND, seed=0), (0, 1, 4))
    marked = detect_optical(marked_scene)
    assert len(marked) == len(plain) == len(FLEET)
    for ship in FLEET:
        assert _nearest_px(marked, ship.row, ship.col) <= 2.0, ship
        same = min(marked, key=lambda r: math.hypot(r.centre[0] - ship.col, r.centre[1] - ship.row))
        was = min(plain, key=lambda r: math.hypot(r.centre[0] - ship.col, r.centre[1] - ship.row))
        # no cloud buffer around the hull: measured as in the unmarked scene
        assert same.length_m == pytest.approx(was.length_m, abs=1.0)
        assert same.width_m == pytest.approx(was.width_m, abs=1.0)
    cirrus = detect_optical(_mark_hulls_as_cloud(optical_scene("s2", SHAPE, FLEET, LAND, seed=0), (2,), 10.0))
    assert _nearest_px(cirrus, FLEET[2].row, FLEET[2].col) <= 2.0


def test_baseline_still_leaves_out_real_clouds_and_their_buffer() -> None:
    hidden = FLEET[3]  # the 300 m vessel at row 120, col 260, under a cloud bank
    scene = optical_scene("s2", SHAPE, FLEET, LAND, clouds=[(90, 150, 225, 300)], seed=0)
    scene = _mark_hulls_as_cloud(scene, (1, 4))  # over 500 m from the bank
    records = detect_optical(scene)
    assert _nearest_px(records, hidden.row, hidden.col) > 20
    assert _nearest_px(records, FLEET[1].row, FLEET[1].col) <= 2.0
    assert _nearest_px(records, FLEET[4].row, FLEET[4].col) <= 2.0
    assert len(records) == len(FLEET) - 1
    # a hull-sized blob 200 m from the bank is taken for a fragment of it: not searched
    near = _mark_hulls_as_cloud(optical_scene("s2", SHAPE, FLEET, LAND, clouds=[(90, 150, 225, 300)], seed=0),
                                (0,))
    assert _nearest_px(detect_optical(near), FLEET[0].row, FLEET[0].col) > 20


def test_baseline_drops_round_cloud_puffs_given_back() -> None:
    scene = optical_scene("s2", SHAPE, (), LAND, clouds=[(150, 157, 200, 207)], seed=0)  # a 70 m cloud puff
    scl = scene.data[scene.bands.index("SCL")]
    assert scl[150:157, 200:207].min() == 9.0
    assert detect_optical(scene) == []
    assert len(detect_optical(scene, OpticalParams(hull_min_elongation=1.0))) == 1


def test_observed_fraction_counts_a_bright_hull_as_observed() -> None:
    scene = _mark_hulls_as_cloud(optical_scene("s2", SHAPE, FLEET, LAND, seed=0), (0, 1, 3))
    x0, y0 = scene.transform.c, scene.transform.f
    whole = box(x0, y0 - SHAPE[0] * 10.0, x0 + SHAPE[1] * 10.0, y0)
    aoi = validate_aoi("whole", project_geometry(whole, scene.crs, 4326), {}, "test")
    obs = observe(scene, aoi)
    assert obs.cloud_fraction == 0.0
    assert obs.observed_fraction == pytest.approx(1.0, abs=0.02)
    plain = observe(optical_scene("s2", SHAPE, FLEET, LAND, seed=0), aoi)
    assert obs.observed_water_km2 == pytest.approx(plain.observed_water_km2, rel=0.01)
    cloudy = optical_scene("s2", SHAPE, FLEET, LAND, clouds=[(90, 150, 225, 300)], seed=0)
    cloud_obs = observe(_mark_hulls_as_cloud(cloudy, (1, 4)), aoi)
    assert cloud_obs.cloud_fraction == pytest.approx(60 * 75 / (300 * 300), abs=0.002)  # the bank, not the hulls


@pytest.mark.skipif(not (REPO / "models" / "s2.pt").exists(), reason="no shipped s2 weights")
def test_shipped_cnn_finds_simulated_bright_hulls() -> None:
    from satwatch.detection.models.cnn import CnnDetector

    t0 = date(2024, 9, 1)
    aoi = load_catalog()["ru_dunai"]
    scen = Scenario(name="bright-hulls", aois=("ru_dunai",), start=t0, end=date(2024, 9, 30), seed=11,
                    cloud_cover=0.0, sensors=("s2",), revisit_days={"s2": 5}, activity=(
        Activity(aoi="ru_dunai", cls="vessel", where="anchor", steps=((t0, 12.0),), length_m=(70.0, 200.0)),
        Activity(aoi="ru_dunai", cls="vessel", where="moving", steps=((t0, 4.0),), length_m=(60.0, 150.0))))
    r = render(aoi, scen.acquisitions(aoi, "s2")[4], "s2", scen)
    bright = r.properties["satwatch:bright_hulls"]
    assert len(bright) >= 3
    scl = r.scene.data[r.scene.bands.index("SCL")]
    assert (scl == 9.0).sum() > 20 and r.properties["eo:cloud_cover"] == 0.0
    found = CnnDetector(device="cpu").detect(r.scene)
    geod = Geod(ellps="WGS84")
    truth = r.truth.set_index("object_id")
    for object_id in bright:
        p = truth.loc[object_id].geometry
        assert truth.loc[object_id, "visible"]
        dist = min(geod.inv(p.x, p.y, q.x, q.y)[2] for q in found.geometry)
        assert dist < 30.0, f"{object_id}: nearest detection {dist:.0f} m away"
