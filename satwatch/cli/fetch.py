"""``satwatch fetch``: download real acquisitions into the archive (Sentinel Hub / CDSE Process API)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from satwatch.cli._common import Subparsers
from satwatch.cli.search import add_real_arguments, real_source

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``fetch`` command to ``sub``."""
    real = sub.add_parser("fetch", help="download real acquisitions into the archive (Sentinel Hub / CDSE Process API)")
    add_real_arguments(real)
    real.add_argument("--archive", type=Path, help="archive folder (default: <SATWATCH_DATA_DIR>/archive)")
    real.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch fetch`` with the parsed ``args``; return the exit code."""
    from tqdm import tqdm

    from satwatch.imagery.archive import Archive
    from satwatch.pipeline.scene import ExcludedScene, fetch_scene
    from satwatch.settings import load_settings

    aoi, source = real_source(args, show_progress=True)
    root = args.archive or load_settings().archive_dir
    archive = Archive(root)
    found = source.search(aoi, args.start, args.end, args.sensor)
    if not found:
        print(f"no {args.sensor} acquisitions over {aoi.id} from {args.start} to {args.end} ({source.name}); "
              "nothing fetched")
        return 0
    with tqdm(total=len(found), desc=f"{source.name} {aoi.id} {args.sensor}", unit="scene", file=sys.stderr) as bar:
        for acquisition in found:
            kept = archive.has(aoi.id, acquisition.sensor, acquisition.acquired)
            path = fetch_scene(source, acquisition, aoi, root)  # the pipeline's fetch and its no-data path
            if isinstance(path, ExcludedScene):  # an all-no-data answer: nothing archived, the rest still fetched
                bar.write(f"skipped: {path.reason}", file=sys.stdout)
                bar.update(1)
                continue
            entry = archive.get(aoi.id, acquisition.sensor, acquisition.acquired)
            height, width = entry.properties.get("proj:shape", [0, 0])
            valid = float(entry.properties.get("satwatch:valid_fraction", 0.0))
            cloud = entry.properties.get("eo:cloud_cover")
            detail = f"{width} x {height} px, {valid:.0%} valid"
            if cloud is not None:
                detail += f", cloud {cloud:.0f}%"
            bar.write(f"{'already archived' if kept else 'wrote'} {path} ({detail})", file=sys.stdout)
            bar.update(1)
    print(f"{len(found)} {args.sensor} acquisition(s) of {aoi.id} from {source.name} in {root}")
    return 0
