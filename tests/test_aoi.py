import json
from pathlib import Path

import geopandas as gpd
import pytest
import yaml
from shapely.geometry import MultiPolygon, Polygon, box

from satwatch.aoi import MAX_AREA_KM2, load_aoi_file, load_catalog, resolve_aoi, resolve_aois
from satwatch.errors import AOIError, InputFileError, UnknownAOIError

SHARED_AOIS = Path(__file__).resolve().parents[2] / "shared" / "research" / "aois.yaml"


def _write_fc(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _feat(aoi_id: str, geom: dict) -> dict:
    return {"type": "Feature", "properties": {"id": aoi_id, "name": aoi_id}, "geometry": geom}


def _box(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def test_catalog_has_every_researched_aoi_with_required_properties() -> None:
    catalog = load_catalog()
    if SHARED_AOIS.is_file():
        researched = {a["id"] for a in yaml.safe_load(SHARED_AOIS.read_text())}
        assert researched <= set(catalog)
    assert len(catalog) >= 19
    for aoi in catalog.values():
        assert aoi.name and aoi.country in ("KP", "RU") and aoi.rationale and aoi.confidence
        assert set(aoi.watch) <= {"vessel", "vehicle", "encampment"}
        assert 1 < aoi.area_km2 < 2000


def test_dunai_geometry_area_and_utm() -> None:
    aoi = load_catalog()["ru_dunai"]
    assert aoi.bbox == pytest.approx((132.30, 42.85, 132.40, 42.92))
    # 0.1 deg x 0.07 deg at 42.9 N: 8.15 km x 7.77 km
    assert aoi.area_km2 == pytest.approx(63.5, abs=0.5)
    assert aoi.utm_epsg == 32653


def test_user_geojson_is_accepted_as_aoi(tmp_path: Path) -> None:
    p = _write_fc(tmp_path / "mine.geojson", [_feat("my_port", _box(131.9, 43.0, 131.95, 43.05))])
    aoi = resolve_aoi(str(p))
    assert aoi.id == "my_port" and aoi.area_km2 > 1


def test_single_feature_without_id_takes_file_stem(tmp_path: Path) -> None:
    p = _write_fc(tmp_path / "harbour.geojson", [{"type": "Feature", "properties": {},
                                                   "geometry": _box(131.9, 43.0, 131.95, 43.05)}])
    assert resolve_aoi(str(p)).id == "harbour"


def test_non_wgs84_geopackage_is_reprojected(tmp_path: Path) -> None:
    gdf = gpd.GeoDataFrame({"id": ["utm_box"]}, geometry=[box(400_000, 4_760_000, 405_000, 4_765_000)], crs=32652)
    p = tmp_path / "utm.gpkg"
    gdf.to_file(p, driver="GPKG")
    aoi = load_aoi_file(p)[0]
    minx, miny, maxx, maxy = aoi.geometry.bounds
    assert 125 < minx < maxx < 135 and 40 < miny < maxy < 45
    assert aoi.area_km2 == pytest.approx(25.0, rel=0.01)


def test_antimeridian_crossing_is_split_not_rejected(tmp_path: Path) -> None:
    # Chukotka-like box given with longitudes beyond 180, and again as a ring jumping +179.9 -> -179.9.
    for i, ring in enumerate([
        [[179.8, 64.7], [180.3, 64.7], [180.3, 64.8], [179.8, 64.8], [179.8, 64.7]],
        [[179.8, 64.7], [-179.7, 64.7], [-179.7, 64.8], [179.8, 64.8], [179.8, 64.7]],
    ]):
        p = _write_fc(tmp_path / f"am{i}.geojson", [_feat(f"am{i}", {"type": "Polygon", "coordinates": [ring]})])
        aoi = load_aoi_file(p)[0]
        assert isinstance(aoi.geometry, MultiPolygon) and len(aoi.geometry.geoms) == 2
        assert aoi.crosses_antimeridian
        assert all(g.bounds[0] >= -180 and g.bounds[2] <= 180 for g in aoi.geometry.geoms)
        # 0.5 deg x 0.1 deg at 64.75 N: ~23.8 km x 11.1 km
        assert aoi.area_km2 == pytest.approx(264, rel=0.03)
        assert aoi.bbox[0] == pytest.approx(179.8) and aoi.bbox[2] == pytest.approx(-179.7)
        assert aoi.utm_epsg in (32601, 32660)
        lon, _ = aoi.centroid_lonlat
        assert lon == pytest.approx(-179.95, abs=0.01)


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([_feat("bowtie", {"type": "Polygon", "coordinates": [[[131, 43], [131.1, 43.1], [131.1, 43], [131, 43.1],
                                                                [131, 43]]]})], "invalid geometry"),
        ([_feat("empty", {"type": "Polygon", "coordinates": []})], "empty geometry"),
        ([_feat("tiny", _box(131, 43, 131.0001, 43.0001))], "under the"),
        ([_feat("huge", _box(100, 30, 140, 60))], "over the"),
        ([_feat("dup", _box(131, 43, 131.1, 43.1)), _feat("dup", _box(132, 43, 132.1, 43.1))], "more than once"),
        ([_feat("../../etc", _box(131, 43, 131.1, 43.1))], "not safe as a file name"),
        ([_feat("Has Space", _box(131, 43, 131.1, 43.1))], "not safe as a file name"),
        ([_feat("pt", {"type": "Point", "coordinates": [131, 43]})], "must be a Polygon"),
        ([_feat("metres", _box(400000, 4700000, 405000, 4705000))], "outside longitude/latitude"),
    ],
)
def test_invalid_aois_are_refused_with_a_clear_message(tmp_path: Path, features: list[dict], message: str) -> None:
    p = _write_fc(tmp_path / "bad.geojson", features)
    with pytest.raises(AOIError, match=message):
        load_aoi_file(p)


def test_watch_classes_are_checked(tmp_path: Path) -> None:
    f = _feat("w", _box(131, 43, 131.1, 43.1))
    f["properties"]["watch"] = ["vessel", "submarine"]
    with pytest.raises(AOIError, match="unknown classes"):
        load_aoi_file(_write_fc(tmp_path / "w.geojson", [f]))


def test_unknown_aoi_and_missing_file() -> None:
    with pytest.raises(UnknownAOIError, match="satwatch aoi list"):
        resolve_aois(["atlantis"])
    with pytest.raises(InputFileError, match="does not exist"):
        resolve_aois(["/nonexistent/aoi.geojson"])


def test_to_feature_is_right_hand_rule() -> None:
    aoi = load_catalog()["kp_rajin_port"]
    ring = aoi.to_feature()["geometry"]["coordinates"][0]
    assert Polygon(ring).exterior.is_ccw
    assert aoi.area_km2 < MAX_AREA_KM2
