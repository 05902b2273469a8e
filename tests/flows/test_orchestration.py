"""Orchestration: incremental re-runs, kill-and-resume, artifacts and logs, Dask scale-out, batch detection.

One Prefect test harness (a temporary server) serves the in-process flow runs of this module; the reference run
(the tiny scenario, uninterrupted) is what the resumed, the re-run and the Dask-run outputs must equal.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import geopandas as gpd
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "scenarios" / "tiny.yaml"
BIN = Path(sys.executable).parent
COMPARED = ("detections.geojson", "counts.csv", "timeseries.csv", "comparisons.csv", "changes.geojson",
            "truth.geojson")
OFFLINE = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_LOGGING_EXTRA_LOGGERS": "satwatch,sentinelhub",
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"}


def same_outputs(a: Path, b: Path) -> None:
    """Assert two run folders hold the same results (scene paths differ between data folders)."""
    for name in COMPARED:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    sa, sb = (gpd.read_file(d / "scenes.geojson").drop(columns="path") for d in (a, b))
    pd.testing.assert_frame_equal(sa, sb)
    ra, rb = (json.loads((d / "run.json").read_text()) for d in (a, b))
    assert ra["summary"] == rb["summary"] and ra["changes"] == rb["changes"]


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    with mock.patch.dict(os.environ, OFFLINE):
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=180):
            yield


@pytest.fixture(scope="module")
def reference(harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run of the tiny scenario with the baseline detector, in its own data folder."""
    data = tmp_path_factory.mktemp("reference") / "data"
    with mock.patch.dict(os.environ, {"SATWATCH_DATA_DIR": str(data)}):
        from satwatch.flows.monitor import monitor

        return Path(monitor(scenario=str(TINY), detector="baseline"))


