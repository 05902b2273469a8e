"""``satwatch detectors``: each profile's default detector and the real-data figures behind it."""

from __future__ import annotations

import argparse
import json
import math

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
        distance = entry.get("match_distance_m")
        if isinstance(distance, dict):  # per class: those of the real figures above
            shown = {str(f.get("class")) for f in entry["real"]}
            print("  a detection matches a label within "
                  + ", ".join(f"{d:g} m ({c})" for c, d in distance.items() if c in shown))
        elif distance is not None:
            print(f"  a detection matches a label within {distance:g} m")
        source = entry.get("berth_false_alarms_from")
        if source:
            rates = [Figures.from_dict(f).estimates.get("false_alarms_per_km2") for f in entry.get("berth_real", [])]
            known = [r.text(2) for r in rates if r is not None and math.isfinite(r.value)]
            print(f"  within 60 m of a coast it keeps {source}'s proposals untested; counts there carry {source}'s "
                  f"false alarms ({', '.join(known) or 'unknown'} per km2, measured on open sea)")
    return 0
