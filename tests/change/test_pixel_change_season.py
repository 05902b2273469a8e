"""Sentinel-2 pixel change over a demo-length autumn with NO planted activity: the season is not a disturbance.

The simulator's vegetation senesces from mid-September to mid-November (its ``_greenness``), as in the demo
scenario (``scenarios/demo.yaml``). The windows are the halves of the period, as ``satwatch run`` makes them,
and every acquisition a run would use goes in, cloudy gaps included (cloud fraction below one half; the run's
own rule is observed fraction at least one half). The comparison of window composites with an AOI-wide robust
z-score that the seasonal model replaced flagged 24.5 km2 at Ussuriysk and 6.4 km2 at Dunai here: whole
land-cover classes and cloud-gap patches.

Bound: at most ``NO_CHANGE_BOUND_M2`` = 10,000 m2 per AOI, i.e. five polygons of the 2,000 m2 minimum area, or
0.006% of Ussuriysk's ~180 km2 of assessed land. The planted Ussuriysk encampment alone is 25,000 m2, so a false
area of this size would still be told apart from a real camp; anything that flags a land-cover class or a cloud
gap is hundreds of times larger.
"""

from collections.abc import Iterator
from datetime import date, datetime

import numpy as np
import pytest

from satwatch.aoi import load_catalog
from satwatch.change.pixel_change import pixel_change
from satwatch.change.timeseries import Window
from satwatch.imagery.scenario import Scenario
from satwatch.imagery.scene import Scene
from satwatch.imagery.simulated import cloud_fraction, render

START, END = date(2024, 8, 15), date(2024, 11, 15)
NO_CHANGE_BOUND_M2 = 10_000.0


def _used(sc: Scenario, aoi_id: str, window: Window) -> list[datetime]:
    aoi = load_catalog()[aoi_id]
    return [t for t in sc.acquisitions(aoi, "s2")
            if window.start <= t.date() <= window.end and cloud_fraction(sc, aoi_id, "s2", t) < 0.5]


def _scenes(sc: Scenario, aoi_id: str, times: list[datetime], ndvi: list[float]) -> Iterator[Scene]:
    """Render one scene at a time; record each scene's median NDVI of clear vegetation (SCL 4)."""
    aoi = load_catalog()[aoi_id]
    for t in times:
        scene = render(aoi, t, "s2", sc).scene
        veg = scene.band("SCL") == 4
        red, nir = scene.band("B04")[veg], scene.band("B08")[veg]
        ndvi.append(float(np.median((nir - red) / (nir + red))))
        yield scene


@pytest.mark.slow
@pytest.mark.parametrize("aoi_id", ["ru_ussuriysk", "ru_dunai"])
def test_demo_length_autumn_without_activity_gives_almost_no_s2_change(aoi_id: str) -> None:
    sc = Scenario(name="autumn-no-activity", aois=(aoi_id,), start=START, end=END, seed=7, cloud_cover=0.35,
                  activity=())
    base_w, test_w = Window.halves(START, END)
    base_t, test_t = _used(sc, aoi_id, base_w), _used(sc, aoi_id, test_w)
    assert len(base_t) >= 5 and len(test_t) >= 5
    aoi = load_catalog()[aoi_id]
    base_ndvi: list[float] = []
    test_ndvi: list[float] = []
    out = pixel_change("s2", _scenes(sc, aoi_id, base_t, base_ndvi), _scenes(sc, aoi_id, test_t, test_ndvi),
                       aoi_id, aoi.geometry, str(base_w), str(test_w))
    # the test is not vacuous: vegetation lost a lot of NDVI between the windows (the season)
    assert np.median(test_ndvi) < np.median(base_ndvi) - 0.08
    assert out["area_m2"].sum() <= NO_CHANGE_BOUND_M2, out[["area_m2", "mean_change"]]
