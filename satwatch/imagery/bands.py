"""Band constants, the Sentinel-2 "not clear" rule and the sRGB decoding of display imagery: one place for all.

The detectors, observability, loaders and simulator take them from here.

Numpy and scipy only (no rasterio, no torch), so that every part can import it cheaply.

The one place where Sentinel-2 scene classification (SCL) codes get a meaning:

- :data:`SCL_INVALID` (no data 0, saturated or defective 1): no usable measurement;
- :data:`SCL_NOT_CLEAR` (cloud shadow 3, cloud medium/high probability 8, 9, thin cirrus 10): the ground is
  hidden, except for the ship-sized cloud blobs on water that :func:`scl_not_clear` gives back;
- :data:`SCL_WATER` (6).

**Bright hulls under SCL "cloud".** ESA's L2A scene classification often marks bright white hulls (ferries,
cruise ships, car carriers, tankers with white decks) as cloud (8 or 9, sometimes 10). Taken at face value, the
ship is an unobservable pixel: never searched, and left out of the observed fraction. :func:`scl_not_clear`
therefore gives back (as clear: observable and searchable) every connected blob of cloud classes that

1. has at most :func:`hull_blob_max_pixels` pixels: the area of the largest real ships (400 m x 70 m, the
   biggest container ships and cruise ships; :data:`SHIP_MAX_LENGTH_M`, :data:`SHIP_MAX_BEAM_M`) grown by
   :data:`SCL_EDGE_M` on every side, because SCL is made at 20 m and its blob edges are quantised to 20 m
   (at 10 m: (400 + 40) x (70 + 40) m = 48,400 m2 = 484 pixels; at 20 m: 121 pixels);
2. is surrounded by water: of the pixels of the ring up to :data:`HULL_RING_M` around it (at least
   :data:`HULL_RING_MIN_PX` pixels wide: 3 px at 10 m), at least :data:`HULL_RING_WATER_SHARE` (half) are SCL
   water (6). Ring pixels that are no data, cloud (another blob), cloud shadow, land or anything else count
   against it, so a blob over land, on the coast, against a cloud bank or in a narrow dock stays not clear;
3. does not touch the array's border: its true extent is unknown there (a big cloud cut by the border could
   show a ship-sized piece);
4. lies at least :data:`HULL_CLEAR_OF_BANK_M` (300 m) from every cloud bank, a cloud blob that fails 1 or 3:
   near a bank, a small blob is far more likely a fragment of it than a hull. On 15 simulated port scenes
   with 30% cloud, the baseline's false detections on given-back blobs fall from 17 to 4 with this test (to 0
   with its elongation test), the CNN's extra false detections from 11 to 5; a hull that close to a cloud
   bank is lost.

Blobs are 8-connected pixels of :data:`SCL_CLOUD` (8, 9, 10); cloud shadow (3) is never part of a blob and
always stays not clear, also next to a blob given back. What is given back is only searched and observed,
never counted as a vessel: a small isolated cloud puff on open water (at most ~0.05 km2) is given back too and
counts as observed water (about as much as it hides); the detectors have to reject it (the baseline asks an
object on such a blob to be elongated).

Tiles: the CNN calls the rule per tile (512 px, 64 px overlap). A vessel blob (at most 44 px long at 10 m)
whose centre lies in a tile's core (32 px or more from an inner tile border) never touches that tile's border,
so the tile that reports a vessel judges its whole blob and its whole ring; a cloud bank outside the tile but
within 300 m of the blob is not seen there (the tile may give back a blob that the whole scene would not).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "HULL_CLEAR_OF_BANK_M",
    "HULL_RING_M",
    "HULL_RING_MIN_PX",
    "HULL_RING_WATER_SHARE",
    "SCL_CLOUD",
    "SCL_EDGE_M",
    "SCL_INVALID",
    "SCL_NOT_CLEAR",
    "SCL_WATER",
    "SHIP_MAX_BEAM_M",
    "SHIP_MAX_LENGTH_M",
    "hull_bank_px",
    "hull_blob_max_pixels",
    "hull_ring_px",
    "scl_not_clear",
    "srgb_to_linear",
]

SCL_INVALID = (0.0, 1.0)
"""Sentinel-2 SCL classes without a usable measurement: no data (0), saturated or defective (1). Not valid for
the detectors' search area, the CNN's validity channel and the observed fraction."""
SCL_NOT_CLEAR = (3.0, 8.0, 9.0, 10.0)
"""Sentinel-2 SCL classes that hide the ground: cloud shadow, cloud medium/high probability, thin cirrus. Used
only through :func:`scl_not_clear` (which gives back ship-sized cloud blobs on water) by the detectors' search
area, the CNN's validity channel, the observed fraction and the simulator's ``visible`` truth."""
SCL_CLOUD = (8.0, 9.0, 10.0)
"""SCL classes a bright hull is mistaken for: cloud medium/high probability and thin cirrus (not shadow 3)."""
SCL_WATER = 6.0
"""SCL class of water."""
SHIP_MAX_LENGTH_M = 400.0
"""Length of the largest real ships, metres (container ships of 400 m; cruise ships reach 365 m)."""
SHIP_MAX_BEAM_M = 70.0
"""Beam of the largest real ships, metres (61-65 m; 70 m with some margin)."""
SCL_EDGE_M = 20.0
"""Native pixel size of the SCL band, metres: a blob's edges are quantised to it on every side."""
HULL_RING_M = 30.0
"""Width of the ring around a cloud blob that must be mostly water for the blob to be given back, metres."""
HULL_RING_MIN_PX = 2
"""Narrowest ring, pixels (at 20 m and coarser)."""
HULL_RING_WATER_SHARE = 0.5
"""Least share of the ring's pixels that are SCL water for the blob to be given back."""
HULL_CLEAR_OF_BANK_M = 300.0
"""Least distance, metres, between a blob given back and a cloud bank (a cloud blob larger than a ship or cut by
the array's border): nearer, a small blob is far more likely a fragment of the bank than a hull."""

