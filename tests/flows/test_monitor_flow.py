"""The main job end to end: the real Prefect flow on the tiny scenario, then the CLI as a user runs it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "scenarios" / "tiny.yaml"


def _check_run_dir(run_dir: Path) -> None:
    for name in ("run.json", "scenes.geojson", "detections.geojson", "counts.csv", "layers.gpkg", "truth.geojson"):
        assert (run_dir / name).is_file(), name
    record = json.loads((run_dir / "run.json").read_text())
    assert record["simulated"] is True and "SIMULATED" in record["notice"]
    assert record["parameters"]["aois"] == ["ru_dunai"]
    assert record["scenario"]["sha256"] and record["versions"]["torch"]
    scenes = gpd.read_file(run_dir / "scenes.geojson")
    assert scenes.crs.to_epsg() == 4326 and len(scenes) == record["summary"]["scenes"] > 0
    assert set(scenes["sensor"]) <= {"s1", "s2"} and scenes["simulated"].all()
    assert scenes["observed_fraction"].between(0, 1).all()
    detections = gpd.read_file(run_dir / "detections.geojson")
    assert detections.crs.to_epsg() == 4326 and len(detections) > 0 and detections["simulated"].all()
    assert set(detections["class"]) == {"vessel"}
    for name in ("scenes.geojson", "detections.geojson", "truth.geojson"):
        doc = json.loads((run_dir / name).read_text())
        assert all(f["properties"]["simulated"] is True for f in doc["features"]), name
    counts = pd.read_csv(run_dir / "counts.csv")
    assert list(counts.columns[:6]) == ["aoi", "sensor", "acquired", "scene_id", "class", "count"]
    assert len(counts) == len(scenes) and counts["simulated"].all()
    layers = {name for name, _ in __import__("pyogrio").list_layers(run_dir / "layers.gpkg")}
    assert layers == {"aois", "scenes", "detections", "simulated_truth", "change_presences", "change_footprints",
                      "change_pixels", "layer_styles"}  # layer_styles: QGIS default styles (docs/outputs.md)
    for name in ("changes.geojson", "timeseries.csv", "comparisons.csv"):
        assert (run_dir / name).is_file(), name
    assert record["changes"]["baseline"] == "2024-09-01/2024-09-11"
    assert record["changes"]["simulated"] is True
    if shutil.which("ogrinfo"):  # installed by scripts/install-system-deps.sh
        for name in ("scenes.geojson", "detections.geojson", "truth.geojson", "changes.geojson", "layers.gpkg"):
            info = subprocess.run(["ogrinfo", "-so", "-al", str(run_dir / name)], capture_output=True, text=True,
                                  check=True).stdout
            assert "WGS 84" in info and "Feature Count:" in info, name


@pytest.mark.slow
def test_cli_run_tiny_scenario_offline(tmp_path: Path) -> None:
    env = {**os.environ, "SATWATCH_DATA_DIR": str(tmp_path / "data"), "PREFECT_HOME": str(tmp_path / "prefect"),
           # no network: any attempt to reach outside fails fast instead of hanging
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("PREFECT_API_URL", None)
    satwatch = str(Path(sys.executable).with_name("satwatch"))
    res = subprocess.run([satwatch, "run", "--scenario", str(TINY)], capture_output=True, text=True, env=env,
                         timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("outputs: ")
    run_dir = Path(last.removeprefix("outputs: "))
    assert run_dir.parent == tmp_path / "data" / "outputs"
    _check_run_dir(run_dir)
    archived = sorted((tmp_path / "data" / "archive" / "simulated").rglob("ru_dunai/*/[!.]*.tif"))
    assert len(archived) == json.loads((run_dir / "run.json").read_text())["summary"]["scenes"]

    # A second run of the same period finds every scene in the archive: nothing is rendered again.
    mtimes = {p: p.stat().st_mtime_ns for p in archived}
    res2 = subprocess.run([satwatch, "run", "--scenario", str(TINY)], capture_output=True, text=True, env=env,
                          timeout=600, cwd=tmp_path)
    assert res2.returncode == 0, res2.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in archived} == mtimes


def test_io_tasks_retry_failures_but_not_mistakes_or_credentials() -> None:
    from prefect.states import Failed
    from satwatch.flows.monitor import worth_retrying

    from satwatch.errors import CredentialsError, ProviderError, UsageError

    assert not worth_retrying(None, None, Failed(data=CredentialsError("rejected")))
    assert not worth_retrying(None, None, Failed(data=UsageError("bad date")))
    assert worth_retrying(None, None, Failed(data=ProviderError("503 after retries")))
    assert worth_retrying(None, None, Failed(data=OSError("disk")))
