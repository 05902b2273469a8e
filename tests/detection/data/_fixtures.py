"""Tiny stand-ins for the real labelled sets, written into a test's folder with each set's quirks.

- :func:`write_eotdl`: eotdl_s2_ships chips (12 int16 bands without descriptions, EPSG:4326 grid at 54.5 N,
  an all-zero no-data corner, B09 zero over "water"), rectangle labels of known size, a doubtful chip, a
  MultiPolygon label, labels_px.csv;
- :func:`write_opensarship`: OpenSARShip zips (VH stored first, linear sigma0, Ship.xml closed by the
  malformed ``<\\ShipList>``, one package with its files under a folder named after it);
- :func:`write_aerial`: aerial_vehicles images (8-bit RGB PNG/JPG) with YOLO boxes, a cyclist among them.
"""

from __future__ import annotations

import json
import math
import warnings
import zipfile
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from PIL import Image
from pyproj import CRS, Transformer
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from shapely.geometry import MultiPolygon, Polygon, mapping

EOTDL_PX = (0.000157287, 0.000088155)  # degrees per pixel (lon, lat): ~10.2 m x 9.8 m at 54.5 N
EOTDL_SIZE = 32
DOUBTFUL = "ship_211769770_2022-08-12"
RECT_LENGTH_M, RECT_WIDTH_M, RECT_HEADING = 100.0, 20.0, 30.0


def rectangle_lonlat(lon: float, lat: float, length: float, width: float, heading: float) -> Polygon:
    """A length x width rectangle (metres) centred on lon/lat, long side ``heading`` degrees from north."""
    local = CRS.from_proj4(f"+proj=tmerc +lat_0={lat} +lon_0={lon} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m")
    to_lonlat = Transformer.from_crs(local, 4326, always_xy=True)
    a = math.radians(heading)
    along = np.array([math.sin(a), math.cos(a)]) * length / 2
    across = np.array([math.cos(a), -math.sin(a)]) * width / 2
    corners = [along + across, along - across, -along - across, -along + across]
    return Polygon([to_lonlat.transform(x, y) for x, y in corners])


def _chip_origin(index: int) -> tuple[float, float]:
    return 10.3 + 0.01 * index, 54.5


def write_eotdl(root: Path) -> Path:
    """Three chips: 2022-08-12 (clean), the doubtful one (2022-08-12), 2022-08-25 with a MultiPolygon label."""
    chips = root / "chips"
    chips.mkdir(parents=True)
    specs = [("ship_209075000_2022-08-12", "Polygon"), (DOUBTFUL, "Polygon"),
             ("ship_265411000_2022-08-25", "MultiPolygon")]
    rows = ["chip,date,mmsi,x_min,y_min,x_max,y_max,cx,cy,px_size_x_m,px_size_y_m,ais_length_m,ais_width_m,"
            "ais_heading_deg,ship_type,nav_status,ais_lat,ais_lon"]
    for index, (chip, kind) in enumerate(specs):
        west, north = _chip_origin(index)
        transform = Affine(EOTDL_PX[0], 0, west, 0, -EOTDL_PX[1], north)
        dn = np.full((12, EOTDL_SIZE, EOTDL_SIZE), 500, dtype=np.int16)
        dn[1] = 160  # B02 over water: reflectance 0.016
        dn[9] = 0  # B09 is 0 over water in L2A: a valid value, not no data
        dn[:, :3, :3] = 0  # the chip's no-data corner: every band 0
        with rasterio.open(chips / f"{chip}.tif", "w", driver="GTiff", width=EOTDL_SIZE, height=EOTDL_SIZE,
                           count=12, dtype="int16", crs="EPSG:4326", transform=transform) as dst:
            dst.write(dn)
        lon = west + EOTDL_PX[0] * EOTDL_SIZE / 2
        lat = north - EOTDL_PX[1] * EOTDL_SIZE / 2
        rect = rectangle_lonlat(lon, lat, RECT_LENGTH_M, RECT_WIDTH_M, RECT_HEADING)
        geometry = rect if kind == "Polygon" else MultiPolygon(
            [rect, rectangle_lonlat(lon + 0.002, lat + 0.001, 60.0, 30.0, 100.0)])  # a wake's outline, 150 m off
        label = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": mapping(geometry), "properties": {"labels": ["Boat"]}}]}
        (chips / f"{chip}_labels.geojson").write_text(json.dumps(label))
        date = chip.rsplit("_", 1)[1]
        (chips / f"{chip}.json").write_text(json.dumps({"acquisition-date": date, "type": "sentinel-2-l2a"}))
        mmsi = chip.split("_")[1]
        rows.append(f"{chip},{date},{mmsi},0,0,1,1,16,16,10.2,9.8,96.0,18.0,{RECT_HEADING + 180},Cargo,"
                    f"Under way using engine,{lat},{lon}")
    (root / "labels_px.csv").write_text("\n".join(rows) + "\n")
    (root / "crop_S2A_MSIL1C_20220812T103031_N0400_R108_T32UNF_20220812T155113.SAFE.csv").write_text("MMSI\n")
    return root


