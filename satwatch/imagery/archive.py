"""The scene archive: ``<root>/<aoi>/<sensor>/<acquired>.tif`` plus a STAC Item JSON beside each scene.

A scene counts as archived only when both its GeoTIFF and its STAC Item exist. Both are written atomically
(temporary file + rename) and the Item last, so a run killed midway leaves at most a hidden ``*.partial``
file (``.<name>.<random>.partial``), which is never listed and is swept by :meth:`Archive.sweep_partials`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from pyproj import CRS
from shapely.geometry import mapping

from satwatch.aoi import AOI
from satwatch.atomic import atomic_path
from satwatch.errors import ArchiveError, InputFileError, SceneFormatError, UsageError
from satwatch.imagery.bands import srgb_to_linear
from satwatch.imagery.scene import (
    SENSOR_BANDS,
    SENSORS,
    Scene,
    SceneMeta,
    format_acquired,
    parse_acquired,
    write_scene,
)
from satwatch.imagery.source import Acquisition

__all__ = ["Archive", "ArchiveSource", "ArchivedScene", "import_geotiff", "quarantine_scene"]

log = logging.getLogger("satwatch")

STAC_VERSION = "1.0.0"
_PLATFORMS = {"s2": ("sentinel-2", ["msi"]), "s1": ("sentinel-1", ["c-sar"]), "vhr": ("vhr", ["optical"])}


def _stamp(acquired: datetime) -> str:
    """File stem of an acquisition time: ``2024-10-08T015230Z`` (no colons, safe on every file system)."""
    return acquired.astimezone(UTC).strftime("%Y-%m-%dT%H%M%SZ")


@dataclass(frozen=True)
class ArchivedScene:
    """One scene present in the archive, as listed from its STAC Item (no pixels read)."""

    path: Path
    """The scene GeoTIFF."""
    item_path: Path
    """The STAC Item JSON beside it."""
    aoi: str
    """AOI id (the archive folder)."""
    sensor: str
    """``s2``, ``s1`` or ``vhr``."""
    acquired: datetime
    """Acquisition time, UTC."""
    simulated: bool
    """True when the scene was rendered by the simulator."""
    properties: dict[str, Any]
    """The STAC Item's properties (cloud cover, source, satwatch fields)."""


