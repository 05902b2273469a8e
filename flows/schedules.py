"""Deployments of the monitoring flows on a schedule, served against a Prefect server (``satwatch schedule``).

One deployment per watched AOI group (``monitor_catalog`` over the group's AOIs, a rolling ``lookback_days``
window), with a cron or interval schedule. :func:`serve_deployments` registers them with the server named by
``PREFECT_API_URL`` and runs their flow runs in subprocesses of this process until it is stopped (Prefect's
``serve``). ``prefect.yaml`` declares the same deployments for a work pool and worker instead. Importable as
``satwatch.flows.schedules``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

from satwatch.aoi import load_catalog
from satwatch.errors import UsageError

try:  # imported as satwatch.flows.schedules (the CLI) or checked as flows.schedules (mypy)
    from .monitor import monitor_catalog
except ImportError:  # loaded by path
    from satwatch.flows.monitor import monitor_catalog  # type: ignore[import-not-found,no-redef]

DEFAULT_CRON = "0 6 * * *"
"""Daily at 06:00 UTC: the morning after most Sentinel-1/2 overpasses of the Far East are processed."""
DEFAULT_LOOKBACK_DAYS = 30
"""Each scheduled run covers the last 30 days (new acquisitions only cost work; the rest is cached)."""
_GROUP_NAMES = {"KP": "dprk-ports", "RU": "russia-far-east"}


@dataclass(frozen=True)
class Watch:
    """One scheduled deployment: a group of AOIs monitored together."""

    name: str
    """Deployment name (lowercase, digits, dashes)."""
    aois: tuple[str, ...]
    """AOI ids or vector files of the group (empty: the scenario's AOIs)."""


def catalog_groups() -> list[Watch]:
    """Return the catalog's AOIs grouped by country (``dprk-ports``, ``russia-far-east``, ...)."""
    groups: dict[str, list[str]] = {}
    for aoi in load_catalog().values():
        country = str(aoi.to_feature()["properties"].get("country", "xx")).upper()
        groups.setdefault(_GROUP_NAMES.get(country, f"aois-{country.lower()}"), []).append(aoi.id)
    return [Watch(name, tuple(ids)) for name, ids in groups.items()]


def build_deployments(
    watches: Sequence[Watch],
    cron: str | None = None,
    interval_s: float | None = None,
    lookback_days: int | None = DEFAULT_LOOKBACK_DAYS,
    source: str = "simulated",
    scenario: str | None = None,
    detector: str | None = None,
) -> list[RunnerDeployment]:
    """Return one ``monitor_catalog`` deployment per watch, on ``cron`` (default daily) or every ``interval_s``."""
    if cron is not None and interval_s is not None:
        raise UsageError("give --cron or --interval, not both")
    if interval_s is not None and interval_s < 5:
        raise UsageError(f"--interval {interval_s:g} is too short; give at least 5 seconds")
    if interval_s is None and cron is None:
        cron = DEFAULT_CRON
    out = []
    for watch in watches:
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", watch.name):
            raise UsageError(f"deployment name {watch.name!r}: use lowercase letters, digits and dashes")
        params: dict[str, Any] = {"source": source, "detector": detector, "lookback_days": lookback_days}
        if watch.aois:
            params["aois"] = list(watch.aois)
        if scenario is not None:
            params["scenario"] = scenario
            params["lookback_days"] = None  # a scenario has its own period
        deployment = monitor_catalog.to_deployment(
            name=watch.name, cron=cron, interval=interval_s, parameters=params,
            tags=["satwatch", "monitor"], description=f"monitor_catalog over {', '.join(watch.aois) or scenario}",
            entrypoint_type=EntrypointType.MODULE_PATH,  # found through the installed package, wherever it is
        )
        assert isinstance(deployment, RunnerDeployment)  # sync flow: never a coroutine
        out.append(deployment)
    return out


def serve_deployments(deployments: Sequence[RunnerDeployment], limit: int | None = None) -> None:
    """Register ``deployments`` with the server at ``PREFECT_API_URL`` and run their flow runs until stopped."""
    serve(*deployments, limit=limit)
