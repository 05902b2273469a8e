"""The data's path written once: *plan*, *scene* and *assemble*, the stages every run goes through.

- :mod:`~satwatch.pipeline.request`: what a run covers (:class:`MonitorRequest`), its source and run folder.
- :mod:`~satwatch.pipeline.plan`: requests and claim windows to one de-duplicated list of acquisitions.
- :mod:`~satwatch.pipeline.scene`: one acquisition fetched, its header read once, detections from the cache or
  the detector, observability, a :class:`SceneResult`; unreadable scenes quarantined, fetched again or excluded.
- :mod:`~satwatch.pipeline.assemble`: the run folder from the results, each file written once, ``run.json`` last.
- :mod:`~satwatch.pipeline.run`: the plain-loop executor. The Prefect flows (``flows/``), ``satwatch batch`` and
  :func:`satwatch.claims.check.check_claims` choose their own executor and call the same stage functions.

Example::

    from satwatch.pipeline import build_request, run_monitor
    run_dir = run_monitor(build_request(scenario_path="scenarios/tiny.yaml"))
"""

from satwatch.pipeline.assemble import SIMULATED_NOTICE, finish_run
from satwatch.pipeline.plan import PlannedScene, plan_scenes
from satwatch.pipeline.request import DEMO_SCENARIO, MonitorRequest, build_request, new_run_dir, open_source
from satwatch.pipeline.run import fetch_planned, run_monitor, run_scenes
from satwatch.pipeline.scene import (
    ExcludedScene,
    SceneDetections,
    SceneResult,
    detect_scene,
    fetch_scene,
    process_scene,
    scene_stage,
)

__all__ = [
    "DEMO_SCENARIO",
    "SIMULATED_NOTICE",
    "ExcludedScene",
    "MonitorRequest",
    "PlannedScene",
    "SceneDetections",
    "SceneResult",
    "build_request",
    "detect_scene",
    "fetch_planned",
    "fetch_scene",
    "finish_run",
    "new_run_dir",
    "open_source",
    "plan_scenes",
    "process_scene",
    "run_monitor",
    "run_scenes",
    "scene_stage",
]
