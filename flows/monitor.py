"""The ``monitor`` flow: search, fetch, detect and publish one monitoring run.

Thin on purpose: every step is a stage function of ``satwatch.pipeline`` (plan, scene, assemble); this file
only chooses the executor: Prefect tasks with retries on the I/O, fanned out over scenes, and Prefect's run
record. Addressed by path from ``prefect.yaml``
(``flows/monitor.py:monitor``) and importable as ``satwatch.flows.monitor``.

Every scene is fetched once (the archive) and detected once per detector version (the detection cache of
``satwatch.pipeline.scene.detect_scene``), so a re-run of the same period fetches and detects nothing, and a run killed
midway and started again only does what is missing. A scene that cannot be used never fails the run: an
all-no-data answer is skipped and named, an unreadable file is quarantined and fetched again, else excluded
(``satwatch.pipeline.scene.scene_stage``); run.json and the report list what was left out. Each run publishes a table
artifact of counts and a markdown artifact of changes with the output folder's path. ``task_runner(dask_address)``
picks the runner of the fan-out: threads here, or prefect-dask's ``DaskTaskRunner`` on an existing dask.distributed
cluster.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

# Library logs (satwatch, sentinelhub) in the run logs; read when Prefect configures logging, so set it first.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "satwatch,sentinelhub")
if logging.getLogger("satwatch").level == logging.NOTSET:  # a worker's run: progress lines, not just warnings
    logging.getLogger("satwatch").setLevel(logging.INFO)

from prefect import State, flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from satwatch.aoi import AOI
from satwatch.cache import DetectionCache
from satwatch.change.timeseries import Window
from satwatch.errors import NoDataError, SatwatchError, UsageError
from satwatch.imagery.archive import Archive
from satwatch.imagery.source import Acquisition
from satwatch.pipeline import (
    ExcludedScene,
    MonitorRequest,
    SceneResult,
    build_request,
    fetch_scene,
    finish_run,
    new_run_dir,
    open_source,
    plan_scenes,
    scene_stage,
)
from satwatch.run_summary import changes_markdown, counts_rows
from satwatch.settings import load_settings

# One scene per core at a time: rendering and detection are numpy-bound and each holds a few hundred MB.
RUNNER: ThreadPoolTaskRunner[Any] = ThreadPoolTaskRunner(max_workers=max(1, min(8, os.cpu_count() or 1)))


def task_runner(dask_address: str | None = None, max_workers: int | None = None) -> TaskRunner[Any]:
    """Return the runner of a flow's fan-out: Dask at ``dask_address`` (``tcp://HOST:PORT``), else threads.

    prefect-dask's ``DaskTaskRunner`` connects to that existing dask.distributed scheduler; without an address,
    threads run at most ``max_workers`` tasks at a time (default: the core count, up to 8). The cluster's
    workers must import satwatch and see the same archive and data folder (a shared path).
    """
    if dask_address:
        if not re.fullmatch(r"(tcp|tls|ucx|inproc)://[^\s/]+(:\d+)?", dask_address):
            raise UsageError(f"--dask-address {dask_address!r} is not a scheduler address like tcp://HOST:8786")
        from prefect_dask.task_runners import DaskTaskRunner

        return DaskTaskRunner(address=dask_address)
    workers = max_workers or max(1, min(8, os.cpu_count() or 1))
    return ThreadPoolTaskRunner(max_workers=workers)


def period(start: date | None, end: date | None, lookback_days: int | None,
           today: date | None = None) -> tuple[date | None, date | None]:
    """Return ``(start, end)``; with ``lookback_days`` and no dates, the last ``lookback_days`` days to today (UTC).

    Scheduled runs use the rolling window: each run covers the days up to the day it runs, and the archive and
    detection cache make the overlap with the previous run cost nothing.
    """
    if lookback_days is None or (start is not None and end is not None):
        return start, end
    if lookback_days < 1:
        raise UsageError(f"lookback_days must be at least 1, not {lookback_days}")
    end = end or today or datetime.now(UTC).date()
    return start or end - timedelta(days=lookback_days - 1), end


def worth_retrying(task: object, task_run: object, state: State[Any]) -> bool:
    """Retry I/O failures; never a user's mistake, rejected credentials or an all-no-data answer.

    Each of those fails the same way again, and a no-data answer costs processing units every time it is asked.
    """
    try:
        state.result()
    except NoDataError:
        return False
    except SatwatchError as exc:
        return exc.exit_code == 1
    except Exception:
        return True
    return False


RETRIES = 3
BACKOFF = exponential_backoff(backoff_factor=2)  # 2 s, 4 s, 8 s, each with up to 50 % jitter


@task(name="search", retries=RETRIES, retry_delay_seconds=BACKOFF, retry_jitter_factor=0.5,
      retry_condition_fn=worth_retrying)
def search(request: MonitorRequest, aoi: AOI, sensor: str) -> list[Acquisition]:
    """List the acquisitions of one AOI and sensor in the request's period."""
    return open_source(request).search(aoi, request.start, request.end, sensor)


