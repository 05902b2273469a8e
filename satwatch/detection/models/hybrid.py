"""Hybrid detector ``cnn-extent``: the CNN finds vessels, their size comes from the object's real extent.

The CNN's size head learnt the simulator's hulls; on real imagery its lengths are off by tens of metres
(EOTDL chips against AIS: median 37 m). The classical measurement of an object's pixels (the baseline's
moments) is far closer (15 m), but the baseline misses berthed ships. This detector keeps the CNN's detections
and scores and re-measures each vessel from the scene around it (:func:`measure_vessel`):

1. a window of :data:`WINDOW_M` around the detection (windowed reads from the file: memory stays bounded);
2. brightness: mean of ``B04 B08 B11`` (Sentinel-2; present ones) or linear ``VV`` power (Sentinel-1);
   background and noise: median and MAD-sigma over the window (water-like pixels, NDWI > 0, for Sentinel-2
   when there are enough of them);
3. the object: pixels above ``max(EXTENT_FRACTION x peak excess, K_NOISE x noise)`` connected to the brightest
   pixel within two pixels of the detection, trimmed around its peak and measured by brightness-weighted second
   moments with the baseline's own function (:func:`satwatch.detection.models.baseline.measure_components`: sidelobes,
   wakes and speckle capped or trimmed), the sensor's point spread removed;
4. the measurement replaces the CNN's length, width and heading only when it is credible: the object does not
   touch the window's edge (a quay or a coastline joined to it) and its length lies in 10..500 m. Otherwise the
   CNN's values stay.

Detections of other classes pass through unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
from pyproj import Transformer
from rasterio.windows import Window
from shapely.geometry import Point

from satwatch.detection.detections import ground_axes_m
from satwatch.detection.models.baseline import (
    OpticalParams,
    SarParams,
    measure_components,
    sar_berths,
)
from satwatch.imagery.scene import Scene, read_scene, read_scene_header

__all__ = [
    "CHECK_BANDS", "EXTENT_FRACTION", "WINDOW_M", "CfarCheckedCnnDetector", "ConfirmedCfarDetector", "ExtentDetector",
    "cfar_check", "measure_vessel",
]

WINDOW_M = 600.0
"""Edge of the window a vessel is measured in, metres (the longest ships are about 400 m)."""
EXTENT_FRACTION = 0.25
"""An object pixel is brighter above background than this fraction of the object's peak excess."""
K_NOISE = 3.0
"""... and brighter than this many background noise sigmas."""
_LENGTH_RANGE_M = (10.0, 500.0)
F32 = npt.NDArray[np.float32]


def _brightness(window: Scene) -> tuple[F32, npt.NDArray[np.bool_]] | None:
    """Brightness of the window and the pixels its background is taken over; None if bands are missing."""
    if window.meta.sensor == "s1":
        if "VV" not in window.bands:
            return None
        power = (10.0 ** (window.band("VV") / 10.0)).astype(np.float32)
        return power, np.isfinite(power)
    present = [b for b in ("B04", "B08", "B11") if b in window.bands]
    if not present:
        return None
    bright = np.mean(np.stack([window.band(b) for b in present]), axis=0).astype(np.float32)
    background = np.isfinite(bright)
    if "B03" in window.bands and "B08" in window.bands:
        g, n = window.band("B03"), window.band("B08")
        with np.errstate(invalid="ignore", divide="ignore"):
            water = background & ((g - n) / (g + n) > 0.0)
        if water.sum() >= 0.2 * background.sum():
            background = water
    return bright, background


