"""One small real scene from the real service. Runs only with ``-m network`` and credentials in the environment.

    SH_CLIENT_ID=... SH_CLIENT_SECRET=... SATWATCH_TEST_PROVIDER=cdse .venv/bin/pytest -m network

(``SATWATCH_TEST_PROVIDER`` is ``sentinel-hub`` or ``cdse``, default ``sentinel-hub``; tests/conftest.py clears
``SATWATCH_PROVIDER`` and the URL overrides for every test, so they cannot be used here.)

It costs a few processing units over the smallest catalog AOI (463 x 563 px): per test one catalog search (about
0.01 PU) and one 10 m request, about 2.7 PU for Sentinel-1 (float32, orthorectified) and 2.3 PU for Sentinel-2
(16-bit DN).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from satwatch.aoi import load_catalog
from satwatch.imagery.scene import read_scene
from satwatch.imagery.sentinel_hub import SentinelHubSource
from satwatch.settings import load_settings

pytestmark = pytest.mark.network


@pytest.fixture
def real_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    if not (os.environ.get("SH_CLIENT_ID") and os.environ.get("SH_CLIENT_SECRET")):
        pytest.skip("set SH_CLIENT_ID and SH_CLIENT_SECRET (and SATWATCH_TEST_PROVIDER=cdse for a CDSE account)")
    monkeypatch.setenv("SATWATCH_PROVIDER", os.environ.get("SATWATCH_TEST_PROVIDER", "sentinel-hub"))


def test_fetch_one_small_real_scene(real_credentials: None, tmp_path: Path) -> None:
    aoi = load_catalog()["kp_rajin_port"]  # 463 x 563 px: one request
    source = SentinelHubSource(settings=load_settings())
    found = source.search(aoi, date(2024, 10, 1), date(2024, 10, 14), "s1")
    assert found, f"no Sentinel-1 acquisition over {aoi.id} in two weeks from {source.name}"
    acq = found[0]
    assert acq.simulated is False and acq.source == source.name and acq.item_id
    path = source.fetch(acq, aoi, tmp_path)
    scene = read_scene(path)
    assert scene.bands == ("VV", "VH") and scene.crs.to_epsg() == aoi.utm_epsg
    assert scene.meta.simulated is False and scene.meta.source == source.name
    assert abs(scene.transform.a - 10.0) < 1e-9 and abs(scene.transform.e + 10.0) < 1e-9
    valid = np.isfinite(scene.data[0])
    assert valid.mean() > 0.5
    assert -40.0 < float(np.nanmedian(scene.data[0])) < 10.0  # sigma0 VV in dB
    assert source.fetch(acq, aoi, tmp_path) == path  # cached


def test_fetch_one_small_real_sentinel2_scene_as_dn(real_credentials: None, tmp_path: Path) -> None:
    """The real service accepts the UINT16 DN evalscript, and DN / 10000 is reflectance (harmonised L2A)."""
    aoi = load_catalog()["kp_rajin_port"]
    source = SentinelHubSource(settings=load_settings(), max_cloud=0.5)
    found = source.search(aoi, date(2024, 9, 1), date(2024, 10, 31), "s2")
    assert found, f"no Sentinel-2 acquisition under 50 % cloud over {aoi.id} in two months from {source.name}"
    acq = found[0]
    scene = read_scene(source.fetch(acq, aoi, tmp_path))
    assert scene.bands == ("B02", "B03", "B04", "B08", "B11", "B12", "SCL") and scene.data.dtype == np.float32
    valid = np.isfinite(scene.data[0])
    assert valid.mean() > 0.5
    reflectance = scene.data[:6][:, valid]
    assert 0.0 <= float(np.median(reflectance)) < 0.6 and float(reflectance.max()) < 6.6  # not DN
    scl = scene.band("SCL")[valid]
    assert np.array_equal(scl, np.round(scl)) and scl.min() >= 0 and scl.max() <= 11  # class codes
