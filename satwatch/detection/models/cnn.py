"""The CNN detector: tiled, resolution-aware inference of :class:`~satwatch.detection.models.network.CenterNet`.

How a scene is processed (:meth:`CnnDetector.detect_file`):

1. the scene's header gives its sensor, hence the profile (:mod:`satwatch.detection.profiles`), and its true
   ground sample distance (geodesic, so EPSG:3857 files whose "10 m" pixels are 10 m x cos(lat) on the ground
   are right); the scene is seen through a *profile grid* at the profile's resolution covering the same
   extent (``scale`` = source pixels per profile pixel; :mod:`satwatch.detection.grid`);
2. the profile grid is cut into tiles of :attr:`Profile.tile_px` with :attr:`Profile.overlap_px` overlap;
   each tile is read with a rasterio *windowed* read that resamples on the fly (bilinear for values, nearest
   for the SCL class band), so memory holds a batch of tiles, never the scene;
3. batches run through the network (CUDA: pinned memory and float16 autocast; CPU: the int8 ONNX Runtime model
   when one made from these weights is shipped, :mod:`satwatch.detection.models.quantized`, else channels-last
   float32 with batch norm fused into the convolutions);
4. centre peaks (3 x 3 max-pool non-maximum suppression on the heatmap, probability >= the class threshold)
   become Points with length, width and heading; each tile keeps only the peaks in its *core* (the tile minus
   half the overlap on every inner side): cores partition the grid, so an object on a seam is reported once
   and none falls between tiles;
5. mask probabilities of the area classes the weights report are written, core by core, into one scene-wide
   ``uint8`` map at output stride 2 (a 10980 x 10980 tile: 30 MB per class), then thresholded, refined by a 2x bilinear
   upsampling per component and vectorised to polygons (``rasterio.features.shapes``) above
   :data:`MIN_AREA_M2`.

Peak memory is bounded by the batch of tiles plus the stride-2 mask maps, whatever the scene size.

Weights: ``models/<profile>.pt``, a dict ``{"state_dict": ..., "meta": {...}}`` of tensors and plain values,
loaded with ``torch.load(..., weights_only=True)``. The detector name is ``cnn-<sha256 of the weights files>[:10]``
so that caches keyed on the detector name change when the weights do.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import math
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import rasterio
import torch
from affine import Affine
from rasterio.features import shapes
from rasterio.io import DatasetReader
from scipy import ndimage
from shapely.geometry import Point, Polygon, shape
from torch import nn
from torch.nn import functional

from satwatch.detection.detections import Detection, detections_from_records, empty_detections
from satwatch.detection.grid import ProfileGrid, profile_grid, read_tile, scene_dataset
from satwatch.detection.models.network import CenterNet, NetOutput, build_network, resolve_device
from satwatch.detection.models.quantized import QuantizedNet, int8_path, load_int8
from satwatch.detection.profiles import MODELS_DIR, PROFILES, Profile, model_input
from satwatch.errors import DetectionError, UsageError
from satwatch.imagery.scene import Scene, SceneMeta, ground_sample_distance_m, read_scene_header

__all__ = [
    "DECODE_VERSION",
    "MIN_AREA_M2",
    "MODELS_DIR",
    "PRECISIONS",
    "CnnDetector",
    "LoadedModel",
    "decode_points",
    "load_model",
    "tile_origins",
]

log = logging.getLogger(__name__)

DECODE_VERSION = 2
"""Version of how the network's maps become detections (:func:`decode_points`, tiles, cores), part of
:attr:`CnnDetector.name`, so detections cached by an earlier decoder are never reused. 2: every peak above the
threshold is kept (version 1 kept at most 256 per tile)."""
MIN_AREA_M2 = {"encampment": 2000.0, "vehicle": 1000.0}
"""Smallest polygon reported per mask class, m2 (smaller blobs are noise at 10 m)."""
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class LoadedModel:
    """A network with its profile and decoding thresholds."""

    profile: Profile
    """The profile the weights were trained for."""
    net: CenterNet | QuantizedNet
    """The network, in eval mode, on :attr:`device` (float32), or its int8 ONNX Runtime twin (CPU)."""
    thresholds: dict[str, float]
    """Per class: heatmap peak probability (point classes) or mask probability (mask classes) to report."""
    meta: dict[str, Any]
    """Training metadata stored with the weights (seed, data, epochs, metrics)."""
    sha256: str
    """SHA-256 of the weights file."""
    device: torch.device
    """Where the network runs."""
    reported: tuple[str, ...] = ()
    """Classes these weights report (a head whose validation failed is not reported; see the model card).
    Empty: all of the profile's classes."""
    precision: str = "fp32"
    """``fp32`` (PyTorch) or ``int8`` (the quantised ``<profile>.int8.onnx`` made from these weights)."""


