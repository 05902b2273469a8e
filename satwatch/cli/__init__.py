"""The ``satwatch`` command line: one module per command (like rasterio's ``rio/``), parsing only.

Each command module has ``add_parser(sub)`` (its arguments, its handler) and ``run(args) -> int``, which calls
the package (``satwatch.pipeline``, the flows in ``flows/``, ``satwatch.claims``, ...) and prints. A user's
mistake (unknown AOI, bad date, missing file) prints one line ``satwatch: error: ...`` on stderr and exits 2;
missing or rejected credentials exit 3; other failures exit 1. No tracebacks unless ``SATWATCH_DEBUG=1``.
Importing this package is light (no GDAL, torch or Prefect): ``satwatch --help`` costs a fraction of a second.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from satwatch.cli import (
    aoi,
    archive,
    batch,
    change,
    claims,
    detect,
    detectors,
    evaluate,
    fetch,
    report,
    run,
    schedule,
    search,
    server,
    simulate,
    train,
)
from satwatch.cli._common import PRECISIONS, SENSORS, SH_SENSORS, Parser
from satwatch.errors import SatwatchError

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = (aoi, simulate, detectors, detect, train, run, schedule, server, batch, change, search, fetch, archive,
            claims, report, evaluate)
"""The command modules, in the order ``satwatch --help`` lists them."""
_SENSORS, _SH_SENSORS, _PRECISIONS = SENSORS, SH_SENSORS, PRECISIONS  # the names the tests and callers know


def build_parser() -> argparse.ArgumentParser:
    """Return the ``satwatch`` parser with every command of :data:`COMMANDS`."""
    p = Parser(prog="satwatch", description="Test claims about military movements against satellite imagery.")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code."""
    args = build_parser().parse_args(argv)
    # Only satwatch's own progress is shown; libraries (httpx, pyogrio) stay at warnings unless --verbose.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("satwatch").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        code: int = args.handler(args)
        return code
    except SatwatchError as exc:
        if os.environ.get("SATWATCH_DEBUG") == "1":
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"satwatch: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("satwatch: interrupted", file=sys.stderr)
        return 130
