from __future__ import annotations

import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from satwatch.detection.data import labelled
from satwatch.detection.data.labelled import split_by_group
from satwatch.detection.data.opensarship import (
    check_band_order,
    load_chips,
    parse_ship_list,
    sigma0_db,
    vv_minus_vh_db,
)
from satwatch.errors import InputFileError

from ._fixtures import PKG_2016, ship_xml, write_opensarship, write_opensarship_package


@pytest.fixture
def osar(tmp_path: Path) -> Path:
    return write_opensarship(tmp_path / "opensarship")


def test_bands_are_vv_then_vh_in_db(osar: Path) -> None:
    chips = load_chips(osar)
    assert len(chips) == 3
    scene = chips[0].scene
    assert scene.bands == ("VV", "VH")
    assert scene.data.dtype == np.float32
    assert scene.band("VV")[5, 5] == pytest.approx(-10.0)  # stored second, linear 0.1
    assert scene.band("VH")[5, 5] == pytest.approx(-30.0)  # stored first, linear 0.001
    assert np.isnan(scene.band("VV")[0, 0])  # sigma0 0: no data
    assert all(vv_minus_vh_db(c.scene) > 0 for c in chips)  # VV brighter than VH after loading
    assert scene.meta.sensor == "s1" and scene.meta.source == "opensarship" and not scene.meta.simulated


def test_band_order_check_rejects_vv_stored_first(tmp_path: Path) -> None:
    ships: list[dict[str, float | str]] = [{"type": "Cargo", "x": 10, "y": 10, "half": 4, "ais_length": 50}]
    write_opensarship_package(tmp_path, PKG_2016, ships, folder=False, vh_first=False)
    with pytest.raises(InputFileError, match="VV is not brighter than VH"):
        load_chips(tmp_path)


def test_check_band_order_is_per_package(osar: Path) -> None:
    scenes = [c.scene for c in load_chips(osar)]
    assert check_band_order(scenes, "x") == pytest.approx(20.0)
    swapped = [s.__class__(data=s.data[::-1].copy(), bands=s.bands, crs=s.crs, transform=s.transform, meta=s.meta)
               for s in scenes]
    # one odd chip among normal ones passes; a package of swapped chips does not
    assert check_band_order([swapped[0], *scenes], "x") > 0
    with pytest.raises(InputFileError):
        check_band_order(swapped, "pkg")


def test_sigma0_db() -> None:
    out = sigma0_db(np.array([1.0, 0.01, 0.0, -0.5, np.nan]))
    assert out.dtype == np.float32
    assert out[:2].tolist() == [0.0, -20.0] and np.isnan(out[2:]).all()


def test_lenient_ship_xml() -> None:
    ships: list[dict[str, float | str]] = [{"type": "Cargo", "x": 5, "y": 6, "half": 2},
                                           {"type": "Cargo", "x": 7, "y": 8, "half": 2}]
    text = ship_xml(ships, malformed=True)
    assert text.rstrip().endswith("<\\ShipList>")
    import xml.etree.ElementTree as ET

    with pytest.raises(ET.ParseError):
        ET.fromstring(text)  # a strict parser fails on it
    assert [s.findtext("SARShipInformation/Center_x") for s in parse_ship_list(text.encode())] == ["5", "7"]
    # worse damage: one <ship> broken, the document unparseable; the readable ship is kept
    broken = text.replace("<Center_x>5</Center_x>", "<Center_x>5</Centre_x>")
    assert [s.findtext("SARShipInformation/Center_x") for s in parse_ship_list(broken)] == ["7"]
    with pytest.raises(InputFileError, match="no readable <ship>"):
        parse_ship_list("<ShipList></ShipList>")


def test_synthetic_placement_and_label(osar: Path) -> None:
    chips = load_chips(osar)
    origins = {(c.scene.transform.c, c.scene.transform.f) for c in chips}
    assert len(origins) == len(chips)
    for chip in chips:
        assert chip.scene.crs.to_epsg() == 32651
        assert (chip.scene.transform.a, chip.scene.transform.e) == (10.0, -10.0)
        assert chip.scene.gsd_m == pytest.approx(10.0, abs=0.01)
    first = chips[0]  # 21 x 21 px, Head/Tail midpoint = centre
    assert first.scene.width == 21
    x, y = first.scene.transform @ (10.5, 10.5)
    point = first.labels.to_crs(32651).geometry.iloc[0]
    assert point.x == pytest.approx(x, abs=0.01) and point.y == pytest.approx(y, abs=0.01)
    # same chips, same places
    assert [(c.scene.transform.c, c.scene.transform.f) for c in load_chips(osar)] == [
        (c.scene.transform.c, c.scene.transform.f) for c in chips]


