"""A small claim-checked run folder shared by the report and layer tests (built once per session).

Imagery is SIMULATED: fictional activity on the real Dunai AOI, a demonstration of the method only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from satwatch.claims.catalog import DEFAULT_CLAIMS

# Five weeks at Dunai: landing-ship sized vessels arrive on 8 October over steady traffic; Sentinel-2 every 5 days,
# Sentinel-1 every 12. FICTIONAL activity on real AOI geometry.
SCENARIO = """
name: report-dunai
seed: 4
aois: [ru_dunai]
period: 2024-09-20/2024-10-24
sensors: [s2, s1]
revisit_days: {s2: 5, s1: 12}
cloud_cover: 0.15
activity:
  - {aoi: ru_dunai, class: vessel, where: anchor, count: {2024-09-20: 2, 2024-10-08: 8}, length_m: [105, 125]}
  - {aoi: ru_dunai, class: vessel, where: berth, count: {2024-09-20: 1}}
"""


@pytest.fixture(scope="session")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Run folder of ``check_claims`` (C14's Dunai indicators over shorter windows) with its report and styles."""
    from satwatch.claims.check import check_claims

    tmp = tmp_path_factory.mktemp("report-run")
    scenario = tmp / "report-dunai.yaml"
    scenario.write_text(SCENARIO)
    raw = yaml.safe_load(DEFAULT_CLAIMS.read_text())
    [c14] = [c for c in raw["claims"] if c["id"] == "C14"]
    c14.update(id="C14short", baseline="2024-09-20/2024-10-06", test="2024-10-07/2024-10-24", conflicts_with=[])
    claims = tmp / "claims.yaml"
    claims.write_text(yaml.safe_dump({"claims": [c14]}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SATWATCH_DATA_DIR", str(tmp / "data"))
        mp.setenv("SATWATCH_CONFIG", str(tmp / "no-config.toml"))
        run_dir = check_claims(["C14short"], scenario_path=scenario, claims_path=claims, detector="baseline")
    yield run_dir
