"""The *plan* stage: a request (and, for claims, its search windows) to one de-duplicated list of acquisitions.

Every caller plans the same way: the monitor flow and ``batch_detect`` pass their retried Prefect ``search``
task as ``search``, the plain-Python runs (:func:`satwatch.pipeline.run.run_monitor`,
:func:`satwatch.claims.check.check_claims`, ``satwatch batch --aoi``) let it search the request's source::

    planned = plan_scenes(request)                      # the request's whole period
    planned = plan_scenes(request, periods=windows)     # only these windows (claims)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from satwatch.aoi import AOI
from satwatch.change.timeseries import Window
from satwatch.imagery.source import Acquisition
from satwatch.pipeline.request import MonitorRequest, open_source

__all__ = ["PlannedScene", "Search", "plan_scenes"]

Search = Callable[[MonitorRequest, AOI, str], Sequence[Acquisition]]
"""Lists the acquisitions of one AOI and sensor over the request's ``start`` .. ``end`` (a Prefect task or a
plain function)."""


@dataclass(frozen=True)
class PlannedScene:
    """One acquisition a run fetches and processes, with the AOI it was searched for."""

    acquisition: Acquisition
    """What the source found: AOI id, sensor, acquisition time (UTC), provider item."""
    aoi: AOI
    """The AOI it was searched for (its observability is measured against this AOI)."""


def plan_scenes(request: MonitorRequest, periods: Sequence[Window] | None = None,
                search: Search | None = None) -> list[PlannedScene]:
    """Search every AOI and sensor of ``request`` and return each acquisition once.

    Args:
        request: AOIs, sensors, period and source of the run.
        periods: search only these windows (each inclusive, UTC days); default: ``request.start`` ..
            ``request.end``. Acquisitions found by overlapping windows are kept once.
        search: how one AOI and sensor is searched over a period given as a request's ``start`` .. ``end``;
            default: the request's source (:func:`~satwatch.pipeline.request.open_source`), opened once.

    Returns:
        Planned scenes in search order (AOI, sensor, window, then the source's order), unique by
        ``(aoi, sensor, acquired)``.
    """
    if search is None:
        source = open_source(request)

        def search(r: MonitorRequest, aoi: AOI, sensor: str) -> Sequence[Acquisition]:
            return source.search(aoi, r.start, r.end, sensor)

    windows = list(periods) if periods else [Window(request.start, request.end)]
    planned: list[PlannedScene] = []
    seen: set[tuple[str, str, str]] = set()
    for aoi in request.aois:
        for sensor in request.sensors:
            for window in windows:
                sub = request if (window.start, window.end) == (request.start, request.end) else replace(
                    request, start=window.start, end=window.end)
                for acquisition in search(sub, aoi, sensor):
                    key = (aoi.id, acquisition.sensor, acquisition.acquired.isoformat())
                    if key not in seen:
                        seen.add(key)
                        planned.append(PlannedScene(acquisition, aoi))
    return planned
