r"""Loader of OpenSARShip packages: real Sentinel-1 IW GRD chips, each centred on one ship matched to AIS.

Layout (``<real data>/opensarship``: the release zips, read in place, never extracted)::

    S1A_IW_GRDH_1SDV_<start>_<stop>_..._<id>.zip
        [<package>/]Patch_Cal/<Type>_x<col>_y<row>.tif   calibrated sigma0 (linear), float32, bands VH then VV
        [<package>/]Ship.xml                             one <ship> per chip: SAR, AIS, MarineTraffic, ChipNoise

Quirks handled here (all real):

- the chips store **VH first, then VV** and linear sigma0: the scene has bands ``("VV", "VH")`` in dB
  (``10 log10``; values <= 0 become NaN). :func:`check_band_order` confirms the order per package: the median
  over its chips of ``median VV - median VH`` must be positive (open sea: VV ~8-10 dB above VH). One chip of
  the 2015 package (``Cargo_x11505_y10248``) has VV 0.5 dB *below* VH, so the check is per package, not per
  chip;
- ``Ship.xml`` ends with a malformed closing tag ``<\ShipList>`` (2016 packages): :func:`parse_ship_list`
  turns ``<\Tag>`` into ``</Tag>`` and, should the file still not parse, reads each ``<ship>`` on its own;
- chips are **not georeferenced**: each is placed on the synthetic grid of
  :func:`~satwatch.detection.data.labelled.synthetic_transform` (EPSG:32651, 10 m pixels, north-up, its own
  origin; ``slot`` :data:`SYNTHETIC_SLOT`). Positions are synthetic: only positions within a chip mean
  anything. The real centre is kept in the ``lon``, ``lat`` extras;
- the chips are SAR-geometry cut-outs, a **mirror image** of the map: ``Chip_Direction`` (the ship's axis in the
  chip, clockwise from the chip's top, equal to the Head -> Tail direction) plus ``North_Direction`` (the same
  axis as an azimuth from true north, close to the AIS heading) is constant per package (~10 deg in 2015, ~170
  deg in 2016). A heading from true north therefore does not describe the chip: ``heading_deg`` is the axis in
  the chip, i.e. from the synthetic grid's north (``Chip_Direction`` mod 180), and the AIS heading from true
  north is the extra ``ais_heading_deg``;
- the ship is at the chip's centre; the label point is the midpoint of the annotated Head and Tail pixels when
  they fall inside the chip (within a pixel or two of the centre), else the centre;
- ``length_m`` = AIS ``Length``, else MarineTraffic ``Length_overall`` (NaN when both are 0 or ``NA``);
  ``width_m`` likewise from ``Width`` / ``Breadth_extreme``; AIS ``True_Head`` 511 = unknown, then ``Cog``
  (tenths of a degree, 3600 = unknown);
- ``ChipNoise`` (``Port``, ``Multi_ship``) is absent from the 2015 package and from most ships of the others:
  ``port`` and ``multi_ship`` are nullable booleans, NA when not recorded;
- only the centred ship is labelled (other ships in ``multi_ship`` chips are real but unlabelled): not
  exhaustive. The split group is the package's acquisition date.
"""

from __future__ import annotations

import math
import re
import warnings
import xml.etree.ElementTree as ET
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.io import MemoryFile
from shapely.geometry import Point

from satwatch.detection.data.labelled import (
    SYNTHETIC_CRS,
    LabelledScene,
    labels_frame,
    pixel_to_lonlat,
    real_data_root,
    synthetic_transform,
)
from satwatch.errors import InputFileError
from satwatch.imagery.scene import Scene, SceneMeta

__all__ = [
    "GSD_M",
    "LABEL_EXTRAS",
    "SOURCE",
    "SYNTHETIC_SLOT",
    "check_band_order",
    "load_chips",
    "parse_ship_list",
    "sigma0_db",
    "vv_minus_vh_db",
]

SOURCE = "opensarship"
"""The set's name: its folder under the real-data root and ``meta.source`` of its scenes."""
GSD_M = 10.0
"""Pixel size of the GRD chips, metres (Sentinel-1 IW GRDH)."""
SYNTHETIC_SLOT = 0
"""Slot of this set on the synthetic grid (northing 1000 km)."""
LABEL_EXTRAS = (
    "ship_type", "elaborated_type", "ais_ship_type", "mmsi", "ais_length_m", "ais_width_m", "mt_length_m",
    "mt_width_m", "sar_length_m", "ais_heading_deg", "sog_kn", "port", "multi_ship", "lon", "lat", "package",
)
"""Extra label columns: OpenSARShip type (file name), MarineTraffic type, AIS type code, MMSI, AIS and
MarineTraffic length/width (m, NaN unknown), length measured on the image (``Manual_Length``, m), AIS heading
from true north (0..360, NaN unknown), speed (knots), ``port``/``multi_ship`` (nullable bool), real centre
(lon, lat) and the package's name."""

