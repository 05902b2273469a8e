"""The classical baseline detector on synthetic Sentinel-1, Sentinel-2 and VHR scenes with planted vessels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer

from satwatch.detection.detections import DETECTION_COLUMNS, Detection, ground_axes_m
from satwatch.detection.detector import Detector, detect_files, get_detector
from satwatch.detection.models.baseline import (
    BaselineDetector,
    OpticalParams,
    SarParams,
    annulus_stats,
    cfar_multiplier,
    detect_optical,
    detect_sar,
    measure_components,
)
from satwatch.detection.water import optical_water_mask, sar_water_mask
from satwatch.errors import DetectionError, InputFileError, SceneFormatError, UsageError
from satwatch.imagery.scene import Scene, write_scene
from tests.detection._synthetic import FLEET, Ship, land_columns, optical_scene, s1_scene

SHAPE = (300, 300)
LAND = land_columns(SHAPE, 80)


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + 90.0) % 180.0 - 90.0)


def _check(records: Sequence[Detection], ships: Sequence[Ship], gsd_m: float, max_px: float = 2.0) -> None:
    """Every ship found within ``max_px`` with the right size and heading; nothing else found."""
    unmatched = list(records)
    for ship in ships:
        assert unmatched, f"no detection left for {ship}"
        best = min(unmatched, key=lambda r: math.hypot(r.centre[0] - ship.col, r.centre[1] - ship.row))
        dist = math.hypot(best.centre[0] - ship.col, best.centre[1] - ship.row)
        assert dist <= max_px, f"{ship}: nearest detection {dist:.1f} px away"
        unmatched.remove(best)
        length_px = ship.length_m / gsd_m
        if length_px >= 5:
            assert best.length_m == pytest.approx(ship.length_m, rel=0.3), ship
        if length_px >= 6 and ship.length_m / ship.width_m >= 3:
            assert _angle_diff(best.heading_deg, ship.heading_deg) <= 20.0, (ship, best)
        assert 0.0 <= best.score <= 1.0
    assert not unmatched, f"false detections: {unmatched}"


# ---------------------------------------------------------------- Sentinel-1


@pytest.mark.parametrize("gsd_m", [5.0, 10.0, 20.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_s1_finds_planted_vessels(gsd_m: float, seed: int) -> None:
    scene = s1_scene(SHAPE, FLEET, LAND, gsd_m=gsd_m, seed=seed, spots_db=10.0)
    _check(detect_sar(scene), FLEET, gsd_m)


def test_s1_vv_plus_vh() -> None:
    scene = s1_scene(SHAPE, FLEET, LAND, seed=3)
    _check(detect_sar(scene, SarParams(polarisation="VV+VH")), FLEET, 10.0)


def test_s1_snap_gaussian_threshold_still_finds_vessels() -> None:
    records = detect_sar(s1_scene(SHAPE, FLEET, LAND, seed=4), SarParams(clutter="gaussian"))
    for ship in FLEET:
        assert any(math.hypot(r.centre[0] - ship.col, r.centre[1] - ship.row) <= 2 for r in records)


def test_s1_score_grows_with_contrast() -> None:
    ship = (Ship(150.0, 200.0, 80.0, 15.0, 45.0),)
    weak = detect_sar(s1_scene(SHAPE, ship, LAND, seed=0, ship_db=-8.0))
    strong = detect_sar(s1_scene(SHAPE, ship, LAND, seed=0, ship_db=0.0))
    assert len(weak) == len(strong) == 1
    assert weak[0].score < strong[0].score


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("where", ["water", "land", "coast"])
def test_s1_no_detections_without_vessels(where: str, seed: int) -> None:
    land = {"water": None, "land": np.ones(SHAPE, dtype=bool), "coast": LAND}[where]
    assert detect_sar(s1_scene(SHAPE, (), land, seed=seed)) == []


def test_s1_vessel_next_to_quay_is_not_counted_as_open_water() -> None:
    """Documented limit: a vessel touching land is outside the water mask."""
    moored = (Ship(150.0, 84.0, 60.0, 12.0, 0.0),)
    assert detect_sar(s1_scene(SHAPE, moored, LAND, seed=0)) == []


def test_s1_faint_pier_and_islet_are_not_vessels() -> None:
    """A 30 m wide pier a few dB above the sea, joined to the shore, and a 250 m islet stay land."""
    rng = np.random.default_rng(7)
    land = LAND.copy()
    land[150:153, 70:140] = True  # pier, 700 m long
    islet = np.zeros(SHAPE, dtype=bool)
    islet[40:65, 120:145] = True
    scene = s1_scene(SHAPE, FLEET[2:3], land | islet, seed=7)
    vv = scene.data[0]
    pier = np.zeros(SHAPE, dtype=bool)
    pier[150:153, 84:140] = True
    vv[pier] = -14.0 + 10 * np.log10(rng.gamma(4.4, 1 / 4.4, int(pier.sum())))
    water = sar_water_mask(vv, np.isfinite(vv), 10.0)
    assert not water[pier].any() and not water[islet].any()
    assert water[200:280, 150:290].mean() > 0.95
    _check(detect_sar(scene), FLEET[2:3], 10.0)


def test_s1_big_ship_with_sidelobes_is_searched_not_land() -> None:
    """A 300 m ship whose sidelobe haze makes it a 190 m wide bright blob (real OpenSARShip chips look so)
    survives the coarse opening as "land"; its hull's 10 dB peak marks it a vessel: it is water, and found."""
    ship = (Ship(150.0, 200.0, 300.0, 45.0, 90.0),)
    scene = s1_scene(SHAPE, ship, LAND, seed=2, ship_db=10.0)
    vv = scene.data[0]
    rng = np.random.default_rng(2)
    haze = np.zeros(SHAPE, dtype=bool)
    haze[141:160, 182:219] = True  # sidelobe haze 190 m x 370 m about the hull, 8 dB above the sea
    vv[haze] = np.maximum(vv[haze], -12.0 + 10 * np.log10(rng.gamma(4.4, 1 / 4.4, int(haze.sum()))))
    vv[150, 140:260] = np.maximum(vv[150, 140:260], -6.0)  # azimuth sidelobe line, 1.2 km
    assert sar_water_mask(vv, np.isfinite(vv), 10.0)[150, 200]
    assert not sar_water_mask(vv, np.isfinite(vv), 10.0, vessel_peak_db=None)[150, 200]
    found = detect_sar(scene)
    assert any(math.hypot(r.centre[0] - 200.0, r.centre[1] - 150.0) <= 5 for r in found), found


