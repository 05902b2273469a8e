"""Training of the CNN detector: samples, targets, ``train_one_epoch``, ``evaluate`` and :func:`train`.

Data (per profile):

- **simulated scenes** rendered from ``scenarios/train.yaml`` (planted vessels at berth, at anchor and under way,
  vehicle parks and encampments; the simulator's truth is the label). Truth objects hidden by cloud
  (``visible = False``) are *don't care*: no loss is taken around them;
- **real Sentinel-2 ports** of sen2ships (``s2`` only): the ports in ``train_ports`` are trained on, the ones in
  :data:`HOLDOUT_PORTS` are never trained on and measure the model. Their boxes give centres only (boxes are
  axis-aligned, so no length, width or heading is learnt from them) and they have no mask labels.

Every sample is resampled to the profile grid by the same GDAL bilinear read the detector uses
(:func:`satwatch.detection.cnn.profile_raster`), so training sees what inference sees. Crops of
:data:`CROP_PX` are drawn around objects (70%) or anywhere (30%), flipped and rotated (headings follow), and
for ``s2`` up to three bands are dropped at random (then imputed as at inference) so that real exports with
missing bands work; reflectance gains of 0.85-1.2 (dB offsets of +-1.5 for radar) cover calibration
differences.

Loss: CenterNet's penalty-reduced focal loss on the heatmaps (Gaussian targets whose spread follows the object
size), L1 on centre offsets, log sizes and heading (sin 2t, cos 2t) at object centres, binary cross-entropy plus
soft Dice on masks. AdamW with a cosine learning rate. Seeded: the same command gives the same weights on the
same machine and library versions (CPU; CUDA kernels may differ in the last bits).
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import torch
from affine import Affine
from pyproj import Transformer
from rasterio.features import rasterize
from torch.nn import functional

from satwatch.aoi import load_catalog, project_geometry
from satwatch.detection.cnn import CnnDetector, LoadedModel, profile_raster, resolve_device, save_model
from satwatch.detection.detections import concat_detections
from satwatch.detection.evaluate import Evaluation
from satwatch.detection.evaluate import evaluate_detections as score_detections
from satwatch.detection.network import CenterNet, NetOutput
from satwatch.detection.profiles import PROFILES, Profile, model_input
from satwatch.detection.sen2ships import load_port
from satwatch.errors import DetectionError, UsageError
from satwatch.imagery.scene import Scene

__all__ = [
    "CROP_PX",
    "HOLDOUT_PORTS",
    "Sample",
    "TrainConfig",
    "evaluate",
    "port_sample",
    "simulated_samples",
    "train",
    "train_one_epoch",
]

log = logging.getLogger(__name__)

CROP_PX = 256
"""Training crop edge at profile resolution (targets are at stride 2: 128 x 128)."""
HOLDOUT_PORTS = ("athens", "hedland", "valencia", "casablanca")
"""sen2ships ports never trained on: the real-imagery validation set (78 ships)."""
MAX_OBJECTS = 256
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Sample:
    """One training scene on the profile grid."""

    name: str
    """Scene id (simulated scene id, or the sen2ships port name)."""
    raw: F32 = field(repr=False)
    """``(bands, H, W)`` values in scene units on the profile grid (bands :attr:`names`), NaN = no data."""
    names: tuple[str, ...]
    """Band names of :attr:`raw` (may include ``SCL``)."""
    points: npt.NDArray[np.float64] = field(repr=False)
    """``(N, 6)``: x, y (profile px, corner-based), length_m, width_m, heading_deg (NaN unknown), class index."""
    ignore: npt.NDArray[np.float64] = field(repr=False)
    """``(K, 3)``: x, y, radius (profile px) of don't-care discs (objects hidden by cloud)."""
    masks: npt.NDArray[np.uint8] | None = field(repr=False)
    """``(M, H, W)`` 0/1 area-class masks, or None when the sample has no mask labels (no mask loss)."""
    mask_ignore: npt.NDArray[np.uint8] | None = field(default=None, repr=False)
    """``(H, W)`` 1 where mask loss is not taken (e.g. convoys at 10 m), or None."""
    has_size: bool = True
    """Whether length, width and heading labels are real (False for box-only labels)."""
    area_anchors: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    """``(A, 2)`` x, y (profile px) of the area objects' centroids: half the object-centred crops of a sample
    that has area objects are drawn around them (area objects are few beside the vessels)."""


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
    """Peak AdamW learning rate (cosine decay to 5% of it)."""
    seed: int = 0
    """Seed of every random choice (torch, numpy, random)."""
    real_fraction: float = 0.5
    """``s2``: fraction of crops drawn from the real sen2ships training ports."""
    train_ports: tuple[str, ...] = ()
    """sen2ships ports trained on (default: all but :data:`HOLDOUT_PORTS`)."""
    scenario: str = "scenarios/train.yaml"
    """Simulated training scenario."""
    init: str | None = None
    """Weights file to start from (fine-tuning), or None to start from scratch."""
    area_focus: float = 0.5
    """Share of a sample's object-centred crops drawn around its area objects (when it has any)."""


