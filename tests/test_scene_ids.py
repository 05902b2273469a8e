"""Every detection names its scene uniquely and, for `satwatch detect` and batch, its source file.

Chips cut from one acquisition (or files written without an AOI) share one tagged scene id
(``scene_s2_<time>``); before the fix every chip of one date came out under that one id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pytest

from satwatch.aoi import resolve_aoi
from satwatch.cli import main
from satwatch.imagery.scenario import load_scenario
from satwatch.imagery.scene import read_scene_header, unique_scene_ids, write_scene
from satwatch.imagery.simulated import render

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def chips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three files of one rendered S2 scene with vessels, all tagged ``scene_s2_20240911T...``: two stems repeat."""
    scene = render(resolve_aoi("ru_dunai"), datetime(2024, 9, 11, 1, 50, tzinfo=UTC), "s2",
                   load_scenario(REPO / "scenarios" / "tiny.yaml")).scene
    scene = scene.with_meta(aoi="", scene_id="scene_s2_20240911T015000")
    root = tmp_path_factory.mktemp("chips")
    paths = [root / "a" / "chip1.tif", root / "a" / "chip2.tif", root / "b" / "chip1.tif"]
    for p in paths:
        p.parent.mkdir(exist_ok=True)
        write_scene(scene, p)
    return paths


def test_unique_ids_keep_a_lone_id_and_tell_shared_ones_apart(chips: list[Path]) -> None:
    headers = [read_scene_header(p) for p in chips]
    ids = unique_scene_ids(headers)
    assert len(set(ids)) == 3
    assert ids[1] == "scene_s2_20240911T015000-chip2"
    assert ids[0].startswith("scene_s2_20240911T015000-chip1-") and ids[2].startswith("scene_s2_20240911T015000-chip1-")
    assert unique_scene_ids(headers[1:2]) == ["scene_s2_20240911T015000"]  # nothing to tell apart


def test_detect_names_each_file_and_scene(chips: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "det.geojson"
    assert main(["detect", *map(str, chips), "--detector", "baseline", "--out", str(out)]) == 0
    det = gpd.read_file(out)
    assert len(det) > 0 and len(det) % 3 == 0
    by_file = det.groupby("source_file")["scene_id"].unique()
    assert set(by_file.index) == {str(p.resolve()) for p in chips}
    assert all(len(ids) == 1 for ids in by_file) and len({ids[0] for ids in by_file}) == 3


def test_batch_names_each_file_and_scene(chips: list[Path], tmp_path: Path) -> None:
    from satwatch.batch import run_batch

    summary = run_batch(chips, tmp_path / "batch", detector="baseline", device="cpu", workers=0, progress=False)
    det = gpd.read_file(summary.detections_path)
    assert summary.scenes == 3 and len(det) > 0
    assert det.groupby("scene_id")["source_file"].nunique().max() == 1
    assert set(det["source_file"]) == {str(p.resolve()) for p in chips} and det["scene_id"].nunique() == 3
    assert len(list((tmp_path / "batch" / "per_scene").glob("*.geojson"))) == 3  # none overwrote another


def test_batch_leaves_out_an_unreadable_file_and_lists_it(chips: list[Path], tmp_path: Path) -> None:
    import json

    from satwatch.batch import run_batch

    bad = tmp_path / "bad.tif"
    bad.write_bytes(chips[0].read_bytes()[:4000])
    summary = run_batch([chips[1], bad], tmp_path / "batch", detector="baseline", device="cpu", workers=0,
                        progress=False)
    assert summary.scenes == 1 and summary.excluded == 1
    [listed] = json.loads(Path(summary.summary_path).read_text())["excluded"]
    assert listed["path"] == str(bad.resolve()) and "truncated or corrupt" in listed["reason"]
