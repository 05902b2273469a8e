"""Loader of the aerial vehicle set: nadir aerial (KIT AIS, Munich) and drone (Minsk) images with vehicle boxes.

Layout (``<real data>/aerial_vehicles``, from GitHub ``jekhor/aerial-cars-dataset``)::

    classes.txt                   YOLO class names, one a line: car, truck, bus, minibus, cyclist
    kit_ais/<stem>.png            8-bit RGB aerial image sequences MOS155-179, MOS74-93, MunichStreet02-MOS74-93
    minsk_drone/<stem>.jpg        8-bit RGB 1920 x 1080 drone video frames (DJI-00760-*, DJI_0005-*, ...)
    <folder>/<stem>.txt           YOLO boxes: ``class cx cy w h``, normalised to the image, axis-aligned

Quirks handled here (all real):

- not georeferenced, no stated resolution: each image sequence's ground sample distance is estimated once
  from its median car box long side in pixels against a typical car length of :data:`CAR_LENGTH_M` (4.5 m)
  (:func:`estimate_gsd_m`) and fixed in :data:`SEQUENCE_GSD_M`, so loading is reproducible; a sequence not
  listed there is estimated the same way at load time (its folder's typical value without cars). Each image
  is placed north-up on the synthetic grid (:func:`~satwatch.detection.data.labelled.synthetic_transform`,
  EPSG:32651, slot :data:`SYNTHETIC_SLOT`) at that pixel size: positions are synthetic, only positions
  within an image mean anything;
- 8-bit RGB display imagery (sRGB-encoded, like every photo and drone frame): bands ``("R", "G", "B")`` decoded
  to linear values with :func:`~satwatch.imagery.bands.srgb_to_linear`, an approximation of reflectance up to
  the unknown gain of the display stretch (not calibrated). ``DN / 255`` read as reflectance would compress every
  contrast (a white car 3x as bright as its road stored 1.6x); the simulator and reflectance products are linear;
- classes car, truck, bus, minibus are class ``vehicle`` with ``vehicle_type``; ``cyclist`` is labelled too
  but not a class satwatch scores: ``visible = False`` (don't care);
- boxes are axis-aligned: ``length_m`` / ``width_m`` are the box's long / short side in metres (a car
  parked diagonally measures up to ~4.8 x 4.5 m instead of 4.5 x 1.8 m) and ``heading_deg`` is NaN;
- frames of one sequence overlap heavily (same cars): the split group is the sequence, never the frame;
- labelling is near-exhaustive on roads (a few misses at image edges and under trees): ``exhaustive`` True;
- acquisition dates are unknown: ``acquired`` is :data:`ACQUIRED_PLACEHOLDER` (the source repository's
  commit date, which the images predate).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError
from shapely.geometry import Point

from satwatch.detection.data.labelled import (
    SYNTHETIC_CRS,
    LabelledScene,
    labels_frame,
    pixel_to_lonlat,
    real_data_root,
    synthetic_transform,
)
from satwatch.errors import InputFileError, UsageError
from satwatch.imagery.bands import srgb_to_linear
from satwatch.imagery.scene import Scene, SceneMeta

__all__ = [
    "ACQUIRED_PLACEHOLDER",
    "CAR_LENGTH_M",
    "CLASS_NAMES",
    "FOLDER_GSD_M",
    "LABEL_EXTRAS",
    "SEQUENCE_CAR_PX",
    "SEQUENCE_GSD_M",
    "SOURCE",
    "SYNTHETIC_SLOT",
    "VEHICLE_TYPES",
    "estimate_gsd_m",
    "load_images",
    "sequence_of",
]

SOURCE = "aerial_vehicles"
"""The set's name: its folder under the real-data root and ``meta.source`` of its scenes."""
CAR_LENGTH_M = 4.5
"""Typical car length, metres: the yardstick of the ground sample distance estimates."""
SEQUENCE_CAR_PX = {
    "MOS155-179": 33.4, "MOS74-93": 38.3, "MunichStreet02-MOS74-93": 36.45,
    "DJI-00760": 72.5, "DJI_0005": 82.0, "DJI_0013": 81.0, "DJI_0762": 60.0,
}
"""Median long side of the ``car`` boxes per sequence, pixels (measured on the labels of the set)."""
SEQUENCE_GSD_M = {
    "MOS155-179": 0.135, "MOS74-93": 0.117, "MunichStreet02-MOS74-93": 0.123,
    "DJI-00760": 0.062, "DJI_0005": 0.055, "DJI_0013": 0.056, "DJI_0762": 0.075,
}
"""Ground sample distance per sequence, metres: :data:`CAR_LENGTH_M` / :data:`SEQUENCE_CAR_PX`, rounded to
the millimetre."""
FOLDER_GSD_M = {"kit_ais": 0.13, "minsk_drone": 0.06}
"""Fallback ground sample distance of a folder's sequence that is unlisted and has no car, metres."""
DEFAULT_GSD_M = 0.1
"""Fallback for an unlisted sequence without cars in an unknown folder, metres."""
CLASS_NAMES = ("car", "truck", "bus", "minibus", "cyclist")
"""YOLO class names when ``classes.txt`` is absent (the set's order)."""
VEHICLE_TYPES = frozenset({"car", "truck", "bus", "minibus"})
"""Labelled classes that are vehicles satwatch scores; any other (``cyclist``) is don't care."""
SYNTHETIC_SLOT = 1
"""Slot of this set on the synthetic grid (northing 2000 km)."""
ACQUIRED_PLACEHOLDER = datetime(2018, 5, 15, tzinfo=UTC)
"""Acquisition time given to every image: unknown; the source commit date (2018-05-15), which they predate."""
LABEL_EXTRAS = ("vehicle_type", "x_min_px", "y_min_px", "x_max_px", "y_max_px")
"""Extra label columns: the set's class name and the box in pixels of the image (corner-based, x right, y down)."""

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_KIT = re.compile(r"^MOS(\d+)$")
_DRONE = re.compile(r"^(DJI[-_]\d+)[-_]\d+$")
_log = logging.getLogger(__name__)


