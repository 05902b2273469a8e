"""The pipeline's stages, and that every caller goes through its one per-scene step.

Imagery is SIMULATED (the tiny scenario: fictional activity on the real Dunai AOI).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml

from satwatch.aoi import AOI
from satwatch.change.timeseries import Window
from satwatch.claims.catalog import DEFAULT_CLAIMS
from satwatch.imagery.scene import write_scene
from satwatch.imagery.source import Acquisition
from satwatch.pipeline import MonitorRequest, build_request, plan_scenes, run_monitor
from tests.conftest import make_scene

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "scenarios" / "tiny.yaml"


def _acquisition(day: int, sensor: str = "s2") -> Acquisition:
    return Acquisition(aoi="ru_dunai", sensor=sensor, acquired=datetime(2024, 9, day, 2, 0, tzinfo=UTC),
                       source="test", simulated=True)


def test_plan_keeps_each_acquisition_once_over_overlapping_windows() -> None:
    request = build_request(["ru_dunai"], date(2024, 9, 1), date(2024, 9, 30), ["s2", "s1"], source="archive")
    asked: list[tuple[str, date, date]] = []

    def search(r: MonitorRequest, aoi: AOI, sensor: str) -> list[Acquisition]:
        asked.append((sensor, r.start, r.end))
        return [_acquisition(d, sensor) for d in range(1, 31, 3) if r.start.day <= d <= r.end.day]

    windows = [Window(date(2024, 9, 1), date(2024, 9, 12)), Window(date(2024, 9, 10), date(2024, 9, 20))]
    planned = plan_scenes(request, windows, search=search)
    assert asked == [(s, w.start, w.end) for s in ("s2", "s1") for w in windows]
    keys = [(p.aoi.id, p.acquisition.sensor, p.acquisition.acquired) for p in planned]
    assert len(keys) == len(set(keys)) == 2 * 7  # days 1, 4, ..., 19 per sensor; day 10 found twice, kept once
    assert all(p.aoi.id == "ru_dunai" for p in planned)
    whole = plan_scenes(request, search=search)
    assert asked[-1] == ("s1", date(2024, 9, 1), date(2024, 9, 30)) and len(whole) == 2 * 10


def test_plain_run_goes_through_the_scene_step_once_per_scene(scene_step_calls: list[str]) -> None:
    request = build_request(["ru_dunai"], date(2024, 9, 10), date(2024, 9, 14), ["s2"], scenario_path=TINY,
                            detector="baseline")
    run_dir = run_monitor(request)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["summary"]["scenes"] == len(scene_step_calls) == 1
    assert run_monitor(request) != run_dir and len(scene_step_calls) == 2  # a re-run: the cache, same step


def test_check_claims_goes_through_the_scene_step_and_writes_each_file_once(
        tmp_path: Path, scene_step_calls: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from satwatch.claims.check import check_claims

    written: list[Path] = []  # every atomic write ends in os.replace (satwatch.atomic)
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        written.append(Path(dst).resolve())
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    raw = yaml.safe_load(DEFAULT_CLAIMS.read_text())
    [c14] = [c for c in raw["claims"] if c["id"] == "C14"]
    c14.update(id="C14tiny", baseline="2024-09-01/2024-09-10", test="2024-09-11/2024-09-21", conflicts_with=[])
    claims = tmp_path / "claims.yaml"
    claims.write_text(yaml.safe_dump({"claims": [c14]}))
    run_dir = check_claims(["C14tiny"], scenario_path=TINY, claims_path=claims, detector="baseline",
                           evidence=False)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["summary"]["scenes"] == len(scene_step_calls) > 0
    assert json.loads((run_dir / "claims.json").read_text())["claims"][0]["id"] == "C14tiny"
    assert record["claims"]["verdicts"] == {"C14tiny": "inconclusive"} and "claims.json" in record["outputs"]
    in_run = [p.relative_to(run_dir.resolve()) for p in written if p.is_relative_to(run_dir.resolve())]
    assert len(in_run) == len(set(in_run)) and {Path("run.json"), Path("report.html"), Path("layers.gpkg"),
                                                 Path("claims.json")} <= set(in_run)
    assert [p.name for p in written if p.is_relative_to(run_dir.resolve())][-1] == "report.html"  # run.json before


def test_batch_and_the_cli_go_through_the_scene_step(tmp_path: Path, scene_step_calls: list[str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from satwatch.batch import run_batch
    from satwatch.cli import main

    paths = [write_scene(make_scene(seed=i).with_meta(scene_id=f"chip{i}"), tmp_path / f"chip{i}.tif")
             for i in range(2)]
    summary = run_batch(paths, tmp_path / "one", detector="baseline", device="cpu", workers=0, progress=False)
    assert summary.scenes == 2 and scene_step_calls == ["chip0", "chip1"]
    assert main(["batch", *map(str, paths), "--detector", "baseline", "--device", "cpu", "--workers", "0",
                 "--out", str(tmp_path / "two")]) == 0
    assert scene_step_calls == ["chip0", "chip1"] * 2
    assert "2 scenes (2 from the cache)" in capsys.readouterr().out
