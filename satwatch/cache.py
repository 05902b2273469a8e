"""The detection cache: every archived scene is detected once per detector version.

A cached result is a detections GeoJSON (the contract of :mod:`satwatch.detection.detections`) stored at::

    <data>/cache/detections/<detector name>/<scene_id>.<key>.geojson

``<detector name>`` carries the model version (``baseline-cfar-1``; ``cnn-<sha256 of the weights>``) and
``<key>`` the first 12 hex digits of the scene's header key (:attr:`satwatch.imagery.scene.SceneHeader.key`: file
size, modification time and header, read without decoding a pixel), so a scene re-rendered from an edited
scenario, re-fetched or truncated is detected again, and a lookup costs one header read. Beside it, what a
scene observed of an AOI (:class:`~satwatch.change.observability.Observability`) is kept at::

    <data>/cache/observations/<scene_id>.<key>.<AOI geometry and code digest>.json

so a re-run of an unchanged period decodes no scene at all. Entries are written atomically (temporary file, then
rename): a process killed mid-write leaves no entry, only a hidden ``.partial`` file that
:meth:`DetectionCache.sweep_partials` removes, and concurrent writers of one entry write the same bytes. An entry
that cannot be read back (a damaged file) is a miss: it is logged, detected again and replaced atomically.

Example::

    cache = DetectionCache(load_settings().data_dir / "cache")
    entry = cache.entry(read_scene_header("scenes/x.tif"), "baseline-cfar-1")
    found = cache.read(entry)
    if found is None:
        cache.put(entry, detector.detect(read_scene("scenes/x.tif")))
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from satwatch.atomic import atomic_path
from satwatch.outputs.files import write_geojson

if TYPE_CHECKING:
    from satwatch.aoi import AOI
    from satwatch.change.observability import Observability
    from satwatch.imagery.scene import SceneHeader

__all__ = ["CacheEntry", "DetectionCache", "RunOutputCache", "file_digest", "source_digest"]

log = logging.getLogger("satwatch")

_CHUNK = 1 << 20


def file_digest(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes (read in 1 MiB chunks: memory bounded)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def source_digest() -> str:
    """SHA-256 hex over every ``satwatch`` source file (path and bytes): changes with any edit of the code.

    Keys what depends on the code as a whole (observations, a run's derived outputs); computed once per process.
    """
    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """Where the detections of one scene by one detector version are (or will be) cached."""

    path: Path
    """The cached detections GeoJSON (EPSG:4326); present once computed."""
    scene_id: str
    """Scene id (``SceneMeta.scene_id``)."""
    detector: str
    """Detector name with its version (``Detector.name``)."""
    scene_key: str
    """The scene's header key (:attr:`satwatch.imagery.scene.SceneHeader.key`)."""

    @property
    def hit(self) -> bool:
        """True when the entry has been computed (it may still turn out unreadable: see :meth:`DetectionCache.read`)."""
        return self.path.is_file()


class DetectionCache:
    """Detections and observations on disk under ``root``; safe to share between processes and machines."""

    def __init__(self, root: str | Path) -> None:
        """Use ``root`` (e.g. ``<SATWATCH_DATA_DIR>/cache``, created on first write) as the cache folder."""
        self.root = Path(root)

    def entry(self, header: SceneHeader, detector: str) -> CacheEntry:
        """Return the cache entry of the scene ``header`` describes for detector ``detector`` (name and version)."""
        scene_id = header.meta.scene_id
        return CacheEntry(path=self.root / "detections" / detector / f"{scene_id}.{header.key[:12]}.geojson",
                          scene_id=scene_id, detector=detector, scene_key=header.key)

    def read(self, entry: CacheEntry) -> gpd.GeoDataFrame | None:
        """Return the cached detections, or None on a miss; an unreadable entry is a miss (logged, replaced later)."""
        if not entry.path.is_file():
            return None
        from satwatch.detection.detections import as_detections

        try:
            return as_detections(gpd.read_file(entry.path))
        except Exception as exc:  # pyogrio, JSON or contract errors alike: the entry is damaged
            log.warning("unreadable detection cache entry %s (%s): detecting the scene again", entry.path,
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return None

    def put(self, entry: CacheEntry, detections: gpd.GeoDataFrame) -> Path:
        """Write ``detections`` as the entry's GeoJSON, atomically (replacing a damaged one); return its path."""
        return write_geojson(detections, entry.path)

    def observation_path(self, header: SceneHeader, aoi: AOI) -> Path:
        """Where what ``header``'s scene observed of ``aoi`` is kept (keyed on the scene, the AOI and the code)."""
        aoi_key = hashlib.sha256(aoi.id.encode() + b"\0" + aoi.geometry.wkb + source_digest().encode()).hexdigest()
        return self.root / "observations" / f"{header.meta.scene_id}.{header.key[:12]}.{aoi_key[:12]}.json"

    def read_observation(self, header: SceneHeader, aoi: AOI) -> Observability | None:
        """Return the cached observation of ``aoi`` by the scene, or None (a damaged entry is a logged miss)."""
        from satwatch.change.observability import Observability

        path = self.observation_path(header, aoi)
        if not path.is_file():
            return None
        try:
            return Observability(**json.loads(path.read_text(encoding="utf-8")))
        except Exception as exc:  # damaged or from another layout: measure again
            log.warning("unreadable observation cache entry %s (%s): measuring the scene again", path, exc)
            return None

    def put_observation(self, header: SceneHeader, aoi: AOI, observation: Observability) -> Path:
        """Keep ``observation`` (atomically); return its path."""
        path = self.observation_path(header, aoi)
        with atomic_path(path, ".json") as tmp:
            tmp.write_text(json.dumps(asdict(observation), sort_keys=True), encoding="utf-8")
        return path

    def sweep_partials(self, older_than_s: float = 3600.0) -> int:
        """Delete leftovers of writes killed midway (older than ``older_than_s``); return how many."""
        import shutil

        cutoff = time.time() - older_than_s
        removed = 0
        for sub in ("detections/*", "observations", "runs"):
            for p in self.root.glob(f"{sub}/.*.partial*"):
                if p.stat().st_mtime < cutoff:
                    if p.is_dir():  # a run-output entry being assembled
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        p.unlink(missing_ok=True)
                    removed += 1
        return removed


class RunOutputCache:
    """The derived outputs of a run, kept by a fingerprint of everything they depend on.

    ``<root>/runs/<fingerprint>/`` holds a copy of the files :func:`satwatch.pipeline.assemble.finish_run` derives
    from the per-scene results (scenes, detections, counts, change layers, GeoPackage, QGIS styles; not ``run.json`` or
    ``report.html``, which name the run) and ``record.json`` (the parts of ``run.json`` derived with them). The
    fingerprint covers the request, every scene's header key, observation and detections, the detector and its
    figures, the package versions and the satwatch source code, so a re-run of an unchanged period copies these
    files instead of computing them again, and any change computes them afresh. Entries appear atomically (a
    folder renamed into place); the ``keep`` most recently used stay (a scheduled run's rolling window makes a new
    entry each day), older ones are deleted; safe to delete.
    """

    def __init__(self, root: str | Path, keep: int = 32) -> None:
        """Use ``root`` (``<SATWATCH_DATA_DIR>/cache``) as the cache folder, keeping at most ``keep`` entries."""
        self.folder = Path(root) / "runs"
        self.keep = keep

    def get(self, fingerprint: str) -> tuple[list[Path], dict[str, Any]] | None:
        """Return ``(files, record)`` of the entry, or None when there is none (or it cannot be read)."""
        entry = self.folder / fingerprint
        try:
            record = json.loads((entry / "record.json").read_text(encoding="utf-8"))
            files = [entry / name for name in record["files"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not all(p.is_file() for p in files):
            return None
        os.utime(entry)  # used now: the last to be pruned
        return files, record["record"]

    def put(self, fingerprint: str, files: list[Path], record: dict[str, Any]) -> Path | None:
        """Keep copies of ``files`` and ``record`` under ``fingerprint``; return the entry (None: another run won)."""
        import shutil
        import tempfile

        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{fingerprint}.", suffix=".partial", dir=self.folder))
        try:
            for p in files:
                shutil.copyfile(p, tmp / p.name)
            (tmp / "record.json").write_text(json.dumps({"files": [p.name for p in files], "record": record},
                                                        sort_keys=True), encoding="utf-8")
            try:
                tmp.rename(self.folder / fingerprint)
            except OSError:  # the same entry was kept by another run first
                return None
            self._prune()
            return self.folder / fingerprint
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _prune(self) -> None:
        """Delete all but the ``keep`` most recently used entries."""
        import shutil

        entries = [p for p in self.folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        entries.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in entries[self.keep:]:
            shutil.rmtree(old, ignore_errors=True)
