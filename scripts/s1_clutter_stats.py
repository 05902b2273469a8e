#!/usr/bin/env python
"""Compare the simulator's Sentinel-1 sea and ships with real OpenSARShip chips: the calibration of the simulator.

Prints, per OpenSARShip package (real) and for simulated scenes of a scenario:
- sea: median VV and VH (dB), equivalent number of looks (mean**2 / variance of linear VV), intensity
  autocorrelation at 1 and 2 pixels (rows and columns), over sea pixels away from the labelled ship and from
  any pixel 10x brighter than the sea median;
- ships: a least-squares fit ``peak_dB = a + b log10(L / 100 m)`` of the brightest VV and VH pixel within 4 px
  of the ship's centre against its length (AIS for real, planted for simulated), and the residual spread.

Only the training package (``data.splits.SPLITS``) may be used to set the simulator's constants; the others
are printed for comparison, never tuned to. The simulator's constants (``imagery/speckle.py``,
``_S1_SHIP_*`` in ``imagery/simulated/materials.py``) name the figures they were set from.

Usage: ``.venv/bin/python scripts/s1_clutter_stats.py [--scenario scenarios/train.yaml] [--date 2024-07-03]``
(needs ``../shared/data/opensarship``; about a minute).
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

from satwatch.imagery.speckle import intensity_autocorrelation


def sea_stats(vv_db: np.ndarray, vh_db: np.ndarray, sea: np.ndarray) -> dict[str, float]:
    """Sea statistics of one scene over the boolean mask ``sea``."""
    lin = 10.0 ** (vv_db / 10.0)
    sea = sea & np.isfinite(lin) & (lin < 10.0 * np.nanmedian(lin[sea]))
    s = lin[sea]
    ac1 = intensity_autocorrelation(lin, sea, 1)
    ac2 = intensity_autocorrelation(lin, sea, 2)
    return {"vv_db": float(np.median(vv_db[sea])), "vh_db": float(np.median(vh_db[sea])),
            "enl": float(s.mean() ** 2 / s.var()), "ac1": float(np.mean(ac1)), "ac2": float(np.mean(ac2))}


def fit_peaks(rows: list[tuple[float, float, float]]) -> dict[str, Any]:
    """Fit ``peak = a + b log10(L/100)`` for VV and VH; rows are ``(length_m, vv_peak_db, vh_peak_db)``."""
    a = np.array(rows, dtype=float).reshape(-1, 3)
    a = a[np.isfinite(a).all(axis=1) & (a[:, 0] > 0)]
    if len(a) < 3:
        return {"n": len(a)}
    x = np.c_[np.ones(len(a)), np.log10(a[:, 0] / 100.0)]
    out: dict[str, Any] = {"n": len(a)}
    for j, band in ((1, "vv"), (2, "vh")):
        coef = np.linalg.lstsq(x, a[:, j], rcond=None)[0]
        out[band] = (round(float(coef[0]), 1), round(float(coef[1]), 1), round(float((a[:, j] - x @ coef).std()), 1))
    return out


def _summary(stats: list[dict[str, float]]) -> str:
    keys = stats[0].keys()
    return "  ".join(f"{k} {np.median([s[k] for s in stats]):.2f}" for k in keys)


def real(root: Path | None) -> None:
    from satwatch.detection.data.opensarship import load_chips
    from satwatch.detection.data.splits import SPLITS

    groups: dict[str, tuple[list[dict[str, float]], list[tuple[float, float, float]]]] = {}
    for chip in load_chips(root):
        vv, vh = chip.scene.band("VV"), chip.scene.band("VH")
        h, w = vv.shape
        yy, xx = np.mgrid[0:h, 0:w]
        length = float(chip.labels.iloc[0].get("length_m", np.nan))
        radius = max(8.0, 0.15 * (length if np.isfinite(length) else 100.0))
        centre = (yy - h / 2) ** 2 + (xx - w / 2) ** 2
        stats, peaks = groups.setdefault(chip.group, ([], []))
        if (centre >= radius**2).sum() >= 200:
            stats.append(sea_stats(vv, vh, centre >= radius**2))
        near = centre <= 16
        peaks.append((length, float(np.nanmax(vv[near])), float(np.nanmax(vh[near]))))
    train = set(SPLITS["opensarship"]["train"])
    for group, (stats, peaks) in sorted(groups.items()):
        role = "train" if group in train else "held out"
        print(f"real {group} ({role}, {len(peaks)} chips)  sea: {_summary(stats)}")
        print(f"   ships: {fit_peaks(peaks)}")


def simulated(scenario_path: str, day: str) -> None:
    from pyproj import Transformer

    from satwatch.aoi import load_catalog
    from satwatch.imagery.scenario import load_scenario
    from satwatch.imagery.simulated import GSD_M, render
    from satwatch.imagery.simulated.grid import _bbox_grid
    from satwatch.imagery.simulated.landcover import _landcover
    from satwatch.imagery.simulated.materials import WATER
    from satwatch.imagery.simulated.world import _world

    scenario = load_scenario(scenario_path)
    catalog = load_catalog()
    when = datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)
    stats: list[dict[str, float]] = []
    peaks: list[tuple[float, float, float]] = []
    for aoi_id in scenario.aois:
        aoi = catalog[aoi_id]
        rendered = render(aoi, when, "s1", scenario)
        vv, vh = rendered.scene.data[0], rendered.scene.data[1]
        world = _world(aoi, scenario.seed, scenario.activities(aoi_id))
        cls = _landcover(world, _bbox_grid(aoi, GSD_M["s1"]))[0]
        sea = ndimage.binary_erosion(cls == WATER, iterations=10)
        if sea.sum() >= 2000:
            stats.append(sea_stats(vv, vh, sea))
        to_crs = Transformer.from_crs(4326, rendered.scene.crs, always_xy=True)
        inv = ~rendered.scene.transform
        for _, obj in rendered.truth[rendered.truth["class"] == "vessel"].iterrows():
            col, row = inv * to_crs.transform(obj.geometry.x, obj.geometry.y)
            r, c = int(row), int(col)
            if 4 <= r < vv.shape[0] - 4 and 4 <= c < vv.shape[1] - 4:
                peaks.append((float(obj["length_m"]), float(vv[r - 4:r + 5, c - 4:c + 5].max()),
                              float(vh[r - 4:r + 5, c - 4:c + 5].max())))
    print(f"simulated {scenario.name} {day} ({len(stats)} scenes with open sea)  sea: {_summary(stats)}")
    print(f"   ships: {fit_peaks(peaks)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/train.yaml")
    ap.add_argument("--date", default="2024-07-03")
    ap.add_argument("--root", type=Path, default=None, help="OpenSARShip folder (default ../shared/data/opensarship)")
    args = ap.parse_args()
    real(args.root)
    simulated(args.scenario, args.date)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
