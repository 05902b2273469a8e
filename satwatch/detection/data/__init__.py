"""The detectors' data: what turns real labelled sets and simulated scenes into labelled scenes and samples.

The loaders of real labelled sets (``eotdl_s2_ships``, ``opensarship``, ``aerial_vehicles`` to
:class:`LabelledScene`, ``sen2ships`` ports), label files (``label_files``: vector and COCO labels, detections
files), the fixed train / validation split (``splits``), training samples on the profile grid (``samples``) and
where they come from (``training_data``); the sets, their quirks and their split groups are described in
``docs/datasets.md``. Modules here import the top-level detection vocabulary (``profiles``, ``grid``) and the
imagery package, never ``models/`` or ``training/`` (a detector that mines hard negatives is passed in). The
loaders below are re-exported lazily, on first use, so that ``samples`` and ``splits`` stay importable without
GDAL or GeoPandas (a bare GPU machine trains on a samples file).

Example:
    >>> from satwatch.detection.data import load_eotdl_chips, split_by_group
    >>> chips = load_eotdl_chips()  # doctest: +SKIP
    >>> train, validation = split_by_group(chips, ("2022-08-25",))  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from satwatch.detection.data.aerial_vehicles import load_images as load_aerial_images
    from satwatch.detection.data.eotdl_s2_ships import load_chips as load_eotdl_chips
    from satwatch.detection.data.labelled import (
        DATA_ROOT,
        LABEL_COLUMNS,
        SYNTHETIC_CRS,
        LabelledScene,
        groups_of,
        labels_frame,
        measure_footprint,
        real_data_root,
        split_by_group,
        synthetic_transform,
    )
    from satwatch.detection.data.opensarship import load_chips as load_opensarship_chips

__all__ = [
    "DATA_ROOT",
    "LABEL_COLUMNS",
    "SYNTHETIC_CRS",
    "LabelledScene",
    "groups_of",
    "labels_frame",
    "load_aerial_images",
    "load_eotdl_chips",
    "load_opensarship_chips",
    "measure_footprint",
    "real_data_root",
    "split_by_group",
    "synthetic_transform",
]

_EXPORTS = {
    "load_aerial_images": ("aerial_vehicles", "load_images"),
    "load_eotdl_chips": ("eotdl_s2_ships", "load_chips"),
    "load_opensarship_chips": ("opensarship", "load_chips"),
    **{name: ("labelled", name) for name in __all__ if not name.startswith("load_")},
}
"""Re-exported name -> (module of this package, its name there)."""


def __getattr__(name: str) -> Any:
    """Import a re-exported name from its module on first use (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
    globals()[name] = value
    return value
