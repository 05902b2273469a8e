"""What a finished run folder says, in the small forms an orchestrator shows: a counts table and a markdown note.

The flows publish these as Prefect artifacts (a table of counts, a markdown summary of changes and verdicts with
the run folder's path); this module only reads the run folder, so a notebook or a test gets the same text::

    rows = counts_rows("data/outputs/20241001T000000Z-demo")
    print(changes_markdown("data/outputs/20241001T000000Z-demo"))
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["MAX_TABLE_ROWS", "changes_markdown", "counts_rows"]

MAX_TABLE_ROWS = 500
"""Most rows a counts table carries (the full table is ``counts.csv`` in the run folder)."""

_COUNT_COLUMNS = ("aoi", "sensor", "acquired", "class", "count", "area_m2", "observed_fraction", "simulated")


def counts_rows(run_dir: str | Path, limit: int = MAX_TABLE_ROWS) -> list[dict[str, Any]]:
    """Return the rows of ``counts.csv`` (count per AOI, sensor, acquisition and class), at most ``limit``.

    Each row holds ``aoi``, ``sensor``, ``acquired`` (UTC ISO 8601), ``class``, ``count``, ``area_m2``,
    ``observed_fraction`` (0..1) and ``simulated``; values are plain JSON types. Empty when the run has no counts.
    """
    path = Path(run_dir) / "counts.csv"
    if not path.is_file():
        return []
    frame = pd.read_csv(path)
    if frame.empty:
        return []
    cols = [c for c in _COUNT_COLUMNS if c in frame.columns]
    rows: list[dict[str, Any]] = json.loads(frame[cols].head(limit).to_json(orient="records"))
    return rows


def _num(value: Any, fmt: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt) if isinstance(value, int | float) else str(value)


def changes_markdown(run_dir: str | Path) -> str:
    """Return a markdown summary of a run folder: where it is, what changed, and the claim verdicts if any.

    Reads ``run.json`` (summary and change comparisons) and, when present, ``claims.json``; says SIMULATED
    first when the run is simulated.
    """
    run = Path(run_dir)
    record = json.loads((run / "run.json").read_text(encoding="utf-8"))
    lines = [f"# Run `{record.get('run_id', run.name)}`", "", f"Output folder: `{run.resolve()}`", ""]
    if record.get("simulated"):
        lines += [f"> **{record.get('notice', 'SIMULATED imagery')}**", ""]
    params = record.get("parameters", {})
    summary = record.get("summary", {})
    lines += [f"AOIs {', '.join(params.get('aois', []))}; {params.get('start')} to {params.get('end')}; "
              f"sensors {', '.join(params.get('sensors', []))}; source {params.get('source')}; "
              f"detector {record.get('detector', {}).get('name', params.get('detector'))}.",
              f"{summary.get('scenes', 0)} scenes, {summary.get('detections', 0)} detections.", ""]
    changes = record.get("changes")
    if changes:
        lines += [f"## Changes: baseline {changes.get('baseline')} vs test {changes.get('test')}", "",
                  "| aoi | sensor | class | baseline rate | test rate | ratio [95% CI] | significant | method |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for c in changes.get("comparisons", []):
            ratio = f"{_num(c.get('rate_ratio'))} [{_num(c.get('ratio_low'))}, {_num(c.get('ratio_high'))}]"
            lines.append(f"| {c.get('aoi')} | {c.get('sensor')} | {c.get('class')} | {_num(c.get('baseline_rate'))} "
                         f"| {_num(c.get('test_rate'))} | {ratio} | {'yes' if c.get('significant') else 'no'} "
                         f"| {c.get('method')} |")
        presences = changes.get("presences") or {}
        if presences:
            lines += ["", "Presences: " + ", ".join(f"{k} {v}" for k, v in sorted(presences.items()))]
        pixels = changes.get("pixel_change_m2") or {}
        if pixels:
            areas = ", ".join(f"{k} {_num(v, '.0f')}" for k, v in sorted(pixels.items()))
            lines += ["", f"Ground change (m2): {areas}"]
    else:
        lines.append("No change comparison (a one-day period or no scenes).")
    claims_path = run / "claims.json"
    if claims_path.is_file():
        doc = json.loads(claims_path.read_text(encoding="utf-8"))
        lines += ["", "## Claim verdicts", "", "| claim | verdict | reason |", "| --- | --- | --- |"]
        for v in doc.get("claims", []):
            reason = str(v.get("reason", "")).replace("|", "/")
            lines.append(f"| {v.get('id')} | **{v.get('verdict')}** | {reason} |")
    return "\n".join(lines) + "\n"
