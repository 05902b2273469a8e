"""``satwatch detect``: detect objects in scene files into one GeoJSON (each file named, ids unique)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from satwatch.cli._common import DETECTOR_HELP, PRECISION_HELP, PRECISIONS, Subparsers, existing_file

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``detect`` command to ``sub``."""
    det = sub.add_parser("detect", help="detect objects in scene files")
    det.describe = lambda: "Detect objects in scene files. " + _defaults_line()
    det.add_argument("scenes", nargs="+", type=existing_file, help="scene GeoTIFFs")
    det.add_argument("--out", required=True, type=Path, help="output GeoJSON (EPSG:4326)")
    det.add_argument("--detector", default=None, help=DETECTOR_HELP)
    det.add_argument("--device", default="auto", help="cnn: auto (CUDA when present), cpu or cuda")
    det.add_argument("--batch-size", type=int, default=4, help="cnn: tiles per forward pass (default 4)")
    det.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)

    det.set_defaults(handler=run)


class _TileBar:
    """Progress of the tiles of the scene being detected: a tqdm bar on stderr (silent when not a terminal)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(total=total, desc="tiles", unit="tile", file=sys.stderr, disable=None, leave=False)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.close()
            self._bar = None


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch detect`` with the parsed ``args``; return the exit code."""
    from satwatch.detection.detector import CNN_OPTION_DETECTORS, default_detector, detect_files, get_detector
    from satwatch.outputs.files import write_geojson

    name = args.detector or default_detector()
    options = ({"device": args.device, "batch_size": args.batch_size, "precision": args.precision,
                "progress": _TileBar()} if name in CNN_OPTION_DETECTORS else {})
    total = len(args.scenes)

    def progress(done: int, _total: int, path: Path) -> None:
        print(f"[{done}/{total}] {path}", file=sys.stderr)

    detections = detect_files(args.scenes, get_detector(name, **options), progress=progress if total > 1 else None)
    write_geojson(detections, args.out)
    print(f"wrote {args.out}: {len(detections)} detections from {len(args.scenes)} scene(s)")
    return 0


def _defaults_line() -> str:
    """One sentence naming each profile's default detector (for ``detect --help``); never fails."""
    try:
        from satwatch.detection.auto import default_choices

        choices = default_choices()
    except Exception:  # help text must print even if the models folder is damaged
        return ""
    return "Default detector per profile (by real-data figures): " + ", ".join(
        f"{p} {d}" for p, d in choices.items()) + "."
