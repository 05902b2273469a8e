"""Faults a scheduled run survives: unreadable scenes (quarantined, fetched again or excluded), damaged cache
entries (a miss, detected again and replaced), and a cache hit that decodes no pixel."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest

import satwatch.pipeline.scene as monitor
from satwatch.imagery.archive import Archive
from satwatch.imagery.scenario import load_scenario
from satwatch.imagery.scene import read_scene, read_scene_header
from satwatch.imagery.simulated import render
from satwatch.pipeline import ExcludedScene, SceneResult, build_request, finish_run, new_run_dir, open_source
from satwatch.settings import load_settings

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "scenarios" / "tiny.yaml"


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _one_s2(request_end: date = date(2024, 9, 14)) -> tuple[Any, Any, Any, Path]:
    request = build_request(["ru_dunai"], date(2024, 9, 10), request_end, ["s2"], scenario_path=TINY,
                            detector="baseline")
    source, aoi = open_source(request), request.aois[0]
    [acq] = source.search(aoi, request.start, request.end, "s2")
    return request, acq, aoi, source.fetch(acq, aoi, load_settings().archive_dir)


def _counting_detect(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    from satwatch.detection.models.baseline import BaselineDetector

    calls = {"detect": 0}
    detect = BaselineDetector.detect

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["detect"] += 1
        return detect(self, *args, **kwargs)

    monkeypatch.setattr(BaselineDetector, "detect", counted)
    return calls


def test_truncated_scene_is_quarantined_rendered_again_and_the_run_uses_it(
        caplog: pytest.LogCaptureFixture) -> None:
    request, acq, aoi, path = _one_s2()
    settings = load_settings()
    run_dir = new_run_dir(settings.outputs_dir, request)
    good = path.read_bytes()
    _truncate(path)
    with caplog.at_level(logging.WARNING, logger="satwatch"):
        result = monitor.scene_stage(request, acq, aoi, path, run_dir, settings.archive_dir)
    assert isinstance(result, SceneResult)
    assert path.read_bytes() == good  # rendered again: the same bytes as before the damage
    [folder] = list(settings.quarantine_dir.iterdir())
    reason = json.loads((folder / "reason.json").read_text())
    assert reason["path"] == str(path.resolve()) and "truncated or corrupt" in reason["reason"]
    assert {f"{path.stem}.tif", f"{path.stem}.json", f"{path.stem}.truth.geojson"} <= set(reason["files"])
    assert len((folder / path.name).read_bytes()) == len(good) // 2  # the damaged file itself, kept for a look
    assert any(str(path) in r.getMessage() and "quarantined" in r.getMessage() for r in caplog.records)


def test_unreadable_scene_that_cannot_be_fetched_again_is_excluded_and_listed() -> None:
    """--source archive cannot fetch anything: the damaged scene is excluded, named in run.json and the report."""
    settings = load_settings()
    scenario = load_scenario(TINY)
    request = build_request(["ru_dunai"], date(2024, 9, 1), date(2024, 9, 30), ["s1"], source="archive",
                            detector="baseline")
    aoi = request.aois[0]
    archive = Archive(settings.archive_dir)
    for day in (11, 23):
        acquired = datetime(2024, 9, day, 9, 11, 17, tzinfo=UTC)
        archive.put(render(aoi, acquired, "s1", scenario).scene.with_meta(source="import", simulated=False))
    source = open_source(request)
    first, second = source.search(aoi, request.start, request.end, "s1")
    run_dir = new_run_dir(settings.outputs_dir, request)
    bad = source.fetch(second, aoi, settings.archive_dir)
    _truncate(bad, 0.3)
    results = [monitor.scene_stage(request, acq, aoi, source.fetch(acq, aoi, settings.archive_dir), run_dir,
                                   settings.archive_dir) for acq in (first, second)]
    assert isinstance(results[0], SceneResult) and isinstance(results[1], ExcludedScene)
    assert results[1].kind == "unreadable" and "not fetched again" in results[1].reason
    assert not bad.exists() and Path(str(results[1].quarantine), bad.name).is_file()
    record = json.loads(finish_run(request, results, run_dir, datetime.now(UTC)).read_text())
    assert record["summary"]["scenes"] == 1 and record["summary"]["excluded"] == 1
    [listed] = record["excluded"]
    assert listed["acquired"] == "2024-09-23T09:11:17Z" and listed["kind"] == "unreadable"
    assert listed["path"] == str(bad)
    html = (run_dir / "report.html").read_text()
    assert "excluded ru_dunai s1 2024-09-23T09:11:17Z" in html and "unreadable: " in html
    assert len(gpd.read_file(run_dir / "scenes.geojson")) == 1


def test_no_data_fetch_is_skipped_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from satwatch.errors import NoDataError

    request, acq, aoi, _ = _one_s2()
    source = open_source(request)

    def no_data(*args: Any, **kwargs: Any) -> Path:
        raise NoDataError("sentinel-hub sent no valid pixel for ru_dunai s2 2024-09-11")

    monkeypatch.setattr(source, "fetch", no_data)
    fetched = monitor.fetch_scene(source, acq, aoi, load_settings().archive_dir)
    assert isinstance(fetched, ExcludedScene) and fetched.kind == "no-data" and "no valid pixel" in fetched.reason
    run_dir = new_run_dir(load_settings().outputs_dir, request)
    assert monitor.scene_stage(request, acq, aoi, fetched, run_dir, load_settings().archive_dir) is fetched


def test_damaged_cache_entries_are_misses_detected_again_and_replaced(monkeypatch: pytest.MonkeyPatch,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    request, _, aoi, path = _one_s2()
    calls = _counting_detect(monkeypatch)
    run_dir = new_run_dir(load_settings().outputs_dir, request)
    first = monitor.process_scene(path, aoi, "baseline", run_dir)
    assert calls["detect"] == 1
    cache = load_settings().cache_dir
    [entry] = list((cache / "detections").rglob("*.geojson"))
    [observation] = list((cache / "observations").glob("*.json"))
    good = entry.read_bytes()
    entry.write_text('{"type": "FeatureCollection", "features": [{"type": "Feat')  # a write cut short
    observation.write_text("{")
    with caplog.at_level(logging.WARNING, logger="satwatch"):
        again = monitor.process_scene(path, aoi, "baseline", run_dir)
    assert calls["detect"] == 2
    assert again == first and entry.read_bytes() == good  # detected again, entry replaced
    assert json.loads(observation.read_text())["scene_id"] == first.observability.scene_id
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert f"unreadable detection cache entry {entry}" in messages and "observation cache entry" in messages
    assert not [p for p in entry.parent.iterdir() if p.name.startswith(".")]  # no partial left behind


def test_cache_hit_decodes_no_pixel_and_a_rewritten_scene_is_a_miss(monkeypatch: pytest.MonkeyPatch) -> None:
    request, _, aoi, path = _one_s2()
    calls = _counting_detect(monkeypatch)
    run_dir = new_run_dir(load_settings().outputs_dir, request)
    first = monitor.process_scene(path, aoi, "baseline", run_dir)
    key = read_scene_header(path).key

    def no_decode(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a cache hit must not decode the scene")

    monkeypatch.setattr(monitor, "read_scene", no_decode)
    assert monitor.process_scene(path, aoi, "baseline", run_dir) == first and calls["detect"] == 1
    monkeypatch.undo()
    calls = _counting_detect(monkeypatch)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # rewritten in place, same bytes
    assert read_scene_header(path).key != key
    again = monitor.process_scene(path, aoi, "baseline", run_dir)
    assert calls["detect"] == 1 and again.scene_key == read_scene_header(path).key
    assert replace(again, scene_key=key) == first
    assert read_scene(path).data.shape[0] == 7


def test_batch_detects_again_a_scene_whose_cache_entry_is_damaged(tmp_path: Path) -> None:
    from satwatch.batch import run_batch
    from satwatch.imagery.scene import write_scene
    from tests.conftest import make_scene

    paths = [write_scene(make_scene(seed=i).with_meta(scene_id=f"chip{i}"), tmp_path / f"chip{i}.tif")
             for i in range(2)]
    first = run_batch(paths, tmp_path / "one", detector="baseline", device="cpu", workers=0, progress=False)
    assert first.detected == 2
    entries = sorted((load_settings().cache_dir / "detections").rglob("chip0.*.geojson"))
    assert len(entries) == 1
    good = entries[0].read_bytes()
    entries[0].write_bytes(b"\x00garbage")
    again = run_batch(paths, tmp_path / "two", detector="baseline", device="cpu", workers=0, progress=False)
    detail = {d["scene_id"]: d["read"] for d in json.loads(Path(again.summary_path).read_text())["scenes_detail"]}
    assert detail == {"chip0": "cache-damaged", "chip1": "cache"}
    assert entries[0].read_bytes() == good  # replaced by the same result
