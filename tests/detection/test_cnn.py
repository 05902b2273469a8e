"""The CNN detector's inference machinery: tiling seams, resampling, empty/cloud/nodata scenes, missing bands.

Most tests run a *fake network* with known behaviour (a centre peak at every bright pixel of band B08) through
the real tiling, reading, decoding and georeferencing code, so a wrong seam rule, a lost tile or a wrong
resampling shows as a missing, doubled or misplaced detection. Tests of the shipped weights are at the end.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import numpy as np
import pytest
import torch
from affine import Affine
from pyproj import CRS, Transformer
from torch import nn
from torch.nn import functional

from satwatch.detection.models.cnn import CnnDetector, LoadedModel, _cores, load_model, tile_origins
from satwatch.detection.models.network import CenterNet, NetOutput
from satwatch.detection.profiles import PROFILES, model_input
from satwatch.errors import DetectionError
from satwatch.imagery.scene import Scene, SceneMeta, write_scene

WATER, BRIGHT = 0.02, 0.5
S2_BANDS = ("B02", "B03", "B04", "B08", "B11", "SCL")


class _BrightPixelNet(nn.Module):
    """Heat peak in every stride-2 cell holding a bright B08 pixel; offset points at that pixel exactly."""

    def forward(self, x: torch.Tensor) -> NetOutput:
        b08 = x[:, 3:4]
        n, _, h, w = b08.shape
        cells = b08.reshape(n, 1, h // 2, 2, w // 2, 2)
        best = cells.amax(dim=(3, 5))
        heat = 20.0 * (best - 1.0)  # bright (2.0 normalised) -> +20, water (-0.8) -> -36
        flat = cells.permute(0, 1, 2, 4, 3, 5).reshape(n, 1, h // 2, w // 2, 4)
        arg = flat.argmax(dim=-1)
        dy = (arg // 2).float() + 0.5
        dx = (arg % 2).float() + 0.5
        zeros = torch.zeros_like(heat)
        return {"heat": heat, "offset": torch.cat([dx, dy], 1), "size": torch.cat([zeros, zeros], 1),
                "angle": torch.cat([zeros, zeros + 1], 1), "mask": torch.full((n, 2, h // 2, w // 2), -20.0)}


def _fake_detector(tile: int = 128, overlap: int = 32) -> CnnDetector:
    profile = dataclasses.replace(PROFILES["s2"], tile_px=tile, overlap_px=overlap)
    loaded = LoadedModel(profile=profile, net=cast(CenterNet, _BrightPixelNet()),
                         thresholds={"vessel": 0.5, "encampment": 0.5, "vehicle": 0.5}, meta={}, sha256="0" * 64,
                         device=torch.device("cpu"))
    return CnnDetector.from_models({"s2": loaded})


def _scene(height: int, width: int, bright: list[tuple[int, int]], crs: int = 32653,
           transform: Affine | None = None, scl: float = 6.0) -> Scene:
    data = np.full((len(S2_BANDS), height, width), WATER, dtype=np.float32)
    data[-1] = scl
    for r, c in bright:
        data[:5, r, c] = BRIGHT
    return Scene(data=data, bands=S2_BANDS, crs=CRS.from_epsg(crs),
                 transform=transform or Affine(10, 0, 284_000, 0, -10, 4_752_000),
                 meta=SceneMeta(sensor="s2", acquired=datetime(2024, 10, 8, 1, 52, tzinfo=UTC), source="test",
                                simulated=True, aoi="ru_dunai", scene_id="t"))


def _pixels(scene: Scene, detections: object) -> np.ndarray:
    """Detection points back to (row, col) of pixel centres of ``scene``."""
    import geopandas as gpd

    assert isinstance(detections, gpd.GeoDataFrame)
    tr = Transformer.from_crs(4326, scene.crs, always_xy=True)
    x, y = tr.transform(detections.geometry.x.to_numpy(), detections.geometry.y.to_numpy())
    inv = ~scene.transform
    cols, rows = inv @ (np.asarray(x), np.asarray(y))
    return np.column_stack([np.asarray(rows) - 0.5, np.asarray(cols) - 0.5])


@pytest.mark.parametrize("size", [100, 128, 129, 400, 1001])
def test_tile_cores_partition_the_grid(size: int) -> None:
    starts = tile_origins(size, 128, 32)
    assert all(s % 2 == 0 for s in starts)
    assert starts[0] == 0 and starts[-1] + 128 >= size
    cores = _cores(starts, size, 128)
    assert cores[0][0] == 0 and cores[-1][1] == size
    for (lo, hi), (lo2, _), start in zip(cores, [*cores[1:], (size, size)], starts, strict=True):
        assert hi == lo2 and lo < hi  # contiguous, no gap, no overlap
        assert start <= lo and hi <= start + 128  # inside its tile
        if hi < size:
            assert hi - start <= 128 - 14  # at least 14 px of context beyond every inner seam


def test_progress_reports_tiles_in_order_and_ends_at_the_total() -> None:
    det = _fake_detector()
    calls: list[tuple[int, int]] = []
    det.progress = lambda done, total: calls.append((done, total))
    det.detect(_scene(400, 400, [(10, 10)]))
    total = len(tile_origins(400, 128, 32)) ** 2
    assert total > 4 and calls[-1] == (total, total) and {t for _, t in calls} == {total}
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(done) >= total // det.batch_size


@pytest.mark.parametrize("read_threads", [1, 4])
def test_objects_on_tile_seams_are_found_once(read_threads: int) -> None:
    starts = tile_origins(400, 128, 32)
    seams = [hi for _, hi in _cores(starts, 400, 128)][:-1]
    # objects on, just before and just after every seam and tile edge, and on the scene's first/last pixels;
    # 6 px apart at least (the fake net reports one object per 2 x 2 cell, with 3 x 3-cell suppression)
    lines = sorted({0, 399} | {p + d for p in seams for d in (-7, -1, 5)} | {s + 3 for s in starts[1:]}
                   | {s + 127 for s in starts[:-1]})
    lines = [v for i, v in enumerate(lines) if i == 0 or v - lines[i - 1] >= 6]
    bright = sorted({(r, c) for r in lines for c in lines})
    scene = _scene(400, 400, bright)
    det = _fake_detector()
    det.read_threads = read_threads  # tiles read ahead by several threads come back in order, none lost
    found = det.detect(scene)
    assert len(found) == len(bright), "objects lost or doubled at tile seams"
    got = _pixels(scene, found)
    want = np.array(bright, dtype=float)
    # every planted pixel has exactly one detection on it
    d = np.hypot(got[:, None, 0] - want[None, :, 0], got[:, None, 1] - want[None, :, 1])
    assert (d.min(axis=0) < 0.01).all()
    assert sorted(d.argmin(axis=1).tolist()) == list(range(len(bright)))


def test_windowed_file_reads_match_in_memory(tmp_path: Path) -> None:
    bright = [(10, 10), (150, 300), (333, 97)]
    scene = _scene(360, 420, bright)
    path = write_scene(scene, tmp_path / "s.tif")
    det = _fake_detector()
    a, b = det.detect(scene), det.detect_file(path)
    assert len(a) == len(b) == 3
    assert np.allclose(np.sort(a.geometry.x.to_numpy()), np.sort(b.geometry.x.to_numpy()))


def test_epsg3857_scene_is_resampled_to_ground_metres() -> None:
    # 60 N: a 10 m Mercator pixel is 5 m on the ground, so the profile grid has half the pixels
    to_merc = Transformer.from_crs(4326, 3857, always_xy=True)
    x0, y0 = to_merc.transform(30.0, 60.0)
    transform = Affine(10, 0, x0, 0, -10, y0)
    bright_blocks = [(40, 60), (200, 120), (310, 330)]
    scene = _scene(400, 400, [], crs=3857, transform=transform)
    for r, c in bright_blocks:  # 2 x 2 source px = one 10 m ground pixel
        scene.data[:5, r:r + 2, c:c + 2] = BRIGHT
    assert math.isclose(scene.gsd_m, 5.0, rel_tol=0.01)
    found = _fake_detector().detect(scene)
    assert len(found) == 3
    geod_tr = Transformer.from_crs(3857, 4326, always_xy=True)
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    for r, c in bright_blocks:
        lon, lat = geod_tr.transform(*(transform @ (c + 1.0, r + 1.0)))
        dist = min(geod.inv(lon, lat, px, py)[2] for px, py in zip(found.geometry.x, found.geometry.y, strict=True))
        assert dist < 8.0, f"detection {dist:.1f} m from the object at ({r}, {c})"


def test_empty_cloud_and_nodata_scenes_give_no_detections() -> None:
    det = _fake_detector()
    assert len(det.detect(_scene(200, 200, []))) == 0
    bright = [(50, 50), (120, 80)]
    assert len(det.detect(_scene(200, 200, bright))) == 2
    assert len(det.detect(_scene(200, 200, bright, scl=9.0))) == 0  # all cloud: nothing is observed
    nodata = _scene(200, 200, bright)
    nodata.data[:] = np.nan
    assert len(det.detect(nodata)) == 0
    half = _scene(200, 200, bright)
    half.data[:, :, :64] = np.nan  # the object at column 50 is in no-data
    assert len(det.detect(half)) == 1


def test_missing_bands_are_imputed_or_refused() -> None:
    scene = _scene(64, 64, [(20, 20)])
    only_b08_b11 = Scene(data=scene.data[[3, 4]], bands=("B08", "B11"), crs=scene.crs, transform=scene.transform,
                         meta=scene.meta)
    assert len(_fake_detector().detect(only_b08_b11)) == 1
    x = model_input(only_b08_b11.data, only_b08_b11.bands, PROFILES["s2"])
    assert np.allclose(x[0], (x[3] + x[4]) / 2)  # B02 imputed as the mean of the present bands
    swir = Scene(data=scene.data[[4, 5]], bands=("B11", "SCL"), crs=scene.crs, transform=scene.transform,
                 meta=scene.meta)
    with pytest.raises(DetectionError, match="needs at least one of bands B02, B03, B04, B08"):
        _fake_detector().detect(swir)


def test_cli_missing_bands_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from satwatch.cli import main

    scene = _scene(64, 64, [])
    swir = Scene(data=scene.data[[4]], bands=("B11",), crs=scene.crs, transform=scene.transform, meta=scene.meta)
    path = write_scene(swir, tmp_path / "swir.tif")
    code = main(["detect", str(path), "--detector", "cnn", "--out", str(tmp_path / "d.geojson")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "needs at least one of bands" in err[0]
    assert not (tmp_path / "d.geojson").exists()


def test_decoded_heading_follows_angle_head() -> None:
    from satwatch.detection.models.cnn import decode_points

    heat = torch.full((1, 1, 8, 8), -20.0)
    heat[0, 0, 3, 4] = 5.0
    t = math.radians(2 * 30.0)
    out = {"heat": heat, "offset": torch.ones(1, 2, 8, 8), "size": torch.full((1, 2, 8, 8), math.log1p(120.0)),
           "angle": torch.stack([torch.full((8, 8), math.sin(t)), torch.full((8, 8), math.cos(t))])[None]}
    [[(cls, score, x, y, length, _width, heading)]] = decode_points(out, [0.5])
    assert cls == 0 and score > 0.99 and (x, y) == (9.0, 7.0)
    assert math.isclose(length, 120.0, rel_tol=1e-5) and math.isclose(heading, 30.0, abs_tol=1e-4)
    assert functional.sigmoid(torch.tensor(5.0)).item() == pytest.approx(score)


def test_every_peak_of_a_dense_car_park_is_decoded() -> None:
    """No cap on peaks by default: a 512 m tile of a car park at 1 m holds far more than a few hundred cars."""
    from satwatch.detection.models.cnn import decode_points

    heat = torch.full((1, 1, 96, 96), -9.0)
    heat[0, 0, ::3, ::3] = 3.0  # 32 x 32 = 1024 separate peaks
    zeros = torch.zeros(1, 2, 96, 96)
    out = {"heat": heat, "offset": zeros, "size": zeros, "angle": zeros}
    assert len(decode_points(out, [0.5])[0]) == 1024
    assert len(decode_points(out, [0.5], k=100)[0]) == 100


def test_decoded_peaks_match_a_dense_max_pool_reference() -> None:
    """Sparse decoding (candidates above threshold, 3 x 3 check) = dense 3 x 3 max-pool NMS + top-k + threshold."""
    from satwatch.detection.models.cnn import decode_points

    gen = torch.Generator().manual_seed(3)
    n, p, h, w = 3, 2, 40, 52
    out = {"heat": torch.randn(n, p, h, w, generator=gen) * 3 - 2, "offset": torch.rand(n, 2, h, w, generator=gen),
           "size": torch.rand(n, 2, h, w, generator=gen) * 4, "angle": torch.rand(n, 2, h, w, generator=gen) * 2 - 1}
    thresholds = [0.4, 0.7]
    got = decode_points(out, thresholds, k=30)
    heat = torch.sigmoid(out["heat"])
    peaks = heat * (functional.max_pool2d(heat, 3, stride=1, padding=1) == heat)
    scores, idx = peaks.reshape(n, -1).topk(30, dim=1)
    for img in range(n):
        want = []
        for s, j in zip(scores[img].tolist(), idx[img].tolist(), strict=True):
            cls, rem = divmod(j, h * w)
            if s >= thresholds[cls]:
                y, x = divmod(rem, w)
                want.append((cls, s, 2.0 * x + float(out["offset"][img, 0, y, x]),
                             2.0 * y + float(out["offset"][img, 1, y, x])))
        assert len(want) > 5  # the maps hold peaks of both classes
        assert [(c, pytest.approx(s), pytest.approx(x), pytest.approx(y)) for c, s, x, y in want] == \
            [(c, s, x, y) for c, s, x, y, *_ in got[img]]
    assert decode_points({**out, "heat": torch.full((n, p, h, w), -9.0)}, thresholds) == [[], [], []]


# ----------------------------------------------------------------------------------------------------------------
# The shipped weights
# ----------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_shipped_weights_load_weights_only(profile: str) -> None:
    loaded = load_model(profile, device="cpu")  # torch.load(..., weights_only=True) inside
    assert loaded.profile.name == profile
    assert set(loaded.thresholds) >= set(loaded.profile.classes)
    x = torch.zeros((1, loaded.profile.in_channels, 64, 64))
    with torch.inference_mode():
        out = loaded.net(x)
    assert out["heat"].shape == (1, len(loaded.profile.point_classes), 32, 32)


def test_auto_is_the_default_detector_and_uses_the_cnn_where_real_figures_chose_it() -> None:
    from satwatch.detection.auto import default_choices
    from satwatch.detection.detector import default_detector

    assert default_detector() == "auto"
    assert default_choices()["s2"].startswith("cnn")  # the CNN (with measured sizes) on Sentinel-2


def test_shipped_s2_model_finds_nothing_on_open_water_and_clouds() -> None:
    det = CnnDetector(device="cpu")
    rng = np.random.default_rng(0)
    scene = _scene(300, 300, [])
    scene.data[:5] += rng.normal(0, 0.003, scene.data[:5].shape).astype(np.float32)
    assert len(det.detect(scene)) == 0
    assert len(det.detect(_scene(300, 300, [(100, 100)], scl=9.0))) == 0


def test_detector_name_changes_with_the_decoder_so_old_cached_detections_are_not_reused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import satwatch.detection.models.cnn as cnn

    before = CnnDetector(device="cpu").name
    monkeypatch.setattr(cnn, "DECODE_VERSION", cnn.DECODE_VERSION + 1)
    after = CnnDetector(device="cpu").name
    assert before.startswith("cnn-") and after.startswith("cnn-") and before != after
