"""Sensor profiles of the CNN detector: resolution, input bands, normalisation and classes per sensor.

A profile fixes what one set of weights expects: the ground resolution the scene is resampled to, the bands it
reads (in order), how values become network inputs, and which classes come out of the point head (objects with
a centre, length, width and heading) and the mask head (area objects vectorised to polygons).

=========== ======== ================================== ==================== ==========================
profile     res (m)  bands (in network order)           point classes        mask classes
=========== ======== ================================== ==================== ==========================
``s2``      10       B02 B03 B04 B08 B11 (+ valid)      vessel               encampment, vehicle (parks)
``s1``      10       VV VH (+ valid)                    vessel               (none)
``vhr``     1        R G B N (+ valid)                  vehicle              encampment
=========== ======== ================================== ==================== ==========================

Missing bands: a scene may lack some of a profile's bands (real Sentinel-2 exports often do: one of the shipped
validation ports has only ``B08`` and ``B11``). Each missing band is imputed with the mean of the present bands'
normalised values at that pixel (the detector is trained with random band drop-out, so it expects this), and the
detector's ``detections`` carry no hint of it beyond the log line naming the missing bands. A scene without the
profile's required bands (:attr:`Profile.required_any`) is refused with a :class:`DetectionError`.

The last input channel is the validity mask: 1 where every present band has data and, for Sentinel-2, the SCL
class is valid (not :data:`~satwatch.imagery.bands.SCL_INVALID`) and clear by
:func:`~satwatch.imagery.bands.scl_not_clear` at the profile's resolution (cloud shadow, cloud and cirrus are
not clear, but a ship-sized cloud blob on water, a bright hull that SCL took for cloud, is); 0 elsewhere. The
rule runs on each tile the detector reads (a blob touching the tile's border stays not clear: the tile cannot
tell its size). Invalid pixels are set to 0 in every band channel, and no detection is reported with its centre
on an invalid pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from satwatch.errors import DetectionError
from satwatch.imagery.bands import SCL_INVALID, scl_not_clear
from satwatch.settings import REPO_ROOT

__all__ = ["MODELS_DIR", "PROFILES", "Profile", "model_input"]

F32 = npt.NDArray[np.float32]

MODELS_DIR = REPO_ROOT / "models"
"""Shipped weights, model cards and metrics files of each profile (``models/<profile>.pt``, ``.md``,
``.metrics.json``)."""


@dataclass(frozen=True)
class Profile:
    """What one set of CNN weights expects and produces."""

    name: str
    """Profile name: ``s2``, ``s1`` or ``vhr``."""
    sensor: str
    """Scene sensor (``SATWATCH_SENSOR`` tag) the profile reads."""
    res_m: float
    """Ground resolution the scene is resampled to before inference, metres per pixel."""
    bands: tuple[str, ...]
    """Band names read from the scene, in network channel order (the validity mask follows them)."""
    required_any: tuple[tuple[str, ...], ...]
    """Each inner tuple: at least one of these bands must be present (checked in order)."""
    min_bands: int
    """At least this many of :attr:`bands` must be present."""
    kind: str
    """Normalisation: ``reflectance`` (log10 of reflectance) or ``sigma0_db`` (radar backscatter in dB)."""
    point_classes: tuple[str, ...]
    """Classes of the heatmap (point) head, in channel order."""
    mask_classes: tuple[str, ...]
    """Classes of the mask (area) head, in channel order."""
    tile_px: int = 512
    """Tile edge at profile resolution, pixels."""
    overlap_px: int = 64
    """Overlap between neighbouring tiles, pixels (at least twice the longest point object)."""

    @property
    def in_channels(self) -> int:
        """Network input channels: the bands plus the validity mask."""
        return len(self.bands) + 1

    @property
    def classes(self) -> tuple[str, ...]:
        """All classes the profile reports (point classes first)."""
        return self.point_classes + tuple(c for c in self.mask_classes if c not in self.point_classes)

    def check_bands(self, available: tuple[str, ...]) -> tuple[str, ...]:
        """Return the profile bands missing from ``available``; raise if too few are present.

        Raises:
            DetectionError: a required band group has no member present, or fewer than :attr:`min_bands`.
        """
        present = [b for b in self.bands if b in available]
        missing = tuple(b for b in self.bands if b not in available)
        for group in self.required_any:
            if not any(b in available for b in group):
                raise DetectionError(
                    f"the {self.name} detector needs at least one of bands {', '.join(group)}; the scene has "
                    f"{', '.join(available) or 'no bands'}"
                )
        if len(present) < self.min_bands:
            raise DetectionError(
                f"the {self.name} detector needs at least {self.min_bands} of bands {', '.join(self.bands)}; the "
                f"scene has {', '.join(present) or 'none of them'}"
            )
        return missing


PROFILES: dict[str, Profile] = {
    "s2": Profile(
        name="s2", sensor="s2", res_m=10.0, bands=("B02", "B03", "B04", "B08", "B11"),
        required_any=(("B02", "B03", "B04", "B08"),), min_bands=2, kind="reflectance",
        point_classes=("vessel",), mask_classes=("encampment", "vehicle"),
    ),
    "s1": Profile(
        name="s1", sensor="s1", res_m=10.0, bands=("VV", "VH"), required_any=(("VV",),), min_bands=1,
        kind="sigma0_db", point_classes=("vessel",), mask_classes=(),
    ),
    "vhr": Profile(
        name="vhr", sensor="vhr", res_m=1.0, bands=("R", "G", "B", "N"), required_any=(("R", "G", "B", "N"),),
        min_bands=1, kind="reflectance", point_classes=("vehicle",), mask_classes=("encampment",),
    ),
}
"""The shipped profiles by name (one per sensor)."""


def _normalise(values: F32, kind: str) -> F32:
    if kind == "reflectance":
        # log10 spreads dark water (0.01-0.05) from bright hulls and roofs (0.15-0.5): -0.6 .. 1.6 around 0.
        out: F32 = ((np.log10(np.clip(values, 1e-3, 2.0)) + 1.3) / 0.5).astype(np.float32)
        return out
    out = ((np.clip(values, -40.0, 15.0) + 15.0) / 6.0).astype(np.float32)
    return out


def model_input(data: F32, band_names: tuple[str, ...], profile: Profile) -> F32:
    """Turn scene bands into the network input of ``profile``.

    Args:
        data: ``(bands, H, W)`` float32 in the scene contract's units (reflectance 0..1, sigma0 dB, SCL codes),
            NaN where there is no data.
        band_names: names of ``data``'s bands (may include ``SCL`` and bands the profile does not use).
        profile: the profile.

    Returns:
        ``(len(profile.bands) + 1, H, W)`` float32: normalised bands (missing ones imputed with the mean of the
        present ones), then the validity mask (1 valid and clear, 0 not; Sentinel-2: SCL by
        :func:`~satwatch.imagery.bands.scl_not_clear` at :attr:`Profile.res_m`, so a bright hull marked cloud on
        water stays valid); invalid pixels are 0 in every channel.

    Raises:
        DetectionError: required bands are missing (see :meth:`Profile.check_bands`).
    """
    profile.check_bands(band_names)
    h, w = data.shape[1:]
    out = np.zeros((profile.in_channels, h, w), dtype=np.float32)
    valid = np.ones((h, w), dtype=bool)
    present: list[int] = []
    for i, name in enumerate(profile.bands):
        if name in band_names:
            band = data[band_names.index(name)]
            valid &= np.isfinite(band)
            out[i] = _normalise(band, profile.kind)
            present.append(i)
    if "SCL" in band_names and profile.sensor == "s2":
        scl = data[band_names.index("SCL")]
        valid &= np.isfinite(scl) & ~np.isin(scl, SCL_INVALID) & ~scl_not_clear(scl, profile.res_m)
    if len(present) < len(profile.bands):
        mean = out[present].mean(axis=0)
        for i in range(len(profile.bands)):
            if i not in present:
                out[i] = mean
    out[: len(profile.bands)][:, ~valid] = 0.0  # every NaN is here: valid requires every present band finite
    out[-1] = valid
    return out


def valid_fraction(x: F32) -> float:
    """Fraction of valid pixels of a :func:`model_input` array (its last channel)."""
    return float(x[-1].mean()) if x.size else 0.0
