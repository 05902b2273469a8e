"""Real vehicles pasted onto real open pavement (vhr training): the cut-outs and the placement."""

from __future__ import annotations

import numpy as np

from satwatch.detection.data.samples import Sample
from satwatch.detection.data.training_data import (
    PASTE_VEHICLE_CLEAR_PX,
    PASTE_VEHICLE_PX,
    paste_real_vehicles,
    vehicle_cutouts,
)


def _street() -> Sample:
    """40 x 40 px at 1 m: grey pavement on the left half, a green lawn on the right; three labelled cars.

    A dark car at (10.5, 10.5) stands alone; two more at (10.5, 30.5) and (13.5, 30.5) stand 3 m apart.
    """
    raw = np.empty((3, 40, 40), dtype=np.float32)
    raw[:, :, :20] = 0.2  # pavement: greenness 0
    raw[:, :, 20:] = np.array([0.05, 0.15, 0.05], np.float32)[:, None, None]  # lawn: greenness 0.8
    for x, y in ((10, 10), (10, 30), (13, 30)):
        raw[:, y - 2:y + 3, x - 1:x + 2] = 0.03
    points = np.array([[10.5, 10.5, np.nan, np.nan, np.nan, 0.0], [10.5, 30.5, np.nan, np.nan, np.nan, 0.0],
                       [13.5, 30.5, np.nan, np.nan, np.nan, 0.0]])
    return Sample(name="street", raw=raw, names=("R", "G", "B"), points=points, ignore=np.zeros((0, 3)),
                  masks=None, has_size=False)


def test_only_isolated_vehicles_are_cut_out() -> None:
    squares = vehicle_cutouts([_street()])
    assert len(squares) == 1  # the two cars 3 m apart would each carry half of the other
    assert squares[0].shape == (3, PASTE_VEHICLE_PX, PASTE_VEHICLE_PX)
    assert squares[0][0, PASTE_VEHICLE_PX // 2, PASTE_VEHICLE_PX // 2] == np.float32(0.03)


def test_vehicles_are_pasted_on_open_pavement_clear_of_others() -> None:
    street = _street()
    pasted = paste_real_vehicles([street], vehicle_cutouts([street]), per_image=4, seed=1)
    assert len(pasted) == 1 and pasted[0].name == "street+vehicles"
    out = pasted[0]
    assert len(out.points) > 3 and np.array_equal(out.points[:3], street.points, equal_nan=True)
    new = out.points[3:, :2]
    for x, y in new:
        assert x < 20 - PASTE_VEHICLE_PX // 2, "pasted onto the lawn"
        assert out.raw[0, int(y), int(x)] == np.float32(0.03)  # the car's own pixels
        others = np.delete(out.points[:, :2], np.flatnonzero((out.points[:, :2] == (x, y)).all(axis=1)), axis=0)
        assert np.hypot(*(others - (x, y)).T).min() >= PASTE_VEHICLE_CLEAR_PX
    assert np.array_equal(out.raw[:, :, 20:], street.raw[:, :, 20:])  # the lawn untouched
    assert street.raw[0, 20, 5] == np.float32(0.2)  # the original sample is not modified
    assert paste_real_vehicles([street], [], per_image=4) == []
