"""``satwatch batch``: many scenes through the batch detector (prefetching reader, GPU when present)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from satwatch.cli._common import DETECTOR_HELP, PRECISION_HELP, PRECISIONS, SENSORS, Subparsers, date_arg, existing_file

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``batch`` command to ``sub``."""
    bat = sub.add_parser("batch", help="detect objects in many scenes (prefetching reader, GPU when present)")
    bat.add_argument("scenes", nargs="*", type=existing_file, help="scene GeoTIFFs (or use --aoi/--start/--end)")
    bat.add_argument("--aoi", action="append", help="fetch and detect this AOI's acquisitions; repeat for several")
    bat.add_argument("--start", type=date_arg, help="first day YYYY-MM-DD (with --aoi)")
    bat.add_argument("--end", type=date_arg, help="last day YYYY-MM-DD (with --aoi)")
    bat.add_argument("--sensor", action="append", choices=SENSORS, help="repeat for several")
    bat.add_argument("--source", default="simulated", help="imagery source with --aoi (default simulated)")
    bat.add_argument("--scenario", type=existing_file, help="scenario YAML (simulated source)")
    bat.add_argument("--detector", default=None, help=DETECTOR_HELP)
    bat.add_argument("--device", default=None, help="auto (CUDA when present), cpu or cuda (default SATWATCH_DEVICE)")
    bat.add_argument("--batch-size", type=int, default=8, help="cnn: tiles per forward pass (default 8)")
    bat.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)
    bat.add_argument("--workers", type=int, default=2, help="reader processes prefetching scenes (default 2)")
    bat.add_argument("--no-cache", action="store_true", help="detect again even scenes already in the cache")
    bat.add_argument("--out", type=Path, help="output folder (default <data>/outputs/<stamp>-batch)")

    bat.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch batch`` with the parsed ``args``; return the exit code."""
    from satwatch.batch import run_batch
    from satwatch.errors import UsageError
    from satwatch.settings import load_settings

    settings = load_settings()
    device = args.device or settings.device
    from satwatch.detection.models.network import resolve_device

    resolve_device(device)  # `--device cuda` without a GPU: one line, exit 2, before any fetch
    scenes: list[str | Path] = list(args.scenes)
    if args.aoi or args.scenario:
        from satwatch.pipeline import build_request, fetch_planned, plan_scenes

        if args.scenes:
            raise UsageError("give scene files or --aoi/--scenario, not both")
        request = build_request(args.aoi, args.start, args.end, args.sensor, args.source, args.scenario,
                                args.detector)
        for fetched in fetch_planned(request, plan_scenes(request), settings.archive_dir):
            if isinstance(fetched, Path):
                scenes.append(fetched)
            else:  # no valid pixel: nothing archived, named and skipped
                print(f"skipped {fetched.aoi} {fetched.sensor} {fetched.acquired}: {fetched.reason}",
                      file=sys.stderr)
        print(f"{len(scenes)} scene(s) of {', '.join(a.id for a in request.aois)} in the archive", file=sys.stderr)
    elif args.start or args.end:
        raise UsageError("--start/--end go with --aoi")
    summary = run_batch(scenes, args.out, detector=args.detector, device=device, batch_size=args.batch_size,
                        workers=args.workers, use_cache=not args.no_cache, progress=True,
                        detector_options={"precision": args.precision} if args.precision != "auto" else None)
    print(f"{summary.scenes} scenes ({summary.cached} from the cache), {summary.detections} detections, "
          f"{summary.scenes_per_minute:.1f} scenes/min on {summary.device} ({summary.detector})")
    if summary.excluded:
        print(f"{summary.excluded} unreadable scene file(s) left out: see 'excluded' in the summary", file=sys.stderr)
    print(f"summary: {summary.summary_path}")
    print(f"outputs: {summary.out_dir}")
    return 0
