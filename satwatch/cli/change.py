"""``satwatch change``: recompute the change outputs of an existing run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from satwatch.cli._common import Subparsers
from satwatch.outputs.text import text_table

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``change`` command to ``sub``."""
    chg = sub.add_parser("change", help="recompute the change layers of an existing run folder")
    chg.add_argument("--run", required=True, type=Path, help="run folder (data/outputs/<run-id>)")
    chg.add_argument("--baseline", help="baseline window YYYY-MM-DD/YYYY-MM-DD (default: first half of the run)")
    chg.add_argument("--test", help="test window YYYY-MM-DD/YYYY-MM-DD (default: second half of the run)")
    chg.add_argument("--min-observed", type=float, default=0.5,
                     help="least observed fraction of the AOI for an acquisition to count (default 0.5)")
    chg.add_argument("--no-pixel", action="store_true", help="skip pixel-level change (no scene reads)")

    chg.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch change`` with the parsed ``args``; return the exit code."""
    from satwatch.change.run_changes import write_changes
    from satwatch.change.timeseries import parse_window

    windows = [parse_window(w) if w else None for w in (args.baseline, args.test)]
    baseline, test = ((w.start, w.end) if w else None for w in windows)
    summary = write_changes(args.run, baseline, test, args.min_observed, pixel=not args.no_pixel, update_record=True)
    rows = [
        (c.aoi, c.sensor, c.cls, f"{c.baseline_used}/{c.baseline_used + c.baseline_excluded}",
         f"{c.test_used}/{c.test_used + c.test_excluded}", f"{c.baseline_rate:.2f}", f"{c.test_rate:.2f}",
         f"{c.rate_ratio:.2f} [{c.ratio_low:.2f}, {c.ratio_high:.2f}]", "yes" if c.significant else "no")
        for c in summary.comparisons
    ]
    print(f"baseline {summary.baseline}, test {summary.test}; acquisitions used/all per window; rates per fully "
          "observed acquisition")
    print(text_table(rows, ("aoi", "sensor", "class", "base used", "test used", "base rate", "test rate",
                        "ratio [95% CI]", "significant")))
    if summary.simulated:
        print("SIMULATED imagery: a demonstration of the method, not evidence about the real world.")
    print(f"wrote {', '.join(summary.outputs)} in {args.run}")
    return 0
