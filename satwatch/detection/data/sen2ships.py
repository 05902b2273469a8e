"""Loader of the sen2ships dataset: real Sentinel-2 L2A port scenes with hand-labelled ship boxes.

Layout (``../shared/data/sen2ships``, or a clone of GitHub ``ShipDetectionExperts/sen2ships``)::

    <port>/B02.tiff .. B11.tiff   one single-band uint16 GeoTIFF per band, EPSG:3857
    annotations.json              COCO: images[].file_name = port folder; boxes [x, y, w, h] in pixels
    scenes.json                   per port: acquisition date, bands present, width, height

Quirks handled here (all real):

- EPSG:3857 pixels are 10 m *Mercator* units, about 10 m x cos(latitude) on the ground (7-8.5 m for these
  ports): the scene keeps its CRS and transform, and :attr:`Scene.gsd_m` reports the true ground pixel, which
  the CNN uses to resample to its 10 m profile grid;
- values are "Raw" exports, reflectance ~ DN / 65535 (not ESA's DN / 10000); 0 is a valid value, 65535 is
  saturation (kept: a saturated pixel is bright, not missing);
- bands differ by port (``santos`` has B05 instead of B02, ``san_francisco`` only B02 B03 B11,
  ``los_angeles`` only B08 B11): :attr:`Port.missing` lists what a port lacks; nothing is zero-filled;
- a few small boats are not labelled (precision measured on this data is a lower bound).
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from pyproj import CRS

from satwatch.errors import InputFileError
from satwatch.imagery.scene import Scene, SceneMeta
from satwatch.settings import REPO_ROOT

__all__ = ["DEFAULT_ROOT", "S2_BANDS", "Port", "decode_rle", "load_hull_masks", "load_port", "port_names"]

DEFAULT_ROOT = Path(
    os.environ.get("SATWATCH_SEN2SHIPS", REPO_ROOT.parent / "shared" / "data" / "sen2ships")
)
"""``$SATWATCH_SEN2SHIPS``, else ``../shared/data/sen2ships`` relative to the project root."""
S2_BANDS = ("B02", "B03", "B04", "B05", "B08", "B11")
"""Band files a port folder may hold, in scene order."""
DN_SCALE = 65535.0
"""Reflectance = DN / DN_SCALE for these "Raw" exports."""


@dataclass(frozen=True)
class Port:
    """One labelled port scene."""

    name: str
    """Port folder name, e.g. ``genoa`` (also the scene id)."""
    scene: Scene
    """Bands present as reflectance (float32 ``(bands, H, W)``), EPSG:3857, ``meta.source = "sen2ships"``."""
    boxes: npt.NDArray[np.float64]
    """Ship boxes ``(N, 4)`` as ``x, y, w, h`` in pixels of :attr:`scene` (COCO convention, corner-based)."""
    missing: tuple[str, ...]
    """Bands of B02, B03, B04, B08, B11 the port does not have."""


def _root(root: Path | None) -> Path:
    path = Path(root) if root is not None else DEFAULT_ROOT
    if not (path / "annotations.json").is_file():
        raise InputFileError(f"{path} is not a sen2ships folder (no annotations.json)")
    return path


def port_names(root: Path | None = None) -> list[str]:
    """Names of the labelled ports in ``root`` (sorted)."""
    coco = json.loads((_root(root) / "annotations.json").read_text())
    return sorted(str(img["file_name"]) for img in coco["images"])


def load_port(name: str, root: Path | None = None) -> Port:
    """Read one port's bands and ship boxes.

    Raises:
        InputFileError: not a sen2ships folder, unknown port, or no band files.
    """
    base = _root(root)
    _, ships = _ship_annotations(name, base)
    boxes = np.array([a["bbox"] for a in ships], dtype=np.float64).reshape(-1, 4)
    scenes = json.loads((base / "scenes.json").read_text()) if (base / "scenes.json").is_file() else {}
    acquired = datetime.fromisoformat(scenes.get(name, {}).get("acquired", "2023-01-01")).replace(tzinfo=UTC)
    arrays, names = [], []
    crs = transform = None
    for band in S2_BANDS:
        path = base / name / f"{band}.tiff"
        if not path.is_file():
            continue
        # The files' GeoTIFF keys spell out WGS 84 in a way PROJ warns about; the EPSG code is right.
        with rasterio.Env(GTIFF_SRS_SOURCE="EPSG"), rasterio.open(path) as src:
            arrays.append(src.read(1).astype(np.float32) / DN_SCALE)
            crs, transform = src.crs, src.transform
        names.append(band)
    if not arrays or crs is None or transform is None:
        raise InputFileError(f"sen2ships port {name} has no band files in {base / name}")
    meta = SceneMeta(sensor="s2", acquired=acquired, source="sen2ships", simulated=False, aoi="", scene_id=name)
    scene = Scene(data=np.stack(arrays), bands=tuple(names), crs=CRS.from_user_input(crs.to_wkt()),
                  transform=transform, meta=meta)
    missing = tuple(b for b in ("B02", "B03", "B04", "B08", "B11") if b not in names)
    return Port(name=name, scene=scene, boxes=boxes, missing=missing)


def decode_rle(segmentation: str | dict[str, Any], height: int, width: int) -> npt.NDArray[np.bool_]:
    """Decode a COCO uncompressed RLE (column-major run lengths, starting with background) to a mask.

    sen2ships stores each ship's ``segmentation`` as the text of a Python dict (``"{'counts': [...], ...}"``);
    a dict is accepted too.

    Returns:
        ``(height, width)`` boolean mask in the port raster's pixels.
    """
    seg = ast.literal_eval(segmentation) if isinstance(segmentation, str) else segmentation
    flat = np.zeros(height * width, dtype=bool)
    pos, value = 0, False
    for run in seg["counts"]:
        if value:
            flat[pos:pos + run] = True
        pos += int(run)
        value = not value
    mask: npt.NDArray[np.bool_] = flat.reshape((width, height)).T
    return mask


def load_hull_masks(name: str, root: Path | None = None) -> list[npt.NDArray[np.bool_]]:
    """Every labelled ship's pixel mask (RLE) in one port, ``(height, width)`` of the port's rasters each.

    Raises:
        InputFileError: not a sen2ships folder or unknown port.
    """
    image, ships = _ship_annotations(name, _root(root))
    h, w = int(image["height"]), int(image["width"])
    return [decode_rle(a["segmentation"], h, w) for a in ships if a.get("segmentation")]


def _ship_annotations(name: str, base: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The COCO image record of a port and its ship annotations, in file order.

    Raises:
        InputFileError: unknown port.
    """
    coco = json.loads((base / "annotations.json").read_text())
    images = {str(img["file_name"]): img for img in coco["images"]}
    if name not in images:
        raise InputFileError(f"sen2ships has no port {name!r}; it has {', '.join(sorted(images))}")
    image = images[name]
    ship_ids = {c["id"] for c in coco["categories"] if c["name"] == "ship"}
    return image, [a for a in coco["annotations"] if a["image_id"] == image["id"] and a["category_id"] in ship_ids]
