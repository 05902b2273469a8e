"""The ``verify_claim`` flow: fetch and detect what the claims' windows need, then judge and package evidence.

Thin on purpose: it reuses the monitor flow's tasks (plan with the retried search, fetch with retries,
detect fanned out, publish: ``satwatch.pipeline``'s stages) over the claims' merged baseline and test windows
only, then one ``judge`` task writes ``claims.json``, ``claims.csv`` and ``evidence/`` with
:func:`satwatch.claims.check.finish_check`. Every step is a function of
``satwatch``; ``satwatch claims check`` runs this flow. Importable as ``satwatch.flows.verify_claim``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from prefect import flow, task

from satwatch.claims.check import CheckPlan, finish_check, plan_check, select_claims
from satwatch.imagery.archive import Archive
from satwatch.pipeline import new_run_dir
from satwatch.settings import load_settings

try:  # imported as satwatch.flows.verify_claim (the CLI) or checked as flows.verify_claim (mypy)
    from .monitor import _RUNNER, _processed, publish, submit_scenes
except ImportError:  # loaded by path, e.g. a Prefect entrypoint flows/verify_claim.py:verify_claim
    from satwatch.flows.monitor import (  # type: ignore[import-not-found,no-redef]
        _RUNNER,
        _processed,
        publish,
        submit_scenes,
    )


@task(name="judge")
def judge(run_dir: str, plan: CheckPlan) -> dict[str, str]:
    """Judge the claims on the published run folder; return verdicts by claim id."""
    claims = select_claims(plan.claim_ids, plan.claims_path)
    verdicts = finish_check(run_dir, claims, plan.claims_path, plan.uncovered_aois)
    return {v.claim.id: v.verdict for v in verdicts}


# Prefect's own annotation of task_runner is narrower than the runners it ships (invariant generic).
@flow(name="verify_claim", log_prints=True, task_runner=_RUNNER)  # type: ignore[arg-type]
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
    publish(plan.request, results, run_dir, started)
    verdicts = judge(run_dir, plan)
    print(f"{_processed(results)}; verdicts {verdicts}; outputs in {run_dir}")
    return run_dir
