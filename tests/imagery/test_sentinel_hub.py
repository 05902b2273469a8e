"""The Sentinel Hub / CDSE source against the stand-in server (tests/imagery/sh_standin.py), through sentinelhub-py."""

from __future__ import annotations

import io
import json
import logging
import tarfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from shapely.geometry import box

from satwatch.aoi import AOI, load_catalog
from satwatch.cli import main
from satwatch.errors import CredentialsError, NoDataError, ProviderError, UsageError
from satwatch.imagery import sentinel_hub
from satwatch.imagery.archive import Archive
from satwatch.imagery.scene import read_scene
from satwatch.imagery.sentinel_hub import (
    DN_SCALE,
    EVALSCRIPTS,
    MAX_PX,
    PROVIDER_URLS,
    TIME_PAD,
    Piece,
    RetryPolicy,
    SentinelHubAcquisition,
    SentinelHubSource,
    decode_process_response,
    group_acquisitions,
    plan_grid,
    resolve_config,
    time_range,
)
from satwatch.imagery.simulated import render, scene_grid
from satwatch.imagery.source import Acquisition
from satwatch.settings import Settings, load_settings
from tests.imagery.sh_standin import ITEM_MS, QUOTA_MESSAGE, SentinelHubStandIn, processing_units

SECRET = "s3cr3t-Zq9x-never-print-me"
CLIENT = "satwatch-test-client"
START, END = date(2024, 10, 1), date(2024, 10, 20)
FAST = RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=20.0, rate_limited=3, default_retry_after_s=0.01)
REJECTED = "Sentinel Hub rejected the credentials for sentinel-hub: check SH_CLIENT_ID/SH_CLIENT_SECRET"


@pytest.fixture(scope="module")
def dunai() -> AOI:
    return load_catalog()["ru_dunai"]


@pytest.fixture
def standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[SentinelHubStandIn]:
    """A started stand-in and an environment that points satwatch at it with valid credentials."""
    with SentinelHubStandIn(client_id=CLIENT, client_secret=SECRET) as server:
        monkeypatch.setenv("SATWATCH_SH_BASE_URL", server.base_url)
        monkeypatch.setenv("SATWATCH_SH_TOKEN_URL", server.token_url)
        monkeypatch.setenv("SH_CLIENT_ID", CLIENT)
        monkeypatch.setenv("SH_CLIENT_SECRET", SECRET)
        monkeypatch.delenv("SH_PROFILE", raising=False)
        monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
        monkeypatch.setattr(sentinel_hub, "DEFAULT_RETRY", FAST)  # the CLI and open_source use the default
        yield server
    sentinel_hub._SESSIONS.clear()


def _source(**kwargs: Any) -> SentinelHubSource:
    kwargs.setdefault("retry", FAST)
    return SentinelHubSource("sentinel-hub", load_settings(), **kwargs)


def _archive_root(tmp_path: Path) -> Path:
    return tmp_path / "archive"


def _no_scene_files(root: Path) -> bool:
    return not [p for p in root.rglob("*.tif") if not p.name.startswith(".")] if root.exists() else True


def _same_reflectance(fetched: np.ndarray, expected: np.ndarray) -> bool:
    """Equal up to the 1e-4 steps of uint16 DN, with NaN at the same pixels (Sentinel-2 travels as DN)."""
    return bool(np.array_equal(np.isnan(fetched), np.isnan(expected))
                and np.allclose(fetched, expected, atol=0.5e-4 + 1e-6, equal_nan=True))


def _range(body: dict[str, Any]) -> tuple[datetime, datetime]:
    [data] = body["input"]["data"]
    tr = data["dataFilter"]["timeRange"]
    return (datetime.fromisoformat(tr["from"].replace("Z", "+00:00")),
            datetime.fromisoformat(tr["to"].replace("Z", "+00:00")))


# ------------------------------------------------------------------------------------------------ search


def test_search_gives_one_entry_per_acquisition_across_pages(standin: SentinelHubStandIn, dunai: AOI) -> None:
    standin.page_size = 3  # 4 acquisitions x 2 tiles = 8 items -> 3 pages
    times = standin.add_acquisitions(dunai, "s2", START, END, tiles=2)
    found = _source().search(dunai, START, END, "s2")
    assert [a.acquired for a in found] == [t + ITEM_MS for t in times] and len(times) >= 3  # milliseconds kept
    for acq in found:
        assert acq.source == "sentinel-hub" and acq.simulated is False and acq.sensor == "s2"
        assert len(acq.item_id.split(",")) == 2 and acq.coverage == pytest.approx(1.0)
        assert acq.cloud_fraction is not None and 0.0 <= acq.cloud_fraction <= 1.0
        assert isinstance(acq, SentinelHubAcquisition) and acq.last_item == acq.acquired + timedelta(seconds=2.5)
    catalog = standin.requests_to("catalog")
    assert [r.json.get("next") for r in catalog] == [None, 3, 6]
    body = catalog[0].json
    assert body["collections"] == ["sentinel-2-l2a"]
    assert body["datetime"] == "2024-10-01T00:00:00Z/2024-10-20T23:59:59.999999Z"
    assert body["intersects"]["type"] in ("Polygon", "MultiPolygon")
    assert all(r.headers["authorization"].startswith("Bearer ") for r in catalog)


def test_search_reaches_the_last_millisecond_of_the_end_day(standin: SentinelHubStandIn, dunai: AOI) -> None:
    last_second = datetime(2024, 10, 20, 23, 59, 59, 512000, tzinfo=UTC)  # a real item's sensing time has ms
    standin.add_item(dunai, "s2", last_second, **{"eo:cloud_cover": 5.0})
    standin.add_item(dunai, "s2", datetime(2024, 10, 21, tzinfo=UTC), **{"eo:cloud_cover": 5.0})  # next day
    standin.add_item(dunai, "s2", datetime(2024, 10, 1, tzinfo=UTC), **{"eo:cloud_cover": 5.0})  # first instant
    found = _source().search(dunai, START, END, "s2")
    assert [a.acquired for a in found] == [datetime(2024, 10, 1, tzinfo=UTC), last_second]