# ----------------------------------------------------------------------------------------------------------------
# Samples
# ----------------------------------------------------------------------------------------------------------------


def _to_profile_px(scene: Scene, scale: float) -> Affine:
    """Affine from scene CRS coordinates to profile-grid pixels."""
    inverse: Affine = ~(scene.transform @ Affine.scale(scale))
    return inverse


def simulated_samples(profile: Profile, scenario_path: str | Path, limit: int | None = None,
                      progress: Callable[[int, int], None] | None = None) -> list[Sample]:
    """Render every acquisition of ``profile.sensor`` in a scenario and turn its truth into labels."""
    from satwatch.imagery.scenario import load_scenario
    from satwatch.imagery.simulated import render

    scenario = load_scenario(scenario_path)
    catalog = load_catalog()
    jobs = [(catalog[a], t) for a in scenario.aois for t in scenario.acquisitions(catalog[a], profile.sensor)]
    if limit is not None:
        jobs = jobs[:limit]
    samples = []
    for i, (aoi, when) in enumerate(jobs, start=1):
        rendered = render(aoi, when, profile.sensor, scenario)
        samples.append(_sample_from_truth(rendered.scene, rendered.truth, profile))
        if progress is not None:
            progress(i, len(jobs))
    return samples


def _sample_from_truth(scene: Scene, truth: Any, profile: Profile) -> Sample:
    raw, names, scale = profile_raster(scene, profile)
    to_px = _to_profile_px(scene, scale)
    crs_tr = Transformer.from_crs(4326, scene.crs, always_xy=True)
    points: list[list[float]] = []
    ignore: list[list[float]] = []
    h, w = raw.shape[1:]
    masks = np.zeros((len(profile.mask_classes), h, w), dtype=np.uint8)
    mask_ignore = np.zeros((h, w), dtype=np.uint8)
    anchors: list[list[float]] = []
    records = truth.drop(columns="geometry").to_dict("records")
    for row, geom in zip(records, truth.geometry, strict=True):
        cls = str(row["class"])
        visible = bool(row["visible"])
        if geom.geom_type == "Point":
            x, y = crs_tr.transform(geom.x, geom.y)
            px, py = to_px @ (x, y)
            if cls in profile.point_classes and visible:
                heading = float(row["heading_deg"]) % 180.0 if math.isfinite(row["heading_deg"]) else math.nan
                points.append([px, py, float(row["length_m"]), float(row["width_m"]), heading,
                               profile.point_classes.index(cls)])
            elif cls in profile.point_classes:
                radius = max(2.0, float(row["length_m"]) / profile.res_m)
                ignore.append([px, py, radius])
        else:
            poly = project_geometry(geom, 4326, scene.crs)
            if cls in profile.mask_classes:
                burn = rasterize([(poly, 1)], out_shape=(h, w), transform=~to_px, dtype="uint8")
                if row["where"] == "road" or not visible:
                    mask_ignore |= burn
                else:
                    masks[profile.mask_classes.index(cls)] |= burn
                    anchors.append(list(to_px @ (poly.centroid.x, poly.centroid.y)))
    return Sample(
        name=scene.meta.scene_id or scene.meta.aoi, raw=raw, names=names,
        points=np.array(points, dtype=np.float64).reshape(-1, 6),
        ignore=np.array(ignore, dtype=np.float64).reshape(-1, 3),
        masks=masks if profile.mask_classes else None, mask_ignore=mask_ignore, has_size=True,
        area_anchors=np.array(anchors, dtype=np.float64).reshape(-1, 2),
    )