class Archive:
    """Scenes on disk under ``root``; safe to share between processes (writes are atomic renames)."""

    def __init__(self, root: str | Path) -> None:
        """Use ``root`` (created on first write) as the archive folder."""
        self.root = Path(root)

    def scene_path(self, aoi_id: str, sensor: str, acquired: datetime) -> Path:
        """Path of the GeoTIFF for this AOI, sensor and acquisition time (whether or not it exists)."""
        if sensor not in SENSORS:
            raise UsageError(f"sensor {sensor!r} is not one of {', '.join(SENSORS)}")
        return self.root / aoi_id / sensor / f"{_stamp(acquired)}.tif"

    @staticmethod
    def item_path(scene_path: Path) -> Path:
        """Path of the STAC Item JSON of a scene file."""
        return scene_path.with_suffix(".json")

    def has(self, aoi_id: str, sensor: str, acquired: datetime) -> bool:
        """Return True when the scene and its STAC Item are both in the archive."""
        p = self.scene_path(aoi_id, sensor, acquired)
        return p.is_file() and self.item_path(p).is_file()

    def put(self, scene: Scene, properties: dict[str, Any] | None = None) -> Path:
        """Store ``scene`` (GeoTIFF, then STAC Item) atomically and return the GeoTIFF path.

        Args:
            scene: the scene; ``scene.meta.aoi`` names the folder and must be set.
            properties: extra STAC properties (for example ``eo:cloud_cover`` in percent).
        """
        if not scene.meta.aoi:
            raise ArchiveError("a scene must name its AOI (meta.aoi) to be archived")
        path = self.scene_path(scene.meta.aoi, scene.meta.sensor, scene.meta.acquired)
        write_scene(scene, path)
        item = stac_item(scene, path, properties or {})
        with atomic_path(self.item_path(path)) as tmp:
            tmp.write_text(json.dumps(item, indent=1), encoding="utf-8")
        return path

    def get(self, aoi_id: str, sensor: str, acquired: datetime) -> ArchivedScene:
        """Return the archived scene, or raise :class:`ArchiveError` if it is not (completely) there."""
        p = self.scene_path(aoi_id, sensor, acquired)
        if not (p.is_file() and self.item_path(p).is_file()):
            raise ArchiveError(f"no archived {sensor} scene for {aoi_id} at {format_acquired(acquired)} in {self.root}")
        return self._entry(p)

    def _entry(self, p: Path) -> ArchivedScene:
        item = json.loads(self.item_path(p).read_text(encoding="utf-8"))
        props = item.get("properties", {})
        return ArchivedScene(
            path=p,
            item_path=self.item_path(p),
            aoi=p.parent.parent.name,
            sensor=p.parent.name,
            acquired=parse_acquired(props["datetime"]),
            simulated=bool(props.get("satwatch:simulated", False)),
            properties=props,
        )

    def scenes(
        self, aoi_id: str | None = None, sensor: str | None = None, start: date | None = None,
        end: date | None = None,
    ) -> list[ArchivedScene]:
        """List complete scenes, optionally for one AOI / sensor / inclusive date range, oldest first."""
        out = []
        for p in self._scene_files(aoi_id, sensor):
            if not self.item_path(p).is_file():
                continue
            entry = self._entry(p)
            day = entry.acquired.date()
            if (start and day < start) or (end and day > end):
                continue
            out.append(entry)
        return sorted(out, key=lambda e: (e.acquired, e.aoi, e.sensor))

    def _scene_files(self, aoi_id: str | None, sensor: str | None) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        for aoi_dir in sorted(self.root.iterdir()) if aoi_id is None else [self.root / aoi_id]:
            for sensor_dir in sorted(aoi_dir.glob("*")) if sensor is None else [aoi_dir / sensor]:
                if sensor_dir.is_dir():
                    yield from sorted(sensor_dir.glob("[!.]*.tif"))

    def sweep_partials(self, older_than_s: float = 3600.0) -> int:
        """Delete leftovers of interrupted writes (``.*.partial*`` files) older than ``older_than_s`` seconds.

        The age limit keeps a write in progress in another process safe. Returns how many were removed.
        """
        n = 0
        if self.root.is_dir():
            now = time.time()
            for p in self.root.rglob(".*.partial*"):
                if now - p.stat().st_mtime >= older_than_s:
                    p.unlink(missing_ok=True)
                    n += 1
        return n


def quarantine_scene(path: str | Path, reason: str, quarantine_root: str | Path) -> Path | None:
    """Move an unusable scene file and its companions aside; return the folder they went to (None: nothing moved).

    The GeoTIFF, its STAC Item and its simulator truth (every ``<stem>.*`` file beside it) go to
    ``<quarantine_root>/<UTC time>-<aoi>-<sensor>-<stem>/`` (the AOI and sensor folder names of the archive),
    with ``reason.json`` naming the original path, the reason and the time. The archive no longer lists the scene,
    so its source fetches or renders it again. Logged as a warning with the path and the reason. Files another
    process moved first are skipped.
    """
    scene = Path(path)
    companions = sorted(p for p in scene.parent.glob(f"{scene.stem}.*") if p.is_file()) if scene.parent.is_dir() \
        else []
    if not companions:
        log.warning("unusable scene %s (%s): already gone, nothing to quarantine", scene, reason)
        return None
    now = datetime.now(UTC)
    label = f"{now.strftime('%Y%m%dT%H%M%S%fZ')}-{scene.parent.parent.name}-{scene.parent.name}-{scene.stem}"
    folder = Path(quarantine_root) / label
    folder.mkdir(parents=True, exist_ok=True)
    moved = []
    for p in companions:
        try:
            shutil.move(str(p), folder / p.name)  # a rename on one file system, a copy and delete across two
        except FileNotFoundError:  # another process moved it first
            continue
        moved.append(p.name)
    record = {"path": str(scene.resolve()), "reason": reason, "moved": format_acquired(now), "files": moved}
    with atomic_path(folder / "reason.json") as tmp:
        tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
    log.warning("quarantined unusable scene %s (%s): moved to %s", scene, reason, folder)
    return folder


