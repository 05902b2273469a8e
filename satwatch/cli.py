"""The ``satwatch`` command line: parses arguments and calls the same functions as the flows.

A user's mistake (unknown AOI, bad date, missing file) prints one line ``satwatch: error: ...`` on stderr and
exits 2; missing or rejected credentials exit 3; other failures exit 1. No tracebacks unless ``SATWATCH_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from satwatch.errors import InputFileError, SatwatchError

if TYPE_CHECKING:
    from satwatch.aoi import AOI
    from satwatch.imagery.sentinel_hub import SentinelHubSource

__all__ = ["main"]

_SENSORS = ("s2", "s1", "vhr")  # satwatch.imagery.scene.SENSORS and the CNN profiles, here so --help needs no GDAL
_SH_SENSORS = ("s2", "s1")  # what Sentinel Hub / CDSE serve (satwatch.imagery.sentinel_hub)
_PRECISIONS = ("auto", "fp32", "int8")  # satwatch.detection.cnn.PRECISIONS, kept here so --help needs no torch
_PRECISION_HELP = "cnn: auto (int8 on a CPU when the quantised model is shipped, else fp32), fp32 or int8"


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit 2.

    ``describe``, when set, makes the description only when help is shown, so the files it reads cost nothing
    on other runs.
    """

    describe: Callable[[], str] | None = None

    def format_help(self) -> str:
        """Return the help text, the description made now when :attr:`describe` is set."""
        if self.describe is not None:
            self.description = self.describe()
        return super().format_help()

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


