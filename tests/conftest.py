"""Shared fixtures: every test runs with its own data folder and no user config."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS

from satwatch.imagery.scene import SENSOR_BANDS, Scene, SceneMeta

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SATWATCH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SATWATCH_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for var in ("SATWATCH_DEVICE", "SATWATCH_PROVIDER", "SATWATCH_SH_BASE_URL", "SATWATCH_SH_TOKEN_URL"):
        monkeypatch.delenv(var, raising=False)
    yield


@pytest.fixture(autouse=True)
def _library_handlers_restored() -> Iterator[None]:
    """Give each test the library loggers' handlers as it found them.

    A flow run attaches Prefect's handlers to them (``flows.monitor.library_logs``), which would otherwise reach
    every later test's log capture as well. Levels are left alone: importing the flows sets ``satwatch`` to INFO
    once per process, and the flows' run logs rely on it.
    """
    import logging

    saved = {name: list(logging.getLogger(name).handlers) for name in ("satwatch", "sentinelhub")}
    yield
    for name, handlers in saved.items():
        logging.getLogger(name).handlers[:] = handlers


def make_scene(
    sensor: str = "s2", height: int = 64, width: int = 80, aoi: str = "ru_dunai", seed: int = 0,
    epsg: int = 32653, x0: float = 284_000.0, y0: float = 4_752_000.0, gsd: float = 10.0,
) -> Scene:
    """A small random scene following the contract (not realistic imagery)."""
    rng = np.random.default_rng(seed)
    bands = SENSOR_BANDS[sensor]
    data = rng.random((len(bands), height, width), dtype=np.float32)
    if "SCL" in bands:
        data[bands.index("SCL")] = 6.0
    return Scene(
        data=data,
        bands=bands,
        crs=CRS.from_epsg(epsg),
        transform=Affine(gsd, 0, x0, 0, -gsd, y0),
        meta=SceneMeta(sensor=sensor, acquired=datetime(2024, 10, 8, 1, 52, 30, tzinfo=UTC), source="test",
                       simulated=True, aoi=aoi),
    )


@pytest.fixture
def scene_step_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Scene ids passed to the pipeline's one per-scene step (``satwatch.pipeline.scene.detect_scene``), in order.

    The real step still runs: the fixture only records that a caller went through it.
    """
    import satwatch.pipeline.scene as scene

    calls: list[str] = []
    real = scene.detect_scene

    def counted(header: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(header.meta.scene_id)
        return real(header, *args, **kwargs)

    monkeypatch.setattr(scene, "detect_scene", counted)
    return calls
