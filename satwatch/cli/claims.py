"""``satwatch claims list|check``: the claims catalog, and claims judged by the ``verify_claim`` flow."""

from __future__ import annotations

import argparse
from pathlib import Path

from satwatch.cli._common import DETECTOR_HELP, Parser, Subparsers, existing_file, prefect_offline_env
from satwatch.outputs.text import text_table

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``claims`` command to ``sub``."""
    clm = sub.add_parser("claims", help="list claims and test them against imagery (verdicts with evidence)")
    clm_sub = clm.add_subparsers(dest="claims_command", required=True, parser_class=Parser)
    clm_list = clm_sub.add_parser("list", help="table of the claims catalog (aoi/claims.yaml)")
    clm_list.add_argument("--claims", type=existing_file, help="your own claims file (same format)")
    chk = clm_sub.add_parser("check", help="fetch, detect and judge claims; write claims.json and evidence")
    chk.add_argument("ids", nargs="+", metavar="ID", help="claim ids, e.g. C05")
    chk.add_argument("--source", default="simulated",
                     help="imagery source: simulated (default), archive, sentinel-hub or cdse (real imagery)")
    chk.add_argument("--scenario", type=existing_file, help="scenario YAML (simulated source)")
    chk.add_argument("--claims", type=existing_file, help="your own claims file (default aoi/claims.yaml)")
    chk.add_argument("--detector", default=None, help=DETECTOR_HELP)

    clm.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch claims`` with the parsed ``args``; return the exit code."""
    from satwatch.claims.catalog import load_claims

    if args.claims_command == "list":
        def short(text: str, n: int) -> str:
            return text if len(text) <= n else text[: n - 3] + "..."

        rows = [(c.id, c.date.isoformat(), short(c.claimant, 40),
                 short(", ".join(c.aois[:2]) + (f" +{len(c.aois) - 2}" if len(c.aois) > 2 else ""), 40),
                 str(c.baseline), str(c.test), str(len(c.indicators)), ",".join(c.conflicts_with) or "-")
                for c in load_claims(args.claims).values()]
        print(text_table(rows, ("id", "date", "claimant", "aois", "baseline", "test", "indicators", "conflicts")))
        return 0
    from satwatch.claims.check import plan_check, verdict_table
    from satwatch.claims.verdicts import reproduce

    # Validate (claim ids, catalog, scenario, source) before starting Prefect, and credentials for real imagery.
    plan = plan_check(args.ids, args.source, args.scenario, args.claims, args.detector)
    if plan.request.source in ("sentinel-hub", "cdse"):
        from satwatch.imagery.sentinel_hub import SentinelHubSource
        from satwatch.pipeline import open_source

        source = open_source(plan.request)
        if isinstance(source, SentinelHubSource):
            source.authenticate()
    prefect_offline_env()
    import importlib

    verify_claim = importlib.import_module("satwatch.flows.verify_claim").verify_claim
    run_dir = Path(verify_claim(
        claim_ids=list(args.ids), source=args.source, scenario=str(args.scenario) if args.scenario else None,
        claims=str(args.claims) if args.claims else None, detector=args.detector,
    ))
    verdicts = reproduce(run_dir)  # read back from the run folder alone
    print(verdict_table(verdicts), end="")
    for v in verdicts:
        print(f"evidence {v.claim.id}: {run_dir / 'evidence' / v.claim.id}")
    print(f"verdicts: {run_dir / 'claims.json'}, {run_dir / 'claims.csv'}")
    if (run_dir / "report.html").is_file():
        print(f"report: {run_dir / 'report.html'}")
    print(f"outputs: {run_dir}")
    return 0