_CHIP = re.compile(r"(?:^|/)Patch_Cal/(?P<type>[^/]+?)_x(?P<x>\d+)_y(?P<y>\d+)\.tiff?$", re.IGNORECASE)
_START = re.compile(r"_(\d{8}T\d{6})_")
_BAD_CLOSE = re.compile(r"<\\\s*([A-Za-z_][\w.-]*)\s*>")
_SHIP = re.compile(r"<ship>.*?</ship>", re.DOTALL)


def parse_ship_list(text: bytes | str) -> list[ET.Element]:
    r"""Parse an OpenSARShip ``Ship.xml`` leniently and return its ``<ship>`` elements in file order.

    Closing tags written with a backslash (``<\ShipList>``) are repaired; if the document still does not
    parse, each ``<ship>...</ship>`` block is parsed on its own and unreadable blocks are skipped.

    Raises:
        InputFileError: no ``<ship>`` element could be read.

    Example:
        >>> [s.findtext("SARShipInformation/Center_x") for s in parse_ship_list(
        ...     "<ShipList><ship><SARShipInformation><Center_x>7</Center_x></SARShipInformation></ship><\\ShipList>")]
        ['7']
    """
    raw = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    fixed = _BAD_CLOSE.sub(r"</\1>", raw)
    try:
        ships = ET.fromstring(fixed).iter("ship")
        found = list(ships)
    except ET.ParseError:
        found = []
        for block in _SHIP.findall(fixed):
            try:
                found.append(ET.fromstring(block))
            except ET.ParseError:
                continue
    if not found:
        raise InputFileError("Ship.xml holds no readable <ship> element; is it an OpenSARShip Ship.xml?")
    return found