def port_sample(name: str, profile: Profile, root: Path | None = None) -> Sample:
    """Return a sen2ships port on the ``s2`` profile grid; ship box centres are the vessel labels."""
    port = load_port(name, root)
    raw, names, scale = profile_raster(port.scene, profile)
    b = port.boxes
    cx = (b[:, 0] + b[:, 2] / 2.0) / scale
    cy = (b[:, 1] + b[:, 3] / 2.0) / scale
    gsd = port.scene.gsd_m
    length = np.maximum(b[:, 2], b[:, 3]) * gsd
    width = np.minimum(b[:, 2], b[:, 3]) * gsd
    points = np.column_stack([cx, cy, length, width, np.full(len(b), np.nan), np.zeros(len(b))])
    return Sample(name=name, raw=raw, names=names, points=points, ignore=np.zeros((0, 3)), masks=None,
                  has_size=False)


# ----------------------------------------------------------------------------------------------------------------
# Crops and targets
# ----------------------------------------------------------------------------------------------------------------


def _crop(sample: Sample, profile: Profile, rng: np.random.Generator, area_focus: float = 0.5) -> dict[str, Any]:
    """One augmented crop with its targets (numpy), CROP_PX square."""
    c = CROP_PX
    _, h, w = sample.raw.shape
    areas = sample.area_anchors if sample.area_anchors is not None else np.zeros((0, 2))
    anchors = areas if len(areas) and (not len(sample.points) or rng.random() < area_focus) else sample.points[:, :2]
    if len(anchors) and rng.random() < 0.7:
        px, py = anchors[rng.integers(len(anchors))]
        x0 = int(px - rng.integers(16, c - 16))
        y0 = int(py - rng.integers(16, c - 16))
    else:
        x0 = int(rng.integers(-16, max(w - c + 16, -15)))
        y0 = int(rng.integers(-16, max(h - c + 16, -15)))
    raw = np.full((sample.raw.shape[0], c, c), np.nan, dtype=np.float32)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + c, w), min(y0 + c, h)
    if sx1 > sx0 and sy1 > sy0:
        raw[:, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = sample.raw[:, sy0:sy1, sx0:sx1]
    pts = sample.points.copy()
    pts[:, 0] -= x0
    pts[:, 1] -= y0
    ign = sample.ignore.copy()
    ign[:, 0] -= x0
    ign[:, 1] -= y0
    masks = np.zeros((len(profile.mask_classes), c, c), dtype=np.float32)
    mask_w = np.zeros((c, c), dtype=np.float32)
    if sample.masks is not None and sx1 > sx0 and sy1 > sy0:
        masks[:, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = sample.masks[:, sy0:sy1, sx0:sx1]
        mask_w[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = 1.0
        if sample.mask_ignore is not None:
            mask_w[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] -= sample.mask_ignore[sy0:sy1, sx0:sx1]
    # geometric augmentation: k quarter turns clockwise, then an optional left-right flip
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))
    raw, masks = np.rot90(raw, -k, axes=(-2, -1)), np.rot90(masks, -k, axes=(-2, -1))
    mask_w = np.rot90(mask_w, -k)
    for _ in range(k):  # (x, y) -> (c - y, x): a clockwise quarter turn; headings + 90
        pts[:, 0], pts[:, 1] = c - pts[:, 1], pts[:, 0].copy()
        pts[:, 4] = (pts[:, 4] + 90.0) % 180.0
        ign[:, 0], ign[:, 1] = c - ign[:, 1], ign[:, 0].copy()
    if flip:
        raw, masks, mask_w = raw[..., ::-1], masks[..., ::-1], mask_w[..., ::-1]
        pts[:, 0] = c - pts[:, 0]
        pts[:, 4] = (180.0 - pts[:, 4]) % 180.0
        ign[:, 0] = c - ign[:, 0]
    raw = np.ascontiguousarray(raw)
    # radiometric augmentation and band drop-out
    names = sample.names
    n_bands = [i for i, b in enumerate(names) if b in profile.bands]
    if profile.kind == "reflectance":
        raw[n_bands] *= np.float32(rng.uniform(0.85, 1.2))
    else:
        raw[n_bands] += np.float32(rng.uniform(-1.5, 1.5))
    keep = list(names)
    if profile.name == "s2" and rng.random() < 0.5:
        for band in rng.permutation([b for b in names if b in profile.bands]):
            trial = [b for b in keep if b != band]
            try:
                profile.check_bands(tuple(trial))
            except DetectionError:  # the drop would leave too few bands: keep this one
                continue
            if rng.random() < 0.3:
                keep = trial
    idx = [names.index(b) for b in keep]
    x = model_input(raw[idx], tuple(keep), profile)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < c) & (pts[:, 1] >= 0) & (pts[:, 1] < c)
    return {"x": x, "points": pts[inside], "ignore": ign, "masks": np.ascontiguousarray(masks),
            "mask_w": np.clip(np.ascontiguousarray(mask_w), 0, 1), "has_size": sample.has_size}