def sequence_of(stem: str) -> str:
    """Return the image sequence (split group) of an image, from its file stem.

    KIT AIS frames ``MOS155``..``MOS179`` -> ``MOS155-179``, ``MOS74``..``MOS93`` -> ``MOS74-93``,
    ``MunichStreet02-MOS<n>`` -> ``MunichStreet02-MOS74-93``; drone frames ``<video>-<frame>`` -> the video
    (``DJI_0005-0018`` -> ``DJI_0005``); anything else is its own sequence.

    Example:
        >>> sequence_of("MOS160"), sequence_of("DJI-00760-00013"), sequence_of("yakubava")
        ('MOS155-179', 'DJI-00760', 'yakubava')
    """
    if stem.startswith("MunichStreet02-MOS"):
        return "MunichStreet02-MOS74-93"
    kit = _KIT.match(stem)
    if kit:
        number = int(kit.group(1))
        if 155 <= number <= 179:
            return "MOS155-179"
        if 74 <= number <= 93:
            return "MOS74-93"
        return stem
    drone = _DRONE.match(stem)
    return drone.group(1) if drone else stem


def estimate_gsd_m(car_long_sides_px: Iterable[float]) -> float:
    """Ground sample distance from car boxes: :data:`CAR_LENGTH_M` / median long side in pixels (NaN if none).

    Example:
        >>> estimate_gsd_m([30.0, 36.0, 40.0])
        0.125
    """
    sides = np.asarray(list(car_long_sides_px), dtype=np.float64)
    sides = sides[np.isfinite(sides) & (sides > 0)]
    return float(CAR_LENGTH_M / np.median(sides)) if sides.size else float("nan")


@dataclass(frozen=True)
class _Entry:
    """One image with its boxes, before its pixels are read."""

    path: Path
    """Image file."""
    folder: str
    """Folder name (``kit_ais``, ``minsk_drone``)."""
    sequence: str
    """Split group."""
    size: tuple[int, int]
    """``(width, height)`` in pixels."""
    boxes: list[tuple[str, float, float, float, float]]
    """``(class name, x_min, y_min, x_max, y_max)`` in pixels."""