def test_s1_windy_sea_is_water_by_its_cross_polarisation() -> None:
    """Wind-roughened sea at -11 dB VV is as bright as land, but VV - VH is 13 dB there against 6 dB on land
    (the windy OpenSARShip training package looks so): with VH it is searched and its ship found; land, and
    bright urban blocks with a high ratio, stay land."""
    rng = np.random.default_rng(4)
    ships = FLEET[2:3]
    scene = s1_scene(SHAPE, ships, LAND, seed=4, sea_db=-11.0, land_db=-8.0, ship_db=8.0)
    vv = scene.data[0]
    urban = np.zeros(SHAPE, dtype=bool)
    urban[20:60, 10:60] = True  # on land: VV -3 dB, VH 11 dB below
    vv[urban] = -3.0 + 10 * np.log10(rng.gamma(4.4, 1 / 4.4, int(urban.sum())))
    speckle = 10 * np.log10(rng.gamma(4.4, 1 / 4.4, SHAPE))
    vh = np.where(LAND, vv - 6.0, -24.0 + speckle).astype(np.float32)
    vh[urban] = vv[urban] - 11.0
    scene.data[1] = vh
    valid = np.isfinite(vv)
    sea = ~LAND
    sea[:, :90] = False  # away from the shore buffer
    without = sar_water_mask(vv, valid, 10.0)
    assert without[sea].mean() < 0.5  # the VV threshold alone calls most of this sea land
    water = sar_water_mask(vv, valid, 10.0, vh_db=vh)
    assert water[sea].mean() > 0.95
    assert not water[LAND].any()
    _check(detect_sar(scene), ships, 10.0)


def test_optical_water_mask_keeps_vessels_and_drops_land() -> None:
    scene = optical_scene("s2", SHAPE, FLEET, LAND, seed=0)
    green, nir = scene.band("B03"), scene.band("B08")
    water = optical_water_mask(green, nir, np.isfinite(green), 10.0, scl=scene.band("SCL"))
    assert not water[:, :75].any()
    for ship in FLEET:
        assert water[int(ship.row), int(ship.col)]


def test_s1_nodata_border_is_ignored() -> None:
    scene = s1_scene(SHAPE, FLEET, LAND, seed=5)
    scene.data[:, :, 290:] = np.nan
    scene.data[:, :20, :] = np.nan
    _check(detect_sar(scene), FLEET, 10.0)


# ---------------------------------------------------------------- Sentinel-2 and VHR


