"""The labelled-scene record shared by the loaders of real labelled sets, and what they have in common.

A :class:`LabelledScene` is one chip or image of a real set with its labels:

- ``scene``: the scene contract (:class:`~satwatch.imagery.scene.Scene`): float32 ``(bands, H, W)``,
  reflectance 0..1 (``s2``, ``vhr``) or sigma0 in dB (``s1``), NaN = no data, a CRS and an affine transform
  whose pixel size is the true ground resolution, ``meta.source`` = the set's name, ``meta.simulated = False``
  and ``meta.scene_id`` = the file stem (unique within a set);
- ``labels``: a GeoDataFrame in EPSG:4326, one row per labelled object, with the columns of
  :data:`LABEL_COLUMNS` (the labels format of :mod:`satwatch.detection.training.evaluate`) plus per-set extras;
- ``group``: the split key (acquisition date, package or image sequence), never a chip or a frame, because
  chips of one date overlap and frames of one sequence show the same objects;
- ``exhaustive``: whether every object of the labelled class in the scene is labelled.

A :class:`ValidationItem` is a scene with its labels as a detector is scored on it (a chip perhaps placed on a
clutter canvas, whether its negatives are known, the area scored): the real validation sets are made of them, and
so are the real training scenes that :mod:`satwatch.detection.data.training_data` reads.

Sets that are not georeferenced (OpenSARShip chips, aerial images) are placed on a **synthetic grid**
(:func:`synthetic_transform`): UTM zone 51N (:data:`SYNTHETIC_CRS`), north-up, at the set's true pixel size,
each scene at its own origin far from every other. Their positions are synthetic: only positions *within* a
scene mean anything (distances and directions in metres, matching detections to labels); the longitude and
latitude of their labels are not places on Earth.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from satwatch.errors import UsageError
from satwatch.imagery.scene import Scene

__all__ = [
    "DATA_ROOT",
    "LABEL_COLUMNS",
    "SYNTHETIC_CRS",
    "SYNTHETIC_SPACING_M",
    "LabelledScene",
    "ValidationItem",
    "groups_of",
    "labels_frame",
    "measure_footprint",
    "pixel_to_lonlat",
    "real_data_root",
    "split_by_group",
    "synthetic_transform",
]

LABEL_COLUMNS = ("class", "scene_id", "visible", "length_m", "width_m", "heading_deg")
"""Columns every loader's labels have, in this order, before the per-set extras and ``geometry``."""
SYNTHETIC_CRS = CRS.from_epsg(32651)
"""CRS of the synthetic grid for sets without georeferencing: WGS 84 / UTM zone 51N (metres)."""
SYNTHETIC_SPACING_M = 5_000.0
"""Distance between the origins of two scenes on the synthetic grid, metres (larger than any scene)."""
_SYNTHETIC_COLUMNS = 40
_SYNTHETIC_EASTING0 = 400_000.0
_SYNTHETIC_NORTHING0 = 1_000_000.0


