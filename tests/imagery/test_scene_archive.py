import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from satwatch.aoi import load_catalog
from satwatch.errors import InputFileError, SceneFormatError
from satwatch.imagery.archive import Archive, import_geotiff
from satwatch.imagery.scene import ground_sample_distance_m, read_scene, read_scene_header, write_scene
from tests.conftest import make_scene


def test_scene_round_trip_keeps_crs_transform_bands_tags(tmp_path: Path) -> None:
    scene = make_scene("s2")
    scene.data[0, 3, 4] = np.nan
    path = write_scene(scene, tmp_path / "s.tif")
    back = read_scene(path)
    assert back.crs.to_epsg() == 32653
    assert back.transform == scene.transform
    assert back.bands == ("B02", "B03", "B04", "B08", "B11", "B12", "SCL")
    assert back.meta == scene.meta
    np.testing.assert_array_equal(back.data, scene.data)  # NaN compare equal in assert_array_equal
    with rasterio.open(path) as src:
        tags = src.tags()
        assert tags["SATWATCH_SENSOR"] == "s2"
        assert tags["SATWATCH_ACQUIRED"] == "2024-10-08T01:52:30Z"
        assert tags["SATWATCH_SIMULATED"] == "true"
        assert tags["SATWATCH_SOURCE"] == "test"
        assert np.isnan(src.nodata)
        assert src.dtypes[0] == "float32"
        assert src.profile["tiled"]


def test_window_read_has_window_transform(tmp_path: Path) -> None:
    scene = make_scene("s1", height=50, width=60)
    path = write_scene(scene, tmp_path / "s1.tif")
    part = read_scene(path, window=Window(10, 20, 5, 6))
    assert part.data.shape == (2, 6, 5)
    assert part.transform.c == scene.transform.c + 100 and part.transform.f == scene.transform.f - 200
    np.testing.assert_array_equal(part.data, scene.data[:, 20:26, 10:15])


def test_same_scene_same_bytes(tmp_path: Path) -> None:
    a = write_scene(make_scene(seed=3), tmp_path / "a.tif").read_bytes()
    b = write_scene(make_scene(seed=3), tmp_path / "b.tif").read_bytes()
    assert a == b


def test_non_scene_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError):
        read_scene(tmp_path / "missing.tif")
    (tmp_path / "junk.tif").write_text("not a tiff")
    with pytest.raises(SceneFormatError, match="not a readable GeoTIFF"):
        read_scene(tmp_path / "junk.tif")
    bare = tmp_path / "bare.tif"
    with rasterio.open(bare, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32", crs="EPSG:4326",
                       transform=rasterio.transform.from_origin(0, 1, 0.1, 0.1)) as dst:
        dst.write(np.zeros((1, 4, 4), np.float32))
    with pytest.raises(SceneFormatError, match="satwatch archive import"):
        read_scene_header(bare)


def test_gsd_of_web_mercator_is_ground_metres() -> None:
    from affine import Affine
    from pyproj import CRS

    # 10 m Mercator pixels at ~60 N are ~5 m on the ground (sen2ships quirk).
    gsd = ground_sample_distance_m(CRS.from_epsg(3857), Affine(10, 0, 2_000_000, 0, -10, 8_399_737), 100, 100)
    assert gsd == pytest.approx(10 * np.cos(np.radians(60)), rel=0.02)