def measure_vessel(window: Scene, x: float, y: float) -> tuple[float, float, float, float, float] | None:
    """Measure the vessel nearest pixel ``(x, y)`` of ``window`` from its pixels.

    Args:
        window: a Sentinel-2 (reflectance) or Sentinel-1 (sigma0 dB) scene around the vessel.
        x: detection column in ``window`` pixel space (corner-based).
        y: detection row in ``window`` pixel space (corner-based).

    Returns:
        ``(x, y, length_m, width_m, heading_deg)`` (centre in window pixels, heading clockwise from grid
        north 0..180), or None when no credible object is found (too faint, touching the window's edge, or
        outside 10..500 m).
    """
    got = _brightness(window)
    if got is None:
        return None
    bright, background = got
    values = bright[background & np.isfinite(bright)]
    if values.size < 25:
        return None
    bg = float(np.median(values))
    noise = max(1.4826 * float(np.median(np.abs(values - bg))), 1e-6)
    excess = np.where(np.isfinite(bright), bright - bg, 0.0).astype(np.float32)
    h, w = excess.shape
    r0, c0 = math.floor(y), math.floor(x)
    rs, cs = slice(max(r0 - 2, 0), min(r0 + 3, h)), slice(max(c0 - 2, 0), min(c0 + 3, w))
    near = excess[rs, cs]
    if near.size == 0:
        return None
    pr, pc = np.unravel_index(int(np.argmax(near)), near.shape)
    pr, pc = pr + rs.start, pc + cs.start
    peak = float(excess[pr, pc])
    if peak <= K_NOISE * noise:
        return None
    extent = excess > max(EXTENT_FRACTION * peak, K_NOISE * noise)
    core = np.zeros_like(extent)
    core[pr, pc] = True
    extent[pr, pc] = True
    sar = window.meta.sensor == "s1"
    params: SarParams | OpticalParams = SarParams() if sar else OpticalParams()
    edge = np.ones_like(extent)
    edge[1:-1, 1:-1] = False  # an object reaching the window's edge is joined to a quay, a coast or a cloud
    comps = measure_components(extent, core, excess, ground_axes_m(window), weights=np.maximum(excess, 0.0),
                               saturate=params.moment_quantile, trim=params.trim, psf_sigma_m=params.psf_sigma_m,
                               exclude=edge)
    if len(comps.pixels) != 1:
        return None
    length = float(comps.length_m[0])
    if not _LENGTH_RANGE_M[0] <= length <= _LENGTH_RANGE_M[1]:
        return None
    return float(comps.x[0]), float(comps.y[0]), length, float(comps.width_m[0]), float(comps.heading_deg[0])


