"""The ``train_detector`` flow: train one CNN profile and write its weights (thin wrapper of ``train``).

One task, no retries (a failed training run is looked at, not repeated blindly). Importable as
``satwatch.flows.train_detector``; entrypoint ``flows/train_detector.py:train_detector``.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, task

from satwatch.detection.cnn import MODELS_DIR
from satwatch.detection.training import TrainConfig, train


@task(name="train")
def train_profile(cfg: TrainConfig, out: str, device: str) -> str:
    """Train ``cfg.profile`` and write the weights to ``out`` (atomic); return the path."""
    train(cfg, Path(out), device=device, log_every=print)
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
) -> str:
    """Train the CNN of ``profile`` (``s2``, ``s1``, ``vhr``); return the weights path (default models/<profile>.pt)."""
    cfg = TrainConfig(profile=profile, epochs=epochs, steps_per_epoch=steps_per_epoch, batch_size=batch_size,
                      seed=seed, scenario=scenario)
    path = train_profile(cfg, out or str(MODELS_DIR / f"{profile}.pt"), device)
    print(f"weights: {path}")
    return path