def stac_item(scene: Scene, path: Path, properties: dict[str, Any]) -> dict[str, Any]:
    """Build the STAC Item (1.0.0, with the projection extension) describing a scene file."""
    platform, instruments = _PLATFORMS[scene.meta.sensor]
    footprint = scene.footprint()
    epsg = scene.crs.to_epsg()
    props: dict[str, Any] = {
        "datetime": format_acquired(scene.meta.acquired),
        "platform": platform,
        "instruments": instruments,
        "gsd": round(scene.gsd_m, 3),
        "proj:epsg": epsg,
        "proj:shape": [scene.height, scene.width],
        "proj:transform": list(scene.transform)[:6],
        "satwatch:sensor": scene.meta.sensor,
        "satwatch:source": scene.meta.source,
        "satwatch:simulated": scene.meta.simulated,
        "satwatch:aoi": scene.meta.aoi,
        "satwatch:bands": list(scene.bands),
        "satwatch:valid_fraction": float(np.isfinite(scene.data[0]).mean()) if scene.data.size else 0.0,
    }
    props.update(properties)
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json"],
        "id": scene.meta.scene_id,
        "bbox": list(footprint.bounds),
        "geometry": mapping(footprint),
        "properties": props,
        "links": [],
        "assets": {
            "data": {
                "href": f"./{path.name}",
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "title": ", ".join(scene.bands),
            }
        },
    }


def _dn_to_values(data: np.ma.MaskedArray, names: Sequence[str], sensor: str, scale: float | None, offset: float,
                  src_path: Path) -> npt.NDArray[np.float32]:
    """File values to scene values: ``DN x scale + offset`` (SCL codes kept as they are), NaN where masked.

    Raises:
        SceneFormatError: integer DN of an optical sensor without a scale.
    """
    if np.issubdtype(data.dtype, np.integer) and scale is None and sensor != "s1":
        raise SceneFormatError(
            f"{src_path} holds integer DN ({data.dtype}) and no scale; pass --scale (e.g. 0.0001 for ESA L2A)"
        )
    values: npt.NDArray[np.float32] = np.ma.filled(data.astype(np.float32), np.nan)
    if "SCL" not in names:
        return values if scale is None else values * np.float32(scale) + np.float32(offset)
    band_scale = np.full(len(names), scale if scale is not None else 1.0, np.float32)
    band_offset = np.full(len(names), offset, np.float32)
    band_scale[names.index("SCL")], band_offset[names.index("SCL")] = 1.0, 0.0
    out: npt.NDArray[np.float32] = values * band_scale[:, None, None] + band_offset[:, None, None]
    return out


