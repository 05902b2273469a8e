"""``satwatch evaluate``: precision, recall, F1 and count error of detections against labels."""

from __future__ import annotations

import argparse
from pathlib import Path

from satwatch.cli._common import Subparsers

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``evaluate`` command to ``sub``."""
    ev = sub.add_parser("evaluate", help="precision, recall, F1 and count error of detections against labels")
    ev.add_argument("--detections", required=True, type=Path, help="detections GeoJSON (satwatch detect output)")
    ev.add_argument("--labels", required=True, type=Path,
                    help="labels: GeoJSON/GeoPackage with a class column (any CRS), or COCO annotations.json")
    ev.add_argument("--raster", type=Path,
                    help="COCO labels: the raster the boxes were drawn on (default: every image, rasters found "
                         "beside the annotations file)")
    ev.add_argument("--match-distance-m", type=float, metavar="M",
                    help="largest distance from a detection to a label, metres, for every class (default per class: "
                         "vessel 30, vehicle 3, encampment 30; 0 inside polygons)")
    ev.add_argument("--iou", type=float, metavar="T",
                    help="match polygon detections to polygon labels by IoU >= T (e.g. 0.3) instead of location")
    ev.add_argument("--class", dest="cls", metavar="C",
                    help="evaluate only this class; also the class of labels without a class column")
    ev.add_argument("--min-score", type=float, default=0.0, metavar="S", help="leave out detections below S")
    ev.add_argument("--scene-id", help="treat both files as one scene with this id (their scene ids differ)")
    ev.add_argument("--all-scenes", action="store_true",
                    help="count detections on scenes without labels as false positives (complete labels)")
    ev.add_argument("--out", type=Path, help="also write the metrics as JSON")
    ev.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch evaluate`` with the parsed ``args``; return the exit code."""
    from satwatch.detection.data.label_files import read_detections, read_labels
    from satwatch.detection.training.evaluate import evaluate
    from satwatch.outputs.files import write_json

    detections = read_detections(args.detections)
    labels = read_labels(args.labels, raster=args.raster)
    result = evaluate(detections, labels, match_distance_m=args.match_distance_m, iou_threshold=args.iou, cls=args.cls,
                      min_score=args.min_score, scene_id=args.scene_id, all_scenes=args.all_scenes)
    print(result.table())
    if args.out:
        record = {"detections": str(args.detections), "labels": str(args.labels),
                  "raster": str(args.raster) if args.raster else None, **result.to_dict()}
        write_json(record, args.out)
        print(f"wrote {args.out}")
    return 0
