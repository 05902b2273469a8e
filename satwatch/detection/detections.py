"""The detections contract: one GeoDataFrame row per detected object, in EPSG:4326.

Columns (:data:`DETECTION_COLUMNS`, dtypes in :data:`DETECTION_DTYPES`), then ``geometry``:

============== ======= ===============================================================================
column         dtype   meaning
============== ======= ===============================================================================
``class``      str     ``vessel``, ``vehicle`` or ``encampment``
``score``      float64 detector confidence 0..1
``scene_id``   str     the scene the object was found in
``acquired``   str     acquisition time of that scene, UTC ISO 8601 (``YYYY-MM-DDTHH:MM:SSZ``)
``sensor``     str     ``s2``, ``s1`` or ``vhr``
``aoi``        str     AOI id of the scene (empty when unknown)
``simulated``  bool    found in simulated imagery (a demonstration, never evidence)
``detector``   str     detector name and version, e.g. ``baseline-cfar-1``
``length_m``   float64 object length, metres (NaN when not measured)
``width_m``    float64 object width, metres (NaN when not measured)
``heading_deg`` float64 vessels: orientation of the long axis, degrees clockwise from the grid north of the
                       scene CRS, in [0, 180) (an axis, not a direction of travel); NaN for other classes
``area_m2``    float64 geodesic area of polygon detections, m2; NaN for points
============== ======= ===============================================================================

Vessels are Points at the object's centre; encampments and vehicle parks are Polygons. Detectors produce
:class:`Detection` records in the scene's pixel grid (or its CRS) and turn them into the contract with
:func:`detections_from_records`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Point, Polygon

from satwatch.errors import DetectionError
from satwatch.imagery.scene import Scene, format_acquired

__all__ = [
    "DETECTION_CLASSES",
    "DETECTION_COLUMNS",
    "DETECTION_DTYPES",
    "Detection",
    "as_detections",
    "concat_detections",
    "detections_from_records",
    "empty_detections",
    "ground_axes_m",
]

DETECTION_CLASSES = ("vessel", "vehicle", "encampment")
"""Classes a detection can have."""
DETECTION_DTYPES: dict[str, str] = {
    "class": "str",
    "score": "float64",
    "scene_id": "str",
    "acquired": "str",
    "sensor": "str",
    "aoi": "str",
    "simulated": "bool",
    "detector": "str",
    "length_m": "float64",
    "width_m": "float64",
    "heading_deg": "float64",
    "area_m2": "float64",
}
"""Column name -> pandas dtype of the detections contract (``str`` is pandas' default string dtype)."""
DETECTION_COLUMNS: tuple[str, ...] = tuple(DETECTION_DTYPES)
"""Attribute columns of the detections contract, in order (``geometry`` follows them)."""
_MEASUREMENTS = ("length_m", "width_m", "heading_deg", "area_m2")
_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Detection:
    """One detected object, before it is placed on the map: what a detector returns per object.

    Pixel space (``space="pixel"``) uses the scene's pixel grid with ``x`` = column and ``y`` = row measured
    from the upper-left corner of pixel (0, 0), so the centre of pixel ``(row, col)`` is ``(col + 0.5,
    row + 0.5)``: exactly the coordinates :attr:`Scene.transform` maps to the scene CRS. Map space
    (``space="map"``) uses coordinates in :attr:`Scene.crs`.

    Example:
        >>> Detection("vessel", 0.9, Point(120.5, 48.5), length_m=85.0, width_m=14.0, heading_deg=33.0).cls
        'vessel'
    """

    cls: str
    """Object class, one of :data:`DETECTION_CLASSES` (the ``class`` column)."""
    score: float
    """Confidence 0..1."""
    geometry: Point | Polygon
    """Point at a vessel's centre; Polygon outline of an area object; coordinates in ``space``."""
    space: Literal["pixel", "map"] = "pixel"
    """``pixel``: (column, row) of the scene grid, corner-based; ``map``: coordinates in the scene CRS."""
    length_m: float = math.nan
    """Length of the object's long axis, metres (NaN when not measured)."""
    width_m: float = math.nan
    """Width across the long axis, metres (NaN when not measured)."""
    heading_deg: float = math.nan
    """Vessels: long-axis orientation, degrees clockwise from grid north, normalised to [0, 180); else NaN."""
    area_m2: float = math.nan
    """Polygons: area in m2 (NaN: computed geodesically by :func:`detections_from_records`); points: NaN."""

    def __post_init__(self) -> None:
        if self.cls not in DETECTION_CLASSES:
            raise ValueError(f"detection class {self.cls!r} is not one of {', '.join(DETECTION_CLASSES)}")
        if not (math.isfinite(self.score) and 0.0 <= self.score <= 1.0):
            raise ValueError(f"detection score {self.score} is not in 0..1")
        if self.space not in ("pixel", "map"):
            raise ValueError(f"detection space {self.space!r} is not 'pixel' or 'map'")
        if self.geometry.is_empty or not isinstance(self.geometry, Point | Polygon):
            raise ValueError("a detection's geometry must be a non-empty Point or Polygon")
        if self.cls == "vessel" and not isinstance(self.geometry, Point):
            raise ValueError("a vessel detection is a Point at the vessel's centre")
        if isinstance(self.geometry, Point) and not math.isnan(self.area_m2):
            raise ValueError("a point detection has no area; leave area_m2 as NaN")
        for name in ("length_m", "width_m", "area_m2"):
            value = getattr(self, name)
            if not (math.isnan(value) or value >= 0.0):
                raise ValueError(f"detection {name} must be >= 0 or NaN, not {value}")
        if not math.isnan(self.heading_deg):
            if self.cls != "vessel":
                raise ValueError(f"only vessels carry heading_deg; a {self.cls} must leave it NaN")
            if not math.isfinite(self.heading_deg):
                raise ValueError(f"heading_deg {self.heading_deg} is not finite")
            object.__setattr__(self, "heading_deg", float(self.heading_deg) % 180.0)

    @property
    def centre(self) -> tuple[float, float]:
        """``(x, y)`` of the geometry's centroid, in ``space`` coordinates (pixel: column, row)."""
        c = self.geometry.centroid
        return float(c.x), float(c.y)


def empty_detections() -> gpd.GeoDataFrame:
    """Return a detections frame with no rows: the contract's columns and dtypes, EPSG:4326.

    Example:
        >>> list(empty_detections().columns)[:3]
        ['class', 'score', 'scene_id']
    """
    data = {name: pd.Series([], dtype=dtype) for name, dtype in DETECTION_DTYPES.items()}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def ground_axes_m(scene: Scene) -> npt.NDArray[np.float64]:
    """Ground metres per pixel step, at the scene centre, as a 2x2 matrix.

    Column 0 is one step along a pixel row (column + 1), column 1 one step down a column (row + 1); row 0 is
    the grid-east component and row 1 the grid-north component (the +x and +y axes of :attr:`Scene.crs`),
    each scaled to metres geodesically. For a north-up UTM grid of ``g`` metres this is about
    ``[[g, 0], [0, -g]]`` (rows grow southwards). Multiply pixel-space vectors or covariances by it to get
    ground lengths and orientations relative to grid north, for any CRS (UTM, Web Mercator, lon/lat) and
    rotated or non-square pixels.
    """
    t = scene.transform
    cx, cy = t @ (scene.width / 2.0, scene.height / 2.0)
    dx = abs(t.a) + abs(t.b)
    dy = abs(t.d) + abs(t.e)
    tr = Transformer.from_crs(scene.crs, 4326, always_xy=True)
    lon, lat = tr.transform([cx, cx + dx, cx], [cy, cy, cy + dy])
    metres_x = _GEOD.inv(lon[0], lat[0], lon[1], lat[1])[2] / dx
    metres_y = _GEOD.inv(lon[0], lat[0], lon[2], lat[2])[2] / dy
    linear = np.array([[t.a, t.b], [t.d, t.e]], dtype=np.float64)
    return np.diag([metres_x, metres_y]) @ linear


def detections_from_records(records: Iterable[Detection], scene: Scene, *, detector: str) -> gpd.GeoDataFrame:
    """Place detector records on the map: the detections contract, in EPSG:4326.

    Pixel-space geometries go through :attr:`Scene.transform` to the scene CRS, then every geometry is
    reprojected to EPSG:4326 (lon, lat). ``scene_id``, ``acquired``, ``sensor``, ``aoi`` and ``simulated``
    come from ``scene.meta``; ``area_m2`` of polygons left NaN is computed on the WGS84 ellipsoid;
    ``heading_deg`` of non-vessels is NaN.

    Args:
        records: what the detector found in ``scene``.
        scene: the scene the records' pixel coordinates refer to.
        detector: detector name and version written to every row, e.g. ``baseline-cfar-1``.

    Example:
        >>> gdf = detections_from_records([Detection("vessel", 0.8, Point(10.5, 20.5))], scene,
        ...                               detector="baseline-cfar-1")  # doctest: +SKIP
    """
    recs = list(records)
    if not recs:
        return empty_detections()
    geoms = np.array([r.geometry for r in recs], dtype=object)
    in_pixels = np.array([r.space == "pixel" for r in recs])
    t = scene.transform

    def _pixel_to_crs(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack([t.a * xy[:, 0] + t.b * xy[:, 1] + t.c, t.d * xy[:, 0] + t.e * xy[:, 1] + t.f])

    if in_pixels.any():
        geoms[in_pixels] = shapely.transform(geoms[in_pixels], _pixel_to_crs)
    to_4326 = Transformer.from_crs(scene.crs, 4326, always_xy=True)

    def _crs_to_4326(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        lon, lat = to_4326.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    geoms = shapely.transform(geoms, _crs_to_4326)
    area = np.array([r.area_m2 for r in recs], dtype=np.float64)
    for i, geom in enumerate(geoms):
        if isinstance(geom, Polygon) and math.isnan(area[i]):
            area[i] = abs(_GEOD.geometry_area_perimeter(geom)[0])
    meta = scene.meta
    n = len(recs)
    data = {
        "class": [r.cls for r in recs],
        "score": [r.score for r in recs],
        "scene_id": [meta.scene_id] * n,
        "acquired": [format_acquired(meta.acquired)] * n,
        "sensor": [meta.sensor] * n,
        "aoi": [meta.aoi] * n,
        "simulated": [meta.simulated] * n,
        "detector": [detector] * n,
        "length_m": [r.length_m for r in recs],
        "width_m": [r.width_m for r in recs],
        "heading_deg": [r.heading_deg if r.cls == "vessel" else math.nan for r in recs],
        "area_m2": area,
    }
    frame = pd.DataFrame({name: pd.Series(values, dtype=DETECTION_DTYPES[name]) for name, values in data.items()})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(list(geoms), crs=4326), crs=4326)


def _text(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        # GDAL's GeoJSON reader turns ISO 8601 strings into date-times; write them back in the contract's form.
        stamps = pd.to_datetime(series, utc=True)
        return stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ").astype("str")
    return series.astype("object").where(series.notna(), "").astype("str")


def as_detections(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Bring a frame to the detections contract: EPSG:4326, contract columns in order with their dtypes.

    Accepts what :func:`detections_from_records` makes and what ``geopandas.read_file`` gives back for a
    written detections GeoJSON/GeoPackage (date-times parsed by GDAL are formatted back to ISO 8601 text).
    Missing measurement columns become NaN; columns outside the contract are dropped. A frame without a CRS
    is taken to be EPSG:4326 (RFC 7946 GeoJSON). A frame with no rows gives :func:`empty_detections` whatever
    its columns (GDAL reads an empty GeoJSON back without any).

    Raises:
        DetectionError: a required column is missing, a class is unknown, or ``simulated`` has gaps.

    Example:
        >>> as_detections(geopandas.read_file("detections.geojson"))  # doctest: +SKIP
    """
    if len(frame) == 0:
        return empty_detections()
    gdf = frame if frame.crs is not None else frame.set_crs(4326)
    if gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    missing = [c for c in DETECTION_COLUMNS if c not in gdf.columns and c not in _MEASUREMENTS]
    if missing:
        raise DetectionError(f"detections lack the column(s) {', '.join(missing)} of the detections contract")
    data: dict[str, pd.Series] = {}
    for name, dtype in DETECTION_DTYPES.items():
        if name not in gdf.columns:
            data[name] = pd.Series(np.nan, index=gdf.index, dtype="float64")
        elif dtype == "str":
            data[name] = _text(gdf[name])
        elif dtype == "bool":
            col = gdf[name]
            if col.isna().any():
                raise DetectionError(f"detections have rows with no '{name}' value; every row must say true/false")
            data[name] = col.astype("bool")
        else:
            data[name] = pd.to_numeric(gdf[name], errors="raise").astype("float64")
    unknown = sorted(set(data["class"]) - set(DETECTION_CLASSES))
    if unknown:
        raise DetectionError(f"detections have unknown class(es) {unknown}; use {', '.join(DETECTION_CLASSES)}")
    out = gpd.GeoDataFrame(pd.DataFrame(data, index=gdf.index), geometry=gdf.geometry.values, crs=4326)
    return out.reset_index(drop=True)


def concat_detections(frames: Iterable[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Concatenate detection frames (of several scenes) into one, keeping the contract's columns and dtypes.

    Each frame goes through :func:`as_detections`; empty frames add nothing; no frames give
    :func:`empty_detections`.

    Example:
        >>> both = concat_detections([detector.detect(scene_a), detector.detect(scene_b)])  # doctest: +SKIP
    """
    parts = [as_detections(f) for f in frames]
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_detections()
    joined = pd.concat(parts, ignore_index=True)
    return as_detections(gpd.GeoDataFrame(joined, geometry="geometry", crs=4326))
