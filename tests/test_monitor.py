"""The main job's functions without Prefect: the same code the flow orders."""

import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from satwatch.errors import UsageError
from satwatch.imagery.archive import Archive, ArchiveSource
from satwatch.imagery.scenario import load_scenario
from satwatch.imagery.simulated import SimulatedSource, render
from satwatch.pipeline import DEMO_SCENARIO, build_request, finish_run, new_run_dir, open_source, process_scene
from satwatch.settings import load_settings

REPO = Path(__file__).resolve().parents[1]


def test_no_arguments_means_the_demo_scenario() -> None:
    request = build_request()
    assert request.scenario_path == DEMO_SCENARIO
    assert [a.id for a in request.aois] == ["ru_dunai", "ru_vladivostok", "ru_ussuriysk"]
    assert (request.start, request.end) == (date(2024, 9, 1), date(2024, 11, 30))
    assert request.simulated


def test_scenario_with_explicit_aoi_and_period_overrides() -> None:
    request = build_request(["ru_dunai"], date(2024, 9, 5), date(2024, 9, 9), ["s1"],
                            scenario_path=REPO / "scenarios" / "tiny.yaml")
    assert [a.id for a in request.aois] == ["ru_dunai"] and request.sensors == ("s1",)
    with pytest.raises(UsageError, match="only applies"):
        build_request(["ru_dunai"], date(2024, 9, 5), date(2024, 9, 9), source="archive",
                      scenario_path=REPO / "scenarios" / "tiny.yaml")


def test_functions_end_to_end_on_simulated_scenes(tmp_path: Path) -> None:
    request = build_request(["ru_dunai"], date(2024, 9, 10), date(2024, 9, 14), ["s2"],
                            scenario_path=REPO / "scenarios" / "tiny.yaml")
    source = open_source(request)
    settings = load_settings()
    run_dir = new_run_dir(settings.outputs_dir, request)
    aoi = request.aois[0]
    acquisitions = source.search(aoi, request.start, request.end, "s2")
    assert len(acquisitions) == 1
    results = [process_scene(source.fetch(a, aoi, settings.archive_dir), aoi, request.detector, run_dir)
               for a in acquisitions]
    record = json.loads(finish_run(request, results, run_dir, datetime.now(UTC)).read_text())
    assert record["summary"]["scenes"] == 1 and record["simulated"] is True
    counts = pd.read_csv(run_dir / "counts.csv")
    assert list(counts["class"]) == ["vessel"] and counts["count"].iloc[0] == results[0].n_detections
    assert counts["observed_fraction"].iloc[0] == results[0].observability.observed_fraction
    truth = gpd.read_file(run_dir / "truth.geojson")
    assert len(truth) == 8  # tiny.yaml from 11 Sep: 5 anchored + 3 berthed


def test_archive_source_runs_over_imported_scenes(tmp_path: Path) -> None:
    """Scenes already in the archive (here: simulated ones copied in as if imported) run with --source archive."""
    scenario = load_scenario(REPO / "scenarios" / "tiny.yaml")
    settings = load_settings()
    request = build_request(["ru_dunai"], date(2024, 9, 1), date(2024, 9, 30), ["s1"], source="archive")
    aoi = request.aois[0]
    acquired = datetime(2024, 9, 11, 9, 11, 17, tzinfo=UTC)
    scene = render(aoi, acquired, "s1", scenario).scene.with_meta(source="import", simulated=False)
    Archive(settings.archive_dir).put(scene)
    source = open_source(request)
    assert isinstance(source, ArchiveSource)
    [acq] = source.search(aoi, request.start, request.end, "s1")
    assert acq.acquired == acquired and acq.simulated is False and acq.source == "import"
    path = source.fetch(acq, aoi, settings.archive_dir)
    run_dir = new_run_dir(settings.outputs_dir, request)
    result = process_scene(path, aoi, request.detector, run_dir)
    record = json.loads(finish_run(request, [result], run_dir, datetime.now(UTC)).read_text())
    assert record["simulated"] is False and record["sources"] == ["import"]
    assert not gpd.read_file(run_dir / "detections.geojson")["simulated"].any()


def test_simulated_scenes_are_kept_per_scenario(tmp_path: Path) -> None:
    tiny = load_scenario(REPO / "scenarios" / "tiny.yaml")
    other = load_scenario(DEMO_SCENARIO)
    root = tmp_path / "archive"
    a, b = SimulatedSource(tiny).archive_root(root), SimulatedSource(other).archive_root(root)
    assert a != b and a.parent == b.parent == root / "simulated"


def test_scene_paths_in_outputs_are_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SATWATCH_DATA_DIR", "data")  # relative, as `make run` uses it
    request = build_request(["ru_dunai"], date(2024, 9, 10), date(2024, 9, 14), ["s2"],
                            scenario_path=REPO / "scenarios" / "tiny.yaml")
    source, settings = open_source(request), load_settings()
    aoi = request.aois[0]
    [acq] = source.search(aoi, request.start, request.end, "s2")
    result = process_scene(source.fetch(acq, aoi, settings.archive_dir), aoi, request.detector,
                           new_run_dir(settings.outputs_dir, request))
    assert Path(result.scene_path).is_absolute() and Path(result.scene_path).is_file()


def test_unchanged_rerun_copies_the_derived_outputs_and_a_change_computes_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import satwatch.pipeline.assemble as monitor

    request = build_request(["ru_dunai"], date(2024, 9, 5), date(2024, 9, 14), ["s2"],
                            scenario_path=REPO / "scenarios" / "tiny.yaml", detector="baseline")
    source, settings = open_source(request), load_settings()
    aoi = request.aois[0]
    paths = [source.fetch(a, aoi, settings.archive_dir) for a in source.search(aoi, request.start, request.end, "s2")]
    assert len(paths) == 2

    def run() -> tuple[Path, dict[str, object]]:
        run_dir = new_run_dir(settings.outputs_dir, request)
        results = [process_scene(p, aoi, request.detector, run_dir) for p in paths]
        return run_dir, json.loads(finish_run(request, results, run_dir, datetime.now(UTC)).read_text())

    first_dir, first = run()
    derived = calls = 0
    real = monitor._derive_outputs

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(monitor, "_derive_outputs", counted)
    again_dir, again = run()
    assert calls == 0 and again["derived_outputs"] == {**first["derived_outputs"], "reused": True}
    assert first["derived_outputs"]["reused"] is False
    assert again["summary"] == first["summary"] and again["changes"] == first["changes"]
    for name in first["outputs"]:
        if name not in ("run.json", "report.html"):
            assert (again_dir / name).read_bytes() == (first_dir / name).read_bytes(), name
    assert again["run_id"] in (again_dir / "report.html").read_text()  # the report is this run's own
    derived = len(list((settings.cache_dir / "runs").iterdir()))
    stat = paths[0].stat()  # the scene rewritten (another mtime): new header key, new fingerprint, computed
    os.utime(paths[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    _, changed = run()
    assert calls == 1 and changed["derived_outputs"]["reused"] is False
    assert changed["derived_outputs"]["fingerprint"] != first["derived_outputs"]["fingerprint"]
    assert len(list((settings.cache_dir / "runs").iterdir())) == derived + 1
