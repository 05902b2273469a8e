"""Training of the CNN detector: ``train_one_epoch``, ``evaluate``, :func:`fit` and :func:`train`.

Data (per profile; :mod:`satwatch.detection.data.training_data` makes it, :mod:`satwatch.detection.data.samples`
crops it):

- **simulated scenes** rendered from ``scenarios/train.yaml`` (the simulator's truth is the label);
- **real Sentinel-2 ports** of sen2ships (``s2`` only): the ports in ``train_ports`` are trained on, the ones in
  :data:`~satwatch.detection.data.splits.HOLDOUT_PORTS` are never trained on and measure the model.

Loss: CenterNet's penalty-reduced focal loss on the heatmaps (Gaussian targets whose spread follows the object
size), L1 on centre offsets, log sizes and heading (sin 2t, cos 2t) at object centres, binary cross-entropy plus
soft Dice on masks (per class, where that class is labelled). AdamW with a short warm-up and a cosine learning
rate. Batches are made by ``workers`` processes (0: in the training process). Seeded: the same command gives the
same weights on the same machine, library versions and worker count (CPU; CUDA kernels may differ in the last
bits). On CUDA the forward pass runs in bfloat16 autocast.

Two ways in: :func:`train` renders and reads the data itself (needs GDAL and the data); :func:`fit` trains on
samples already made (e.g. read with :func:`~satwatch.detection.data.samples.load_samples` on a GPU machine that
has neither). This module imports only numpy and torch at import time.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.nn import functional

from satwatch.detection.data.samples import Sample, batch_targets, crop
from satwatch.detection.data.splits import HOLDOUT_PORTS
from satwatch.detection.models.network import (
    ARCH_V1,
    ARCH_V2,
    CenterNet,
    NetOutput,
    build_network,
    resolve_device,
    save_model,
)
from satwatch.detection.profiles import PROFILES, Profile
from satwatch.errors import UsageError

if TYPE_CHECKING:
    import geopandas as gpd

    from satwatch.detection.models.cnn import LoadedModel
    from satwatch.detection.training.evaluate import Evaluation
    from satwatch.imagery.scene import Scene

__all__ = [
    "PROFILE_ARCH",
    "TrainConfig",
    "evaluate",
    "fit",
    "refuse_holdout",
    "train",
    "train_one_epoch",
]

log = logging.getLogger(__name__)

PROFILE_ARCH: dict[str, dict[str, Any]] = {"s2": ARCH_V2, "s1": ARCH_V1, "vhr": ARCH_V1}
"""Architecture each profile is trained with by default (that of its shipped weights)."""


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (all recorded in the weights' metadata)."""

    profile: str
    """Profile name."""
    epochs: int = 16
    """Passes of ``steps_per_epoch`` batches."""
    steps_per_epoch: int = 50
    """Batches per epoch (crops are drawn at random, so an epoch is a number of steps)."""
    batch_size: int = 10
    """Crops per batch."""
    lr: float = 3e-3
    """Peak AdamW learning rate (linear warm-up over 2% of the steps, cosine decay to 5% of it)."""
    seed: int = 0
    """Seed of every random choice (torch, numpy, random)."""
    real_fraction: float = 0.5
    """Fraction of crops drawn from real labelled scenes (``s2``: the sen2ships training ports; ``vhr``: the
    aerial vehicle training sequences)."""
    train_ports: tuple[str, ...] = ()
    """sen2ships ports trained on (default: all but :data:`~satwatch.detection.data.splits.HOLDOUT_PORTS`)."""
    scenario: str = "scenarios/train.yaml"
    """Simulated training scenario."""
    init: str | None = None
    """Weights file to start from (fine-tuning), or None to start from scratch."""
    area_focus: float = 0.5
    """Share of a sample's object-centred crops drawn around its area objects (when it has any)."""
    max_scenes: int = 0
    """Simulated scenes to render, evenly spaced over the scenario's AOIs and dates (0: all)."""
    hard_negatives: bool = False
    """``s2``: mine the shipped detector's false alarms in the training ports as hard negatives (a share of
    crops centred on them) and make the other ships of EOTDL chips don't-care."""
    paste_hulls: int = 0
    """``s2``: also train on a copy of each training port with this many real hulls (cut out of the training
    ports by their masks) pasted berthed along its quays (:func:`~satwatch.detection.data.training_data.
    paste_real_hulls`); 0: none."""
    workers: int = 0
    """Processes making batches (0: the training process itself). Part of what makes a run reproducible."""
    arch: str = ""
    """Architecture: ``v1``, ``v2`` or empty for the profile's default (:data:`PROFILE_ARCH`)."""

    def architecture(self) -> dict[str, Any]:
        """Return the network architecture this configuration trains."""
        if self.arch == "":
            return dict(PROFILE_ARCH[self.profile])
        if self.arch not in ("v1", "v2"):
            raise UsageError(f"unknown architecture {self.arch!r}; use v1 or v2")
        return dict(ARCH_V1 if self.arch == "v1" else ARCH_V2)


