"""Cost of measuring a coastal Sentinel-1 scene's berth zone in observability (``observed_berth_km2``).

One synthetic Sentinel-1 scene (``--size`` px square at 10 m: sea on the left half, land on the right, speckle of
1.5 dB), observed over its whole extent by :func:`satwatch.change.observability.observe` as the pipeline runs it,
and again with the berth zone switched off (``sar_berths`` answering "no coast"), alternating, ``--repeats``
times after one warm-up each, in the same process. Prints the best seconds of each and their ratio (the figure to
quote: these machines are noisy).

Run: ``.venv/bin/python benchmarks/bench_observe.py [--size 2048] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv: list[str] | None = None) -> int:
    """Print the two timings and their ratio; returns 0."""
    import numpy as np
    from affine import Affine
    from pyproj import CRS
    from shapely.geometry import box

    import satwatch.detection.models.baseline as baseline
    from satwatch.aoi import project_geometry, validate_aoi
    from satwatch.change.observability import observe
    from satwatch.imagery.scene import Scene, SceneMeta

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    n = args.size
    rng = np.random.default_rng(0)
    vv = (np.where(np.arange(n)[None, :] < n // 2, -22.0, -6.0) + rng.normal(0, 1.5, (n, n))).astype(np.float32)
    scene = Scene(data=np.stack([vv, vv - 7.0]), bands=("VV", "VH"), crs=CRS.from_epsg(32653),
                  transform=Affine(10, 0, 284_000, 0, -10, 4_752_000),
                  meta=SceneMeta(sensor="s1", acquired=datetime(2024, 10, 8, tzinfo=UTC), source="bench",
                                 simulated=True, aoi="bench"))
    x0, y0 = scene.transform.c, scene.transform.f
    aoi = validate_aoi("bench", project_geometry(box(x0, y0 - 10.0 * n, x0 + 10.0 * n, y0), scene.crs, 4326), {},
                       "bench")
    real = baseline.sar_berths

    def no_coast(s: Any, valid: Any, params: Any) -> Any:
        return valid, np.zeros_like(valid)

    times: dict[str, list[float]] = {"with berth zone": [], "without": []}
    for i in range(args.repeats + 1):
        for name, fn in (("with berth zone", real), ("without", no_coast)):
            baseline.sar_berths = fn  # type: ignore[assignment]
            t0 = time.perf_counter()
            obs = observe(scene, aoi)
            if i:  # the first round warms up
                times[name].append(time.perf_counter() - t0)
            if fn is real:
                berth = obs.observed_berth_km2
    baseline.sar_berths = real
    best = {k: min(v) for k, v in times.items()}
    print(f"observe, {n} x {n} px coastal Sentinel-1 scene ({berth:.2f} km2 at berths): "
          f"{best['with berth zone']:.2f} s with the berth zone, {best['without']:.2f} s without: "
          f"{best['with berth zone'] / best['without']:.2f} x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