def _counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count renders (the simulated source's fetch work) and baseline detections."""
    import satwatch.imagery.simulated.source as simulated  # the module whose render SimulatedSource.fetch calls
    from satwatch.detection.models.baseline import BaselineDetector

    calls = {"render": 0, "detect": 0}
    render, detect = simulated.render, BaselineDetector.detect

    def counted_render(*args: Any, **kwargs: Any) -> Any:
        calls["render"] += 1
        return render(*args, **kwargs)

    def counted_detect(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls["detect"] += 1
        return detect(self, *args, **kwargs)

    monkeypatch.setattr(simulated, "render", counted_render)
    monkeypatch.setattr(BaselineDetector, "detect", counted_detect)
    return calls


@pytest.mark.slow
def test_rerun_does_no_fetch_no_detection_and_extension_only_new_scenes(
        reference: Path, monkeypatch: pytest.MonkeyPatch, scene_step_calls: list[str]) -> None:
    from datetime import date

    from satwatch.flows.monitor import monitor

    calls = _counting(monkeypatch)
    first = Path(monitor(scenario=str(TINY), detector="baseline", end=date(2024, 9, 11)))
    n_first = json.loads((first / "run.json").read_text())["summary"]["scenes"]
    assert calls == {"render": n_first, "detect": n_first} and n_first > 0
    extended = Path(monitor(scenario=str(TINY), detector="baseline"))  # the whole period: only new acquisitions
    n_all = json.loads((extended / "run.json").read_text())["summary"]["scenes"]
    assert n_all > n_first and calls == {"render": n_all, "detect": n_all}
    cache = sorted((Path(os.environ["SATWATCH_DATA_DIR"]) / "cache" / "detections").rglob("*.geojson"))
    mtimes = {p: p.stat().st_mtime_ns for p in cache}
    again = Path(monitor(scenario=str(TINY), detector="baseline"))  # unchanged period: no fetch, no detection
    assert calls == {"render": n_all, "detect": n_all}
    assert len(scene_step_calls) == n_first + 2 * n_all  # every scene of each run went through the one scene step
    assert {p: p.stat().st_mtime_ns for p in cache} == mtimes
    same_outputs(again, extended)
    same_outputs(again, reference)


@pytest.mark.slow
def test_run_publishes_counts_table_changes_markdown_and_library_logs(reference: Path) -> None:
    import httpx
    from prefect.settings import PREFECT_API_URL

    api = str(PREFECT_API_URL.value()).rstrip("/")
    arts = httpx.post(f"{api}/artifacts/filter", json={
        "artifacts": {"key": {"any_": ["counts-tiny-dunai", "changes-tiny-dunai"]}},
        "sort": "CREATED_DESC", "limit": 50, "offset": 0}).raise_for_status().json()
    by_type = {a["type"]: a for a in arts if str(reference) in a["description"]}  # other tests' runs too
    assert set(by_type) == {"table", "markdown"}
    table = by_type["table"]["data"]
    rows = json.loads(table) if isinstance(table, str) else table
    counts = pd.read_csv(reference / "counts.csv")
    assert len(rows) == len(counts) and sum(r["count"] for r in rows) == counts["count"].sum()
    note = str(by_type["markdown"]["data"])
    assert str(reference) in note and "SIMULATED" in note and "| ru_dunai | s2 | vessel |" in note
    logs = httpx.post(f"{api}/logs/filter", json={
        "logs": {"flow_run_id": {"any_": [by_type["markdown"]["flow_run_id"]]}},
        "sort": "TIMESTAMP_ASC", "limit": 200, "offset": 0}).raise_for_status().json()
    satwatch_logs = [lg["message"] for lg in logs if lg["name"] == "satwatch"]
    assert any("detections" in m and "observed" in m for m in satwatch_logs), {lg["name"] for lg in logs}


def _entries(cache: Path) -> list[Path]:
    """Finished cache entries (a write killed midway leaves a hidden ``.<name>.partial.geojson``, never an entry)."""
    return [p for p in cache.rglob("*.geojson") if not p.name.startswith(".")]


@pytest.mark.slow
def test_killed_run_restarted_gives_the_same_outputs(reference: Path, tmp_path: Path) -> None:
    env = {**os.environ, **OFFLINE, "SATWATCH_DATA_DIR": str(tmp_path / "data"),
           "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    cmd = [str(BIN / "satwatch"), "run", "--scenario", str(TINY), "--detector", "baseline"]
    cache = tmp_path / "data" / "cache" / "detections"
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and not _entries(cache):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the run and its temporary Prefect server, mid-way
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = {p: p.stat().st_mtime_ns for p in _entries(cache)}
    n_scenes = json.loads((reference / "run.json").read_text())["summary"]["scenes"]
    assert 1 <= len(done) < n_scenes  # killed after some scenes were detected, before all
    killed_runs = list((tmp_path / "data" / "outputs").iterdir())
    assert len(killed_runs) == 1 and not (killed_runs[0] / "run.json").exists()

    res = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    resumed = Path(res.stdout.strip().splitlines()[-1].removeprefix("outputs: "))
    same_outputs(resumed, reference)
    assert {p: p.stat().st_mtime_ns for p in done} == done  # what was detected before the kill was reused
    assert len(_entries(cache)) == n_scenes


@pytest.mark.slow
def test_no_data_answer_and_a_truncated_scene_do_not_fail_the_flow(harness: None, monkeypatch: pytest.MonkeyPatch,
                                                                   reference: Path) -> None:
    """One acquisition with no valid pixel is skipped and named; a truncated archived scene is quarantined and
    rendered again; the flow run completes with every other scene."""
    from satwatch.flows.monitor import monitor

    from satwatch.errors import NoDataError
    from satwatch.imagery.simulated import SimulatedSource
    from satwatch.pipeline import build_request, open_source
    from satwatch.settings import load_settings

    settings = load_settings()
    request = build_request(scenario_path=TINY, detector="baseline")
    source, aoi = open_source(request), request.aois[0]
    first, empty = source.search(aoi, request.start, request.end, "s2")[:2]
    damaged = source.fetch(first, aoi, settings.archive_dir)
    damaged.write_bytes(damaged.read_bytes()[:5000])
    fetch = SimulatedSource.fetch

    def fetch_or_no_data(self: SimulatedSource, acquisition: Any, aoi: Any, root: Path) -> Path:
        if acquisition == empty:
            raise NoDataError(f"no valid pixel for {acquisition.aoi} {acquisition.acquired:%Y-%m-%d}; ask again later")
        return fetch(self, acquisition, aoi, root)

    monkeypatch.setattr(SimulatedSource, "fetch", fetch_or_no_data)
    run_dir = Path(monitor(scenario=str(TINY), detector="baseline"))
    record = json.loads((run_dir / "run.json").read_text())
    n_reference = json.loads((reference / "run.json").read_text())["summary"]["scenes"]
    assert record["summary"]["scenes"] == n_reference - 1 and record["summary"]["excluded"] == 1
    [skipped] = record["excluded"]
    assert skipped["kind"] == "no-data" and "no valid pixel" in skipped["reason"]
    assert skipped["acquired"] == empty.acquired.strftime("%Y-%m-%dT%H:%M:%SZ")
    [quarantined] = list(settings.quarantine_dir.iterdir())
    assert json.loads((quarantined / "reason.json").read_text())["path"] == str(damaged.resolve())
    assert str(damaged.resolve()) in set(gpd.read_file(run_dir / "scenes.geojson")["path"])  # rendered again, used


@pytest.fixture()
def dask_cluster(tmp_path: Path) -> Iterator[str]:
    """A real dask scheduler and two worker processes on loopback, started with the `dask` command."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, **OFFLINE, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    stack = contextlib.ExitStack()
    out = stack.enter_context(open(logs / "scheduler.log", "w"))  # noqa: SIM115 - closed by the stack
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=out, stderr=subprocess.STDOUT,
                              start_new_session=True)]
    try:
        for i in range(2):
            out = stack.enter_context(open(logs / f"worker{i}.log", "w"))  # noqa: SIM115 - closed by the stack
            procs.append(subprocess.Popen(
                [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                 "--host", "127.0.0.1", "--name", f"w{i}", "--local-directory", str(tmp_path / f"w{i}")],
                env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            yield address
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        stack.close()


@pytest.mark.slow
def test_dask_scheduler_and_two_workers_give_the_local_outputs(reference: Path, dask_cluster: str) -> None:
    import satwatch.flows.monitor as flows
    from distributed import Client

    runner = flows.task_runner(dask_cluster)
    run_dir = Path(flows.monitor.with_options(task_runner=runner)(scenario=str(TINY), detector="baseline"))
    same_outputs(run_dir, reference)
    with Client(dask_cluster, timeout=30) as client:  # the tasks ran on both workers, not in this process
        ran_on = client.run(lambda: sys.modules.get("satwatch.pipeline") is not None)
    assert len(ran_on) == 2 and any(ran_on.values())


def test_bad_dask_address_is_a_one_line_error() -> None:
    from satwatch.flows.monitor import task_runner

    from satwatch.errors import UsageError

    with pytest.raises(UsageError, match="tcp://HOST:8786"):
        task_runner("localhost:8786")
    assert type(task_runner(None)).__name__ == "ThreadPoolTaskRunner"
    assert type(task_runner("tcp://127.0.0.1:8786")).__name__ == "DaskTaskRunner"


def test_batch_cli_on_cpu_matches_the_monitor_and_reuses_the_cache(reference: Path, tmp_path: Path) -> None:
    record = json.loads((reference / "run.json").read_text())
    scenes = gpd.read_file(reference / "scenes.geojson")["path"].tolist()
    env = {**os.environ, "SATWATCH_DATA_DIR": str(tmp_path / "data")}
    out = tmp_path / "batch"
    res = subprocess.run([str(BIN / "satwatch"), "batch", *scenes, "--detector", "baseline", "--device", "cpu",
                          "--out", str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "scene/s" in res.stderr or "s/scene" in res.stderr  # the progress bar, on stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenes"] == summary["detected"] == len(scenes) and summary["device"] == "cpu"
    assert summary["detections"] == record["summary"]["detections"]
    assert {d["read"] for d in summary["scenes_detail"]} == {"prefetched"}
    reference_scenes = gpd.read_file(reference / "scenes.geojson")
    for name, path in zip(reference_scenes["scene_id"], reference_scenes["path"], strict=True):
        batch = gpd.read_file(out / "per_scene" / f"{name}.geojson")
        if len(batch):
            assert set(batch["source_file"]) == {path}  # each detection names its file
        pd.testing.assert_frame_equal(batch.drop(columns="source_file", errors="ignore"),
                                      gpd.read_file(reference / "per_scene" / f"{name}.geojson"))
    everything = gpd.read_file(out / "detections.geojson")
    assert everything.groupby("scene_id")["source_file"].nunique().max() == 1
    res2 = subprocess.run([str(BIN / "satwatch"), "batch", *scenes, "--detector", "baseline", "--device", "cpu",
                           "--out", str(tmp_path / "batch2"), "--workers", "0"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert res2.returncode == 0, res2.stderr[-2000:]
    again = json.loads((tmp_path / "batch2" / "summary.json").read_text())
    assert again["cached"] == len(scenes) and again["detected"] == 0
    assert (tmp_path / "batch2" / "detections.geojson").read_bytes() == (out / "detections.geojson").read_bytes()


def test_batch_with_the_cnn_on_cpu_records_its_precision(reference: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from satwatch.batch import run_batch

    monkeypatch.setenv("SATWATCH_DATA_DIR", str(tmp_path / "data"))
    scenes = gpd.read_file(reference / "scenes.geojson")
    picked = [scenes[scenes["sensor"] == s]["path"].iloc[0] for s in ("s2", "s1")]
    summary = run_batch(picked, tmp_path / "b", detector="cnn", device="cpu", workers=0, progress=False)
    recorded = json.loads(Path(summary.summary_path).read_text())
    assert recorded["precision"] == {"s2": "int8", "s1": "int8"} and not recorded["amp_float16"]
    from satwatch.flows.batch_detect import batch_detect  # the flow passes its precision parameter through

    fp32 = json.loads(Path(batch_detect(scenes=picked, detector="cnn", device="cpu", workers=0, precision="fp32",
                                        out_dir=str(tmp_path / "f"))).read_text())
    assert fp32["precision"] == {"s2": "fp32", "s1": "fp32"}
    assert fp32["detector"] != summary.detector and fp32["cached"] == 0  # another name: not the int8 cache


def test_batch_device_cuda_without_gpu_is_one_line_exit_2(tmp_path: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    res = subprocess.run([str(BIN / "satwatch"), "batch", "--aoi", "ru_dunai", "--start", "2024-09-01", "--end",
                          "2024-09-05", "--device", "cuda"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "no CUDA GPU" in res.stderr
    assert not (tmp_path / "data").exists()  # nothing fetched before the error


def test_prefect_yaml_deployments_name_catalog_aois_and_existing_flows() -> None:
    import importlib
    import inspect

    import yaml

    from satwatch.aoi import load_catalog

    doc = yaml.safe_load((REPO / "prefect.yaml").read_text())
    catalog = load_catalog()
    watched: list[str] = []
    for dep in doc["deployments"]:
        path, func = dep["entrypoint"].split(":")
        assert (REPO / path).is_file(), dep["name"]
        module = importlib.import_module("satwatch.flows." + Path(path).stem)
        assert hasattr(getattr(module, func), "to_deployment"), dep["entrypoint"]
        accepted = set(inspect.signature(getattr(module, func).fn).parameters)
        assert set(dep.get("parameters", {})) <= accepted, (dep["name"], set(dep["parameters"]) - accepted)
        for aoi in dep.get("parameters", {}).get("aois", []):
            assert aoi in catalog, (dep["name"], aoi)
            watched.append(aoi)
        for schedule in dep.get("schedules", []):
            assert len(schedule["cron"].split()) == 5
    assert sorted(watched) == sorted(catalog)  # every catalog AOI is watched by exactly one group
