"""Loader of EOTDL's "Sentinel-2-Ships" chips: real Sentinel-2 L2A chips, each with one AIS-matched ship.

Layout (``<real data>/eotdl_s2_ships``, from GitHub ``earthpulse/eotdl`` use case D)::

    chips/ship_<MMSI>_<date>.tif               128 x 128 px, 12 bands int16 (B01 .. B12), EPSG:4326 grid
    chips/ship_<MMSI>_<date>_labels.geojson    one rotated rectangle (Polygon or MultiPolygon) in lon/lat
    chips/ship_<MMSI>_<date>.json              acquisition date and lon/lat bbox of the chip
    labels_px.csv                              per chip: AIS length, width, heading, ship type, status
    crop_S2A_MSIL1C_<sensing time>_*.csv       the same AIS records (``ImageId`` = chip), used without labels_px

Quirks handled here (all real):

- band descriptions are absent: bands are named from eotdl's evalscript order :data:`EOTDL_BANDS`;
- L2A digital numbers: reflectance = DN / 10000 (:data:`DN_SCALE`);
- the grid is EPSG:4326 with pixels of about 0.000157 x 0.000088 degrees: the scene keeps that CRS and
  transform and :attr:`Scene.gsd_m` gives the true ground pixel (~10 m);
- no data: a pixel whose 12 bands are all 0 (the chip's edge outside the tile) becomes NaN in every band. A 0
  in *some* bands is a valid, very dark value (B09 is 0 over half of the water pixels, B06 and B07 thousands
  of times), so it is kept as reflectance 0;
- labels are rotated rectangles placed from AIS and shifted by cross-correlation, or (on 2022-08-12 mostly)
  hand-drawn outlines; the label point is the centre of the polygon's minimum rotated rectangle, and
  ``length_m``, ``width_m``, ``heading_deg`` are measured on that rectangle in metres
  (:func:`~satwatch.detection.data.labelled.measure_footprint`); the AIS values are kept as extras. An outline
  may take in the wake: 10 labels measure more than 25 m longer than AIS says, so for lengths prefer
  ``ais_length_m``;
- 7 labels are MultiPolygons whose parts lie up to ~800 m apart (the AIS rectangle plus outlines of wakes or
  of a neighbouring target's ship): the part nearest the AIS position is the label (``label_parts`` says how
  many there were);
- 11 labels judged doubtful on a visual check (offset, on a quay, at the no-data edge, no ship visible,
  :data:`DOUBTFUL_CHIPS`) are kept with ``visible = False`` (don't care);
- only the AIS target ship is labelled (other ships in a chip, e.g. berthed in Kiel, are not): not
  exhaustive. Chips of one date overlap (same harbour, other target), so the split group is the date.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rasterio
from pyproj import CRS
from shapely.geometry import Point, Polygon, shape
from shapely.geometry.base import BaseGeometry

from satwatch.detection.data.labelled import LabelledScene, labels_frame, measure_footprint, real_data_root
from satwatch.errors import InputFileError
from satwatch.imagery.scene import Scene, SceneMeta

__all__ = ["AIS_COLUMNS", "DN_SCALE", "DOUBTFUL_CHIPS", "EOTDL_BANDS", "LABEL_EXTRAS", "SOURCE", "load_chips"]

SOURCE = "eotdl_s2_ships"
"""The set's name: its folder under the real-data root and ``meta.source`` of its scenes."""
EOTDL_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
"""Band order of the chips (eotdl's Sentinel Hub evalscript), used when the file has no band descriptions."""
DN_SCALE = 10_000.0
"""Reflectance = DN / DN_SCALE (Sentinel Hub L2A, ``units: DN``)."""
DOUBTFUL_CHIPS = frozenset({
    "ship_211769770_2022-08-12", "ship_219006478_2022-08-25", "ship_219018044_2022-08-25",
    "ship_219022903_2022-08-25", "ship_219023648_2022-08-25", "ship_219024604_2022-08-25",
    "ship_220352000_2022-08-25", "ship_241604000_2022-08-25", "ship_273450990_2022-08-25",
    "ship_352335000_2022-08-25", "ship_636092240_2022-08-12",
})
"""Chips whose label is doubtful (the set's MANIFEST.md): loaded with ``visible = False``."""
AIS_COLUMNS = ("mmsi", "ais_length_m", "ais_width_m", "ais_heading_deg", "ship_type", "nav_status", "ais_lon",
               "ais_lat")
"""Extra label columns from the AIS record (heading 0..360 from true north, NaN when unknown; AIS position)."""
LABEL_EXTRAS = (*AIS_COLUMNS, "label_shape", "label_parts")
"""All extra label columns: the AIS record, then ``label_shape`` (``rectangle``: the AIS-placed rectangle;
``outline``: a hand-drawn outline, which may take in the wake) and ``label_parts`` (polygons in the file)."""

