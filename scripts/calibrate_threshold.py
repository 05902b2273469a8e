"""Choose a CNN point class's decision threshold on the real TRAINING groups and store it in the weights.

The threshold is never chosen on validation data: this script runs the weights on the real scenes of the
``train`` groups of ``satwatch.detection.data.splits.SPLITS``, scores the detections at each threshold of a grid
and writes the chosen one into the weights' ``meta["thresholds"]``, with the grid's figures under
``meta["threshold_calibration"]``:

- ``vhr`` (the aerial training sequences, exhaustive labels): the F1-best threshold;
- ``s1`` (the OpenSARShip training package, each chip on clutter of its own statistics, as in validation): the
  lowest threshold whose false alarms per km2 do not exceed the classical baseline's on the same chips (the
  target "fewer false alarms than CFAR"). Only the chips' sea counts here: the network was trained on these
  ships pasted onto simulated sea, never on the chips' own sea, so their false alarms are a fair measure (their
  recall is not, and is not used).

Run: ``.venv/bin/python scripts/calibrate_threshold.py --profile vhr --weights models/vhr.pt`` (or ``--profile
s1 --cls vessel``).
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from satwatch.atomic import atomic_path
from satwatch.detection.data.splits import SPLITS
from satwatch.detection.data.training_data import real_training_items
from satwatch.detection.models.baseline import BaselineDetector
from satwatch.detection.models.cnn import CnnDetector
from satwatch.detection.profiles import PROFILES
from satwatch.detection.training.figures import figures_from_tallies
from satwatch.detection.training.validation import ValidationSet, opensarship_items, tally_scenes

GRID = (0.05, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.45, 0.55, 0.65, 0.75)
"""Thresholds tried."""


def main(argv: list[str] | None = None) -> int:
    """Calibrate, print the grid, write the weights; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", required=True, choices=("vhr", "s1"))
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--cls", default="vehicle")
    args = ap.parse_args(argv)
    baseline_fa = math.nan
    if args.profile == "s1":
        items = opensarship_items(SPLITS["opensarship"]["train"])
        base = BaselineDetector()
        tallies = tally_scenes(items, [base.detect(i.scene) for i in items], args.cls)
        baseline_fa = figures_from_tallies(tallies, "train", args.cls, True, draws=1).get("false_alarms_per_km2")
        print(f"baseline: {baseline_fa:.3f} false alarms per km2 on the training chips")
    else:
        items = real_training_items(PROFILES[args.profile])
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(args.weights, Path(tmp) / f"{args.profile}.pt")
        det = CnnDetector(device="cpu", models_dir=Path(tmp), precision="fp32", thresholds={args.cls: min(GRID)})
        frames = [det.detect(item.scene) for item in items]
    vset = ValidationSet("train", args.cls, tuple(items))
    rows = []
    for t in GRID:
        kept = [f[f["score"] >= t] if len(f) else f for f in frames]
        figs = figures_from_tallies(tally_scenes(vset.items, kept, args.cls), "train", args.cls, True, draws=1)
        rows.append((t, figs.get("precision"), figs.get("recall"), figs.get("f1"), figs.get("false_alarms_per_km2")))
        print(f"threshold {t:.2f}: precision {figs.get('precision'):.3f} recall {figs.get('recall'):.3f} "
              f"F1 {figs.get('f1'):.3f} false alarms/km2 {figs.get('false_alarms_per_km2'):.3f}")
    if args.profile == "s1":
        below = [r for r in rows if r[4] <= baseline_fa]
        best = below[0] if below else rows[-1]
    else:
        best = max(rows, key=lambda r: -1.0 if np.isnan(r[3]) else r[3])
    payload = torch.load(args.weights, map_location="cpu", weights_only=True)
    payload["meta"]["thresholds"][args.cls] = float(best[0])
    payload["meta"]["threshold_calibration"] = {
        "data": f"real training groups of {args.profile} ({len(items)} scenes)", "class": args.cls,
        "grid": [{"threshold": r[0], "precision": r[1], "recall": r[2], "f1": r[3], "false_alarms_per_km2": r[4]}
                 for r in rows],
        "chosen": float(best[0]),
        "rule": "lowest threshold with false alarms per km2 <= the baseline's" if args.profile == "s1" else "best F1",
    }
    if args.profile == "s1":
        payload["meta"]["threshold_calibration"]["baseline_false_alarms_per_km2"] = baseline_fa
    with atomic_path(args.weights) as out:
        torch.save(payload, out)
    print(f"{args.weights}: {args.cls} threshold {best[0]:.2f} (F1 {best[3]:.3f}, false alarms/km2 {best[4]:.3f} "
          "on the training groups)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
