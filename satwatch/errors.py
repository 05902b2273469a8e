"""The one place for satwatch's exceptions.

Every exception derives from :class:`SatwatchError` and from the builtin that matches its meaning, so callers
can catch either. Messages say what to change. ``exit_code`` is what the CLI exits with: 2 for a user's
mistake in arguments or input files, 3 for rejected or missing credentials, 1 for everything else.
"""

from __future__ import annotations

__all__ = [
    "AOIError",
    "ArchiveError",
    "ClaimError",
    "CredentialsError",
    "DetectionError",
    "InputFileError",
    "NoDataError",
    "ProviderError",
    "SatwatchError",
    "ScenarioError",
    "SceneFormatError",
    "SceneReadError",
    "UnknownAOIError",
    "UsageError",
]


class SatwatchError(Exception):
    """Root of every error satwatch raises on purpose."""

    exit_code: int = 1


class UsageError(SatwatchError, ValueError):
    """A command-line argument or option value is wrong (bad date, unknown choice)."""

    exit_code = 2


class InputFileError(SatwatchError, FileNotFoundError):
    """A file the user named does not exist or cannot be read."""

    exit_code = 2


class AOIError(SatwatchError, ValueError):
    """An area of interest is invalid: bad geometry, unsafe id, duplicate id, empty or absurd area."""

    exit_code = 2


class UnknownAOIError(AOIError, LookupError):
    """An AOI id is neither in the catalog nor a path to a vector file."""


class ScenarioError(SatwatchError, ValueError):
    """A simulation scenario file does not follow the documented schema."""

    exit_code = 2


class ClaimError(SatwatchError, ValueError):
    """A claims catalog does not follow the documented schema, or names a claim that is not in it."""

    exit_code = 2


class SceneFormatError(SatwatchError, ValueError):
    """A raster does not follow the scene file contract (band names, tags, dtype) and cannot be used."""

    exit_code = 2


class SceneReadError(SceneFormatError):
    """A scene file has a header but its pixels cannot be decoded: truncated or corrupt; fetch or import it again.

    A monitoring run moves such a file to the quarantine folder and fetches or renders it again where the source
    can (:func:`satwatch.pipeline.scene.scene_stage`).
    """


class ArchiveError(SatwatchError, OSError):
    """The scene archive cannot store or find a scene."""


class DetectionError(SatwatchError, RuntimeError):
    """A detector cannot run on the given scene (missing bands, unsupported sensor)."""

    exit_code = 2


class CredentialsError(SatwatchError, PermissionError):
    """Credentials for an imagery provider are missing or were rejected."""

    exit_code = 3


class ProviderError(SatwatchError, ConnectionError):
    """An imagery provider did not deliver: unreachable after retries, a refused request, or an unusable answer."""


class NoDataError(ProviderError):
    """A provider answered with no valid pixel for an acquisition: nothing was archived, a later run asks again.

    Callers that fetch many acquisitions can skip this one and go on; any other :class:`ProviderError` means the
    provider itself cannot deliver now.
    """