Bool = npt.NDArray[np.bool_]
_EIGHT = np.ones((3, 3), dtype=bool)


def hull_blob_max_pixels(pixel_size_m: float) -> int:
    """Largest cloud blob (pixels) that can be a ship at ``pixel_size_m`` metres per pixel.

    ``(SHIP_MAX_LENGTH_M + 2 e) * (SHIP_MAX_BEAM_M + 2 e) / pixel_size_m ** 2`` with ``e`` the larger of
    :data:`SCL_EDGE_M` and the pixel size: 484 at 10 m, 121 at 20 m.

    Example:
        >>> hull_blob_max_pixels(10.0), hull_blob_max_pixels(20.0)
        (484, 121)
    """
    _check_pixel_size(pixel_size_m)
    edge = max(SCL_EDGE_M, pixel_size_m)
    area_m2 = (SHIP_MAX_LENGTH_M + 2 * edge) * (SHIP_MAX_BEAM_M + 2 * edge)
    return math.floor(area_m2 / pixel_size_m**2 + 1e-9)


def hull_ring_px(pixel_size_m: float) -> int:
    """Width in pixels of the water ring looked at around a cloud blob: 3 at 10 m, 2 at 20 m.

    Example:
        >>> hull_ring_px(10.0)
        3
    """
    _check_pixel_size(pixel_size_m)
    return max(HULL_RING_MIN_PX, round(HULL_RING_M / pixel_size_m))


def hull_bank_px(pixel_size_m: float) -> int:
    """Least distance in pixels between a cloud blob given back and a cloud bank: 30 at 10 m.

    Example:
        >>> hull_bank_px(10.0), hull_bank_px(20.0)
        (30, 15)
    """
    _check_pixel_size(pixel_size_m)
    return round(HULL_CLEAR_OF_BANK_M / pixel_size_m)


