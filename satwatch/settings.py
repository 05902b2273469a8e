"""Settings: environment variables, then a config file, then defaults.

Precedence, highest first:

1. environment variables (``SATWATCH_DATA_DIR``, ``SATWATCH_DEVICE``, ``SATWATCH_PROVIDER``,
   ``SATWATCH_SH_BASE_URL``, ``SATWATCH_SH_TOKEN_URL``, ``SATWATCH_SH_MAX_WAIT_S``);
2. the TOML file named by ``SATWATCH_CONFIG``, else ``$XDG_CONFIG_HOME/satwatch/config.toml``
   (``~/.config/satwatch/config.toml``), with the same keys in lower case without the prefix
   (``data_dir = "/srv/satwatch"``);
3. the defaults below.

Sentinel Hub credentials are not settings: ``satwatch.imagery.sentinel_hub`` reads ``SH_CLIENT_ID`` /
``SH_CLIENT_SECRET`` (or the sentinelhub-py profile named by ``SH_PROFILE``) when it opens a session, so secrets
never pass through, and are never written with, satwatch's own settings.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from satwatch.errors import UsageError

__all__ = ["DEVICES", "REPO_ROOT", "Settings", "config_path", "load_settings"]

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The project root, computed once: the folder holding the ``satwatch`` package and, beside it, ``aoi/``,
``models/`` and ``scenarios/`` (a checkout or the Docker image); ``../shared`` beside it holds the real data sets."""

DEVICES = ("auto", "cpu", "cuda")
PROVIDERS = ("sentinel-hub", "cdse")
_KEYS = ("data_dir", "device", "provider", "sh_base_url", "sh_token_url", "sh_max_wait_s")


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one satwatch process."""

    data_dir: Path
    """Root of ``archive/`` (scenes) and ``outputs/`` (run folders). Default ``./data``."""
    device: str = "auto"
    """Torch device for detection: ``auto`` (CUDA when present), ``cpu`` or ``cuda``."""
    provider: str = "sentinel-hub"
    """Real-imagery provider: ``sentinel-hub`` or ``cdse``."""
    sh_base_url: str | None = None
    """Overrides the provider's Process/Catalog API base URL (tests, private deployments)."""
    sh_token_url: str | None = None
    """Overrides the provider's OAuth2 token URL."""
    sh_max_wait_s: float | None = None
    """Longest wait, seconds, that one rate-limited (429) answer may ask for before satwatch stops instead of
    waiting; None keeps the Sentinel Hub source's default (120 s)."""

    @property
    def archive_dir(self) -> Path:
        """Folder of the scene archive, ``<data_dir>/archive``."""
        return self.data_dir / "archive"

    @property
    def outputs_dir(self) -> Path:
        """Folder of run outputs, ``<data_dir>/outputs``."""
        return self.data_dir / "outputs"

    @property
    def cache_dir(self) -> Path:
        """Folder of the detection cache and the run-output cache, ``<data_dir>/cache`` (safe to delete)."""
        return self.data_dir / "cache"

    @property
    def quarantine_dir(self) -> Path:
        """Folder unreadable scenes are moved to, ``<data_dir>/quarantine`` (one folder per scene, with why)."""
        return self.data_dir / "quarantine"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Return the config file path that :func:`load_settings` reads (it may not exist)."""
    env = os.environ if env is None else env
    if env.get("SATWATCH_CONFIG"):
        return Path(env["SATWATCH_CONFIG"])
    base = Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "satwatch" / "config.toml"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Resolve settings from ``env`` (default ``os.environ``), the config file and defaults.

    Example:
        >>> load_settings({"SATWATCH_DATA_DIR": "/tmp/sw", "SATWATCH_CONFIG": "/nonexistent"}).archive_dir
        PosixPath('/tmp/sw/archive')

    Raises:
        UsageError: the config file is not valid TOML, has unknown keys, or a value is not allowed.
    """
    env = os.environ if env is None else env
    values: dict[str, str] = {"data_dir": "data", "device": "auto", "provider": "sentinel-hub"}
    path = config_path(env)
    if path.is_file():
        try:
            loaded = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"config file {path} is not valid TOML: {exc}") from exc
        unknown = sorted(set(loaded) - set(_KEYS))
        if unknown:
            raise UsageError(f"config file {path} has unknown keys {unknown}; allowed: {list(_KEYS)}")
        values.update({k: str(v) for k, v in loaded.items()})
    for key in _KEYS:
        value = env.get(f"SATWATCH_{key.upper()}")
        if value:
            values[key] = value
    if values["device"] not in DEVICES:
        raise UsageError(f"SATWATCH_DEVICE={values['device']!r} is not one of {', '.join(DEVICES)}")
    if values["provider"] not in PROVIDERS:
        raise UsageError(f"SATWATCH_PROVIDER={values['provider']!r} is not one of {', '.join(PROVIDERS)}")
    max_wait: float | None = None
    if values.get("sh_max_wait_s"):
        try:
            max_wait = float(values["sh_max_wait_s"])
        except ValueError:
            max_wait = math.nan
        if not (math.isfinite(max_wait) and max_wait > 0):
            raise UsageError(f"SATWATCH_SH_MAX_WAIT_S={values['sh_max_wait_s']!r} is not a number of seconds above 0; "
                             "give e.g. 120")
    return Settings(
        data_dir=Path(values["data_dir"]).expanduser(),
        device=values["device"],
        provider=values["provider"],
        sh_base_url=values.get("sh_base_url"),
        sh_token_url=values.get("sh_token_url"),
        sh_max_wait_s=max_wait,
    )
