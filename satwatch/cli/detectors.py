"""``satwatch detectors``: each profile's default detector and the real-data figures behind it."""

from __future__ import annotations

import argparse
import json

from satwatch.cli._common import Subparsers

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``detectors`` command to ``sub``."""
    dts = sub.add_parser("detectors", help="each profile's default detector and the real-data figures behind it")
    dts.add_argument("--json", action="store_true", help="print the listing as JSON")

    dts.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch detectors`` with the parsed ``args``; return the exit code."""
    from satwatch.detection.auto import describe_defaults
    from satwatch.detection.training.figures import Figures

    listing = describe_defaults()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for profile, entry in listing.items():
        print(f"{profile}: default {entry['detector']} ({entry['reason']})")
        for fig in entry["real"]:
            print(f"  real {Figures.from_dict(fig).summary()}")
    return 0