def real_data_root() -> Path:
    """Folder holding the real labelled sets: ``$SATWATCH_REAL_DATA``, else ``<project root>/../shared/data``.

    Read at each call, so a test or a notebook can point the loaders elsewhere by setting the variable.
    """
    env = os.environ.get("SATWATCH_REAL_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[4] / "shared" / "data"


DATA_ROOT = real_data_root()
"""The value of :func:`real_data_root` when the package was imported."""


@dataclass(frozen=True)
class LabelledScene:
    """One chip or image of a real labelled set, with its labels and split key."""

    scene: Scene
    """The pixels (float32 ``(bands, H, W)``, NaN = no data) on a grid whose pixel is the true ground size;
    ``meta.source`` is the set's name, ``meta.simulated`` False, ``meta.scene_id`` the file stem."""
    labels: gpd.GeoDataFrame
    """Labelled objects in EPSG:4326, one Point (the object's centre) per row: :data:`LABEL_COLUMNS` (``class``
    ``vessel`` or ``vehicle``; ``visible`` False = don't care; ``length_m``, ``width_m`` in metres;
    ``heading_deg`` 0..180 clockwise from the grid's north, NaN unknown) plus per-set extras."""
    group: str
    """Split key: acquisition date, package or image sequence; scenes of one group must stay on one side."""
    exhaustive: bool
    """True when every object of the labelled class in the scene is labelled, so an unmatched detection is a
    false alarm; False when only some objects are labelled (one AIS ship per chip)."""

    @property
    def scene_id(self) -> str:
        """The scene's id (its file stem)."""
        return self.scene.meta.scene_id


@dataclass(frozen=True)
class ValidationItem:
    """One validation scene with its labels and how to score it.

    Made by the real validation sets (:mod:`satwatch.detection.training.validation`) and, for the training groups,
    by :func:`satwatch.detection.data.training_data.real_training_items`.
    """

    scene: Scene
    """The scene as a detector receives it (a chip may sit on a clutter canvas)."""
    labels: gpd.GeoDataFrame
    """Labels (EPSG:4326): ``class``, ``scene_id``, ``visible``, ``length_m`` where known."""
    negatives_known: bool
    """Every object of the class is labelled, so unmatched detections are false alarms."""
    scored_area: Any = None
    """Shapely polygon (EPSG:4326) outside which detections are dropped (the real chip), or None: everywhere."""
    water_km2: float = 0.0
    """Observed water (vessels) or land (vehicles) where false alarms are counted, km2."""


def groups_of(items: Iterable[LabelledScene]) -> list[str]:
    """Sorted distinct groups of ``items``.

    Example:
        >>> groups_of([])
        []
    """
    return sorted({item.group for item in items})


def split_by_group(
    items: Sequence[LabelledScene], validation_groups: Iterable[str]
) -> tuple[list[LabelledScene], list[LabelledScene]]:
    """Split ``items`` into ``(train, validation)`` by group, so that no group is on both sides.

    Every scene of a group in ``validation_groups`` goes to validation, every other scene to train; order is
    kept.

    Raises:
        UsageError: a validation group that no item has (a typo would otherwise validate on nothing).

    Example:
        >>> train, validation = split_by_group([], ())
        >>> train, validation
        ([], [])
    """
    wanted = set(validation_groups)
    present = {item.group for item in items}
    unknown = sorted(wanted - present)
    if unknown:
        raise UsageError(
            f"validation groups {unknown} are not in the data; choose among {sorted(present)}"
        )
    train = [item for item in items if item.group not in wanted]
    validation = [item for item in items if item.group in wanted]
    return train, validation


def synthetic_transform(index: int, gsd_m: float, slot: int = 0) -> Affine:
    """North-up transform of scene number ``index`` on the synthetic grid (:data:`SYNTHETIC_CRS`).

    Scenes are laid out in rows of 40, :data:`SYNTHETIC_SPACING_M` apart; ``slot`` (one per set) moves the
    whole layout 1000 km north, so scenes of different sets never overlap either. Any scene smaller than the
    spacing fits. The origins are deterministic (they depend on ``index``, ``slot`` only) and meaningless.

    Example:
        >>> synthetic_transform(41, 10.0, slot=1)
        Affine(10.0, 0.0, 405000.0,
               0.0, -10.0, 1995000.0)
    """
    if index < 0 or slot < 0 or gsd_m <= 0:
        raise ValueError(f"synthetic grid needs index >= 0, slot >= 0, gsd > 0 (got {index}, {slot}, {gsd_m})")
    x0 = _SYNTHETIC_EASTING0 + (index % _SYNTHETIC_COLUMNS) * SYNTHETIC_SPACING_M
    y0 = _SYNTHETIC_NORTHING0 * (1 + slot) - (index // _SYNTHETIC_COLUMNS) * SYNTHETIC_SPACING_M
    return Affine(gsd_m, 0.0, x0, 0.0, -gsd_m, y0)


def pixel_to_lonlat(crs: CRS, transform: Affine, cols: Any, rows: Any) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes (EPSG:4326) of pixel coordinates.

    Args:
        crs: CRS of the grid.
        transform: pixel-to-CRS affine transform (corner of pixel (0, 0)).
        cols: column coordinates (0.5 = centre of the first column), scalar or array.
        rows: row coordinates, same shape as ``cols``.

    Returns:
        ``(lon, lat)`` float64 arrays of the shape of ``cols``.
    """
    c = np.asarray(cols, dtype=np.float64)
    r = np.asarray(rows, dtype=np.float64)
    x = transform.c + transform.a * c + transform.b * r
    y = transform.f + transform.d * c + transform.e * r
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def measure_footprint(footprint: BaseGeometry) -> tuple[Point, float, float, float]:
    """Centre, length, width and heading of an object's outline given in lon/lat (EPSG:4326).

    The outline (Polygon or MultiPolygon: all parts together) is projected to a transverse Mercator centred on
    it, where grid north is true north and distances are metres; its minimum rotated rectangle gives the
    length (long side), width (short side) and heading (direction of the long side, degrees clockwise from
    north, 0..180).

    Returns:
        ``(centre, length_m, width_m, heading_deg)``; ``centre`` is the rectangle's centre in lon/lat.

    Example:
        >>> from shapely.geometry import box
        >>> _, length, width, heading = measure_footprint(box(10.0, 54.0, 10.001, 54.0001))
        >>> round(length), round(width), round(heading)
        (66, 11, 90)
    """
    if footprint.is_empty:
        raise ValueError("cannot measure an empty outline")
    lon0, lat0 = footprint.centroid.x, footprint.centroid.y
    local = CRS.from_proj4(f"+proj=tmerc +lat_0={lat0} +lon_0={lon0} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m")
    to_local = Transformer.from_crs(4326, local, always_xy=True)
    projected = shapely.transform(footprint, lambda xy: np.column_stack(to_local.transform(xy[:, 0], xy[:, 1])))
    rect = shapely.minimum_rotated_rectangle(projected)
    coords = np.asarray(shapely.get_coordinates(rect), dtype=np.float64)
    if len(coords) < 4:  # degenerate outline (a line or a point): no width
        coords = np.vstack([coords, coords[:1]])
    edges = np.diff(coords[:3], axis=0)
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    long_edge = edges[int(np.argmax(lengths))]
    heading = math.degrees(math.atan2(long_edge[0], long_edge[1])) % 180.0
    centre_xy = rect.centroid
    lon, lat = Transformer.from_crs(local, 4326, always_xy=True).transform(centre_xy.x, centre_xy.y)
    return Point(lon, lat), float(lengths.max()), float(lengths.min()), float(heading)


def labels_frame(rows: Sequence[Mapping[str, Any]], extras: Sequence[str] = ()) -> gpd.GeoDataFrame:
    """Build a labels frame (EPSG:4326) from dicts holding :data:`LABEL_COLUMNS`, ``extras`` and ``geometry``.

    Columns come in the order :data:`LABEL_COLUMNS`, ``extras``, ``geometry``; ``visible`` is bool and the
    measures float64. An empty ``rows`` gives an empty frame with the same columns.
    """
    columns = [*LABEL_COLUMNS, *extras]
    frame = pd.DataFrame([{k: row.get(k) for k in columns} for row in rows], columns=columns)
    frame["visible"] = frame["visible"].astype(bool)
    for col in ("length_m", "width_m", "heading_deg"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(np.float64)
    geometry = [row["geometry"] for row in rows]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=4326), crs=4326)