_DETECTOR_HELP = ("auto (default: per profile, the detector with the best real-data figures; `satwatch detectors` "
                  "lists them), cnn, cnn-extent, cfar-cnn or baseline")


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
    sim.add_argument("--sensor", required=True, choices=_SENSORS)
    sim.add_argument("--scenario", type=_existing_file, help="scenario YAML with planted activity")
    sim.add_argument("--out", required=True, type=Path, help="output GeoTIFF")
    sim.add_argument("--truth", type=Path, help="output GeoJSON of the planted objects")

    dts = sub.add_parser("detectors", help="each profile's default detector and the real-data figures behind it")
    dts.add_argument("--json", action="store_true", help="print the listing as JSON")

    det = sub.add_parser("detect", help="detect objects in scene files")
    det.describe = lambda: "Detect objects in scene files. " + _defaults_line()
    det.add_argument("scenes", nargs="+", type=_existing_file, help="scene GeoTIFFs")
    det.add_argument("--out", required=True, type=Path, help="output GeoJSON (EPSG:4326)")
    det.add_argument("--detector", default=None, help=_DETECTOR_HELP)
    det.add_argument("--device", default="auto", help="cnn: auto (CUDA when present), cpu or cuda")
    det.add_argument("--batch-size", type=int, default=4, help="cnn: tiles per forward pass (default 4)")
    det.add_argument("--precision", default="auto", choices=_PRECISIONS, help=_PRECISION_HELP)

    trn = sub.add_parser("train", help="train the CNN detector of one profile (writes models/<profile>.pt)")
    trn.add_argument("--profile", required=True, choices=_SENSORS)
    trn.add_argument("--epochs", type=int, default=16)
    trn.add_argument("--steps-per-epoch", type=int, default=50)
    trn.add_argument("--batch-size", type=int, default=10)
    trn.add_argument("--lr", type=float, default=3e-3, help="peak AdamW learning rate")
    trn.add_argument("--seed", type=int, default=0)
    trn.add_argument("--real-fraction", type=float, default=0.5,
                     help="share of crops from real data (s2: sen2ships training ports and EOTDL chips; s1: real "
                     "OpenSARShip ships pasted onto simulated sea; vhr: aerial training sequences; default 0.5)")
    trn.add_argument("--scenario", type=_existing_file, default=Path("scenarios/train.yaml"),
                     help="simulated training scenario (default scenarios/train.yaml)")
    trn.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    trn.add_argument("--out", type=Path, help="weights file (default models/<profile>.pt)")
    trn.add_argument("--init", type=_existing_file, help="weights to start from (fine-tuning)")
    trn.add_argument("--area-focus", type=float, default=0.5,
                     help="share of object-centred crops drawn around area objects (default 0.5)")
    trn.add_argument("--max-scenes", type=int, default=0,
                     help="render only this many simulated scenes, evenly spaced (default 0: all)")
    trn.add_argument("--workers", type=int, default=0, help="processes making batches (default 0: none)")
    trn.add_argument("--hard-negatives", action="store_true",
                     help="s2: centre a share of crops on the shipped detector's false alarms in the training ports "
                     "and make other ships of EOTDL chips don't-care")
    trn.add_argument("--arch", choices=("v1", "v2"), default="",
                     help="network architecture (default: the profile's, v2 for s2, v1 for s1 and vhr)")
    trn.add_argument("--train-ports", help="s2: comma-separated sen2ships ports to train on (default: all but "
                     "the held-out ones)")
    trn_io = trn.add_mutually_exclusive_group()
    trn_io.add_argument("--export-samples", type=Path, metavar="FILE.npz",
                        help="render and read the training data, write it to FILE.npz and stop (to train on "
                        "a machine that has a GPU but not GDAL or the data)")
    trn_io.add_argument("--samples", type=_existing_file, metavar="FILE.npz",
                        help="train on samples written by --export-samples instead of rendering them here")

    run = sub.add_parser("run", help="run the monitor flow (no arguments: the demo scenario)")
    run.add_argument("--aoi", action="append", help="catalog id or vector file; repeat for several")
    run.add_argument("--start", type=_date, help="first day YYYY-MM-DD")
    run.add_argument("--end", type=_date, help="last day YYYY-MM-DD")
    run.add_argument("--sensor", action="append", choices=_SENSORS, help="repeat for several")
    run.add_argument("--source", default="simulated",
                     help="imagery source: simulated (default), archive, sentinel-hub or cdse (real imagery)")
    run.add_argument("--scenario", type=_existing_file, help="scenario YAML (simulated source)")
    run.add_argument("--detector", default=None, help=_DETECTOR_HELP)
    run.add_argument("--dask-address", metavar="tcp://HOST:PORT",
                     help="run the fan-out on this dask.distributed scheduler (workers share the data folder)")

    sch = sub.add_parser("schedule", help="serve scheduled monitoring deployments against a Prefect server "
                                          "(PREFECT_API_URL)")
    sch.add_argument("--aoi", action="append", help="AOI of one custom group; repeat (default: the catalog grouped "
                                                    "by country)")
    sch.add_argument("--name", help="deployment name of the --aoi group (default: monitor-<first aoi>)")
    sch.add_argument("--cron", help='cron schedule, UTC (default "0 6 * * *": daily at 06:00)')
    sch.add_argument("--interval", type=float, metavar="SECONDS", help="run every SECONDS instead of --cron")
    sch.add_argument("--lookback-days", type=int, default=30, help="days each run covers, up to today (default 30)")
    sch.add_argument("--source", default="simulated", help="simulated (default), archive, sentinel-hub or cdse")
    sch.add_argument("--scenario", type=_existing_file, help="scenario YAML (simulated source; its own period)")
    sch.add_argument("--detector", default=None, help=_DETECTOR_HELP)
    sch.add_argument("--limit", type=int, help="most flow runs at a time (default: no limit)")

    srv = sub.add_parser("server", help="start a Prefect server on loopback (prefect server start)")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=4200, help="port (default 4200)")

    bat = sub.add_parser("batch", help="detect objects in many scenes (prefetching reader, GPU when present)")
    bat.add_argument("scenes", nargs="*", type=_existing_file, help="scene GeoTIFFs (or use --aoi/--start/--end)")
    bat.add_argument("--aoi", action="append", help="fetch and detect this AOI's acquisitions; repeat for several")
    bat.add_argument("--start", type=_date, help="first day YYYY-MM-DD (with --aoi)")
    bat.add_argument("--end", type=_date, help="last day YYYY-MM-DD (with --aoi)")
    bat.add_argument("--sensor", action="append", choices=_SENSORS, help="repeat for several")
    bat.add_argument("--source", default="simulated", help="imagery source with --aoi (default simulated)")
    bat.add_argument("--scenario", type=_existing_file, help="scenario YAML (simulated source)")
    bat.add_argument("--detector", default=None, help=_DETECTOR_HELP)
    bat.add_argument("--device", default=None, help="auto (CUDA when present), cpu or cuda (default SATWATCH_DEVICE)")
    bat.add_argument("--batch-size", type=int, default=8, help="cnn: tiles per forward pass (default 8)")
    bat.add_argument("--precision", default="auto", choices=_PRECISIONS, help=_PRECISION_HELP)
    bat.add_argument("--workers", type=int, default=2, help="reader processes prefetching scenes (default 2)")
    bat.add_argument("--no-cache", action="store_true", help="detect again even scenes already in the cache")
    bat.add_argument("--out", type=Path, help="output folder (default <data>/outputs/<stamp>-batch)")

    chg = sub.add_parser("change", help="recompute the change layers of an existing run folder")
    chg.add_argument("--run", required=True, type=Path, help="run folder (data/outputs/<run-id>)")
    chg.add_argument("--baseline", help="baseline window YYYY-MM-DD/YYYY-MM-DD (default: first half of the run)")
    chg.add_argument("--test", help="test window YYYY-MM-DD/YYYY-MM-DD (default: second half of the run)")
    chg.add_argument("--min-observed", type=float, default=0.5,
                     help="least observed fraction of the AOI for an acquisition to count (default 0.5)")
    chg.add_argument("--no-pixel", action="store_true", help="skip pixel-level change (no scene reads)")

    for name, text in (("search", "list real acquisitions (Sentinel Hub / CDSE Catalog API)"),
                       ("fetch", "download real acquisitions into the archive (Sentinel Hub / CDSE Process API)")):
        real = sub.add_parser(name, help=text)
        real.add_argument("--aoi", required=True, help="catalog id or path to a GeoJSON/GeoPackage")
        real.add_argument("--start", required=True, type=_date, help="first day YYYY-MM-DD (UTC)")
        real.add_argument("--end", required=True, type=_date, help="last day YYYY-MM-DD (UTC), inclusive")
        real.add_argument("--sensor", required=True, choices=_SH_SENSORS)
        real.add_argument("--provider", choices=("sentinel-hub", "cdse"),
                          help="imagery provider (default: SATWATCH_PROVIDER, else sentinel-hub)")
        real.add_argument("--max-cloud", type=float, metavar="PCT",
                          help="keep acquisitions with at most this cloud cover, percent (Sentinel-2)")
        real.add_argument("--min-coverage", type=float, default=0.0, metavar="PCT",
                          help="keep acquisitions covering at least this share of the AOI, percent (default 0)")
        if name == "fetch":
            real.add_argument("--archive", type=Path, help="archive folder (default: <SATWATCH_DATA_DIR>/archive)")

    arc = sub.add_parser("archive", help="the scene archive")
    arc_sub = arc.add_subparsers(dest="archive_command", required=True, parser_class=_Parser)
    imp = arc_sub.add_parser("import", help="bring your own GeoTIFFs into the archive")
    imp.add_argument("paths", nargs="+", type=_existing_file, help="GeoTIFF files")
    imp.add_argument("--aoi", required=True, help="catalog id or vector file the scenes belong to")
    imp.add_argument("--sensor", default="vhr", choices=_SENSORS, help="default: vhr")
    imp.add_argument("--acquired", type=_datetime, help="acquisition time if the file has none")
    imp.add_argument("--bands", help="comma-separated band names in file order, e.g. R,G,B,N")
    imp.add_argument("--scale", type=float, help="DN to reflectance multiplier, e.g. 0.0001")
    imp.add_argument("--offset", type=float, default=0.0, help="added after scaling (default 0)")
    lst = arc_sub.add_parser("list", help="list archived scenes")
    lst.add_argument("--aoi", help="only this AOI id")

    clm = sub.add_parser("claims", help="list claims and test them against imagery (verdicts with evidence)")
    clm_sub = clm.add_subparsers(dest="claims_command", required=True, parser_class=_Parser)
    clm_list = clm_sub.add_parser("list", help="table of the claims catalog (aoi/claims.yaml)")
    clm_list.add_argument("--claims", type=_existing_file, help="your own claims file (same format)")
    chk = clm_sub.add_parser("check", help="fetch, detect and judge claims; write claims.json and evidence")
    chk.add_argument("ids", nargs="+", metavar="ID", help="claim ids, e.g. C05")
    chk.add_argument("--source", default="simulated",
                     help="imagery source: simulated (default), archive, sentinel-hub or cdse (real imagery)")
    chk.add_argument("--scenario", type=_existing_file, help="scenario YAML (simulated source)")
    chk.add_argument("--claims", type=_existing_file, help="your own claims file (default aoi/claims.yaml)")
    chk.add_argument("--detector", default=None, help=_DETECTOR_HELP)

    rep = sub.add_parser("report", help="write report.html (maps, time series, verdicts) and QGIS styles of a run")
    rep.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run folder (data/outputs/<run-id>)")
    rep.add_argument("--judge", nargs="+", metavar="ID", default=[],
                     help="first judge these catalog claims on the run folder (claims.json, evidence/)")
    rep.add_argument("--claims", type=_existing_file, help="claims file for --judge (default aoi/claims.yaml)")

    ev = sub.add_parser("evaluate", help="precision, recall, F1 and count error of detections against labels")
    ev.add_argument("--detections", required=True, type=Path, help="detections GeoJSON (satwatch detect output)")
    ev.add_argument("--labels", required=True, type=Path,
                    help="labels: GeoJSON/GeoPackage with a class column (any CRS), or COCO annotations.json")
    ev.add_argument("--raster", type=Path,
                    help="COCO labels: the raster the boxes were drawn on (default: every image, rasters found "
                         "beside the annotations file)")
    ev.add_argument("--match-distance-m", type=float, metavar="M",
                    help="largest distance from a detection to a label, metres (default 30; 0 inside polygons)")
    ev.add_argument("--iou", type=float, metavar="T",
                    help="match polygon detections to polygon labels by IoU >= T (e.g. 0.3) instead of location")
    ev.add_argument("--class", dest="cls", metavar="C",
                    help="evaluate only this class; also the class of labels without a class column")
    ev.add_argument("--min-score", type=float, default=0.0, metavar="S", help="leave out detections below S")
    ev.add_argument("--scene-id", help="treat both files as one scene with this id (their scene ids differ)")
    ev.add_argument("--all-scenes", action="store_true",
                    help="count detections on scenes without labels as false positives (complete labels)")
    ev.add_argument("--out", type=Path, help="also write the metrics as JSON")
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