PRECISIONS = ("auto", "fp32", "int8")
"""Inference precisions: ``auto`` is ``int8`` on a CPU when a quantised model of the weights is shipped, else
``fp32``; the GPU always runs float (float16 autocast)."""


def _check_precision(precision: str, device: torch.device) -> None:
    """Raise :class:`UsageError` for an unknown precision or ``int8`` off the CPU."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r} (--precision): use {', '.join(PRECISIONS)}")
    if precision == "int8" and device.type != "cpu":
        raise UsageError("--precision int8 runs on the CPU only; use --device cpu or --precision fp32")


def load_model(profile: str, models_dir: Path = MODELS_DIR, device: str = "auto",
               precision: str = "auto") -> LoadedModel:
    """Load ``<models_dir>/<profile>.pt`` with ``torch.load(weights_only=True)``.

    With ``precision`` ``auto`` or ``int8`` on a CPU, the network is the quantised ``<profile>.int8.onnx`` when
    that file was made from these weights (:func:`satwatch.detection.models.quantized.load_int8`).

    Raises:
        DetectionError: no weights for the profile, the file is not satwatch weights, or ``int8`` was asked
            for and there is no quantised model of these weights.
        UsageError: an unknown precision, or ``int8`` on CUDA.
    """
    prof = PROFILES.get(profile)
    if prof is None:
        raise DetectionError(f"no CNN profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    path = models_dir / f"{profile}.pt"
    if not path.is_file():
        raise DetectionError(f"no CNN weights for profile {profile} at {path}; train them with "
                             f"`satwatch train --profile {profile}` or use --detector baseline")
    dev = resolve_device(device)
    _check_precision(precision, dev)
    raw = path.read_bytes()  # read once: loaded and hashed
    sha = hashlib.sha256(raw).hexdigest()
    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        meta = dict(payload["meta"])
        net = build_network(prof, {k: meta[k] for k in ("widths", "head", "stem") if k in meta})
        net.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError, TypeError, ValueError, EOFError) as exc:
        raise DetectionError(f"{path} is not usable satwatch {profile} weights: {exc}") from exc
    if meta.get("profile") != profile:
        raise DetectionError(f"{path} holds weights for profile {meta.get('profile')!r}, not {profile!r}")
    thresholds = {str(k): float(v) for k, v in dict(meta.get("thresholds", {})).items()}
    for cls in prof.classes:
        thresholds.setdefault(cls, 0.5)
    reported = tuple(c for c in meta.get("reported_classes", prof.classes) if c in prof.classes)
    loaded = LoadedModel(profile=prof, net=net, thresholds=thresholds, meta=meta, sha256=sha, device=dev,
                         reported=reported)
    if dev.type == "cpu" and precision != "fp32":
        quantized = load_int8(int8_path(models_dir, profile), sha)
        if quantized is not None:
            return replace(loaded, net=quantized, precision="int8")
        if precision == "int8":
            raise DetectionError(f"no int8 model of {path.name} at {int8_path(models_dir, profile)}; make it with "
                                 f"scripts/quantize_detector.py --profile {profile} or use --precision fp32")
    net.eval()  # the float network runs: prepared only now
    if dev.type == "cpu":
        _fuse(net)
        net = net.to(memory_format=torch.channels_last)
    return replace(loaded, net=net.to(dev))


def _fuse(net: nn.Module) -> None:
    """Fold batch norm into the preceding convolution (eval only): about 20% faster on CPU."""
    from torchvision.ops.misc import Conv2dNormActivation

    for module in net.modules():
        if isinstance(module, Conv2dNormActivation) and isinstance(module[1], nn.BatchNorm2d):
            conv, bn = module[0], module[1]
            assert isinstance(conv, nn.Conv2d)
            fused = torch.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)
            module[0] = fused
            module[1] = nn.Identity()


def tile_origins(size: int, tile: int, overlap: int) -> list[int]:
    """Even start offsets of ``tile`` px tiles overlapping by ``overlap`` px that cover ``size`` px.

    Starts are even so that every tile's stride-2 output cells line up with the scene-wide stride-2 grid; the
    last tile may therefore reach one pixel past the end (read as no data).
    """
    if size <= tile:
        return [0]
    step = (tile - overlap) // 2 * 2
    last = size - tile + (size - tile) % 2
    starts = list(range(0, last, step))
    starts.append(last)
    return starts


def _cores(starts: list[int], size: int, tile: int) -> list[tuple[int, int]]:
    """Core ``[lo, hi)`` of each tile: cores partition ``[0, size)``; seams sit mid-overlap, on even pixels."""
    bounds = [0]
    for prev, nxt in itertools.pairwise(starts):
        bounds.append((nxt + prev + tile) // 4 * 2)
    bounds.append(size)
    return list(itertools.pairwise(bounds))


def decode_points(out: NetOutput, thresholds: list[float], k: int | None = None,
                  ) -> list[list[tuple[int, float, float, float, float, float, float]]]:
    """Peaks of the heatmap per image: ``(class index, score, x, y, length_m, width_m, heading_deg)``.

    A peak is a cell whose probability reaches its class threshold and is the maximum of its 3 x 3
    neighbourhood (ties: every tied cell); at most ``k`` per image (None: all; a 512 m tile of a car park at
    1 m holds thousands of vehicles), highest scores first. Worked on the logits
    (the sigmoid is monotonic) and only at the cells above threshold, so the cost follows the number of
    candidates, not the map size. ``x``, ``y`` are in input pixels (corner-based: the centre of pixel (r, c) is
    (c + 0.5, r + 0.5)).
    """
    logits = out["heat"].float()
    n, p = logits.shape[:2]
    limits = torch.tensor([math.log(t / (1.0 - t)) if 0.0 < t < 1.0 else (-math.inf if t <= 0.0 else math.inf)
                           for t in thresholds], dtype=logits.dtype, device=logits.device).view(1, p, 1, 1)
    cand = (logits >= limits).nonzero()  # (K, 4): image, class, row, col
    results: list[list[tuple[int, float, float, float, float, float, float]]] = [[] for _ in range(n)]
    if not len(cand):
        return results
    padded = functional.pad(logits, (1, 1, 1, 1), value=-math.inf)
    i, c, y, x = cand.unbind(1)
    value = logits[i, c, y, x]
    is_peak = torch.ones_like(value, dtype=torch.bool)
    for dy in range(3):
        for dx in range(3):
            is_peak &= padded[i, c, y + dy, x + dx] <= value
    i, c, y, x, value = i[is_peak], c[is_peak], y[is_peak], x[is_peak], value[is_peak]
    order = torch.argsort(value, descending=True, stable=True)
    i, c, y, x, score = i[order], c[order], y[order], x[order], torch.sigmoid(value[order])
    offset = out["offset"].float()[i, :, y, x]
    size = out["size"].float()[i, :, y, x]
    angle = out["angle"].float()[i, :, y, x]
    rows = zip(i.tolist(), c.tolist(), y.tolist(), x.tolist(), score.tolist(), offset.tolist(), size.tolist(),
               angle.tolist(), strict=True)
    for img, cls, yy, xx, sc, (dx_, dy_), (log_len, log_wid), (sin2, cos2) in rows:
        if k is not None and len(results[img]) >= k:
            continue
        heading = (math.degrees(math.atan2(sin2, cos2)) / 2.0) % 180.0
        results[img].append((cls, sc, 2.0 * xx + dx_, 2.0 * yy + dy_, math.expm1(max(log_len, 0.0)),
                             math.expm1(max(log_wid, 0.0)), heading))
    return results


class CnnDetector:
    """The PyTorch detector (see the module docstring). Loads each profile's weights on first use.

    Args:
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        batch_size: tiles per forward pass.
        models_dir: folder holding ``<profile>.pt``.
        thresholds: per-class overrides of the shipped decision thresholds.
        read_threads: threads reading and normalising tiles ahead of the network (default: up to 8 on CUDA,
            1 on CPU).
        precision: ``auto``, ``fp32`` or ``int8`` (see :data:`PRECISIONS`).
        progress: called as ``progress(tiles_done, tiles_total)`` after each batch of a scene (and once with
            ``tiles_done == tiles_total`` at its end), e.g. to draw a progress bar.
    """

    def __init__(self, device: str = "auto", batch_size: int = 4, models_dir: Path = MODELS_DIR,
                 thresholds: dict[str, float] | None = None, read_threads: int | None = None,
                 precision: str = "auto", progress: Callable[[int, int], None] | None = None) -> None:
        if batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, not {batch_size}")
        self.device = resolve_device(device)
        _check_precision(precision, self.device)  # before any work, not at the first scene
        self.precision = precision
        self.batch_size = batch_size
        # CUDA: the network waits for tiles (H100: 8.5 Mpx/s with 1 thread, 16.7 with 8); CPU: the network keeps
        # every core busy, so one thread reading ahead is enough (2-core CPU, int8: a second one costs ~12%)
        default = min(8 if self.device.type == "cuda" else 1, os.cpu_count() or 1)
        self.read_threads = max(1, read_threads if read_threads is not None else default)
        self.models_dir = models_dir
        self.overrides = dict(thresholds or {})
        self._models: dict[str, LoadedModel] = {}
        self._name: str | None = None
        self.progress = progress

    @classmethod
    def from_models(cls, models: dict[str, LoadedModel], batch_size: int = 4) -> CnnDetector:
        """Return a detector over already loaded models (training-time validation), named after their hashes."""
        first = next(iter(models.values()))
        det = cls(device=str(first.device), batch_size=batch_size)
        det._models = dict(models)
        hashes = "".join(m.sha256 + m.precision for m in models.values())
        digest = hashlib.sha256(f"decode-{DECODE_VERSION}{hashes}".encode())
        det._name = "cnn-" + digest.hexdigest()[:10]
        return det

    @property
    def name(self) -> str:
        """``cnn-`` + the first 10 hex digits of SHA-256 over all shipped weights files (changes with them).

        The int8 models count too when this detector may use them (CPU, precision not ``fp32``): their
        detections differ slightly from the float network's, so caches must tell them apart. So does
        :data:`DECODE_VERSION`.
        """
        if self._name is None:  # hashed once per detector: caches ask for the name on every scene
            digest = hashlib.sha256(f"decode-{DECODE_VERSION}".encode())
            int8 = self.device.type == "cpu" and self.precision != "fp32"
            for profile in sorted(PROFILES):
                paths = [self.models_dir / f"{profile}.pt"] + ([int8_path(self.models_dir, profile)] if int8 else [])
                for path in (p for p in paths if p.is_file()):
                    digest.update(path.name.encode())
                    digest.update(path.read_bytes())
            self._name = f"cnn-{digest.hexdigest()[:10]}"
        return self._name

    @property
    def classes(self) -> tuple[str, ...]:
        """Every class some shipped profile reports."""
        seen: list[str] = []
        for prof in PROFILES.values():
            seen.extend(c for c in prof.classes if c not in seen)
        return tuple(seen)

    def classes_for(self, sensor: str) -> tuple[str, ...]:
        """Classes reported on scenes of ``sensor``: those the weights of its profile report (model card)."""
        if sensor not in PROFILES:
            return ()
        try:
            loaded = self.model(sensor)
        except DetectionError:
            return PROFILES[sensor].classes
        return loaded.reported or loaded.profile.classes

    @property
    def precisions(self) -> dict[str, str]:
        """Precision (``fp32`` or ``int8``) of each profile loaded so far, by profile name."""
        return {name: loaded.precision for name, loaded in self._models.items()}

    def model(self, profile: str) -> LoadedModel:
        """Return the loaded model of a profile (loaded once, then reused)."""
        if profile not in self._models:
            self._models[profile] = load_model(profile, self.models_dir, str(self.device), self.precision)
        return self._models[profile]

    def detect(self, scene: Scene) -> gpd.GeoDataFrame:
        """Detect objects in an in-memory scene (written to an in-memory GeoTIFF and read tile by tile)."""
        with scene_dataset(scene) as src:
            return self._detect_dataset(src, scene.bands, scene.meta)

    def detect_file(self, path: str | Path) -> gpd.GeoDataFrame:
        """Detect objects in a scene file with windowed reads (memory bounded whatever the scene size)."""
        header = read_scene_header(path)
        with rasterio.open(path) as src:
            return self._detect_dataset(src, header.bands, header.meta)

    def _detect_dataset(self, src: DatasetReader, bands: tuple[str, ...], meta: SceneMeta) -> gpd.GeoDataFrame:
        if meta.sensor not in PROFILES:
            raise DetectionError(f"the CNN has no profile for sensor {meta.sensor!r}")
        missing = PROFILES[meta.sensor].check_bands(bands)  # before loading weights: a clear error first
        loaded = self.model(meta.sensor)
        prof = loaded.profile
        if missing:
            log.info("scene %s lacks bands %s; imputed from the present ones", meta.scene_id, ", ".join(missing))
        use = [b for b in prof.bands if b in bands]
        band_idx = [bands.index(b) + 1 for b in use]
        scl_idx = bands.index("SCL") + 1 if "SCL" in bands and prof.sensor == "s2" else None
        read_names = tuple(use) + (("SCL",) if scl_idx is not None else ())
        from pyproj import CRS

        crs = CRS.from_user_input(src.crs.to_wkt())
        gsd = ground_sample_distance_m(crs, src.transform, src.width, src.height)
        grid = profile_grid(src.width, src.height, gsd, prof.res_m)
        thresholds = {**loaded.thresholds, **self.overrides}
        records = self._run_tiles(src, band_idx, scl_idx, read_names, grid, loaded, thresholds)
        header = Scene(data=np.zeros((0, 1, 1), dtype=np.float32), bands=(), crs=crs, transform=src.transform,
                       meta=meta)
        if not records:
            return empty_detections()
        return detections_from_records(records, header, detector=self.name)

    def _batches(self, src: DatasetReader, band_idx: list[int], scl_idx: int | None, read_names: tuple[str, ...],
                 grid: ProfileGrid, prof: Profile) -> Iterator[list[tuple[int, int, F32]]]:
        """Batches of ``(row, col, network input)`` tiles, in row-major order.

        Tiles are read and normalised by :attr:`read_threads` threads (GDAL and numpy release the GIL), each
        with its own dataset handle (a GDAL dataset is not thread-safe), at most two batches ahead of the
        network: memory stays bounded and reading overlaps the forward passes.
        """
        t = prof.tile_px
        origins = iter([(r0, c0) for r0 in tile_origins(grid.height, t, prof.overlap_px)
                        for c0 in tile_origins(grid.width, t, prof.overlap_px)])
        local = threading.local()
        opened: list[DatasetReader] = []
        lock = threading.Lock()

        def prepare(origin: tuple[int, int]) -> tuple[int, int, F32]:
            ds = getattr(local, "ds", None)
            if ds is None:
                ds = local.ds = rasterio.open(src.name)
                with lock:
                    opened.append(ds)
            raw = read_tile(ds, band_idx, scl_idx, grid, origin[0], origin[1], t)
            return origin[0], origin[1], model_input(raw, read_names, prof)

        batch: list[tuple[int, int, F32]] = []
        pending: deque[Future[tuple[int, int, F32]]] = deque()
        with ThreadPoolExecutor(self.read_threads, thread_name_prefix="satwatch-tiles") as pool:
            try:
                for origin in itertools.islice(origins, 2 * self.batch_size):
                    pending.append(pool.submit(prepare, origin))
                while pending:
                    r0, c0, x = pending.popleft().result()
                    nxt = next(origins, None)
                    if nxt is not None:
                        pending.append(pool.submit(prepare, nxt))
                    if not x[-1].any():
                        continue  # nothing valid: no detections possible, skip the forward pass
                    batch.append((r0, c0, x))
                    if len(batch) == self.batch_size:
                        yield batch
                        batch = []
                if batch:
                    yield batch
            finally:
                for future in pending:
                    future.cancel()
                pool.shutdown(wait=True)
                for ds in opened:
                    ds.close()

    def _run_tiles(self, src: DatasetReader, band_idx: list[int], scl_idx: int | None, read_names: tuple[str, ...],
                   grid: ProfileGrid, loaded: LoadedModel, thresholds: dict[str, float]) -> list[Detection]:
        prof = loaded.profile
        t = prof.tile_px
        rows = tile_origins(grid.height, t, prof.overlap_px)
        cols = tile_origins(grid.width, t, prof.overlap_px)
        row_core = dict(zip(rows, _cores(rows, grid.height, t), strict=True))
        col_core = dict(zip(cols, _cores(cols, grid.width, t), strict=True))
        point_thr = [thresholds[c] for c in prof.point_classes]
        mh, mw = (grid.height + 1) // 2, (grid.width + 1) // 2
        mask_wanted = any(not loaded.reported or c in loaded.reported for c in prof.mask_classes)
        masks = np.zeros((len(prof.mask_classes) if mask_wanted else 0, mh, mw), dtype=np.uint8)
        records: list[Detection] = []
        dev = loaded.device
        total = len(rows) * len(cols)
        for batch in self._batches(src, band_idx, scl_idx, read_names, grid, prof):
            xb = torch.from_numpy(np.stack([b[2] for b in batch]))
            if dev.type == "cuda":
                xb = xb.pin_memory().to(dev, non_blocking=True)
            elif isinstance(loaded.net, nn.Module):
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.float16, enabled=dev.type == "cuda"):
                out = loaded.net(xb)
            peaks = decode_points(out, point_thr)
            mask_prob = torch.sigmoid(out["mask"].float()).cpu().numpy() if mask_wanted else None
            for i, (r0, c0, x) in enumerate(batch):
                (rlo, rhi), (clo, chi) = row_core[r0], col_core[c0]
                for cls_i, score, px, py, length, width, heading in peaks[i]:
                    gx, gy = c0 + px, r0 + py
                    if not (clo <= gx < chi and rlo <= gy < rhi):
                        continue  # another tile's core holds it
                    if x[-1, min(int(py), t - 1), min(int(px), t - 1)] == 0:
                        continue  # centre on no data or cloud
                    cls = prof.point_classes[cls_i]
                    if loaded.reported and cls not in loaded.reported:
                        continue
                    records.append(Detection(
                        cls, min(max(score, 0.0), 1.0), Point(gx * grid.scale, gy * grid.scale),
                        length_m=length, width_m=width, heading_deg=heading if cls == "vessel" else math.nan,
                    ))
                if mask_prob is not None:
                    # core of this tile in stride-2 cells (cores are even-aligned up to one cell)
                    mr0, mr1 = rlo // 2, (rhi + 1) // 2
                    mc0, mc1 = clo // 2, (chi + 1) // 2
                    tile_valid = x[-1, ::2, ::2] > 0
                    prob = mask_prob[i] * tile_valid[None]
                    sub = prob[:, mr0 - r0 // 2: mr1 - r0 // 2, mc0 - c0 // 2: mc1 - c0 // 2]
                    masks[:, mr0:mr0 + sub.shape[1], mc0:mc0 + sub.shape[2]] = np.round(sub * 255).astype(np.uint8)
            if self.progress is not None:  # tiles are row-major: the batch's last tile says how far we are
                r_last, c_last = batch[-1][0], batch[-1][1]
                self.progress(rows.index(r_last) * len(cols) + cols.index(c_last) + 1, total)
        for k, cls in enumerate(prof.mask_classes):
            if loaded.reported and cls not in loaded.reported:
                continue
            records.extend(_polygons(masks[k], cls, thresholds[cls], grid, prof.res_m))
        if self.progress is not None:
            self.progress(total, total)
        return records


def _polygons(prob: npt.NDArray[np.uint8], cls: str, threshold: float, grid: ProfileGrid,
              res_m: float) -> list[Detection]:
    """Vectorise one stride-2 probability map (uint8, 0..255) into polygons in source pixel coordinates."""
    level = threshold * 255
    labels, n = ndimage.label(prob >= level)
    if n == 0:
        return []
    out: list[Detection] = []
    cell_m2 = (2 * res_m) ** 2
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        comp = labels[sl] == k
        if comp.sum() * cell_m2 < MIN_AREA_M2.get(cls, 0.0) * 0.5:
            continue
        r0, c0 = max(sl[0].start - 1, 0), max(sl[1].start - 1, 0)
        r1, c1 = min(sl[0].stop + 1, prob.shape[0]), min(sl[1].stop + 1, prob.shape[1])
        crop = prob[r0:r1, c0:c1].astype(np.float32) / 255.0
        crop = np.where(ndimage.binary_dilation(labels[r0:r1, c0:c1] == k), crop, 0.0)
        fine = ndimage.zoom(crop, 2, order=1)  # 2x: back to profile pixels
        binary = (fine >= threshold).astype(np.uint8)
        score = float(crop[labels[r0:r1, c0:c1] == k].mean())
        # fine pixel (i, j) -> profile px (2 r0 + j.. ) -> source px (* scale)
        transform = Affine.scale(grid.scale) @ Affine.translation(2 * c0, 2 * r0)
        for geom, value in shapes(binary, mask=binary.astype(bool), transform=transform):
            if value != 1:
                continue
            poly = shape(geom)
            if not isinstance(poly, Polygon) or poly.is_empty:
                continue
            area = poly.area * (res_m / grid.scale) ** 2
            if area < MIN_AREA_M2.get(cls, 0.0):
                continue
            out.append(Detection(cls, min(max(score, 0.0), 1.0), poly.buffer(0)
                                 if not poly.is_valid else poly))
    return out