@pytest.mark.parametrize("gsd_m", [10.0, 20.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_s2_finds_planted_vessels(gsd_m: float, seed: int) -> None:
    scene = optical_scene("s2", SHAPE, FLEET, LAND, gsd_m=gsd_m, seed=seed)
    _check(detect_optical(scene), FLEET, gsd_m)


def test_s2_without_scl_or_swir() -> None:
    scene = optical_scene("s2", SHAPE, FLEET, LAND, seed=2, bands=("B03", "B08"))
    _check(detect_optical(scene), FLEET, 10.0)


def test_s2_vessel_under_cloud_is_not_detected() -> None:
    hidden = FLEET[3]  # the 300 m vessel at row 120, col 260
    scene = optical_scene("s2", SHAPE, FLEET, LAND, clouds=[(90, 150, 225, 300)], seed=0)
    records = detect_optical(scene)
    assert all(math.hypot(r.centre[0] - hidden.col, r.centre[1] - hidden.row) > 20 for r in records)
    _check(records, [s for s in FLEET if s is not hidden], 10.0)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("where", ["water", "land", "coast", "cloud"])
def test_s2_no_detections_without_vessels(where: str, seed: int) -> None:
    land = {"water": None, "land": np.ones(SHAPE, dtype=bool), "coast": LAND, "cloud": LAND}[where]
    clouds = [(100, 160, 150, 220)] if where == "cloud" else []
    assert detect_optical(optical_scene("s2", SHAPE, (), land, clouds=clouds, seed=seed)) == []


def test_s2_faint_vessel_below_min_contrast_is_ignored() -> None:
    ship = (Ship(150.0, 200.0, 80.0, 15.0, 45.0),)
    # hull ~0.015 above the water's brightness index, on glassy water (noise 0.0005)
    faint = optical_scene("s2", SHAPE, ship, LAND, seed=0, hull_scale=0.165, noise=0.0005)
    assert detect_optical(faint) == []
    (found,) = detect_optical(faint, OpticalParams(min_contrast=0.005, sigma_floor=0.001))
    assert found.length_m == pytest.approx(80.0, rel=0.3)


def test_vhr_finds_vessels() -> None:
    ships = (Ship(300.0, 400.0, 120.0, 20.0, 45.0), Ship(600.0, 600.0, 60.0, 12.0, 120.0))
    shape = (800, 800)
    scene = optical_scene("vhr", shape, ships, land_columns(shape, 150), gsd_m=1.0, psf_m=1.0)
    _check(detect_optical(scene), ships, 1.0)


# ---------------------------------------------------------------- grids, bands, errors


def test_web_mercator_grid_uses_ground_metres() -> None:
    """A 3857 grid whose CRS units are not ground metres: sizes come out in ground metres anyway."""
    lon, lat = 131.9, 43.1
    x0, y0 = Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)
    units = 1.0 / math.cos(math.radians(lat))
    s1 = s1_scene(SHAPE, FLEET, LAND, seed=0, epsg=3857, crs_units_per_m=units, x0=x0, y0=y0)
    s2 = optical_scene("s2", SHAPE, FLEET, LAND, seed=0, epsg=3857, crs_units_per_m=units, x0=x0, y0=y0)
    assert s1.gsd_m == pytest.approx(10.0, rel=0.01)
    _check(detect_sar(s1), FLEET, 10.0)
    _check(detect_optical(s2), FLEET, 10.0)


def test_missing_bands_raise_detection_error_naming_them() -> None:
    s1 = s1_scene(SHAPE, FLEET, LAND, bands=("VH",))
    with pytest.raises(DetectionError, match=r"lacks band\(s\) VV "):
        detect_sar(s1)
    with pytest.raises(DetectionError, match=r"lacks band\(s\) VH "):
        detect_sar(s1_scene(SHAPE, FLEET, LAND, bands=("VV",)), SarParams(polarisation="VV+VH"))
    s2 = optical_scene("s2", SHAPE, FLEET, LAND, bands=("B02", "B03", "B04", "SCL"))
    with pytest.raises(DetectionError, match=r"lacks band\(s\) B08 ") as info:
        BaselineDetector().detect(s2)
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(DetectionError, match=r"lacks band\(s\) G, N "):
        BaselineDetector().detect(optical_scene("vhr", SHAPE, bands=("R", "B")))


def test_optical_detector_refuses_radar() -> None:
    with pytest.raises(DetectionError, match="handles s2 and vhr"):
        detect_optical(s1_scene(SHAPE))


def test_detect_gives_the_contract() -> None:
    scene = s1_scene(SHAPE, FLEET, LAND, seed=0)
    gdf = BaselineDetector().detect(scene)
    assert list(gdf.columns) == [*DETECTION_COLUMNS, "geometry"]
    assert gdf.crs.to_epsg() == 4326 and len(gdf) == len(FLEET)
    assert set(gdf["class"]) == {"vessel"} and set(gdf["detector"]) == {"baseline-cfar-1"}
    assert gdf["simulated"].all() and (gdf["sensor"] == "s1").all()
    assert gdf["heading_deg"].between(0, 180).all() and gdf["score"].between(0, 1).all()
    assert gdf["area_m2"].isna().all()
    # the points land on the planted vessels
    back = Transformer.from_crs(4326, scene.crs, always_xy=True)
    inv = ~scene.transform
    for geom in gdf.geometry:
        col, row = inv @ back.transform(geom.x, geom.y)
        assert min(math.hypot(col - s.col, row - s.row) for s in FLEET) <= 2.0


def test_registry_and_protocol() -> None:
    det = get_detector("baseline")
    assert isinstance(det, Detector) and det.name == "baseline-cfar-1" and det.classes == ("vessel",)
    with pytest.raises(UsageError, match="unknown detector 'yolo'; choose one of: auto, baseline, cfar-cnn, cnn"):
        get_detector("yolo")


def test_detect_files(tmp_path: Path) -> None:
    s1 = s1_scene(SHAPE, FLEET, LAND, seed=0)
    s2 = optical_scene("s2", SHAPE, FLEET, LAND, seed=0).with_meta(scene_id="s2-scene")
    paths = [write_scene(s1, tmp_path / "s1.tif"), write_scene(s2, tmp_path / "s2.tif")]
    seen: list[tuple[int, int, Path]] = []
    gdf = detect_files(paths, progress=lambda done, total, path: seen.append((done, total, path)))
    assert [s[:2] for s in seen] == [(1, 2), (2, 2)]
    assert gdf.crs.to_epsg() == 4326 and list(gdf.columns) == [*DETECTION_COLUMNS, "source_file", "geometry"]
    assert set(gdf["source_file"]) == {str(p.resolve()) for p in paths}
    counts = gdf.groupby("scene_id").size().to_dict()
    assert counts == {s1.meta.scene_id: 5, "s2-scene": 5}
    assert detect_files([]).empty


def test_detect_files_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        detect_files([tmp_path / "missing.tif"])
    junk = tmp_path / "junk.tif"
    junk.write_text("not a tiff")
    with pytest.raises(SceneFormatError, match="not a readable GeoTIFF"):
        detect_files([junk])
    with pytest.raises(UsageError, match="unknown detector"):
        detect_files([junk], detector="cnn-v9")


# ---------------------------------------------------------------- building blocks


def test_cfar_multiplier_false_alarm_rate() -> None:
    assert cfar_multiplier(10**-6.5, 1.0, "gaussian") == pytest.approx(4.98, abs=0.01)
    rng = np.random.default_rng(0)
    looks = 4.4
    x = rng.gamma(looks, 1.0 / looks, 2_000_000)
    t = cfar_multiplier(1e-3, looks)
    rate = float(np.mean((x - 1.0) / (1.0 / math.sqrt(looks)) > t))
    assert rate == pytest.approx(1e-3, rel=0.15)
    with pytest.raises(ValueError, match="pfa"):
        cfar_multiplier(0.7, 1.0)


def test_annulus_stats_match_brute_force() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((25, 30), dtype=np.float32)
    usable = rng.random((25, 30)) > 0.3
    mean, std, n = annulus_stats(x, usable, 3, 9)
    for r, c in [(0, 0), (12, 15), (24, 29), (5, 20)]:
        ring = np.zeros_like(usable)
        ring[max(0, r - 4):r + 5, max(0, c - 4):c + 5] = True
        ring[max(0, r - 1):r + 2, max(0, c - 1):c + 2] = False
        vals = x[ring & usable]
        assert n[r, c] == len(vals)
        assert mean[r, c] == pytest.approx(vals.mean(), abs=1e-5)
        assert std[r, c] == pytest.approx(vals.std(), abs=1e-4)


def test_measure_components_rectangle() -> None:
    mask = np.zeros((40, 40), dtype=bool)
    mask[10:14, 5:25] = True  # 20 px long (east-west), 4 px wide
    mask[30, 30] = True  # no core pixel: not an object
    core = np.zeros_like(mask)
    core[12, 12] = True
    scene = s1_scene((40, 40), gsd_m=10.0)
    comps = measure_components(mask, core, mask.astype(np.float32), ground_axes_m(scene))
    assert len(comps.pixels) == 1 and comps.pixels[0] == 80
    assert comps.length_m[0] == pytest.approx(200.0, rel=0.01)
    assert comps.width_m[0] == pytest.approx(40.0, rel=0.01)
    assert comps.heading_deg[0] == pytest.approx(90.0, abs=0.5)
    assert (comps.x[0], comps.y[0]) == (15.0, 12.0)


def test_heading_follows_grid_north_on_a_south_up_grid() -> None:
    """Flip the grid (rows grow northwards): the same pixels show a mirrored heading."""
    ship = (Ship(150.0, 200.0, 150.0, 20.0, 30.0),)
    scene = s1_scene(SHAPE, ship, LAND, seed=0)
    t = scene.transform
    south_up = Affine(t.a, t.b, t.c, t.d, -t.e, t.f + t.e * scene.height)
    (rec,) = detect_sar(Scene(scene.data, scene.bands, scene.crs, south_up, scene.meta))
    assert _angle_diff(rec.heading_deg, 150.0) <= 5.0
