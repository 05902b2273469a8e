"""Speed of the simulated source: render a 1000 x 1000 px Sentinel-2 scene (10 km square AOI, 10 m pixels).

Times are medians over several acquisitions (different dates, clouds and noise) with the AOI's static world
already built (it is built once per process and AOI; its cold build is reported separately). Ratios compare
with baselines timed in the same process on the same array size, so they carry across machines:

- ``gaussian_filter``: scipy's Gaussian blur (sigma 0.55 px) of a (6, 1000, 1000) float32 array;
- ``write_scene``: writing the rendered scene as a deflate-compressed COG.

Run: ``.venv/bin/python benchmarks/bench_simulate.py [--runs 7]``. Target: S2 render under 1 s on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import numpy as np
from scipy import ndimage
from shapely.geometry import Polygon, box

from satwatch.aoi import AOI, project_geometry
from satwatch.imagery import simulated
from satwatch.imagery.scenario import Activity, Scenario
from satwatch.imagery.scene import write_scene

START, END = date(2024, 9, 1), date(2024, 11, 30)
EPSG = 32653
# A 10 km square on the coast east of Vladivostok (Strelok Bay), corners on the 10 m grid.
X0, Y0 = 286_000.0, 4_745_000.0


def bench_aoi() -> AOI:
    square = box(X0, Y0, X0 + 10_000.0, Y0 + 10_000.0)
    geom = project_geometry(square, EPSG, 4326)
    assert isinstance(geom, Polygon)
    return AOI(id="bench_square", geometry=geom, name="benchmark square", watch=("vessel", "vehicle", "encampment"))


def bench_scenario() -> Scenario:
    def steady(cls: str, where: str, value: float) -> Activity:
        return Activity(aoi="bench_square", cls=cls, where=where, steps=((START, value),))

    return Scenario(
        name="bench", aois=("bench_square",), start=START, end=END, seed=3, cloud_cover=0.4,
        activity=(steady("vessel", "berth", 6), steady("vessel", "anchor", 8), steady("vessel", "moving", 2),
                  steady("vehicle", "land", 120), steady("vehicle", "road", 20), steady("encampment", "land", 20000)),
    )


def median_time(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="acquisitions timed per sensor (median reported)")
    args = parser.parse_args()
    aoi, scenario = bench_aoi(), bench_scenario()
    t0 = time.perf_counter()
    first = simulated.render(aoi, scenario.acquisitions(aoi, "s2")[0], "s2", scenario)
    cold = time.perf_counter() - t0
    h, w = first.scene.height, first.scene.width
    assert (h, w) == (1000, 1000), (h, w)

    rows: list[tuple[str, float, str]] = []
    for sensor in ("s2", "s1", "vhr"):
        times = scenario.acquisitions(aoi, sensor)[: args.runs]
        pending = iter(times)

        def one(sensor: str = sensor, pending: Iterator[datetime] = pending) -> object:
            return simulated.render(aoi, next(pending), sensor, scenario)

        med = median_time(one, len(times))
        shape = simulated.render(aoi, times[0], sensor, scenario).scene.data.shape
        rows.append((f"render {sensor} {shape[0]}x{shape[1]}x{shape[2]}", med, f"median of {len(times)}"))
    s2 = rows[0][1]

    array = np.random.default_rng(0).random((6, 1000, 1000), dtype=np.float32)
    blur = median_time(lambda: ndimage.gaussian_filter(array, (0, 0.55, 0.55), truncate=3.0), args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scene.tif"
        write = median_time(lambda: write_scene(first.scene, out), args.runs)
    rows.append(("baseline gaussian_filter 6x1000x1000", blur, f"render s2 = {s2 / blur:.1f} x this"))
    rows.append(("baseline write_scene 7x1000x1000 COG", write, f"render s2 = {s2 / write:.2f} x this"))
    rows.append(("cold first render s2 (world build + render)", cold, "once per process and AOI"))

    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'seconds':>8}  note")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 30}")
    for name, sec, note in rows:
        print(f"{name:<{width}}  {sec:8.3f}  {note}")
    print(f"\nS2 1000x1000 render: {s2:.3f} s ({'meets' if s2 < 1.0 else 'MISSES'} the 1 s target)")


if __name__ == "__main__":
    main()
