"""Measure every detector of a profile on its real validation sets (and the simulated one), choose the default.

Real sets: :mod:`satwatch.detection.training.validation`; their fixed split: ``satwatch.detection.data.splits``
(``SPLITS``). Figures with 95% bootstrap intervals: :mod:`satwatch.detection.training.figures`. Simulated:
``scenarios/validate.yaml`` (AOIs and seed never used in training), labelled simulated. Prints each detector's
figures and writes ``models/<profile>.metrics.json`` (format ``satwatch-metrics-2``) with the default chosen by the
rule in ``figures.choose_default``.

Run: ``.venv/bin/python scripts/validate_detector.py --profile s1 [--no-simulated] [--detectors baseline,cnn]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from satwatch.detection.auto import metrics_path
from satwatch.detection.data.splits import SPLITS
from satwatch.detection.detector import CNN_OPTION_DETECTORS, DETECTORS, get_detector
from satwatch.detection.profiles import PROFILES
from satwatch.detection.training.evaluate import match_distances
from satwatch.detection.training.figures import METRICS_FORMAT, choose_default, paired_length_errors
from satwatch.detection.training.validation import real_sets, score, tallies_table
from satwatch.outputs.files import write_json

VALIDATED = ("baseline", "cnn")
"""Detectors measured by default (``auto`` is the choice among them, not a detector of its own)."""


def main(argv: list[str] | None = None) -> int:
    """Print the figures and write the metrics JSON; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", required=True, choices=sorted(PROFILES))
    ap.add_argument("--detectors", default=",".join(VALIDATED),
                    help=f"comma-separated registry names (default {','.join(VALIDATED)})")
    ap.add_argument("--match-distance-m", type=float,
                    help="one match distance for every class, metres (default per class: MATCH_DISTANCE_M of "
                    "satwatch.detection.training.evaluate: vessel 30, vehicle 3)")
    ap.add_argument("--no-simulated", action="store_true",
                    help="skip the simulated validation; keep the simulated figures recorded in the metrics file")
    ap.add_argument("--tallies", action="store_true", help="print every scene's tp/fp/fn")
    ap.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                    help="CNN precision on this CPU (auto: int8 where shipped, what `satwatch detect` runs)")
    ap.add_argument("--out", type=Path, help="metrics JSON (default models/<profile>.metrics.json)")
    ap.add_argument("--models-dir", type=Path,
                    help="folder of candidate weights <profile>.pt to judge instead of the shipped ones (write "
                    "their figures elsewhere with --out)")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    unknown = [n for n in names if n not in DETECTORS or n == "auto"]
    if unknown or "baseline" not in names:
        ap.error(f"--detectors must name registered detectors other than auto, baseline included (bad: {unknown})")
    out = args.out or metrics_path(args.profile)
    previous: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    sets = real_sets(args.profile)
    if not sets:
        print(f"no real validation data for profile {args.profile} under ../shared/data", file=sys.stderr)
        return 1
    prof = PROFILES[args.profile]
    report: dict[str, Any] = {
        "format": METRICS_FORMAT, "profile": args.profile,
        "command": " ".join([".venv/bin/python scripts/validate_detector.py", *(argv or sys.argv[1:])]),
        "split": SPLITS,
        "match_distance_m": match_distances((*prof.point_classes, *prof.mask_classes), args.match_distance_m),
        "detectors": {},
    }
    real: dict[str, list[Any]] = {}
    per_scene: dict[str, list[Any]] = {}
    for name in names:
        det = _detector(name, args.precision, args.models_dir)
        entry: dict[str, Any] = {"name": det.name, "real": [], "simulated": None}
        if getattr(det, "berth_false_alarms_from", None):  # its false alarms at berths are that detector's
            entry["berth_false_alarms_from"] = det.berth_false_alarms_from
        real[name] = []
        for vset in sets:
            t0 = time.perf_counter()
            figs, tallies = score(det.detect, vset, match_distance_m=args.match_distance_m)
            print(f"[{name}] real {figs.summary()}  ({time.perf_counter() - t0:.0f} s)")
            if args.tallies:
                print(tallies_table(tallies))
            real[name].append(figs)
            per_scene.setdefault(name, []).append(tallies)
        entry["precision"] = dict(getattr(det, "precisions", {}))  # the CNN on a CPU: int8 where shipped
        report["detectors"][name] = entry
    for name, entry in report["detectors"].items():
        for i, figs in enumerate(real[name]):
            if name != "baseline":  # length error object for object against the baseline (figures.paired_...)
                figs = replace(figs, paired_length_m=paired_length_errors(per_scene[name][i], per_scene["baseline"][i]))
                real[name][i] = figs
            entry["real"].append(figs.to_dict())
        if args.no_simulated:
            entry["simulated"] = ((previous.get("detectors") or {}).get(name) or {}).get("simulated") \
                or previous.get(f"{name}_simulated")
        else:
            entry["simulated"] = simulated_figures(args.profile, name, args.match_distance_m, args.precision,
                                                   args.models_dir)
    choice, reason = choose_default(real)
    report["default"] = {"detector": choice, "reason": reason}
    print(f"default for {args.profile}: {reason}")
    write_json(report, out)
    print(f"metrics: {out}")
    return 0


def _detector(name: str, precision: str, models_dir: Path | None = None) -> Any:
    """A registered detector on the CPU (CNN-based ones at ``precision``, weights from ``models_dir``)."""
    if name in CNN_OPTION_DETECTORS:
        options = {"models_dir": models_dir} if models_dir is not None else {}
        return get_detector(name, device="cpu", precision=precision, **options)
    return get_detector(name)


def simulated_figures(profile: str, name: str, match_distance_m: float | None, precision: str,
                      models_dir: Path | None = None) -> dict[str, Any]:
    """One detector on the simulated validation scenario (SIMULATED: a demonstration, never evidence)."""
    from satwatch.detection.data.training_data import validation_scenes
    from satwatch.detection.detections import concat_detections
    from satwatch.detection.training.evaluate import evaluate_detections
    from satwatch.detection.training.validation import concat_labels

    det = _detector(name, precision, models_dir)
    reported = det.classes_for(profile) if hasattr(det, "classes_for") else det.classes
    scenes = [(scene, lab[lab["class"].isin(reported)])
              for scene, lab in validation_scenes(PROFILES[profile], real=False)["simulated"]]
    result = evaluate_detections(concat_detections([det.detect(s) for s, _ in scenes]),
                                 concat_labels([lab for _, lab in scenes]), match_distance_m=match_distance_m,
                                 iou_threshold=0.3, all_scenes=True)
    print(f"[{name}] SIMULATED held-out scenes ({len(scenes)}):\n{result.table()}\n")
    summary: dict[str, Any] = result.to_dict()
    summary.pop("per_scene", None)
    return summary


if __name__ == "__main__":
    raise SystemExit(main())
