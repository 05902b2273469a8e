"""Real hulls pasted berthed along real quays (s2 training): the RLE decoder, the cut-outs and the placement."""

from __future__ import annotations

import numpy as np
import pytest

from satwatch.detection.data.samples import Sample
from satwatch.detection.data.sen2ships import DEFAULT_ROOT, decode_rle, load_hull_masks, load_port
from satwatch.detection.data.training_data import PASTE_HULL_CLEAR_PX, paste_real_hulls

NAMES = ("B02", "B03", "B04", "B08", "B11")


def _rle(mask: np.ndarray) -> dict[str, list[int]]:
    """COCO uncompressed RLE of a mask (column-major, starting with background)."""
    flat = mask.T.ravel()
    counts, value, run = [], False, 0
    for v in flat:
        if bool(v) == value:
            run += 1
        else:
            counts.append(run)
            value, run = bool(v), 1
    counts.append(run)
    return {"counts": counts, "size": list(mask.shape)}


def test_decode_rle_round_trips_a_mask_and_reads_the_text_form() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((7, 11)) > 0.6
    assert np.array_equal(decode_rle(_rle(mask), 7, 11), mask)
    assert np.array_equal(decode_rle(str(_rle(mask)), 7, 11), mask)  # sen2ships stores the dict as text


def _port(seed: int = 0) -> Sample:
    """A 120 x 120 port: land (bright in B08) on the 40 leftmost columns, water elsewhere, one labelled ship."""
    rng = np.random.default_rng(seed)
    raw = np.empty((len(NAMES), 120, 120), dtype=np.float32)
    water = {"B02": 0.06, "B03": 0.05, "B04": 0.03, "B08": 0.015, "B11": 0.01}
    land = {"B02": 0.05, "B03": 0.07, "B04": 0.08, "B08": 0.14, "B11": 0.15}
    for i, b in enumerate(NAMES):
        raw[i] = water[b]
        raw[i, :, :40] = land[b]
    raw += rng.normal(0, 0.001, raw.shape).astype(np.float32)
    points = np.array([[80.5, 60.5, np.nan, np.nan, np.nan, 0.0]])
    return Sample(name="port", raw=raw, names=NAMES, points=points, ignore=np.zeros((0, 3)), masks=None,
                  has_size=False)


def test_paste_real_hulls_berths_hulls_on_water_against_the_quay() -> None:
    hull = np.zeros((3, 9), dtype=bool)
    hull[:, 1:8] = True
    pixels = np.full((len(NAMES), 3, 9), 0.2, dtype=np.float32)
    port = _port()
    out = paste_real_hulls([port], [(pixels, hull, NAMES)], per_port=5, seed=1)
    assert len(out) == 1 and out[0].name == "port+hulls"
    pasted = out[0]
    assert len(pasted.points) == 6 and np.array_equal(pasted.points[0], port.points[0], equal_nan=True)
    b08 = pasted.raw[NAMES.index("B08")]
    hull_px = np.argwhere(np.abs(b08 - 0.2) < 1e-6)
    assert len(hull_px) == 5 * hull.sum()  # every hull whole, none overlapping
    assert hull_px[:, 1].min() >= 40  # on water only
    for x, y in pasted.points[1:, :2]:
        assert 40 <= x <= 40 + 9  # berthed: against the quay at column 40
        assert abs(x - 80.5) + abs(y - 60.5) > PASTE_HULL_CLEAR_PX  # clear of the labelled ship
    assert np.array_equal(port.raw, _port().raw)  # the original sample is untouched
    # a cut-out of another band set is never pasted
    assert paste_real_hulls([port], [(pixels[:2], hull, NAMES[:2])], per_port=5) == []


@pytest.mark.skipif(not (DEFAULT_ROOT / "annotations.json").is_file(), reason=f"sen2ships not at {DEFAULT_ROOT}")
def test_hull_masks_of_a_real_port_lie_in_their_boxes() -> None:
    port = load_port("genoa")
    masks = load_hull_masks("genoa")
    assert len(masks) == len(port.boxes) and all(m.shape == (port.scene.height, port.scene.width) for m in masks)
    for m, (x, y, w, h) in zip(masks, port.boxes, strict=True):
        ys, xs = np.nonzero(m)
        assert xs.min() >= x - 1 and xs.max() <= x + w + 1 and ys.min() >= y - 1 and ys.max() <= y + h + 1
