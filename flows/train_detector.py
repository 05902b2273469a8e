"""The ``train_detector`` flow: train one CNN profile and write its weights (thin wrapper of ``train``).

One task, no retries (a failed training run is looked at, not repeated blindly). Importable as
``satwatch.flows.train_detector``; entrypoint ``flows/train_detector.py:train_detector``.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task

from satwatch.detection.data.samples import load_samples
from satwatch.detection.models.cnn import MODELS_DIR
from satwatch.detection.profiles import PROFILES
from satwatch.detection.training.train import TrainConfig, train


@task(name="train")
def train_profile(cfg: TrainConfig, out: str, device: str, samples: str | None = None) -> str:
    """Train ``cfg.profile`` (on ``samples`` when given) and write the weights to ``out`` (atomic); return it."""
    pools = load_samples(Path(samples), PROFILES[cfg.profile]) if samples else None
    train(cfg, Path(out), device=device, log_every=print, samples=pools)
    return out


@flow(name="train_detector", log_prints=True)
def train_detector(
    profile: str,
    epochs: int = 16,
    steps_per_epoch: int = 50,
    batch_size: int = 10,
    seed: int = 0,
    scenario: str = "scenarios/train.yaml",
    device: str = "auto",
    out: str | None = None,
    lr: float = 3e-3,
    real_fraction: float = 0.5,
    init: str | None = None,
    samples: str | None = None,
) -> str:
    """Train the CNN of ``profile`` (``s2``, ``s1``, ``vhr``); return the weights path (default models/<profile>.pt).

    ``samples``: a file written by ``satwatch train --export-samples`` (for a GPU worker without GDAL or the
    data); ``init``: weights to continue from. Batches are made in the task's process: DataLoader worker
    processes die when forked inside a Prefect task run, so multi-process batches are the CLI's
    (``satwatch train --workers N``).
    """
    cfg = TrainConfig(profile=profile, epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=batch_size,
                      seed=seed, scenario=scenario, lr=lr, real_fraction=real_fraction, init=init)
    path = train_profile(cfg, out or str(MODELS_DIR / f"{profile}.pt"), device, samples)
    print(f"weights: {path}")
    return path
