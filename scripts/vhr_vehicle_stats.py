#!/usr/bin/env python
"""Compare the simulator's VHR vehicles with the real aerial vehicles at 1 m: how they stand out from their ground.

The same measurement on both sides, on the ``vhr`` profile grid (1 m, real images block-averaged from 0.05-0.13 m
and read as satwatch reads them, 8-bit sRGB decoded to linear values): per labelled vehicle, the mean brightness
(mean of R, G, B)
of the 3 x 3 m core at its centre against the median of the ground 4-6 m around it (a 13 x 13 m window without
its central 7 x 7 m). Prints the share of vehicles brighter than their ground and percentiles of the core /
ground ratio; :data:`satwatch.imagery.simulated.materials.VHR_REAL_VEHICLES` holds the real figures the simulator
is calibrated to.

Only the aerial *training* sequences are read (never the validation ones), so nothing here is tuned to the
validation split.

Usage: ``.venv/bin/python scripts/vhr_vehicle_stats.py [--scenes 6]`` (needs ``../shared/data/aerial_vehicles``
for the real side; about 30 s).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import numpy.typing as npt

from satwatch.detection.data.samples import Sample

PERCENTILES = (5, 10, 25, 50, 75, 90, 95)
"""Percentiles of the core / ground ratio printed."""


def contrasts(samples: Sequence[Sample]) -> npt.NDArray[np.float64]:
    """``(N, 2)`` per vehicle: core brightness - ground brightness, ground brightness (vehicles 7 px from an edge)."""
    out = []
    for s in samples:
        lum = np.nanmean(s.raw[[s.names.index(b) for b in ("R", "G", "B")]], axis=0)
        h, w = lum.shape
        for x, y, *_rest, cls in s.points:
            r, c = int(y), int(x)
            if cls != 0 or r < 7 or c < 7 or r >= h - 7 or c >= w - 7:
                continue
            ring = lum[r - 6:r + 7, c - 6:c + 7].copy()
            ring[3:10, 3:10] = np.nan
            ground = float(np.nanmedian(ring))
            if np.isfinite(ground) and ground > 0:
                out.append((float(np.nanmean(lum[r - 1:r + 2, c - 1:c + 2])) - ground, ground))
    return np.array(out, dtype=np.float64).reshape(-1, 2)


def summary(values: npt.NDArray[np.float64]) -> dict[str, float]:
    """Share brighter than the ground and core / ground ratio percentiles of :func:`contrasts` rows."""
    ratio = (values[:, 0] + values[:, 1]) / values[:, 1]
    out = {"vehicles": float(len(values)), "brighter_share": float(np.mean(ratio > 1.0))}
    out.update({f"ratio_p{p}": float(v) for p, v in zip(PERCENTILES, np.percentile(ratio, PERCENTILES), strict=True)})
    return out


def main(argv: list[str] | None = None) -> int:
    """Print both sides' figures; returns 0."""
    from satwatch.detection.data.training_data import real_training_samples, simulated_samples
    from satwatch.detection.profiles import PROFILES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="scenarios/train.yaml")
    ap.add_argument("--scenes", type=int, default=6, help="simulated VHR scenes measured")
    args = ap.parse_args(argv)
    profile = PROFILES["vhr"]
    sides = {"real (aerial training sequences)": real_training_samples(profile),
             f"simulated ({args.scenario}, {args.scenes} scenes)": simulated_samples(profile, args.scenario,
                                                                                    limit=args.scenes)}
    for name, samples in sides.items():
        values = contrasts(samples)
        if not len(values):
            print(f"{name}: no vehicles")
            continue
        figs = summary(values)
        ratios = ", ".join(f"p{p} {figs[f'ratio_p{p}']:.2f}" for p in PERCENTILES)
        print(f"{name}: {int(figs['vehicles'])} vehicles, {figs['brighter_share']:.0%} brighter than their ground; "
              f"core / ground ratio {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
