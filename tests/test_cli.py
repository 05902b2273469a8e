import subprocess
import sys
from pathlib import Path

import pytest

from satwatch.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_aoi_list_shows_every_catalog_aoi(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "aoi", "list")
    assert code == 0
    for aoi_id in ("kp_rajin_port", "ru_dunai", "ru_vladivostok", "ru_kursk_sudzha", "kp_tumangang_rail"):
        assert aoi_id in out


def test_aoi_show(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "aoi", "show", "ru_vladivostok")
    assert code == 0
    assert "area_km2: 86.8" in out and "bbox: 131.86000, 43.05000, 131.98000, 43.13000" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("aoi", "show", "atlantis"), "unknown AOI 'atlantis'"),
        (("simulate", "--aoi", "ru_dunai", "--date", "2024-02-30", "--sensor", "s2", "--out", "x.tif"),
         "is not a date"),
        (("detect", "/nonexistent/scene.tif", "--out", "d.geojson"), "does not exist"),
        (("run", "--aoi", "atlantis", "--start", "2024-01-01", "--end", "2024-01-05"), "unknown AOI"),
        (("run", "--aoi", "ru_dunai", "--start", "2024-02-01", "--end", "2024-01-05"), "before --start"),
        (("run", "--aoi", "ru_dunai", "--start", "2024-01-01"), "give --start and --end"),
        (("run", "--source", "planet", "--aoi", "ru_dunai"), "not available"),
        (("archive", "import", "/nonexistent.tif", "--aoi", "ru_dunai"), "does not exist"),
    ],
)
def test_user_mistakes_give_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], needle: str
) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0] and lines[0].startswith("satwatch")
    assert "Traceback" not in err


def test_not_a_scene_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.tif"
    junk.write_text("hello")
    code, _, err = _run(capsys, "detect", str(junk), "--out", str(tmp_path / "d.geojson"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a readable GeoTIFF" in err
    assert not (tmp_path / "d.geojson").exists()


def test_installed_entry_point_exit_code() -> None:
    res = subprocess.run([str(Path(sys.executable).with_name("satwatch")), "aoi", "show", "nowhere"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip() == ("satwatch: error: unknown AOI 'nowhere': not a catalog id (see `satwatch aoi "
                                  "list`) nor a path to a vector file")


def test_simulate_then_detect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scene, truth, dets = tmp_path / "s1.tif", tmp_path / "truth.geojson", tmp_path / "d.geojson"
    tiny = Path(__file__).resolve().parents[1] / "scenarios" / "tiny.yaml"
    code, out, err = _run(capsys, "simulate", "--aoi", "ru_dunai", "--date", "2024-09-15", "--sensor", "s1",
                          "--scenario", str(tiny), "--out", str(scene), "--truth", str(truth))
    assert code == 0, err
    assert "SIMULATED" in out and scene.is_file() and truth.is_file()
    code, out, err = _run(capsys, "detect", str(scene), "--out", str(dets))
    assert code == 0, err
    import geopandas as gpd

    planted = gpd.read_file(truth)
    found = gpd.read_file(dets)
    assert (planted["class"] == "vessel").sum() == 8  # tiny.yaml from 11 Sep: 5 anchored + 3 berthed
    assert found.crs.to_epsg() == 4326 and found["simulated"].all()
    assert len(found) >= 5  # the anchored ones at least: the baseline cannot see ships against a quay


def test_change_recomputes_an_existing_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    from datetime import UTC, date, datetime

    from satwatch.pipeline import build_request, finish_run, new_run_dir, open_source, process_scene
    from satwatch.settings import load_settings

    tiny = Path(__file__).resolve().parents[1] / "scenarios" / "tiny.yaml"
    request = build_request(["ru_dunai"], date(2024, 9, 1), date(2024, 9, 21), ["s1"], scenario_path=tiny)
    settings, aoi, source = load_settings(), request.aois[0], open_source(request)
    run_dir = new_run_dir(settings.outputs_dir, request)
    results = [process_scene(source.fetch(a, aoi, settings.archive_dir), aoi, request.detector, run_dir)
               for a in source.search(aoi, request.start, request.end, "s1")]
    finish_run(request, results, run_dir, datetime.now(UTC))
    code, out, err = _run(capsys, "change", "--run", str(run_dir), "--baseline", "2024-09-01/2024-09-10",
                          "--test", "2024-09-11/2024-09-21", "--no-pixel")
    assert code == 0, err
    assert "ru_dunai" in out and "SIMULATED" in out
    record = json.loads((run_dir / "run.json").read_text())
    assert record["changes"]["baseline"] == "2024-09-01/2024-09-10"
    assert record["changes"]["test"] == "2024-09-11/2024-09-21"
    code, _, err = _run(capsys, "change", "--run", str(run_dir), "--baseline", "2024-09-10/2024-09-01")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_cli_sensor_lists_are_the_package_s() -> None:
    """The CLI keeps its own copy (so --help needs no GDAL); it must agree with the scene contract and the sources."""
    from satwatch.cli import _common
    from satwatch.detection.profiles import PROFILES
    from satwatch.imagery.scene import SENSORS
    from satwatch.imagery.sentinel_hub import _BASE_COLLECTIONS

    assert _common.SENSORS == SENSORS and set(_common.SENSORS) == set(PROFILES)
    assert set(_common.SH_SENSORS) == set(_BASE_COLLECTIONS)


def test_one_module_per_command_and_both_module_entry_points() -> None:
    """``satwatch/cli/`` holds one module per command; ``python -m satwatch`` and the console script agree."""
    from satwatch.cli import COMMANDS, build_parser

    names = [m.__name__.rpartition(".")[2] for m in COMMANDS]
    assert len(set(names)) == len(names) == 16
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert list(sub.choices) == names  # type: ignore[union-attr]
    for module in COMMANDS:
        assert callable(module.add_parser) and callable(module.run) and module.__doc__
    res = subprocess.run([sys.executable, "-m", "satwatch", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and all(name in res.stdout for name in names)


def test_archive_import_srgb_decodes_8bit_display_imagery(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``archive import --srgb``: the flag reaches the import (DN 128 stored as 0.216); with --scale, one line, 2."""
    import numpy as np
    import rasterio

    from satwatch.imagery.scene import read_scene

    src = tmp_path / "drone.tif"
    with rasterio.open(src, "w", driver="GTiff", width=30, height=20, count=3, dtype="uint8", crs="EPSG:3857",
                       transform=rasterio.transform.from_origin(14_690_000, 5_325_000, 0.5, 0.5)) as dst:
        dst.write(np.full((3, 20, 30), 128, np.uint8))
    argv = ("archive", "import", str(src), "--aoi", "ru_vladivostok", "--bands", "R,G,B",
            "--acquired", "2024-10-16T02:10:00Z")
    code, _, err = _run(capsys, *argv, "--srgb", "--scale", "0.004")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--srgb" in err
    code, out, _ = _run(capsys, *argv, "--srgb")
    assert code == 0, out
    scene = read_scene(out.strip().rsplit(" -> ", 1)[1])
    assert scene.data[:, 5, 5] == pytest.approx([0.2159] * 3, abs=1e-4)
