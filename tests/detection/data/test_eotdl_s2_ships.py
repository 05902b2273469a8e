from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from satwatch.detection.data import labelled
from satwatch.detection.data.labelled import split_by_group
from satwatch.detection.data.eotdl_s2_ships import DOUBTFUL_CHIPS, EOTDL_BANDS, load_chips
from satwatch.errors import InputFileError

from ._fixtures import DOUBTFUL, RECT_HEADING, RECT_LENGTH_M, RECT_WIDTH_M, write_eotdl


@pytest.fixture
def eotdl(tmp_path: Path) -> Path:
    return write_eotdl(tmp_path / "eotdl_s2_ships")


def test_scaling_nodata_and_bands(eotdl: Path) -> None:
    chips = load_chips(eotdl)
    assert [c.scene_id for c in chips] == sorted(c.scene_id for c in chips)
    scene = chips[0].scene
    assert scene.bands == EOTDL_BANDS
    assert scene.data.dtype == np.float32 and scene.data.shape == (12, 32, 32)
    assert scene.band("B02")[10, 10] == pytest.approx(0.016)
    assert scene.band("B04")[10, 10] == pytest.approx(0.05)
    assert np.isnan(scene.data[:, :3, :3]).all()  # every band 0: no data
    assert scene.band("B09")[10, 10] == 0.0  # a single band at 0 is a dark value, kept
    assert np.isfinite(scene.data[:, 3:, 3:]).all()
    assert scene.meta.sensor == "s2" and scene.meta.source == "eotdl_s2_ships" and not scene.meta.simulated
    assert scene.meta.acquired.isoformat() == "2022-08-12T10:30:31+00:00"  # sensing time from the crop file name
    assert chips[2].scene.meta.acquired.isoformat() == "2022-08-25T00:00:00+00:00"  # no crop file: the date


def test_keeps_the_epsg4326_grid_with_true_ground_pixel(eotdl: Path) -> None:
    scene = load_chips(eotdl)[0].scene
    assert scene.crs.to_epsg() == 4326
    assert scene.transform.a == pytest.approx(0.000157287)
    assert scene.gsd_m == pytest.approx(9.97, abs=0.1)  # sqrt(10.15 m x 9.80 m)


def test_labels_measured_on_the_rectangle_in_metres(eotdl: Path) -> None:
    chips = load_chips(eotdl)
    labels = pd.concat([c.labels for c in chips])
    assert list(labels.columns[:6]) == list(labelled.LABEL_COLUMNS)
    assert labels.crs.to_epsg() == 4326 and (labels["class"] == "vessel").all()
    assert labels["length_m"].to_numpy() == pytest.approx([RECT_LENGTH_M] * 3, abs=0.5)
    assert labels["width_m"].to_numpy() == pytest.approx([RECT_WIDTH_M] * 3, abs=0.5)
    assert labels["heading_deg"].to_numpy() == pytest.approx([RECT_HEADING] * 3, abs=0.5)
    assert labels["ais_length_m"].tolist() == [96.0] * 3
    assert labels["ais_heading_deg"].tolist() == [RECT_HEADING + 180] * 3
    first = chips[0]
    x, y = first.scene.transform @ (16, 16)  # the rectangle is centred on the chip
    assert first.labels.geometry.iloc[0].x == pytest.approx(x, abs=1e-6)
    assert first.labels.geometry.iloc[0].y == pytest.approx(y, abs=1e-6)


def test_multipolygon_label_is_the_part_at_the_ais_position(eotdl: Path) -> None:
    multi = load_chips(eotdl)[2]
    row = multi.labels.iloc[0]
    assert row["label_parts"] == 2 and row["label_shape"] == "rectangle"
    assert row["length_m"] == pytest.approx(RECT_LENGTH_M, abs=0.5)  # not the 150 m span of both parts


