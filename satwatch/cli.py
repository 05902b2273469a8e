"""The ``satwatch`` command line: parses arguments and calls the same functions as the flows.

A user's mistake (unknown AOI, bad date, missing file) prints one line ``satwatch: error: ...`` on stderr and
exits 2; rejected credentials exit 3; other failures exit 1. No tracebacks unless ``SATWATCH_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn

from satwatch.errors import InputFileError, SatwatchError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print a one-line error naming the command and exit 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def _datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date-time; use YYYY-MM-DDTHH:MM:SSZ") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _existing_file(text: str) -> Path:
    p = Path(text)
    if not p.is_file():
        raise argparse.ArgumentTypeError(f"file {text} does not exist")
    return p


def _build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="satwatch", description="Test claims about military movements against satellite imagery.")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    aoi = sub.add_parser("aoi", help="list and show areas of interest")
    aoi_sub = aoi.add_subparsers(dest="aoi_command", required=True, parser_class=_Parser)
    aoi_sub.add_parser("list", help="table of the AOI catalog")
    show = aoi_sub.add_parser("show", help="properties, area and bbox of one AOI")
    show.add_argument("aoi", help="catalog id or path to a GeoJSON/GeoPackage")

    sim = sub.add_parser("simulate", help="render one simulated scene (and its ground truth)")
    sim.add_argument("--aoi", required=True, help="catalog id or path to a GeoJSON/GeoPackage")
    sim.add_argument("--date", required=True, type=_date, help="acquisition date YYYY-MM-DD (UTC)")
    sim.add_argument("--sensor", required=True, choices=("s2", "s1", "vhr"))
    sim.add_argument("--scenario", type=_existing_file, help="scenario YAML with planted activity")
    sim.add_argument("--out", required=True, type=Path, help="output GeoTIFF")
    sim.add_argument("--truth", type=Path, help="output GeoJSON of the planted objects")

    det = sub.add_parser("detect", help="detect objects in scene files")
    det.add_argument("scenes", nargs="+", type=_existing_file, help="scene GeoTIFFs")
    det.add_argument("--out", required=True, type=Path, help="output GeoJSON (EPSG:4326)")
    det.add_argument("--detector", default="baseline", help="detector name (default: baseline)")

    run = sub.add_parser("run", help="run the monitor flow (no arguments: the demo scenario)")
    run.add_argument("--aoi", action="append", help="catalog id or vector file; repeat for several")
    run.add_argument("--start", type=_date, help="first day YYYY-MM-DD")
    run.add_argument("--end", type=_date, help="last day YYYY-MM-DD")
    run.add_argument("--sensor", action="append", choices=("s2", "s1", "vhr"), help="repeat for several")
    run.add_argument("--source", default="simulated", help="imagery source (default: simulated)")
    run.add_argument("--scenario", type=_existing_file, help="scenario YAML (simulated source)")
    run.add_argument("--detector", default="baseline", help="detector name (default: baseline)")

    chg = sub.add_parser("change", help="recompute the change layers of an existing run folder")
    chg.add_argument("--run", required=True, type=Path, help="run folder (data/outputs/<run-id>)")
    chg.add_argument("--baseline", help="baseline window YYYY-MM-DD/YYYY-MM-DD (default: first half of the run)")
    chg.add_argument("--test", help="test window YYYY-MM-DD/YYYY-MM-DD (default: second half of the run)")
    chg.add_argument("--min-observed", type=float, default=0.5,
                     help="least observed fraction of the AOI for an acquisition to count (default 0.5)")
    chg.add_argument("--no-pixel", action="store_true", help="skip pixel-level change (no scene reads)")

    arc = sub.add_parser("archive", help="the scene archive")
    arc_sub = arc.add_subparsers(dest="archive_command", required=True, parser_class=_Parser)
    imp = arc_sub.add_parser("import", help="bring your own GeoTIFFs into the archive")
    imp.add_argument("paths", nargs="+", type=_existing_file, help="GeoTIFF files")
    imp.add_argument("--aoi", required=True, help="catalog id or vector file the scenes belong to")
    imp.add_argument("--sensor", default="vhr", choices=("s2", "s1", "vhr"), help="default: vhr")
    imp.add_argument("--acquired", type=_datetime, help="acquisition time if the file has none")
    imp.add_argument("--bands", help="comma-separated band names in file order, e.g. R,G,B,N")
    imp.add_argument("--scale", type=float, help="DN to reflectance multiplier, e.g. 0.0001")
    imp.add_argument("--offset", type=float, default=0.0, help="added after scaling (default 0)")
    lst = arc_sub.add_parser("list", help="list archived scenes")
    lst.add_argument("--aoi", help="only this AOI id")
    return p


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cmd_aoi(args: argparse.Namespace) -> int:
    from satwatch.aoi import load_catalog, resolve_aoi

    if args.aoi_command == "list":
        rows = [
            (a.id, a.name, a.country, ",".join(a.watch), a.confidence, f"{a.area_km2:.1f}")
            for a in load_catalog().values()
        ]
        print(_table(rows, ("id", "name", "country", "watch", "confidence", "km2")))
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


def _cmd_simulate(args: argparse.Namespace) -> int:
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


def _cmd_detect(args: argparse.Namespace) -> int:
    from satwatch.detection.detector import detect_files
    from satwatch.outputs.files import write_geojson

    detections = detect_files(args.scenes, args.detector)
    write_geojson(detections, args.out)
    print(f"wrote {args.out}: {len(detections)} detections from {len(args.scenes)} scene(s)")
    return 0


def _prefect_offline_env() -> None:
    """Set what lets a flow run with no network: no telemetry, a patient ephemeral server, our logs shown."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "satwatch")


