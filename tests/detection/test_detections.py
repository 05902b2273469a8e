"""The detections contract: schema, pixel -> EPSG:4326 placement, concatenation and read-back."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from pyproj import CRS, Transformer
from shapely.geometry import Point, Polygon, box

from satwatch.detection.detections import (
    DETECTION_COLUMNS,
    DETECTION_DTYPES,
    Detection,
    as_detections,
    concat_detections,
    detections_from_records,
    empty_detections,
    ground_axes_m,
)
from satwatch.errors import DetectionError
from satwatch.imagery.scene import Scene
from satwatch.outputs.files import write_geojson
from tests.detection._synthetic import s1_scene


def _dtypes(gdf: gpd.GeoDataFrame) -> dict[str, str]:
    return {c: str(gdf[c].dtype) for c in DETECTION_COLUMNS}


EXPECTED_DTYPES = {c: str(pd.Series([], dtype=d).dtype) for c, d in DETECTION_DTYPES.items()}


def test_empty_detections_schema() -> None:
    gdf = empty_detections()
    assert list(gdf.columns) == [*DETECTION_COLUMNS, "geometry"]
    assert gdf.crs.to_epsg() == 4326 and len(gdf) == 0
    assert _dtypes(gdf) == EXPECTED_DTYPES
    assert EXPECTED_DTYPES["score"] == "float64" and EXPECTED_DTYPES["simulated"] == "bool"


def test_records_round_trip_to_pixels() -> None:
    scene = s1_scene((200, 300))
    rng = np.random.default_rng(0)
    pts = rng.uniform([0, 0], [300, 200], size=(20, 2))
    recs = [Detection("vessel", 0.5, Point(x, y), length_m=50.0, width_m=10.0, heading_deg=190.0) for x, y in pts]
    gdf = detections_from_records(recs, scene, detector="test-1")
    assert gdf.crs.to_epsg() == 4326 and _dtypes(gdf) == EXPECTED_DTYPES
    lon, lat = gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy()
    assert np.all((lon > 131) & (lon < 133) & (lat > 42) & (lat < 44))  # near Vladivostok, lon/lat order
    x, y = Transformer.from_crs(4326, scene.crs, always_xy=True).transform(lon, lat)
    inv = ~scene.transform
    back = np.array([inv @ (a, b) for a, b in zip(x, y, strict=True)])
    np.testing.assert_allclose(back, pts, atol=1e-5)
    assert (gdf["heading_deg"] == 10.0).all()  # 190 deg is the same axis as 10 deg
    assert (gdf["scene_id"] == scene.meta.scene_id).all() and (gdf["acquired"] == "2024-10-08T01:52:30Z").all()
    assert (gdf["sensor"] == "s1").all() and (gdf["aoi"] == "synthetic").all() and gdf["simulated"].all()
    assert (gdf["detector"] == "test-1").all() and gdf["area_m2"].isna().all()


def test_map_space_records_and_polygons() -> None:
    scene = s1_scene((100, 100))
    x0, y0 = scene.transform @ (10, 10)
    recs = [
        Detection("vessel", 0.9, Point(x0, y0), space="map"),
        Detection("encampment", 0.7, box(20, 20, 30, 30)),  # 10 x 10 pixels of 10 m
        Detection("vehicle", 0.4, Point(50.5, 50.5)),
    ]
    gdf = detections_from_records(recs, scene, detector="test-1")
    assert list(gdf["class"]) == ["vessel", "encampment", "vehicle"]
    back = Transformer.from_crs(4326, scene.crs, always_xy=True)
    assert back.transform(gdf.geometry.iloc[0].x, gdf.geometry.iloc[0].y) == pytest.approx((x0, y0), abs=1e-4)
    assert isinstance(gdf.geometry.iloc[1], Polygon)
    assert gdf["area_m2"].iloc[1] == pytest.approx(10_000.0, rel=0.01)
    assert math.isnan(gdf["area_m2"].iloc[0]) and math.isnan(gdf["heading_deg"].iloc[1])


def test_no_records_give_empty_contract() -> None:
    gdf = detections_from_records([], s1_scene((10, 10)), detector="x")
    assert len(gdf) == 0 and _dtypes(gdf) == EXPECTED_DTYPES


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"cls": "tank"}, "class 'tank'"),
        ({"score": 1.5}, "not in 0..1"),
        ({"score": math.nan}, "not in 0..1"),
        ({"geometry": box(0, 0, 1, 1)}, "vessel detection is a Point"),
        ({"area_m2": 5.0}, "no area"),
        ({"length_m": -1.0}, "length_m"),
        ({"cls": "vehicle", "heading_deg": 10.0}, "only vessels"),
        ({"space": "world"}, "space"),
    ],
)
def test_detection_validation(kwargs: dict[str, object], needle: str) -> None:
    base: dict[str, object] = {"cls": "vessel", "score": 0.5, "geometry": Point(1, 1)}
    with pytest.raises(ValueError, match=needle):
        Detection(**(base | kwargs))  # type: ignore[arg-type]


def test_concat_keeps_schema_through_geojson(tmp_path: Path) -> None:
    scene = s1_scene((50, 50))
    a = detections_from_records([Detection("vessel", 0.8, Point(5, 5), length_m=40.0, width_m=8.0,
                                           heading_deg=45.0)], scene, detector="baseline-cfar-1")
    b = detections_from_records([Detection("encampment", 0.6, box(1, 1, 4, 4))],
                                scene.with_meta(scene_id="other", aoi=""), detector="baseline-cfar-1")
    write_geojson(a, tmp_path / "a.geojson")
    write_geojson(empty_detections(), tmp_path / "empty.geojson")
    read_a = gpd.read_file(tmp_path / "a.geojson")
    read_empty = gpd.read_file(tmp_path / "empty.geojson")
    both = concat_detections([read_a, read_empty, b, empty_detections()])
    assert list(both.columns) == [*DETECTION_COLUMNS, "geometry"] and _dtypes(both) == EXPECTED_DTYPES
    assert both.crs.to_epsg() == 4326 and len(both) == 2
    assert list(both["acquired"]) == ["2024-10-08T01:52:30Z"] * 2  # GDAL's parsed date-time written back
    assert list(both["aoi"]) == ["synthetic", ""]
    assert both.geometry.iloc[0].equals_exact(a.geometry.iloc[0], 1e-6)
    assert concat_detections([]).empty and _dtypes(concat_detections([])) == EXPECTED_DTYPES


def test_as_detections_reprojects_and_rejects_bad_frames() -> None:
    scene = s1_scene((50, 50))
    gdf = detections_from_records([Detection("vessel", 0.8, Point(5, 5))], scene, detector="x")
    again = as_detections(gdf.to_crs(3857).assign(extra=1))
    assert again.crs.to_epsg() == 4326 and "extra" not in again.columns
    assert again.geometry.iloc[0].equals_exact(gdf.geometry.iloc[0], 1e-9)
    with pytest.raises(DetectionError, match="lack the column"):
        as_detections(gdf.drop(columns=["scene_id"]))
    with pytest.raises(DetectionError, match="unknown class"):
        as_detections(gdf.assign(**{"class": "tank"}))
    with pytest.raises(DetectionError, match="simulated"):
        as_detections(gdf.assign(simulated=[None]))
    no_measures = as_detections(gdf.drop(columns=["length_m", "area_m2"]))
    assert no_measures["length_m"].isna().all() and list(no_measures.columns)[-1] == "geometry"


def test_ground_axes() -> None:
    utm = s1_scene((100, 100), gsd_m=10.0)
    np.testing.assert_allclose(ground_axes_m(utm), [[10.0, 0.0], [0.0, -10.0]], rtol=2e-3, atol=1e-9)
    lonlat = Scene(utm.data, utm.bands, CRS.from_epsg(4326), Affine(1e-4, 0, 131.9, 0, -1e-4, 43.1), utm.meta)
    axes = ground_axes_m(lonlat)
    assert axes[0, 0] == pytest.approx(1e-4 * 111_320 * math.cos(math.radians(43.1)), rel=0.01)
    assert axes[1, 1] == pytest.approx(-1e-4 * 111_100, rel=0.01)


def test_auto_hands_a_pre_read_scene_to_its_profile_default(tmp_path: Path) -> None:
    """detect_path with ``auto``: a default without windowed reads (cnn-cfar) gets the caller's scene, no re-read."""
    from satwatch.detection.detector import detect_path
    from tests.conftest import make_scene

    scene = make_scene("s1", height=16, width=16)
    seen: list[Any] = []

    class Whole:
        def detect(self, s: Any) -> str:
            seen.append(s)
            return "found"

    class Auto:
        def delegate(self, sensor: str) -> Whole:
            assert sensor == "s1"
            return Whole()

        def detect_file(self, path: Any) -> str:
            raise AssertionError("read the file again")

    assert detect_path(Auto(), tmp_path / "never-read.tif", scene) == "found"  # type: ignore[arg-type]
    assert seen == [scene] and seen[0] is scene