def _cmd_detect(args: argparse.Namespace) -> int:
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


def _cmd_detectors(args: argparse.Namespace) -> int:
    from satwatch.detection.auto import describe_defaults
    from satwatch.detection.figures import Figures

    listing = describe_defaults()
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for profile, entry in listing.items():
        print(f"{profile}: default {entry['detector']} ({entry['reason']})")
        for fig in entry["real"]:
            print(f"  real {Figures.from_dict(fig).summary()}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from satwatch.detection.profiles import PROFILES
    from satwatch.detection.samples import load_samples, save_samples
    from satwatch.detection.training import TrainConfig, make_samples, train

    ports = tuple(p.strip() for p in args.train_ports.split(",") if p.strip()) if args.train_ports else ()
    cfg = TrainConfig(profile=args.profile, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                      batch_size=args.batch_size, lr=args.lr, seed=args.seed, real_fraction=args.real_fraction,
                      scenario=str(args.scenario), init=str(args.init) if args.init else None,
                      area_focus=args.area_focus, max_scenes=args.max_scenes, workers=args.workers, arch=args.arch,
                      train_ports=ports, hard_negatives=args.hard_negatives)

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    profile = PROFILES[args.profile]
    if args.export_samples:
        pools = make_samples(cfg, say)
        save_samples(pools, profile, args.export_samples)
        print(f"samples: {args.export_samples} ({', '.join(f'{len(v)} {k}' for k, v in pools.items())})")
        return 0
    samples = load_samples(args.samples, profile) if args.samples else None
    out = args.out
    if out is None:  # cnn.py needs GDAL: imported only when the default path is wanted
        from satwatch.detection.cnn import MODELS_DIR

        out = MODELS_DIR / f"{args.profile}.pt"
    train(cfg, out, device=args.device, log_every=say, samples=samples)
    print(f"weights: {out}")
    return 0


def _real_source(args: argparse.Namespace, show_progress: bool = False) -> tuple[AOI, SentinelHubSource]:
    """Resolve the AOI and open the Sentinel Hub / CDSE source the arguments name (no network yet)."""
    from satwatch.aoi import resolve_aoi
    from satwatch.errors import UsageError
    from satwatch.imagery.sentinel_hub import SentinelHubSource

    for option, value in (("--max-cloud", args.max_cloud), ("--min-coverage", args.min_coverage)):
        if value is not None and not 0.0 <= value <= 100.0:
            raise UsageError(f"{option} {value:g} is not a percentage; give 0 to 100")
    if args.end < args.start:
        raise UsageError(f"--end {args.end} is before --start {args.start}")
    aoi = resolve_aoi(args.aoi)
    source = SentinelHubSource(
        args.provider, max_cloud=None if args.max_cloud is None else args.max_cloud / 100.0,
        min_coverage=args.min_coverage / 100.0, show_progress=show_progress,
    )
    return aoi, source


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100.0 * value:.0f}"


