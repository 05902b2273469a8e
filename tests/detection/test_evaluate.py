"""Evaluation of detections against labels: hand-made cases with known outcomes, COCO labels, the CLI."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from shapely.geometry import Point, box

from satwatch.cli import main
from satwatch.detection.data.label_files import load_coco_labels, read_detections, read_labels
from satwatch.detection.detections import empty_detections
from satwatch.detection.training.evaluate import ALL, Metrics, evaluate
from satwatch.errors import InputFileError, SceneFormatError, UsageError
from satwatch.outputs.files import write_geojson

REPO = Path(__file__).resolve().parents[2]
SEN2SHIPS = Path(os.environ.get("SATWATCH_SEN2SHIPS", REPO.parent / "shared" / "data" / "sen2ships"))
needs_sen2ships = pytest.mark.skipif(not (SEN2SHIPS / "annotations.json").is_file(),
                                     reason="sen2ships data not found (../shared/data/sen2ships)")

UTM = 32633  # metres; x0/y0 near lon 15, lat 43
X0, Y0 = 500_000.0, 4_760_000.0


def _gdf(geoms: list[shapely.Geometry], **columns: Any) -> gpd.GeoDataFrame:
    """Geometries given in metres relative to (X0, Y0) in UTM 33N, returned in EPSG:4326."""
    moved = [shapely.affinity.translate(g, X0, Y0) for g in geoms]
    n = len(geoms)
    data = {k: (v if isinstance(v, list) else [v] * n) for k, v in columns.items()}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(moved, crs=UTM), crs=UTM).to_crs(4326)


def _dets(xy: list[tuple[float, float]], scores: list[float] | None = None, **columns: Any) -> gpd.GeoDataFrame:
    columns.setdefault("class", "vessel")
    columns.setdefault("scene_id", "s")
    return _gdf([Point(x, y) for x, y in xy], score=scores or [0.9] * len(xy), **columns)


def _labels(geoms: list[shapely.Geometry], **columns: Any) -> gpd.GeoDataFrame:
    columns.setdefault("class", "vessel")
    columns.setdefault("scene_id", "s")
    return _gdf(geoms, **columns)


def _one(result: Any, cls: str = "vessel") -> Metrics:
    (m,) = [m for m in result.per_class if m.cls == cls]
    return m


# ---------------------------------------------------------------------------------------------------------------
# Matching


def test_two_detections_near_one_label_are_one_tp_and_one_fp() -> None:
    result = evaluate(_dets([(5.0, 0.0), (-8.0, 0.0)], [0.9, 0.8]), _labels([Point(0, 0)]))
    m = _one(result)
    assert (m.tp, m.fp, m.fn) == (1, 1, 0)
    assert m.precision == 0.5 and m.recall == 1.0 and m.f1 == pytest.approx(2 / 3)
    assert m.count_error == 1 and m.relative_count_error == 1.0
    outcome = result.detections.sort_values("score", ascending=False)["outcome"].tolist()
    assert outcome == ["tp", "fp"]  # the more confident detection claims the label


def test_greedy_by_score_then_by_distance() -> None:
    # a confident but farther detection wins over a closer, less confident one
    result = evaluate(_dets([(20.0, 0.0), (2.0, 0.0)], [0.9, 0.5]), _labels([Point(0, 0)]))
    assert result.detections["outcome"].tolist() == ["tp", "fp"]
    assert result.detections["distance_m"].iloc[0] == pytest.approx(20.0, abs=0.05)
    # equal scores: the closer one wins
    result = evaluate(_dets([(20.0, 0.0), (2.0, 0.0)], [0.7, 0.7]), _labels([Point(0, 0)]))
    assert result.detections["outcome"].tolist() == ["fp", "tp"]
    # one detection between two labels takes the nearer; the other label is a miss
    result = evaluate(_dets([(4.0, 0.0)]), _labels([Point(0, 0), Point(12, 0)]))
    assert result.labels["outcome"].tolist() == ["tp", "fn"]


def test_detection_inside_a_large_polygon_far_from_its_centre_matches() -> None:
    camp = box(-500, -500, 500, 500)
    inside_far = _dets([(450.0, 430.0)], **{"class": "encampment"})
    assert _one(evaluate(inside_far, _labels([camp], **{"class": "encampment"})), "encampment").tp == 1
    # 20 m outside the edge is within the 30 m match distance; 40 m is not
    near = _dets([(520.0, 0.0), (-540.0, 0.0)], [0.9, 0.8], **{"class": "encampment"})
    result = evaluate(near, _labels([camp, box(2000, 2000, 2100, 2100)], **{"class": "encampment"}))
    assert result.detections["outcome"].tolist() == ["tp", "fp"]


def test_match_distance() -> None:
    dets, labels = _dets([(25.0, 0.0)]), _labels([Point(0, 0)])
    assert _one(evaluate(dets, labels)).tp == 1  # default 30 m
    m = _one(evaluate(dets, labels, match_distance_m=20.0))
    assert (m.tp, m.fp, m.fn) == (0, 1, 1)
    m = _one(evaluate(_dets([(0.0, 0.0)]), labels, match_distance_m=0.0))
    assert m.tp == 1  # 0 m: only exact positions (or inside polygons)


def test_vehicles_match_within_three_metres_by_default_so_a_roof_cannot_claim_a_missed_car() -> None:
    # a row of three cars 2.5 m apart; the detector finds the first, and raises a false alarm 12 m away
    cars = _labels([Point(0, 0), Point(2.5, 0), Point(5.0, 0)], **{"class": "vehicle"})
    dets = _dets([(0.3, 0.0), (5.0, 12.0)], [0.9, 0.8], **{"class": "vehicle"})
    m = _one(evaluate(dets, cars), "vehicle")
    assert (m.tp, m.fp, m.fn) == (1, 1, 2)
    lax = _one(evaluate(dets, cars, match_distance_m=30.0), "vehicle")  # one distance for every class
    assert (lax.tp, lax.fp, lax.fn) == (2, 0, 1)
    both = evaluate(pd.concat([dets, _dets([(25.0, 0.0)])], ignore_index=True),
                    pd.concat([cars, _labels([Point(0, 0)])], ignore_index=True))
    assert _one(both, "vessel").tp == 1 and _one(both, "vehicle").tp == 1  # 25 m: a vessel match, never a car's
    assert both.match_distance_m == {"vehicle": 3.0, "vessel": 30.0}
    per_class = _one(evaluate(dets, cars, match_distance_m={"vehicle": 13.0}), "vehicle")
    assert per_class.tp == 2


def test_dont_care_labels_are_neither_hit_nor_miss() -> None:
    labels = _labels([Point(0, 0), Point(1000, 0), Point(3000, 0)], visible=[True, False, False])
    dets = _dets([(3.0, 0.0), (1004.0, 0.0), (1010.0, 0.0), (2000.0, 0.0)])
    result = evaluate(dets, labels)
    m = _one(result)
    assert (m.tp, m.fp, m.fn, m.ignored, m.dont_care) == (1, 1, 0, 2, 2)
    assert m.n_labels == 1 and m.n_detections == 2 and m.count_error == 1
    assert result.detections["outcome"].tolist() == ["tp", "ignored", "ignored", "fp"]
    assert result.labels["outcome"].tolist() == ["tp", "dont_care", "dont_care"]


def test_visible_label_is_preferred_over_a_dont_care_one() -> None:
    # the detection is nearer the hidden label, yet it counts for the visible one
    labels = _labels([Point(0, 0), Point(15, 0)], visible=[True, False])
    m = _one(evaluate(_dets([(12.0, 0.0)]), labels))
    assert (m.tp, m.fp, m.fn, m.ignored) == (1, 0, 0, 0)


def test_visible_column_as_text_from_other_tools() -> None:
    labels = _labels([Point(0, 0), Point(500, 0)], visible=["true", "false"])
    m = _one(evaluate(_dets([(0.0, 0.0)]), labels))
    assert (m.tp, m.fn, m.dont_care) == (1, 0, 1)


def test_classes_never_match_each_other_and_class_filter() -> None:
    labels = _labels([Point(0, 0), box(1000, 0, 1100, 100)], **{"class": ["vessel", "vehicle"]})
    dets = _dets([(0.0, 0.0), (1050.0, 50.0)], **{"class": ["vehicle", "vehicle"]})
    result = evaluate(dets, labels)
    assert [(m.cls, m.tp, m.fp, m.fn) for m in result.per_class] == [("vehicle", 1, 1, 0), ("vessel", 0, 0, 1)]
    assert (result.total.tp, result.total.fp, result.total.fn) == (1, 1, 1)
    only = evaluate(dets, labels, cls="vessel")
    assert [(m.cls, m.tp, m.fp, m.fn) for m in only.per_class] == [("vessel", 0, 0, 1)]


def test_min_score_leaves_out_weak_detections() -> None:
    dets = _dets([(0.0, 0.0), (500.0, 0.0)], [0.9, 0.2])
    m = _one(evaluate(dets, _labels([Point(0, 0)]), min_score=0.5))
    assert (m.tp, m.fp, m.fn) == (1, 0, 0)


def test_per_scene_split_and_median_count_error() -> None:
    labels = _labels([Point(0, 0), Point(100, 0), Point(0, 0), Point(0, 0)], scene_id=["a", "a", "b", "c"])
    # scene a: both found; scene b: the label's position is found on scene a only -> a miss + nothing;
    # scene c: found twice -> 1 tp + 1 fp
    dets = _dets([(0.0, 0.0), (100.0, 0.0), (0.0, 0.0), (300.0, 0.0)], scene_id=["a", "a", "c", "c"])
    result = evaluate(dets, labels)
    rows = {m.scene_id: (m.tp, m.fp, m.fn, m.count_error) for m in result.per_scene}
    assert rows == {"a": (2, 0, 0, 0), "b": (0, 0, 1, -1), "c": (1, 1, 0, 1)}
    assert result.median_relative_count_error["vessel"] == 1.0  # [0, 1, 1]
    assert result.median_relative_count_error[ALL] == 1.0
    assert (result.total.scene_id, result.total.cls, result.total.tp) == (ALL, ALL, 3)


def test_scene_id_handling() -> None:
    labels, dets = _labels([Point(0, 0)], scene_id="port"), _dets([(0.0, 0.0)], scene_id="s2_2024")
    with pytest.raises(UsageError, match="share none; pass --scene-id"):
        evaluate(dets, labels)
    result = evaluate(dets, labels, scene_id="port")
    assert [m.scene_id for m in result.per_scene] == ["port"] and result.total.tp == 1
    # labels without a scene_id column: one scene, named after the detections' only scene
    plain = _gdf([Point(0, 0)], **{"class": "vessel"})
    assert [m.scene_id for m in evaluate(dets, plain).per_scene] == ["s2_2024"]


def test_detections_on_unlabelled_scenes_left_out_unless_all_scenes() -> None:
    labels = _labels([Point(0, 0)], scene_id="a")
    dets = _dets([(0.0, 0.0), (0.0, 0.0)], scene_id=["a", "z"])
    result = evaluate(dets, labels)
    assert (result.total.tp, result.total.fp) == (1, 0)
    assert any("without labels were not evaluated" in n for n in result.notes)
    counted = evaluate(dets, labels, all_scenes=True)
    assert (counted.total.tp, counted.total.fp) == (1, 1)
    assert [m.scene_id for m in counted.per_scene] == ["a", "z"]


def test_iou_matching_for_polygons() -> None:
    label = _labels([box(0, 0, 100, 100)], **{"class": "encampment"})
    det = _gdf([box(40, 0, 140, 100)], score=0.8, scene_id="s", **{"class": "encampment"})  # IoU 60/140
    assert _one(evaluate(det, label), "encampment").tp == 1  # centroid (90, 50) inside the label
    m = _one(evaluate(det, label, iou_threshold=0.3), "encampment")
    assert m.tp == 1
    assert evaluate(det, label, iou_threshold=0.3).detections["iou"].iloc[0] == pytest.approx(60 / 140, abs=1e-3)
    m = _one(evaluate(det, label, iou_threshold=0.5), "encampment")
    assert (m.tp, m.fp, m.fn) == (0, 1, 1)  # IoU decides, although the centroid is inside
    # a tiny polygon inside a large label is a location match but not an IoU match
    tiny = _gdf([box(10, 10, 20, 20)], score=0.8, scene_id="s", **{"class": "encampment"})
    assert _one(evaluate(tiny, label), "encampment").tp == 1
    assert _one(evaluate(tiny, label, iou_threshold=0.3), "encampment").tp == 0
    # point detections of an area class still match polygon labels by location with --iou
    point = _dets([(50.0, 50.0)], **{"class": "encampment"})
    assert _one(evaluate(point, label, iou_threshold=0.3), "encampment").tp == 1


def test_labels_in_another_crs_and_without_class_column() -> None:
    labels = _labels([Point(0, 0), Point(200, 0)]).to_crs(3857).drop(columns=["class"])
    dets = _dets([(3.0, 1.0)])
    with pytest.raises(UsageError, match="no 'class' column; pass --class"):
        evaluate(dets, labels)
    m = _one(evaluate(dets, labels, cls="vessel"))
    assert (m.tp, m.fp, m.fn) == (1, 0, 1)


def test_no_detections_and_no_labels(tmp_path: Path) -> None:
    result = evaluate(empty_detections(), _labels([Point(0, 0)]))
    m = _one(result)
    assert (m.tp, m.fp, m.fn) == (0, 0, 1) and math.isnan(m.precision) and m.recall == 0.0 and m.f1 == 0.0
    assert result.to_dict()["total"]["precision"] is None
    # an empty detections file reads back without columns: the labels' scenes are still kept apart
    path = tmp_path / "none.geojson"
    write_geojson(empty_detections(), path)
    two = evaluate(read_detections(path), _labels([Point(0, 0), Point(0, 0)], scene_id=["a", "b"]))
    assert [(m.scene_id, m.fn) for m in two.per_scene] == [("a", 1), ("b", 1)]
    nothing = evaluate(empty_detections(), _labels([]))
    assert nothing.per_scene == () and nothing.total.tp == 0 and math.isnan(nothing.total.f1)


def test_bad_options_and_geometries() -> None:
    dets, labels = _dets([(0.0, 0.0)]), _labels([Point(0, 0)])
    for kwargs, needle in (({"match_distance_m": -1.0}, "match distance"), ({"iou_threshold": 1.5}, "IoU"),
                           ({"min_score": 2.0}, "minimum score"), ({"cls": "tank"}, "class 'tank'")):
        with pytest.raises(UsageError, match=needle):
            evaluate(dets, labels, **kwargs)
    lines = _labels([shapely.LineString([(0, 0), (10, 0)])])
    with pytest.raises(UsageError, match="points or polygons"):
        evaluate(dets, lines)


def test_many_objects_match_quickly() -> None:
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 20_000, size=(5000, 2))
    labels = _labels([Point(x, y) for x, y in xy])
    jitter = xy + rng.normal(0, 3, size=xy.shape)
    result = evaluate(_dets([(x, y) for x, y in jitter], rng.uniform(0.1, 1, 5000).tolist()), labels)
    assert result.total.tp >= 4990 and result.total.fn == result.total.fp


# ---------------------------------------------------------------------------------------------------------------
# COCO labels


@needs_sen2ships
def test_coco_casablanca_has_15_ships_in_4326_near_casablanca() -> None:
    labels = load_coco_labels(SEN2SHIPS / "annotations.json", "casablanca")
    assert len(labels) == 15 and labels.crs.to_epsg() == 4326
    assert set(labels["class"]) == {"vessel"} and set(labels["scene_id"]) == {"casablanca"}
    assert labels["visible"].all() and (labels.geometry.geom_type == "Polygon").all()
    centres = labels.to_crs(3857).centroid.to_crs(4326)
    lon, lat = centres.x, centres.y
    assert ((lon - -7.6).abs() < 0.1).all() and ((lat - 33.6).abs() < 0.1).all()
    # a box's corners are the raster's pixel corners, through its transform (EPSG:3857) to lon/lat
    with rasterio.open(SEN2SHIPS / "casablanca" / "B02.tiff") as src:
        t = src.transform
    coco = json.loads((SEN2SHIPS / "annotations.json").read_text())
    image_id = next(im["id"] for im in coco["images"] if im["file_name"] == "casablanca")
    x, y, w, h = next(a["bbox"] for a in coco["annotations"] if a["image_id"] == image_id)
    to_ll = Transformer.from_crs(3857, 4326, always_xy=True)
    west, north = to_ll.transform(*(t @ (x, y)))
    east, south = to_ll.transform(*(t @ (x + w, y + h)))
    assert labels.geometry.iloc[0].bounds == pytest.approx((west, south, east, north), abs=1e-9)


@needs_sen2ships
def test_coco_all_images_at_once_and_by_raster_path(tmp_path: Path) -> None:
    labels = load_coco_labels(SEN2SHIPS / "annotations.json")
    assert len(labels) == 317 and labels["scene_id"].nunique() == 12
    genoa = read_labels(SEN2SHIPS / "annotations.json", raster=SEN2SHIPS / "genoa" / "B04.tiff")
    assert len(genoa) == 29 and set(genoa["scene_id"]) == {"genoa"}
    with pytest.raises(UsageError, match="no image 'atlantis'"):
        load_coco_labels(SEN2SHIPS / "annotations.json", "atlantis")
    wrong = tmp_path / "genoa" / "B02.tiff"  # casablanca's raster in a folder named genoa
    wrong.parent.mkdir()
    wrong.write_bytes((SEN2SHIPS / "casablanca" / "B02.tiff").read_bytes())
    with pytest.raises(UsageError, match="is 511 x 339 px but COCO image 'genoa' is 2201 x 871"):
        load_coco_labels(SEN2SHIPS / "annotations.json", wrong)
    with pytest.raises(UsageError, match="only for COCO"):
        read_labels(REPO / "aoi" / "aois.geojson", raster=SEN2SHIPS / "genoa" / "B04.tiff")


def _tiny_coco(tmp_path: Path, crs: str | None = "EPSG:32633") -> Path:
    transform = Affine(10.0, 0.0, X0, 0.0, -10.0, Y0)
    profile = {"driver": "GTiff", "width": 40, "height": 30, "count": 1, "dtype": "uint16", "transform": transform}
    if crs:
        profile["crs"] = crs
    with rasterio.open(tmp_path / "tile.tif", "w", **profile) as dst:
        dst.write(np.zeros((1, 30, 40), dtype=np.uint16))
    coco = {
        "images": [{"id": 7, "file_name": "tile.tif", "width": 40, "height": 30}],
        "categories": [{"id": 1, "name": "Ship"}, {"id": 2, "name": "tent"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [2, 3, 4, 5], "iscrowd": 0},
            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [20, 10, 3, 3], "iscrowd": 1},
            {"id": 3, "image_id": 7, "category_id": 2, "bbox": [30, 20, 2, 2]},
        ],
    }
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(coco))
    return path


def test_coco_boxes_crowds_and_categories(tmp_path: Path) -> None:
    labels = load_coco_labels(_tiny_coco(tmp_path))
    assert labels["class"].tolist() == ["vessel", "vessel", "tent"]  # Ship -> vessel; unknown names kept
    assert labels["visible"].tolist() == [True, False, True]  # iscrowd -> don't care
    assert labels["scene_id"].tolist() == ["tile.tif"] * 3
    utm = labels.to_crs(UTM).geometry.iloc[0].bounds
    assert utm == pytest.approx((X0 + 20, Y0 - 80, X0 + 60, Y0 - 30), abs=1e-3)
    assert len(load_coco_labels(tmp_path / "annotations.json", "tile")) == 3
    assert len(load_coco_labels(tmp_path / "annotations.json", str(tmp_path / "tile.tif"))) == 3


def test_coco_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="does not exist"):
        load_coco_labels(tmp_path / "nothing.json")
    path = _tiny_coco(tmp_path, crs=None)
    with pytest.raises(SceneFormatError, match="no CRS"):
        load_coco_labels(path)
    (tmp_path / "tile.tif").unlink()
    with pytest.raises(InputFileError, match=r"no raster for COCO image 'tile\.tif'"):
        load_coco_labels(path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputFileError, match="not readable JSON"):
        read_labels(tmp_path / "bad.json")
    (tmp_path / "junk.geojson").write_text("hello")
    with pytest.raises(InputFileError, match="not a readable"):
        read_labels(tmp_path / "junk.geojson")


# ---------------------------------------------------------------------------------------------------------------
# CLI


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dets, labels, out = tmp_path / "d.geojson", tmp_path / "l.geojson", tmp_path / "m" / "metrics.json"
    write_geojson(_dets([(5.0, 0.0), (-8.0, 0.0)], [0.9, 0.8]), dets)
    write_geojson(_labels([Point(0, 0), Point(900, 0)]), labels)
    code, stdout, err = _run(capsys, "evaluate", "--detections", str(dets), "--labels", str(labels),
                             "--out", str(out))
    assert code == 0, err
    assert "precision" in stdout and "median per-scene relative count error" in stdout
    record = json.loads(out.read_text())
    assert record["total"]["tp"] == 1 and record["total"]["fp"] == 1 and record["total"]["fn"] == 1
    assert record["total"]["f1"] == 0.5 and record["settings"]["match_distance_m"] == {"vessel": 30.0}
    assert record["per_scene"][0]["scene_id"] == "s" and record["detections"] == str(dets)
    assert not [p for p in out.parent.iterdir() if p.name != "metrics.json"]  # no temporary left over


@pytest.mark.parametrize(
    ("which", "needle"), [("detections", "detections file"), ("labels", "labels file")]
)
def test_cli_missing_file_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str, needle: str
) -> None:
    present = tmp_path / "x.geojson"
    write_geojson(_labels([Point(0, 0)]), present)
    missing = tmp_path / "nope.geojson"
    args = {"detections": present, "labels": present, which: missing}
    out = tmp_path / "metrics.json"
    code, _, err = _run(capsys, "evaluate", "--detections", str(args["detections"]), "--labels",
                        str(args["labels"]), "--out", str(out))
    assert code == 2
    lines = err.strip().splitlines()
    assert lines == [f"satwatch: error: {needle} {missing} does not exist"]
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [(("--iou", "1.5"), "IoU threshold"), (("--match-distance-m", "-3"), "match distance"),
     (("--scene-id", ""), None), (("--class", "tank"), "class 'tank'")],
)
def test_cli_bad_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], needle: str | None
) -> None:
    dets, labels, out = tmp_path / "d.geojson", tmp_path / "l.geojson", tmp_path / "metrics.json"
    write_geojson(_dets([(0.0, 0.0)]), dets)
    write_geojson(_labels([Point(0, 0)]), labels)
    code, _, err = _run(capsys, "evaluate", "--detections", str(dets), "--labels", str(labels), "--out", str(out),
                        *extra)
    if needle is None:  # an empty --scene-id is still a scene id
        assert code == 0, err
        return
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err and "Traceback" not in err
    assert not out.exists()


@needs_sen2ships
def test_cli_coco_labels_with_raster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = load_coco_labels(SEN2SHIPS / "annotations.json", "casablanca")
    centres = labels.to_crs(3857).centroid.to_crs(4326)
    dets = gpd.GeoDataFrame({"class": "vessel", "score": 0.9, "scene_id": "casablanca"}, index=range(14),
                            geometry=centres.iloc[:14].to_numpy(), crs=4326)
    path = tmp_path / "d.geojson"
    write_geojson(dets, path)
    code, out, err = _run(capsys, "evaluate", "--detections", str(path), "--labels",
                          str(SEN2SHIPS / "annotations.json"), "--raster", str(SEN2SHIPS / "casablanca" / "B02.tiff"),
                          "--out", str(tmp_path / "m.json"))
    assert code == 0, err
    total = json.loads((tmp_path / "m.json").read_text())["total"]
    assert (total["tp"], total["fp"], total["fn"], total["count_error"]) == (14, 0, 1, -1)
    assert "casablanca" in out


def test_cli_baseline_on_a_simulated_scene_against_its_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scene, truth, dets = tmp_path / "s1.tif", tmp_path / "truth.geojson", tmp_path / "d.geojson"
    tiny = REPO / "scenarios" / "tiny.yaml"
    code, _, err = _run(capsys, "simulate", "--aoi", "ru_dunai", "--date", "2024-09-15", "--sensor", "s1",
                        "--scenario", str(tiny), "--out", str(scene), "--truth", str(truth))
    assert code == 0, err
    code, _, err = _run(capsys, "detect", str(scene), "--out", str(dets), "--detector", "baseline")
    assert code == 0, err
    metrics = tmp_path / "metrics.json"
    code, out, err = _run(capsys, "evaluate", "--detections", str(dets), "--labels", str(truth), "--out", str(metrics))
    assert code == 0, err
    assert "SIMULATED" in out and "vessel" in out
    record = json.loads(metrics.read_text())
    assert record["simulated"] is True
    planted = gpd.read_file(truth)
    found = read_detections(dets)
    (vessel,) = [m for m in record["per_class"] if m["class"] == "vessel"]
    visible = int((planted["class"] == "vessel").sum()) - vessel["dont_care"]
    assert vessel["labels"] == visible and vessel["labels"] >= 5
    assert vessel["tp"] + vessel["fp"] + vessel["ignored"] == int((found["class"] == "vessel").sum())
    assert vessel["tp"] >= 4  # the anchored ships at least (the baseline misses ships against a quay)
    assert {m["scene_id"] for m in record["per_scene"]} == set(found["scene_id"])
