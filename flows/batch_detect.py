"""The ``batch_detect`` flow: run a detector over many archived scenes on one machine (a GPU box).

Thin: one task holds the device and calls :func:`satwatch.batch.run_batch` (a prefetching DataLoader overlaps
scene reads with inference; pinned memory and float16 on CUDA; the detection cache skips scenes already detected
by this detector version). Scenes are given as paths, or planned (the pipeline's plan stage with the monitor
flow's retried search task) and fetched with its retried fetch task for AOIs over a period. Importable as
``satwatch.flows.batch_detect``; entrypoint ``flows/batch_detect.py:batch_detect``.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, task

from satwatch.batch import BatchSummary, run_batch
from satwatch.pipeline import build_request, plan_scenes
from satwatch.settings import load_settings

try:  # imported as satwatch.flows.batch_detect (the CLI) or checked as flows.batch_detect (mypy)
    from .monitor import BACKOFF, RETRIES, RUNNER, fetch, search, worth_retrying
except ImportError:  # loaded by path, e.g. a Prefect entrypoint flows/batch_detect.py:batch_detect
    from satwatch.flows.monitor import (  # type: ignore[import-not-found,no-redef]
        BACKOFF,
        RETRIES,
        RUNNER,
        fetch,
        search,
        worth_retrying,
    )


@task(name="detect-batch", retries=RETRIES, retry_delay_seconds=BACKOFF, retry_jitter_factor=0.5,
      retry_condition_fn=worth_retrying)
def detect_batch(scenes: list[str], out_dir: str | None, detector: str | None, device: str, batch_size: int,
                 workers: int, precision: str = "auto") -> BatchSummary:
    """Detect every scene (one process, one device); return the summary (paths and numbers)."""
    options = {"precision": precision} if precision != "auto" else None
    return run_batch(scenes, out_dir, detector=detector, device=device, batch_size=batch_size, workers=workers,
                     progress=False, detector_options=options)


# Prefect's own annotation of task_runner is narrower than the runners it ships (invariant generic).
@flow(name="batch_detect", log_prints=True, task_runner=RUNNER)  # type: ignore[arg-type]
def batch_detect(
    scenes: list[str] | None = None,
    aois: list[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    sensors: list[str] | None = None,
    source: str = "simulated",
    scenario: str | None = None,
    detector: str | None = None,
    device: str = "auto",
    batch_size: int = 4,
    workers: int = 2,
    out_dir: str | None = None,
    precision: str = "auto",
) -> str:
    """Detect objects in ``scenes`` (paths), or in the acquisitions of ``aois`` over a period; return summary.json."""
    paths = list(scenes or [])
    if aois or scenario:
        request = build_request(aois, start, end, sensors, source, scenario, detector)
        archive_root = str(load_settings().archive_dir)
        futures = [fetch.submit(request, p.acquisition, p.aoi, archive_root)
                   for p in plan_scenes(request, search=search)]
        for fetched in (f.result() for f in futures):
            if isinstance(fetched, str):
                paths.append(fetched)
            else:  # no valid pixel: nothing archived, named and skipped
                print(f"skipped {fetched.aoi} {fetched.sensor} {fetched.acquired}: {fetched.reason}")
    summary = detect_batch(paths, out_dir, detector, device, batch_size, workers, precision)
    print(f"{summary.scenes} scenes, {summary.detections} detections, {summary.scenes_per_minute:.1f} scenes/min "
          f"on {summary.device}; outputs in {summary.out_dir}")
    return summary.summary_path
