"""Pixel-level change on simulated scenes: the new Ussuriysk encampment's area is recovered within 20%."""

from collections.abc import Iterator
from datetime import date, datetime

import numpy as np
import pytest

from satwatch.aoi import load_catalog
from satwatch.change.pixel_change import change_polygons, pixel_change
from satwatch.imagery.scenario import Activity, Scenario
from satwatch.imagery.scene import Scene
from satwatch.imagery.simulated import render

AOI = load_catalog()["ru_ussuriysk"]
CAMP_DAY = date(2024, 10, 12)


def scenario(area: float) -> Scenario:
    camp = Activity("ru_ussuriysk", "encampment", "land", ((date(2024, 9, 1), 0.0), (CAMP_DAY, area)))
    return Scenario(name="camp-test", aois=("ru_ussuriysk",), start=date(2024, 9, 1), end=date(2024, 11, 30),
                    seed=7, cloud_cover=0.35, activity=(camp,))


def windows(sc: Scenario, sensor: str, n: int) -> tuple[list[datetime], list[datetime]]:
    acq = sc.acquisitions(AOI, sensor)
    return [a for a in acq if a.date() < CAMP_DAY][-n:], [a for a in acq if a.date() >= CAMP_DAY][:n]


def scenes(sc: Scenario, times: list[datetime], sensor: str) -> Iterator[Scene]:
    for t in times:
        yield render(AOI, t, sensor, sc).scene


def test_s2_index_change_recovers_the_new_encampment_area() -> None:
    sc = scenario(25_000.0)
    before, after = windows(sc, "s2", 3)
    truth = render(AOI, after[0], "s2", sc).truth
    camp = truth[truth["class"] == "encampment"].geometry.iloc[0]
    out = pixel_change("s2", scenes(sc, before, "s2"), scenes(sc, after, "s2"), AOI.id, AOI.geometry, "b", "t")
    hit = out[out.intersects(camp)]
    assert len(hit) == 1 and hit["kind"].iloc[0] == "s2_disturbance"
    assert hit["area_m2"].iloc[0] == pytest.approx(25_000.0, rel=0.2)
    assert out["simulated"].all() and out.geometry.is_valid.all() and out.crs.to_epsg() == 4326
    assert out["area_m2"].sum() < 1.2 * 25_000.0  # nothing else of note changed


def test_no_activity_change_gives_no_s2_change() -> None:
    sc = scenario(0.0)
    before, after = windows(sc, "s2", 2)
    out = pixel_change("s2", scenes(sc, before, "s2"), scenes(sc, after, "s2"), AOI.id, AOI.geometry)
    assert len(out) == 0


@pytest.mark.slow
def test_s1_log_ratio_finds_the_encampment() -> None:
    sc = scenario(25_000.0)
    before, after = windows(sc, "s1", 3)
    truth = render(AOI, after[0], "s1", sc).truth
    camp = truth[truth["class"] == "encampment"].geometry.iloc[0]
    out = pixel_change("s1", scenes(sc, before, "s1"), scenes(sc, after, "s1"), AOI.id, AOI.geometry)
    hit = out[out.intersects(camp)]
    assert len(hit) == 1 and hit["kind"].iloc[0] == "s1_increase"
    assert hit["area_m2"].iloc[0] == pytest.approx(25_000.0, rel=0.3)


def test_change_polygons_drop_small_areas() -> None:
    from affine import Affine
    from pyproj import CRS

    mask = np.zeros((60, 60), dtype=bool)
    mask[5:25, 5:25] = True  # 400 px = 40,000 m2
    mask[40:42, 40:42] = True  # 4 px, removed by cleaning / min area
    out = change_polygons(mask, Affine(10, 0, 500_000, 0, -10, 4_750_000), CRS.from_epsg(32653), 2000.0)
    assert len(out) == 1 and out["area_m2"].iloc[0] == pytest.approx(40_000, rel=0.01)


def test_no_change_keeps_column_types() -> None:
    """An empty result concatenated with others must not turn numbers into text in the GeoPackage."""
    import pandas as pd

    from satwatch.change.pixel_change import PIXEL_CHANGE_COLUMNS

    empty = pixel_change("s2", iter(()), iter(()), "x")
    assert list(empty.columns) == [*PIXEL_CHANGE_COLUMNS, "geometry"] and empty.crs.to_epsg() == 4326
    assert empty["area_m2"].dtype == "float64" and empty["simulated"].dtype == "bool"
    assert empty["test_scenes"].dtype == "int64"
    both = pd.concat([empty, empty], ignore_index=True)
    assert both["area_m2"].dtype == "float64"
