"""``satwatch simulate``: render one simulated scene and its ground truth (SIMULATED imagery)."""

from __future__ import annotations

import argparse
from pathlib import Path

from satwatch.cli._common import SENSORS, Subparsers, date_arg, existing_file

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``simulate`` command to ``sub``."""
    sim = sub.add_parser("simulate", help="render one simulated scene (and its ground truth)")
    sim.add_argument("--aoi", required=True, help="catalog id or path to a GeoJSON/GeoPackage")
    sim.add_argument("--date", required=True, type=date_arg, help="acquisition date YYYY-MM-DD (UTC)")
    sim.add_argument("--sensor", required=True, choices=SENSORS)
    sim.add_argument("--scenario", type=existing_file, help="scenario YAML with planted activity")
    sim.add_argument("--out", required=True, type=Path, help="output GeoTIFF")
    sim.add_argument("--truth", type=Path, help="output GeoJSON of the planted objects")

    sim.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch simulate`` with the parsed ``args``; return the exit code."""
    from satwatch.aoi import resolve_aoi
    from satwatch.imagery.scenario import Scenario, load_scenario, overpass_time
    from satwatch.imagery.scene import write_scene
    from satwatch.imagery.simulated import render
    from satwatch.outputs.files import write_geojson

    aoi = resolve_aoi(args.aoi)
    scenario = load_scenario(args.scenario) if args.scenario else Scenario.default([aoi.id], args.date, args.date)
    rendered = render(aoi, overpass_time(aoi, args.date, args.sensor), args.sensor, scenario)
    write_scene(rendered.scene, args.out)
    print(f"wrote {args.out} ({rendered.scene.width} x {rendered.scene.height} px, {', '.join(rendered.scene.bands)}; "
          "SIMULATED)")
    if args.truth:
        write_geojson(rendered.truth, args.truth)
        print(f"wrote {args.truth} ({len(rendered.truth)} planted objects)")
    return 0
