"""Real labelled scenes as training samples: labels land on the profile grid, the split is enforced."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Transformer
from shapely.geometry import Point

from satwatch.detection.data.labelled import ValidationItem
from satwatch.detection.data.splits import SPLITS
from satwatch.detection.data.training_data import labelled_sample, real_training_items
from satwatch.detection.profiles import PROFILES
from tests.detection._synthetic import optical_scene


def test_labelled_sample_puts_visible_labels_on_the_profile_grid_and_dont_cares_aside() -> None:
    scene = optical_scene(sensor="vhr", shape=(200, 200), gsd_m=0.25)  # 50 m x 50 m at 0.25 m
    to_lonlat = Transformer.from_crs(scene.crs, 4326, always_xy=True)
    (x0, y0), (x1, y1) = scene.transform @ (40, 80), scene.transform @ (160, 20)
    labels = gpd.GeoDataFrame(
        {"class": ["vehicle", "vehicle"], "visible": [True, False], "length_m": [4.5, 4.0], "width_m": [2.0, 1.8]},
        geometry=[Point(*to_lonlat.transform(x0, y0)), Point(*to_lonlat.transform(x1, y1))], crs=4326)
    sample = labelled_sample(ValidationItem(scene, labels, True), PROFILES["vhr"])
    assert sample.raw.shape[1:] == (50, 50)  # resampled to 1 m
    assert sample.points.shape == (1, 6) and not sample.has_size
    np.testing.assert_allclose(sample.points[0, :2], [10.0, 20.0], atol=0.01)  # 0.25 m pixels / 4
    assert sample.ignore.shape == (1, 3)
    np.testing.assert_allclose(sample.ignore[0, :2], [40.0, 5.0], atol=0.01)
    assert sample.mask_known == (True,)  # no encampment in these images: a real negative


def test_training_never_reads_a_validation_sequence() -> None:
    assert not set(SPLITS["aerial_vehicles"]["train"]) & set(SPLITS["aerial_vehicles"]["validation"])
    items = real_training_items(PROFILES["vhr"])
    if not items:
        pytest.skip("aerial_vehicles not under ../shared/data")
    names = {i.scene.meta.scene_id for i in items}
    assert not any(n.startswith(("MOS74", "DJI_0005")) and not n.startswith("MunichStreet") for n in names)
    for profile, source in (("s1", "opensarship"), ("s2", "eotdl_s2_ships")):
        others = real_training_items(PROFILES[profile])
        assert others, f"{source} missing while aerial_vehicles is there"
        trained = {i.scene.meta.acquired.date().isoformat() for i in others}
        assert trained == set(SPLITS[source]["train"]), (profile, trained)
        assert not any(i.negatives_known for i in others)  # one labelled ship per chip: never exhaustive


def _s1_chip(ship_db: float = 10.0, seed: int = 0) -> ValidationItem:
    """A 41 x 41 px Sentinel-1 chip: gamma sea at -18 dB, a 5 x 2 px ship at the centre, one AIS label."""
    from tests.detection._synthetic import s1_scene

    scene = s1_scene((41, 41), seed=seed, sea_db=-18.0)
    scene.data[0, 19:21, 18:23] = ship_db
    scene.data[1, 19:21, 18:23] = ship_db - 8.0
    x, y = scene.transform @ (20.5, 20.0)
    lon, lat = Transformer.from_crs(scene.crs, 4326, always_xy=True).transform(x, y)
    labels = gpd.GeoDataFrame({"class": ["vessel"], "visible": [True], "length_m": [52.0], "width_m": [18.0],
                               "heading_deg": [90.0]}, geometry=[Point(lon, lat)], crs=4326)
    return ValidationItem(scene, labels, False)


def test_a_real_ship_is_cut_out_as_its_power_above_the_sea() -> None:
    from satwatch.detection.data.training_data import ship_cutout

    cut = ship_cutout(_s1_chip())
    assert cut is not None
    excess, cx, cy, size = cut
    assert excess.shape[0] == 2 and 4 <= excess.shape[1] <= 6 and 7 <= excess.shape[2] <= 9  # ship + 1 px
    assert excess[0].max() == pytest.approx(10.0 - 10 ** (-1.8), rel=0.2)  # 10 dB hull minus the sea's power
    assert (excess[0] > 0).sum() < excess[0].size  # corners of the box are sea: nothing added there
    assert abs(cx - excess.shape[2] / 2) <= 1.0 and abs(cy - excess.shape[1] / 2) <= 1.0
    np.testing.assert_allclose(size, [52.0, 18.0, 90.0])
    assert ship_cutout(_s1_chip(ship_db=-30.0)) is None  # nothing stands out: no cut-out


def test_real_ships_are_pasted_on_open_sea_only_and_labelled() -> None:
    from satwatch.detection.data.samples import Sample
    from satwatch.detection.data.training_data import paste_real_ships

    rng = np.random.default_rng(1)
    raw = (10 * np.log10(rng.gamma(4.4, 1 / 4.4, (2, 200, 200))) - 20.0).astype(np.float32)
    raw[:, :, :60] = -5.0  # land on the left
    own = np.array([[150.0, 100.0, 80.0, 15.0, 0.0, 0.0]])
    bg = Sample("bg", raw, ("VV", "VH"), own, np.zeros((0, 3)), None)
    out = paste_real_ships([bg], [_s1_chip(seed=s) for s in range(3)], per_scene=6, seed=3)
    assert len(out) == 1 and np.array_equal(bg.raw, raw)  # the background itself is untouched
    pasted = out[0].points[1:]
    assert len(out[0].points) == 7 and np.array_equal(out[0].points[0], own[0])
    for x, y, length, *_ in pasted:
        assert x > 60 and np.hypot(x - 150.0, y - 100.0) >= 12.0 and length == 52.0
        assert out[0].raw[0, int(y), int(x)] > raw[0, int(y), int(x)] + 10.0  # the hull is there
    assert np.array_equal(out[0].raw[:, :, :60], raw[:, :, :60])  # nothing on land


def test_hard_negatives_are_far_from_labels_and_draw_crops() -> None:
    from satwatch.detection.data import samples as samples_mod
    from satwatch.detection.data.samples import Sample, crop, load_samples, save_samples
    from satwatch.detection.data.training_data import mine_hard_negatives

    scene = optical_scene(sensor="s2", shape=(100, 100))
    to_lonlat = Transformer.from_crs(scene.crs, 4326, always_xy=True)

    class Fake:
        def detect(self, _scene: object) -> gpd.GeoDataFrame:
            pts = [Point(*to_lonlat.transform(*(scene.transform @ xy))) for xy in ((10, 10), (12, 10), (80, 70))]
            return gpd.GeoDataFrame({"class": ["vessel"] * 3}, geometry=pts, crs=4326)

    hard = mine_hard_negatives(scene, np.array([[11.0, 10.0]]), Fake())
    np.testing.assert_allclose(hard, [[80.0, 70.0]], atol=1e-6)  # 10 and 20 m from the ship: not false alarms
    raw = np.full((5, 400, 400), 0.02, dtype=np.float32)
    raw[:, 350, 50] = 0.9  # a bright quay end, far from the one ship
    sample = Sample("p", raw, ("B02", "B03", "B04", "B08", "B11"), np.array([[50.0, 50.0, 100, 20, np.nan, 0]]),
                    np.zeros((0, 3)), None, hard_negatives=np.array([[50.0, 350.0]]))
    profile = PROFILES["s2"]

    def hits(s: Sample) -> int:
        rng = np.random.default_rng(0)
        return sum(float(np.nanmax(crop(s, profile, rng)["x"])) > 2.0 for _ in range(30))

    with_hard, without = hits(sample), hits(replace(sample, hard_negatives=None))
    # about HARD_NEGATIVE_SHARE of the crops hold the quay end, against the few random crops that reach it
    assert samples_mod.HARD_NEGATIVE_SHARE * 30 * 0.6 <= with_hard <= 20 and without <= 5 and with_hard > without

    with tempfile.TemporaryDirectory() as tmp:
        back = load_samples(save_samples({"real": [sample]}, profile, Path(tmp) / "s.npz"), profile)["real"][0]
    assert back.hard_negatives is not None
    np.testing.assert_allclose(back.hard_negatives, [[50.0, 350.0]])
