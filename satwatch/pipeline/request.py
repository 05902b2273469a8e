"""What a run covers: the :class:`MonitorRequest`, its validation, its imagery source and its run folder.

request = build_request(["ru_dunai"], date(2024, 9, 1), date(2024, 9, 30), scenario_path="scenarios/tiny.yaml")
source = open_source(request)
run_dir = new_run_dir(load_settings().outputs_dir, request)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from satwatch.aoi import AOI, resolve_aois
from satwatch.detection.detector import default_detector
from satwatch.errors import UsageError
from satwatch.imagery.scene import SENSORS
from satwatch.imagery.source import ImagerySource
from satwatch.settings import REPO_ROOT

__all__ = ["DEMO_SCENARIO", "SOURCES", "MonitorRequest", "build_request", "new_run_dir", "open_source"]

DEMO_SCENARIO = REPO_ROOT / "scenarios" / "demo.yaml"
"""The embedded demo: fictional activity on real AOI geometry, run by ``satwatch run`` with no arguments."""
SOURCES = ("simulated", "archive", "sentinel-hub", "cdse")
"""Imagery source names a request accepts."""


@dataclass(frozen=True)
class MonitorRequest:
    """What one monitoring run covers."""

    aois: tuple[AOI, ...]
    """AOIs to monitor."""
    start: date
    """First day (UTC) of the period, inclusive."""
    end: date
    """Last day (UTC) of the period, inclusive."""
    sensors: tuple[str, ...]
    """Sensors to search, e.g. ``("s2", "s1")``."""
    source: str = "simulated"
    """Imagery source name."""
    scenario_path: Path | None = None
    """Simulation scenario YAML (simulated source only); None for a scenario with no planted activity."""
    detector: str = "baseline"
    """Detector name (see ``satwatch.detection.detector.get_detector``)."""
    name: str = "monitor"
    """Short label used in the run id (the scenario name for simulated runs)."""

    @property
    def simulated(self) -> bool:
        """True when the imagery is simulated."""
        return self.source == "simulated"


def build_request(
    aois: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    sensors: Sequence[str] | None = None,
    source: str = "simulated",
    scenario_path: str | Path | None = None,
    detector: str | None = None,
) -> MonitorRequest:
    """Validate run parameters, filling gaps from the scenario (the demo scenario when nothing is given).

    Raises:
        UsageError: unknown source/sensor, end before start, or no period given without a scenario.
        UnknownAOIError: an AOI is neither a catalog id nor a vector file.
    """
    from satwatch.imagery.scenario import load_scenario

    if source not in SOURCES:
        raise UsageError(f"--source {source!r} is not available; choose one of {', '.join(SOURCES)}")
    if source == "simulated" and scenario_path is None and not aois and start is None and end is None:
        scenario_path = DEMO_SCENARIO
    if source != "simulated" and scenario_path is not None:
        raise UsageError("--scenario only applies to --source simulated")
    scenario = load_scenario(scenario_path) if scenario_path is not None else None
    aoi_specs = list(aois) if aois else (list(scenario.aois) if scenario else [])
    if not aoi_specs:
        raise UsageError("name at least one --aoi (or give a --scenario that lists its AOIs)")
    if scenario is not None:
        start = start or scenario.start
        end = end or scenario.end
        sensors = sensors or tuple(scenario.sensors)
    if start is None or end is None:
        raise UsageError("give --start and --end (YYYY-MM-DD), or a --scenario that has a period")
    if end < start:
        raise UsageError(f"--end {end} is before --start {start}")
    sensors = tuple(sensors or ("s2", "s1"))
    bad = [s for s in sensors if s not in SENSORS]
    if bad:
        raise UsageError(f"unknown sensor(s) {bad}; choose from {', '.join(SENSORS)}")
    return MonitorRequest(
        aois=tuple(resolve_aois(aoi_specs)),
        start=start,
        end=end,
        sensors=sensors,
        source=source,
        scenario_path=Path(scenario_path) if scenario_path is not None else None,
        detector=detector or default_detector(),
        name=scenario.name if scenario is not None else "monitor",
    )


def open_source(request: MonitorRequest) -> ImagerySource:
    """Return the imagery source the request names (nothing is searched or fetched yet)."""
    from satwatch.imagery.archive import ArchiveSource
    from satwatch.imagery.scenario import Scenario, load_scenario
    from satwatch.imagery.simulated import SimulatedSource
    from satwatch.settings import load_settings

    if request.source == "archive":
        return ArchiveSource(load_settings().archive_dir)
    if request.source in ("sentinel-hub", "cdse"):
        from satwatch.imagery.sentinel_hub import SentinelHubSource

        return SentinelHubSource(request.source, load_settings())
    if request.scenario_path is not None:
        scenario = load_scenario(request.scenario_path)
    else:
        scenario = Scenario.default([a.id for a in request.aois], request.start, request.end)
    return SimulatedSource(scenario)


def new_run_dir(outputs_dir: Path, request: MonitorRequest, now: datetime | None = None) -> Path:
    """Create and return a new run folder ``<outputs_dir>/<UTC stamp>-<name>`` (suffixed if it exists)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    label = re.sub(r"[^a-z0-9_-]+", "-", request.name.lower()).strip("-") or "run"
    base = outputs_dir.resolve() / f"{stamp}-{label}"
    run_dir, i = base, 1
    while run_dir.exists():
        i += 1
        run_dir = base.with_name(f"{base.name}-{i}")
    (run_dir / "per_scene").mkdir(parents=True)
    return run_dir