def test_search_filters_cloud_and_coverage_per_acquisition(standin: SentinelHubStandIn, dunai: AOI) -> None:
    t = datetime(2024, 10, 3, 1, 40, tzinfo=UTC)
    b = dunai.geometry.bounds
    west = box(b[0] - 0.05, b[1] - 0.05, (b[0] + b[2]) / 2, b[3] + 0.05)
    east = box((b[0] + b[2]) / 2, b[1] - 0.05, b[2] + 0.05, b[3] + 0.05)
    # clear acquisition whose two tiles differ in cloud: 10 % and 30 % over equal halves -> ~20 %
    standin.add_item(dunai, "s2", t, west, **{"eo:cloud_cover": 10.0})
    standin.add_item(dunai, "s2", t + timedelta(seconds=3), east, **{"eo:cloud_cover": 30.0})
    standin.add_item(dunai, "s2", t + timedelta(days=5), **{"eo:cloud_cover": 80.0})  # cloudy
    standin.add_item(dunai, "s2", t + timedelta(days=10), west, **{"eo:cloud_cover": 0.0})  # half the AOI
    every = _source().search(dunai, START, END, "s2")
    assert len(every) == 3
    assert every[0].cloud_fraction == pytest.approx(0.20, abs=0.01) and every[0].coverage == pytest.approx(1.0)
    assert every[2].coverage == pytest.approx(0.5, abs=0.02)
    clear = _source(max_cloud=0.5).search(dunai, START, END, "s2")
    assert [a.acquired for a in clear] == [every[0].acquired, every[2].acquired]
    full = _source(max_cloud=0.5, min_coverage=0.9).search(dunai, START, END, "s2")
    assert [a.acquired for a in full] == [every[0].acquired]


def test_search_s1_asks_for_iw_dual_pol_and_has_no_cloud(standin: SentinelHubStandIn, dunai: AOI) -> None:
    times = standin.add_acquisitions(dunai, "s1", START, END)
    sv = [i for i in standin.items if i.properties["s1:polarization"] == "SV"]
    assert len(sv) == len(times) > 0  # the catalog also holds single-polarisation scenes, as the real one does
    found = _source(max_cloud=0.1).search(dunai, START, END, "s1")
    assert [a.acquired for a in found] == [t + ITEM_MS for t in times] and all(a.cloud_fraction is None for a in found)
    assert not any("1SSV" in a.item_id for a in found)
    flt = standin.requests_to("catalog")[0].json["filter"]
    assert "sar:instrument_mode='IW'" in flt and "s1:polarization='DV'" in flt


def test_malformed_catalog_answer_is_one_error(standin: SentinelHubStandIn, dunai: AOI) -> None:
    standin.add_item(dunai, "s2", datetime(2024, 10, 3, 1, 40, tzinfo=UTC))
    standin.items[0].properties["datetime"] = "yesterday"  # overrides the item's own datetime in the answer
    with pytest.raises(ProviderError, match="catalog search got an answer satwatch cannot read"):
        _source().search(dunai, START, END, "s2")


def test_grouping_separates_overpasses_and_platforms(dunai: AOI) -> None:
    geometry = dunai.to_feature()["geometry"]

    def item(i: str, when: str, platform: str = "sentinel-2a") -> dict[str, object]:
        return {"id": i, "geometry": geometry, "properties": {"datetime": when, "platform": platform,
                                                               "eo:cloud_cover": 5.0}}

    items = [item("b", "2024-10-08T01:52:35Z"), item("a", "2024-10-08T01:52:30Z"),
             item("c", "2024-10-08T03:33:00Z"), item("d", "2024-10-08T01:52:31Z", "sentinel-2b")]
    found = group_acquisitions(items, dunai, "s2", "cdse")
    assert [(a.acquired.strftime("%H%M%S"), a.item_id) for a in found] == [
        ("015230", "a,b"), ("015231", "d"), ("033300", "c")]


# ------------------------------------------------------------------------------------------------ fetch


