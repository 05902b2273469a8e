"""``satwatch report``: write report.html and the QGIS styles of a run folder (optionally judging claims)."""

from __future__ import annotations

import argparse
from pathlib import Path

from satwatch.cli._common import Subparsers, existing_file
from satwatch.errors import InputFileError

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``report`` command to ``sub``."""
    rep = sub.add_parser("report", help="write report.html (maps, time series, verdicts) and QGIS styles of a run")
    rep.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run folder (data/outputs/<run-id>)")
    rep.add_argument("--judge", nargs="+", metavar="ID", default=[],
                     help="first judge these catalog claims on the run folder (claims.json, evidence/)")
    rep.add_argument("--claims", type=existing_file, help="claims file for --judge (default aoi/claims.yaml)")

    rep.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch report`` with the parsed ``args``; return the exit code."""
    from satwatch.outputs.report import write_report
    from satwatch.outputs.styles import write_styles

    run_dir: Path = args.run_dir
    if not (run_dir / "run.json").is_file():
        raise InputFileError(f"{run_dir} is not a run folder (no run.json); pass data/outputs/<run-id>")
    if args.judge:
        from satwatch.claims.check import finish_check, select_claims, verdict_table

        claims = select_claims(args.judge, args.claims)
        # the report is written once, below, with the verdicts and the styles
        print(verdict_table(finish_check(run_dir, claims, args.claims, report=False)), end="")
        print(f"verdicts: {run_dir / 'claims.json'}")
    write_styles(run_dir)
    print(f"report: {write_report(run_dir)}")
    return 0
