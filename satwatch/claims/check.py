"""Checking claims end to end: plan the acquisitions a claim needs, run the pipeline, judge, package.

The Prefect flow ``flows/verify_claim.py`` runs the pipeline's stages (:mod:`satwatch.pipeline`) as the monitor
flow's tasks (search, fetch with retries, detect fanned out, publish); :func:`check_claims` runs the same stages
with the plain-loop executor for a notebook or a test::

    run_dir = check_claims(["C05"], scenario_path="scenarios/c05.yaml")
    print(verdict_table(reproduce(run_dir)))

Only the acquisitions inside the claims' baseline and test windows are searched (a claim whose windows are a
year apart does not fetch the year between). With a simulation scenario, only the claim AOIs the scenario
simulates are run; the others are reported as not covered.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from satwatch.change.timeseries import MIN_OBSERVED_FRACTION, Window
from satwatch.claims.catalog import DEFAULT_CLAIMS, Claim, claims_sha256, load_claims
from satwatch.claims.measures import GROUND_CHANGE_CSV, GROUND_CHANGE_GEOJSON, load_run
from satwatch.claims.verdicts import (
    SIMULATED_CLAIMS_NOTICE,
    ClaimVerdict,
    evaluate_run,
    write_claims_outputs,
)
from satwatch.errors import ClaimError, UsageError
from satwatch.outputs.files import write_csv, write_geojson, write_json
from satwatch.outputs.text import text_table
from satwatch.pipeline.request import MonitorRequest, build_request

__all__ = [
    "CheckPlan",
    "check_claims",
    "claims_judge",
    "finish_check",
    "judge_run",
    "measure_ground_change",
    "plan_check",
    "select_claims",
    "verdict_table",
]

log = logging.getLogger("satwatch")


@dataclass(frozen=True)
class CheckPlan:
    """What one ``satwatch claims check`` covers: the claims, the monitoring request and the search periods."""

    claim_ids: tuple[str, ...]
    """Ids of the claims checked, in the order given."""
    claims_path: Path
    """The claims file they come from."""
    request: MonitorRequest
    """The monitoring request (AOIs, sensors, source, scenario, detector) over the whole span of the windows."""
    periods: tuple[Window, ...]
    """Merged baseline and test windows: only these days are searched."""
    uncovered_aois: tuple[str, ...] = ()
    """Claim AOIs left out of the run (not simulated by the scenario); their indicators are inconclusive."""


def select_claims(claim_ids: Sequence[str], claims_path: str | Path | None = None) -> list[Claim]:
    """Return the claims named by ``claim_ids`` (case-insensitive), in that order.

    Raises:
        ClaimError: an id is not in the file (the message lists the ids it has).
    """
    claims = load_claims(claims_path)
    by_upper = {k.upper(): v for k, v in claims.items()}
    out: list[Claim] = []
    for cid in claim_ids:
        claim = by_upper.get(cid.upper())
        if claim is None:
            raise ClaimError(f"claim {cid!r} is not in {claims_path or DEFAULT_CLAIMS}; choose from "
                             f"{', '.join(claims)} (see `satwatch claims list`)")
        if claim not in out:
            out.append(claim)
    if not out:
        raise ClaimError("name at least one claim id (see `satwatch claims list`)")
    return out


def _merge(windows: Sequence[Window]) -> tuple[Window, ...]:
    merged: list[Window] = []
    for w in sorted(windows, key=lambda w: w.start):
        if merged and w.start <= merged[-1].end + timedelta(days=1):
            last = merged[-1]
            merged[-1] = Window(last.start, max(last.end, w.end))
        else:
            merged.append(w)
    return tuple(merged)


def plan_check(
    claim_ids: Sequence[str],
    source: str = "simulated",
    scenario_path: str | Path | None = None,
    claims_path: str | Path | None = None,
    detector: str | None = None,
    sensors: Sequence[str] | None = None,
) -> CheckPlan:
    """Validate a check and decide what it fetches: the claims' AOIs over their merged windows.

    Raises:
        ClaimError: unknown claim id or a claims file breaking the schema.
        UsageError: bad source, or a scenario that simulates none of the claims' AOIs.
    """
    from satwatch.imagery.scenario import load_scenario

    claims = select_claims(claim_ids, claims_path)
    aois: list[str] = []
    for c in claims:
        aois += [a for a in c.aois if a not in aois]
    uncovered: list[str] = []
    name = "claims-" + "-".join(c.id.lower() for c in claims)
    if scenario_path is not None:
        if source != "simulated":
            raise UsageError("--scenario only applies to --source simulated")
        scenario = load_scenario(scenario_path)
        uncovered = [a for a in aois if a not in scenario.aois]
        aois = [a for a in aois if a in scenario.aois]
        if not aois:
            raise UsageError(f"scenario {scenario_path} simulates none of the claims' AOIs "
                             f"({', '.join(uncovered)}); add one of them to its aois")
        name += f"-{scenario.name}"
        sensors = sensors or tuple(scenario.sensors)
    periods = _merge([w for c in claims for w in (c.baseline, c.test)])
    kwargs: dict[str, Any] = {} if detector is None else {"detector": detector}
    request = build_request(aois, periods[0].start, periods[-1].end, sensors or ("s2", "s1"), source, scenario_path,
                            **kwargs)
    label = re.sub(r"[^a-z0-9_-]+", "-", name.lower())[:60].strip("-")
    return CheckPlan(claim_ids=tuple(c.id for c in claims), claims_path=Path(claims_path or DEFAULT_CLAIMS),
                     request=dataclasses.replace(request, name=label), periods=periods,
                     uncovered_aois=tuple(uncovered))


def measure_ground_change(run_dir: str | Path, claims: Sequence[Claim],
                          min_observed: float = MIN_OBSERVED_FRACTION,
                          record: dict[str, Any] | None = None) -> Path | None:
    """Pixel-level ground change over each claim's own windows, for its ``ground_change_area_m2`` indicators.

    Reads the archived scenes named in ``scenes.geojson`` (used acquisitions only) and writes
    ``claim_ground_change.csv`` (claim, aoi, sensor, area_m2, baseline_scenes, test_scenes, baseline, test,
    simulated) and ``claim_ground_change.geojson`` (the polygons, EPSG:4326). Verdicts then read only these
    files. Returns the CSV path, or None when no claim has such an indicator on an AOI of the run. ``record``:
    the run's ``run.json`` content when held in memory (see :func:`judge_run`).
    """
    from satwatch.aoi import resolve_aoi
    from satwatch.change.pixel_change import PIXEL_CHANGE_COLUMNS, pixel_change_between

    run = load_run(run_dir, record)
    rows: list[dict[str, Any]] = []
    polygons: list[gpd.GeoDataFrame] = []
    done: set[tuple[str, str, str]] = set()
    for claim in claims:
        for ind in claim.indicators:
            if ind.spec.kind != "pixel":
                continue
            sensors = [s for s in run.sensors_of(ind.aoi) if s in ("s1", "s2") and ind.sensor in ("any", s)]
            for sensor in sensors:
                key = (claim.id, ind.aoi, sensor)
                if key in done:
                    continue
                done.add(key)
                sc = run.scenes[(run.scenes["aoi"] == ind.aoi) & (run.scenes["sensor"] == sensor)]
                sc = sc[sc["observed_fraction"].astype(float) >= min_observed]
                found = pixel_change_between(sensor, sc, claim.baseline, claim.test, ind.aoi,
                                             resolve_aoi(ind.aoi).geometry)
                gdf = found.polygons
                if len(gdf):
                    polygons.append(gdf.assign(claim=claim.id))
                rows.append({"claim": claim.id, "aoi": ind.aoi, "sensor": sensor,
                             "area_m2": round(float(gdf["area_m2"].sum()), 1) if len(gdf) else 0.0,
                             "baseline_scenes": found.baseline_scenes, "test_scenes": found.test_scenes,
                             "baseline": str(claim.baseline), "test": str(claim.test),
                             "simulated": run.simulated})
    if not rows:
        return None
    run_path = Path(run_dir)
    cols = ["claim", *PIXEL_CHANGE_COLUMNS]
    merged = (gpd.GeoDataFrame(pd.concat(polygons, ignore_index=True)[[*cols, "geometry"]], geometry="geometry",
                               crs=4326) if polygons else gpd.GeoDataFrame(columns=cols, geometry=[], crs=4326))
    write_geojson(merged, run_path / GROUND_CHANGE_GEOJSON)
    return write_csv(pd.DataFrame(rows), run_path / GROUND_CHANGE_CSV)


def judge_run(run_dir: str | Path, claims: Sequence[Claim], claims_path: str | Path | None = None,
              uncovered_aois: Sequence[str] = (), evidence: bool = True,
              record: dict[str, Any] | None = None) -> tuple[list[ClaimVerdict], dict[str, Any]]:
    """Judge claims on a run folder; write ``claims.json``, ``claims.csv`` and the evidence (not ``run.json``).

    Steps: ground change over each claim's windows (:func:`measure_ground_change`), verdicts from the run folder
    (:func:`satwatch.claims.verdicts.evaluate_run`), evidence packages (``evidence/<claim>/``, unless
    ``evidence=False``), then ``claims.json`` / ``claims.csv``. ``record`` is the run's ``run.json`` content
    when the caller holds it in memory (the assemble stage, which writes ``run.json`` after this, once).

    Returns:
        The verdicts, and the ``claims`` entry of ``run.json`` (claims file, verdicts, uncovered AOIs, outputs).
    """
    from satwatch.claims.evidence import write_evidence

    run = Path(run_dir)
    path = Path(claims_path) if claims_path is not None else DEFAULT_CLAIMS
    measure_ground_change(run, claims, record=record)
    data = load_run(run, record)
    verdicts = evaluate_run(data, claims)
    if evidence:
        verdicts = [dataclasses.replace(v, evidence=write_evidence(data, v)) for v in verdicts]
    write_claims_outputs(run, verdicts, path, claims_sha256(path) if path.is_file() else None, record=data.record)
    entry = {"claims_file": str(path), "verdicts": {v.claim.id: v.verdict for v in verdicts},
             "uncovered_aois": list(uncovered_aois), "outputs": ["claims.json", "claims.csv", "evidence/"]}
    return verdicts, entry


def claims_judge(plan: CheckPlan, evidence: bool = True) -> Callable[[Path, dict[str, Any]], dict[str, Any]]:
    """Return the ``judge`` of :func:`satwatch.pipeline.assemble.finish_run` for a check.

    It runs :func:`judge_run` on the plan's claims, so that a claims run writes ``run.json`` and ``report.html``
    once, with the verdicts.
    """

    def judge(run_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
        claims = select_claims(plan.claim_ids, plan.claims_path)
        return judge_run(run_dir, claims, plan.claims_path, plan.uncovered_aois, evidence, record)[1]

    return judge


def finish_check(run_dir: str | Path, claims: Sequence[Claim], claims_path: str | Path | None = None,
                 uncovered_aois: Sequence[str] = (), evidence: bool = True,
                 report: bool = True) -> list[ClaimVerdict]:
    """Judge the claims on a finished run folder (:func:`judge_run`) and add them to its ``run.json``.

    For a run folder that exists already (``satwatch report --judge``): ``claims.json``, ``claims.csv`` and the
    evidence are written, ``run.json`` gets a ``claims`` entry, and last (unless ``report=False``, for a caller
    that writes the report itself) ``report.html`` is written again with the verdicts.
    """
    run = Path(run_dir)
    verdicts, entry = judge_run(run, claims, claims_path, uncovered_aois, evidence)
    record_path = run / "run.json"
    if record_path.is_file():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        record["claims"] = entry
        outputs = set(record.get("outputs", [])) | {p.name for p in run.iterdir() if p.is_file()}
        record["outputs"] = sorted(outputs)
        write_json(record, record_path)
    if report:
        from satwatch.outputs.report import publish_report

        publish_report(run)  # the run's report again, now with the verdicts
    return verdicts


def check_claims(
    claim_ids: Sequence[str],
    source: str = "simulated",
    scenario_path: str | Path | None = None,
    claims_path: str | Path | None = None,
    detector: str | None = None,
    evidence: bool = True,
) -> Path:
    """Check claims without Prefect: the pipeline's plain loop (:func:`satwatch.pipeline.run.run_monitor`), then judge.

    Plans the claims' AOIs over their merged windows only, fetches and processes each acquisition with the same
    scene stage and fault path as the flows (no-data skipped, unreadable scenes quarantined, fetched again or
    excluded), assembles the run folder and judges the claims in it (:func:`claims_judge`: ``run.json`` and
    ``report.html`` written once, last, with the verdicts). Returns the run folder; its
    ``claims.json`` holds the verdicts. The flow ``verify_claim`` does the same with retries and fan-out.
    ``evidence=False`` skips the PNGs and layers (verdicts only).
    """
    from satwatch.pipeline.run import run_monitor

    plan = plan_check(claim_ids, source, scenario_path, claims_path, detector)
    return run_monitor(plan.request, plan.periods, judge=claims_judge(plan, evidence))


def _num(v: float, digits: int = 2) -> str:
    if v != v:  # NaN
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def verdict_table(verdicts: Sequence[ClaimVerdict]) -> str:
    """Format verdicts as a readable table: one line per indicator, then the claim's verdict, limits and notice."""
    lines: list[str] = []
    for cv in verdicts:
        claim = cv.claim
        lines.append(f"{claim.id} ({claim.claimant}, {claim.date}): {claim.statement}")
        lines.append(f"  baseline {claim.baseline}, test {claim.test}; intervals at {cv.confidence:.1%} "
                     f"(Bonferroni over {cv.tests} tests); acquisitions used/excluded at observed fraction >= "
                     f"{cv.min_observed:g}")
        rows = []
        for iv in cv.indicators:
            main = iv.main
            if main is not None and iv.sensors:
                effect = f"{_num(main.effect)} [{_num(main.ci_low)}, {_num(main.ci_high)}]"
                acq = (f"{main.baseline_used}/{main.baseline_excluded} | {main.test_used}/{main.test_excluded}")
                sensor = ",".join(s.sensor for s in iv.sensors)
            else:
                effect, acq, sensor = "-", "-", "-"
            rows.append((iv.indicator.label, sensor, iv.verdict.upper(), effect, acq, iv.reason))
        table = text_table(rows, ("indicator", "sensor", "verdict", "effect [CI]", "used/excl b | t", "why"))
        lines += ["  " + row for row in table.splitlines()]
        lines.append(f"  => {claim.id}: {cv.verdict.upper()} ({cv.reason})")
        for e in cv.expected:
            lines.append(f"  expected if true: {e}")
        for iv in cv.indicators:
            if iv.interpretation:
                lines.append(f"  reading: {iv.interpretation}")
        limits = list(cv.limits) + sorted({lim for iv in cv.indicators for lim in iv.limits})
        for lim in limits:
            lines.append(f"  limit: {lim}")
        if claim.conflicts_with:
            lines.append(f"  conflicts with {', '.join(claim.conflicts_with)}: each claim is tested on its own")
        if cv.simulated:
            lines.append(f"  {SIMULATED_CLAIMS_NOTICE}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
