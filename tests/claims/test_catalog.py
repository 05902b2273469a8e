"""The claims catalog: every research claim restated with sources, validated on load; planning factors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from satwatch.claims.catalog import DEFAULT_CLAIMS, MEASURES, load_claims
from satwatch.claims.factors import FACTORS, expected_observables, interpret_effect, people_for_camp_area
from satwatch.errors import ClaimError

REPO = Path(__file__).resolve().parents[2]
RESEARCH = REPO.parent / "shared" / "research" / "claims.yaml"


def test_catalog_loads_with_sources_windows_and_indicators() -> None:
    claims = load_claims()
    assert list(claims) == ["C01", "C02", "C05", "C06", "C07", "C09", "C10", "C11", "C14", "C15", "C16"]
    for c in claims.values():
        assert c.sources and all(s.publisher and s.title for s in c.sources)
        assert c.baseline.end < c.test.start and c.indicators
        assert {i.aoi for i in c.indicators} <= set(c.aois)
    assert claims["C05"].conflicts_with == ("C07",) and claims["C07"].conflicts_with == ("C05",)


@pytest.mark.skipif(not RESEARCH.is_file(), reason="research notes not beside the checkout")
def test_every_research_claim_is_in_the_catalog_in_its_own_words() -> None:
    research = yaml.safe_load(RESEARCH.read_text())
    claims = load_claims()
    for item in research:
        c = claims[item["id"]]
        assert set(item["aoi"]) >= {i.aoi for i in c.indicators}
        assert c.statement != item["claim"]


@pytest.mark.parametrize(("edit", "needle"), [
    (lambda c: c.update(baseline="2024-10-01/2024-10-10"), "must end before the test window"),
    (lambda c: c["indicators"][0].update(measure="tank_count"), "unknown measure 'tank_count'"),
    (lambda c: c["indicators"][0].update(aoi="ru_nowhere"), "is not in the claim's aois"),
    (lambda c: c.update(aois=["ru_nowhere"]), "unknown AOI 'ru_nowhere'"),
    (lambda c: c["indicators"][0].update(expect="absent", measure="vessel_arrivals"), "does not apply"),
    (lambda c: c.update(claimed={"soldiers": 3}), "claimed.soldiers is unknown"),
    (lambda c: c.update(colour="red"), "unknown key 'colour'"),
    (lambda c: c.pop("sources"), "'sources' is missing"),
])
def test_schema_errors_say_what_to_change(tmp_path: Path, edit: object, needle: str) -> None:
    raw = yaml.safe_load(DEFAULT_CLAIMS.read_text())
    claim = raw["claims"][2]
    edit(claim)  # type: ignore[operator]
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump({"claims": [claim]}))
    with pytest.raises(ClaimError, match="claim C05") as err:
        load_claims(path)
    assert needle in str(err.value)


def test_planning_factors_have_sources_ranges_and_are_documented() -> None:
    doc = (REPO / "docs" / "claims.md").read_text()
    for f in FACTORS.values():
        assert f.low <= f.high and f.source
        assert f"`{f.name}`" in doc
    for m in MEASURES:
        assert f"`{m}`" in doc
    assert people_for_camp_area(18_000) == (600.0, 1800.0)
    assert "600-1,800 people" in interpret_effect("encampment_area_m2", 18_000)
    text = " ".join(expected_observables({"people": (1500, 1500), "landing_ships": (4, 4)}))
    assert "landing ships" in text and "m2 of camp" in text
