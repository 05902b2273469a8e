"""``cnn-cfar``: CNN proposals tested, merged and measured by a local CFAR (Sentinel-1)."""

from __future__ import annotations

from typing import ClassVar

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Transformer
from shapely.geometry import Point

from satwatch.detection.detections import ground_axes_m
from satwatch.detection.models.baseline import SarParams
from satwatch.detection.models.hybrid import CfarCheckedCnnDetector, cfar_check
from satwatch.detection.water import SAR_COAST_SEPARATION_DB, sar_coast_separation_db
from satwatch.errors import DetectionError
from satwatch.imagery.scene import Scene

from ._synthetic import Ship, land_columns, optical_scene, s1_scene


class _Proposals:
    """A stand-in CNN that proposes fixed pixel positions with fixed sizes."""

    name = "fake-cnn"
    precisions: ClassVar[dict[str, str]] = {}

    def __init__(self, where: list[tuple[float, float, float]], length_m: float = 99.0) -> None:
        self.where = where  # (row, col, score)
        self.length_m = length_m

    def detect(self, scene: Scene) -> gpd.GeoDataFrame:
        to_map = Transformer.from_crs(scene.crs, 4326, always_xy=True)
        rows = []
        for r, c, score in self.where:
            x, y = to_map.transform(*(scene.transform @ (c + 0.5, r + 0.5)))
            rows.append({"class": "vessel", "score": score, "length_m": self.length_m, "width_m": 15.0,
                         "heading_deg": 0.0, "detector": self.name, "geometry": Point(x, y)})
        return gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)


def _power(scene: Scene, band: str = "VV") -> np.ndarray:
    return (10.0 ** (scene.band(band) / 10.0)).astype(np.float32)


def test_cfar_check_confirms_and_measures_a_ship_and_rejects_bare_sea() -> None:
    scene = s1_scene(ships=[Ship(150, 150, 200.0, 30.0, 60.0)], sea_db=-16.0, ship_db=-2.0, seed=5)
    water = np.ones((scene.height, scene.width), dtype=bool)
    got = cfar_check(_power(scene), water, 150, 150, ground_axes_m(scene), 10.0, SarParams())
    assert got is not None and got.length_m == pytest.approx(200.0, abs=40.0)
    assert got.heading_deg == pytest.approx(60.0, abs=10.0) and len(got.pixels) > 10
    assert cfar_check(_power(scene), water, 60, 240, ground_axes_m(scene), 10.0, SarParams()) is None


def test_cnn_cfar_keeps_ships_merges_pieces_rejects_clutter_and_uses_vh() -> None:
    ships = [Ship(150, 80, 250.0, 35.0, 0.0), Ship(150, 220, 80.0, 15.0, 90.0)]
    scene = s1_scene(ships=ships, sea_db=-16.0, ship_db=-2.0, seed=7)
    # the second ship is faint in VV (3 dB over the sea) but plain in VH, as real ships often are
    faint = s1_scene(ships=ships[1:], sea_db=-16.0, ship_db=-13.0, seed=8)
    data = scene.data.copy()
    data[0, 130:171, 200:241] = faint.data[0, 130:171, 200:241]
    scene = Scene(data=data, bands=scene.bands, crs=scene.crs, transform=scene.transform, meta=scene.meta)
    proposals = [(150, 80, 0.9), (140, 80, 0.6), (160, 80, 0.5),  # three pieces of the long ship
                 (150, 220, 0.7),                                  # the ship faint in VV
                 (40, 150, 0.8), (260, 150, 0.4)]                  # bare sea
    det = CfarCheckedCnnDetector(cnn=_Proposals(proposals))
    found = det.detect(scene)
    assert len(found) == 2, found
    assert list(found["score"]) == [0.9, 0.7]
    lengths = sorted(found["length_m"])
    assert lengths[0] == pytest.approx(80.0, abs=30.0) and lengths[1] == pytest.approx(250.0, abs=50.0)
    assert set(found["detector"]) == {"cnn-cfar-1-fake-cnn"}
    # without VH the faint ship is not confirmed
    vv_only = Scene(data=data[:1], bands=("VV",), crs=scene.crs, transform=scene.transform, meta=scene.meta)
    assert len(det.detect(vv_only)) == 1


def test_cnn_cfar_keeps_a_berthed_proposal_as_the_cnn_found_it() -> None:
    land = land_columns((300, 300), 120)
    scene = s1_scene(land=land, ships=[Ship(150, 125, 120.0, 20.0, 0.0)], sea_db=-20.0, seed=9)
    assert sar_coast_separation_db(scene.band("VV"), np.isfinite(scene.band("VV")), 10.0) >= SAR_COAST_SEPARATION_DB
    # on the sea a few pixels off the quay, where the local CFAR sees nothing: still kept (a CFAR cannot tell a
    # hull from its quay); on the open water of the same scene: rejected
    det = CfarCheckedCnnDetector(cnn=_Proposals([(60, 128, 0.8), (60, 250, 0.6)], length_m=99.0))
    found = det.detect(scene)
    assert len(found) == 1 and found["length_m"].iloc[0] == 99.0 and found["score"].iloc[0] == 0.8
    open_sea = s1_scene(seed=10, sea_db=-12.0)
    assert sar_coast_separation_db(open_sea.band("VV"), np.isfinite(open_sea.band("VV")), 10.0) \
        < SAR_COAST_SEPARATION_DB


def test_cnn_cfar_refuses_optical_scenes() -> None:
    with pytest.raises(DetectionError, match="cnn-cfar handles Sentinel-1"):
        CfarCheckedCnnDetector(cnn=_Proposals([])).detect(optical_scene())
