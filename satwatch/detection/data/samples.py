"""Training samples of the CNN: scenes on the profile grid with their labels, augmented crops and their targets.

A :class:`Sample` is one scene resampled to a profile's grid with its labels in profile pixels; :func:`crop`
draws one augmented training crop from it and :func:`batch_targets` stacks crops into a batch with CenterNet
targets. :func:`save_samples` / :func:`load_samples` move samples between machines (render and read the
labelled data where GDAL and the data are, train where the GPU is).

This module imports only numpy and torch (no GDAL, GeoPandas or PROJ): it is what a bare GPU machine needs.

Crops (:data:`CROP_PX` square) are drawn around a sample's hard negatives (:data:`HARD_NEGATIVE_SHARE`, when it
has any), else around objects (70%) or anywhere (30%), turned by quarter turns and
flipped (headings follow), and given a reflectance gain of 0.85-1.2 (dB offsets of +-1.5 for radar); for ``s2``
up to three bands are dropped at random (then imputed as at inference) so that real exports with missing bands
work.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch.nn import functional

from satwatch.atomic import atomic_path
from satwatch.detection.profiles import Profile, model_input
from satwatch.errors import DetectionError, InputFileError

__all__ = ["CROP_PX", "HARD_NEGATIVE_SHARE", "MAX_OBJECTS", "Sample", "batch_targets", "crop", "load_samples",
           "save_samples"]

CROP_PX = 256
"""Training crop edge at profile resolution (targets are at stride 2: 128 x 128)."""
MAX_OBJECTS = 256
"""Most point objects per crop that get regression targets."""
SAMPLES_FORMAT = "satwatch-samples-1"
F32 = npt.NDArray[np.float32]
HARD_NEGATIVE_SHARE = 0.3
"""Share of a sample's crops centred on one of its :attr:`Sample.hard_negatives`, when it has any."""
ZOOM_RANGE = (0.8, 1.25)
"""Scale augmentation: half the crops are resampled by a factor drawn log-uniformly from this range."""
_HAZE_WEIGHT = {"B02": 1.0, "B03": 0.7, "B04": 0.5, "B08": 0.3, "B11": 0.1}
"""Relative strength of the haze offset per band (path radiance falls with wavelength)."""
_LOG_LO, _LOG_HI = -3.0, math.log10(2.0)
"""Reflectance range kept by :func:`save_samples` (log10): the detector clips reflectance to it anyway."""


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
    mask_known: tuple[bool, ...] | None = None
    """Per mask class, whether :attr:`masks` labels it (True: its zeros are real negatives; False: no loss for
    that class). None: every class is labelled. Real ports label ``encampment`` (none are in a port) but not
    ``vehicle`` (car terminals are vehicle parks nobody outlined)."""
    hard_negatives: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    """``(Q, 2)`` x, y (profile px) of places a detector took for an object where there is none (quay ends,
    breakwaters, cranes: :func:`~satwatch.detection.data.training_data.mine_hard_negatives`); a share
    :data:`HARD_NEGATIVE_SHARE` of the sample's crops is centred on them, or None."""


# ----------------------------------------------------------------------------------------------------------------
# Crops and targets
# ----------------------------------------------------------------------------------------------------------------


