"""Claims checked end to end on simulated scenarios where the truth is known (render, detect, judge, package).

All imagery here is SIMULATED: these tests show that the method finds what was planted and refuses to find what
was not; they say nothing about the real world.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from satwatch.claims.catalog import DEFAULT_CLAIMS, load_claims
from satwatch.claims.check import check_claims
from satwatch.claims.verdicts import reproduce

# C05 enacted on one of its AOIs, the smallest port it names: nine landing-ship sized vessels anchor off Dunai on
# 9 October 2024, over steady traffic of three. Sentinel-2 every 5 days; seed 4 gives a clear test window.
# scenarios/c05.yaml is the fuller version (Chongjin and Vladivostok). FICTIONAL activity on real AOI geometry.
ENACTED = """
name: c05-dunai
seed: 4
aois: [ru_dunai]
period: 2024-08-15/2024-10-20
sensors: [s2]
revisit_days: {s2: 5}
cloud_cover: CLOUD
activity:
  - {aoi: ru_dunai, class: vessel, where: anchor, count: {2024-08-15: 3, 2024-10-09: ARRIVED}, length_m: [105, 125]}
"""


def _scenario(tmp: Path, name: str, cloud: float = 0.1, arrived: int = 12) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(ENACTED.replace("CLOUD", str(cloud)).replace("ARRIVED", str(arrived))
                    .replace("c05-dunai", name))
    return path


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """`satwatch claims check C05 --scenario <enacting scenario>` as a user runs it (Prefect flow, offline)."""
    tmp = tmp_path_factory.mktemp("claims-cli")
    scenario = _scenario(tmp, "c05-dunai")
    env = {**os.environ, "SATWATCH_DATA_DIR": str(tmp / "data"), "PREFECT_HOME": str(tmp / "prefect"),
           "SATWATCH_CONFIG": str(tmp / "no-config.toml"),
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("PREFECT_API_URL", None)
    satwatch = str(Path(sys.executable).with_name("satwatch"))
    res = subprocess.run([satwatch, "claims", "check", "C05", "--scenario", str(scenario), "--detector", "baseline"],
                         capture_output=True, text=True, env=env, timeout=600, cwd=tmp)
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = Path(res.stdout.strip().splitlines()[-1].removeprefix("outputs: "))
    return res, run_dir, tmp / "data"


@pytest.mark.slow
def test_cli_check_c05_prints_a_verdict_table_and_writes_the_evidence_package(
    cli_run: tuple[subprocess.CompletedProcess[str], Path, Path],
) -> None:
    res, run_dir, _ = cli_run
    out = res.stdout
    assert "C05 (National Intelligence Service (South Korea), 2024-10-18)" in out
    for needle in ("indicator", "verdict", "effect [CI]", "used/excl b | t", "=> C05: SUPPORTED",
                   "ru_dunai large_vessel_presence>=90m increase", "not covered by this run",
                   "never visible", "SIMULATED", "expected if true: 1,500 people"):
        assert needle in out, needle
    evidence = run_dir / "evidence" / "C05"
    for name in ("ru_dunai_s2_before.png", "ru_dunai_s2_after.png", "timeseries.png", "layers.gpkg"):
        assert (evidence / name).is_file() and (evidence / name).stat().st_size > 1000, name
    assert (evidence / "ru_dunai_s2_after.png").read_bytes()[:4] == b"\x89PNG"
    doc = json.loads((run_dir / "claims.json").read_text())
    assert doc["simulated"] is True and "SIMULATED" in doc["notice"]
    assert doc["claims"][0]["evidence"]["chips"] and doc["claims"][0]["evidence"]["timeseries"]
    record = json.loads((run_dir / "run.json").read_text())
    assert record["claims"]["verdicts"] == {"C05": "supported"} and "claims.json" in record["outputs"]
    assert set(record["claims"]["uncovered_aois"]) == {"kp_chongjin_port", "kp_hungnam_port", "kp_musudan",
                                                       "ru_vladivostok", "ru_ussuriysk", "ru_knevichi"}


@pytest.mark.slow
def test_scenario_enacting_c05_gets_supported(cli_run: tuple[subprocess.CompletedProcess[str], Path, Path]) -> None:
    _, run_dir, _ = cli_run
    [claim] = json.loads((run_dir / "claims.json").read_text())["claims"]
    assert claim["verdict"] == "supported"
    by_label = {i["label"]: i for i in claim["indicators"]}
    ships = by_label["ru_dunai large_vessel_presence>=90m increase"]
    assert ships["verdict"] == "supported"
    [s2] = ships["sensors"]
    assert s2["ci_low"] > 0 and s2["effect"] >= 0.5 and s2["test_used"] >= 2 and s2["baseline_used"] >= 2
    assert by_label["ru_ussuriysk encampment_area_m2 increase"]["verdict"] == "inconclusive"


@pytest.mark.slow
def test_verdicts_are_reproducible_from_the_run_folder_alone(
    cli_run: tuple[subprocess.CompletedProcess[str], Path, Path], tmp_path: Path,
) -> None:
    _, run_dir, data = cli_run
    stored = json.loads((run_dir / "claims.json").read_text())["claims"]
    copy = tmp_path / "moved" / run_dir.name
    shutil.copytree(run_dir, copy)
    shutil.rmtree(data / "archive")  # no scenes, no network: only the copied folder
    again = [v.to_dict() for v in reproduce(copy)]
    for a, b in zip(again, stored, strict=True):
        a.pop("evidence")
        b.pop("evidence")
        assert a == b


@pytest.mark.slow
def test_no_such_activity_is_never_supported(tmp_path: Path) -> None:
    # Same port, same steady traffic, no arrivals: C05 must come out contradicted or inconclusive.
    run_dir = check_claims(["C05"], scenario_path=_scenario(tmp_path, "c05-quiet", arrived=3), detector="baseline",
                           evidence=False)
    [claim] = json.loads((run_dir / "claims.json").read_text())["claims"]
    assert claim["verdict"] in ("contradicted", "inconclusive")
    assert all(i["verdict"] != "supported" for i in claim["indicators"])
    measured = [i for i in claim["indicators"] if i["sensors"]]
    assert measured and all(s["test_used"] >= 2 for i in measured for s in i["sensors"])


@pytest.mark.slow
def test_ninety_percent_cloud_in_the_test_window_is_inconclusive(tmp_path: Path) -> None:
    # The enacted activity under 90% mean cloud (Sentinel-2 only): too few observed acquisitions to judge. A user's
    # claims file with C05's Dunai indicator over a shorter baseline keeps the test fast (7 acquisitions).
    raw = yaml.safe_load(DEFAULT_CLAIMS.read_text())
    [c05] = [c for c in raw["claims"] if c["id"] == "C05"]
    c05.update(id="C05short", baseline="2024-09-20/2024-10-05", conflicts_with=[],
               indicators=[i for i in c05["indicators"] if i["aoi"] == "ru_dunai"])
    claims = tmp_path / "claims.yaml"
    claims.write_text(yaml.safe_dump({"claims": [c05]}))
    run_dir = check_claims(["C05short"], scenario_path=_scenario(tmp_path, "c05-cloudy", cloud=0.9),
                           claims_path=claims, detector="baseline", evidence=False)
    [claim] = json.loads((run_dir / "claims.json").read_text())["claims"]
    assert claim["verdict"] == "inconclusive"
    measured = [i for i in claim["indicators"] if i["sensors"]]
    assert measured
    for ind in measured:
        assert ind["verdict"] == "inconclusive"
        assert any("too few observed acquisitions" in s["reason"] for s in ind["sensors"])


@pytest.mark.slow
def test_every_catalog_claim_can_be_checked(tmp_path: Path) -> None:
    # A small scenario (one small port, sparse revisits) over all windows of the catalog: no errors, a verdict each.
    scenario = tmp_path / "all.yaml"
    scenario.write_text("name: all-claims\nseed: 2\naois: [kp_rajin_port]\nperiod: 2023-05-01/2025-02-28\n"
                        "sensors: [s2, s1]\nrevisit_days: {s2: 45, s1: 60}\ncloud_cover: 0.2\n")
    ids = list(load_claims())
    run_dir = check_claims(ids, scenario_path=scenario, detector="baseline", evidence=False)
    doc = json.loads((run_dir / "claims.json").read_text())
    assert [c["id"] for c in doc["claims"]] == ids
    assert all(c["verdict"] in ("supported", "contradicted", "inconclusive") for c in doc["claims"])
    assert (run_dir / "claim_ground_change.csv").is_file()
    json.dumps(doc, allow_nan=False)