def _class_names(base: Path) -> tuple[str, ...]:
    path = base / "classes.txt"
    if not path.is_file():
        return CLASS_NAMES
    names = tuple(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not names:
        raise InputFileError(f"{path} is empty; it should name the YOLO classes one a line (car, truck, ...)")
    return names


def _read_boxes(path: Path, size: tuple[int, int], names: tuple[str, ...]) -> list[tuple[str, float, float, float,
                                                                                       float]]:
    if not path.is_file():
        raise InputFileError(f"image {path.with_suffix('')} has no YOLO label file {path.name}")
    width, height = size
    boxes = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) != 5:
                raise ValueError(f"{len(fields)} fields")
            index = int(fields[0])
            cx, cy, w, h = (float(v) for v in fields[1:])
            name = names[index]
        except (ValueError, IndexError) as exc:
            raise InputFileError(
                f"{path}:{number}: {line.strip()!r} is not a YOLO box 'class cx cy w h' with a class of "
                f"{', '.join(names)} ({exc})"
            ) from exc
        boxes.append((name, (cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width,
                      (cy + h / 2) * height))
    return boxes


def _entries(base: Path) -> list[_Entry]:
    names = _class_names(base)
    entries = []
    folders = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    for folder in folders:
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES):
            try:
                with Image.open(path) as image:  # header only: size without decoding
                    size = image.size
            except (UnidentifiedImageError, OSError) as exc:
                raise InputFileError(f"cannot read image {path}: {exc}") from exc
            entries.append(_Entry(path=path, folder=folder.name, sequence=sequence_of(path.stem), size=size,
                                  boxes=_read_boxes(path.with_suffix(".txt"), size, names)))
    if not entries:
        raise InputFileError(
            f"{base} holds no aerial_vehicles images (<folder>/<stem>.png|.jpg with a YOLO .txt beside each); "
            "pass the aerial_vehicles folder, or set SATWATCH_REAL_DATA to the folder above it"
        )
    return entries


def _sequence_gsd(entries: list[_Entry]) -> dict[str, float]:
    """Ground sample distance of every sequence: the fixed table, else estimated from its cars."""
    out: dict[str, float] = {}
    for sequence in sorted({e.sequence for e in entries}):
        if sequence in SEQUENCE_GSD_M:
            out[sequence] = SEQUENCE_GSD_M[sequence]
            continue
        members = [e for e in entries if e.sequence == sequence]
        gsd = estimate_gsd_m(max(x1 - x0, y1 - y0) for e in members for name, x0, y0, x1, y1 in e.boxes
                             if name == "car")
        if not np.isfinite(gsd):
            gsd = FOLDER_GSD_M.get(members[0].folder, DEFAULT_GSD_M)
            _log.warning("aerial sequence %s has no car to measure its resolution; using %.3f m", sequence, gsd)
        out[sequence] = gsd
    return out


def _read_rgb(path: Path) -> npt.NDArray[np.float32]:
    """(3, H, W) float32 linear values 0..1 of an 8-bit sRGB image (:func:`~satwatch.imagery.bands.srgb_to_linear`)."""
    try:
        with Image.open(path) as image:
            if image.mode not in ("RGB", "L", "RGBA", "P"):
                raise InputFileError(f"{path} is a {image.mode} image; the set's images are 8-bit RGB")
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            bands = [np.asarray(band) for band in rgb.split()]  # contiguous (H, W) uint8 planes
    except (UnidentifiedImageError, OSError) as exc:
        raise InputFileError(f"cannot read image {path}: {exc}") from exc
    data = np.empty((3, *bands[0].shape), dtype=np.float32)
    for i, band in enumerate(bands):
        data[i] = srgb_to_linear(band)
    return data