def crop(sample: Sample, profile: Profile, rng: np.random.Generator, area_focus: float = 0.5) -> dict[str, Any]:
    """Draw one augmented crop with its targets (numpy), :data:`CROP_PX` square.

    Returns:
        ``x`` ``(C, CROP_PX, CROP_PX)`` network input; ``points`` ``(N, 6)`` as :attr:`Sample.points` in crop
        pixels; ``ignore`` ``(K, 3)``; ``masks`` ``(M, CROP_PX, CROP_PX)``; ``mask_w`` ``(M, CROP_PX, CROP_PX)``
        mask loss weights (0/1); ``has_size``.
    """
    c = CROP_PX
    _, h, w = sample.raw.shape
    n_masks = len(profile.mask_classes)
    # scale augmentation: a window of c / zoom px is resampled to c px (ground resolutions differ by scene)
    zoom = float(np.exp(rng.uniform(np.log(ZOOM_RANGE[0]), np.log(ZOOM_RANGE[1])))) if rng.random() < 0.5 else 1.0
    cs = max(32, round(c / zoom))
    areas = sample.area_anchors if sample.area_anchors is not None else np.zeros((0, 2))
    anchors = areas if len(areas) and (not len(sample.points) or rng.random() < area_focus) else sample.points[:, :2]
    hard = sample.hard_negatives if sample.hard_negatives is not None else np.zeros((0, 2))
    if len(hard) and rng.random() < HARD_NEGATIVE_SHARE:
        px, py = hard[rng.integers(len(hard))]
        x0 = int(px - rng.integers(16, cs - 16))
        y0 = int(py - rng.integers(16, cs - 16))
    elif len(anchors) and rng.random() < 0.7:
        px, py = anchors[rng.integers(len(anchors))]
        x0 = int(px - rng.integers(16, cs - 16))
        y0 = int(py - rng.integers(16, cs - 16))
    else:
        x0 = int(rng.integers(-16, max(w - cs + 16, -15)))
        y0 = int(rng.integers(-16, max(h - cs + 16, -15)))
    raw = np.full((sample.raw.shape[0], cs, cs), np.nan, dtype=np.float32)
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + cs, w), min(y0 + cs, h)
    inside_scene = sx1 > sx0 and sy1 > sy0
    if inside_scene:
        raw[:, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = sample.raw[:, sy0:sy1, sx0:sx1]
    pts = sample.points.copy()
    pts[:, 0] -= x0
    pts[:, 1] -= y0
    ign = sample.ignore.copy()
    ign[:, 0] -= x0
    ign[:, 1] -= y0
    masks = np.zeros((n_masks, cs, cs), dtype=np.float32)
    mask_w = np.zeros((n_masks, cs, cs), dtype=np.float32)
    if sample.masks is not None and inside_scene:
        masks[:, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = sample.masks[:, sy0:sy1, sx0:sx1]
        known = sample.mask_known or (True,) * n_masks
        for k in range(n_masks):
            if known[k]:
                mask_w[k, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = 1.0
        if sample.mask_ignore is not None:
            mask_w[:, sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] -= sample.mask_ignore[sy0:sy1, sx0:sx1]
    if cs != c:
        f = c / cs
        raw = _resize(raw, sample.names, c)
        masks = (_resize(masks, (), c) > 0.5).astype(np.float32)
        mask_w = (_resize(mask_w, (), c) > 0.99).astype(np.float32)
        pts[:, :4] *= f  # x, y in px; an object seen at another resolution looks longer or shorter in metres
        ign[:, :3] *= f
    # geometric augmentation: k quarter turns clockwise, then an optional left-right flip
    k = int(rng.integers(4))
    flip = bool(rng.integers(2))
    raw, masks = np.rot90(raw, -k, axes=(-2, -1)), np.rot90(masks, -k, axes=(-2, -1))
    mask_w = np.rot90(mask_w, -k, axes=(-2, -1))
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
        # scene-wide gain, per-band gains (calibration, sun angle), sometimes haze (strongest in blue) and noise
        gains = rng.uniform(0.85, 1.2) * rng.uniform(0.92, 1.08, len(n_bands))
        raw[n_bands] *= gains.astype(np.float32)[:, None, None]
        if rng.random() < 0.3:
            haze = rng.uniform(0.0, 0.015)
            for i in n_bands:
                raw[i] += np.float32(haze * _HAZE_WEIGHT.get(names[i], 0.3))
        if rng.random() < 0.3:
            raw[n_bands] += rng.normal(0.0, rng.uniform(0.0, 0.003), raw[n_bands].shape).astype(np.float32)
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


def _resize(data: F32, names: tuple[str, ...], size: int) -> F32:
    """Resample ``(B, h, w)`` to ``(B, size, size)``.

    Bilinear for values (NaN where any input band was NaN), nearest for ``SCL`` codes.
    """
    if not len(data):
        return np.zeros((0, size, size), dtype=np.float32)
    t = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))[None]
    valid = torch.isfinite(t).all(dim=1, keepdim=True).float()
    out = functional.interpolate(torch.nan_to_num(t), size=(size, size), mode="bilinear", align_corners=False)[0]
    ok = functional.interpolate(valid, size=(size, size), mode="bilinear", align_corners=False)[0, 0] > 0.999
    if "SCL" in names:
        i = names.index("SCL")
        out[i] = functional.interpolate(torch.nan_to_num(t[:, i:i + 1]), size=(size, size), mode="nearest")[0, 0]
    result: F32 = out.numpy()
    if names:
        result[:, ~ok.numpy()] = np.nan
    return result


def batch_targets(crops: Sequence[dict[str, Any]], profile: Profile) -> dict[str, torch.Tensor]:
    """Stack crops (from :func:`crop`) into a batch with CenterNet targets at stride 2.

    Returns tensors: ``x`` ``(N, C, S, S)``; ``heat``/``heat_w`` ``(N, P, S/2, S/2)`` Gaussian centre targets
    and loss weights (0 in don't-care discs); ``ind``, ``reg_mask``, ``size_mask``, ``angle_mask``
    ``(N, MAX_OBJECTS)`` flat stride-2 indices of object centres and which targets they carry; ``offset``,
    ``size``, ``angle`` ``(N, MAX_OBJECTS, 2)``; ``masks``/``mask_w`` ``(N, M, S/2, S/2)`` soft mask targets and
    weights (1 where the whole 2 x 2 cell is labelled).
    """
    n, c = len(crops), CROP_PX // 2
    p = len(profile.point_classes)
    res_m = profile.res_m
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
    for i, item in enumerate(crops):
        for j, (x, y, length, width, heading, cls) in enumerate(item["points"][:MAX_OBJECTS]):
            cx, cy = int(x // 2), int(y // 2)
            cx, cy = min(max(cx, 0), c - 1), min(max(cy, 0), c - 1)
            length_px = length / res_m if math.isfinite(length) else 6.0
            sigma = min(max(length_px / 10.0, 0.7), 3.0)
            r = math.ceil(3 * sigma)
            ys, xs = slice(max(cy - r, 0), cy + r + 1), slice(max(cx - r, 0), cx + r + 1)
            g = np.exp(-((xx[ys, xs] - cx) ** 2 + (yy[ys, xs] - cy) ** 2) / (2 * sigma**2))
            heat[i, int(cls), ys, xs] = np.maximum(heat[i, int(cls), ys, xs], g)
            heat[i, int(cls), cy, cx] = 1.0
            ind[i, j] = cy * c + cx
            reg_mask[i, j] = 1.0
            offset[i, j] = (x - 2 * cx, y - 2 * cy)
            if item["has_size"] and math.isfinite(length):
                size[i, j] = (math.log1p(length), math.log1p(width))
                size_mask[i, j] = 1.0
            if item["has_size"] and math.isfinite(heading):
                t = math.radians(2 * heading)
                angle[i, j] = (math.sin(t), math.cos(t))
                angle_mask[i, j] = 1.0
        for x, y, radius in item["ignore"]:
            r = radius / 2 + 1
            heat_w[i, :, ((xx - x / 2) ** 2 + (yy - y / 2) ** 2) <= r * r] = 0.0
    masks = np.stack([c_["masks"] for c_ in crops])
    mask_w = np.stack([c_["mask_w"] for c_ in crops])
    # masks at stride 2: fraction of each 2 x 2 cell covered (soft targets)
    if masks.shape[1]:
        masks_t = functional.avg_pool2d(torch.from_numpy(masks), 2)
        mask_w_t = functional.avg_pool2d(torch.from_numpy(mask_w), 2).eq(1.0).float()
    else:
        masks_t = mask_w_t = torch.zeros((n, 0, c, c))
    return {
        "x": torch.from_numpy(np.stack([c_["x"] for c_ in crops])),
        "heat": torch.from_numpy(heat), "heat_w": torch.from_numpy(heat_w),
        "ind": torch.from_numpy(ind), "reg_mask": torch.from_numpy(reg_mask),
        "size_mask": torch.from_numpy(size_mask), "angle_mask": torch.from_numpy(angle_mask),
        "offset": torch.from_numpy(offset), "size": torch.from_numpy(size), "angle": torch.from_numpy(angle),
        "masks": masks_t, "mask_w": mask_w_t,
    }


# ----------------------------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------------------------


def _encode(sample: Sample, profile: Profile) -> dict[str, npt.NDArray[Any]]:
    """Compact arrays of one sample: reflectance as uint8 steps of log10 (255 = no data), SCL as uint8."""
    if profile.kind == "reflectance":
        raw = np.full(sample.raw.shape, 255, dtype=np.uint8)
        for i, name in enumerate(sample.names):
            band = sample.raw[i]
            ok = np.isfinite(band)
            if name == "SCL":
                raw[i][ok] = np.clip(band[ok], 0, 254).astype(np.uint8)
            else:
                log = np.log10(np.clip(band[ok], 10**_LOG_LO, 10**_LOG_HI))
                raw[i][ok] = np.round((log - _LOG_LO) / (_LOG_HI - _LOG_LO) * 254).astype(np.uint8)
    else:
        raw = sample.raw.astype(np.float16)
    out: dict[str, npt.NDArray[Any]] = {"raw": raw, "points": sample.points, "ignore": sample.ignore}
    for key in ("masks", "mask_ignore", "area_anchors", "hard_negatives"):
        value = getattr(sample, key)
        if value is not None:
            out[key] = value
    return out


def _decode(arrays: dict[str, npt.NDArray[Any]], head: dict[str, Any], kind: str) -> Sample:
    raw_in = arrays["raw"]
    names = tuple(head["names"])
    if raw_in.dtype == np.uint8:
        raw = np.full(raw_in.shape, np.nan, dtype=np.float32)
        for i, name in enumerate(names):
            ok = raw_in[i] != 255
            if name == "SCL":
                raw[i][ok] = raw_in[i][ok]
            else:
                raw[i][ok] = 10 ** (_LOG_LO + raw_in[i][ok].astype(np.float32) / 254 * (_LOG_HI - _LOG_LO))
    else:
        raw = raw_in.astype(np.float32)
    known = head.get("mask_known")
    return Sample(name=head["name"], raw=raw, names=names, points=arrays["points"], ignore=arrays["ignore"],
                  masks=arrays.get("masks"), mask_ignore=arrays.get("mask_ignore"), has_size=bool(head["has_size"]),
                  area_anchors=arrays.get("area_anchors"), mask_known=tuple(known) if known is not None else None,
                  hard_negatives=arrays.get("hard_negatives"))


def save_samples(pools: Mapping[str, Sequence[Sample]], profile: Profile, path: Path) -> Path:
    """Write named pools of samples (e.g. ``simulated``, ``real``) to one compressed ``.npz``, atomically.

    Reflectance is stored as 254 steps of log10 over 0.001-2.0 (the range the detector reads; a step is 3%
    of the value, so a value is at most 1.5% off: less than Sentinel-2's own noise over dark water, and 0.013 in
    the network's normalised units), radar values as float16, all LZMA-compressed.
    """
    header: dict[str, Any] = {"format": SAMPLES_FORMAT, "profile": profile.name, "pools": {}}
    arrays: dict[str, npt.NDArray[Any]] = {}
    for pool, samples in pools.items():
        heads = []
        for i, sample in enumerate(samples):
            for key, value in _encode(sample, profile).items():
                arrays[f"{pool}/{i}/{key}"] = value
            heads.append({"name": sample.name, "names": list(sample.names), "has_size": sample.has_size,
                          "mask_known": list(sample.mask_known) if sample.mask_known is not None else None})
        header["pools"][pool] = heads
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    # an .npz is a zip of .npy files; LZMA makes it about half of savez_compressed's deflate for imagery
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_LZMA) as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(value), allow_pickle=False)
            archive.writestr(f"{key}.npy", buffer.getvalue())
    return path


def load_samples(path: Path, profile: Profile) -> dict[str, list[Sample]]:
    """Read pools written by :func:`save_samples` for ``profile``.

    Raises:
        InputFileError: not a samples file, or one made for another profile.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            header = json.loads(npz["header"].tobytes().decode())
            if header.get("format") != SAMPLES_FORMAT:
                raise InputFileError(f"{path} is not a satwatch samples file")
            if header["profile"] != profile.name:
                raise InputFileError(f"{path} holds {header['profile']} samples, not {profile.name}")
            out: dict[str, list[Sample]] = {}
            for pool, heads in header["pools"].items():
                out[pool] = []
                for i, head in enumerate(heads):
                    prefix = f"{pool}/{i}/"
                    arrays = {k[len(prefix):]: npz[k] for k in npz.files if k.startswith(prefix)}
                    out[pool].append(_decode(arrays, head, profile.kind))
    except (OSError, ValueError, KeyError) as exc:
        raise InputFileError(f"cannot read samples file {path}: {exc}") from exc
    return out
