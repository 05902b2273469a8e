"""The ``verify_claim`` flow: fetch and detect what the claims' windows need, then judge and package evidence.

Thin on purpose: it reuses the monitor flow's tasks (plan with the retried search, fetch with retries,
detect fanned out: ``satwatch.pipeline``'s stages) over the claims' merged baseline and test windows only, then
one ``publish-judged`` task assembles the run folder with the claims judged in it
(:func:`satwatch.claims.check.claims_judge`: ``claims.json``, ``claims.csv``, ``evidence/``; ``run.json`` and
the report written once, last). Every step is a function of ``satwatch``; ``satwatch claims check`` runs this
flow. Importable as ``satwatch.flows.verify_claim``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from prefect import flow, task

from satwatch.claims.check import CheckPlan, claims_judge, plan_check
from satwatch.imagery.archive import Archive
from satwatch.pipeline import ExcludedScene, SceneResult, finish_run, new_run_dir
from satwatch.settings import load_settings

try:  # imported as satwatch.flows.verify_claim (the CLI) or checked as flows.verify_claim (mypy)
    from .monitor import BACKOFF, RETRIES, RUNNER, processed, submit_scenes, worth_retrying
except ImportError:  # loaded by path, e.g. a Prefect entrypoint flows/verify_claim.py:verify_claim
    from satwatch.flows.monitor import (  # type: ignore[import-not-found,no-redef]
        BACKOFF,
        RETRIES,
        RUNNER,
        processed,
        submit_scenes,
        worth_retrying,
    )


@task(name="publish-judged", retries=RETRIES, retry_delay_seconds=BACKOFF, retry_jitter_factor=0.5,
      retry_condition_fn=worth_retrying)
def publish_judged(plan: CheckPlan, results: list[SceneResult | ExcludedScene], run_dir: str,
                   started: datetime) -> dict[str, str]:
    """Write the run folder with the claims judged in it (run.json and the report once, last); return verdicts."""
    record = finish_run(plan.request, results, run_dir, started, judge=claims_judge(plan))
    verdicts: dict[str, str] = json.loads(record.read_text(encoding="utf-8"))["claims"]["verdicts"]
    return verdicts


# Prefect's own annotation of task_runner is narrower than the runners it ships (invariant generic).
@flow(name="verify_claim", log_prints=True, task_runner=RUNNER)  # type: ignore[arg-type]
def verify_claim(
    claim_ids: list[str],
    source: str = "simulated",
    scenario: str | None = None,
    claims: str | None = None,
    detector: str | None = None,
) -> str:
    """Check claims (ids of the claims catalog, or of ``claims``) and return the run folder."""
    started = datetime.now(UTC)
    plan = plan_check(claim_ids, source, scenario, claims, detector)
    settings = load_settings()
    run_dir = str(new_run_dir(settings.outputs_dir, plan.request))
    archive_root = str(settings.archive_dir)
    Archive(archive_root).sweep_partials()  # leftovers (> 1 h old) of writes killed in earlier runs
    detected = submit_scenes(plan.request, run_dir, archive_root, periods=plan.periods)
    results = [d.result() for d in detected]
    verdicts = publish_judged(plan, results, run_dir, started)
    print(f"{processed(results)}; verdicts {verdicts}; outputs in {run_dir}")
    return run_dir