def test_label_values(osar: Path) -> None:
    labels = pd.concat([c.labels for c in load_chips(osar)]).set_index("scene_id")
    assert list(labels.index) == ["Cargo_x1000_y2000", "Tanker_x3000_y500", "Other Type_x50_y60"]
    assert (labels["class"] == "vessel").all() and labels["visible"].all()
    cargo, tanker, other = (labels.iloc[i] for i in range(3))
    assert (cargo["length_m"], cargo["width_m"]) == (179.0, 27.0)  # AIS
    assert (tanker["length_m"], tanker["width_m"]) == (88.5, 14.0)  # AIS 0: MarineTraffic
    assert np.isnan(other["length_m"]) and np.isnan(other["width_m"])  # both unknown
    assert cargo["heading_deg"] == pytest.approx(117.8)  # Chip_Direction -62.2 mod 180: the axis in the chip
    assert cargo["ais_heading_deg"] == 79.0  # True_Head, from true north
    assert tanker["ais_heading_deg"] == pytest.approx(238.4)  # True_Head 511: Cog in tenths
    assert np.isnan(other["ais_heading_deg"])  # Cog 3600 too
    assert cargo["ship_type"] == "Cargo" and other["ship_type"] == "Other Type"
    assert pd.isna(cargo["port"]) and pd.isna(cargo["multi_ship"])  # the 2015 package has no ChipNoise
    assert not other["port"] and other["multi_ship"]
    assert cargo["sog_kn"] == pytest.approx(10.5)


def test_groups_acquired_and_split(osar: Path) -> None:
    chips = load_chips(osar)
    assert [c.group for c in chips] == ["2015-08-23", "2015-08-23", "2016-01-31"]
    assert chips[0].scene.meta.acquired.isoformat() == "2015-08-23T22:12:33+00:00"
    assert not any(c.exhaustive for c in chips)
    train, validation = split_by_group(chips, ["2016-01-31"])
    assert {c.group for c in train}.isdisjoint({c.group for c in validation})


def test_missing_or_garbled_packages(tmp_path: Path, osar: Path) -> None:
    with pytest.raises(InputFileError, match="no OpenSARShip package"):
        load_chips(tmp_path / "nowhere")
    (osar / f"{PKG_2016}.zip").write_bytes(b"not a zip")
    with pytest.raises(InputFileError, match="not a readable zip"):
        load_chips(osar)
    with zipfile.ZipFile(osar / f"{PKG_2016}.zip", "w") as zf:
        zf.writestr("Patch_Cal/Cargo_x1_y1.tif", b"")
    with pytest.raises(InputFileError, match=r"no Ship\.xml"):
        load_chips(osar)


def test_reads_the_zips_in_place(osar: Path) -> None:
    before = sorted(p.name for p in osar.rglob("*"))
    load_chips(osar)
    assert sorted(p.name for p in osar.rglob("*")) == before


REAL = labelled.real_data_root() / "opensarship"


def test_real_opensarship_chips() -> None:
    if not REAL.is_dir() or not any(REAL.glob("*.zip")):
        pytest.skip(f"real OpenSARShip data not found at {REAL}")
    start = time.perf_counter()
    chips = load_chips()
    elapsed = time.perf_counter() - start
    labels = pd.concat([c.labels for c in chips])
    assert len(chips) == 109 and len(labels) == 109
    assert len({c.scene_id for c in chips}) == 109
    assert pd.Series([c.group for c in chips]).value_counts().to_dict() == {
        "2016-01-31": 72, "2016-05-18": 25, "2015-08-23": 12}
    assert all(13 <= c.scene.width <= 160 and c.scene.width == c.scene.height for c in chips)
    diffs = np.array([vv_minus_vh_db(c.scene) for c in chips])
    assert np.median(diffs) > 5 and (diffs > 0).mean() > 0.95  # VV ~10 dB above VH
    vv = np.nanmedian(np.concatenate([c.scene.band("VV").ravel() for c in chips]))
    assert -25 < vv < -5  # sea clutter in dB
    assert labels["length_m"].notna().sum() >= 100 and labels["length_m"].dropna().between(20, 400).all()
    assert labels["heading_deg"].between(0, 180).all()
    assert labels["multi_ship"].sum() == 14
    assert elapsed < 60