def test_doubtful_chips_are_dont_care(eotdl: Path) -> None:
    assert DOUBTFUL in DOUBTFUL_CHIPS and len(DOUBTFUL_CHIPS) == 11
    visible = {c.scene_id: bool(c.labels["visible"].iloc[0]) for c in load_chips(eotdl)}
    assert visible[DOUBTFUL] is False
    assert sum(visible.values()) == 2


def test_groups_are_dates_and_not_exhaustive(eotdl: Path) -> None:
    chips = load_chips(eotdl)
    assert [c.group for c in chips] == ["2022-08-12", "2022-08-12", "2022-08-25"]
    assert not any(c.exhaustive for c in chips)
    train, validation = split_by_group(chips, ["2022-08-25"])
    assert len(train) == 2 and len(validation) == 1


def test_missing_or_garbled_folder(tmp_path: Path, eotdl: Path) -> None:
    with pytest.raises(InputFileError, match="not an eotdl_s2_ships folder"):
        load_chips(tmp_path / "nowhere")
    (eotdl / "chips" / "ship_209075000_2022-08-12_labels.geojson").write_text("{not json")
    with pytest.raises(InputFileError, match="not a GeoJSON"):
        load_chips(eotdl)
    (eotdl / "chips" / "ship_209075000_2022-08-12_labels.geojson").unlink()
    with pytest.raises(InputFileError, match="no label file"):
        load_chips(eotdl)
    (eotdl / "chips" / "ship_209075000_2022-08-12.tif").write_bytes(b"garbage")
    with pytest.raises(InputFileError, match="cannot read chip"):
        load_chips(eotdl)


def test_ais_from_crop_files_without_labels_px(eotdl: Path) -> None:
    (eotdl / "labels_px.csv").unlink()
    crop = eotdl / "crop_S2A_MSIL1C_20220812T103031_N0400_R108_T32UNF_20220812T155113.SAFE.csv"
    crop.write_text("MMSI,Latitude,Longitude,Ship type,Navigational status,Heading,Width,Length,ImageId\n"
                    "209075000.0,54.5,10.3,Tanker,Moored,511,0,120.0,ship_209075000_2022-08-12\n")
    row = load_chips(eotdl)[0].labels.iloc[0]
    assert row["ais_length_m"] == 120.0 and row["ship_type"] == "Tanker" and row["mmsi"] == "209075000"
    assert np.isnan(row["ais_width_m"]) and np.isnan(row["ais_heading_deg"])  # 0 width, heading 511: unknown


REAL = labelled.real_data_root() / "eotdl_s2_ships"


def test_real_eotdl_chips() -> None:
    if not (REAL / "chips").is_dir():
        pytest.skip(f"real eotdl_s2_ships data not found at {REAL}")
    start = time.perf_counter()
    chips = load_chips()
    elapsed = time.perf_counter() - start
    labels = pd.concat([c.labels for c in chips])
    assert len(chips) == 77 and len(labels) == 77
    assert len({c.scene_id for c in chips}) == 77
    assert {c.group for c in chips} == {"2022-08-12", "2022-08-25"}
    assert (~labels["visible"]).sum() == 11
    assert all(c.scene.data.shape == (12, 128, 128) and c.scene.crs.to_epsg() == 4326 for c in chips)
    assert all(9.5 < c.scene.gsd_m < 10.5 for c in chips)
    water_b02 = np.nanmedian(np.stack([c.scene.band("B02") for c in chips]))
    assert 0.005 < water_b02 < 0.05  # DN ~160 -> 0.016
    assert labels["length_m"].between(10, 500).all() and labels["width_m"].between(3, 120).all()
    assert labels["heading_deg"].between(0, 180).all()
    rectangles = labels[labels["label_shape"] == "rectangle"]
    # the AIS-placed rectangles measure the AIS size (drawn a pixel or so larger)
    assert (rectangles["length_m"] - rectangles["ais_length_m"]).abs().median() < 10
    assert elapsed < 60