_CHIP = re.compile(r"^ship_(?P<mmsi>\d+)_(?P<date>\d{4}-\d{2}-\d{2})$")
_SENSING = re.compile(r"MSIL\w{2}_(\d{8}T\d{6})_")
_CROP_COLUMNS = {"MMSI": "mmsi", "Length": "ais_length_m", "Width": "ais_width_m", "Heading": "ais_heading_deg",
                 "Ship type": "ship_type", "Navigational status": "nav_status", "ImageId": "chip",
                 "Latitude": "ais_lat", "Longitude": "ais_lon"}
_log = logging.getLogger(__name__)


def _chips_dir(root: Path | None) -> Path:
    base = Path(root) if root is not None else real_data_root() / SOURCE
    chips = base / "chips"
    if not chips.is_dir() or not any(chips.glob("ship_*.tif")):
        raise InputFileError(
            f"{base} is not an eotdl_s2_ships folder (no chips/ship_*.tif); pass the folder holding chips/ and "
            "labels_px.csv, or set SATWATCH_REAL_DATA to the folder above it"
        )
    return chips


def _float(value: Any) -> float:
    """Return a table cell as a float (NaN when empty or not a number)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _ais_table(base: Path) -> dict[str, dict[str, Any]]:
    """AIS attributes per chip id, from labels_px.csv, else from the crop_*.csv files (empty when neither)."""
    px = base / "labels_px.csv"
    try:
        if px.is_file():
            table = pd.read_csv(px)
        else:
            crops = sorted(base.glob("crop_*.csv"))
            if not crops:
                return {}
            table = pd.concat([pd.read_csv(p) for p in crops], ignore_index=True).rename(columns=_CROP_COLUMNS)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputFileError(f"cannot read the AIS table of {base}: {exc}") from exc
    if "chip" not in table.columns:
        raise InputFileError(f"the AIS table of {base} has no chip column (labels_px.csv: chip; crop_*.csv: ImageId)")
    out: dict[str, dict[str, Any]] = {}
    for row in table.to_dict("records"):
        record: dict[str, Any] = {}
        for col in ("ais_length_m", "ais_width_m", "ais_heading_deg"):
            value = _float(row.get(col))
            # AIS: 0 length/width = unknown; heading 511 = not available.
            bad = value <= 0 if col != "ais_heading_deg" else not 0 <= value < 360
            record[col] = float("nan") if bad else value
        for col in ("ais_lon", "ais_lat"):
            record[col] = _float(row.get(col))
        mmsi = _float(row.get("mmsi"))
        record["mmsi"] = str(int(mmsi)) if np.isfinite(mmsi) else ""
        for col in ("ship_type", "nav_status"):
            text = row.get(col)
            record[col] = text if isinstance(text, str) else ""
        out[str(row["chip"])] = record
    return out


def _sensing_times(base: Path) -> dict[str, datetime]:
    """Sensing time per date, from the crop_S2?_MSIL1C_<YYYYMMDDTHHMMSS>_*.csv file names."""
    times: dict[str, datetime] = {}
    for path in base.glob("crop_*.csv"):
        match = _SENSING.search(path.name)
        if match:
            when = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
            times[when.date().isoformat()] = when
    return times


def _read_label_geometries(path: Path) -> list[BaseGeometry]:
    if not path.is_file():
        raise InputFileError(f"chip {path.name.removesuffix('_labels.geojson')} has no label file {path}")
    try:
        features = json.loads(path.read_text())["features"]
        geoms = [shape(f["geometry"]) for f in features if f.get("geometry")]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputFileError(f"{path} is not a GeoJSON FeatureCollection of label polygons: {exc}") from exc
    geoms = [g for g in geoms if not g.is_empty]
    if not geoms:
        raise InputFileError(f"{path} holds no label geometry")
    return geoms


def _ship_part(geom: BaseGeometry, ais_lon: float, ais_lat: float) -> tuple[Polygon, int]:
    """Return the polygon of a label that is the AIS ship, and the number of parts the label has.

    A MultiPolygon label holds the AIS-placed rectangle and hand-drawn outlines of other bright things (wakes,
    neighbouring ships); its parts can be hundreds of metres apart. The part nearest the AIS position is the
    ship (the largest part without a position).
    """
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and not g.is_empty]
    if not parts:
        raise InputFileError(f"label geometry {geom.geom_type} is not a Polygon or MultiPolygon")
    candidates = [p for p in parts if p.area > 0] or parts  # one file has a degenerate (zero-area) part
    if np.isfinite(ais_lon) and np.isfinite(ais_lat):
        position = Point(ais_lon, ais_lat)
        best = min(candidates, key=lambda p: (round(p.distance(position), 7), -p.area))
    else:
        best = max(candidates, key=lambda p: p.area)
    return best, len(parts)


def _read_chip(path: Path) -> tuple[np.ndarray, tuple[str, ...], CRS, Any]:
    try:
        # The chips' TIFF headers make GDAL warn about ExtraSamples; the pixels are fine.
        with rasterio.Env(CPL_LOG="/dev/null"), rasterio.open(path) as src:
            dn = src.read()
            descriptions = src.descriptions
            crs, transform = src.crs, src.transform
    except rasterio.errors.RasterioIOError as exc:
        raise InputFileError(f"cannot read chip {path}: {exc}") from exc
    if dn.shape[0] != len(EOTDL_BANDS):
        raise InputFileError(f"chip {path} has {dn.shape[0]} bands; eotdl chips have {len(EOTDL_BANDS)} (B01..B12)")
    if crs is None:
        raise InputFileError(f"chip {path} has no CRS; eotdl chips are on an EPSG:4326 grid")
    named = all(descriptions) and len(set(descriptions)) == len(descriptions)
    bands = tuple(str(d) for d in descriptions) if named else EOTDL_BANDS
    data = dn.astype(np.float32) / np.float32(DN_SCALE)
    data[:, (dn == 0).all(axis=0)] = np.nan
    return data, bands, CRS.from_user_input(crs.to_wkt()), transform


def load_chips(root: Path | None = None) -> list[LabelledScene]:
    """Read every chip of the set with its ship label, sorted by chip id.

    Args:
        root: the ``eotdl_s2_ships`` folder (holding ``chips/``); default ``<real data>/eotdl_s2_ships``
            (:func:`~satwatch.detection.data.labelled.real_data_root`).

    Returns:
        One :class:`LabelledScene` per chip: ``s2`` scene with bands :data:`EOTDL_BANDS` as reflectance
        (float32 ``(12, 128, 128)``, NaN where no data), EPSG:4326 grid, ``scene_id`` = chip id; labels of
        class ``vessel`` (one per chip) with :data:`AIS_COLUMNS` as extras; ``group`` = acquisition date
        (``2022-08-12`` or ``2022-08-25``); ``exhaustive`` False.

    Raises:
        InputFileError: no chips folder, an unreadable chip, a chip without a label file or with a garbled one.

    Example:
        >>> chips = load_chips()  # doctest: +SKIP
        >>> len(chips), chips[0].scene.bands[:3], round(chips[0].scene.gsd_m)  # doctest: +SKIP
        (77, ('B01', 'B02', 'B03'), 10)
    """
    chips_dir = _chips_dir(root)
    base = chips_dir.parent
    ais = _ais_table(base)
    sensing = _sensing_times(base)
    out: list[LabelledScene] = []
    for path in sorted(chips_dir.glob("ship_*.tif")):
        chip = path.stem
        match = _CHIP.match(chip)
        info_path = path.with_suffix(".json")
        date = match.group("date") if match else ""
        if info_path.is_file():
            try:
                date = str(json.loads(info_path.read_text()).get("acquisition-date", date))
            except ValueError as exc:
                raise InputFileError(f"{info_path} is not JSON: {exc}") from exc
        if not date:
            raise InputFileError(f"chip {path} has no date (name ship_<MMSI>_<YYYY-MM-DD>.tif or a .json beside it)")
        acquired = sensing.get(date) or datetime.fromisoformat(date).replace(tzinfo=UTC)
        data, bands, crs, transform = _read_chip(path)
        meta = SceneMeta(sensor="s2", acquired=acquired, source=SOURCE, simulated=False, scene_id=chip)
        scene = Scene(data=data, bands=bands, crs=crs, transform=transform, meta=meta)
        record = ais.get(chip)
        if record is None:
            _log.warning("eotdl chip %s has no AIS record; its AIS columns are empty", chip)
            record = {"mmsi": match.group("mmsi") if match else "", "ais_length_m": float("nan"),
                      "ais_width_m": float("nan"), "ais_heading_deg": float("nan"), "ship_type": "",
                      "nav_status": "", "ais_lon": float("nan"), "ais_lat": float("nan")}
        rows = []
        for geom in _read_label_geometries(path.with_name(f"{chip}_labels.geojson")):
            part, parts = _ship_part(geom, record.get("ais_lon", np.nan), record.get("ais_lat", np.nan))
            centre, length, width, heading = measure_footprint(part)
            shape_kind = "rectangle" if len(np.asarray(part.exterior.coords)) <= 5 else "outline"
            rows.append({"class": "vessel", "scene_id": chip, "visible": chip not in DOUBTFUL_CHIPS,
                         "length_m": length, "width_m": width, "heading_deg": heading, **record,
                         "label_shape": shape_kind, "label_parts": parts, "geometry": centre})
        out.append(LabelledScene(scene=scene, labels=labels_frame(rows, LABEL_EXTRAS), group=date, exhaustive=False))
    return out
