"""Reading the files an evaluation compares: labels (vector files, COCO box annotations) and detections files.

- :func:`read_labels`: a vector file (GeoJSON, GeoPackage; any CRS) or COCO ``annotations.json``;
- :func:`load_coco_labels`: COCO boxes drawn on a raster placed on the map through the raster's transform, as
  polygons in EPSG:4326 (the sen2ships annotations, for training data and validation alike);
- :func:`read_detections`: a detections file (``satwatch detect`` output) in EPSG:4326.

The frames are what :func:`satwatch.detection.training.evaluate.evaluate` matches: ``class``, optional
``scene_id`` and ``visible`` (False: don't care; COCO ``iscrowd = 1`` annotations are don't care).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from satwatch.errors import InputFileError, SceneFormatError, UsageError

__all__ = ["COCO_CATEGORY_CLASSES", "load_coco_labels", "read_detections", "read_labels"]

COCO_CATEGORY_CLASSES: dict[str, str] = {
    "ship": "vessel",
    "boat": "vessel",
    "vessel": "vessel",
    "car": "vehicle",
    "truck": "vehicle",
    "vehicle": "vehicle",
    "encampment": "encampment",
    "camp": "encampment",
}
"""COCO category name (lower case) -> detection class. Other names are kept as they are (lower case)."""

_RASTER_SUFFIXES = (".tif", ".tiff")


def _read_vector(path: Path, what: str) -> gpd.GeoDataFrame:
    if not path.is_file():
        raise InputFileError(f"{what} file {path} does not exist")
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises RuntimeError subclasses, GDAL anything
        raise InputFileError(f"{what} file {path} is not a readable GeoJSON/GeoPackage: {exc}") from exc
    if frame.crs is None:
        frame = frame.set_crs(4326)  # RFC 7946 GeoJSON
    return frame


def read_detections(path: str | Path) -> gpd.GeoDataFrame:
    """Read a detections file (GeoJSON or GeoPackage, e.g. ``satwatch detect`` output) into EPSG:4326.

    Raises:
        InputFileError: the file does not exist or is not a readable vector file.

    Example:
        >>> detections = read_detections("detections.geojson")  # doctest: +SKIP
    """
    frame = _read_vector(Path(path), "detections")
    return frame if frame.crs.to_epsg() == 4326 else frame.to_crs(4326)


def _is_coco(path: Path) -> dict[str, Any] | None:
    if path.suffix.lower() != ".json":
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"labels file {path} is not readable JSON: {exc}") from exc
    if isinstance(data, dict) and "images" in data and "annotations" in data:
        return data
    return None


def read_labels(path: str | Path, raster: str | Path | None = None) -> gpd.GeoDataFrame:
    """Read labels: a vector file (GeoJSON, GeoPackage; any CRS) or COCO ``annotations.json``.

    A ``.json`` file with ``images`` and ``annotations`` is COCO and goes through :func:`load_coco_labels`
    (``raster`` picks the image; without it every image is loaded, rasters found beside the file). Anything
    else is read with geopandas as it is (its CRS kept; a file without one is taken as EPSG:4326).

    Raises:
        InputFileError: the file (or a raster) does not exist or cannot be read.
        UsageError: ``raster`` is given for labels that are not COCO, or names no image of the COCO file.

    Example:
        >>> labels = read_labels("../shared/data/sen2ships/annotations.json", "genoa/B04.tiff")  # doctest: +SKIP
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"labels file {p} does not exist")
    coco = _is_coco(p)
    if coco is not None:
        return _coco_frame(p, coco, raster)
    if raster is not None:
        raise UsageError("--raster is only for COCO labels (annotations.json); GeoJSON labels are already on the map")
    return _read_vector(p, "labels")


