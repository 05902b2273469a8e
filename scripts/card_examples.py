"""Pictures of a detector's typical misses and false alarms on a profile's first real validation set (model cards).

Runs the profile's default detector (or ``--detector``) on the real validation set, matches as the validation does,
and draws up to ``--n`` missed labels (top row, red square) and false alarms (bottom row, yellow circle), each a
crop of ``--crop-m`` metres around the object, picked evenly over the scenes. Writes ``models/cards/<profile>.png``.

Run: ``.venv/bin/python scripts/card_examples.py --profile s2``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import shapely
from matplotlib.figure import Figure
from pyproj import Transformer

from satwatch.detection.auto import default_choices
from satwatch.detection.detector import CNN_OPTION_DETECTORS, get_detector
from satwatch.detection.training.evaluate import evaluate
from satwatch.detection.training.validation import real_sets
from satwatch.imagery.scene import Scene

_RGB = {"s2": (("B04", "B08", "B11"), ("B03", "B02")), "s1": (("VV",), ("VH",)), "vhr": (("R",), ("G", "B"))}


def _picture(scene: Scene) -> np.ndarray:
    """A display image ``(H, W, 3)`` 0..1 of the scene (true colour where it has the bands, else grey)."""
    if scene.meta.sensor == "s1":
        g = np.nan_to_num(scene.band("VV"), nan=-30.0)
        g = np.clip((g + 25.0) / 25.0, 0, 1)
        return np.dstack([g, g, g])
    names = [b for b in (("B04", "B03", "B02") if scene.meta.sensor == "s2" else ("R", "G", "B"))]
    present = [b for b in names if b in scene.bands] or [b for b in scene.bands if b != "SCL"][:1]
    bands = [np.nan_to_num(scene.band(b)) for b in present]
    while len(bands) < 3:
        bands.append(bands[-1])
    img = np.dstack(bands[:3])
    hi = float(np.percentile(img, 99.5)) or 1.0
    return np.asarray(np.clip(img / hi, 0, 1))


def main(argv: list[str] | None = None) -> int:
    """Draw the picture; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", required=True, choices=("s2", "s1", "vhr"))
    ap.add_argument("--detector", help="registry name (default: the profile's default)")
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--crop-m", type=float, default=600.0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    name = args.detector or default_choices()[args.profile]
    det = get_detector(name, device="cpu") if name in CNN_OPTION_DETECTORS else get_detector(name)
    vset = real_sets(args.profile)[0]
    misses: list[tuple[Scene, float, float]] = []
    alarms: list[tuple[Scene, float, float]] = []
    for item in vset.items:
        found = det.detect(item.scene)
        found = found[found["class"] == vset.cls] if len(found) else found
        if item.scored_area is not None and len(found):  # as the validation scores: the real chip only
            found = found[shapely.contains(item.scored_area, shapely.centroid(found.geometry.to_numpy()))]
        sid = item.scene.meta.scene_id
        if item.labels.empty:
            continue
        result = evaluate(found.assign(scene_id=sid), item.labels.assign(scene_id=sid), cls=vset.cls, scene_id=sid)
        lab, d = result.labels, result.detections
        misses += [(item.scene, g.centroid.x, g.centroid.y) for g in lab[lab["outcome"] == "fn"].geometry]
        if item.negatives_known and len(d):
            alarms += [(item.scene, g.x, g.y) for g in d[d["outcome"] == "fp"].geometry]
    rows = [("missed", misses, "red"), ("false alarm", alarms, "yellow")]
    fig = Figure(figsize=(2.2 * args.n, 4.8))
    axes = fig.subplots(2, args.n, squeeze=False)
    for r, (title, items, colour) in enumerate(rows):
        picks = [items[int(i)] for i in np.linspace(0, len(items) - 1, min(args.n, len(items)))] if items else []
        for c in range(args.n):
            ax = axes[r][c]
            ax.set_axis_off()
            if c >= len(picks):
                continue
            scene, lon, lat = picks[c]
            x, y = Transformer.from_crs(4326, scene.crs, always_xy=True).transform(lon, lat)
            col, row = ~scene.transform @ (x, y)
            half = max(8, int(args.crop_m / scene.gsd_m / 2))
            r0, c0 = max(int(row) - half, 0), max(int(col) - half, 0)
            img = _picture(scene)[r0:int(row) + half, c0:int(col) + half]
            ax.imshow(img, interpolation="nearest")
            ax.plot(col - c0, row - r0, marker="s" if r == 0 else "o", mfc="none", mec=colour, ms=14, mew=1.5)
            ax.set_title(f"{title}\n{scene.meta.scene_id[:18]}", fontsize=7)
    fig.suptitle(f"{args.profile}: {name} on real {vset.name} (crops {args.crop_m:.0f} m)", fontsize=9)
    out = args.out or Path(__file__).resolve().parents[1] / "models" / "cards" / f"{args.profile}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close("all")
    print(f"{out}: {len(misses)} misses, {len(alarms)} false alarms in {vset.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