def _cmd_run(args: argparse.Namespace) -> int:
    from satwatch.monitor import build_request

    # Validate before starting Prefect, so a mistake costs a second, not a server start.
    build_request(args.aoi, args.start, args.end, args.sensor, args.source, args.scenario, args.detector)
    _prefect_offline_env()
    import importlib

    monitor = importlib.import_module("satwatch.flows.monitor").monitor
    run_dir = monitor(
        aois=args.aoi, start=args.start, end=args.end, sensors=args.sensor, source=args.source,
        scenario=str(args.scenario) if args.scenario else None, detector=args.detector,
    )
    print(f"outputs: {run_dir}")
    return 0


def _cmd_change(args: argparse.Namespace) -> int:
    import json

    from satwatch.change.run_changes import write_changes
    from satwatch.change.timeseries import parse_window
    from satwatch.outputs.files import write_json

    if not args.run.is_dir():
        raise InputFileError(f"run folder {args.run} does not exist")
    windows = [parse_window(w) if w else None for w in (args.baseline, args.test)]
    baseline, test = ((w.start, w.end) if w else None for w in windows)
    summary = write_changes(args.run, baseline, test, args.min_observed, pixel=not args.no_pixel)
    record_path = args.run / "run.json"
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        record["changes"] = summary.to_dict()
        write_json(record, record_path)
    rows = [
        (c.aoi, c.sensor, c.cls, f"{c.baseline_used}/{c.baseline_used + c.baseline_excluded}",
         f"{c.test_used}/{c.test_used + c.test_excluded}", f"{c.baseline_rate:.2f}", f"{c.test_rate:.2f}",
         f"{c.rate_ratio:.2f} [{c.ratio_low:.2f}, {c.ratio_high:.2f}]", "yes" if c.significant else "no")
        for c in summary.comparisons
    ]
    print(f"baseline {summary.baseline}, test {summary.test}; acquisitions used/all per window; rates per fully "
          "observed acquisition")
    print(_table(rows, ("aoi", "sensor", "class", "base used", "test used", "base rate", "test rate",
                        "ratio [95% CI]", "significant")))
    if summary.simulated:
        print("SIMULATED imagery: a demonstration of the method, not evidence about the real world.")
    print(f"wrote {', '.join(summary.outputs)} in {args.run}")
    return 0


def _cmd_archive(args: argparse.Namespace) -> int:
    from satwatch.imagery.archive import Archive, import_geotiff
    from satwatch.settings import load_settings

    archive = Archive(load_settings().archive_dir)
    if args.archive_command == "list":
        entries = archive.scenes(aoi_id=args.aoi)
        rows = [(e.aoi, e.sensor, e.acquired.isoformat(), "yes" if e.simulated else "no", str(e.path))
                for e in entries]
        print(_table(rows, ("aoi", "sensor", "acquired", "simulated", "path")))
        return 0
    from satwatch.aoi import resolve_aoi

    aoi = resolve_aoi(args.aoi)
    bands = [b.strip() for b in args.bands.split(",")] if args.bands else None
    for path in args.paths:
        out = import_geotiff(path, archive, aoi, args.sensor, args.acquired, bands, args.scale, args.offset)
        print(f"imported {path} -> {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code."""
    args = _build_parser().parse_args(argv)
    # Only satwatch's own progress is shown; libraries (httpx, pyogrio) stay at warnings unless --verbose.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("satwatch").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    handlers = {"aoi": _cmd_aoi, "simulate": _cmd_simulate, "detect": _cmd_detect, "run": _cmd_run,
                "change": _cmd_change, "archive": _cmd_archive}
    try:
        return handlers[args.command](args)
    except SatwatchError as exc:
        if os.environ.get("SATWATCH_DEBUG") == "1":
            raise
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"satwatch: error: {message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("satwatch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
