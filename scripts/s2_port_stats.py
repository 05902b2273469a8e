#!/usr/bin/env python
"""Compare the simulator's Sentinel-2 ports with real sen2ships ports: hulls, quays and water (calibration).

The same measurements on both sides, on each scene's own grid (real sen2ships pixels are 7-8.5 m on the ground,
simulated ones 10 m):

- water: pixels whose 5 x 5 median B08 is below :data:`WATER_B08` (reflectance), away from the labelled hulls;
  its median B02, B04, B08 and the median local (3 x 3) standard deviation of B08;
- hulls: real ones from the sen2ships masks (COCO RLE), simulated ones from the planted vessels (a rectangle of
  the truth length and width at its heading); per hull its median and 90th-percentile B08 and B04, the contrast
  with the water (B08 hull median - water median), and whether it is *berthed*: more than
  :data:`BERTHED_RING_LAND` of the 2-pixel ring around it is not water;
- quays: for a berthed hull, the median B08 and B04 of the ring's land pixels, and the hull - quay contrast,
  which is what a detector must see to find a ship alongside a quay;
- the coast: land pixels within 3 px of water (not hulls), their median B08 and B04 and local standard deviation.

Only the training ports (every port that is not in ``HOLDOUT_PORTS``) are read: the held-out ports are never
looked at, so nothing here can be tuned to the validation split. Ports without B04 or B08 are skipped.

Usage: ``.venv/bin/python scripts/s2_port_stats.py [--scenario scenarios/train.yaml] [--dates 2024-07-03,...]``
(needs ``../shared/data/sen2ships``; about two minutes).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WATER_B08 = 0.05
"""Water: 5 x 5 median B08 reflectance below this (real sea 0.01-0.04; hulls, quays and land above)."""
BERTHED_RING_LAND = 0.3
"""A hull is berthed when more than this share of its 2-pixel ring is not water."""


def measure(b04: np.ndarray, b08: np.ndarray, hulls: list[np.ndarray]
            ) -> dict[str, list[float] | list[dict[str, float]]]:
    """Measure one scene: ``b04``, ``b08`` reflectance ``(H, W)``; ``hulls`` boolean masks of the same shape."""
    any_hull = np.zeros(b08.shape, dtype=bool)
    for m in hulls:
        any_hull |= m
    wet = (ndimage.median_filter(b08, size=5) < WATER_B08) & ~any_hull
    water = wet & ~ndimage.binary_dilation(any_hull, iterations=2)
    mean = ndimage.uniform_filter(b08.astype(np.float64), 3)
    local_sd = np.sqrt(np.maximum(ndimage.uniform_filter(b08.astype(np.float64) ** 2, 3) - mean**2, 0.0))
    water_b08 = float(np.median(b08[water])) if water.any() else float("nan")
    coast = ndimage.binary_dilation(wet, iterations=3) & ~wet & ~ndimage.binary_dilation(any_hull, iterations=2)
    out_hulls: list[dict[str, float]] = []
    for m in hulls:
        if m.sum() < 2:
            continue
        ring = ndimage.binary_dilation(m, iterations=2) & ~m
        land = ring & ~wet & ~any_hull
        land_share = float(land.sum() / max(ring.sum(), 1))
        berthed = land_share > BERTHED_RING_LAND
        row = {"px": float(m.sum()), "b08": float(np.median(b08[m])), "b08_p90": float(np.percentile(b08[m], 90)),
               "b04": float(np.median(b04[m])), "contrast_water": float(np.median(b08[m]) - water_b08),
               "berthed": float(berthed), "ring_land": land_share}
        if berthed and land.sum() >= 2:
            row["quay_b08"] = float(np.median(b08[land]))
            row["quay_b04"] = float(np.median(b04[land]))
            row["contrast_quay"] = row["b08"] - row["quay_b08"]
        out_hulls.append(row)
    return {"water": [water_b08, float(np.median(b04[water])) if water.any() else float("nan"),
                      float(np.median(local_sd[water])) if water.any() else float("nan")],
            "coast": [float(np.median(b08[coast])) if coast.any() else float("nan"),
                      float(np.median(b04[coast])) if coast.any() else float("nan"),
                      float(np.median(local_sd[coast])) if coast.any() else float("nan")],
            "hulls": out_hulls}


def _print(label: str, scenes: list[dict[str, Any]]) -> None:
    water = np.array([s["water"] for s in scenes])
    coast = np.array([s["coast"] for s in scenes])
    hulls = [h for s in scenes for h in s["hulls"]]
    print(f"{label}: {len(scenes)} scenes, {len(hulls)} hulls")
    print(f"  water   B08 {np.nanmedian(water[:, 0]):.3f}  B04 {np.nanmedian(water[:, 1]):.3f}  "
          f"local sd B08 {np.nanmedian(water[:, 2]):.4f}")
    print(f"  coast   B08 {np.nanmedian(coast[:, 0]):.3f}  B04 {np.nanmedian(coast[:, 1]):.3f}  "
          f"local sd B08 {np.nanmedian(coast[:, 2]):.4f}")
    for name, sel in (("all", hulls), ("berthed", [h for h in hulls if h["berthed"]]),
                      ("free", [h for h in hulls if not h["berthed"]])):
        if not sel:
            continue
        q = {k: np.nanpercentile([h.get(k, np.nan) for h in sel], [25, 50, 75])
             for k in ("b08", "b08_p90", "b04", "contrast_water", "contrast_quay", "quay_b08", "quay_b04")
             if any(k in h for h in sel)}
        text = "  ".join(f"{k} {v[1]:.3f} [{v[0]:.3f}, {v[2]:.3f}]" for k, v in q.items())
        print(f"  hulls {name} ({len(sel)}): {text}")
    berthed = [h for h in hulls if h["berthed"] and "contrast_quay" in h]
    if berthed:
        weak = np.mean([abs(h["contrast_quay"]) < 0.03 for h in berthed])
        print(f"  berthed hulls within 0.03 of their quay in B08: {weak:.2f}")


def real(root: Path | None) -> None:
    from satwatch.detection.data.sen2ships import DEFAULT_ROOT, load_hull_masks, load_port, port_names
    from satwatch.detection.data.splits import HOLDOUT_PORTS

    base = root or DEFAULT_ROOT
    scenes = []
    for name in port_names(base):
        if name in HOLDOUT_PORTS:
            continue
        port = load_port(name, base)
        if "B04" not in port.scene.bands or "B08" not in port.scene.bands:
            print(f"  (skipped {name}: lacks {', '.join(b for b in ('B04', 'B08') if b not in port.scene.bands)})")
            continue
        masks = load_hull_masks(name, base)
        scenes.append(measure(port.scene.band("B04"), port.scene.band("B08"), masks))
    _print("real sen2ships training ports", scenes)


def _hull_mask(shape: tuple[int, int], col: float, row: float, length_px: float, width_px: float,
               heading_deg: float) -> np.ndarray:
    """Pixels whose centres fall in a rectangle centred at ``(col, row)``, long axis along ``heading_deg``."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    dx, dy = xx + 0.5 - col, yy + 0.5 - row
    t = np.radians(heading_deg)
    along = dx * np.sin(t) - dy * np.cos(t)
    across = dx * np.cos(t) + dy * np.sin(t)
    inside: np.ndarray = (np.abs(along) <= length_px / 2) & (np.abs(across) <= max(width_px, 1.0) / 2)
    return inside


