"""``satwatch archive import|list``: bring your own GeoTIFFs into the archive, list what it holds."""

from __future__ import annotations

import argparse

from satwatch.cli._common import SENSORS, Parser, Subparsers, datetime_arg, existing_file
from satwatch.outputs.text import text_table

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``archive`` command to ``sub``."""
    arc = sub.add_parser("archive", help="the scene archive")
    arc_sub = arc.add_subparsers(dest="archive_command", required=True, parser_class=Parser)
    imp = arc_sub.add_parser("import", help="bring your own GeoTIFFs into the archive")
    imp.add_argument("paths", nargs="+", type=existing_file, help="GeoTIFF files")
    imp.add_argument("--aoi", required=True, help="catalog id or vector file the scenes belong to")
    imp.add_argument("--sensor", default="vhr", choices=SENSORS, help="default: vhr")
    imp.add_argument("--acquired", type=datetime_arg, help="acquisition time if the file has none")
    imp.add_argument("--bands", help="comma-separated band names in file order, e.g. R,G,B,N")
    imp.add_argument("--scale", type=float, help="DN to reflectance multiplier, e.g. 0.0001")
    imp.add_argument("--offset", type=float, default=0.0, help="added after scaling (default 0)")
    imp.add_argument("--srgb", action="store_true",
                     help="8-bit display imagery (photos, drone frames, viewer exports): decode sRGB to linear "
                          "values, as the vhr detector expects (instead of --scale)")
    lst = arc_sub.add_parser("list", help="list archived scenes")
    lst.add_argument("--aoi", help="only this AOI id")

    arc.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch archive`` with the parsed ``args``; return the exit code."""
    from satwatch.imagery.archive import Archive, import_geotiff
    from satwatch.settings import load_settings

    archive = Archive(load_settings().archive_dir)
    if args.archive_command == "list":
        entries = archive.scenes(aoi_id=args.aoi)
        rows = [(e.aoi, e.sensor, e.acquired.isoformat(), "yes" if e.simulated else "no", str(e.path))
                for e in entries]
        print(text_table(rows, ("aoi", "sensor", "acquired", "simulated", "path")))
        return 0
    from satwatch.aoi import resolve_aoi

    aoi = resolve_aoi(args.aoi)
    bands = [b.strip() for b in args.bands.split(",")] if args.bands else None
    for path in args.paths:
        out = import_geotiff(path, archive, aoi, args.sensor, args.acquired, bands, args.scale, args.offset,
                             srgb=args.srgb)
        print(f"imported {path} -> {out}")
    return 0
