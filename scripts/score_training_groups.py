"""Score detectors on a profile's real TRAINING groups: the set a design is tuned on, never the validation one.

Validation figures (``scripts/validate_detector.py``) judge a detector once; while designing one (a threshold, a
rule of a hybrid), compare variants here instead, on the groups of ``satwatch.detection.data.splits.SPLITS`` that
are trained on. ``s1``: the OpenSARShip training package, each chip on clutter of its own statistics and scored as
the validation scores (recall, length error against AIS, false alarms per km2 of chips with one ship). The CNN
was trained on these ships pasted onto simulated sea (never on the chips' own sea), so its recall here flatters it
and its false alarms do not. ``vhr``: the aerial training sequences (exhaustive labels) at 1 m; the CNN was trained
on them, so every figure here flatters it.

Run: ``.venv/bin/python scripts/score_training_groups.py --profile s1 --detectors baseline,cnn,cnn-cfar`` (or
``--profile vhr --detectors cnn --match-distance-m 30``: one match distance instead of each class's own).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from satwatch.detection.data.splits import SPLITS
from satwatch.detection.data.training_data import real_training_items
from satwatch.detection.detector import CNN_OPTION_DETECTORS, get_detector
from satwatch.detection.profiles import PROFILES
from satwatch.detection.training.figures import figures_from_tallies
from satwatch.detection.training.validation import opensarship_items, tally_scenes


def main(argv: list[str] | None = None) -> int:
    """Print one line of figures per detector; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", required=True, choices=("s1", "vhr"))
    ap.add_argument("--detectors", default="baseline,cnn,cnn-cfar", help="comma-separated registry names")
    ap.add_argument("--match-distance-m", type=float, help="one match distance, metres (default: the class's own)")
    args = ap.parse_args(argv)
    items: list[Any]
    if args.profile == "s1":
        groups, cls = SPLITS["opensarship"]["train"], "vessel"
        items, dataset = opensarship_items(groups), f"opensarship-train ({'+'.join(groups)})"
    else:
        groups, cls = SPLITS["aerial_vehicles"]["train"], "vehicle"
        items, dataset = real_training_items(PROFILES["vhr"]), f"aerial-train ({'+'.join(groups)})"
    for name in [n.strip() for n in args.detectors.split(",") if n.strip()]:
        det = get_detector(name, device="cpu") if name in CNN_OPTION_DETECTORS else get_detector(name)
        tallies = tally_scenes(items, [det.detect(i.scene) for i in items], cls, args.match_distance_m)
        figs = figures_from_tallies(tallies, dataset, cls, True, draws=200)
        print(f"[{name}] {figs.summary()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
