"""Loaders of real labelled sets: chips and images with their labels, in the scene and labels contracts.

Each loader returns a list of :class:`LabelledScene` (scene + labels in EPSG:4326 + split group + whether the
labels are exhaustive); :func:`split_by_group` splits such a list into train and validation by group. The
sets, their quirks and their split groups are described in ``docs/datasets.md``.

Example:
    >>> from satwatch.detection.data import load_eotdl_chips, split_by_group
    >>> chips = load_eotdl_chips()  # doctest: +SKIP
    >>> train, validation = split_by_group(chips, ("2022-08-25",))  # doctest: +SKIP
"""

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
