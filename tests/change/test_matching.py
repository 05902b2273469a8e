"""Matching across dates: presences, arrivals and departures; footprints of area classes."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from satwatch.change.matching import footprint_change, link_points, match_presences

LON0, LAT0 = 132.35, 42.89  # Dunai
DATES = ["2024-09-01T01:40:00Z", "2024-09-06T01:40:00Z", "2024-09-11T01:40:00Z", "2024-09-16T01:40:00Z",
         "2024-09-21T01:40:00Z"]


def at(dx_m: float, dy_m: float) -> Point:
    return Point(LON0 + dx_m / (111_320 * np.cos(np.radians(LAT0))), LAT0 + dy_m / 110_540)


def vessels(presence: dict[str, list[int]], rng: np.random.Generator) -> gpd.GeoDataFrame:
    """presence: berth name -> acquisitions (indices) where a ship is there; berths 120 m apart."""
    rows, geoms = [], []
    for k, (_name, frames) in enumerate(sorted(presence.items())):
        for f in frames:
            rows.append({"class": "vessel", "aoi": "ru_dunai", "sensor": "s2", "acquired": DATES[f],
                         "scene_id": f"s{f}", "simulated": True, "length_m": 110.0})
            geoms.append(at(120.0 * k + rng.normal(0, 6), rng.normal(0, 6)))
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=4326)


def acquisitions() -> pd.DataFrame:
    return pd.DataFrame({"aoi": "ru_dunai", "sensor": "s2", "acquired": DATES, "scene_id": [f"s{i}" for i in range(5)]})


def test_link_points_is_one_to_one_and_bridges_a_gap() -> None:
    x = np.array([0.0, 1.0, 5.0, 0.0, 2.0])
    frame = np.array([0, 0, 1, 3, 3])
    ids = link_points(x, np.zeros(5), frame, 4, radius_m=10.0, max_gap=1)
    assert ids[0] != ids[1] and ids[2] in (ids[0], ids[1])
    assert len(set(ids[3:])) == 2  # two points on one frame never share an id
    assert link_points(x, np.zeros(5), frame, 4, radius_m=10.0, max_gap=0)[3] not in ids[:3]


def test_arrivals_departures_and_persisted_by_date() -> None:
    det = vessels({"a": [0, 1, 2, 3, 4], "b": [0, 1], "c": [2, 3, 4], "d": [1, 2, 3]}, np.random.default_rng(0))
    pres = match_presences(det, acquisitions()).set_index("status")
    assert sorted(pres.index) == ["arrived", "departed", "persisted", "visited"]
    assert pres.loc["departed", "last_seen"] == DATES[1] and pres.loc["departed", "departed_before"] == DATES[2]
    assert pres.loc["arrived", "first_seen"] == DATES[2] and pres.loc["arrived", "arrived_after"] == DATES[1]
    assert (pres.loc["visited", "first_seen"], pres.loc["visited", "last_seen"]) == (DATES[1], DATES[3])
    assert pres.loc["persisted", "n_seen"] == 5 and bool(pres["simulated"].all())
    assert pres.crs.to_epsg() == 4326


def test_a_well_observed_empty_acquisition_ends_a_presence_an_unused_one_does_not() -> None:
    det = vessels({"a": [0, 1, 3, 4]}, np.random.default_rng(1))
    pres = match_presences(det, acquisitions(), max_gap=0)
    assert sorted(pres["status"]) == ["arrived", "departed"]
    unused = acquisitions().drop(index=2)  # acquisition 2 was clouded: not in the sequence
    assert list(match_presences(det, unused, max_gap=0)["status"]) == ["persisted"]


def test_footprint_change_new_removed_persisting_areas() -> None:
    def square(dx: float, side: float) -> gpd.GeoDataFrame:
        p0, p1 = at(dx, 0), at(dx + side, side)
        return gpd.GeoDataFrame({"aoi": ["ru_ussuriysk"], "class": ["encampment"], "simulated": [True]},
                                geometry=[box(p0.x, p0.y, p1.x, p1.y)], crs=4326)

    out = footprint_change(square(0, 100), square(50, 100), "b", "t").set_index("status")
    assert out.loc["new", "area_m2"] == pytest.approx(5000, rel=0.02)
    assert out.loc["removed", "area_m2"] == pytest.approx(5000, rel=0.02)
    assert out.loc["persisting", "area_m2"] == pytest.approx(5000, rel=0.02)
    assert out.geometry.is_valid.all()
