"""Batch detection: run one detector over many archived scenes, reads overlapping inference.

A ``torch.utils.data.DataLoader`` with ``workers`` processes reads the next scenes (whole, as float32
``(bands, height, width)`` arrays) while the main process runs the detector on the current one; on CUDA the
arrays land in pinned memory. Memory stays bounded: at most ``workers * prefetch`` scenes wait in memory, and a
scene over ``max_scene_mb`` is not read by the workers at all but detected with the detector's own windowed
reads, as is every scene for a detector that has them (the CNN: tiles read by its own thread pool, float16
autocast on CUDA, :mod:`satwatch.detection.models.cnn`). Each scene goes through the pipeline's one per-scene step,
:func:`satwatch.pipeline.scene.detect_scene`: scenes already detected by this detector version (the detection
cache, :mod:`satwatch.cache`) are neither read nor detected again.

Outputs in ``out_dir``: ``per_scene/<scene_id>.geojson``, ``detections.geojson`` (all scenes, EPSG:4326),
``summary.csv`` (one row per scene) and ``summary.json`` (totals, speed, device, excluded files). Every
detection names its scene uniquely (:func:`~satwatch.imagery.scene.unique_scene_ids`: files sharing a tagged id get
their file stem added) and its ``source_file`` (absolute path). A scene file that cannot be read (truncated,
corrupt, not a scene) is left out with a warning and listed under ``excluded`` in ``summary.json``. Example::

    summary = run_batch(["data/archive/ru_dunai/s2/20240903T014020.tif"], "out", detector="baseline")
    print(summary.scenes_per_minute)
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import torch
from rasterio.errors import RasterioIOError
from torch.utils.data import DataLoader, Dataset

from satwatch.cache import DetectionCache
from satwatch.detection.detections import DETECTION_COLUMNS, concat_detections, empty_detections
from satwatch.detection.detector import CNN_OPTION_DETECTORS, Detector, default_detector, get_detector, with_source
from satwatch.errors import InputFileError, SatwatchError, SceneFormatError, SceneReadError, UsageError
from satwatch.imagery.scene import Scene, SceneHeader, read_scene, read_scene_header, unique_scene_ids
from satwatch.outputs.files import write_csv, write_geojson, write_json
from satwatch.pipeline import scene as scene_step

__all__ = ["BatchSummary", "SceneOutcome", "run_batch"]

log = logging.getLogger("satwatch")


@dataclass(frozen=True)
class SceneOutcome:
    """What batch detection did with one scene."""

    scene_id: str
    """Scene id."""
    path: str
    """The scene GeoTIFF (absolute)."""
    sensor: str
    """``s2``, ``s1`` or ``vhr``."""
    acquired: str
    """Acquisition time, UTC ISO 8601."""
    detections: int
    """Number of detections."""
    cached: bool
    """True when the detections came from the detection cache (no read, no inference)."""
    read: str
    """How the pixels reached the detector: ``prefetched`` (a DataLoader worker), ``windowed`` (the detector's
    own tiled reads, for scenes over the size limit), ``cache`` or ``cache-damaged`` (the cache entry could not be
    read back: detected again with the detector's own reads and the entry replaced)."""
    seconds: float
    """Time spent on this scene in the main process (inference and writing), seconds."""
    detections_path: str
    """The scene's detections GeoJSON in ``out_dir/per_scene``."""


@dataclass(frozen=True)
class BatchSummary:
    """Totals of a batch run (small: paths and numbers)."""

    out_dir: str
    """Output folder."""
    summary_path: str
    """``summary.json`` in ``out_dir``."""
    detections_path: str
    """``detections.geojson`` in ``out_dir``."""
    scenes: int
    """Scenes processed (detected or taken from the cache)."""
    detected: int
    """Scenes the detector ran on."""
    cached: int
    """Scenes taken from the cache."""
    detections: int
    """Detections over all scenes."""
    seconds: float
    """Wall time from the first read to the last write, seconds."""
    scenes_per_minute: float
    """``scenes / seconds * 60``."""
    detector: str
    """Detector name with its version."""
    device: str
    """Torch device the detector ran on (``cpu``, ``cuda:0``)."""
    workers: int
    """DataLoader reader processes (0: reads in the main process)."""
    pinned: bool
    """True when prefetched scenes were put in pinned (page-locked) memory (CUDA)."""
    excluded: int = 0
    """Scene files left out because they could not be read (listed in ``summary.json``)."""


@dataclass(frozen=True)
class _Item:
    """What a reader hands over besides the pixels (kept out of the tensor dict: collate and pinning skip it)."""

    index: int
    read: str = ""
    error: str = ""


class _SceneReads(Dataset[dict[str, Any]]):
    """Item ``i``: ``{"info": _Item, "data": (bands, height, width) float32 tensor or None}`` of scene ``i``.

    ``data`` is None when the scene is cached (no read at all), over the size limit (windowed reads later) or
    unreadable (``info.error`` says why).
    """

    def __init__(self, headers: Sequence[SceneHeader], cached: Sequence[bool], max_values: int,
                 windowed: bool = False) -> None:
        self.headers = list(headers)
        self.cached = list(cached)
        self.max_values = max_values
        self.windowed = windowed

    def __len__(self) -> int:
        return len(self.headers)

    def __getitem__(self, i: int) -> dict[str, Any]:
        header = self.headers[i]
        if self.cached[i]:
            return {"info": _Item(i, "cache"), "data": None}
        if self.windowed or header.width * header.height * len(header.bands) > self.max_values:
            return {"info": _Item(i, "windowed"), "data": None}
        try:
            data = torch.from_numpy(read_scene(header.path).data)  # (bands, height, width) float32
        except SatwatchError as exc:  # raised again (or the scene excluded) in the main process
            return {"info": _Item(i, error=f"{type(exc).__name__}|{exc}"), "data": None}
        return {"info": _Item(i, "prefetched"), "data": data}


def _as_is(item: Any) -> Any:
    return item


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # readers decode GeoTIFFs; leave the cores to inference


def _error(text: str) -> SatwatchError:
    name, _, message = text.partition("|")
    from satwatch import errors

    cls = getattr(errors, name, SatwatchError)
    return cls(message) if isinstance(cls, type) and issubclass(cls, SatwatchError) else SatwatchError(message)


def run_batch(
    scenes: Sequence[str | Path],
    out_dir: str | Path | None = None,
    detector: str | None = None,
    device: str = "auto",
    batch_size: int = 4,
    workers: int = 2,
    prefetch: int = 2,
    max_scene_mb: float = 512.0,
    use_cache: bool = True,
    progress: bool = True,
    detector_options: dict[str, Any] | None = None,
) -> BatchSummary:
    """Detect objects in every scene file and write per-scene detections and a summary into ``out_dir``.

    Args:
        scenes: scene GeoTIFFs (the scene file contract).
        out_dir: output folder (default ``<SATWATCH_DATA_DIR>/outputs/<UTC stamp>-batch``).
        detector: registry name (default: ``cnn`` when its weights are shipped, else ``baseline``).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        batch_size: CNN tiles per forward pass.
        workers: DataLoader reader processes (0: read in the main process, no overlap).
        prefetch: scenes each reader keeps ready (memory bound: ``workers * prefetch`` scenes).
        max_scene_mb: scenes larger than this (float32 bytes) are detected with windowed reads instead.
        use_cache: take detections from the detection cache when present (they are always written to it).
        progress: show a progress bar on stderr.
        detector_options: more keyword options for the detector factory (e.g. ``models_dir``).

    Raises:
        UsageError: ``device`` is ``cuda`` on a machine without a CUDA GPU, bad numbers, or no scenes.
        InputFileError: a scene file does not exist.
    """
    from tqdm import tqdm

    from satwatch.detection.models.network import resolve_device
    from satwatch.settings import load_settings

    torch_device = resolve_device(device)  # a clear UsageError for cuda without a GPU, before any work
    if workers < 0 or prefetch < 1 or batch_size < 1:
        raise UsageError("--workers must be >= 0, --prefetch and --batch-size >= 1")
    paths = [Path(p).resolve() for p in scenes]
    if not paths:
        raise UsageError("no scenes to detect: give scene files, or --aoi with --start and --end")
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputFileError(f"scene file {missing[0]} does not exist")
    settings = load_settings()
    name = detector or default_detector()
    options: dict[str, Any] = dict(detector_options or {})
    if name in CNN_OPTION_DETECTORS:
        options.update(device=str(torch_device), batch_size=batch_size)
    found: Detector = get_detector(name, **options)
    out = Path(out_dir) if out_dir is not None else (
        settings.outputs_dir / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-batch")
    (out / "per_scene").mkdir(parents=True, exist_ok=True)
    cache = DetectionCache(settings.cache_dir)
    cache.sweep_partials()
    pinned = torch_device.type == "cuda"
    excluded: list[dict[str, str]] = []

    def exclude(path: Path, exc: SatwatchError) -> None:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning("batch: excluded unreadable scene %s (%s)", path, reason)
        excluded.append({"path": str(path), "reason": reason})

    headers: list[SceneHeader] = []
    for path in paths:  # headers only: the cache keys, unique ids and sizes; an unreadable one is excluded
        try:
            headers.append(read_scene_header(path))
        except SceneFormatError as exc:
            exclude(path, exc)
    scene_ids = unique_scene_ids(headers)
    entries = [cache.entry(h, found.name) for h in headers]
    # a detector with its own windowed reads (the CNN) reads each file in tiles itself: nothing to prefetch
    dataset = _SceneReads(headers, [use_cache and e.hit for e in entries], max_values=int(max_scene_mb * 2**20 / 4),
                          windowed=hasattr(found, "detect_file"))
    loader: DataLoader[dict[str, Any]] = DataLoader(
        dataset, batch_size=None, shuffle=False, num_workers=workers, pin_memory=pinned, collate_fn=_as_is,
        prefetch_factor=prefetch if workers > 0 else None, worker_init_fn=_worker_init if workers > 0 else None,
        persistent_workers=False,
    )
    outcomes: list[SceneOutcome] = []
    frames: list[gpd.GeoDataFrame] = []
    t0 = time.perf_counter()
    with tqdm(total=len(paths), desc=f"detect {found.name}", unit="scene", file=sys.stderr,
              disable=not progress) as bar:
        bar.update(len(paths) - len(headers))
        for item in loader:
            info: _Item = item["info"]
            header, scene_id = headers[info.index], scene_ids[info.index]
            meta, path = header.meta, header.path
            if info.error:
                error = _error(info.error)
                if not isinstance(error, SceneFormatError):
                    raise error
                exclude(path, error)
                bar.update(1)
                continue
            t_scene = time.perf_counter()
            pixels = None
            if info.read == "prefetched":
                pixels = Scene(data=item["data"].numpy(), bands=header.bands, crs=header.crs,
                               transform=header.transform, meta=meta)
            try:  # the one per-scene step: cache lookup, else detection (windowed reads for the CNN), cache write
                found_here = scene_step.detect_scene(header, found, cache, pixels=pixels, use_cache=use_cache)
            except (SceneFormatError, RasterioIOError) as exc:  # the detector's own reads of a damaged file
                exclude(path, exc if isinstance(exc, SceneFormatError) else SceneReadError(
                    f"{path}: pixels cannot be read ({exc.__cause__ or exc}); the file is truncated or corrupt"))
                bar.update(1)
                continue
            read = "cache-damaged" if info.read == "cache" and not found_here.cached else info.read
            det = found_here.detections
            det = with_source(det, scene_id, path)
            per_scene = out / "per_scene" / f"{scene_id}.geojson"
            write_geojson(det, per_scene)
            frames.append(det)
            outcomes.append(SceneOutcome(
                scene_id=scene_id, path=str(path), sensor=meta.sensor,
                acquired=meta.acquired.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                detections=len(det), cached=found_here.cached, read=read,
                seconds=round(time.perf_counter() - t_scene, 4), detections_path=str(per_scene),
            ))
            bar.set_postfix_str(f"{scene_id}: {len(det)}")
            bar.update(1)
    seconds = time.perf_counter() - t0
    detections = concat_detections(frames) if frames else empty_detections()
    sources = {o.scene_id: o.path for o in outcomes}  # scene ids are unique in a batch
    detections.insert(len(DETECTION_COLUMNS), "source_file",
                      pd.Series([sources[i] for i in detections["scene_id"]], index=detections.index, dtype="str"))
    write_geojson(detections, out / "detections.geojson")
    write_csv(pd.DataFrame([asdict(o) for o in outcomes]), out / "summary.csv")
    n_cached = sum(o.cached for o in outcomes)
    summary = BatchSummary(
        out_dir=str(out.resolve()), summary_path=str((out / "summary.json").resolve()),
        detections_path=str((out / "detections.geojson").resolve()), scenes=len(outcomes),
        detected=len(outcomes) - n_cached, cached=n_cached, detections=len(detections), seconds=round(seconds, 3),
        scenes_per_minute=round(len(outcomes) / seconds * 60.0, 2) if seconds > 0 else 0.0,
        detector=found.name, device=str(torch_device), workers=workers, pinned=pinned,
        excluded=len(excluded),
    )
    write_json({**asdict(summary), "amp_float16": torch_device.type == "cuda" and name in CNN_OPTION_DETECTORS,
                # the CNN's precision per profile it ran (int8 on a CPU when shipped); other detectors: none
                "precision": dict(getattr(found, "precisions", {})),
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "scenes_detail": [asdict(o) for o in outcomes],
                # scene files that could not be read (truncated, corrupt, not a scene): left out, with why
                "excluded": excluded}, out / "summary.json")
    log.info("batch: %d scenes (%d from the cache, %d unreadable left out), %d detections, %.1f scenes/min on %s",
             summary.scenes, n_cached, len(excluded), summary.detections, summary.scenes_per_minute, summary.device)
    return summary
