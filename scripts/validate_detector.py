"""Measure a CNN profile and the baseline on the held-out validation scenes (the model cards' metrics).

Real: the sen2ships ports never trained on (``HOLDOUT_PORTS``; s2 only). Simulated: ``scenarios/validate.yaml``
(AOIs and seed never used in training). Prints one evaluation table per detector and data kind and writes
``models/<profile>.metrics.json``.

Run: ``.venv/bin/python scripts/validate_detector.py --profile s2 [--precision int8]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from satwatch.detection.baseline import BaselineDetector
from satwatch.detection.cnn import MODELS_DIR, load_model
from satwatch.detection.detections import concat_detections
from satwatch.detection.evaluate import evaluate_detections
from satwatch.detection.profiles import PROFILES
from satwatch.detection.training import evaluate
from satwatch.detection.training_data import validation_scenes
from satwatch.outputs.files import write_json


def main(argv: list[str] | None = None) -> int:
    """Print the tables and write the metrics JSON; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", required=True, choices=sorted(PROFILES))
    ap.add_argument("--match-distance-m", type=float, default=20.0)
    ap.add_argument("--precision", choices=("fp32", "int8"), default="fp32",
                    help="fp32: the float network (GPU and --precision fp32); int8: the quantised CPU model")
    ap.add_argument("--out", type=Path,
                    help="metrics JSON (default models/<profile>.metrics.json, models/<profile>.int8.metrics.json)")
    args = ap.parse_args(argv)
    profile = PROFILES[args.profile]
    loaded = load_model(args.profile, device="cpu", precision=args.precision)
    reported = loaded.reported or profile.classes
    # score only the classes these weights report: labels of a switched-off head are not misses of this model
    sets = {kind: [(scene, labels[labels["class"].isin(reported)]) for scene, labels in scenes]
            for kind, scenes in validation_scenes(profile).items()}
    report: dict[str, object] = {"profile": args.profile, "weights_sha256": loaded.sha256,
                                 "precision": loaded.precision,
                                 "match_distance_m": args.match_distance_m, "reported_classes": list(reported)}
    for kind, scenes in sets.items():
        if not scenes:
            continue
        cnn = evaluate(loaded, scenes, match_distance_m=args.match_distance_m)
        print(f"== cnn on {kind} held-out scenes ({len(scenes)})\n{cnn.table()}\n")
        report[f"cnn_{kind}"] = cnn.to_dict()
        errors = length_errors(cnn)
        if errors is not None:
            print(f"vessel length: median absolute error {errors[0]:.1f} m, mean {errors[1]:.1f} m over "
                  f"{errors[2]} matched vessels with a labelled length\n")
            report[f"cnn_{kind}_length_error_m"] = {"median_abs": errors[0], "mean_abs": errors[1], "n": errors[2]}
        if profile.sensor in ("s2", "s1", "vhr") and "vessel" in profile.classes:
            base = BaselineDetector()
            frames = [base.detect(scene) for scene, _ in scenes]
            labels = concat_labels([lab for _, lab in scenes])
            result = evaluate_detections(concat_detections(frames), labels[labels["class"] == "vessel"],
                                         match_distance_m=args.match_distance_m, all_scenes=True)
            print(f"== baseline on {kind} held-out scenes ({len(scenes)})\n{result.table()}\n")
            report[f"baseline_{kind}"] = result.to_dict()
    out = args.out or MODELS_DIR / f"{args.profile}{'.int8' if loaded.precision == 'int8' else ''}.metrics.json"
    write_json(report, out)
    print(f"metrics: {out}")
    return 0


def length_errors(result: object) -> tuple[float, float, int] | None:
    """Median and mean |detected - labelled| vessel length over matched pairs with a labelled length, metres."""
    import numpy as np

    det, lab = result.detections, result.labels  # type: ignore[attr-defined]
    if "length_m" not in det or "length_m" not in lab:
        return None
    tp = det[(det["outcome"] == "tp") & (det["class"] == "vessel")]
    truth = lab["length_m"].to_numpy(dtype=float)[tp["label_index"].to_numpy(dtype=int)]
    err = np.abs(tp["length_m"].to_numpy(dtype=float) - truth)
    err = err[np.isfinite(err)]
    if not len(err):
        return None
    return float(np.median(err)), float(np.mean(err)), len(err)


def concat_labels(frames: list) -> object:  # type: ignore[type-arg]
    """Concatenate label frames (EPSG:4326)."""
    import geopandas as gpd
    import pandas as pd

    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)


if __name__ == "__main__":
    raise SystemExit(main())
