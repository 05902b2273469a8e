"""The fixed train / validation split of every real labelled set: which groups are trained on, which held out.

Sets are split by place, date, package or image sequence, never by chip or frame. Training
(:mod:`satwatch.detection.training.train`, :mod:`satwatch.detection.data.training_data`) and validation
(:mod:`satwatch.detection.training.validation`) read the split from here, so it is written once. Plain constants:
this module imports nothing, so a training run on a bare GPU machine can refuse held-out ports without GDAL.
"""

from __future__ import annotations

__all__ = ["HOLDOUT_PORTS", "SPLITS"]

HOLDOUT_PORTS = ("athens", "hedland", "valencia", "casablanca")
"""sen2ships ports never trained on: the real-imagery validation set (93 ships)."""
SPLITS: dict[str, dict[str, tuple[str, ...]]] = {
    "sen2ships": {"validation": (*HOLDOUT_PORTS, "qingdao")},
    "eotdl_s2_ships": {"validation": ("2022-08-25",), "train": ("2022-08-12",)},
    "opensarship": {"validation": ("2016-05-18", "2015-08-23"), "train": ("2016-01-31",)},
    "aerial_vehicles": {"validation": ("MOS74-93", "DJI_0005"),
                        "train": ("MOS155-179", "MunichStreet02-MOS74-93", "DJI-00760", "DJI_0762", "DJI_0013")},
}
"""Per real set, the groups (port, date, package, image sequence) held out for validation, and those trainable.
Groups of a set not named under ``train`` are not trained on either (kept for the hidden real-scene test). The
sen2ships validation groups are :data:`HOLDOUT_PORTS` and ``qingdao`` (a port of a separate sen2ships export)."""
