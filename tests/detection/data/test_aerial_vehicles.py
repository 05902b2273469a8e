from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from satwatch.detection.data import labelled
from satwatch.detection.data.labelled import split_by_group
from satwatch.detection.data.aerial_vehicles import (
    CAR_LENGTH_M,
    SEQUENCE_CAR_PX,
    SEQUENCE_GSD_M,
    estimate_gsd_m,
    load_images,
    sequence_of,
)
from satwatch.errors import InputFileError, UsageError

from ._fixtures import write_aerial


@pytest.fixture
def aerial(tmp_path: Path) -> Path:
    return write_aerial(tmp_path / "aerial_vehicles")


def test_rgb_decoded_from_srgb(aerial: Path) -> None:
    """8-bit display pixels are sRGB-decoded to linear values: DN 51 (0.2 on a display) is 0.033, not 0.2."""
    images = load_images(aerial)
    assert [i.scene_id for i in images] == ["MOS160", "MOS161", "MOS80", "DJI_0005-0018"]
    scene = images[0].scene
    assert scene.bands == ("R", "G", "B") and scene.data.dtype == np.float32 and scene.data.shape == (3, 100, 200)
    assert scene.data[:, 50, 50].tolist() == pytest.approx([1.0, 0.0331, 0.0], abs=1e-4)
    drone = images[3].scene  # JPEG: close to the written values
    assert drone.data[:, 45, 80] == pytest.approx([1.0, 0.0331, 0.0], abs=0.01)
    assert scene.meta.sensor == "vhr" and scene.meta.source == "aerial_vehicles" and not scene.meta.simulated


def test_synthetic_grid_at_the_sequence_gsd(aerial: Path) -> None:
    images = load_images(aerial)
    assert [i.group for i in images] == ["MOS155-179", "MOS155-179", "MOS74-93", "DJI_0005"]
    for image in images:
        gsd = SEQUENCE_GSD_M[image.group]
        assert image.scene.crs.to_epsg() == 32651
        assert (image.scene.transform.a, -image.scene.transform.e) == (gsd, gsd)
        assert image.scene.gsd_m == pytest.approx(gsd, rel=1e-3)
    assert len({(i.scene.transform.c, i.scene.transform.f) for i in images}) == 4
    # an image keeps its place whatever is selected
    only = load_images(aerial, groups=["DJI_0005"])
    assert [i.scene_id for i in only] == ["DJI_0005-0018"]
    assert only[0].scene.transform == images[3].scene.transform


def test_labels_classes_and_sizes(aerial: Path) -> None:
    images = load_images(aerial)
    labels = pd.concat([i.labels for i in images])
    assert labels.crs.to_epsg() == 4326
    assert (labels["class"] == "vehicle").all()
    assert labels["vehicle_type"].tolist() == ["car", "cyclist", "bus", "car", "minibus", "car", "truck"]
    assert labels.loc[labels["vehicle_type"] == "cyclist", "visible"].tolist() == [False]
    assert labels.loc[labels["vehicle_type"] != "cyclist", "visible"].all()
    assert labels["heading_deg"].isna().all()
    car = images[0].labels.iloc[0]  # 0.2 x 0.1 of 200 x 100 px = 40 x 10 px at 0.135 m
    assert car["length_m"] == pytest.approx(40 * 0.135) and car["width_m"] == pytest.approx(10 * 0.135)
    assert (car["x_min_px"], car["y_min_px"], car["x_max_px"], car["y_max_px"]) == pytest.approx((30, 45, 70, 55))
    x, y = images[0].scene.transform @ (50, 50)
    point = images[0].labels.to_crs(32651).geometry.iloc[0]
    assert point.x == pytest.approx(x, abs=1e-3) and point.y == pytest.approx(y, abs=1e-3)
    assert all(i.exhaustive for i in images)


def test_groups_split_by_sequence(aerial: Path) -> None:
    images = load_images(aerial)
    train, validation = split_by_group(images, ["MOS155-179"])
    assert [i.scene_id for i in validation] == ["MOS160", "MOS161"]
    assert {i.group for i in train}.isdisjoint({i.group for i in validation})
    with pytest.raises(UsageError, match="no sequence"):
        load_images(aerial, groups=["MOS1-2"])


def test_sequence_names() -> None:
    assert sequence_of("MOS155") == sequence_of("MOS179") == "MOS155-179"
    assert sequence_of("MOS74") == sequence_of("MOS93") == "MOS74-93"
    assert sequence_of("MunichStreet02-MOS85") == "MunichStreet02-MOS74-93"
    assert sequence_of("DJI-00760-00001") == "DJI-00760"
    assert sequence_of("DJI_0762-00031") == "DJI_0762"
    assert sequence_of("DJI_0013-0023") == "DJI_0013"
    assert sequence_of("minsk-square") == "minsk-square"


