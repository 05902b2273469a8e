"""``satwatch schedule``: serve scheduled ``monitor_catalog`` deployments against a Prefect server."""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path

from satwatch.cli._common import DETECTOR_HELP, Subparsers, existing_file, prefect_offline_env

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``schedule`` command to ``sub``."""
    sch = sub.add_parser("schedule", help="serve scheduled monitoring deployments against a Prefect server "
                                          "(PREFECT_API_URL)")
    sch.add_argument("--aoi", action="append", help="AOI of one custom group; repeat (default: the catalog grouped "
                                                    "by country)")
    sch.add_argument("--name", help="deployment name of the --aoi group (default: monitor-<first aoi>)")
    sch.add_argument("--cron", help='cron schedule, UTC (default "0 6 * * *": daily at 06:00)')
    sch.add_argument("--interval", type=float, metavar="SECONDS", help="run every SECONDS instead of --cron")
    sch.add_argument("--lookback-days", type=int, default=30, help="days each run covers, up to today (default 30)")
    sch.add_argument("--source", default="simulated", help="simulated (default), archive, sentinel-hub or cdse")
    sch.add_argument("--scenario", type=existing_file, help="scenario YAML (simulated source; its own period)")
    sch.add_argument("--detector", default=None, help=DETECTOR_HELP)
    sch.add_argument("--limit", type=int, help="most flow runs at a time (default: no limit)")

    sch.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch schedule`` with the parsed ``args``; return the exit code."""
    import importlib

    from satwatch.pipeline import build_request

    if not os.environ.get("PREFECT_API_URL"):
        from satwatch.errors import UsageError

        raise UsageError("set PREFECT_API_URL to a Prefect server (start one with `satwatch server`, then "
                         "export PREFECT_API_URL=http://127.0.0.1:4200/api)")
    # Validate before registering anything: AOIs, source and scenario fail here with one line.
    if args.aoi or args.scenario:
        today = None if args.scenario else date.today()
        build_request(args.aoi, today, today, None, args.source, args.scenario, args.detector)
    prefect_offline_env()
    schedules = importlib.import_module("satwatch.flows.schedules")
    if args.aoi or args.scenario:
        first = (args.aoi or [Path(str(args.scenario)).stem])[0]
        name = args.name or "monitor-" + "".join(c if c.isalnum() else "-" for c in Path(first).stem.lower())
        watches = [schedules.Watch(name, tuple(args.aoi or ()))]
    else:
        watches = schedules.catalog_groups()
    deployments = schedules.build_deployments(
        watches, cron=args.cron, interval_s=args.interval, lookback_days=args.lookback_days, source=args.source,
        scenario=str(Path(args.scenario).resolve()) if args.scenario else None, detector=args.detector,
    )
    when = f"every {args.interval:g} s" if args.interval else f"cron {args.cron or schedules.DEFAULT_CRON!r} UTC"
    for d in deployments:
        print(f"serving monitor_catalog/{d.name} ({when}) against {os.environ['PREFECT_API_URL']}", flush=True)
    schedules.serve_deployments(deployments, limit=args.limit)
    return 0
