"""Measure how often the verdict rules call a claim `supported` on a null scenario (nothing happened), over seeds.

Each seed renders the scenario again (same traffic, other ship positions, clouds and noise), detects, and judges
the claim from the run folder (``satwatch.claims.check.check_claims`` without Prefect or evidence). The run
folders are kept under ``--work`` so that a second call only judges again (verdicts need the folder alone)::

    .venv/bin/python scripts/claims_false_positives.py --claim C05 --scenario scenarios/c05-null.yaml --seeds 20
    .venv/bin/python scripts/claims_false_positives.py --claim C05 --scenario scenarios/c05.yaml --seeds 5  # power

Prints, and writes as JSON with ``--out``: the claims and (indicator, sensor) tests called supported /
contradicted / inconclusive, the false-positive rate with its 95% Clopper-Pearson interval, and per seed what
supported it. Everything here is SIMULATED imagery: it measures the method, not the world.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from scipy import stats


def _interval(k: int, n: int) -> tuple[float, float]:
    low = 0.0 if k == 0 else float(stats.beta.ppf(0.025, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(0.975, k + 1, n - k))
    return low, high


def _run_seed(scenario: Path, seed: int, claim: str, detector: str | None, work: Path) -> Path:
    """Return the run folder of one seed (made once, then reused)."""
    done = work / f"seed-{seed}.run"
    if done.is_file() and Path(done.read_text().strip(), "run.json").is_file():
        return Path(done.read_text().strip())
    text = scenario.read_text()
    text = re.sub(r"(?m)^seed:\s*\d+", f"seed: {seed}", text)
    text = re.sub(r"(?m)^name:\s*(\S+)", lambda m: f"name: {m.group(1)}-s{seed}", text)
    path = work / f"seed-{seed}.yaml"
    path.write_text(text)
    os.environ["SATWATCH_DATA_DIR"] = str(work / "data")
    from satwatch.claims.check import check_claims

    run_dir = check_claims([claim], scenario_path=path, detector=detector, evidence=False)
    done.write_text(str(run_dir))
    return run_dir


def main(argv: list[str] | None = None) -> int:
    """Run the measurement; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--claim", default="C05")
    ap.add_argument("--scenario", type=Path, default=Path("scenarios/c05-null.yaml"))
    ap.add_argument("--seeds", type=int, default=20, help="seeds 1..N (the scenario's own seed is replaced)")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--detector", default=None, help="registry name (default: the claims check default, auto)")
    ap.add_argument("--work", type=Path, default=Path("data/fp"), help="run folders and archive, reused")
    ap.add_argument("--out", type=Path, default=None, help="write the result as JSON")
    args = ap.parse_args(argv)
    work = args.work / f"{args.claim}-{args.scenario.stem}-{args.detector or 'auto'}"
    work.mkdir(parents=True, exist_ok=True)
    from satwatch.claims.check import select_claims
    from satwatch.claims.verdicts import evaluate_run

    [claim] = select_claims([args.claim])
    claims: Counter[str] = Counter()
    tests: Counter[str] = Counter()
    per_seed: list[dict[str, Any]] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        run_dir = _run_seed(args.scenario, seed, args.claim, args.detector, work)
        [verdict] = evaluate_run(run_dir, [claim])  # the current rules, from the run folder alone
        claims[verdict.verdict] += 1
        supported = []
        for iv in verdict.indicators:
            for s in iv.sensors:
                tests[s.verdict] += 1
                if s.verdict == "supported":
                    supported.append(f"{iv.indicator.label} {s.sensor}: {s.reason}")
        per_seed.append({"seed": seed, "verdict": verdict.verdict, "supported": supported, "run": str(run_dir)})
        print(f"seed {seed}: {verdict.verdict}" + (f" ({'; '.join(supported)})" if supported else ""), flush=True)
    n_claims, n_tests = sum(claims.values()), sum(tests.values())
    result = {
        "claim": args.claim, "scenario": str(args.scenario), "detector": args.detector or "auto",
        "seeds": args.seeds, "claims": dict(claims), "tests": dict(tests),
        "claim_supported_rate": claims["supported"] / n_claims if n_claims else None,
        "claim_supported_ci95": _interval(claims["supported"], n_claims) if n_claims else None,
        "test_supported_rate": tests["supported"] / n_tests if n_tests else None,
        "test_supported_ci95": _interval(tests["supported"], n_tests) if n_tests else None,
        "per_seed": per_seed, "simulated": True,
    }
    lo, hi = result["claim_supported_ci95"] or (0.0, 1.0)
    print(f"{args.claim} on {args.scenario} ({args.detector or 'auto'}), {n_claims} seeds: supported "
          f"{claims['supported']} ({claims['supported'] / max(n_claims, 1):.1%}, 95% CI {lo:.1%}-{hi:.1%}); "
          f"(indicator, sensor) tests supported {tests['supported']} of {n_tests}; verdicts {dict(claims)}")
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
