"""Photograph a run's report.html in headless Chromium, offline (the README's docs/report.png).

    .venv/bin/python scripts/screenshot_report.py data/outputs/<run-id> [--out docs/report.png] [--section maps]

Uses the same DevTools driver as the report's browser test (satwatch/outputs/_headless.py): every http(s) URL is
blocked, and the script fails if the page logs an error or asks for anything outside the file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from satwatch.outputs._headless import HeadlessChromium
from satwatch.outputs.report import REPORT_NAME, write_report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path, help="run folder (data/outputs/<run-id>)")
    p.add_argument("--out", type=Path, default=Path("docs/report.png"))
    p.add_argument("--section", default="", help="scroll to this section first (maps, pairs, timeseries, claims)")
    p.add_argument("--width", type=int, default=1400)
    p.add_argument("--height", type=int, default=1000)
    p.add_argument("--rewrite", action="store_true", help="write report.html again first")
    args = p.parse_args()
    report = args.run_dir / REPORT_NAME
    if args.rewrite or not report.is_file():
        write_report(args.run_dir)
    with HeadlessChromium(width=args.width, height=args.height) as browser:
        page = browser.open(report)
        if page.console_errors or page.outside_requests:
            print(f"errors: {page.console_errors}, outside requests: {page.outside_requests}", file=sys.stderr)
            return 1
        if args.section:
            browser.evaluate(f"document.getElementById({args.section!r}).scrollIntoView()")
        browser.screenshot(args.out)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