def import_geotiff(
    path: str | Path,
    archive: Archive,
    aoi: AOI,
    sensor: str,
    acquired: datetime | None = None,
    bands: Sequence[str] | None = None,
    scale: float | None = None,
    offset: float = 0.0,
    srgb: bool = False,
) -> Path:
    """Bring a user's GeoTIFF (any CRS) into the archive as a scene following the contract.

    Args:
        path: the GeoTIFF.
        archive: where to store it.
        aoi: the AOI it is filed under; the raster must intersect it.
        sensor: ``s2``, ``s1`` or ``vhr`` (for example commercial very-high-resolution imagery).
        acquired: acquisition time; default: the file's ``SATWATCH_ACQUIRED``, ``ACQUISITIONDATETIME`` or
            ``TIFFTAG_DATETIME`` tag.
        bands: band names in file order; default: the file's band descriptions.
        scale: multiplier turning integer DN into reflectance (e.g. 0.0001 for ESA L2A DN); default: the file's
            own scale metadata. Integer data with neither is refused.
        offset: added after scaling (e.g. -0.1 for ESA L2A processing baseline >= 04.00).
        srgb: the file is 8-bit display imagery (photos, drone frames, viewer exports: sRGB-encoded); its DN are
            decoded to linear values (:func:`~satwatch.imagery.bands.srgb_to_linear`), the look the ``vhr``
            detector learnt real imagery in. Excludes ``scale`` and ``offset``; refused for ``s1`` and for data
            that is not 8-bit.

    Returns:
        The archived scene path. Nodata pixels become NaN; values are stored as float32.
    """
    src_path = Path(path)
    if not src_path.is_file():
        raise InputFileError(f"{src_path} does not exist")
    if sensor not in SENSORS:
        raise UsageError(f"--sensor {sensor!r} is not one of {', '.join(SENSORS)}")
    try:
        src = rasterio.open(src_path)
    except rasterio.errors.RasterioIOError as exc:
        raise SceneFormatError(f"{src_path} is not a readable GeoTIFF: {exc}") from exc
    with src:
        if src.crs is None:
            raise SceneFormatError(f"{src_path} has no CRS; georeference it (e.g. gdal_edit.py -a_srs) first")
        names = tuple(bands) if bands else tuple(d or "" for d in src.descriptions)
        if len(names) != src.count or not all(names):
            raise SceneFormatError(
                f"{src_path} has {src.count} bands but names {list(names)}; pass --bands with one name per band "
                f"(e.g. {','.join(SENSOR_BANDS[sensor][: src.count])})"
            )
        unknown = [n for n in names if n not in SENSOR_BANDS[sensor] and n not in ("B01", "B05", "B06", "B07",
                                                                                    "B8A", "B09")]
        if unknown:
            raise SceneFormatError(
                f"{src_path}: band names {unknown} are not {sensor} bands; expected some of {SENSOR_BANDS[sensor]}"
            )
        tags = src.tags()
        when = acquired
        if when is None:
            for key in ("SATWATCH_ACQUIRED", "ACQUISITIONDATETIME", "TIFFTAG_DATETIME"):
                if tags.get(key):
                    text = tags[key]
                    if key == "TIFFTAG_DATETIME":  # "YYYY:MM:DD HH:MM:SS"
                        text = text.replace(":", "-", 2).replace(" ", "T")
                    when = parse_acquired(text)
                    break
        if when is None:
            raise SceneFormatError(f"{src_path} carries no acquisition time; pass --acquired YYYY-MM-DDTHH:MM:SSZ")
        data = src.read(masked=True)
        if srgb:
            if sensor == "s1":
                raise UsageError("--srgb is for 8-bit optical display imagery, not Sentinel-1 sigma0")
            if scale is not None or offset != 0.0:
                raise UsageError("--srgb decodes the DN itself; leave out --scale and --offset")
            if src.dtypes[0] != "uint8":
                raise SceneFormatError(f"--srgb decodes 8-bit display imagery; {src_path} holds {src.dtypes[0]}")
            values = srgb_to_linear(data.filled(0))
            values[np.ma.getmaskarray(data)] = np.nan
        else:
            file_scale = float(src.scales[0]) if src.scales and src.scales[0] not in (None, 1.0) else None
            values = _dn_to_values(data, names, sensor, scale if scale is not None else file_scale, offset, src_path)
        footprint_crs = CRS.from_user_input(src.crs.to_wkt())
        meta = SceneMeta(sensor=sensor, acquired=when, source="import", simulated=False, aoi=aoi.id)
        scene = Scene(data=values.astype(np.float32), bands=names, crs=footprint_crs, transform=src.transform,
                      meta=meta)
    if not scene.footprint().intersects(aoi.geometry):
        raise SceneFormatError(f"{src_path} does not overlap AOI {aoi.id}; check --aoi or the file's CRS")
    return archive.put(scene, {"satwatch:imported_from": os.path.basename(src_path)})


class ArchiveSource:
    """An imagery source over scenes already in the archive (imported or fetched earlier); fetches nothing.

    This is how imagery of your own (for example commercial very-high-resolution GeoTIFFs brought in with
    ``satwatch archive import``) goes through ``satwatch run --source archive``.
    """

    name = "archive"

    def __init__(self, root: str | Path) -> None:
        """Serve the scenes of the archive at ``root``."""
        self.archive = Archive(root)

    def search(self, aoi: AOI, start: date, end: date, sensor: str) -> list[Acquisition]:
        """List archived scenes of ``aoi`` and ``sensor`` acquired from ``start`` to ``end`` (inclusive)."""
        out = []
        for entry in self.archive.scenes(aoi.id, sensor, start, end):
            cloud = entry.properties.get("eo:cloud_cover")
            out.append(Acquisition(
                aoi=aoi.id, sensor=sensor, acquired=entry.acquired,
                source=str(entry.properties.get("satwatch:source", "archive")), simulated=entry.simulated,
                cloud_fraction=None if cloud is None else float(cloud) / 100.0, item_id=entry.path.stem,
            ))
        return out

    def fetch(self, acquisition: Acquisition, aoi: AOI, archive_root: Path) -> Path:
        """Return the archived scene's path (``archive_root`` is ignored: the scene is already stored)."""
        return self.archive.get(acquisition.aoi, acquisition.sensor, acquisition.acquired).path