def sigma0_db(linear: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
    """Linear sigma0 to dB (``10 log10``) as float32; values <= 0 or not finite become NaN.

    Example:
        >>> sigma0_db(np.array([0.1, 0.0, -1.0])).tolist()
        [-10.0, nan, nan]
    """
    values = np.asarray(linear, dtype=np.float64)
    out = np.full(values.shape, np.nan, dtype=np.float32)
    good = np.isfinite(values) & (values > 0)
    out[good] = (10.0 * np.log10(values[good])).astype(np.float32)
    return out


def vv_minus_vh_db(scene: Scene) -> float:
    """Median VV minus median VH over the scene, dB (NaN ignored): about +6..+10 dB over open sea."""
    return float(np.nanmedian(scene.band("VV")) - np.nanmedian(scene.band("VH")))


def check_band_order(scenes: list[Scene], where: str) -> float:
    """Confirm that VV is brighter than VH over a package and return the median of :func:`vv_minus_vh_db`.

    Raises:
        InputFileError: the median difference is not positive, i.e. the bands are not stored VH, VV as
            OpenSARShip documents (``where`` names the package).
    """
    diffs = [vv_minus_vh_db(s) for s in scenes]
    median = float(np.nanmedian(diffs)) if diffs else float("nan")
    if not median > 0:
        raise InputFileError(
            f"{where}: VV is not brighter than VH (median VV - VH = {median:.1f} dB over {len(diffs)} chips); "
            "OpenSARShip chips store VH first, then VV: check that these are OpenSARShip Patch_Cal chips"
        )
    return median


def _num(ship: ET.Element, path: str) -> float:
    text = ship.findtext(path)
    try:
        return float(text) if text is not None else math.nan
    except ValueError:
        return math.nan  # "NA", empty


def _text(ship: ET.Element, path: str) -> str:
    text = (ship.findtext(path) or "").strip()
    return "" if text == "NA" else text


def _positive(value: float) -> float:
    return value if value > 0 else math.nan


def _flag(ship: ET.Element, path: str) -> bool | None:
    value = _num(ship, path)
    return None if math.isnan(value) else value != 0


def _ship_position(ship: ET.Element, width: int, height: int) -> tuple[float, float]:
    """Ship centre in chip pixel coordinates (0.5 = centre of the first column/row)."""
    xs = (_num(ship, "SARShipInformation/UpperLeft_x"), _num(ship, "SARShipInformation/LowerRight_x"))
    ys = (_num(ship, "SARShipInformation/UpperLeft_y"), _num(ship, "SARShipInformation/LowerRight_y"))
    head = (_num(ship, "SARShipInformation/Head_x"), _num(ship, "SARShipInformation/Head_y"))
    tail = (_num(ship, "SARShipInformation/Tail_x"), _num(ship, "SARShipInformation/Tail_y"))
    values = [*xs, *ys, *head, *tail]
    if all(math.isfinite(v) for v in values) and abs(xs[0] - xs[1]) + 1 == width and abs(ys[0] - ys[1]) + 1 == height:
        col = (head[0] + tail[0]) / 2 - min(xs) + 0.5
        row = (head[1] + tail[1]) / 2 - min(ys) + 0.5
        if 0 <= col <= width and 0 <= row <= height:
            return col, row
    return width / 2.0, height / 2.0


def _chip_heading(ship: ET.Element) -> float:
    """Ship axis in the chip, degrees clockwise from the chip's top, 0..180 (NaN unknown)."""
    direction = _num(ship, "SARShipInformation/Chip_Direction")
    if math.isfinite(direction):
        return direction % 180.0
    hx, hy = _num(ship, "SARShipInformation/Head_x"), _num(ship, "SARShipInformation/Head_y")
    tx, ty = _num(ship, "SARShipInformation/Tail_x"), _num(ship, "SARShipInformation/Tail_y")
    if all(math.isfinite(v) for v in (hx, hy, tx, ty)) and (hx, hy) != (tx, ty):
        return math.degrees(math.atan2(tx - hx, -(ty - hy))) % 180.0
    return math.nan


def _ais_heading(ship: ET.Element) -> float:
    true_head = _num(ship, "AISShipInformation/True_Head")
    if 0 <= true_head < 360:
        return true_head
    cog = _num(ship, "AISShipInformation/Cog") / 10.0
    return cog if 0 <= cog < 360 else math.nan


def _label(ship: ET.Element, ship_type: str, package: str, scene_id: str, position: Point) -> dict[str, Any]:
    ais_length = _positive(_num(ship, "AISShipInformation/Length"))
    ais_width = _positive(_num(ship, "AISShipInformation/Width"))
    mt_length = _positive(_num(ship, "MarineTrafficInformation/Length_overall"))
    mt_width = _positive(_num(ship, "MarineTrafficInformation/Breadth_extreme"))
    sog = _num(ship, "AISShipInformation/Sog")
    ais_type = _num(ship, "AISShipInformation/Ship_Type")
    mmsi = _num(ship, "AISShipInformation/MMSI")
    return {
        "class": "vessel", "scene_id": scene_id, "visible": True,
        "length_m": ais_length if math.isfinite(ais_length) else mt_length,
        "width_m": ais_width if math.isfinite(ais_width) else mt_width,
        "heading_deg": _chip_heading(ship),
        "ship_type": ship_type,
        "elaborated_type": _text(ship, "MarineTrafficInformation/Elaborated_type"),
        "ais_ship_type": int(ais_type) if math.isfinite(ais_type) else -1,
        "mmsi": str(int(mmsi)) if math.isfinite(mmsi) else "",
        "ais_length_m": ais_length, "ais_width_m": ais_width, "mt_length_m": mt_length, "mt_width_m": mt_width,
        "sar_length_m": _positive(_num(ship, "SARShipInformation/Manual_Length")),
        "ais_heading_deg": _ais_heading(ship),
        "sog_kn": sog / 10.0 if 0 <= sog < 1023 else math.nan,
        "port": _flag(ship, "ChipNoise/Port"), "multi_ship": _flag(ship, "ChipNoise/Multi_ship"),
        "lon": _num(ship, "SARShipInformation/Center_longitude"),
        "lat": _num(ship, "SARShipInformation/Center_latitude"),
        "package": package, "geometry": position,
    }


def _read_chip(data: bytes, where: str) -> npt.NDArray[np.float32]:
    """(2, H, W) sigma0 in dB, bands VV, VH, from a chip stored VH, VV (linear)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with MemoryFile(data) as mem, mem.open() as src:
                linear = src.read()
    except RasterioIOError as exc:
        raise InputFileError(f"cannot read chip {where}: {exc}") from exc
    if linear.shape[0] != 2:
        raise InputFileError(f"chip {where} has {linear.shape[0]} bands; OpenSARShip Patch_Cal chips have 2 (VH, VV)")
    return np.stack([sigma0_db(linear[1]), sigma0_db(linear[0])])


def _package_chips(path: Path, start_index: int, seen: set[str]) -> list[LabelledScene]:
    package = path.stem
    match = _START.search(package)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(f"{path} is not a readable zip ({exc}); OpenSARShip packages are zip files") from exc
    with archive:
        names = archive.namelist()
        if match is None:  # the zip was renamed: the folder inside may still carry the product name
            match = next((m for m in map(_START.search, names) if m), None)
        if match is None:
            raise InputFileError(f"{path}: no acquisition time (S1?_IW_GRDH_1SDV_<YYYYMMDDTHHMMSS>_...) in its name")
        acquired = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        xml_names = [n for n in names if n.rsplit("/", 1)[-1] == "Ship.xml"]
        if not xml_names:
            raise InputFileError(f"{path} has no Ship.xml; is it an OpenSARShip package?")
        try:
            ships_list = parse_ship_list(archive.read(xml_names[0]))
        except InputFileError as exc:
            raise InputFileError(f"{path}: {exc}") from exc
        ships = {(s.findtext("SARShipInformation/Center_x", "").strip(),
                  s.findtext("SARShipInformation/Center_y", "").strip()): s for s in ships_list}
        chips = sorted(((m, n) for n in names if (m := _CHIP.search(n)) is not None), key=lambda item: item[1])
        if not chips:
            raise InputFileError(f"{path} has no Patch_Cal/<Type>_x<col>_y<row>.tif chips")
        group = acquired.date().isoformat()
        out: list[LabelledScene] = []
        for offset, (chip, name) in enumerate(chips):
            ship = ships.get((chip.group("x"), chip.group("y")))
            if ship is None:
                raise InputFileError(f"{path}: chip {name} has no <ship> with Center_x/Center_y "
                                     f"{chip.group('x')}/{chip.group('y')} in Ship.xml")
            data = _read_chip(archive.read(name), f"{path}:{name}")
            stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            scene_id = stem if stem not in seen else f"{stem}_{group}"
            seen.add(scene_id)
            transform = synthetic_transform(start_index + offset, GSD_M, SYNTHETIC_SLOT)
            meta = SceneMeta(sensor="s1", acquired=acquired, source=SOURCE, simulated=False, scene_id=scene_id)
            scene = Scene(data=data, bands=("VV", "VH"), crs=SYNTHETIC_CRS, transform=transform, meta=meta)
            col, row = _ship_position(ship, scene.width, scene.height)
            lon, lat = pixel_to_lonlat(SYNTHETIC_CRS, transform, col, row)
            label = _label(ship, chip.group("type"), package, scene_id, Point(float(lon), float(lat)))
            labels = labels_frame([label], LABEL_EXTRAS)
            for flag in ("port", "multi_ship"):
                labels[flag] = labels[flag].astype("boolean")
            out.append(LabelledScene(scene=scene, labels=labels, group=group, exhaustive=False))
    check_band_order([item.scene for item in out], str(path))
    return out


def load_chips(root: Path | None = None) -> list[LabelledScene]:
    """Read every ``Patch_Cal`` chip of the OpenSARShip zips in ``root`` with its ship label.

    Args:
        root: folder holding the package zips; default ``<real data>/opensarship``
            (:func:`~satwatch.detection.data.labelled.real_data_root`).

    Returns:
        One :class:`LabelledScene` per chip, packages in name order, chips by name: ``s1`` scene with bands
        ``("VV", "VH")`` as sigma0 in dB (float32 ``(2, H, W)``, H = W = 13..157, NaN where sigma0 <= 0) on the
        synthetic grid (EPSG:32651, 10 m); one label of class ``vessel`` with :data:`LABEL_EXTRAS`;
        ``group`` = the package's acquisition date; ``exhaustive`` False. ``scene_id`` = file stem
        (``Cargo_x10661_y11170``; suffixed with the date if two packages share a stem).

    Raises:
        InputFileError: no zip in ``root``; a zip that is not readable, has no Ship.xml or chips, a chip
            without its ship, or VV not brighter than VH over a package.

    Example:
        >>> chips = load_chips()  # doctest: +SKIP
        >>> len(chips), chips[0].scene.bands, chips[0].group  # doctest: +SKIP
        (109, ('VV', 'VH'), '2015-08-23')
    """
    base = Path(root) if root is not None else real_data_root() / SOURCE
    zips = sorted(base.glob("*.zip")) if base.is_dir() else []
    if not zips:
        raise InputFileError(
            f"{base} holds no OpenSARShip package (*.zip); pass the folder of the zips, or set SATWATCH_REAL_DATA "
            "to the folder above opensarship/"
        )
    out: list[LabelledScene] = []
    seen: set[str] = set()
    for path in zips:
        out.extend(_package_chips(path, len(out), seen))
    return out