def test_archive_put_list_and_stac_item(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive")
    scene = make_scene("s2")
    path = archive.put(scene, {"eo:cloud_cover": 12.5})
    assert path == tmp_path / "archive" / "ru_dunai" / "s2" / "2024-10-08T015230Z.tif"
    assert archive.has("ru_dunai", "s2", scene.meta.acquired)
    item = json.loads(path.with_suffix(".json").read_text())
    assert item["stac_version"] == "1.0.0" and item["id"] == scene.meta.scene_id
    assert item["properties"]["datetime"] == "2024-10-08T01:52:30Z"
    assert item["properties"]["eo:cloud_cover"] == 12.5
    assert item["properties"]["satwatch:simulated"] is True
    assert item["properties"]["proj:epsg"] == 32653
    assert item["assets"]["data"]["href"] == "./2024-10-08T015230Z.tif"
    lon0, lat0, lon1, lat1 = item["bbox"]
    assert 132 < lon0 < lon1 < 134 and 42 < lat0 < lat1 < 44
    [entry] = archive.scenes()
    assert entry.path == path and entry.sensor == "s2" and entry.simulated
    assert archive.scenes(aoi_id="kp_nampo") == []


def test_scene_without_item_is_not_listed(tmp_path: Path) -> None:
    archive = Archive(tmp_path)
    path = archive.put(make_scene())
    path.with_suffix(".json").unlink()
    assert archive.scenes() == []
    assert not archive.has("ru_dunai", "s2", datetime(2024, 10, 8, 1, 52, 30, tzinfo=UTC))


_WRITER = """
import sys, numpy as np
from tests.conftest import make_scene
from satwatch.imagery.archive import Archive
scene = make_scene("s2", height=2500, width=2500, seed=1)
print("ready", flush=True)
Archive(sys.argv[1]).put(scene)
"""


def test_killed_write_leaves_nothing_that_reads_as_a_scene(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(root)], stdout=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(root.rglob(".*.partial*")):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(root.rglob(".*.partial*")), "the writer was killed before it started writing"
    archive = Archive(root)
    assert archive.scenes() == []
    assert not list(root.rglob("[!.]*.tif"))
    # Leftovers are swept once old enough, and never before (another process may still be writing).
    assert archive.sweep_partials() == 0
    for p in root.rglob(".*.partial*"):
        os.utime(p, (time.time() - 7200, time.time() - 7200))
    assert archive.sweep_partials() >= 1
    assert not list(root.rglob(".*.partial*"))


def _vladivostok_tiff(path: Path, dn: np.ndarray, nodata: float | None = 0, **tags: str) -> Path:
    """Write ``dn`` ``(bands, h, w)`` as a GeoTIFF on a Web Mercator grid over Vladivostok, 0.5 m pixels."""
    transform = rasterio.transform.from_origin(14_690_000, 5_325_000, 0.5, 0.5)
    with rasterio.open(path, "w", driver="GTiff", width=dn.shape[2], height=dn.shape[1], count=dn.shape[0],
                       dtype=str(dn.dtype), crs="EPSG:3857", transform=transform, nodata=nodata) as dst:
        dst.write(dn)
        dst.update_tags(**tags)
    return path


def test_import_uint16_geotiff_in_other_crs(tmp_path: Path) -> None:
    aoi = load_catalog()["ru_vladivostok"]
    dn = np.full((4, 40, 50), 2500, np.uint16)
    dn[:, 0, 0] = 0
    src = _vladivostok_tiff(tmp_path / "vhr.tif", dn, TIFFTAG_DATETIME="2024:10:16 02:10:00")
    archive = Archive(tmp_path / "archive")
    with pytest.raises(SceneFormatError, match="--scale"):
        import_geotiff(src, archive, aoi, "vhr", bands=["R", "G", "B", "N"])
    with pytest.raises(SceneFormatError, match="--bands"):
        import_geotiff(src, archive, aoi, "vhr", scale=1e-4)
    out = import_geotiff(src, archive, aoi, "vhr", bands=["R", "G", "B", "N"], scale=1e-4)
    scene = read_scene(out)
    assert scene.crs.to_epsg() == 3857 and scene.bands == ("R", "G", "B", "N")
    assert scene.meta.acquired == datetime(2024, 10, 16, 2, 10, tzinfo=UTC)
    assert scene.meta.simulated is False and scene.meta.source == "import"
    assert np.isnan(scene.data[0, 0, 0]) and scene.data[0, 5, 5] == pytest.approx(0.25)
    assert scene.gsd_m == pytest.approx(0.5 * np.cos(np.radians(43.1)), rel=0.02)


def test_import_scales_and_offsets_reflectance_but_not_scl_codes(tmp_path: Path) -> None:
    """ESA L2A DN (baseline >= 04.00): reflectance = DN x 0.0001 - 0.1; the SCL band keeps its class codes."""
    dn = np.full((3, 20, 30), 3000, np.uint16)
    dn[2] = 6  # SCL water
    src = _vladivostok_tiff(tmp_path / "l2a.tif", dn, nodata=None)
    when = datetime(2024, 10, 16, 2, 10, tzinfo=UTC)
    out = import_geotiff(src, Archive(tmp_path / "archive"), load_catalog()["ru_vladivostok"], "s2", acquired=when,
                         bands=["B03", "B08", "SCL"], scale=1e-4, offset=-0.1)
    assert read_scene(out).data[:, 5, 5] == pytest.approx([0.2, 0.2, 6.0])


def test_import_srgb_decodes_8bit_display_imagery(tmp_path: Path) -> None:
    """``--srgb``: 8-bit display DN are decoded to linear values (DN 128 is 0.216, not 0.502); nodata stays NaN."""
    from satwatch.errors import UsageError

    aoi = load_catalog()["ru_vladivostok"]
    dn = np.full((3, 20, 30), 128, np.uint8)
    dn[:, 0, 0] = 0
    src = _vladivostok_tiff(tmp_path / "photo.tif", dn)
    archive = Archive(tmp_path / "archive")
    when = datetime(2024, 10, 16, 2, 10, tzinfo=UTC)
    out = import_geotiff(src, archive, aoi, "vhr", acquired=when, bands=["R", "G", "B"], srgb=True)
    scene = read_scene(out)
    assert np.isnan(scene.data[0, 0, 0]) and scene.data[:, 5, 5] == pytest.approx([0.2159] * 3, abs=1e-4)
    with pytest.raises(UsageError, match="--scale"):
        import_geotiff(src, archive, aoi, "vhr", acquired=when, bands=["R", "G", "B"], scale=1 / 255, srgb=True)
    wide = _vladivostok_tiff(tmp_path / "wide.tif", dn.astype(np.uint16), nodata=None)
    with pytest.raises(SceneFormatError, match="8-bit"):
        import_geotiff(wide, archive, aoi, "vhr", acquired=when, bands=["R", "G", "B"], srgb=True)


def test_import_refuses_raster_outside_aoi(tmp_path: Path) -> None:
    aoi = load_catalog()["ru_dunai"]
    src = tmp_path / "far.tif"
    with rasterio.open(src, "w", driver="GTiff", width=8, height=8, count=1, dtype="float32", crs="EPSG:4326",
                       transform=rasterio.transform.from_origin(10, 50, 0.001, 0.001)) as dst:
        dst.write(np.ones((1, 8, 8), np.float32))
    with pytest.raises(SceneFormatError, match="does not overlap"):
        import_geotiff(src, Archive(tmp_path / "a"), aoi, "s1", acquired=datetime(2024, 1, 1, tzinfo=UTC),
                       bands=["VV"])
