"""``satwatch server``: start a Prefect server on loopback."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from satwatch.cli._common import Subparsers, prefect_offline_env

__all__ = ["add_parser", "run"]


def add_parser(sub: Subparsers) -> None:
    """Add the ``server`` command to ``sub``."""
    srv = sub.add_parser("server", help="start a Prefect server on loopback (prefect server start)")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=4200, help="port (default 4200)")

    srv.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run ``satwatch server`` with the parsed ``args``; return the exit code."""
    import subprocess

    prefect_offline_env()
    prefect = Path(sys.executable).with_name("prefect")
    cmd = [str(prefect) if prefect.is_file() else "prefect", "server", "start", "--host", args.host,
           "--port", str(args.port)]
    print(f"Prefect server on http://{args.host}:{args.port} (UI there); for satwatch run and schedule:\n"
          f"  export PREFECT_API_URL=http://{args.host}:{args.port}/api", flush=True)
    return subprocess.call(cmd)