@task(name="fetch", retries=RETRIES, retry_delay_seconds=BACKOFF, retry_jitter_factor=0.5,
      retry_condition_fn=worth_retrying)
def fetch(request: MonitorRequest, acquisition: Acquisition, aoi: AOI, archive_root: str) -> str | ExcludedScene:
    """Bring one acquisition into the archive (no-op when it is there) and return the scene path.

    An all-no-data answer is not a failure: the acquisition comes back as an :class:`ExcludedScene`, named in
    run.json, and the run goes on.
    """
    fetched = fetch_scene(open_source(request), acquisition, aoi, archive_root)
    return fetched if isinstance(fetched, ExcludedScene) else str(fetched)


@task(name="detect", retries=1, retry_delay_seconds=BACKOFF, retry_jitter_factor=0.5,
      retry_condition_fn=worth_retrying)
def detect(request: MonitorRequest, acquisition: Acquisition, aoi: AOI, fetched: str | ExcludedScene, run_dir: str,
           archive_root: str) -> SceneResult | ExcludedScene:
    """Detect objects in one scene and measure what it observed.

    An unreadable scene is quarantined and fetched again, else excluded.
    """
    return scene_stage(request, acquisition, aoi, fetched, run_dir, archive_root)


@task(name="publish", retries=RETRIES, retry_delay_seconds=BACKOFF, retry_jitter_factor=0.5,
      retry_condition_fn=worth_retrying)
def publish(request: MonitorRequest, results: list[SceneResult | ExcludedScene], run_dir: str,
            started: datetime) -> str:
    """Write the run folder's outputs; return the path of run.json."""
    return str(finish_run(request, results, run_dir, started))


@task(name="report", retries=RETRIES, retry_delay_seconds=BACKOFF, retry_jitter_factor=0.5)
def report(run_dir: str, key: str) -> str:
    """Publish the run's artifacts: a table of counts and a markdown note of changes and verdicts; return the note."""
    slug = re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-") or "monitor"
    rows = counts_rows(run_dir)
    if rows:
        create_table_artifact(table=rows, key=f"counts-{slug}",
                              description=f"Counts per AOI, sensor, acquisition and class; run folder {run_dir}")
    note = changes_markdown(run_dir)
    create_markdown_artifact(markdown=note, key=f"changes-{slug}",
                             description=f"Changes and verdicts; run folder {run_dir}")
    return note


def submit_scenes(request: MonitorRequest, run_dir: str, archive_root: str,
                  periods: Sequence[Window] | None = None) -> list[Any]:
    """Plan with the retried search task, then submit a fetch and a detect task per acquisition; return the latter.

    Runs inside a flow: the fan-out goes to the flow's task runner (threads, or a Dask cluster). ``periods``
    limits the search to these windows (claims), each acquisition planned once.
    """
    planned = plan_scenes(request, periods, search=search)
    fetched = [fetch.submit(request, p.acquisition, p.aoi, archive_root) for p in planned]
    # Prefect resolves the fetch futures passed as arguments; its overloads do not say so.
    return [detect.submit(request, p.acquisition, p.aoi, f, run_dir, archive_root)  # type: ignore[call-overload]
            for p, f in zip(planned, fetched, strict=True)]