class ExtentDetector:
    """An inner detector (default the CNN) whose vessel sizes are re-measured from the pixels (module docstring).

    Args:
        inner: the detector that finds objects; None: a new CNN with ``cnn_options``.
        **cnn_options: options of :class:`satwatch.detection.models.cnn.CnnDetector` when ``inner`` is None.
    """

    version = "extent-1"
    """Version of the measurement, part of :attr:`name`."""

    def __init__(self, inner: Any = None, **cnn_options: Any) -> None:
        if inner is None:
            from satwatch.detection.models.cnn import CnnDetector

            inner = CnnDetector(**cnn_options)
        self.inner = inner

    @property
    def name(self) -> str:
        """The inner detector's name + ``+extent-1``."""
        return f"{self.inner.name}+{self.version}"

    @property
    def classes(self) -> tuple[str, ...]:
        """The inner detector's classes."""
        return tuple(self.inner.classes)

    def classes_for(self, sensor: str) -> tuple[str, ...]:
        """Classes reported on scenes of ``sensor`` (the inner detector's)."""
        per_sensor = getattr(self.inner, "classes_for", None)
        return tuple(per_sensor(sensor)) if per_sensor is not None else self.classes

    @property
    def precisions(self) -> dict[str, str]:
        """The inner CNN's precision per profile used so far."""
        return dict(getattr(self.inner, "precisions", {}))

    def detect(self, scene: Scene) -> gpd.GeoDataFrame:
        """Detect with the inner detector, then re-measure each vessel from ``scene``'s pixels."""
        found: gpd.GeoDataFrame = self.inner.detect(scene)

        def window(col0: int, row0: int, size: int) -> Scene:
            return _slice(scene, col0, row0, size)

        return self._remeasure(found, scene.crs, scene.transform, scene.gsd_m, window)

    def detect_file(self, path: str | Path) -> gpd.GeoDataFrame:
        """Detect in a scene file (windowed reads by the inner detector when it has them, and per vessel)."""
        detect_file = getattr(self.inner, "detect_file", None)
        found: gpd.GeoDataFrame = detect_file(path) if detect_file is not None else self.inner.detect(read_scene(path))
        header = read_scene_header(path)
        width, height = header.width, header.height
        from satwatch.imagery.scene import ground_sample_distance_m

        gsd = ground_sample_distance_m(header.crs, header.transform, width, height)

        def window(col0: int, row0: int, size: int) -> Scene:
            return read_scene(path, Window(col0, row0, size, size).intersection(Window(0, 0, width, height)))

        return self._remeasure(found, header.crs, header.transform, gsd, window)

    def _remeasure(self, found: gpd.GeoDataFrame, crs: Any, transform: Any, gsd: float,
                   window: Any) -> gpd.GeoDataFrame:
        if found.empty or "length_m" not in found:
            return found
        vessels = np.flatnonzero((found["class"] == "vessel").to_numpy())
        if not len(vessels):
            return found
        out = found.copy()
        to_crs = Transformer.from_crs(4326, crs, always_xy=True)
        inverse = ~transform
        size = max(16, round(WINDOW_M / gsd))
        for i in vessels:
            geom = found.geometry.iloc[i]
            col, row = inverse @ to_crs.transform(geom.x, geom.y)
            col0, row0 = max(int(col) - size // 2, 0), max(int(row) - size // 2, 0)
            win = window(col0, row0, size)
            wt = win.transform
            wcol, wrow = ~wt @ (transform @ (col, row))
            measured = measure_vessel(win, wcol, wrow)
            if measured is None:
                continue
            _, _, length, width, heading = measured
            out.iloc[i, out.columns.get_loc("length_m")] = round(length, 1)
            out.iloc[i, out.columns.get_loc("width_m")] = round(width, 1)
            if "heading_deg" in out:
                out.iloc[i, out.columns.get_loc("heading_deg")] = round(heading, 1)
        if "detector" in out:
            out["detector"] = [f"{d}+{self.version}" for d in out["detector"]]
        return out


def _slice(scene: Scene, col0: int, row0: int, size: int) -> Scene:
    """Return a window of an in-memory scene (clipped to it) with its own transform."""
    r1, c1 = min(row0 + size, scene.height), min(col0 + size, scene.width)
    from affine import Affine

    return Scene(data=scene.data[:, row0:r1, col0:c1], bands=scene.bands, crs=scene.crs,
                 transform=scene.transform @ Affine.translation(col0, row0), meta=scene.meta)


CONFIRM_PFA = 1e-5
"""False-alarm probability of the CFAR that proposes candidates in ``cfar-cnn`` (looser than the baseline's
10^-6.5: the CNN removes what the looser threshold lets through)."""
CONFIRM_THRESHOLD = 0.2
"""CNN vessel score that confirms a CFAR candidate in ``cfar-cnn``."""
CONFIRM_DISTANCE_M = 40.0
"""A CFAR candidate is confirmed by a CNN detection within this distance, metres."""


class _SarCnnHybrid:
    """What the Sentinel-1 hybrids share: a CNN (``self.cnn``), vessels only, a versioned name."""

    version = ""
    """Version of the combination, part of :attr:`name` (set by each hybrid)."""
    classes: tuple[str, ...] = ("vessel",)
    """Classes reported."""
    cnn: Any
    """The CNN the hybrid runs (set by each hybrid's ``__init__``)."""

    @property
    def name(self) -> str:
        """The hybrid's version + the CNN's name (e.g. ``cnn-cfar-1-cnn-6c6ef34119``)."""
        return f"{self.version}-{self.cnn.name}"

    def classes_for(self, sensor: str) -> tuple[str, ...]:
        """``vessel`` on Sentinel-1, nothing elsewhere."""
        return self.classes if sensor == "s1" else ()

    @property
    def precisions(self) -> dict[str, str]:
        """The CNN's precision per profile used so far."""
        precisions: dict[str, str] = dict(getattr(self.cnn, "precisions", {}))
        return precisions


class ConfirmedCfarDetector(_SarCnnHybrid):
    """``cfar-cnn`` (Sentinel-1): CFAR candidates kept only where the CNN also sees a vessel.

    Global Fishing Watch's design: a constant-false-alarm-rate detector proposes bright objects on water at a
    loose threshold (:data:`CONFIRM_PFA`), a CNN accepts or rejects each (a CNN detection scoring at least
    :data:`CONFIRM_THRESHOLD` within :data:`CONFIRM_DISTANCE_M`), and the object's size comes from its CFAR
    pixels (trimmed of sidelobes), which on real chips measure length far better than the CNN's size head.
    Position and size are the CFAR object's, the score the confirming CNN detection's. Sentinel-1 only.

    Args:
        **cnn_options: options of :class:`satwatch.detection.models.cnn.CnnDetector`.
    """

    version = "cfar-cnn-1"
    """Version of the combination, part of :attr:`name`."""

    def __init__(self, **cnn_options: Any) -> None:
        from satwatch.detection.models.baseline import BaselineDetector
        from satwatch.detection.models.cnn import CnnDetector

        cnn_options.setdefault("thresholds", {"vessel": CONFIRM_THRESHOLD})
        self.cnn = CnnDetector(**cnn_options)
        self.cfar = BaselineDetector(sar=SarParams(pfa=CONFIRM_PFA))

    def detect(self, scene: Scene) -> gpd.GeoDataFrame:
        """CFAR candidates of a Sentinel-1 scene confirmed by the CNN (EPSG:4326 detections contract)."""
        from satwatch.errors import DetectionError

        if scene.meta.sensor != "s1":
            raise DetectionError(f"cfar-cnn handles Sentinel-1 scenes; {scene.meta.scene_id} is {scene.meta.sensor}")
        candidates = self.cfar.detect(scene)
        if candidates.empty:
            return candidates
        confirming = self.cnn.detect(scene)
        confirming = confirming[confirming["class"] == "vessel"] if len(confirming) else confirming
        if confirming.empty:
            return candidates.iloc[0:0]
        from satwatch.change.matching import utm_crs

        centre = scene.footprint().centroid
        crs = utm_crs(centre.x, centre.y)
        cand = candidates.to_crs(crs)
        conf = confirming.to_crs(crs)
        near, far = conf.sindex.nearest(cand.geometry, return_distance=True, return_all=False)
        keep = far <= CONFIRM_DISTANCE_M
        out = candidates.iloc[near[0][keep]].copy()
        out["score"] = confirming["score"].to_numpy()[near[1][keep]]
        out["detector"] = self.name
        return out.reset_index(drop=True)


CHECK_BANDS = ("VV", "VH")
"""Bands a ``cnn-cfar`` proposal is tested in, in order: a ship faint in VV is often plain in VH (real OpenSARShip
training chips: 4 of the CNN's 66 found ships stand 3-6 dB above the sea in VV and 10-17 dB in VH)."""


@dataclass(frozen=True)
class _Checked:
    """A proposal the local CFAR confirmed (:func:`cfar_check`), with its object's measurement when it has one."""

    x: float = math.nan
    """Object centre, scene column (corner-based); NaN when not measured (the CNN's position and size stay)."""
    y: float = math.nan
    """Object centre, scene row; NaN when not measured."""
    length_m: float = math.nan
    """Object length, metres; NaN when not measured."""
    width_m: float = math.nan
    """Object width, metres."""
    heading_deg: float = math.nan
    """Object heading, degrees clockwise from grid north, 0..180."""
    pixels: frozenset[int] = frozenset()
    """Flat scene indices of a measured object's pixels: proposals sharing one are one vessel."""


def cfar_check(power: F32, water: npt.NDArray[np.bool_], row: int, col: int, axes_m: npt.NDArray[np.float64],
               gsd_m: float, params: SarParams) -> _Checked | None:
    """Test a proposal at pixel ``(row, col)`` with the baseline's CFAR, on a window around it only.

    The window is the CFAR's background square (``params.background_window_m``) centred on the proposal. Its
    background is the annulus outside the guard square: its water (``water``) when that fills at least
    ``params.min_background_fraction`` of it, else all of it (the SAR water mask takes wind-roughened open sea
    for land; a proposal inland is rare and then tested against land, which rejects it), censored of bright
    targets as the baseline does. With gamma clutter of the measured number of looks, pixels above the
    ``params.pfa`` threshold are targets and those above ``params.pfa_extent`` extend them. The proposal
    stands when a target object lies within two pixels of it. The object is measured as the baseline measures
    (trimmed of sidelobes, point spread removed) unless it reaches the window's edge (joined to a quay or a
    coast: the CNN's position and size stay).

    Args:
        power: ``(height, width)`` linear power of one band (NaN: no data).
        water: ``(height, width)`` water mask of the scene (vessels filled in).
        row: proposal row.
        col: proposal column.
        axes_m: ground metres per pixel step (:func:`satwatch.detection.detections.ground_axes_m`).
        gsd_m: pixel size, metres.
        params: CFAR settings (:class:`SarParams`).

    Returns:
        None when the test rejects the proposal (no target near it, or too little background); else the
        confirmation, measured when possible.
    """
    from scipy import ndimage

    from satwatch.detection.models.baseline import cfar_multiplier, odd_pixels

    eight = np.ones((3, 3), dtype=bool)
    h, w = power.shape
    half, guard = odd_pixels(params.background_window_m, gsd_m) // 2, odd_pixels(params.guard_window_m, gsd_m) // 2
    r0, r1, c0, c1 = max(row - half, 0), min(row + half + 1, h), max(col - half, 0), min(col + half + 1, w)
    win = power[r0:r1, c0:c1]
    finite = np.isfinite(win)
    rr, cc = np.ogrid[r0:r1, c0:c1]
    annulus = finite & ((np.abs(rr - row) > guard) | (np.abs(cc - col) > guard))
    least = params.min_background_fraction * ((2 * half + 1) ** 2 - (2 * guard + 1) ** 2)
    background = annulus & water[r0:r1, c0:c1]
    if background.sum() < least:
        background = annulus
        if background.sum() < least:
            return None
    values = win[background]
    mean, std = float(values.mean()), float(values.std())
    bright = background & (win - mean > cfar_multiplier(params.pfa, 4.0) * std)
    if bright.any():  # censor targets out of their own background, as the baseline's second pass does
        bright = ndimage.binary_dilation(bright, structure=eight, iterations=2)
        values = win[background & ~bright]
        mean, std = float(values.mean()), float(values.std())
    if not std > 0.0:
        return None
    looks = float(np.clip((mean / std) ** 2, 0.5, 100.0))
    z = np.where(finite, (win - mean) / std, -np.inf).astype(np.float32)
    core = z > cfar_multiplier(params.pfa, looks)
    labels, _ = ndimage.label(core | (z > cfar_multiplier(params.pfa_extent, looks)), structure=eight)
    lr, lc = row - r0, col - c0
    near = labels[max(lr - 2, 0):lr + 3, max(lc - 2, 0):lc + 3]
    ids = [i for i in np.unique(near) if i > 0 and core[labels == i].any()]
    if not ids:
        return None
    obj = labels == max(ids, key=lambda i: float(z[labels == i].max()))
    edge = np.ones_like(obj)
    edge[1:-1, 1:-1] = False
    if (obj & edge).any():
        return _Checked()
    ratio_db = (10.0 * np.log10(np.maximum(win, 1e-30) / mean)).astype(np.float32)
    weights = np.maximum(win - mean, 0.0).astype(np.float32)
    comps = measure_components(obj, obj & core, ratio_db, axes_m, weights=weights,
                               saturate=params.moment_quantile, trim=params.trim, psf_sigma_m=params.psf_sigma_m)
    if len(comps.pixels) != 1 or not comps.length_m[0] <= params.max_length_m:
        return _Checked()
    ys, xs = np.nonzero(obj)
    return _Checked(float(comps.x[0]) + c0, float(comps.y[0]) + r0, float(comps.length_m[0]),
                    float(comps.width_m[0]), float(comps.heading_deg[0]), frozenset(((ys + r0) * w + xs + c0).tolist()))


class CfarCheckedCnnDetector(_SarCnnHybrid):
    """``cnn-cfar`` (Sentinel-1): the CNN proposes vessels, a local CFAR tests, merges and measures each.

    The mirror of ``cfar-cnn``: the CNN (which finds more real ships than the CFAR, wherever they are) proposes;
    each proposal is tested by the baseline's CFAR on a window around it only (:func:`cfar_check`), in ``VV``
    and then ``VH`` (:data:`CHECK_BANDS`):

    - no target within two pixels in either band: rejected (the CNN's false alarms on sea clutter);
    - a target: kept, with the object's centre and its size measured as the baseline measures (the CNN's size
      head learnt the simulator); proposals that fall on one object are one vessel (the highest score kept);
      an object joined to land keeps the CNN's own position and size;
    - less water in the background than the CFAR needs (a berth in a crowded basin, or sea the water mask took
      for land): kept as the CNN found it, since nothing can test it there;
    - within ``BERTH_M`` (60 m) of a coast (:func:`~satwatch.detection.models.baseline.sar_berths`): kept as the
      CNN found it, untested (a CFAR cannot tell a hull from its quay), so there the CNN's false-alarm rate
      applies (:attr:`berth_false_alarms_from`).

    The water mask is the baseline's (:func:`satwatch.detection.water.sar_water_mask`, vessels filled in, no
    shore buffer). Sentinel-1 only.

    Args:
        cnn: the detector that proposes (anything with ``name``, ``precisions`` and ``detect``); None: a new CNN
            with ``cnn_options``.
        **cnn_options: options of :class:`satwatch.detection.models.cnn.CnnDetector` when ``cnn`` is None.
    """

    version = "cnn-cfar-1"
    """Version of the combination, part of :attr:`name`."""
    berth_false_alarms_from = "cnn"
    """The detector whose proposals this one keeps untested at berths: its false-alarm rate applies there
    (``scripts/validate_detector.py`` records it in the metrics entry, ``satwatch.change.error_model`` uses it)."""

    def __init__(self, cnn: Any = None, **cnn_options: Any) -> None:
        if cnn is None:
            from satwatch.detection.models.cnn import CnnDetector

            cnn = CnnDetector(**cnn_options)
        self.cnn = cnn
        self.params = SarParams()

    def detect(self, scene: Scene) -> gpd.GeoDataFrame:
        """CNN proposals of a Sentinel-1 scene that a local CFAR confirms (EPSG:4326 detections contract)."""
        from satwatch.errors import DetectionError

        if scene.meta.sensor != "s1":
            raise DetectionError(f"cnn-cfar handles Sentinel-1 scenes; {scene.meta.scene_id} is {scene.meta.sensor}")
        found = self.cnn.detect(scene)
        found = found[found["class"] == "vessel"] if len(found) else found
        if found.empty:
            return found.reset_index(drop=True)
        p = self.params
        water, berth = sar_berths(scene, np.isfinite(scene.band("VV")), p)
        powers = [(10.0 ** (scene.band(b) / 10.0)).astype(np.float32) for b in CHECK_BANDS if b in scene.bands]
        axes = ground_axes_m(scene)
        to_crs = Transformer.from_crs(4326, scene.crs, always_xy=True)
        inverse = ~scene.transform
        order = np.argsort(-found["score"].to_numpy(dtype=float), kind="stable")
        kept: list[tuple[int, _Checked]] = []
        taken: set[int] = set()
        for i in order:
            geom = found.geometry.iloc[i]
            col, row = inverse @ to_crs.transform(geom.x, geom.y)
            r, c = min(max(int(row), 0), scene.height - 1), min(max(int(col), 0), scene.width - 1)
            checked: _Checked | None = None
            if berth[r, c]:
                kept.append((int(i), _Checked()))  # at a quay: kept as the CNN found it
                continue
            for power in powers:
                checked = cfar_check(power, water, r, c, axes, scene.gsd_m, p)
                if checked is not None:
                    break
            if checked is None:
                continue
            if checked.pixels & taken:
                continue  # another, higher-scoring proposal on the same object
            taken |= checked.pixels
            kept.append((int(i), checked))
        out = found.iloc[[i for i, _ in kept]].copy()
        to_map = Transformer.from_crs(scene.crs, 4326, always_xy=True)
        for k, (_, checked) in enumerate(kept):
            if not math.isfinite(checked.length_m):
                continue
            x, y = to_map.transform(*(scene.transform @ (checked.x, checked.y)))
            out.iloc[k, out.columns.get_loc("geometry")] = Point(x, y)
            out.iloc[k, out.columns.get_loc("length_m")] = round(checked.length_m, 1)
            out.iloc[k, out.columns.get_loc("width_m")] = round(checked.width_m, 1)
            if "heading_deg" in out:
                out.iloc[k, out.columns.get_loc("heading_deg")] = round(checked.heading_deg, 1)
        out["detector"] = self.name
        return out.reset_index(drop=True)
