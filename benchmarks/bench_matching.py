"""Speed of matching detections across dates: 1,000,000 detections over 200 acquisitions (5,000 per date).

A synthetic port: 6,000 berths on a 200 m lattice (a 15.5 x 15.5 km square in metres), each occupied on a
date with probability 0.83, positions jittered by 5 m (detector noise): ships stay for runs of dates, arrive and
depart. :func:`satwatch.change.matching.link_points` links them (radius 50 m, max gap 1). The baseline, timed
in the same process on the same points, is building one shapely STRtree over all 1,000,000 points (creating
the points included): the ratio says how many bulk index builds the linking costs, and carries across
machines.

Run: ``.venv/bin/python benchmarks/bench_matching.py [--n 1000000] [--dates 200]``.
Target: under 30 s on the 2-core development machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely

from satwatch.change.matching import link_points


def synthetic(n: int, dates: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    per = n // dates
    berths = int(per / 0.83) + 1
    side = int(np.ceil(np.sqrt(berths)))
    bx = (np.arange(berths) % side) * 200.0
    by = (np.arange(berths) // side) * 200.0
    xs, ys, fs = [], [], []
    for f in range(dates):
        occ = rng.choice(berths, size=per, replace=False)
        xs.append(bx[occ] + rng.normal(0, 5, per))
        ys.append(by[occ] + rng.normal(0, 5, per))
        fs.append(np.full(per, f, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(fs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dates", type=int, default=200)
    args = parser.parse_args()
    x, y, frame = synthetic(args.n, args.dates)

    t0 = time.perf_counter()
    pts = shapely.points(x, y)
    tree = shapely.STRtree(np.asarray(pts))
    baseline = time.perf_counter() - t0

    t0 = time.perf_counter()
    ids = link_points(x, y, frame, args.dates, radius_m=50.0, max_gap=1)
    elapsed = time.perf_counter() - t0

    print(f"detections: {len(x):,} over {args.dates} dates; presences: {ids.max() + 1:,}")
    print(f"baseline (one STRtree over all {len(tree):,} points): {baseline:.2f} s")
    print(f"link_points: {elapsed:.2f} s  = {elapsed / baseline:.2f} x baseline  (target < 30 s: "
          f"{'PASS' if elapsed < 30 else 'FAIL'})")


if __name__ == "__main__":
    main()