def _targets(crops: Sequence[dict[str, Any]], profile: Profile, res_m: float) -> dict[str, torch.Tensor]:
    """Stack crops into a batch with CenterNet targets at stride 2."""
    n, c = len(crops), CROP_PX // 2
    p = len(profile.point_classes)
    heat = np.zeros((n, p, c, c), dtype=np.float32)
    heat_w = np.ones((n, p, c, c), dtype=np.float32)
    ind = np.zeros((n, MAX_OBJECTS), dtype=np.int64)
    reg_mask = np.zeros((n, MAX_OBJECTS), dtype=np.float32)
    size_mask = np.zeros((n, MAX_OBJECTS), dtype=np.float32)
    angle_mask = np.zeros((n, MAX_OBJECTS), dtype=np.float32)
    offset = np.zeros((n, MAX_OBJECTS, 2), dtype=np.float32)
    size = np.zeros((n, MAX_OBJECTS, 2), dtype=np.float32)
    angle = np.zeros((n, MAX_OBJECTS, 2), dtype=np.float32)
    yy, xx = np.mgrid[0:c, 0:c].astype(np.float32)
    for i, crop in enumerate(crops):
        for j, (x, y, length, width, heading, cls) in enumerate(crop["points"][:MAX_OBJECTS]):
            cx, cy = int(x // 2), int(y // 2)
            cx, cy = min(max(cx, 0), c - 1), min(max(cy, 0), c - 1)
            length_px = length / res_m if math.isfinite(length) else 6.0
            sigma = min(max(length_px / 10.0, 0.7), 3.0)
            g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
            heat[i, int(cls)] = np.maximum(heat[i, int(cls)], g)
            heat[i, int(cls), cy, cx] = 1.0
            ind[i, j] = cy * c + cx
            reg_mask[i, j] = 1.0
            offset[i, j] = (x - 2 * cx, y - 2 * cy)
            if crop["has_size"] and math.isfinite(length):
                size[i, j] = (math.log1p(length), math.log1p(width))
                size_mask[i, j] = 1.0
            if crop["has_size"] and math.isfinite(heading):
                t = math.radians(2 * heading)
                angle[i, j] = (math.sin(t), math.cos(t))
                angle_mask[i, j] = 1.0
        for x, y, radius in crop["ignore"]:
            r = radius / 2 + 1
            heat_w[i, :, ((xx - x / 2) ** 2 + (yy - y / 2) ** 2) <= r * r] = 0.0
    masks = np.stack([c_["masks"] for c_ in crops])
    mask_w = np.stack([c_["mask_w"] for c_ in crops])
    # masks at stride 2: fraction of each 2 x 2 cell covered (soft targets)
    masks_t = functional.avg_pool2d(torch.from_numpy(masks), 2) if masks.shape[1] else torch.zeros((n, 0, c, c))
    return {
        "x": torch.from_numpy(np.stack([c_["x"] for c_ in crops])),
        "heat": torch.from_numpy(heat), "heat_w": torch.from_numpy(heat_w),
        "ind": torch.from_numpy(ind), "reg_mask": torch.from_numpy(reg_mask),
        "size_mask": torch.from_numpy(size_mask), "angle_mask": torch.from_numpy(angle_mask),
        "offset": torch.from_numpy(offset), "size": torch.from_numpy(size), "angle": torch.from_numpy(angle),
        "masks": masks_t, "mask_w": functional.avg_pool2d(torch.from_numpy(mask_w)[:, None], 2).eq(1.0).float(),
    }


def _gather(t: torch.Tensor, ind: torch.Tensor) -> torch.Tensor:
    """``(N, C, H, W)`` at flat indices ``(N, K)`` -> ``(N, K, C)``."""
    n, ch = t.shape[:2]
    flat = t.reshape(n, ch, -1)
    return flat.gather(2, ind[:, None, :].expand(n, ch, ind.shape[1])).permute(0, 2, 1)


def loss_fn(out: NetOutput, tg: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss and its parts (see the module docstring)."""
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
                                                           pos_weight=pos_weight) * mw).sum() / (
            mw.sum().clamp(min=1.0) * out["mask"].shape[1])
        prob = torch.sigmoid(out["mask"]) * mw
        inter = (prob * tg["masks"]).sum()
        dice = 1 - (2 * inter + 1) / (prob.sum() + (tg["masks"] * mw).sum() + 1)
        total = total + 2.0 * bce + dice
        parts.update(mask_bce=bce.item(), dice=dice.item())
    parts["total"] = total.item()
    return total, parts


# ----------------------------------------------------------------------------------------------------------------
# Loops
# ----------------------------------------------------------------------------------------------------------------


def train_one_epoch(net: CenterNet, optimizer: torch.optim.Optimizer, scheduler: Any, pools: Sequence[
        tuple[Sequence[Sample], float]], profile: Profile, cfg: TrainConfig, rng: np.random.Generator,
        device: torch.device) -> dict[str, float]:
    """Run ``cfg.steps_per_epoch`` optimisation steps on random crops; return the mean loss parts.

    Args:
        net: the network (put in training mode).
        optimizer: its optimizer.
        scheduler: learning-rate scheduler stepped once per batch.
        pools: ``(samples, weight)`` pairs: each crop comes from a pool chosen with probability ``weight``.
        profile: the profile being trained.
        cfg: batch size and steps per epoch.
        rng: generator of crop positions and augmentations.
        device: where the batch goes.
    """
    net.train()
    weights = np.array([w for _, w in pools if len(_)], dtype=np.float64)
    active = [s for s, _ in pools if len(s)]
    weights /= weights.sum()
    sums: dict[str, float] = {}
    for _ in range(cfg.steps_per_epoch):
        crops = []
        for _b in range(cfg.batch_size):
            pool = active[int(rng.choice(len(active), p=weights))]
            crops.append(_crop(pool[int(rng.integers(len(pool)))], profile, rng, cfg.area_focus))
        tg = {k: v.to(device) for k, v in _targets(crops, profile, profile.res_m).items()}
        out = net(tg["x"])
        loss, parts = loss_fn(out, tg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimizer.step()
        scheduler.step()
        for key, value in parts.items():
            sums[key] = sums.get(key, 0.0) + value / cfg.steps_per_epoch
    return sums


def evaluate(loaded: LoadedModel, scenes: Sequence[tuple[Scene, gpd.GeoDataFrame]], match_distance_m: float = 20.0,
             iou_threshold: float | None = 0.3) -> Evaluation:
    """Detect on whole validation scenes and score the detections against their labels.

    Args:
        loaded: the model (its thresholds are used).
        scenes: ``(scene, labels)`` pairs; labels in EPSG:4326 with ``class`` (optionally ``visible``) columns
            and ``scene_id`` equal to the scene's.
        match_distance_m: a detection within this distance of a label (or inside it) matches it.
        iou_threshold: polygon detections match polygon labels at this IoU (area classes).

    Returns:
        The :class:`~satwatch.detection.evaluate.Evaluation` (per class and per scene precision, recall, F1,
        count error).
    """
    det = CnnDetector.from_models({loaded.profile.name: loaded})
    frames = [det.detect(scene) for scene, _ in scenes]
    labels = gpd.GeoDataFrame(pd.concat([lab for _, lab in scenes], ignore_index=True), crs=4326)
    return score_detections(concat_detections(frames), labels, match_distance_m=match_distance_m,
                            iou_threshold=iou_threshold, all_scenes=True)


def train(cfg: TrainConfig, out_path: Path, device: str = "auto", validation: bool = True,
          log_every: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train a profile from scratch and write its weights to ``out_path`` (atomic). Returns the metadata.

    Raises:
        UsageError: unknown profile or bad hyper-parameters.
    """
    if cfg.profile not in PROFILES:
        raise UsageError(f"unknown profile {cfg.profile!r}; choose one of: {', '.join(PROFILES)}")
    if cfg.epochs < 1 or cfg.steps_per_epoch < 1 or cfg.batch_size < 1:
        raise UsageError("epochs, steps per epoch and batch size must be at least 1")
    say = log_every or log.info
    profile = PROFILES[cfg.profile]
    dev = resolve_device(device)
    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    started = time.perf_counter()
    say(f"rendering simulated training scenes ({cfg.scenario}, sensor {profile.sensor})")
    sim = simulated_samples(profile, cfg.scenario)
    pools: list[tuple[Sequence[Sample], float]] = [(sim, 1.0 - cfg.real_fraction if profile.name == "s2" else 1.0)]
    real_ports: list[str] = []
    if profile.name == "s2" and cfg.real_fraction > 0:
        from satwatch.detection.sen2ships import port_names

        real_ports = list(cfg.train_ports) or [p for p in port_names() if p not in HOLDOUT_PORTS]
        leaked = sorted(set(real_ports) & set(HOLDOUT_PORTS))
        if leaked:
            raise UsageError(f"held-out ports {', '.join(leaked)} must not be trained on")
        pools.append(([port_sample(p, profile) for p in real_ports], cfg.real_fraction))
    say(f"{len(sim)} simulated scenes, {len(real_ports)} real ports; {time.perf_counter() - started:.0f} s")
    net = CenterNet(profile.in_channels, len(profile.point_classes), len(profile.mask_classes))
    if cfg.init is not None:
        payload = torch.load(cfg.init, map_location="cpu", weights_only=True)
        if payload.get("meta", {}).get("profile") != profile.name:
            raise UsageError(f"--init {cfg.init} holds no {profile.name} weights")
        net.load_state_dict(payload["state_dict"])
        say(f"starting from {cfg.init}")
    net = net.to(dev)
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    total_steps = cfg.epochs * cfg.steps_per_epoch
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps)))
    history = []
    for epoch in range(1, cfg.epochs + 1):
        parts = train_one_epoch(net, optimizer, scheduler, pools, profile, cfg, rng, dev)
        history.append({"epoch": epoch, **{k: round(v, 4) for k, v in parts.items()}})
        say(f"epoch {epoch}/{cfg.epochs}: " + " ".join(f"{k} {v:.3f}" for k, v in parts.items())
            + f" ({time.perf_counter() - started:.0f} s)")
    meta: dict[str, Any] = {
        "trained": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.__dict__.items()},
        "train_ports": real_ports,
        "holdout_ports": list(HOLDOUT_PORTS) if profile.name == "s2" else [],
        "simulated_scenes": len(sim),
        "seconds": round(time.perf_counter() - started, 1),
        "device": str(dev),
        "history": history,
        "torch": str(torch.__version__),
    }
    thresholds = {c: 0.35 for c in profile.point_classes} | {c: 0.5 for c in profile.mask_classes}
    save_model(net.eval(), profile, thresholds, meta, out_path)
    say(f"weights written to {out_path} ({time.perf_counter() - started:.0f} s)")
    return meta