def _tif_bytes(bands: np.ndarray) -> bytes:
    with warnings.catch_warnings(), MemoryFile() as mem:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # OpenSARShip chips have no georeferencing
        with mem.open(driver="GTiff", width=bands.shape[2], height=bands.shape[1], count=bands.shape[0],
                      dtype="float32") as dst:
            dst.write(bands.astype(np.float32))
        return bytes(mem.read())


def ship_xml(ships: list[dict[str, float | str]], malformed: bool = True) -> str:
    """A Ship.xml with one <ship> per dict (keys: x, y, half, ais_length, mt_length, true_head, chip_dir...)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<ShipList>"]
    for s in ships:
        x, y, half = int(s["x"]), int(s["y"]), int(s["half"])
        noise = "" if "port" not in s else (
            f"<ChipNoise><Interference>0</Interference><Port>{s['port']}</Port>"
            f"<Multi_ship>{s['multi']}</Multi_ship></ChipNoise>")
        parts.append(
            "<ship><SARShipInformation>"
            f"<Head_x>{x - 3}</Head_x><Head_y>{y}</Head_y><Tail_x>{x + 3}</Tail_x><Tail_y>{y}</Tail_y>"
            f"<UpperLeft_x>{x + half}</UpperLeft_x><UpperLeft_y>{y + half}</UpperLeft_y>"
            f"<LowerRight_x>{x - half}</LowerRight_x><LowerRight_y>{y - half}</LowerRight_y>"
            f"<Center_x>{x}</Center_x><Center_y>{y}</Center_y>"
            "<Center_longitude>1.2e+02</Center_longitude><Center_latitude>3.0e+01</Center_latitude>"
            f"<Manual_Length>110</Manual_Length><North_Direction>{s.get('north_dir', 80)}</North_Direction>"
            f"<Chip_Direction>{s.get('chip_dir', -90)}</Chip_Direction></SARShipInformation>"
            "<AISShipInformation><MMSI>412000001</MMSI><Sog>105</Sog>"
            f"<Cog>{s.get('cog', 2384)}</Cog><True_Head>{s.get('true_head', 79)}</True_Head>"
            f"<Ship_Type>70</Ship_Type><Length>{s.get('ais_length', 0)}</Length>"
            f"<Width>{s.get('ais_width', 0)}</Width></AISShipInformation>"
            f"<MarineTrafficInformation><Length_overall>{s.get('mt_length', 'NA')}</Length_overall>"
            f"<Breadth_extreme>{s.get('mt_width', 'NA')}</Breadth_extreme>"
            "<Elaborated_type>General Cargo</Elaborated_type></MarineTrafficInformation>"
            f"{noise}</ship>"
        )
    parts.append("<\\ShipList>" if malformed else "</ShipList>")
    return "\n".join(parts)


def write_opensarship_package(root: Path, name: str, ships: list[dict[str, float | str]], folder: bool,
                              vh_first: bool = True, malformed: bool = True) -> Path:
    """One package zip; each chip is (2*half+1)^2 px of sea (VV 0.1 = -10 dB, VH 0.001 = -30 dB)."""
    root.mkdir(parents=True, exist_ok=True)
    prefix = f"{name}/" if folder else ""
    path = root / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{prefix}Ship.xml", ship_xml(ships, malformed))
        for s in ships:
            size = 2 * int(s["half"]) + 1
            vv = np.full((size, size), 0.1, dtype=np.float32)
            vh = np.full((size, size), 0.001, dtype=np.float32)
            vv[0, 0] = 0.0  # sigma0 0: no data in dB
            stored = np.stack([vh, vv] if vh_first else [vv, vh])
            zf.writestr(f"{prefix}Patch_Cal/{s['type']}_x{s['x']}_y{s['y']}.tif", _tif_bytes(stored))
            zf.writestr(f"{prefix}Patch/{s['type']}_x{s['x']}_y{s['y']}.tif", _tif_bytes(stored * 1000))
    return path


PKG_2015 = "S1A_IW_GRDH_1SDV_20150823T221233_20150823T221258_007396_00A2CA_54D0"
PKG_2016 = "S1A_IW_GRDH_1SDV_20160131T101646_20160131T101715_009737_00E392_36F71"


def write_opensarship(root: Path) -> Path:
    """Two packages: 2015 (under a folder, no ChipNoise, well-formed) and 2016 (flat, ``<\\ShipList>``)."""
    write_opensarship_package(root, PKG_2015, [
        {"type": "Cargo", "x": 1000, "y": 2000, "half": 10, "ais_length": 179, "ais_width": 27, "chip_dir": -62.2},
        {"type": "Tanker", "x": 3000, "y": 500, "half": 6, "ais_length": 0, "mt_length": 88.5, "mt_width": 14,
         "true_head": 511, "cog": 2384},
    ], folder=True, malformed=False)
    write_opensarship_package(root, PKG_2016, [
        {"type": "Other Type", "x": 50, "y": 60, "half": 8, "ais_length": 0, "mt_length": 0, "true_head": 511,
         "cog": 3600, "port": 0, "multi": 1},
    ], folder=False, malformed=True)
    return root


AERIAL_BOXES = {
    # folder, stem, (width, height): YOLO lines (class cx cy w h)
    ("kit_ais", "MOS160", (200, 100)): ["0 0.25 0.5 0.2 0.1", "4 0.7 0.3 0.05 0.1", "2 0.6 0.7 0.4 0.2"],
    ("kit_ais", "MOS161", (200, 100)): ["0 0.5 0.5 0.1 0.2"],
    ("kit_ais", "MOS80", (120, 100)): ["3 0.5 0.5 0.25 0.1"],
    ("minsk_drone", "DJI_0005-0018", (160, 90)): ["0 0.5 0.5 0.25 0.5", "1 0.2 0.2 0.1 0.1"],
}


def write_aerial(root: Path, with_classes: bool = True) -> Path:
    """Four images of three sequences: PNGs of constant RGB (255, 51, 0) and a JPEG, with YOLO labels."""
    for (folder, stem, (width, height)), lines in AERIAL_BOXES.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        pixels = np.zeros((height, width, 3), dtype=np.uint8)
        pixels[..., 0], pixels[..., 1] = 255, 51
        suffix = ".jpg" if folder == "minsk_drone" else ".png"
        Image.fromarray(pixels).save(root / folder / f"{stem}{suffix}", quality=100)
        (root / folder / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    if with_classes:
        (root / "classes.txt").write_text("car\ntruck\nbus\nminibus\ncyclist\n")
    return root