def scl_not_clear(
    scl: npt.NDArray[Any], pixel_size_m: float, classes: tuple[float, ...] = SCL_NOT_CLEAR
) -> Bool:
    """Where Sentinel-2 SCL says the ground is hidden, ship-sized cloud blobs on water given back as clear.

    The rule and its bounds are in the module docstring: a pixel is not clear when its class is one of
    ``classes``, unless it belongs to an 8-connected blob of :data:`SCL_CLOUD` pixels of at most
    :func:`hull_blob_max_pixels` pixels, not touching the array's border, whose ring of :func:`hull_ring_px`
    pixels is at least :data:`HULL_RING_WATER_SHARE` SCL water. No-data pixels (0, NaN) are never "not clear"
    here (see :data:`SCL_INVALID`); they only count against a blob's ring.

    Args:
        scl: ``(H, W)`` SCL class codes (float32 as in the scene contract, NaN for no data, or any integer
            dtype); a whole scene or one tile of it.
        pixel_size_m: ground size of one pixel of ``scl``, metres (10 for Sentinel-2's 10 m grid).
        classes: classes that hide the ground; default :data:`SCL_NOT_CLEAR`. A detector that searches thin
            cirrus and cloud shadow passes ``(8.0, 9.0)``.

    Returns:
        ``(H, W)`` bool, True where the ground is not clear.

    Raises:
        ValueError: ``scl`` is not 2-D or ``pixel_size_m`` is not a positive number.

    Example:
        >>> scl = np.full((40, 40), 6.0, dtype=np.float32)
        >>> scl[10:15, 10:30] = 9.0  # a 50 m x 200 m white hull marked cloud, on water
        >>> scl[30:33, 0:3] = 3.0  # a cloud shadow
        >>> m = scl_not_clear(scl, 10.0)
        >>> bool(m[12, 20]), bool(m[31, 1])
        (False, True)
    """
    values = np.asarray(scl)
    if values.ndim != 2:
        raise ValueError(f"scl must be a 2-D (H, W) array of SCL codes; got shape {values.shape}")
    not_clear = np.asarray(np.isin(values, classes), dtype=bool)
    hulls = _hull_blobs(values, pixel_size_m)
    if hulls is not None:
        not_clear &= ~hulls
    return not_clear


def _hull_blobs(scl: npt.NDArray[Any], pixel_size_m: float) -> Bool | None:
    """Pixels of the cloud blobs given back by :func:`scl_not_clear`; None when there are none."""
    max_px = hull_blob_max_pixels(pixel_size_m)
    ring = hull_ring_px(pixel_size_m)
    cloud = np.isin(scl, SCL_CLOUD)
    if not cloud.any():
        return None
    from scipy import ndimage  # here, not at import: the training core imports this module without scipy

    labels, n = ndimage.label(cloud, structure=_EIGHT)
    area = np.bincount(labels[cloud], minlength=n + 1)
    cand = area <= max_px
    cand[0] = False
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    cand[border] = False
    if not cand.any():
        return None
    # Work in the bounding box of the candidates grown by the ring (memory: a few int32 copies of it).
    inside = cand[labels]
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    del inside
    h, w = labels.shape
    r0, r1 = max(0, int(rows[0]) - ring), min(h, int(rows[-1]) + ring + 1)
    c0, c1 = max(0, int(cols[0]) - ring), min(w, int(cols[-1]) + ring + 1)
    lab = labels[r0:r1, c0:c1]
    own = np.where(cand[lab], lab, 0).astype(np.int32)
    size = 2 * ring + 1
    # Each pixel within the ring of a candidate is attributed to the highest and the lowest candidate label
    # in reach: exact for pixels near one or two blobs, and near enough where three blobs crowd together.
    hi = ndimage.maximum_filter(own, size=size, mode="constant", cval=0)
    none = np.int32(n + 1)
    lo = ndimage.minimum_filter(np.where(own > 0, own, none), size=size, mode="constant", cval=none)
    del own
    near = np.flatnonzero(hi)
    lab_n, hi_n, lo_n = lab.ravel()[near], hi.ravel()[near], lo.ravel()[near]
    water = np.ascontiguousarray(scl[r0:r1, c0:c1]).ravel()[near] == SCL_WATER
    del hi, lo, near
    in_hi = lab_n != hi_n
    in_lo = (lab_n != lo_n) & (lo_n != hi_n)
    total = np.bincount(hi_n[in_hi], minlength=n + 2) + np.bincount(lo_n[in_lo], minlength=n + 2)
    wet = np.bincount(hi_n[in_hi & water], minlength=n + 2) + np.bincount(lo_n[in_lo & water], minlength=n + 2)
    keep = cand & (total[: n + 1] > 0) & (wet[: n + 1] >= HULL_RING_WATER_SHARE * total[: n + 1])
    if not keep.any():
        return None
    _drop_near_banks(keep, cand, labels, cloud, hull_bank_px(pixel_size_m))
    if not keep.any():
        return None
    return np.asarray(keep[labels], dtype=bool)


