"""Regression: each profile's default detector still reaches its recorded real figures (models/<profile>.metrics.json).

Runs where the real sets of ``../shared/data`` are present (skipped cleanly elsewhere, as in CI): the default and the
baseline are run again on the profile's real validation sets and their primary figures compared with the recorded
ones (and its false alarms per km2 and length error where recorded); the default must still not be worse than the
baseline there.
"""

from __future__ import annotations

import math

import pytest

from satwatch.detection.auto import metrics_path
from satwatch.detection.detector import get_detector
from satwatch.detection.training.figures import load_metrics, real_figures, recorded_default
from satwatch.detection.training.validation import real_sets, score

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("profile", ["s2", "s1", "vhr"])
def test_default_detector_reaches_its_recorded_real_figures(profile: str) -> None:
    sets = real_sets(profile)
    if not sets:
        pytest.skip(f"no real validation data for {profile} under ../shared/data")
    metrics = load_metrics(metrics_path(profile))
    default = recorded_default(metrics)
    assert default is not None
    recorded = {f.dataset: f for f in real_figures(metrics)[default]}
    for vset in sets:
        det = get_detector(default, device="cpu") if default != "baseline" else get_detector(default)
        figs, _ = score(det.detect, vset, match_distance_m=metrics["match_distance_m"])
        want = recorded[vset.name]
        for name in ("f1", "recall"):
            if not math.isnan(want.get(name)):
                assert figs.get(name) >= want.get(name) - 0.02, (vset.name, name, figs.get(name), want.get(name))
        for name, slack in (("false_alarms_per_km2", 0.1), ("median_length_error_m", 3.0)):
            if not math.isnan(want.get(name)):
                assert figs.get(name) <= want.get(name) + slack, (vset.name, name, figs.get(name), want.get(name))
        if default != "baseline":
            base = {f.dataset: f for f in real_figures(metrics)["baseline"]}[vset.name]
            primary = "f1" if not math.isnan(figs.get("f1")) else "recall"
            assert figs.get(primary) >= base.get(primary), (vset.name, primary)
