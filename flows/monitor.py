"""The ``monitor`` flow: search, fetch, detect and publish one monitoring run.

Thin on purpose: every step is a function of ``satwatch.monitor``; this file adds retries on the tasks that do
I/O, fan-out over scenes, and Prefect's run record. Addressed by path from ``prefect.yaml``
(``flows/monitor.py:monitor``) and importable as ``satwatch.flows.monitor``.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prefect import State, flow, task
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from satwatch.aoi import AOI
from satwatch.errors import SatwatchError
from satwatch.imagery.archive import Archive
from satwatch.imagery.source import Acquisition
from satwatch.monitor import MonitorRequest, SceneResult, build_request, finish_run, new_run_dir, open_source
from satwatch.monitor import process_scene as _process_scene
from satwatch.settings import load_settings

# One scene per core at a time: rendering and detection are numpy-bound and each holds a few hundred MB.
_RUNNER: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=max(1, min(8, os.cpu_count() or 1)))
def _worth_retrying(task: object, task_run: object, state: State[Any]) -> bool:
    """Retry I/O failures; never a user's mistake or rejected credentials (they fail the same way again)."""
    try:
        state.result()
    except SatwatchError as exc:
        return exc.exit_code == 1
    except Exception:
        return True
    return False


_RETRIES = 3
_BACKOFF = exponential_backoff(backoff_factor=2)  # 2 s, 4 s, 8 s, each with up to 50 % jitter


@task(name="search", retries=_RETRIES, retry_delay_seconds=_BACKOFF, retry_jitter_factor=0.5,
      retry_condition_fn=_worth_retrying)
def search(request: MonitorRequest, aoi: AOI, sensor: str) -> list[Acquisition]:
    """List the acquisitions of one AOI and sensor in the request's period."""
    return open_source(request).search(aoi, request.start, request.end, sensor)


@task(name="fetch", retries=_RETRIES, retry_delay_seconds=_BACKOFF, retry_jitter_factor=0.5,
      retry_condition_fn=_worth_retrying)
def fetch(request: MonitorRequest, acquisition: Acquisition, aoi: AOI, archive_root: str) -> str:
    """Bring one acquisition into the archive (no-op when it is there) and return the scene path."""
    return str(open_source(request).fetch(acquisition, aoi, Path(archive_root)))


@task(name="detect")
def detect(scene_path: str, aoi: AOI, detector: str, run_dir: str) -> SceneResult:
    """Detect objects in one scene and measure what it observed."""
    return _process_scene(scene_path, aoi, detector, run_dir)


@task(name="publish", retries=_RETRIES, retry_delay_seconds=_BACKOFF, retry_jitter_factor=0.5,
      retry_condition_fn=_worth_retrying)
def publish(request: MonitorRequest, results: list[SceneResult], run_dir: str, started: datetime) -> str:
    """Write the run folder's outputs; return the path of run.json."""
    return str(finish_run(request, results, run_dir, started))


# Prefect's own annotation of task_runner is narrower than the runners it ships (invariant generic).
@flow(name="monitor", log_prints=True, task_runner=_RUNNER)  # type: ignore[arg-type]
def monitor(
    aois: list[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    sensors: list[str] | None = None,
    source: str = "simulated",
    scenario: str | None = None,
    detector: str | None = None,
) -> str:
    """Monitor AOIs over a period and return the run folder (with no arguments: the demo scenario)."""
    started = datetime.now(UTC)
    request = build_request(aois, start, end, sensors, source, scenario, detector)
    settings = load_settings()
    run_dir = str(new_run_dir(settings.outputs_dir, request))
    archive_root = str(settings.archive_dir)
    Archive(archive_root).sweep_partials()  # leftovers (> 1 h old) of writes killed in earlier runs
    pending = []
    for aoi in request.aois:
        for sensor in request.sensors:
            for acquisition in search(request, aoi, sensor):
                pending.append((aoi, fetch.submit(request, acquisition, aoi, archive_root)))
    # Prefect resolves the fetch futures passed as arguments; its overloads do not say so.
    detected = [detect.submit(path, aoi, request.detector, run_dir) for aoi, path in pending]  # type: ignore[call-overload]
    results = [d.result() for d in detected]
    publish(request, results, run_dir, started)
    print(f"{len(results)} scenes processed; outputs in {run_dir}")
    return run_dir
