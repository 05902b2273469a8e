"""What every command module shares: the one-line-error parser, argument types, choices and help texts.

Light on purpose (no GDAL, torch or Prefect): ``satwatch --help`` imports this and the command modules only.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "DETECTOR_HELP",
    "PRECISIONS",
    "PRECISION_HELP",
    "SENSORS",
    "SH_SENSORS",
    "Parser",
    "Subparsers",
    "date_arg",
    "datetime_arg",
    "existing_file",
    "prefect_offline_env",
]

SENSORS = ("s2", "s1", "vhr")
"""``satwatch.imagery.scene.SENSORS`` and the CNN profiles, here so ``--help`` needs no GDAL (a test holds them
equal)."""
SH_SENSORS = ("s2", "s1")
"""What Sentinel Hub / CDSE serve (``satwatch.imagery.sentinel_hub``)."""
PRECISIONS = ("auto", "fp32", "int8")
"""``satwatch.detection.models.cnn.PRECISIONS``, kept here so ``--help`` needs no torch."""
PRECISION_HELP = "cnn: auto (int8 on a CPU when the quantised model is shipped, else fp32), fp32 or int8"
DETECTOR_HELP = ("auto (default: per profile, the detector with the best real-data figures; `satwatch detectors` "
                 "lists them), cnn, cnn-extent, cfar-cnn, cnn-cfar or baseline")

Subparsers = Any
"""``argparse._SubParsersAction`` (private in argparse): what ``add_subparsers`` returns."""


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit 2.

    ``describe``, when set, makes the description only when help is shown, so the files it reads cost nothing
    on other runs.
    """

    describe: Callable[[], str] | None = None

    def format_help(self) -> str:
        """Return the help text, the description made now when :attr:`describe` is set."""
        if self.describe is not None:
            self.description = self.describe()
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        """Print a one-line error naming the command and exit 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def date_arg(text: str) -> date:
    """``YYYY-MM-DD`` to a date (argparse type)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def datetime_arg(text: str) -> datetime:
    """ISO 8601 date-time to an aware UTC datetime (argparse type; no zone means UTC)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date-time; use YYYY-MM-DDTHH:MM:SSZ") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def existing_file(text: str) -> Path:
    """Return ``text`` as a path if it names an existing file (argparse type)."""
    p = Path(text)
    if not p.is_file():
        raise argparse.ArgumentTypeError(f"file {text} does not exist")
    return p


def prefect_offline_env() -> None:
    """Set what lets a flow run with no network: no telemetry, a patient ephemeral server, our logs shown."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "satwatch,sentinelhub")
