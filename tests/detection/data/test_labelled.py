from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from satwatch.detection.data.labelled import (
    LABEL_COLUMNS,
    LabelledScene,
    groups_of,
    labels_frame,
    measure_footprint,
    real_data_root,
    split_by_group,
    synthetic_transform,
)
from satwatch.errors import UsageError
from satwatch.imagery.scene import Scene, SceneMeta

from ._fixtures import rectangle_lonlat


def _item(scene_id: str, group: str) -> LabelledScene:
    scene = Scene(data=np.zeros((1, 4, 4), np.float32), bands=("VV",), crs=CRS.from_epsg(32651),
                  transform=Affine(10, 0, 0, 0, -10, 0),
                  meta=SceneMeta(sensor="s1", acquired=datetime(2020, 1, 1, tzinfo=UTC), source="t",
                                 simulated=False, scene_id=scene_id))
    return LabelledScene(scene=scene, labels=labels_frame([]), group=group, exhaustive=False)


def test_split_by_group_never_puts_a_group_on_both_sides() -> None:
    items = [_item(f"c{i}", g) for i, g in enumerate(["a", "b", "a", "c", "b", "a"])]
    train, validation = split_by_group(items, ("b",))
    assert {i.group for i in train} == {"a", "c"}
    assert {i.group for i in validation} == {"b"}
    assert not {i.group for i in train} & {i.group for i in validation}
    assert len(train) + len(validation) == len(items)
    assert [i.scene_id for i in validation] == ["c1", "c4"]  # order kept
    assert groups_of(items) == ["a", "b", "c"]


def test_split_by_group_rejects_an_unknown_group() -> None:
    with pytest.raises(UsageError, match=r"\['x'\]"):
        split_by_group([_item("c0", "a")], ("x",))


def test_measure_footprint_of_a_known_rectangle() -> None:
    rect = rectangle_lonlat(10.3, 54.5, 100.0, 20.0, 30.0)
    centre, length, width, heading = measure_footprint(rect)
    assert length == pytest.approx(100.0, abs=0.5)
    assert width == pytest.approx(20.0, abs=0.5)
    assert heading == pytest.approx(30.0, abs=0.5)
    assert centre.x == pytest.approx(10.3, abs=1e-6) and centre.y == pytest.approx(54.5, abs=1e-6)
    # the heading is an axis: a rectangle pointing 150 deg is not one pointing 30 deg, one pointing 210 deg is
    assert measure_footprint(rectangle_lonlat(10.3, 54.5, 100.0, 20.0, 150.0))[3] == pytest.approx(150.0, abs=0.5)
    assert measure_footprint(rectangle_lonlat(10.3, 54.5, 100.0, 20.0, 210.0))[3] == pytest.approx(30.0, abs=0.5)


def test_synthetic_transform_gives_distinct_far_apart_origins() -> None:
    origins = {(t.c, t.f) for t in (synthetic_transform(i, 10.0, s) for i in range(200) for s in (0, 1))}
    assert len(origins) == 400
    xs = sorted({x for x, _ in origins})
    assert min(np.diff(xs)) >= 5000
    t = synthetic_transform(3, 0.135, 1)
    assert (t.a, t.e) == (0.135, -0.135)


def test_labels_frame_has_the_contract_columns() -> None:
    frame = labels_frame([])
    assert isinstance(frame, gpd.GeoDataFrame)
    assert list(frame.columns) == [*LABEL_COLUMNS, "geometry"]
    assert frame.crs.to_epsg() == 4326


def test_real_data_root_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SATWATCH_REAL_DATA", str(tmp_path))
    assert real_data_root() == tmp_path
    monkeypatch.delenv("SATWATCH_REAL_DATA")
    assert real_data_root().parts[-2:] == ("shared", "data")