def _drop_near_banks(keep: Bool, cand: Bool, labels: npt.NDArray[np.int32], cloud: Bool, reach: int) -> None:
    """Set ``keep[k]`` False for every kept blob within ``reach`` pixels (square) of a cloud bank's pixel."""
    bank = cloud & ~cand[labels]
    if reach <= 0 or not bank.any():
        return
    kept = keep[labels]
    rows, cols = np.flatnonzero(kept.any(axis=1)), np.flatnonzero(kept.any(axis=0))
    h, w = labels.shape
    r0, r1 = max(0, int(rows[0]) - reach), min(h, int(rows[-1]) + reach + 1)
    c0, c1 = max(0, int(cols[0]) - reach), min(w, int(cols[-1]) + reach + 1)
    crop = bank[r0:r1, c0:c1]
    if not crop.any():
        return
    from scipy import ndimage

    near = ndimage.maximum_filter(crop.view(np.uint8), size=2 * reach + 1, mode="constant", cval=0) > 0
    keep[np.unique(labels[r0:r1, c0:c1][near & kept[r0:r1, c0:c1]])] = False


def _check_pixel_size(pixel_size_m: float) -> None:
    if not (math.isfinite(pixel_size_m) and pixel_size_m > 0):
        raise ValueError(f"pixel_size_m must be a positive number of metres; got {pixel_size_m!r}")


def srgb_to_linear(dn: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    """Decode 8-bit display imagery (sRGB-encoded, as photos, drone frames and viewer exports are) to linear values.

    A display image stores ``DN / 255`` with the sRGB transfer curve (about a 1/2.4 power), which compresses
    contrast: a white car 3x as bright as the road is stored only about 1.6x as bright. Reflectance is linear, so
    the simulator, Sentinel-2 and reflectance products are too; ``DN / 255`` read as reflectance would show the
    detector every object at a fraction of its real contrast. This is the IEC 61966-2-1 decoding: ``c / 12.92``
    for ``c = DN / 255 <= 0.04045``, else ``((c + 0.055) / 1.055) ** 2.4``. The result approximates reflectance up
    to the unknown gain of the display stretch (scene-wide gains are what the detector's training varies).

    Args:
        dn: array of 8-bit digital numbers (any shape).

    Returns:
        float32 array of the same shape, 0..1.

    Example:
        >>> [round(float(v), 4) for v in srgb_to_linear(np.array([0, 10, 128, 255], dtype=np.uint8))]
        [0.0, 0.003, 0.2159, 1.0]
    """
    if dn.dtype != np.uint8:
        raise ValueError(f"srgb_to_linear decodes 8-bit digital numbers (uint8); got {dn.dtype}")
    return _SRGB_LUT[dn]


def _srgb_lut() -> npt.NDArray[np.float32]:
    c = np.arange(256, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


_SRGB_LUT = _srgb_lut()
"""The 256 decoded values of :func:`srgb_to_linear`."""