def _cmd_search(args: argparse.Namespace) -> int:
    from satwatch.imagery.scene import format_acquired

    aoi, source = _real_source(args)
    found = source.search(aoi, args.start, args.end, args.sensor)
    rows = [(format_acquired(a.acquired), _pct(a.cloud_fraction), _pct(a.coverage), str(len(a.item_id.split(","))),
             a.item_id.split(",")[0]) for a in found]
    print(_table(rows, ("acquired", "cloud_%", "aoi_covered_%", "items", "first_item_id")))
    print(f"{len(found)} {args.sensor} acquisition(s) over {aoi.id} from {args.start} to {args.end} ({source.name})")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from satwatch.errors import NoDataError
    from satwatch.imagery.archive import Archive
    from satwatch.settings import load_settings

    aoi, source = _real_source(args, show_progress=True)
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
            try:
                path = source.fetch(acquisition, aoi, root)
            except NoDataError as exc:  # an all-no-data answer: nothing archived, the rest still fetched
                bar.write(f"skipped: {exc}", file=sys.stdout)
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


def _prefect_offline_env() -> None:
    """Set what lets a flow run with no network: no telemetry, a patient ephemeral server, our logs shown."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "satwatch,sentinelhub")


def _cmd_run(args: argparse.Namespace) -> int:
    from satwatch.pipeline import build_request

    # Validate before starting Prefect, so a mistake costs a second, not a server start.
    request = build_request(args.aoi, args.start, args.end, args.sensor, args.source, args.scenario, args.detector)
    if request.source in ("sentinel-hub", "cdse"):
        from satwatch.imagery.sentinel_hub import SentinelHubSource
        from satwatch.pipeline import open_source

        # missing or rejected credentials and bad provider URLs fail here, before Prefect starts
        source = open_source(request)
        if isinstance(source, SentinelHubSource):
            source.authenticate()
    _prefect_offline_env()
    import importlib

    flows = importlib.import_module("satwatch.flows.monitor")
    monitor = flows.monitor
    if args.dask_address:
        monitor = monitor.with_options(task_runner=flows.task_runner(args.dask_address))
    run_dir = monitor(
        aois=args.aoi, start=args.start, end=args.end, sensors=args.sensor, source=args.source,
        scenario=str(args.scenario) if args.scenario else None, detector=args.detector,
    )
    if (Path(run_dir) / "report.html").is_file():
        print(f"report: {Path(run_dir) / 'report.html'}")
    print(f"outputs: {run_dir}")
    return 0


def _cmd_schedule(args: argparse.Namespace) -> int:
    import importlib

    from satwatch.pipeline import build_request

    if not os.environ.get("PREFECT_API_URL"):
        from satwatch.errors import UsageError

        raise UsageError("set PREFECT_API_URL to a Prefect server (start one with `satwatch server`, then "
                         "export PREFECT_API_URL=http://127.0.0.1:4200/api)")
    # Validate before registering anything: AOIs, source and scenario fail here with one line.
    if args.aoi or args.scenario:
        today = None if args.scenario else date.today()
        build_request(args.aoi, today, today, None, args.source, args.scenario, args.detector)
    _prefect_offline_env()
    schedules = importlib.import_module("satwatch.flows.schedules")
    if args.aoi or args.scenario:
        first = (args.aoi or [Path(str(args.scenario)).stem])[0]
        name = args.name or "monitor-" + "".join(c if c.isalnum() else "-" for c in Path(first).stem.lower())
        watches = [schedules.Watch(name, tuple(args.aoi or ()))]
    else:
        watches = schedules.catalog_groups()
    deployments = schedules.build_deployments(
        watches, cron=args.cron, interval_s=args.interval, lookback_days=args.lookback_days, source=args.source,
        scenario=str(Path(args.scenario).resolve()) if args.scenario else None, detector=args.detector,
    )
    when = f"every {args.interval:g} s" if args.interval else f"cron {args.cron or schedules.DEFAULT_CRON!r} UTC"
    for d in deployments:
        print(f"serving monitor_catalog/{d.name} ({when}) against {os.environ['PREFECT_API_URL']}", flush=True)
    schedules.serve_deployments(deployments, limit=args.limit)
    return 0


def _cmd_server(args: argparse.Namespace) -> int:
    import subprocess

    _prefect_offline_env()
    prefect = Path(sys.executable).with_name("prefect")
    cmd = [str(prefect) if prefect.is_file() else "prefect", "server", "start", "--host", args.host,
           "--port", str(args.port)]
    print(f"Prefect server on http://{args.host}:{args.port} (UI there); for satwatch run and schedule:\n"
          f"  export PREFECT_API_URL=http://{args.host}:{args.port}/api", flush=True)
    return subprocess.call(cmd)


def _cmd_batch(args: argparse.Namespace) -> int:
    from satwatch.batch import run_batch
    from satwatch.errors import UsageError
    from satwatch.settings import load_settings

    settings = load_settings()
    device = args.device or settings.device
    from satwatch.detection.network import resolve_device

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


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from satwatch.detection.evaluate import DEFAULT_MATCH_DISTANCE_M, evaluate, read_detections, read_labels
    from satwatch.outputs.files import write_json

    detections = read_detections(args.detections)
    labels = read_labels(args.labels, raster=args.raster)
    distance = DEFAULT_MATCH_DISTANCE_M if args.match_distance_m is None else args.match_distance_m
    result = evaluate(detections, labels, match_distance_m=distance, iou_threshold=args.iou, cls=args.cls,
                      min_score=args.min_score, scene_id=args.scene_id, all_scenes=args.all_scenes)
    print(result.table())
    if args.out:
        record = {"detections": str(args.detections), "labels": str(args.labels),
                  "raster": str(args.raster) if args.raster else None, **result.to_dict()}
        write_json(record, args.out)
        print(f"wrote {args.out}")
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


def _cmd_claims(args: argparse.Namespace) -> int:
    from satwatch.claims.catalog import load_claims

    if args.claims_command == "list":
        def short(text: str, n: int) -> str:
            return text if len(text) <= n else text[: n - 3] + "..."

        rows = [(c.id, c.date.isoformat(), short(c.claimant, 40),
                 short(", ".join(c.aois[:2]) + (f" +{len(c.aois) - 2}" if len(c.aois) > 2 else ""), 40),
                 str(c.baseline), str(c.test), str(len(c.indicators)), ",".join(c.conflicts_with) or "-")
                for c in load_claims(args.claims).values()]
        print(_table(rows, ("id", "date", "claimant", "aois", "baseline", "test", "indicators", "conflicts")))
        return 0
    from satwatch.claims.check import plan_check, verdict_table
    from satwatch.claims.verdicts import reproduce

    # Validate (claim ids, catalog, scenario, source) before starting Prefect, and credentials for real imagery.
    plan = plan_check(args.ids, args.source, args.scenario, args.claims, args.detector)
    if plan.request.source in ("sentinel-hub", "cdse"):
        from satwatch.imagery.sentinel_hub import SentinelHubSource
        from satwatch.pipeline import open_source

        source = open_source(plan.request)
        if isinstance(source, SentinelHubSource):
            source.authenticate()
    _prefect_offline_env()
    import importlib

    verify_claim = importlib.import_module("satwatch.flows.verify_claim").verify_claim
    run_dir = Path(verify_claim(
        claim_ids=list(args.ids), source=args.source, scenario=str(args.scenario) if args.scenario else None,
        claims=str(args.claims) if args.claims else None, detector=args.detector,
    ))
    verdicts = reproduce(run_dir)  # read back from the run folder alone
    print(verdict_table(verdicts), end="")
    for v in verdicts:
        print(f"evidence {v.claim.id}: {run_dir / 'evidence' / v.claim.id}")
    print(f"verdicts: {run_dir / 'claims.json'}, {run_dir / 'claims.csv'}")
    if (run_dir / "report.html").is_file():
        print(f"report: {run_dir / 'report.html'}")
    print(f"outputs: {run_dir}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from satwatch.outputs.report import write_report
    from satwatch.outputs.styles import write_styles

    run_dir: Path = args.run_dir
    if not (run_dir / "run.json").is_file():
        raise InputFileError(f"{run_dir} is not a run folder (no run.json); pass data/outputs/<run-id>")
    if args.judge:
        from satwatch.claims.check import finish_check, select_claims, verdict_table

        claims = select_claims(args.judge, args.claims)
        print(verdict_table(finish_check(run_dir, claims, args.claims)), end="")
        print(f"verdicts: {run_dir / 'claims.json'}")
    write_styles(run_dir)
    print(f"report: {write_report(run_dir)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code."""
    args = _build_parser().parse_args(argv)
    # Only satwatch's own progress is shown; libraries (httpx, pyogrio) stay at warnings unless --verbose.
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("satwatch").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    handlers = {"aoi": _cmd_aoi, "simulate": _cmd_simulate, "detect": _cmd_detect, "run": _cmd_run,
                "search": _cmd_search, "fetch": _cmd_fetch, "change": _cmd_change, "archive": _cmd_archive,
                "train": _cmd_train, "detectors": _cmd_detectors}
    handlers["evaluate"] = _cmd_evaluate
    handlers["claims"] = _cmd_claims
    handlers["report"] = _cmd_report
    handlers.update(schedule=_cmd_schedule, server=_cmd_server, batch=_cmd_batch)
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