def validation_scenes(profile: Profile, scenario: str | Path = "scenarios/validate.yaml",
                      real: bool = True, simulated: bool = True) -> dict[str, list[tuple[Scene, gpd.GeoDataFrame]]]:
    """Return held-out scenes with their labels, by kind (``real``, ``simulated``).

    ``real`` (s2 only): the :data:`HOLDOUT_PORTS` of sen2ships with their ship boxes as polygons; ``simulated``:
    every ``profile.sensor`` acquisition of the validation scenario with its truth as labels (at 10 m, convoys
    on roads are don't care). Labels carry ``class``, ``scene_id`` (the scene's) and ``visible`` (False: don't
    care).
    """
    from satwatch.detection.evaluate import load_coco_labels
    from satwatch.detection.sen2ships import DEFAULT_ROOT
    from satwatch.imagery.scenario import load_scenario
    from satwatch.imagery.simulated import render

    out: dict[str, list[tuple[Scene, gpd.GeoDataFrame]]] = {"real": [], "simulated": []}
    if real and profile.name == "s2":
        for name in HOLDOUT_PORTS:
            port = load_port(name)
            labels = load_coco_labels(DEFAULT_ROOT / "annotations.json", name)
            out["real"].append((port.scene, labels))
    if simulated:
        scen = load_scenario(scenario)
        catalog = load_catalog()
        for aoi_id in scen.aois:
            for when in scen.acquisitions(catalog[aoi_id], profile.sensor):
                rendered = render(catalog[aoi_id], when, profile.sensor, scen)
                truth = rendered.truth[rendered.truth["class"].isin(profile.classes)].copy()
                truth["scene_id"] = rendered.scene.meta.scene_id
                if profile.res_m >= 5.0:  # convoys at 10 m: vehicles 30 m apart on a road are not an area
                    truth.loc[truth["where"] == "road", "visible"] = False
                out["simulated"].append((rendered.scene, truth))
    return out