def test_fetch_request_body_and_scene_contract_s2(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    times = standin.add_acquisitions(dunai, "s2", START, END)
    src = _source()
    found = src.search(dunai, START, END, "s2")
    acq = found[1]
    path = src.fetch(acq, dunai, _archive_root(tmp_path))

    [req] = standin.requests_to("process")
    body = req.json
    crs, transform, width, height = scene_grid(dunai, "s2")
    assert crs.to_epsg() == 32653
    assert body["input"]["bounds"]["properties"]["crs"] == "http://www.opengis.net/def/crs/EPSG/0/32653"
    left, top = transform.c, transform.f
    assert body["input"]["bounds"]["bbox"] == pytest.approx([left, top - 10 * height, left + 10 * width, top])
    assert (body["output"]["width"], body["output"]["height"]) == (width, height) and max(width, height) <= MAX_PX
    [data] = body["input"]["data"]
    assert data["type"] == "sentinel-2-l2a" and data["processing"] == {"harmonizeValues": True}
    t0, t1 = _range(body)
    # the range spans the overpass's two tiles (2.5 s apart) with a minute either side, and nothing else
    assert (t0, t1) == (acq.acquired - TIME_PAD, acq.acquired + timedelta(seconds=2.5) + TIME_PAD)
    assert [t for t in times if t0 <= t + ITEM_MS <= t1] == [times[1]]  # exactly one acquisition in the range
    # Sentinel-2 travels as 16-bit DN: half the processing units of FLOAT32 reflectance
    assert body["evalscript"] == EVALSCRIPTS["s2"]
    assert '{id: "default", bands: 7, sampleType: "UINT16"}' in body["evalscript"]
    assert "FLOAT32" not in body["evalscript"] and "REFLECTANCE" not in body["evalscript"]
    assert '["B02", "B03", "B04", "B08", "B11", "B12", "SCL", "dataMask"]' in body["evalscript"]
    assert [r["identifier"] for r in body["output"]["responses"]] == ["default", "dataMask"]
    assert req.headers["accept"] == "application/x-tar"
    assert req.pu == pytest.approx(processing_units(width, height, [f"b{i}" for i in range(7)], ["UINT16", "UINT8"]))
    assert req.pu == pytest.approx(width * height / 512 ** 2 * 7 / 3) and req.pu == pytest.approx(6.03, abs=0.01)
    assert req.pu == pytest.approx(processing_units(width, height, ["b"] * 7, ["FLOAT32", "UINT8"]) / 2)

    with rasterio.open(path) as ds:
        assert ds.crs.to_epsg() == 32653 and ds.res == (10.0, 10.0)
        assert ds.transform == transform and (ds.width, ds.height) == (width, height)
        assert ds.descriptions == ("B02", "B03", "B04", "B08", "B11", "B12", "SCL")
        assert ds.dtypes[0] == "float32" and np.isnan(ds.nodata)
        tags = ds.tags()
    assert tags["SATWATCH_SOURCE"] == "sentinel-hub" and tags["SATWATCH_SIMULATED"] == "false"
    assert tags["SATWATCH_SENSOR"] == "s2" and tags["SATWATCH_ACQUIRED"] == acq.acquired.strftime("%Y-%m-%dT%H:%M:%SZ")
    # the stand-in renders the simulator's scene: fetched pixels equal it (to the DN step), so georeferencing is
    # right and DN became reflectance again; SCL stays class codes, no-data stays NaN
    expected = render(dunai, times[1], "s2", standin.scenario).scene
    fetched = read_scene(path)
    assert _same_reflectance(fetched.data, expected.data) and float(np.nanmax(fetched.data[:6])) < 2.0  # not DN
    assert 0.0 < float(np.nanmedian(fetched.band("B04"))) < 1.0
    assert np.array_equal(fetched.band("SCL"), expected.band("SCL"), equal_nan=True)
    item = json.loads(path.with_suffix(".json").read_text())["properties"]
    assert acq.cloud_fraction is not None
    assert item["eo:cloud_cover"] == pytest.approx(100 * acq.cloud_fraction, abs=0.01)
    assert item["satwatch:item_ids"] == acq.item_id.split(",") and item["satwatch:simulated"] is False
    assert item["satwatch:provider"] == "sentinel-hub" and item["proj:epsg"] == 32653


def test_fetch_s1_sigma0_db_orthorectified(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    standin.add_acquisitions(dunai, "s1", START, END)
    src = _source()
    [acq, *_] = src.search(dunai, START, END, "s1")
    path = src.fetch(acq, dunai, _archive_root(tmp_path))
    [req] = standin.requests_to("process")
    [data] = req.json["input"]["data"]
    assert data["type"] == "sentinel-1-grd"
    assert data["processing"] == {"backCoeff": "SIGMA0_ELLIPSOID", "orthorectify": True, "demInstance": "COPERNICUS_30"}
    assert data["dataFilter"]["acquisitionMode"] == "IW" and data["dataFilter"]["polarization"] == "DV"
    assert req.json["evalscript"] == EVALSCRIPTS["s1"] and 'sampleType: "FLOAT32"' in EVALSCRIPTS["s1"]
    assert "s1" not in DN_SCALE  # dB stays float32: negative, fractional
    assert _range(req.json) == (acq.acquired - TIME_PAD, acq.acquired + timedelta(seconds=25) + TIME_PAD)
    scene = read_scene(path)
    assert scene.bands == ("VV", "VH") and scene.meta.source == "sentinel-hub" and not scene.meta.simulated
    assert -30 < float(np.nanmedian(scene.band("VV"))) < 5  # dB, not linear power
    expected = render(dunai, acq.acquired - ITEM_MS, "s1", standin.scenario).scene
    assert np.array_equal(scene.data, expected.data, equal_nan=True)


def test_second_fetch_sends_no_request(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    standin.add_acquisitions(dunai, "s2", START, END)
    src = _source()
    acq = src.search(dunai, START, END, "s2")[0]
    first = src.fetch(acq, dunai, _archive_root(tmp_path))
    mtime = first.stat().st_mtime_ns
    seen = len(standin.received)
    # a fresh source, even one whose credentials would be rejected, serves the archived scene without asking
    monkeypatch.setenv("SH_CLIENT_SECRET", "wrong")
    again = _source().fetch(acq, dunai, _archive_root(tmp_path))
    assert again == first and first.stat().st_mtime_ns == mtime
    assert len(standin.received) == seen and len(standin.requests_to("process")) == 1


def test_large_aoi_is_split_and_merged(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    standin.max_px = 500  # ru_dunai is 842 x 804 px: with a 500 px limit it takes 2 x 2 requests
    times = standin.add_acquisitions(dunai, "s2", START, END)
    src = _source(max_px=500)
    acq = src.search(dunai, START, END, "s2")[0]
    path = src.fetch(acq, dunai, _archive_root(tmp_path))
    sizes = [(r.json["output"]["width"], r.json["output"]["height"]) for r in standin.requests_to("process")]
    assert sizes == [(421, 402)] * 4 and all(r.status == 200 for r in standin.requests_to("process"))
    scene = read_scene(path)
    expected = render(dunai, times[0], "s2", standin.scenario).scene
    assert scene.transform == expected.transform and _same_reflectance(scene.data, expected.data)


def test_service_pixel_limit_answer_is_reported(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    standin.max_px = 500
    standin.add_acquisitions(dunai, "s2", START, END)
    src = _source()  # still plans 2500 px requests
    acq = src.search(dunai, START, END, "s2")[0]
    with pytest.raises(ProviderError, match=r"HTTP 400 RENDERER_EXCEPTION: .*between 1 and 500"):
        src.fetch(acq, dunai, _archive_root(tmp_path))
    assert [r.status for r in standin.requests_to("process")] == [400]  # a 400 is not retried
    assert _no_scene_files(_archive_root(tmp_path))


def test_standin_refuses_more_than_2500_px(standin: SentinelHubStandIn, dunai: AOI) -> None:
    standin.add_acquisitions(dunai, "s1", START, END)
    src = _source()
    acq = src.search(dunai, START, END, "s1")[0]
    grid = plan_grid(dunai)
    x0, y1 = grid.transform.c, grid.transform.f
    for width, status in ((2500, 200), (2501, 400)):
        piece = Piece(bbox=(x0, y1 - 100, x0 + 10 * width, y1), col=0, row=0, width=width, height=10)
        request = src.process_request(acq, grid, piece)
        if status == 400:
            with pytest.raises(ProviderError, match="between 1 and 2500"):
                src._guard(lambda r=request: src._client().download(r.download_list, decode_data=False), "process")
        else:
            src._client().download(request.download_list, decode_data=False)
        assert standin.requests_to("process")[-1].status == status


def test_plan_grid_splits_big_aois_on_the_pixel_grid() -> None:
    aoi = load_catalog()["ru_sergeevka"]
    grid = plan_grid(aoi)
    _, transform, width, height = scene_grid(aoi, "s2")
    assert (grid.transform, grid.width, grid.height) == (transform, width, height) and width > MAX_PX
    cover = np.zeros((height, width), np.int32)
    for p in grid.pieces:
        assert p.width <= MAX_PX and p.height <= MAX_PX
        assert p.bbox == (transform.c + 10 * p.col, transform.f - 10 * (p.row + p.height),
                          transform.c + 10 * (p.col + p.width), transform.f - 10 * p.row)
        cover[p.row:p.row + p.height, p.col:p.col + p.width] += 1
    assert (cover == 1).all()  # no gaps, no overlaps
    assert len(plan_grid(load_catalog()["ru_dunai"]).pieces) == 1


def test_pixels_outside_the_acquisition_are_nan(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    standin.add_acquisitions(dunai, "s2", START, END, coverage=0.5)
    src = _source()
    acq = src.search(dunai, START, END, "s2")[0]
    assert acq.coverage == pytest.approx(0.5, abs=0.05)
    scene = read_scene(src.fetch(acq, dunai, _archive_root(tmp_path)))
    valid = np.isfinite(scene.data)
    assert (valid == valid[0]).all()  # dataMask applies to every band
    assert valid[0][:, :300].all() and not valid[0][:, -300:].any()


def test_time_range_spans_the_group_not_ten_minutes(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    t = datetime(2024, 10, 3, 1, 40, 10, 311000, tzinfo=UTC)
    own, other = datetime(2024, 10, 3, 1, 40, 10, tzinfo=UTC), datetime(2024, 10, 13, 1, 40, 10, tzinfo=UTC)
    standin.add_item(dunai, "s2", t, render_time=own, **{"eo:cloud_cover": 5.0})
    standin.add_item(dunai, "s2", t + timedelta(seconds=4), render_time=own, **{"eo:cloud_cover": 5.0})
    # another platform 5 minutes later: its own acquisition, which the Process request must not mosaic in
    standin.add_item(dunai, "s2", t + timedelta(minutes=5), render_time=other, platform="sentinel-2b",
                     **{"eo:cloud_cover": 5.0})
    src = _source()
    first, second = src.search(dunai, START, END, "s2")
    assert isinstance(first, SentinelHubAcquisition) and first.last_item == t + timedelta(seconds=4)
    assert time_range(first) == (t - TIME_PAD, t + timedelta(seconds=4) + TIME_PAD)
    path = src.fetch(first, dunai, _archive_root(tmp_path))
    assert _range(standin.requests_to("process")[0].json) == time_range(first)
    assert _same_reflectance(read_scene(path).data, render(dunai, own, "s2", standin.scenario).scene.data)
    # an acquisition that does not know its last item gets the widest span a group can have
    plain = Acquisition(dunai.id, "s2", t, "sentinel-hub", False)
    assert time_range(plain) == (t - TIME_PAD, t + timedelta(minutes=10))
    assert second.acquired == t + timedelta(minutes=5) and time_range(second)[0] > time_range(first)[1]


def test_all_no_data_answer_is_not_archived(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    standin.add_acquisitions(dunai, "s2", START, END)
    src = _source()
    acq = src.search(dunai, START, END, "s2")[0]
    items = list(standin.items)
    standin.items.clear()  # the catalog listed it, the Process API has no data for it (yet)
    with pytest.raises(NoDataError, match=r"returned no valid pixel of ru_dunai s2 .*nothing archived") as err:
        src.fetch(acq, dunai, _archive_root(tmp_path))
    assert isinstance(err.value, ProviderError) and err.value.exit_code == 1
    assert _no_scene_files(_archive_root(tmp_path))
    assert not Archive(_archive_root(tmp_path)).has(dunai.id, "s2", acq.acquired)
    standin.items.extend(items)  # a later run asks again and gets the scene
    path = src.fetch(acq, dunai, _archive_root(tmp_path))
    assert np.isfinite(read_scene(path).data[0]).all() and len(standin.requests_to("process")) == 2


def test_decoder_scales_uint16_dn_to_reflectance() -> None:
    from rasterio.io import MemoryFile

    dn = np.array([[[0, 523, 10000, 12000]], [[3, 8, 9, 65535]]], np.uint16)  # B-band DN, SCL codes; 1 x 4 px
    mask = np.array([[[0, 1, 1, 1]]], np.uint8)
    members = {}
    for name, arr in (("default", dn), ("dataMask", mask)):
        with MemoryFile() as mem:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with mem.open(driver="GTiff", width=4, height=1, count=arr.shape[0], dtype=arr.dtype) as dst:
                    dst.write(arr)
            members[name] = bytes(mem.read())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(f"{name}.tif")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    data, valid = decode_process_response(buf.getvalue(), 2, 1, 4, (10000.0, 1.0))
    assert data.dtype == np.float32 and valid.tolist() == [[False, True, True, True]]
    assert np.isnan(data[:, 0, 0]).all()  # no data stays NaN, not 0
    assert data[0, 0, 1:].tolist() == pytest.approx([0.0523, 1.0, 1.2])  # reflectance, above 1 kept
    assert data[1, 0, 1:].tolist() == [8.0, 9.0, 65535.0]  # class codes unchanged
    with pytest.raises(ValueError, match="1 divisors for 2 bands"):
        decode_process_response(buf.getvalue(), 2, 1, 4, (10000.0,))


def test_decoder_accepts_single_tiff_and_refuses_broken_answers() -> None:
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    arr = np.stack([np.full((3, 4), 0.5, np.float32), np.full((3, 4), 0.25, np.float32),
                    np.array([[1, 1, 0, 0]] * 3, np.float32)])
    with MemoryFile() as mem:
        with pytest.warns(NotGeoreferencedWarning), mem.open(driver="GTiff", width=4, height=3, count=3,
                                                             dtype="float32") as dst:
            dst.write(arr)
        blob = bytes(mem.read())
    data, valid = decode_process_response(blob, 2, 3, 4)
    assert valid[:, :2].all() and not valid[:, 2:].any()
    assert (data[:, :, :2] == arr[:2, :, :2]).all() and np.isnan(data[:, :, 2:]).all()
    with pytest.raises(ProviderError, match="requested 2 bands of 5 x 3 px"):
        decode_process_response(blob, 2, 3, 5)
    with pytest.raises(ProviderError, match=r"lacks default\.tif, dataMask\.tif"):
        decode_process_response(b"\x00" * 1024, 2, 3, 4)  # an empty tar
    with pytest.raises(ProviderError, match="neither a TIFF nor a complete tar"):
        decode_process_response(b'{"error": "oops"}', 2, 3, 4)


# ------------------------------------------------------------------------------------------------ faults


def test_5xx_is_retried_with_backoff(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    standin.add_acquisitions(dunai, "s1", START, END)
    src = _source()
    acq = src.search(dunai, START, END, "s1")[0]
    standin.fault("process", status=500, times=2)
    path = src.fetch(acq, dunai, _archive_root(tmp_path))
    assert [r.status for r in standin.requests_to("process")] == [500, 500, 200] and path.is_file()


def test_token_and_catalog_5xx_are_retried(standin: SentinelHubStandIn, dunai: AOI) -> None:
    standin.add_acquisitions(dunai, "s1", START, END)
    standin.fault("token", status=503)
    standin.fault("catalog", status=502)
    assert _source().search(dunai, START, END, "s1")
    assert [r.status for r in standin.requests_to("token")] == [503, 200]
    assert [r.status for r in standin.requests_to("catalog")] == [502, 200]


def _distinct(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """Each log record once: a Prefect flow run earlier in the session can leave a second handler on the library
    logger, so pytest may capture one record twice."""
    seen: dict[tuple[float, str], logging.LogRecord] = {}
    for r in records:
        seen.setdefault((r.created, r.getMessage()), r)  # a copy of a record keeps its time and text
    return list(seen.values())


def test_429_waits_retry_after_milliseconds(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    standin.add_acquisitions(dunai, "s1", START, END)
    src = _source()
    acq = src.search(dunai, START, END, "s1")[0]
    standin.fault("process", status=429, retry_after_ms=300, times=2)
    caplog.set_level(logging.INFO, logger="satwatch")
    began = time.monotonic()
    src.fetch(acq, dunai, _archive_root(tmp_path))
    assert time.monotonic() - began >= 0.6  # 2 x 300 ms, as the service asked
    assert [r.status for r in standin.requests_to("process")] == [429, 429, 200]
    waits = [r for r in _distinct(caplog.records) if "429" in r.getMessage()]
    assert [r.levelno for r in waits] == [logging.INFO] * 2  # a scheduled run's log shows every wait
    assert "process request: waiting 0.3 s as its Retry-After asks (try 1 of 3)" in waits[0].getMessage()


def test_endless_429_gives_up_after_bounded_tries(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    standin.add_acquisitions(dunai, "s1", START, END)
    src = _source()
    acq = src.search(dunai, START, END, "s1")[0]
    standin.fault("process", status=429, retry_after_ms=10, times=1000)
    with pytest.raises(ProviderError, match=r"kept answering 429 Too Many Requests to the process request \(3 tries"):
        src.fetch(acq, dunai, _archive_root(tmp_path))
    assert len(standin.requests_to("process")) == FAST.rate_limited
    assert _no_scene_files(_archive_root(tmp_path))


@pytest.mark.parametrize("endpoint", ["token", "catalog", "process"])
def test_long_retry_after_stops_at_once_with_one_line(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path,
                                                      endpoint: str) -> None:
    standin.add_acquisitions(dunai, "s1", START, END)
    src = _source(retry=replace(FAST, max_wait_s=2.0))
    acq = src.search(dunai, START, END, "s1")[0] if endpoint == "process" else None
    sentinel_hub._SESSIONS.clear()  # the token request happens again
    standin.fault(endpoint, status=429, retry_after_ms=600_000, times=1000)  # ten minutes
    began = time.monotonic()
    with pytest.raises(ProviderError) as err:
        if acq is None:
            src.search(dunai, START, END, "s1")
        else:
            src.fetch(acq, dunai, _archive_root(tmp_path))
    assert time.monotonic() - began < 2.0  # stopped, did not sleep
    what = {"token": "token request", "catalog": "catalog search", "process": "process request"}[endpoint]
    assert str(err.value).startswith(f"sentinel-hub answered 429 Too Many Requests to the {what} with Retry-After "
                                     "600 s (10 min), longer than the 2 s limit on one rate-limit wait")
    assert "\n" not in str(err.value) and "credential" not in str(err.value).lower()
    assert [r.status for r in standin.requests_to(endpoint)] == [429]
    assert not isinstance(err.value, CredentialsError) and err.value.exit_code == 1


def test_rate_limited_token_request_is_waited_out(standin: SentinelHubStandIn, dunai: AOI,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    standin.add_acquisitions(dunai, "s1", START, END)
    standin.fault("token", status=429, retry_after_ms=200, times=2)
    caplog.set_level(logging.INFO, logger="satwatch")
    began = time.monotonic()
    assert _source().search(dunai, START, END, "s1")
    assert time.monotonic() - began >= 0.4
    assert [r.status for r in standin.requests_to("token")] == [429, 429, 200]
    assert sum("429 Too Many Requests to the token request: waiting 0.2 s" in r.getMessage()
               for r in _distinct(caplog.records) if r.levelno == logging.INFO) == 2


def test_retry_after_without_header_or_unreadable_waits_the_default(caplog: pytest.LogCaptureFixture) -> None:
    policy = RetryPolicy(rate_limited=5, default_retry_after_s=7.0, max_wait_s=60.0)
    caplog.set_level(logging.INFO, logger="satwatch")
    assert sentinel_hub._rate_limit_wait({}, policy, "cdse", "process request", 1) == 7.0
    assert sentinel_hub._rate_limit_wait({"Retry-After": "soon"}, policy, "cdse", "process request", 1) == 7.0
    assert sentinel_hub._rate_limit_wait({"Retry-After": "1500"}, policy, "cdse", "process request", 4) == 1.5
    with pytest.raises(ProviderError, match=r"Retry-After 60\.001 s, longer than the 60 s limit"):
        sentinel_hub._rate_limit_wait({"Retry-After": "60001"}, policy, "cdse", "process request", 1)
    with pytest.raises(ProviderError, match=r"kept answering .* \(5 tries\)"):
        sentinel_hub._rate_limit_wait({"Retry-After": "1"}, policy, "cdse", "process request", 5)
    assert len([r for r in _distinct(caplog.records) if r.levelno == logging.INFO]) == 3


def test_slow_answer_times_out_and_is_retried(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    standin.add_acquisitions(dunai, "s1", START, END)
    src = _source(retry=RetryPolicy(attempts=3, backoff_s=0.01, timeout_s=1.0))
    acq = src.search(dunai, START, END, "s1")[0]
    standin.prerender()
    standin.fault("process", delay_s=2.0)  # longer than the 1 s timeout
    path = src.fetch(acq, dunai, _archive_root(tmp_path))
    assert len(standin.requests_to("process")) == 2 and path.is_file()


def test_truncated_body_is_retried(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    standin.add_acquisitions(dunai, "s1", START, END)
    src = _source()
    acq = src.search(dunai, START, END, "s1")[0]
    standin.fault("process", truncate=True)
    path = src.fetch(acq, dunai, _archive_root(tmp_path))
    assert len(standin.requests_to("process")) == 2 and read_scene(path).bands == ("VV", "VH")


def test_interrupted_download_leaves_no_scene(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    standin.max_px = 500
    standin.add_acquisitions(dunai, "s1", START, END)
    src = _source(max_px=500)
    acq = src.search(dunai, START, END, "s1")[0]
    standin.fault("process", truncate=True, times=1000)
    with pytest.raises(ProviderError, match="failed after 3 tries"):
        src.fetch(acq, dunai, _archive_root(tmp_path))
    assert _no_scene_files(_archive_root(tmp_path))
    assert not Archive(_archive_root(tmp_path)).has(dunai.id, "s1", acq.acquired)


@pytest.mark.parametrize(("endpoint", "status", "code"), [
    ("token", None, None),  # a wrong secret: Keycloak's 401 unauthorized_client
    ("token", 401, "invalid_client"),
    ("token", 400, "unauthorized_client"),  # the OAuth2 error names the client whatever the status
    ("token", 401, "invalid_grant"),  # a 401 whatever the OAuth2 error
    ("catalog", 401, None),
    ("process", 401, None),
])
def test_rejected_credentials_give_the_fixed_line(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch, endpoint: str,
                                                  status: int | None, code: str | None) -> None:
    standin.add_acquisitions(dunai, "s2", START, END)
    if status is None:
        monkeypatch.setenv("SH_CLIENT_SECRET", "not-the-secret")
    else:
        standin.fault(endpoint, status=status, code=code)
    src = _source()
    with pytest.raises(CredentialsError) as err:
        acq = src.search(dunai, START, END, "s2")[0]
        src.fetch(acq, dunai, _archive_root(tmp_path))
    assert str(err.value) == REJECTED and err.value.exit_code == 3
    assert len(standin.requests_to(endpoint)) == 1  # rejected credentials are not retried


@pytest.mark.parametrize("endpoint", ["catalog", "process"])
def test_403_quota_quotes_the_server_never_credentials(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path,
                                                        endpoint: str) -> None:
    standin.add_acquisitions(dunai, "s2", START, END)
    src = _source()
    acq = src.search(dunai, START, END, "s2")[0]
    standin.fault(endpoint, status=403, code="RATE_LIMIT_EXCEEDED",
                  message="Monthly processing units quota exceeded (10000 PU)")
    with pytest.raises(ProviderError) as err:
        if endpoint == "catalog":
            src.search(dunai, START, END, "s2")
        else:
            src.fetch(acq, dunai, _archive_root(tmp_path))
    text = str(err.value)
    what = "catalog search" if endpoint == "catalog" else "process request"
    assert text.startswith(f"sentinel-hub refused the {what} (HTTP 403 RATE_LIMIT_EXCEEDED): Monthly processing "
                           "units quota exceeded (10000 PU). ")
    assert "credential" not in text.lower() and "SH_CLIENT" not in text and "\n" not in text
    assert not isinstance(err.value, CredentialsError) and err.value.exit_code == 1
    assert [r.status for r in standin.requests_to(endpoint)][-1] == 403
    assert _no_scene_files(_archive_root(tmp_path))
    # the session survives a 403: the next request reuses the token
    assert src.search(dunai, START, END, "s2") and len(standin.requests_to("token")) == 1


def test_used_up_quota_of_the_standin_is_a_403_with_its_message(standin: SentinelHubStandIn, dunai: AOI,
                                                                 tmp_path: Path) -> None:
    standin.add_acquisitions(dunai, "s2", START, END)
    src = _source()
    first, second, *_ = src.search(dunai, START, END, "s2")
    standin.pu_quota = 8.0  # one 6 PU scene of ru_dunai fits, a second does not
    src.fetch(first, dunai, _archive_root(tmp_path))
    with pytest.raises(ProviderError, match=f"HTTP 403 COMMON_INSUFFICIENT_PERMISSIONS\\): {QUOTA_MESSAGE}"):
        src.fetch(second, dunai, _archive_root(tmp_path))
    assert standin.pu_spent == pytest.approx(6.03, abs=0.01)  # with FLOAT32 one scene alone (12 PU) would not fit


@pytest.mark.parametrize(("status", "code", "needle"), [
    (400, "invalid_request", r"token request refused with HTTP 400 \(invalid_request\): injected fault 400"),
    (403, "access_denied", r"token request refused with HTTP 403 \(access_denied\)"),
    (403, None, r"token request refused with HTTP 403 \(access_denied\)"),
])
def test_other_token_errors_are_not_credentials(standin: SentinelHubStandIn, dunai: AOI, status: int,
                                                code: str | None, needle: str) -> None:
    standin.fault("token", status=status, code=code)
    with pytest.raises(ProviderError, match=needle) as err:
        _source().authenticate()
    assert not isinstance(err.value, CredentialsError) and "SH_CLIENT" not in str(err.value)


# ------------------------------------------------------------------------------------------------ configuration


def test_missing_credentials_name_the_variable(standin: SentinelHubStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SH_CLIENT_ID")
    monkeypatch.delenv("SH_CLIENT_SECRET")
    with pytest.raises(CredentialsError, match="set SH_CLIENT_ID and SH_CLIENT_SECRET"):
        _source()
    monkeypatch.setenv("SH_CLIENT_ID", CLIENT)
    with pytest.raises(CredentialsError, match="set SH_CLIENT_SECRET"):
        _source()
    monkeypatch.setenv("SH_PROFILE", "nowhere")
    with pytest.raises(CredentialsError, match="SH_PROFILE=nowhere"):
        _source()


def test_profile_credentials_are_read_never_written(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "xdg" / "sentinelhub" / "config.toml"
    monkeypatch.delenv("SH_CLIENT_ID")
    monkeypatch.delenv("SH_CLIENT_SECRET")
    with pytest.raises(CredentialsError):
        _source()
    assert not config.exists()  # sentinelhub's SHConfig() would have created it
    config.parent.mkdir(parents=True)
    text = f'[analyst]\nsh_client_id = "{CLIENT}"\nsh_client_secret = "{SECRET}"\n'
    config.write_text(text)
    monkeypatch.setenv("SH_PROFILE", "analyst")
    standin.add_acquisitions(dunai, "s1", START, END)
    assert _source().search(dunai, START, END, "s1")
    assert config.read_text() == text


def test_provider_urls_overrides_and_collections(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"SH_CLIENT_ID": "id", "SH_CLIENT_SECRET": "secret"}
    for provider, (base, token) in PROVIDER_URLS.items():
        cfg = resolve_config(provider, Settings(data_dir=Path("d")), env=env)
        assert (cfg.sh_base_url, cfg.sh_token_url) == (base, token)
    assert PROVIDER_URLS["cdse"][0] == "https://sh.dataspace.copernicus.eu"
    cfg = resolve_config("cdse", Settings(data_dir=Path("d"), sh_base_url="https://sh.example.org/",
                                          sh_token_url="https://auth.example.org/token"), env=env)
    assert (cfg.sh_base_url, cfg.sh_token_url) == ("https://sh.example.org", "https://auth.example.org/token")
    with pytest.raises(UsageError, match="http:// is accepted only for loopback"):
        resolve_config("cdse", Settings(data_dir=Path("d"), sh_token_url="http://auth.example.org/token"), env=env)
    with pytest.raises(UsageError, match="only for loopback"):
        resolve_config("cdse", Settings(data_dir=Path("d"), sh_base_url="http://10.0.0.5:8080"), env=env)
    for host in ("127.0.0.1:9", "localhost", "[::1]:80"):
        resolve_config("cdse", Settings(data_dir=Path("d"), sh_token_url=f"http://{host}/oauth/token"), env=env)
    # collections are bound to the configured URL (the stock ones would send requests to services.sentinel-hub.com)
    assert sentinel_hub._collection("s2", "https://sh.example.org").service_url == "https://sh.example.org"
    assert sentinel_hub._collection("s1", "https://sh.example.org").api_id == "sentinel-1-grd"
    assert sentinel_hub._collection("s2", PROVIDER_URLS["sentinel-hub"][0]).api_id == "sentinel-2-l2a"


def test_collection_defined_by_the_host_program_is_reused() -> None:
    from sentinelhub.data_collections import DataCollection

    url = "https://sh.host-program.example"
    host = DataCollection.SENTINEL2_L2A.define_from("HOST_PROGRAM_S2", service_url=url)
    mine = sentinel_hub._collection("s2", url)  # define_from under satwatch's name would raise ValueError
    assert mine is host and mine.service_url == url and mine.api_id == "sentinel-2-l2a"
    assert sentinel_hub._collection("s2", url) is host
    other = sentinel_hub._collection("s1", url)  # not defined by the host: satwatch defines it
    assert other.name.startswith("SATWATCH_SENTINEL1_IW_") and other.service_url == url


def test_wait_cap_is_a_setting(monkeypatch: pytest.MonkeyPatch, standin: SentinelHubStandIn) -> None:
    assert _source().retry.max_wait_s == 120.0 and sentinel_hub.DEFAULT_RETRY.max_wait_s == 120.0
    monkeypatch.setenv("SATWATCH_SH_MAX_WAIT_S", "30")
    assert load_settings().sh_max_wait_s == 30.0
    src = SentinelHubSource("sentinel-hub", load_settings())
    assert src.retry.max_wait_s == 30.0 and src.retry.attempts == FAST.attempts  # the rest of the default kept
    assert _source(retry=RetryPolicy(max_wait_s=5.0)).retry.max_wait_s == 5.0  # an explicit policy wins
    for bad in ("0", "-3", "soon", "inf"):
        monkeypatch.setenv("SATWATCH_SH_MAX_WAIT_S", bad)
        with pytest.raises(UsageError, match="SATWATCH_SH_MAX_WAIT_S"):
            load_settings()


def test_requests_go_to_the_configured_urls_only(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    standin.add_acquisitions(dunai, "s2", START, END)
    src = _source()
    src.fetch(src.search(dunai, START, END, "s2")[0], dunai, _archive_root(tmp_path))
    assert {r.path for r in standin.received} == {"/oauth/token", "/api/v1/catalog/1.0.0/search", "/api/v1/process"}
    [token] = standin.requests_to("token")  # one token serves every request
    assert token.form["grant_type"] == "client_credentials" and token.form["client_id"] == CLIENT
    assert not (tmp_path / "xdg" / "sentinelhub").exists()  # sentinelhub's config file was never created


# ------------------------------------------------------------------------------------------------ CLI


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_search_and_fetch(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    times = standin.add_acquisitions(dunai, "s2", START, END)
    args = ("--aoi", "ru_dunai", "--start", "2024-10-01", "--end", "2024-10-20", "--sensor", "s2")
    code, out, _ = _cli(capsys, "search", *args)
    assert code == 0 and out.count("2024-10-") >= len(times) and "cloud_%" in out
    assert f"{len(times)} s2 acquisition(s) over ru_dunai" in out
    code, out, _ = _cli(capsys, "search", *args, "--max-cloud", "0")
    assert code == 0 and "0 s2 acquisition(s)" in out

    archive = tmp_path / "arch"
    code, out, err = _cli(capsys, "fetch", *args, "--max-cloud", "50", "--archive", str(archive))
    assert code == 0, err
    wrote = [line for line in out.splitlines() if line.startswith("wrote ")]
    assert wrote and all(str(archive) in line and "842 x 804 px" in line for line in wrote)
    assert "scene" in err and "100%" in err  # the progress bar, on stderr
    n_process = len(standin.requests_to("process"))
    assert n_process == len(wrote)
    code, out, _ = _cli(capsys, "fetch", *args, "--max-cloud", "50", "--archive", str(archive))
    assert code == 0 and out.count("already archived") == len(wrote) and "wrote" not in out
    assert len(standin.requests_to("process")) == n_process  # the re-run sent no Process request


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("--end", "2024-10-20", "--max-cloud", "150"), "--max-cloud 150 is not a percentage"),
        (("--end", "2024-10-20", "--provider", "planet"), "invalid choice: 'planet'"),
        (("--end", "2024-09-01"), "before --start"),
        (("--end", "2024-10-20", "--sensor", "vhr"), "invalid choice: 'vhr'"),
    ],
)
def test_cli_user_mistakes_exit_2(standin: SentinelHubStandIn, capsys: pytest.CaptureFixture[str],
                                  argv: tuple[str, ...], needle: str) -> None:
    for command in ("search", "fetch"):
        code, _, err = _cli(capsys, command, "--aoi", "ru_dunai", "--sensor", "s2", "--start", "2024-10-01", *argv)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert not standin.received


def test_cli_credentials_errors_exit_3(standin: SentinelHubStandIn, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    standin.add_acquisitions(load_catalog()["ru_dunai"], "s2", START, END)
    args = ("--aoi", "ru_dunai", "--start", "2024-10-01", "--end", "2024-10-20", "--sensor", "s2")
    monkeypatch.setenv("SH_CLIENT_SECRET", "wrong-secret")
    code, out, err = _cli(capsys, "fetch", *args)
    assert code == 3 and err.strip() == f"satwatch: error: {REJECTED}" and not out
    monkeypatch.delenv("SH_CLIENT_SECRET")
    code, _, err = _cli(capsys, "fetch", *args, "--provider", "cdse")
    assert code == 3 and "set SH_CLIENT_SECRET" in err and len(err.strip().splitlines()) == 1
    # `run` checks credentials before it starts Prefect: missing ones, then rejected ones
    run = ("run", "--source", "sentinel-hub", "--aoi", "ru_dunai", "--start", "2024-10-01", "--end", "2024-10-20")
    code, _, err = _cli(capsys, *run)
    assert code == 3 and "SH_CLIENT_SECRET" in err
    monkeypatch.setenv("SH_CLIENT_SECRET", "wrong-secret")
    code, _, err = _cli(capsys, *run)
    assert code == 3 and err.strip() == f"satwatch: error: {REJECTED}"
    assert not standin.requests_to("catalog")


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("satwatch: error:") or "Traceback" in line
            or "Warning" in line]


def test_cli_fetch_quota_403_is_one_line_with_the_servers_message(
        standin: SentinelHubStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    standin.add_acquisitions(load_catalog()["ru_dunai"], "s2", START, END)
    standin.fault("process", status=403, code="COMMON_INSUFFICIENT_PERMISSIONS", message="quota exceeded", times=10)
    code, out, err = _cli(capsys, "fetch", "--aoi", "ru_dunai", "--start", "2024-10-01", "--end", "2024-10-20",
                          "--sensor", "s2")
    assert code == 1 and not [line for line in out.splitlines() if line.startswith("wrote")]
    [line] = _error_lines(err)
    assert line.startswith("satwatch: error: sentinel-hub refused the process request (HTTP 403 "
                           "COMMON_INSUFFICIENT_PERMISSIONS): quota exceeded. ")
    assert "credential" not in err.lower() and "SH_CLIENT" not in err
    assert len(standin.requests_to("process")) == 1  # a 403 is not retried


def test_cli_fetch_ten_minute_retry_after_ends_within_the_cap(
        standin: SentinelHubStandIn, capsys: pytest.CaptureFixture[str]) -> None:
    standin.add_acquisitions(load_catalog()["ru_dunai"], "s2", START, END)
    standin.fault("process", status=429, retry_after_ms=600_000, times=1000)
    began = time.monotonic()
    code, _, err = _cli(capsys, "fetch", "--aoi", "ru_dunai", "--start", "2024-10-01", "--end", "2024-10-20",
                        "--sensor", "s2")
    assert code == 1 and time.monotonic() - began < sentinel_hub.DEFAULT_RETRY.max_wait_s
    [line] = _error_lines(err)
    assert line.startswith("satwatch: error: sentinel-hub answered 429 Too Many Requests to the process request "
                           "with Retry-After 600 s (10 min), longer than the 120 s (2 min) limit on one rate-limit "
                           "wait")
    assert "credential" not in err.lower()


def test_cli_unreachable_service_is_one_line(monkeypatch: pytest.MonkeyPatch, standin: SentinelHubStandIn,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SATWATCH_SH_TOKEN_URL", "http://127.0.0.1:9/oauth/token")  # nothing listens there
    code, _, err = _cli(capsys, "search", "--aoi", "ru_dunai", "--start", "2024-10-01", "--end", "2024-10-02",
                        "--sensor", "s1")
    assert code == 1 and "token request to 127.0.0.1:9 failed after 3 tries (ConnectionError)" in err
    assert len(err.strip().splitlines()) == 1


def test_no_secret_in_output_logs_or_files(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from satwatch.pipeline import build_request, finish_run, new_run_dir, open_source, process_scene

    caplog.set_level(logging.DEBUG)
    standin.add_acquisitions(dunai, "s2", START, END)
    standin.add_acquisitions(dunai, "s1", START, END)
    args = ("--aoi", "ru_dunai", "--start", "2024-10-01", "--end", "2024-10-08")
    outputs = [_cli(capsys, "-v", "search", *args, "--sensor", "s1"),
               _cli(capsys, "-v", "fetch", *args, "--sensor", "s2")]
    # a 500 and a rejection on the way: error paths must not leak either
    standin.fault("process", status=500)
    monkeypatch.setenv("SH_CLIENT_SECRET", SECRET + "-bad")
    outputs.append(_cli(capsys, "-v", "fetch", *args, "--sensor", "s1"))
    assert outputs[-1][0] == 3
    monkeypatch.setenv("SH_CLIENT_SECRET", SECRET)
    # the main job on real imagery writes run.json and friends
    request = build_request(["ru_dunai"], START, date(2024, 10, 8), ["s1"], source="sentinel-hub")
    src = open_source(request)
    assert isinstance(src, SentinelHubSource) and src.name == "sentinel-hub" and SECRET not in repr(src)
    settings = load_settings()
    run_dir = new_run_dir(settings.outputs_dir, request)
    results = [process_scene(src.fetch(a, dunai, settings.archive_dir), dunai, request.detector, run_dir)
               for a in src.search(dunai, request.start, request.end, "s1")]
    record = json.loads(finish_run(request, results, run_dir, datetime.now(UTC)).read_text())
    assert record["simulated"] is False and record["sources"] == ["sentinel-hub"] and results

    text = "".join(o + e for _, o, e in outputs) + caplog.text
    assert "sending POST request to" in caplog.text  # debug logging was on (satwatch's own request log)
    assert SECRET not in text and not any(tok in text for tok in standin.tokens)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "run.json" for p in files) and any(p.suffix == ".tif" for p in files)
    assert not [p for p in files if SECRET.encode() in p.read_bytes()]


def test_sentinelhub_client_reads_standin_single_tiff(standin: SentinelHubStandIn, dunai: AOI) -> None:
    """The stand-in's one-response answer is a TIFF that sentinelhub-py's own decoder reads."""
    from sentinelhub.api.process import SentinelHubRequest
    from sentinelhub.constants import CRS, MimeType
    from sentinelhub.geometry import BBox

    standin.add_acquisitions(dunai, "s1", START, END)
    src = _source()
    acq = src.search(dunai, START, END, "s1")[0]
    grid = plan_grid(dunai)
    two = src.process_request(acq, grid, grid.pieces[0])
    one = SentinelHubRequest(
        evalscript=EVALSCRIPTS["s1"].replace(',\n      {id: "dataMask", bands: 1, sampleType: "UINT8"}', ""),
        input_data=two.payload["input"]["data"],
        responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
        bbox=BBox(grid.pieces[0].bbox, CRS(grid.epsg)), size=(grid.width, grid.height), config=src._config,
    )
    assert one.download_list[0].url == f"{standin.base_url}/api/v1/process"
    [array] = src._client().download(one.download_list, decode_data=True)
    assert array.shape == (grid.height, grid.width, 2) and array.dtype == np.float32
    assert standin.requests_to("process")[-1].status == 200


@pytest.mark.slow
def test_cli_run_on_real_imagery_path(standin: SentinelHubStandIn, dunai: AOI, tmp_path: Path) -> None:
    """`satwatch run --source sentinel-hub` (the Prefect flow) against the stand-in: real-imagery outputs, no secret."""
    import os
    import subprocess
    import sys

    standin.add_acquisitions(dunai, "s2", START, END)
    standin.add_acquisitions(dunai, "s1", START, END)
    env = {**os.environ, "SATWATCH_DATA_DIR": str(tmp_path / "data"), "PREFECT_HOME": str(tmp_path / "prefect"),
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("PREFECT_API_URL", None)
    satwatch = str(Path(sys.executable).with_name("satwatch"))
    res = subprocess.run([satwatch, "run", "--source", "sentinel-hub", "--aoi", "ru_dunai", "--start", "2024-10-01",
                          "--end", "2024-10-12"], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = Path(res.stdout.strip().splitlines()[-1].removeprefix("outputs: "))
    record = json.loads((run_dir / "run.json").read_text())
    assert record["simulated"] is False and record["sources"] == ["sentinel-hub"] and record["summary"]["scenes"] > 0
    assert record["parameters"]["source"] == "sentinel-hub"
    assert SECRET not in res.stdout + res.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]  # Prefect's database included
    assert not [p for p in files if SECRET.encode() in p.read_bytes()]
    archived = sorted((tmp_path / "data" / "archive" / "ru_dunai").rglob("[!.]*.tif"))
    assert len(archived) == record["summary"]["scenes"]