def processed(results: list[SceneResult | ExcludedScene]) -> str:
    """``N scenes processed`` and, when some were excluded, which (for the flow's log)."""
    excluded = [r for r in results if isinstance(r, ExcludedScene)]
    text = f"{len(results) - len(excluded)} scenes processed"
    if excluded:
        text += f", {len(excluded)} excluded (" + "; ".join(
            f"{e.aoi} {e.sensor} {e.acquired}: {e.kind}" for e in excluded) + ")"
    return text


LIBRARY_LOGGERS = ("satwatch", "sentinelhub")


def library_logs() -> None:
    """Send the library loggers to the run logs even when Prefect set up logging before our environment variable.

    Prefect copies the ``prefect.extra`` handlers to ``PREFECT_LOGGING_EXTRA_LOGGERS`` only on its first logging
    setup in a process; a process that imported Prefect earlier (a notebook, a test session) would miss them.
    """
    extra = logging.getLogger("prefect.extra").handlers
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        for handler in extra:
            if handler not in logger.handlers:
                logger.addHandler(handler)


def _prepare(settings_archive: str) -> None:
    library_logs()
    Archive(settings_archive).sweep_partials()  # leftovers (> 1 h old) of writes killed in earlier runs
    DetectionCache(load_settings().data_dir / "cache").sweep_partials()


# Prefect's own annotation of task_runner is narrower than the runners it ships (invariant generic).
@flow(name="monitor", log_prints=True, task_runner=RUNNER)  # type: ignore[arg-type]
def monitor(
    aois: list[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    sensors: list[str] | None = None,
    source: str = "simulated",
    scenario: str | None = None,
    detector: str | None = None,
    lookback_days: int | None = None,
) -> str:
    """Monitor AOIs over a period and return the run folder (with no arguments: the demo scenario).

    ``lookback_days`` (scheduled runs): with no ``start``/``end``, the last ``lookback_days`` days to today.
    """
    started = datetime.now(UTC)
    start, end = period(start, end, lookback_days)
    request = build_request(aois, start, end, sensors, source, scenario, detector)
    settings = load_settings()
    run_dir = str(new_run_dir(settings.outputs_dir, request))
    archive_root = str(settings.archive_dir)
    _prepare(archive_root)
    results = [d.result() for d in submit_scenes(request, run_dir, archive_root)]
    publish(request, results, run_dir, started)
    report(run_dir, request.name)
    print(f"{processed(results)}; outputs in {run_dir}")
    return run_dir


@flow(name="monitor_catalog", log_prints=True, task_runner=RUNNER)  # type: ignore[arg-type]
def monitor_catalog(
    aois: list[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    sensors: list[str] | None = None,
    source: str = "simulated",
    scenario: str | None = None,
    detector: str | None = None,
    lookback_days: int | None = None,
) -> dict[str, str]:
    """Monitor many AOIs at once: one run folder per AOI, every AOI's scenes fanned out together.

    ``aois``: catalog ids or vector files (default: the scenario's AOIs, else the whole catalog). Concurrency is
    bounded by the task runner (threads: ``task_runner(max_workers=...)``; Dask: the cluster's worker threads).
    Returns run folders by AOI id.
    """
    from satwatch.aoi import load_catalog

    started = datetime.now(UTC)
    start, end = period(start, end, lookback_days)
    if not aois and scenario is None:
        aois = list(load_catalog())
    group = build_request(aois, start, end, sensors, source, scenario, detector)
    settings = load_settings()
    archive_root = str(settings.archive_dir)
    _prepare(archive_root)
    runs: dict[str, tuple[MonitorRequest, str, list[Any]]] = {}
    for aoi in group.aois:  # submit every AOI's scenes before waiting on any
        request = replace(group, aois=(aoi,), name=f"{group.name}-{aoi.id}")
        run_dir = str(new_run_dir(settings.outputs_dir, request))
        runs[aoi.id] = (request, run_dir, submit_scenes(request, run_dir, archive_root))
    published = []
    for request, run_dir, futures in runs.values():
        results = [d.result() for d in futures]
        published.append(publish.submit(request, results, run_dir, started))
    for future in published:
        future.result()
    for aoi_id, (_, run_dir, _) in runs.items():
        report(run_dir, f"{group.name}-{aoi_id}")
    print(f"{len(runs)} AOIs monitored; outputs in {', '.join(r[1] for r in runs.values())}")
    return {aoi_id: run_dir for aoi_id, (_, run_dir, _) in runs.items()}
