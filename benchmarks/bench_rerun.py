"""Re-running an unchanged period: wall time of a second ``satwatch run`` against the first, and where it goes.

As a new user would: in a fresh data folder, ``satwatch run`` (the Prefect ``monitor`` flow, default: the demo
scenario, 77 scenes, default detector), timed from the command's start to its exit; then the same command again
(every scene archived, every detection and observation cached, the derived outputs unchanged). Prints both
times and their ratio (target: at most 0.30), then, with ``--profile``, runs the command a third time under
cProfile and prints the cumulative time of its parts (main thread: imports, the temporary Prefect server, the
flow, waiting on the scene tasks, ``finish_run`` and the report).

Command: ``.venv/bin/python benchmarks/bench_rerun.py --profile`` (about 4-8 minutes on the 2-core machine).
Other scenarios: ``--scenario scenarios/tiny.yaml`` (7 scenes: seconds, not a fair ratio), ``--detector baseline``.
"""

from __future__ import annotations

import argparse
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SATWATCH = Path(sys.executable).with_name("satwatch")

# (label, pattern in "file:line(function)") of the parts worth naming in the profile of the re-run
PARTS = (
    ("whole command (after python start-up)", "satwatch/cli/__init__.py", "main"),
    ("  the flow call (Prefect engine, the rest is imports and checks)", "prefect/flows.py", "__call__"),
    ("    start-up: temporary Prefect server, API client", "flow_engine.py", "initialize_run"),
    ("    flow body", "flows/monitor.py", "monitor"),
    ("      search tasks", "flows/monitor.py", "search"),
    ("      waiting on the scene tasks (fetch + detect, in threads)", "flows/monitor.py", "<listcomp>"),
    ("      publish: finish_run", "satwatch/pipeline/assemble.py", "finish_run"),
    ("        fingerprint (hash per-scene files and the code)", "satwatch/pipeline/assemble.py", "_fingerprint"),
    ("        derived outputs computed (0 when reused)", "satwatch/pipeline/assemble.py", "_derive_outputs"),
    ("        report.html (maps over every scene's quicklook)", "satwatch/outputs/report.py", "publish_report"),
    ("      report task (Prefect artifacts)", "flows/monitor.py", "report"),
)


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return seconds, res.stdout.strip().splitlines()[-1]


def _parts(profile: Path) -> list[tuple[str, float]]:
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]
    out = []
    for label, file_part, function in PARTS:
        best = 0.0
        for (filename, _line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.items():
            if name == function and file_part in filename:
                best = max(best, cumulative)
        out.append((label, best))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(REPO / "scenarios" / "demo.yaml"))
    p.add_argument("--detector", default=None, help="default: the CLI's default (auto)")
    p.add_argument("--profile", action="store_true", help="run a third time under cProfile and show the parts")
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-rerun-"))
    env = {**os.environ, "SATWATCH_DATA_DIR": str(tmp / "data")}
    cmd = [str(SATWATCH), "run", "--scenario", args.scenario]
    if args.detector:
        cmd += ["--detector", args.detector]
    first, out1 = _run(cmd, env)
    second, out2 = _run(cmd, env)
    n = sum(1 for _ in (tmp / "data" / "cache" / "observations").glob("*.json"))
    print(f"scenario {Path(args.scenario).name}: {n} scenes, fresh data folder {tmp / 'data'}")
    print(f"first run  {first:7.1f} s  ({out1})")
    print(f"second run {second:7.1f} s  ({out2})")
    print(f"re-run / first run = {second / first:.3f} (target <= 0.30)")
    if args.profile:
        profile = tmp / "rerun.prof"
        third, _ = _run([sys.executable, "-m", "cProfile", "-o", str(profile), *cmd], env)
        print(f"third run under cProfile {third:.1f} s (main thread; the scene tasks run in worker threads):")
        for label, seconds in _parts(profile):
            print(f"  {label:<66} {seconds:7.1f} s")


if __name__ == "__main__":
    main()