def _labels(entry: _Entry, scene: Scene, gsd: float) -> list[dict[str, Any]]:
    if not entry.boxes:
        return []
    corners = np.array([box[1:] for box in entry.boxes], dtype=np.float64)
    lon, lat = pixel_to_lonlat(scene.crs, scene.transform, (corners[:, 0] + corners[:, 2]) / 2,
                               (corners[:, 1] + corners[:, 3]) / 2)
    rows = []
    for (name, x0, y0, x1, y1), x, y in zip(entry.boxes, lon, lat, strict=True):
        long_side, short_side = max(x1 - x0, y1 - y0), min(x1 - x0, y1 - y0)
        rows.append({
            "class": "vehicle", "scene_id": scene.meta.scene_id, "visible": name in VEHICLE_TYPES,
            "length_m": long_side * gsd, "width_m": short_side * gsd, "heading_deg": float("nan"),
            "vehicle_type": name, "x_min_px": x0, "y_min_px": y0, "x_max_px": x1, "y_max_px": y1,
            "geometry": Point(float(x), float(y)),
        })
    return rows


def _labelled(index: int, entry: _Entry, data: npt.NDArray[np.float32], gsd: float) -> LabelledScene:
    """One image as a labelled scene, at place ``index`` of the synthetic grid."""
    if data.shape[1:] != (entry.size[1], entry.size[0]):
        raise InputFileError(f"{entry.path}: pixels {data.shape[1:]} differ from its header size {entry.size}")
    transform = synthetic_transform(index, gsd, SYNTHETIC_SLOT)
    meta = SceneMeta(sensor="vhr", acquired=ACQUIRED_PLACEHOLDER, source=SOURCE, simulated=False,
                     scene_id=entry.path.stem)
    scene = Scene(data=data, bands=("R", "G", "B"), crs=SYNTHETIC_CRS, transform=transform, meta=meta)
    labels = labels_frame(_labels(entry, scene, gsd), LABEL_EXTRAS)
    return LabelledScene(scene=scene, labels=labels, group=entry.sequence, exhaustive=True)


def load_images(root: Path | None = None, groups: Iterable[str] | None = None,
                gsd_m: Mapping[str, float] | None = None) -> list[LabelledScene]:
    """Read the images of the set (all, or those of some sequences) with their vehicle boxes.

    Args:
        root: the ``aerial_vehicles`` folder (holding ``kit_ais/``, ``minsk_drone/``, ``classes.txt``);
            default ``<real data>/aerial_vehicles``
            (:func:`~satwatch.detection.data.labelled.real_data_root`).
        groups: sequences to load (e.g. ``["DJI_0005"]``); default all. All 114 images take ~2 GB as float32.
        gsd_m: ground sample distance per sequence overriding :data:`SEQUENCE_GSD_M`, metres.

    Returns:
        One :class:`LabelledScene` per image, by folder then file name: ``vhr`` scene with bands
        ``("R", "G", "B")`` as float32 ``(3, H, W)`` in 0..1, north-up on the synthetic grid (EPSG:32651) at the
        sequence's pixel size; labels of class ``vehicle`` (``visible`` False for cyclists) with
        :data:`LABEL_EXTRAS`; ``group`` = the sequence; ``exhaustive`` True. Each image keeps its place on the
        synthetic grid whatever ``groups`` selects.

    Raises:
        InputFileError: no images; an unreadable image; an image without its YOLO file or with a bad line.
        UsageError: a group in ``groups`` that the set does not have.

    Example:
        >>> images = load_images(groups=["DJI_0013"])  # doctest: +SKIP
        >>> len(images), images[0].scene.bands, round(images[0].scene.gsd_m, 3)  # doctest: +SKIP
        (4, ('R', 'G', 'B'), 0.056)
    """
    base = Path(root) if root is not None else real_data_root() / SOURCE
    entries = _entries(base)
    present = {e.sequence for e in entries}
    wanted = set(groups) if groups is not None else present
    if wanted - present:
        raise UsageError(f"aerial_vehicles has no sequence {sorted(wanted - present)}; it has {sorted(present)}")
    gsds = {**_sequence_gsd(entries), **(dict(gsd_m) if gsd_m else {})}
    out: list[LabelledScene] = []
    selected = [(index, entry) for index, entry in enumerate(entries) if entry.sequence in wanted]
    # Decoding and the float conversion release the GIL: a few threads overlap them (one image each).
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        pixels = pool.map(_read_rgb, [entry.path for _, entry in selected])
        for (index, entry), data in zip(selected, pixels, strict=True):
            out.append(_labelled(index, entry, data, gsds[entry.sequence]))
    return out
