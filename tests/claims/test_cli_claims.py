"""`satwatch claims list` and the user's mistakes of `satwatch claims check` (one line, exit 2, before Prefect)."""

from __future__ import annotations

from pathlib import Path

import pytest

from satwatch.claims.check import plan_check
from satwatch.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_claims_list_shows_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "claims", "list")
    assert code == 0
    for needle in ("C01", "C05", "C16", "2024-08-15/2024-10-05", "C07", "claimant", "indicators"):
        assert needle in out


@pytest.mark.parametrize(("argv", "needle"), [
    (("claims", "check", "C99"), "claim 'C99' is not in"),
    (("claims", "check", "C05", "--source", "planet"), "not available"),
    (("claims", "check", "C05", "--claims", "/nonexistent.yaml"), "does not exist"),
    (("claims", "check", "C05", "--source", "archive", "--scenario", "scenarios/tiny.yaml"), "only applies to"),
    (("claims", "check", "C06", "--scenario", "scenarios/tiny.yaml"), "simulates none of the claims' AOIs"),
])
def test_check_mistakes_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...],
                                                 needle: str) -> None:
    code, _, err = _run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err


def test_broken_claims_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "claims.yaml"
    bad.write_text("claims:\n  - {id: X1, date: 2024-01-01}\n")
    code, _, err = _run(capsys, "claims", "list", "--claims", str(bad))
    assert code == 2 and "claim X1" in err and "missing" in err


def test_plan_searches_only_the_claim_windows() -> None:
    plan = plan_check(["C06", "c05"], source="archive", detector="baseline")
    assert plan.claim_ids == ("C06", "C05")
    assert [str(w) for w in plan.periods] == ["2023-06-01/2023-08-31", "2024-08-15/2024-11-15"]
    assert {a.id for a in plan.request.aois} >= {"ru_ussuriysk", "ru_vladivostok", "kp_musudan"}
    assert plan.request.source == "archive" and plan.uncovered_aois == ()
