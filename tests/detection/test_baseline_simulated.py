"""The baseline detector against the simulator's ground truth: precision, recall and F1 on open-water vessels.

Five real port AOIs with fictional anchored, moving and berthed vessels (the scenario below), three Sentinel-1
and three Sentinel-2 acquisitions each. Targets are the truth vessels at anchor or under way that the
simulator marks visible; for Sentinel-2 the recall is also taken over the targets the project counts as
observable (centre pixel not SCL cloud shadow, cloud or cirrus: 3, 8, 9, 10, as in
``satwatch.change.observability``), which is what the detector searches by default. A detection matches a
truth vessel within max(30 m, half its length), one to one (Hungarian assignment); a detection that matches
no truth vessel (any kind, berthed included) is a false positive.

Measured on this set when written (simulator of 2026-11-24): Sentinel-1 105 targets, P 0.93 R 1.00 F1 0.96,
median length error 4 %, heading error 1.7 deg; Sentinel-2 P 0.91, R 0.83 over the 63 observable targets
(F1 0.87) and 0.68 over the 76 the simulator calls visible (F1 0.78: it counts vessels under thin cirrus and
in cloud shadow as visible, which the detector does not search by default), length error 6 %, heading 1 deg.
The thresholds below leave a margin for changes in the simulator's rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from satwatch.aoi import load_catalog
from satwatch.detection.models.baseline import BaselineDetector
from satwatch.imagery.scenario import load_scenario
from satwatch.imagery.simulated import render

SCENARIO = """\
name: baseline-evaluation
seed: 11
aois: [ru_dunai, ru_vladivostok, kp_rajin_port, ru_nakhodka, kp_chongjin_port]
period: 2024-09-01/2024-09-30
sensors: [s2, s1]
revisit_days: {s2: 5, s1: 6}
cloud_cover: 0.3
activity:
  - {aoi: ru_dunai, class: vessel, where: anchor, count: {2024-09-01: 6}}
  - {aoi: ru_dunai, class: vessel, where: moving, count: {2024-09-01: 2}}
  - {aoi: ru_dunai, class: vessel, where: berth, count: {2024-09-01: 3}}
  - {aoi: ru_vladivostok, class: vessel, where: anchor, count: {2024-09-01: 6}}
  - {aoi: ru_vladivostok, class: vessel, where: moving, count: {2024-09-01: 2}}
  - {aoi: ru_vladivostok, class: vessel, where: berth, count: {2024-09-01: 5}}
  - {aoi: kp_rajin_port, class: vessel, where: anchor, count: {2024-09-01: 5}}
  - {aoi: kp_rajin_port, class: vessel, where: moving, count: {2024-09-01: 2}}
  - {aoi: ru_nakhodka, class: vessel, where: anchor, count: {2024-09-01: 5}}
  - {aoi: ru_nakhodka, class: vessel, where: moving, count: {2024-09-01: 2}}
  - {aoi: kp_chongjin_port, class: vessel, where: anchor, count: {2024-09-01: 5}}
  - {aoi: kp_chongjin_port, class: vessel, where: berth, count: {2024-09-01: 3}}
"""
SCENES_PER_SENSOR = 3
NOT_CLEAR = (3, 8, 9, 10)


@dataclass
class Tally:
    """Counts over scenes of one sensor."""

    targets: int = 0
    observable: int = 0
    found: int = 0
    found_observable: int = 0
    false: int = 0
    detections: int = 0
    length_error: list[float] = field(default_factory=list)
    heading_error: list[float] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return 1.0 - self.false / max(self.detections, 1)

    @property
    def recall(self) -> float:
        return self.found / max(self.targets, 1)

    @property
    def recall_observable(self) -> float:
        return self.found_observable / max(self.observable, 1)

    @staticmethod
    def f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r) if p + r else 0.0


def _score(tally: Tally, truth: gpd.GeoDataFrame, detections: gpd.GeoDataFrame, scl: np.ndarray | None,
           inv_transform: object) -> None:
    vessels = truth[truth["class"] == "vessel"]
    t_xy = np.array([[g.x, g.y] for g in vessels.geometry]).reshape(-1, 2)
    d_xy = np.array([[g.x, g.y] for g in detections.geometry]).reshape(-1, 2)
    radius = np.maximum(30.0, vessels["length_m"].to_numpy() / 2.0)
    pairs: dict[int, int] = {}
    if len(t_xy) and len(d_xy):
        dist = np.hypot(t_xy[:, None, 0] - d_xy[None, :, 0], t_xy[:, None, 1] - d_xy[None, :, 1])
        cost = np.where(dist <= radius[:, None], dist, 1e9)
        for ti, di in zip(*linear_sum_assignment(cost), strict=True):
            if cost[ti, di] < 1e9:
                pairs[int(ti)] = int(di)
    tally.detections += len(detections)
    tally.false += len(detections) - len(pairs)
    for k, (_, row) in enumerate(vessels.iterrows()):
        if row["where"] not in ("anchor", "moving") or not row["visible"]:
            continue
        tally.targets += 1
        clear = True
        if scl is not None:
            col, r = inv_transform @ (row.geometry.x, row.geometry.y)  # type: ignore[operator]
            clear = int(scl[int(r), int(col)]) not in NOT_CLEAR
        tally.observable += clear
        if k in pairs:
            tally.found += 1
            tally.found_observable += clear
            det = detections.iloc[pairs[k]]
            tally.length_error.append(abs(det["length_m"] / row["length_m"] - 1.0))
            tally.heading_error.append(abs((det["heading_deg"] - row["heading_deg"] % 180.0 + 90.0) % 180.0 - 90.0))


@pytest.fixture(scope="module")
def tallies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Tally]:
    path: Path = tmp_path_factory.mktemp("scenario") / "evaluation.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    catalog = load_catalog()
    detector = BaselineDetector()
    out = {"s1": Tally(), "s2": Tally()}
    for aoi_id in scenario.aois:
        aoi = catalog[aoi_id]
        for sensor, tally in out.items():
            for acquired in scenario.acquisitions(aoi, sensor)[:SCENES_PER_SENSOR]:
                rendered = render(aoi, acquired, sensor, scenario)
                scene = rendered.scene
                detections = detector.detect(scene).to_crs(scene.crs)
                truth = rendered.truth.to_crs(scene.crs)
                scl = scene.band("SCL") if "SCL" in scene.bands else None
                _score(tally, truth, detections, scl, ~scene.transform)
    return out


@pytest.mark.slow
def test_sentinel1_open_water_vessels(tallies: dict[str, Tally]) -> None:
    t = tallies["s1"]
    assert t.targets >= 60
    assert t.recall >= 0.9, t
    assert t.precision >= 0.85, t
    assert Tally.f1(t.precision, t.recall) >= 0.88, t
    assert float(np.median(t.length_error)) <= 0.15 and float(np.median(t.heading_error)) <= 10.0


@pytest.mark.slow
def test_sentinel2_open_water_vessels(tallies: dict[str, Tally]) -> None:
    t = tallies["s2"]
    assert t.observable >= 30
    assert t.recall_observable >= 0.75, t
    assert t.precision >= 0.85, t
    assert Tally.f1(t.precision, t.recall_observable) >= 0.8, t
    assert t.recall >= 0.6, t  # over the simulator's "visible", thin cirrus and cloud shadow included
    assert float(np.median(t.length_error)) <= 0.2 and float(np.median(t.heading_error)) <= 10.0