# ----------------------------------------------------------------------------------------------------------------
# Loss
# ----------------------------------------------------------------------------------------------------------------


def _gather(t: torch.Tensor, ind: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` at flat indices ``(N, K)`` -> ``(N, K, C)``."""
    n, ch = t.shape[:2]
    flat = t.reshape(n, ch, -1)
    return flat.gather(2, ind[:, None, :].expand(n, ch, ind.shape[1])).permute(0, 2, 1)


def loss_fn(out: NetOutput, tg: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts (see the module docstring); ``tg`` is :func:`batch_targets`' output."""
    out = {k: v.float() for k, v in out.items()}
    pred = torch.sigmoid(out["heat"]).clamp(1e-4, 1 - 1e-4)
    gt, w = tg["heat"], tg["heat_w"]
    pos = gt.eq(1.0).float()
    neg = (1 - pos) * w
    pos_loss = -(torch.log(pred) * (1 - pred) ** 2 * pos).sum()
    neg_loss = -(torch.log(1 - pred) * pred**2 * (1 - gt) ** 4 * neg).sum()
    n_pos = pos.sum().clamp(min=1.0)
    focal = (pos_loss + neg_loss) / n_pos
    m = tg["reg_mask"][..., None]
    denom = tg["reg_mask"].sum().clamp(min=1.0)
    off = (functional.l1_loss(_gather(out["offset"], tg["ind"]), tg["offset"], reduction="none") * m).sum() / denom
    sm = tg["size_mask"][..., None]
    size = (functional.l1_loss(_gather(out["size"], tg["ind"]), tg["size"], reduction="none") * sm).sum() / (
        tg["size_mask"].sum().clamp(min=1.0))
    am = tg["angle_mask"][..., None]
    ang = (functional.l1_loss(_gather(out["angle"], tg["ind"]), tg["angle"], reduction="none") * am).sum() / (
        tg["angle_mask"].sum().clamp(min=1.0))
    total = focal + off + 0.5 * size + 0.5 * ang
    parts = {"focal": focal.item(), "offset": off.item(), "size": size.item(), "angle": ang.item()}
    if out["mask"].shape[1]:
        mw = tg["mask_w"]
        # area objects cover ~0.1% of the cells: weight positives 10x so the head does not settle on "nothing"
        pos_weight = torch.full((out["mask"].shape[1], 1, 1), 10.0, device=out["mask"].device)
        bce = (functional.binary_cross_entropy_with_logits(out["mask"], tg["masks"], reduction="none",
                                                           pos_weight=pos_weight) * mw).sum() / mw.sum().clamp(min=1.0)
        prob = torch.sigmoid(out["mask"]) * mw
        inter = (prob * tg["masks"]).sum()
        dice = 1 - (2 * inter + 1) / (prob.sum() + (tg["masks"] * mw).sum() + 1)
        total = total + 2.0 * bce + dice
        parts.update(mask_bce=bce.item(), dice=dice.item())
    parts["total"] = total.item()
    return total, parts


# ----------------------------------------------------------------------------------------------------------------
# Batches
# ----------------------------------------------------------------------------------------------------------------


class _Batches(torch.utils.data.IterableDataset[dict[str, torch.Tensor]]):
    """``steps`` batches of random crops; worker ``k`` of ``n`` makes batches ``k, k + n, ...`` (:func:`batches`)."""

    def __init__(self, pools: Sequence[tuple[Sequence[Sample], float]], profile: Profile, cfg: TrainConfig,
                 steps: int, epoch: int) -> None:
        self.pools = [(s, w) for s, w in pools if len(s)]
        self.profile, self.cfg, self.steps, self.epoch = profile, cfg, steps, epoch

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = torch.utils.data.get_worker_info()
        worker, n_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        weights = np.array([w for _, w in self.pools], dtype=np.float64)
        weights /= weights.sum()
        for step in range(worker, self.steps, n_workers):
            rng = np.random.default_rng([self.cfg.seed, self.epoch, step])
            crops = []
            for _ in range(self.cfg.batch_size):
                pool = self.pools[int(rng.choice(len(self.pools), p=weights))][0]
                crops.append(crop(pool[int(rng.integers(len(pool)))], self.profile, rng, self.cfg.area_focus))
            yield batch_targets(crops, self.profile)


def batches(pools: Sequence[tuple[Sequence[Sample], float]], profile: Profile, cfg: TrainConfig, epoch: int,
            device: torch.device) -> Iterator[dict[str, torch.Tensor]]:
    """One epoch's batches (``cfg.steps_per_epoch``): each crop from a pool chosen with its weight.

    Every batch's crops are drawn with a generator seeded by ``(cfg.seed, epoch, step)``: the stream is the same
    whatever the number of workers.
    """
    data = _Batches(pools, profile, cfg, cfg.steps_per_epoch, epoch)
    loader = torch.utils.data.DataLoader(data, batch_size=None, num_workers=cfg.workers,
                                         pin_memory=device.type == "cuda",
                                         persistent_workers=False, prefetch_factor=4 if cfg.workers else None)
    for batch in loader:
        yield {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def train_one_epoch(net: CenterNet, optimizer: torch.optim.Optimizer, scheduler: Any,
                    data: Iterator[dict[str, torch.Tensor]], device: torch.device) -> dict[str, float]:
    """Run one optimisation step per batch of ``data``; return the mean loss parts.

    Args:
        net: the network (put in training mode).
        optimizer: its optimizer.
        scheduler: learning-rate scheduler stepped once per batch.
        data: batches of :func:`batch_targets` tensors, already on ``device`` (see :func:`batches`).
        device: where the network is (CUDA: bfloat16 autocast).
    """
    net.train()
    sums: dict[str, float] = {}
    steps = 0
    for tg in data:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = net(tg["x"])
        loss, parts = loss_fn(out, tg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimizer.step()
        scheduler.step()
        steps += 1
        for key, value in parts.items():
            sums[key] = sums.get(key, 0.0) + value
    return {k: v / max(steps, 1) for k, v in sums.items()}


# ----------------------------------------------------------------------------------------------------------------
# Runs
# ----------------------------------------------------------------------------------------------------------------


def fit(cfg: TrainConfig, pools: Sequence[tuple[Sequence[Sample], float]], device: torch.device,
        say: Callable[[str], None],
        after_epoch: Callable[[CenterNet, list[dict[str, Any]]], None] | None = None,
        ) -> tuple[CenterNet, list[dict[str, Any]]]:
    """Train a network on sample pools (``(samples, weight)`` pairs); return it (eval mode) and its history.

    ``after_epoch(net, history)`` is called after every epoch (e.g. to write a checkpoint).

    Raises:
        UsageError: bad hyper-parameters, or ``cfg.init`` holds weights of another profile.
    """
    if cfg.epochs < 1 or cfg.steps_per_epoch < 1 or cfg.batch_size < 1 or cfg.workers < 0:
        raise UsageError("epochs, steps per epoch and batch size must be at least 1, workers at least 0")
    if not any(len(s) for s, _ in pools):
        raise UsageError("no training samples")
    profile = PROFILES[cfg.profile]
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    if cfg.init is not None:
        payload = torch.load(cfg.init, map_location="cpu", weights_only=True)
        meta = payload.get("meta", {})
        if meta.get("profile") != profile.name:
            raise UsageError(f"--init {cfg.init} holds no {profile.name} weights")
        net = build_network(profile, {k: meta[k] for k in ("widths", "head", "stem") if k in meta})
        net.load_state_dict(payload["state_dict"])
        say(f"starting from {cfg.init}")
    else:
        net = build_network(profile, cfg.architecture())
    net = net.to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    total = cfg.epochs * cfg.steps_per_epoch
    warm = max(1, total // 50)

    def schedule(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(step - warm, total - warm) / max(total - warm, 1)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    started = time.perf_counter()
    history = []
    for epoch in range(1, cfg.epochs + 1):
        parts = train_one_epoch(net, optimizer, scheduler, batches(pools, profile, cfg, epoch, device), device)
        history.append({"epoch": epoch, **{k: round(v, 4) for k, v in parts.items()}})
        say(f"epoch {epoch}/{cfg.epochs}: " + " ".join(f"{k} {v:.3f}" for k, v in parts.items())
            + f" ({time.perf_counter() - started:.0f} s)")
        if after_epoch is not None and epoch < cfg.epochs:
            after_epoch(net, history)
    return net.eval(), history


def train(cfg: TrainConfig, out_path: Path, device: str = "auto",
          log_every: Callable[[str], None] | None = None,
          samples: Mapping[str, Sequence[Sample]] | None = None) -> dict[str, Any]:
    """Train a profile and write its weights to ``out_path`` (atomic). Returns the metadata.

    Args:
        cfg: the run's configuration.
        out_path: weights file to write.
        device: ``auto``, ``cpu`` or ``cuda``.
        log_every: where progress lines go (default: the module logger).
        samples: pools ``simulated`` and (``s2``) ``real`` made beforehand (:func:`load_samples`); None renders
            ``cfg.scenario`` and reads the sen2ships training ports here.

    Raises:
        UsageError: unknown profile, bad hyper-parameters, or held-out ports among the training ports.
    """
    if cfg.profile not in PROFILES:
        raise UsageError(f"unknown profile {cfg.profile!r}; choose one of: {', '.join(PROFILES)}")
    say = log_every or log.info
    profile = PROFILES[cfg.profile]
    cfg.architecture()  # refuse an unknown architecture before any work
    dev = resolve_device(device)
    started = time.perf_counter()
    pools = make_samples(cfg, say) if samples is None else samples
    sim = list(pools.get("simulated", []))
    real = list(pools.get("real", []))
    if cfg.train_ports:
        real = [s for s in real if s.name in cfg.train_ports]
    refuse_holdout([s.name for s in real])
    real_fraction = cfg.real_fraction if real else 0.0
    say(f"{len(sim)} simulated scenes, {len(real)} real scenes; {time.perf_counter() - started:.0f} s")
    thresholds = {c: 0.35 for c in profile.point_classes} | {c: 0.5 for c in profile.mask_classes}

    def metadata(history: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "trained": datetime.now(UTC).isoformat(timespec="seconds"),
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()},
            "train_ports": [s.name for s in real],
            "holdout_ports": list(HOLDOUT_PORTS) if profile.name == "s2" else [],
            "simulated_scenes": len(sim),
            "simulated_scene_ids": [s.name for s in sim],
            "seconds": round(time.perf_counter() - started, 1),
            "device": str(dev),
            "history": history,
            "completed_epochs": len(history),
            "torch": str(torch.__version__),
        }

    def checkpoint(net: CenterNet, history: list[dict[str, Any]]) -> None:
        save_model(net, profile, thresholds, metadata(history), out_path)

    net, history = fit(cfg, [(sim, 1.0 - real_fraction), (real, real_fraction)], dev, say, after_epoch=checkpoint)
    meta = metadata(history)
    save_model(net, profile, thresholds, meta, out_path)
    say(f"weights written to {out_path} ({time.perf_counter() - started:.0f} s)")
    return meta


def refuse_holdout(ports: Sequence[str]) -> None:
    """Raise :class:`UsageError` when any of ``ports`` is held out (``data.splits.HOLDOUT_PORTS``)."""
    leaked = sorted(set(ports) & set(HOLDOUT_PORTS))
    if leaked:
        raise UsageError(f"held-out ports {', '.join(leaked)} must not be trained on")


def make_samples(cfg: TrainConfig, say: Callable[[str], None]) -> dict[str, list[Sample]]:
    """Render ``cfg.scenario`` and (``s2``) read the sen2ships training ports: pools ``simulated`` and ``real``.

    Raises:
        UsageError: held-out ports among ``cfg.train_ports``.
    """
    from satwatch.detection.data.training_data import port_sample, simulated_samples

    profile = PROFILES[cfg.profile]
    real_ports: list[str] = []
    if profile.name == "s2" and cfg.real_fraction > 0:
        from satwatch.detection.data.sen2ships import port_names

        real_ports = list(cfg.train_ports) or [p for p in port_names() if p not in HOLDOUT_PORTS]
        refuse_holdout(real_ports)
    say(f"rendering simulated training scenes ({cfg.scenario}, sensor {profile.sensor})")
    miner = None
    if cfg.hard_negatives and profile.name == "s2":
        from satwatch.detection.models.cnn import CnnDetector

        say("mining the shipped detector's false alarms in the training ports")
        miner = CnnDetector(device="cpu")
    real = [port_sample(p, profile, miner=miner) for p in real_ports]
    if cfg.paste_hulls > 0 and real:
        from satwatch.detection.data.training_data import hull_cutouts, paste_real_hulls

        cutouts = hull_cutouts(real_ports, profile)
        pasted = paste_real_hulls(real, cutouts, cfg.paste_hulls, seed=cfg.seed)
        before = {s.name: len(s.points) for s in real}
        added = sum(len(s.points) - before[s.name.removesuffix("+hulls")] for s in pasted)
        say(f"{len(cutouts)} real hulls cut out; {added} pasted berthed into {len(pasted)} port copies")
        real += pasted
    simulated = simulated_samples(profile, cfg.scenario, limit=cfg.max_scenes or None)
    if cfg.real_fraction > 0:
        from satwatch.detection.data.training_data import real_training_samples

        real += real_training_samples(profile, simulated, miner=miner)
    return {"simulated": simulated, "real": real}


def evaluate(loaded: LoadedModel, scenes: Sequence[tuple[Scene, gpd.GeoDataFrame]],
             match_distance_m: float | None = None, iou_threshold: float | None = 0.3) -> Evaluation:
    """Detect on whole validation scenes and score the detections against their labels.

    Args:
        loaded: the model (its thresholds are used).
        scenes: ``(scene, labels)`` pairs; labels in EPSG:4326 with ``class`` (optionally ``visible``) columns
            and ``scene_id`` equal to the scene's.
        match_distance_m: a detection within this distance of a label (or inside it) matches it (default: each
            class's own, ``MATCH_DISTANCE_M``).
        iou_threshold: polygon detections match polygon labels at this IoU (area classes).

    Returns:
        The :class:`~satwatch.detection.training.evaluate.Evaluation` (per class and per scene precision, recall, F1,
        count error).
    """
    import geopandas as gpd
    import pandas as pd

    from satwatch.detection.detections import concat_detections
    from satwatch.detection.models.cnn import CnnDetector
    from satwatch.detection.training.evaluate import evaluate_detections

    det = CnnDetector.from_models({loaded.profile.name: loaded})
    frames = [det.detect(scene) for scene, _ in scenes]
    labels = gpd.GeoDataFrame(pd.concat([lab for _, lab in scenes], ignore_index=True), crs=4326)
    return evaluate_detections(concat_detections(frames), labels, match_distance_m=match_distance_m,
                               iou_threshold=iou_threshold, all_scenes=True)
