"""Training machinery: a tiny run writes loadable weights, is deterministic with a seed, guards the hold-out."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from satwatch.detection.data.samples import crop
from satwatch.detection.data.sen2ships import DEFAULT_ROOT
from satwatch.detection.data.splits import HOLDOUT_PORTS
from satwatch.detection.data.training_data import port_sample, simulated_samples
from satwatch.detection.models.cnn import load_model
from satwatch.detection.profiles import PROFILES
from satwatch.detection.training.train import TrainConfig, train
from satwatch.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
TINY = str(REPO / "scenarios" / "tiny.yaml")


def _tiny(seed: int) -> TrainConfig:
    return TrainConfig(profile="s1", epochs=1, steps_per_epoch=2, batch_size=2, seed=seed, scenario=TINY)


def test_tiny_training_writes_loadable_deterministic_weights(tmp_path: Path) -> None:
    meta = train(_tiny(3), tmp_path / "a" / "s1.pt", device="cpu")
    train(_tiny(3), tmp_path / "b" / "s1.pt", device="cpu")
    train(_tiny(4), tmp_path / "c" / "s1.pt", device="cpu")
    a, b, c = (load_model("s1", tmp_path / d, "cpu") for d in "abc")
    assert meta["config"]["seed"] == 3 and meta["simulated_scenes"] >= 1
    assert a.sha256 != c.sha256
    for key, value in a.net.state_dict().items():
        assert torch.equal(value, b.net.state_dict()[key]), f"same seed, different {key}"
    assert not list((tmp_path / "a").glob(".*partial*"))


def test_training_refuses_held_out_ports(tmp_path: Path) -> None:
    cfg = TrainConfig(profile="s2", epochs=1, steps_per_epoch=1, batch_size=1, scenario=TINY,
                      train_ports=(HOLDOUT_PORTS[0],))
    if not (DEFAULT_ROOT / "annotations.json").is_file():
        pytest.skip(f"sen2ships not at {DEFAULT_ROOT}")
    with pytest.raises(UsageError, match="must not be trained on"):
        train(cfg, tmp_path / "s2.pt", device="cpu")
    with pytest.raises(UsageError, match="unknown profile"):
        train(TrainConfig(profile="x"), tmp_path / "x.pt")


def test_crops_keep_labels_on_their_objects_through_rotation_and_flip() -> None:
    samples = simulated_samples(PROFILES["s1"], TINY, limit=1)
    sample = samples[0]
    assert len(sample.points) > 0
    rng = np.random.default_rng(0)
    seen = 0
    for _ in range(12):
        item = crop(sample, PROFILES["s1"], rng)
        for x, y, *_ in item["points"]:
            r, c = int(y), int(x)
            window = item["x"][0, max(r - 2, 0): r + 3, max(c - 2, 0): c + 3]  # VV channel
            water = np.median(item["x"][0][item["x"][-1] > 0])
            assert window.max() > water + 1.0, "a label is not on a bright vessel after augmentation"
            seen += 1
    assert seen > 0


@pytest.mark.skipif(not (DEFAULT_ROOT / "annotations.json").is_file(), reason=f"sen2ships not at {DEFAULT_ROOT}")
def test_port_samples_are_resampled_to_ground_metres() -> None:
    sample = port_sample("genoa", PROFILES["s2"])  # 44.4 N: 10 m Mercator pixels are 7.1 m on the ground
    from satwatch.detection.data.sen2ships import load_port

    port = load_port("genoa")
    assert port.missing == ()
    ratio = sample.raw.shape[2] / port.scene.width
    assert math.isclose(ratio, port.scene.gsd_m / 10.0, rel_tol=0.01)
    assert len(sample.points) == len(port.boxes) == 29
