"""Real labelled scenes as training samples: labels land on the profile grid, the split is enforced."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Transformer
from shapely.geometry import Point

from satwatch.detection.profiles import PROFILES
from satwatch.detection.training_data import labelled_sample, real_training_items
from satwatch.detection.validation import SPLITS, ValidationItem
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
    assert real_training_items(PROFILES["s1"]) == []
