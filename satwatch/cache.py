"""The detection cache: every archived scene is detected once per detector version and parameters.

A cached result is a detections GeoJSON (the contract of :mod:`satwatch.detection.detections`) stored at::

    <data>/cache/detections/<detector name>[-p<params digest>]/<scene_id>.<key>.geojson

``<detector name>`` carries the model version (``baseline-cfar-1``; ``cnn-<sha256 of the weights>``), the
optional ``-p<digest>`` folder suffix the detector parameters (thresholds, options), and ``<key>`` the first 12
hex digits of SHA-256 over the scene file's bytes, so a scene re-rendered from an edited scenario or re-fetched
with other pixels is detected again, while the same bytes under another path (a shared archive mounted elsewhere)
are found. Entries are written atomically (temporary file, then rename): a process killed mid-write leaves no
entry, only a hidden ``.partial`` file that :meth:`DetectionCache.sweep_partials` removes, and concurrent
writers of one entry write the same bytes.

Example::

    cache = DetectionCache(load_settings().data_dir / "cache")
    entry = cache.entry("scenes/x.tif", "ru_dunai_s2_20240901T015000", "baseline-cfar-1")
    if not entry.path.is_file():
        cache.put(entry, detector.detect(read_scene("scenes/x.tif")))
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd

from satwatch.outputs.files import write_geojson

__all__ = ["CacheEntry", "DetectionCache", "file_digest", "params_digest"]

_CHUNK = 1 << 20


def file_digest(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes (read in 1 MiB chunks: memory bounded)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def params_digest(params: Mapping[str, Any] | None) -> str:
    """Return 8 hex digits of SHA-256 over ``params`` as canonical JSON; ``""`` for no parameters."""
    if not params:
        return ""
    text = json.dumps(dict(params), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class CacheEntry:
    """Where the detections of one scene by one detector version and parameters are (or will be) cached."""

    path: Path
    """The cached detections GeoJSON (EPSG:4326); present once computed."""
    scene_id: str
    """Scene id (``SceneMeta.scene_id``)."""
    detector: str
    """Detector name with its version (``Detector.name``)."""
    scene_sha256: str
    """SHA-256 of the scene file's bytes."""

    @property
    def hit(self) -> bool:
        """True when the entry has been computed."""
        return self.path.is_file()


class DetectionCache:
    """Detections on disk under ``root/detections``; safe to share between processes and machines."""

    def __init__(self, root: str | Path) -> None:
        """Use ``root`` (e.g. ``<SATWATCH_DATA_DIR>/cache``, created on first write) as the cache folder."""
        self.root = Path(root)

    def entry(self, scene_path: str | Path, scene_id: str, detector: str,
              params: Mapping[str, Any] | None = None) -> CacheEntry:
        """Return the cache entry of ``scene_path`` (id ``scene_id``) for detector ``detector`` and ``params``."""
        sha = file_digest(scene_path)
        folder = detector + (f"-p{params_digest(params)}" if params else "")
        return CacheEntry(path=self.root / "detections" / folder / f"{scene_id}.{sha[:12]}.geojson",
                          scene_id=scene_id, detector=detector, scene_sha256=sha)

    def put(self, entry: CacheEntry, detections: gpd.GeoDataFrame) -> Path:
        """Write ``detections`` as the entry's GeoJSON, atomically; return its path."""
        return write_geojson(detections, entry.path)

    def sweep_partials(self, older_than_s: float = 3600.0) -> int:
        """Delete leftovers of writes killed midway (older than ``older_than_s``); return how many."""
        folder = self.root / "detections"
        if not folder.is_dir():
            return 0
        cutoff = time.time() - older_than_s
        removed = 0
        for p in folder.glob("*/.*.partial*"):
            if p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)
                removed += 1
        return removed