def simulated(scenario_path: str, days: list[str]) -> None:
    from pyproj import Transformer

    from satwatch.aoi import load_catalog
    from satwatch.imagery.scenario import load_scenario
    from satwatch.imagery.simulated import render

    scenario = load_scenario(scenario_path)
    catalog = load_catalog()
    scenes = []
    for day in days:
        when = datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)
        for aoi_id in scenario.aois:
            rendered = render(catalog[aoi_id], when, "s2", scenario)
            scene = rendered.scene
            vessels = rendered.truth[(rendered.truth["class"] == "vessel") & rendered.truth["visible"]]
            if vessels.empty:
                continue
            to_crs = Transformer.from_crs(4326, scene.crs, always_xy=True)
            inv = ~scene.transform
            gsd = scene.gsd_m
            masks = []
            for _, v in vessels.iterrows():
                col, row = inv * to_crs.transform(v.geometry.x, v.geometry.y)
                masks.append(_hull_mask((scene.height, scene.width), col, row, v["length_m"] / gsd,
                                        v["width_m"] / gsd, float(v["heading_deg"])))
            scenes.append(measure(scene.band("B04"), scene.band("B08"), masks))
    _print(f"simulated {scenario.name} ({', '.join(days)})", scenes)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/train.yaml")
    ap.add_argument("--dates", default="2024-07-03,2024-09-12")
    ap.add_argument("--root", type=Path, default=None, help="sen2ships folder (default ../shared/data/sen2ships)")
    args = ap.parse_args()
    real(args.root)
    simulated(args.scenario, args.dates.split(","))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
