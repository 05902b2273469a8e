"""``satwatch run``: validate, then run the ``monitor`` Prefect flow (no arguments: the demo scenario)."""

from __future__ import annotations

import argparse
from pathlib import Path

from satwatch.cli._common import DETECTOR_HELP, SENSORS, Subparsers, date_arg, existing_file, prefect_offline_env

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``run`` command to ``sub``."""
    run_parser = sub.add_parser("run", help="run the monitor flow (no arguments: the demo scenario)")
    run_parser.add_argument("--aoi", action="append", help="catalog id or vector file; repeat for several")
    run_parser.add_argument("--start", type=date_arg, help="first day YYYY-MM-DD")
    run_parser.add_argument("--end", type=date_arg, help="last day YYYY-MM-DD")
    run_parser.add_argument("--sensor", action="append", choices=SENSORS, help="repeat for several")
    run_parser.add_argument("--source", default="simulated",
                     help="imagery source: simulated (default), archive, sentinel-hub or cdse (real imagery)")
    run_parser.add_argument("--scenario", type=existing_file, help="scenario YAML (simulated source)")
    run_parser.add_argument("--detector", default=None, help=DETECTOR_HELP)
    run_parser.add_argument("--dask-address", metavar="tcp://HOST:PORT",
                     help="run the fan-out on this dask.distributed scheduler (workers share the data folder)")

    run_parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch run`` with the parsed ``args``; return the exit code."""
    from satwatch.pipeline import build_request

    # Validate before starting Prefect, so a mistake costs a second, not a server start.
    request = build_request(args.aoi, args.start, args.end, args.sensor, args.source, args.scenario, args.detector)
    if request.source in ("sentinel-hub", "cdse"):
        from satwatch.imagery.sentinel_hub import SentinelHubSource
        from satwatch.pipeline import open_source

        # missing or rejected credentials and bad provider URLs fail here, before Prefect starts
        source = open_source(request)
        if isinstance(source, SentinelHubSource):
            source.authenticate()
    prefect_offline_env()
    import importlib

    flows = importlib.import_module("satwatch.flows.monitor")
    monitor = flows.monitor
    if args.dask_address:
        monitor = monitor.with_options(task_runner=flows.task_runner(args.dask_address))
    run_dir = monitor(
        aois=args.aoi, start=args.start, end=args.end, sensors=args.sensor, source=args.source,
        scenario=str(args.scenario) if args.scenario else None, detector=args.detector,
    )
    if (Path(run_dir) / "report.html").is_file():
        print(f"report: {Path(run_dir) / 'report.html'}")
    print(f"outputs: {run_dir}")
    return 0