def test_gsd_of_an_unlisted_sequence_is_estimated_from_its_cars(aerial: Path) -> None:
    from PIL import Image

    Image.new("RGB", (100, 100)).save(aerial / "minsk_drone" / "yakubava.jpg")
    (aerial / "minsk_drone" / "yakubava.txt").write_text("0 0.5 0.5 0.9 0.4\n0 0.2 0.2 0.1 0.9\n4 0.1 0.1 0.9 0.9\n")
    image = load_images(aerial, groups=["yakubava"])[0]
    assert image.scene.transform.a == pytest.approx(CAR_LENGTH_M / 90)  # median car long side 90 px
    assert estimate_gsd_m([]) != estimate_gsd_m([])  # NaN without cars
    override = load_images(aerial, groups=["yakubava"], gsd_m={"yakubava": 0.2})[0]
    assert override.scene.transform.a == 0.2


def test_gsd_table_is_the_car_length_over_the_median_car() -> None:
    for sequence, gsd in SEQUENCE_GSD_M.items():
        assert gsd == round(CAR_LENGTH_M / SEQUENCE_CAR_PX[sequence], 3)


def test_missing_or_garbled_folder(tmp_path: Path, aerial: Path) -> None:
    with pytest.raises(InputFileError, match="holds no aerial_vehicles images"):
        load_images(tmp_path / "nowhere")
    (aerial / "kit_ais" / "MOS161.txt").write_text("0 0.5 0.5\n")
    with pytest.raises(InputFileError, match=r"MOS161\.txt:1"):
        load_images(aerial)
    (aerial / "kit_ais" / "MOS161.txt").write_text("9 0.5 0.5 0.1 0.1\n")
    with pytest.raises(InputFileError, match="class of car"):
        load_images(aerial)
    (aerial / "kit_ais" / "MOS161.txt").unlink()
    with pytest.raises(InputFileError, match="no YOLO label file"):
        load_images(aerial)
    (aerial / "kit_ais" / "MOS161.png").write_bytes(b"not a png")
    with pytest.raises(InputFileError, match="cannot read image"):
        load_images(aerial)


def test_default_class_names_without_classes_txt(tmp_path: Path) -> None:
    root = write_aerial(tmp_path / "aerial", with_classes=False)
    labels = pd.concat([i.labels for i in load_images(root)])
    assert labels["vehicle_type"].tolist()[:3] == ["car", "cyclist", "bus"]


REAL = labelled.real_data_root() / "aerial_vehicles"


@pytest.mark.slow
def test_real_aerial_images() -> None:
    if not (REAL / "kit_ais").is_dir():
        pytest.skip(f"real aerial_vehicles data not found at {REAL}")
    start = time.perf_counter()
    counts: dict[str, int] = {}
    frames: list[pd.DataFrame] = []
    for group in SEQUENCE_GSD_M:  # one sequence at a time: all 114 images are ~2 GB as float32
        images = load_images(groups=[group])
        counts[group] = len(images)
        for image in images:
            assert image.scene.bands == ("R", "G", "B") and image.scene.data.dtype == np.float32
            assert float(image.scene.data.min()) >= 0.0 and float(image.scene.data.max()) <= 1.0
            assert image.scene.gsd_m == pytest.approx(SEQUENCE_GSD_M[group], rel=1e-3)
        frames.extend(image.labels for image in images)
    elapsed = time.perf_counter() - start
    labels = pd.concat(frames)
    assert sum(counts.values()) == 114
    assert counts == {"MOS155-179": 25, "MOS74-93": 20, "MunichStreet02-MOS74-93": 20, "DJI-00760": 11,
                      "DJI_0005": 26, "DJI_0013": 4, "DJI_0762": 8}
    cyclists = labels["vehicle_type"] == "cyclist"
    assert len(labels) == 3448
    assert labels["visible"].sum() == 3448 - cyclists.sum()
    assert labels.loc[~cyclists, "class"].eq("vehicle").all()
    assert labels["vehicle_type"].value_counts().to_dict() == {"car": 3268, "bus": 93, "minibus": 82, "truck": 5}
    cars = labels[labels["vehicle_type"] == "car"]
    # the GSDs were chosen so that the median car is 4.5 m long, per sequence
    for group in SEQUENCE_GSD_M:
        median = cars.loc[cars["scene_id"].map(sequence_of) == group, "length_m"].median()
        assert median == pytest.approx(CAR_LENGTH_M, rel=0.01)
    assert cars["width_m"].median() == pytest.approx(2.2, abs=0.4)
    buses = labels[labels["vehicle_type"] == "bus"]
    assert 9 < buses["length_m"].median() < 19
    assert elapsed < 120
