"""write_changes on a run folder made by the monitor functions (simulated tiny scenario)."""

import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from satwatch.change.run_changes import CHANGE_LAYERS, write_changes
from satwatch.errors import InputFileError
from satwatch.pipeline import build_request, finish_run, new_run_dir, open_source, process_scene
from satwatch.settings import load_settings

REPO = Path(__file__).resolve().parents[2]


def make_run() -> Path:
    request = build_request(["ru_dunai"], date(2024, 9, 1), date(2024, 9, 21), ["s2", "s1"],
                            scenario_path=REPO / "scenarios" / "tiny.yaml")
    source, settings = open_source(request), load_settings()
    run_dir = new_run_dir(settings.outputs_dir, request)
    aoi = request.aois[0]
    results = [process_scene(source.fetch(a, aoi, settings.archive_dir), aoi, request.detector, run_dir)
               for sensor in request.sensors for a in source.search(aoi, request.start, request.end, sensor)]
    finish_run(request, results, run_dir, datetime.now(UTC))
    return run_dir


def test_write_changes_writes_every_output(tmp_path: Path) -> None:
    run = make_run()
    summary = write_changes(run, min_area_m2=5000.0)
    assert (summary.baseline, summary.test) == ("2024-09-01/2024-09-11", "2024-09-12/2024-09-21")
    assert summary.simulated and summary.acquisitions_used + summary.acquisitions_excluded >= 5
    assert summary.comparisons and summary.comparisons[0].cls == "vessel"
    json.dumps(summary.to_dict())  # JSON-ready for run.json
    ts = pd.read_csv(run / "timeseries.csv")
    assert ts["simulated"].all() and set(ts["used"]) <= {True, False}
    assert len(pd.read_csv(run / "comparisons.csv")) == len(summary.comparisons)
    layers = set(pyogrio.list_layers(run / "layers.gpkg")[:, 0])
    assert {"aois", "scenes", "detections", "simulated_truth", *CHANGE_LAYERS} <= layers
    changes = gpd.read_file(run / "changes.geojson")
    assert changes.crs.to_epsg() == 4326 and changes.geometry.is_valid.all()
    assert changes.empty or changes["simulated"].all()
    # recomputing with explicit windows rewrites in place
    again = write_changes(run, (date(2024, 9, 1), date(2024, 9, 10)), (date(2024, 9, 11), date(2024, 9, 21)),
                          pixel=False)
    assert again.test == "2024-09-11/2024-09-21"
    assert {"aois", *CHANGE_LAYERS} <= set(pyogrio.list_layers(run / "layers.gpkg")[:, 0])
    if shutil.which("ogrinfo"):
        for name in ("changes.geojson", "layers.gpkg"):
            res = subprocess.run(["ogrinfo", "-so", "-al", str(run / name)], capture_output=True, text=True,
                                 check=True)
            lines = (res.stderr + res.stdout).splitlines()
            assert not [ln for ln in lines if "Warning" in ln or "ERROR" in ln], name


def test_missing_run_folder_files(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"scenes\.geojson is missing"):
        write_changes(tmp_path)
