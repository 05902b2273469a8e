"""``satwatch search``: list real acquisitions (Sentinel Hub / CDSE Catalog API); the options ``fetch`` shares."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from satwatch.cli._common import SH_SENSORS, Subparsers, date_arg
from satwatch.outputs.text import text_table

if TYPE_CHECKING:
    from satwatch.aoi import AOI
    from satwatch.imagery.sentinel_hub import SentinelHubSource

__all__ = ["add_parser", "add_real_arguments", "real_source", "run"]


def add_real_arguments(real: argparse.ArgumentParser) -> None:
    """Add the AOI, period, sensor and provider filters of ``search`` and ``fetch`` to ``real``."""
    real.add_argument("--aoi", required=True, help="catalog id or path to a GeoJSON/GeoPackage")
    real.add_argument("--start", required=True, type=date_arg, help="first day YYYY-MM-DD (UTC)")
    real.add_argument("--end", required=True, type=date_arg, help="last day YYYY-MM-DD (UTC), inclusive")
    real.add_argument("--sensor", required=True, choices=SH_SENSORS)
    real.add_argument("--provider", choices=("sentinel-hub", "cdse"),
                      help="imagery provider (default: SATWATCH_PROVIDER, else sentinel-hub)")
    real.add_argument("--max-cloud", type=float, metavar="PCT",
                      help="keep acquisitions with at most this cloud cover, percent (Sentinel-2)")
    real.add_argument("--min-coverage", type=float, default=0.0, metavar="PCT",
                      help="keep acquisitions covering at least this share of the AOI, percent (default 0)")


def add_parser(sub: Subparsers) -> None:
    """Add the ``search`` command to ``sub``."""
    real = sub.add_parser("search", help="list real acquisitions (Sentinel Hub / CDSE Catalog API)")
    add_real_arguments(real)
    real.set_defaults(handler=run)


def real_source(args: argparse.Namespace, show_progress: bool = False) -> tuple[AOI, SentinelHubSource]:
    """Resolve the AOI and open the Sentinel Hub / CDSE source the arguments name (no network yet)."""
    from satwatch.aoi import resolve_aoi
    from satwatch.errors import UsageError
    from satwatch.imagery.sentinel_hub import SentinelHubSource

    for option, value in (("--max-cloud", args.max_cloud), ("--min-coverage", args.min_coverage)):
        if value is not None and not 0.0 <= value <= 100.0:
            raise UsageError(f"{option} {value:g} is not a percentage; give 0 to 100")
    if args.end < args.start:
        raise UsageError(f"--end {args.end} is before --start {args.start}")
    aoi = resolve_aoi(args.aoi)
    source = SentinelHubSource(
        args.provider, max_cloud=None if args.max_cloud is None else args.max_cloud / 100.0,
        min_coverage=args.min_coverage / 100.0, show_progress=show_progress,
    )
    return aoi, source


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.0f}"


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch search`` with the parsed ``args``; return the exit code."""
    from satwatch.imagery.scene import format_acquired

    aoi, source = real_source(args)
    found = source.search(aoi, args.start, args.end, args.sensor)
    rows = [(format_acquired(a.acquired), _pct(a.cloud_fraction), _pct(a.coverage), str(len(a.item_id.split(","))),
             a.item_id.split(",")[0]) for a in found]
    print(text_table(rows, ("acquired", "cloud_%", "aoi_covered_%", "items", "first_item_id")))
    print(f"{len(found)} {args.sensor} acquisition(s) over {aoi.id} from {args.start} to {args.end} ({source.name})")
    return 0
