"""The plain-loop executor: plan, scene and assemble run one after another in this process.

A notebook, a test, :func:`satwatch.claims.check.check_claims` and ``satwatch batch --aoi`` use it; the Prefect
flows in ``flows/`` run the same stage functions as tasks (retries, threads or Dask)::

    run_dir = run_monitor(build_request(scenario_path="scenarios/tiny.yaml"))
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from satwatch.change.timeseries import Window
from satwatch.pipeline.assemble import Judge, finish_run
from satwatch.pipeline.plan import PlannedScene, plan_scenes
from satwatch.pipeline.request import MonitorRequest, new_run_dir, open_source
from satwatch.pipeline.scene import ExcludedScene, SceneResult, fetch_scene, scene_stage

__all__ = ["fetch_planned", "run_monitor", "run_scenes"]


def fetch_planned(request: MonitorRequest, planned: Sequence[PlannedScene],
                  archive_root: str | Path) -> list[Path | ExcludedScene]:
    """Fetch every planned acquisition into the archive, in order (the source opened once).

    Returns each scene's path, or an :class:`ExcludedScene` for an all-no-data answer; other errors are raised.
    """
    source = open_source(request)
    return [fetch_scene(source, p.acquisition, p.aoi, archive_root) for p in planned]


def run_scenes(request: MonitorRequest, planned: Sequence[PlannedScene], run_dir: str | Path,
               archive_root: str | Path) -> list[SceneResult | ExcludedScene]:
    """Fetch and process every planned acquisition (:func:`~satwatch.pipeline.scene.scene_stage`), one by one.

    Returns one result per planned scene, in order: a :class:`SceneResult`, or an :class:`ExcludedScene`
    (no data, or unreadable even when fetched again).
    """
    source = open_source(request)
    results: list[SceneResult | ExcludedScene] = []
    for p in planned:  # fetch, then process, one acquisition at a time
        fetched = fetch_scene(source, p.acquisition, p.aoi, archive_root)
        results.append(scene_stage(request, p.acquisition, p.aoi, fetched, run_dir, archive_root))
    return results


def run_monitor(request: MonitorRequest, periods: Sequence[Window] | None = None,
                run_dir: str | Path | None = None, judge: Judge | None = None) -> Path:
    """Run the whole job in this process: plan, every scene, assemble; return the run folder.

    ``periods`` (windows of :class:`~satwatch.change.timeseries.Window`) limits the search as in
    :func:`~satwatch.pipeline.plan.plan_scenes`; ``run_dir`` defaults to a new folder under the outputs folder;
    ``judge`` judges claims inside the assemble stage (:func:`~satwatch.pipeline.assemble.finish_run`).
    """
    from satwatch.settings import load_settings

    started = datetime.now(UTC)
    settings = load_settings()
    run = Path(run_dir) if run_dir is not None else new_run_dir(settings.outputs_dir, request)
    results = run_scenes(request, plan_scenes(request, periods), run, settings.archive_dir)
    finish_run(request, results, run, started, judge=judge)
    return run
