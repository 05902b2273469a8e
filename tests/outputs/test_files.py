import json
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, Polygon

from satwatch.outputs.files import write_csv, write_geojson, write_geopackage, write_json


def _layer() -> gpd.GeoDataFrame:
    clockwise = Polygon([(0, 0), (0, 1), (1, 1), (1, 0)])
    return gpd.GeoDataFrame({"name": ["a", "b"], "simulated": [True, True]},
                            geometry=[Point(500_000, 4_700_000), clockwise.buffer(0).exterior.convex_hull],
                            crs=32652)


def test_geojson_is_rfc7946(tmp_path: Path) -> None:
    gdf = _layer()
    gdf.loc[1, "geometry"] = Polygon([(500_000, 4_700_000), (500_000, 4_700_100), (500_100, 4_700_100),
                                      (500_100, 4_700_000)])  # clockwise ring in UTM
    out = write_geojson(gdf, tmp_path / "x.geojson")
    doc = json.loads(out.read_text())
    assert doc["type"] == "FeatureCollection" and "crs" not in doc and doc["name"] == "x"
    lon, lat = doc["features"][0]["geometry"]["coordinates"]
    assert 128 < lon < 130 and 42 < lat < 43
    ring = doc["features"][1]["geometry"]["coordinates"][0]
    assert Polygon(ring).exterior.is_ccw  # right-hand rule
    assert all(f["properties"]["simulated"] is True for f in doc["features"])
    assert gpd.read_file(out).crs.to_epsg() == 4326
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_geopackage_layers(tmp_path: Path) -> None:
    gdf = _layer()
    out = write_geopackage({"points": gdf.iloc[:1], "empty": gdf.iloc[:0]}, tmp_path / "l.gpkg")
    names = [n for n, _ in pyogrio.list_layers(out)]
    assert names == ["points", "empty"]
    assert gpd.read_file(out, layer="points").crs.to_epsg() == 4326


def test_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "counts.csv"
    write_csv(pd.DataFrame({"a": [1]}), target)
    before = target.read_text()

    class Boom(pd.DataFrame):
        def to_csv(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_csv(Boom({"a": [2]}), target)
    assert target.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["counts.csv"]


def test_json_and_ogrinfo(tmp_path: Path) -> None:
    write_json({"a": 1}, tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}
    out = write_geojson(_layer(), tmp_path / "o.geojson")
    try:
        res = subprocess.run(["ogrinfo", "-so", "-al", str(out)], capture_output=True, text=True, check=True)
    except FileNotFoundError:
        pytest.skip("ogrinfo (gdal-bin) not installed")
    assert "Feature Count: 2" in res.stdout