def load_coco_labels(
    annotations_path: str | Path, image_name_or_raster: str | Path | None = None
) -> gpd.GeoDataFrame:
    """Load COCO box labels as polygons on the map, in EPSG:4326.

    Each box ``[x, y, w, h]`` (pixels of the image's raster, origin at the upper-left corner of pixel (0, 0))
    becomes a rectangle through the raster's affine transform into its CRS, then is reprojected to EPSG:4326.
    Category names map to classes through :data:`COCO_CATEGORY_CLASSES` (``ship`` -> ``vessel``).

    The raster of an image is ``file_name`` beside the annotations file: that file, or, for a folder (as in
    sen2ships, where ``file_name`` is the port folder holding ``B02.tiff`` ...), the first ``*.tif``/``*.tiff``
    in it by name (all bands of a folder share one grid).

    Args:
        annotations_path: the COCO JSON file.
        image_name_or_raster: ``None`` for every image of the file; an image ``file_name`` (or its stem); or a
            path to the image's raster (a ``str`` naming an existing file counts as a path): the image is the
            one whose ``file_name`` is the raster's name, stem or parent folder's name, or the only image.

    Returns:
        GeoDataFrame (EPSG:4326, Polygons) with ``class``, ``scene_id`` (the image ``file_name``), ``visible``
        (False for ``iscrowd`` annotations: don't care), ``category``, ``annotation_id`` and ``image_id``.

    Raises:
        InputFileError: the annotations file or a raster does not exist or cannot be read.
        UsageError: the image is not in the file, or its raster's size is not the image's.
        SceneFormatError: a raster has no CRS or no transform.

    Example:
        >>> labels = load_coco_labels("../shared/data/sen2ships/annotations.json", "casablanca")  # doctest: +SKIP
        >>> len(labels), labels.crs.to_epsg()  # doctest: +SKIP
        (15, 4326)
    """
    path = Path(annotations_path)
    if not path.is_file():
        raise InputFileError(f"COCO annotations file {path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(f"COCO annotations file {path} is not readable JSON: {exc}") from exc
    return _coco_frame(path, data, image_name_or_raster)


def _coco_frame(path: Path, data: Any, selector: str | Path | None) -> gpd.GeoDataFrame:
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        images = {int(im["id"]): im for im in data["images"]}
        categories = {int(c["id"]): str(c["name"]) for c in data.get("categories", [])}
        annotations = list(data["annotations"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFileError(f"{path} is not a COCO annotations file (images, annotations, categories): {exc}") \
            from exc
    names = {i: str(im.get("file_name", "")) for i, im in images.items()}
    raster: Path | None = None
    if selector is None:
        chosen = sorted(images)
    elif isinstance(selector, Path) or Path(selector).is_file() or Path(selector).suffix.lower() in _RASTER_SUFFIXES:
        raster = Path(selector)
        if not raster.is_file():
            raise InputFileError(f"raster {raster} does not exist")
        keys = {raster.name, raster.stem, raster.parent.name}
        chosen = [i for i, n in names.items() if n in keys or Path(n).name in keys or Path(n).stem in keys]
        if not chosen and len(images) == 1:
            chosen = list(images)
        if len(chosen) != 1:
            raise UsageError(f"raster {raster} matches {len(chosen)} images of {path} by name; name its file or "
                             f"folder after one file_name of: {', '.join(sorted(names.values()))}")
    else:
        chosen = [i for i, n in names.items() if selector in (n, Path(n).stem)]
        if not chosen:
            raise UsageError(f"no image {selector!r} in {path}; its images are {', '.join(sorted(names.values()))}")
    rows: list[dict[str, Any]] = []
    geoms: list[shapely.Geometry] = []
    by_image: dict[int, list[dict[str, Any]]] = {i: [] for i in chosen}
    for ann in annotations:
        image_id = int(ann.get("image_id", -1))
        if image_id in by_image:
            by_image[image_id].append(ann)
    for image_id in chosen:
        image = images[image_id]
        name = names[image_id]
        src_path = raster if raster is not None else _find_raster(path.parent, name)
        gdal_log = logging.getLogger("rasterio._env")
        level = gdal_log.level
        try:
            # GTIFF_SRS_SOURCE=EPSG: the official definition of the EPSG code in the GeoTIFF keys. sen2ships'
            # keys name a datum "EPSG:1" that PROJ warns about on every open, twice: those warnings are muted
            # while the header is read (only the CRS code, transform and size are used).
            gdal_log.setLevel(logging.ERROR)
            with rasterio.Env(GTIFF_SRS_SOURCE="EPSG"), rasterio.open(src_path) as src:
                crs = CRS.from_wkt(src.crs.to_wkt()) if src.crs is not None else None
                transform, width, height = src.transform, src.width, src.height
        except RasterioIOError as exc:
            raise InputFileError(f"raster {src_path} of image {name!r} is not a readable GeoTIFF: {exc}") from exc
        finally:
            gdal_log.setLevel(level)
        if crs is None or transform.is_identity:
            raise SceneFormatError(f"raster {src_path} has no CRS or geotransform; the COCO boxes of {name!r} "
                                   "cannot be placed on the map")
        w_img, h_img = image.get("width"), image.get("height")
        if w_img is not None and h_img is not None and (int(w_img), int(h_img)) != (width, height):
            raise UsageError(f"raster {src_path} is {width} x {height} px but COCO image {name!r} is {w_img} x "
                             f"{h_img}; give the raster the boxes were drawn on")
        anns = by_image[image_id]
        boxes = np.array([[float(v) for v in a["bbox"]] for a in anns], dtype=np.float64).reshape(-1, 4)
        x0, y0 = boxes[:, 0], boxes[:, 1]
        x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
        px = np.stack([x0, x1, x1, x0], axis=1)
        py = np.stack([y0, y0, y1, y1], axis=1)
        mx = transform.a * px + transform.b * py + transform.c
        my = transform.d * px + transform.e * py + transform.f
        rings = shapely.polygons(np.stack([mx, my], axis=2))
        placed = gpd.GeoSeries(np.asarray(rings), crs=crs).to_crs(4326)
        geoms.extend(placed.to_list())
        for a in anns:
            category = categories.get(int(a.get("category_id", -1)), str(a.get("category_id", ""))).lower()
            rows.append({
                "class": COCO_CATEGORY_CLASSES.get(category, category), "scene_id": name,
                "visible": not bool(a.get("iscrowd", 0)), "category": category,
                "annotation_id": int(a.get("id", -1)), "image_id": image_id,
            })
    columns = ["class", "scene_id", "visible", "category", "annotation_id", "image_id"]
    frame = pd.DataFrame(rows, columns=columns).astype(
        {"class": "str", "scene_id": "str", "visible": "bool", "category": "str", "annotation_id": "int64",
         "image_id": "int64"})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def _find_raster(root: Path, file_name: str) -> Path:
    candidate = root / file_name
    if candidate.is_file():
        return candidate
    if candidate.is_dir():
        found = sorted(p for p in candidate.iterdir() if p.is_file() and p.suffix.lower() in _RASTER_SUFFIXES)
        if found:
            return found[0]
    raise InputFileError(f"no raster for COCO image {file_name!r}: expected the file or a folder of GeoTIFFs "
                         f"{candidate}; pass --raster")
