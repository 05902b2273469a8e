"""``satwatch aoi list|show``: the AOI catalog as a table, one AOI's properties."""

from __future__ import annotations

import argparse

from satwatch.cli._common import Parser, Subparsers
from satwatch.outputs.text import text_table

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``aoi`` command to ``sub``."""
    aoi = sub.add_parser("aoi", help="list and show areas of interest")
    aoi_sub = aoi.add_subparsers(dest="aoi_command", required=True, parser_class=Parser)
    aoi_sub.add_parser("list", help="table of the AOI catalog")
    show = aoi_sub.add_parser("show", help="properties, area and bbox of one AOI")
    show.add_argument("aoi", help="catalog id or path to a GeoJSON/GeoPackage")

    aoi.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch aoi`` with the parsed ``args``; return the exit code."""
    from satwatch.aoi import load_catalog, resolve_aoi

    if args.aoi_command == "list":
        rows = [
            (a.id, a.name, a.country, ",".join(a.watch), a.confidence, f"{a.area_km2:.1f}")
            for a in load_catalog().values()
        ]
        print(text_table(rows, ("id", "name", "country", "watch", "confidence", "km2")))
        return 0
    a = resolve_aoi(args.aoi)
    b = a.bbox
    for key, value in [
        ("id", a.id), ("name", a.name), ("country", a.country), ("watch", ", ".join(a.watch)),
        ("confidence", a.confidence), ("rationale", a.rationale), ("source", a.source),
        ("area_km2", f"{a.area_km2:.2f}"), ("bbox", f"{b[0]:.5f}, {b[1]:.5f}, {b[2]:.5f}, {b[3]:.5f}"),
        ("utm", f"EPSG:{a.utm_epsg}"), ("crosses_antimeridian", str(a.crosses_antimeridian).lower()),
    ]:
        print(f"{key:>21}: {value}")
    return 0
