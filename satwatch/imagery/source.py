"""The imagery source protocol: every source (simulated, Sentinel Hub, archive) searches and fetches alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from satwatch.aoi import AOI

__all__ = ["Acquisition", "ImagerySource"]


@dataclass(frozen=True)
class Acquisition:
    """One acquisition a source can deliver: a single overpass of one sensor over one AOI, not a mosaic."""

    aoi: str
    """Id of the AOI searched."""
    sensor: str
    """``s2``, ``s1`` or ``vhr``."""
    acquired: datetime
    """Acquisition time, timezone-aware UTC."""
    source: str
    """Name of the source that found it (``simulated``, ``sentinel-hub``, ``cdse``, ``archive``)."""
    simulated: bool
    """True for simulated imagery."""
    cloud_fraction: float | None = None
    """Scene cloud cover 0..1 as the provider reports it (None when unknown, e.g. Sentinel-1)."""
    coverage: float = 1.0
    """Fraction 0..1 of the AOI inside the acquisition's footprint."""
    item_id: str = ""
    """The provider's own id of the product (STAC item id), for provenance."""


@runtime_checkable
class ImagerySource(Protocol):
    """What the monitor flow needs from an imagery source."""

    name: str
    """Short name written into outputs (``simulated``, ``sentinel-hub``, ``cdse``, ``archive``)."""

    def search(self, aoi: AOI, start: date, end: date, sensor: str) -> list[Acquisition]:
        """List acquisitions over ``aoi`` from ``start`` to ``end`` (inclusive, UTC dates), oldest first."""
        ...

    def fetch(self, acquisition: Acquisition, aoi: AOI, archive_root: Path) -> Path:
        """Bring one acquisition into the archive under ``archive_root`` and return its scene file path.

        A scene already in the archive is returned without being fetched again.
        """
        ...
