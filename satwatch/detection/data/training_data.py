"""Where training and validation samples come from: simulated scenes and the real sen2ships ports.

- **simulated scenes** rendered from a scenario (planted vessels at berth, at anchor and under way, vehicle
  parks and encampments; the simulator's truth is the label). Truth objects hidden by cloud (``visible =
  False``) are *don't care*: no loss is taken around them;
- **real Sentinel-2 ports** of sen2ships (``s2`` only). Their boxes give centres only (boxes are axis-aligned,
  so no length, width or heading is learnt from them); they label no vehicle parks, but no port holds an
  encampment, so their encampment mask is a real negative everywhere.

Every sample is resampled to the profile grid by the same GDAL bilinear read the detector uses
(:func:`satwatch.detection.grid.profile_raster`), so training sees what inference sees. This module needs GDAL,
GeoPandas and PROJ; the training loop (:mod:`satwatch.detection.training.train`) does not. It imports nothing of
``models/`` or ``training/``: a miner of hard negatives is any detector the caller passes in.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from affine import Affine
from pyproj import Transformer
from rasterio.features import rasterize

from satwatch.aoi import load_catalog, project_geometry
from satwatch.detection.data.label_files import load_coco_labels
from satwatch.detection.data.labelled import ValidationItem, real_data_root
from satwatch.detection.data.samples import Sample
from satwatch.detection.data.sen2ships import DEFAULT_ROOT, load_port
from satwatch.detection.data.splits import HOLDOUT_PORTS, SPLITS
from satwatch.detection.grid import profile_raster
from satwatch.detection.profiles import Profile
from satwatch.imagery.scene import Scene

__all__ = [
    "hull_cutouts", "labelled_sample", "paste_real_hulls", "port_sample", "real_training_items", "real_training_samples", "simulated_samples",
    "validation_scenes",
]

log = logging.getLogger(__name__)


def _to_profile_px(scene: Scene, scale: float) -> Affine:
    """Affine from scene CRS coordinates to profile-grid pixels."""
    inverse: Affine = ~(scene.transform @ Affine.scale(scale))
    return inverse


def simulated_samples(profile: Profile, scenario_path: str | Path, limit: int | None = None,
                      progress: Callable[[int, int], None] | None = None) -> list[Sample]:
    """Render the acquisitions of ``profile.sensor`` in a scenario and turn their truth into labels.

    ``limit``: render only this many, evenly spaced over the scenario's AOIs and dates (the first when 1).
    """
    from satwatch.imagery.scenario import load_scenario
    from satwatch.imagery.simulated import render

    scenario = load_scenario(scenario_path)
    catalog = load_catalog()
    jobs = [(catalog[a], t) for a in scenario.aois for t in scenario.acquisitions(catalog[a], profile.sensor)]
    if limit is not None and limit < len(jobs):
        jobs = [jobs[i * len(jobs) // limit] for i in range(limit)]
    samples = []
    for i, (aoi, when) in enumerate(jobs, start=1):
        rendered = render(aoi, when, profile.sensor, scenario)
        samples.append(_sample_from_truth(rendered.scene, rendered.truth, profile))
        if progress is not None:
            progress(i, len(jobs))
    return samples


def _sample_from_truth(scene: Scene, truth: Any, profile: Profile) -> Sample:
    raw, names, scale = profile_raster(scene, profile)
    to_px = _to_profile_px(scene, scale)
    crs_tr = Transformer.from_crs(4326, scene.crs, always_xy=True)
    points: list[list[float]] = []
    ignore: list[list[float]] = []
    h, w = raw.shape[1:]
    masks = np.zeros((len(profile.mask_classes), h, w), dtype=np.uint8)
    mask_ignore = np.zeros((h, w), dtype=np.uint8)
    anchors: list[list[float]] = []
    records = truth.drop(columns="geometry").to_dict("records")
    for row, geom in zip(records, truth.geometry, strict=True):
        cls = str(row["class"])
        visible = bool(row["visible"])
        if geom.geom_type == "Point":
            x, y = crs_tr.transform(geom.x, geom.y)
            px, py = to_px @ (x, y)
            if cls in profile.point_classes and visible:
                heading = float(row["heading_deg"]) % 180.0 if math.isfinite(row["heading_deg"]) else math.nan
                points.append([px, py, float(row["length_m"]), float(row["width_m"]), heading,
                               profile.point_classes.index(cls)])
            elif cls in profile.point_classes:
                radius = max(2.0, float(row["length_m"]) / profile.res_m)
                ignore.append([px, py, radius])
        else:
            poly = project_geometry(geom, 4326, scene.crs)
            if cls in profile.mask_classes:
                burn = rasterize([(poly, 1)], out_shape=(h, w), transform=~to_px, dtype="uint8")
                if row["where"] == "road" or not visible:
                    mask_ignore |= burn
                else:
                    masks[profile.mask_classes.index(cls)] |= burn
                    anchors.append(list(to_px @ (poly.centroid.x, poly.centroid.y)))
    return Sample(
        name=scene.meta.scene_id or scene.meta.aoi, raw=raw, names=names,
        points=np.array(points, dtype=np.float64).reshape(-1, 6),
        ignore=np.array(ignore, dtype=np.float64).reshape(-1, 3),
        masks=masks if profile.mask_classes else None, mask_ignore=mask_ignore, has_size=True,
        area_anchors=np.array(anchors, dtype=np.float64).reshape(-1, 2),
    )


def port_sample(name: str, profile: Profile, root: Path | None = None, miner: Any = None) -> Sample:
    """Return a sen2ships port on the ``s2`` profile grid; ship box centres are the vessel labels.

    The encampment mask is labelled empty (no port holds a camp: its port and urban texture are negatives);
    vehicle parks are not labelled (no loss). With a ``miner`` (a detector), its false alarms in the port become
    the sample's hard negatives (:func:`mine_hard_negatives`).
    """
    port = load_port(name, root)
    raw, names, scale = profile_raster(port.scene, profile)
    hard = None
    if miner is not None:
        b = port.boxes
        centres = np.column_stack([b[:, 0] + b[:, 2] / 2.0, b[:, 1] + b[:, 3] / 2.0])
        hard = mine_hard_negatives(port.scene, centres, miner) / scale
    b = port.boxes
    cx = (b[:, 0] + b[:, 2] / 2.0) / scale
    cy = (b[:, 1] + b[:, 3] / 2.0) / scale
    gsd = port.scene.gsd_m
    length = np.maximum(b[:, 2], b[:, 3]) * gsd
    width = np.minimum(b[:, 2], b[:, 3]) * gsd
    points = np.column_stack([cx, cy, length, width, np.full(len(b), np.nan), np.zeros(len(b))])
    masks = np.zeros((len(profile.mask_classes), *raw.shape[1:]), dtype=np.uint8)
    known = tuple(c == "encampment" for c in profile.mask_classes)
    return Sample(name=name, raw=raw, names=names, points=points, ignore=np.zeros((0, 3)),
                  masks=masks if profile.mask_classes else None, has_size=False, mask_known=known,
                  hard_negatives=hard)


HARD_NEGATIVE_M = 40.0
"""A detection this far (metres) from every labelled object is a false alarm, kept as a hard negative."""


def _detection_px(scene: Scene, detections: gpd.GeoDataFrame) -> np.ndarray:
    """``(N, 2)`` scene pixel x, y of detection points (EPSG:4326)."""
    if detections.empty:
        return np.zeros((0, 2))
    pts = detections.to_crs(scene.crs).geometry
    inverse = ~scene.transform
    return np.array([inverse @ (g.x, g.y) for g in pts], dtype=np.float64).reshape(-1, 2)


def mine_hard_negatives(scene: Scene, labelled_px: np.ndarray, detector: Any) -> np.ndarray:
    """Return where ``detector`` reports an object in ``scene`` farther than :data:`HARD_NEGATIVE_M` from every label.

    Args:
        scene: a real scene whose labels are exhaustive (a sen2ships port).
        labelled_px: ``(N, 2)`` scene pixel x, y of every labelled object.
        detector: anything with ``detect(scene) -> GeoDataFrame`` of points in EPSG:4326.

    Returns:
        ``(Q, 2)`` scene pixel x, y of the false alarms (quay ends, breakwaters, cranes, moored pontoons).
    """
    found = _detection_px(scene, detector.detect(scene))
    if not len(found):
        return found
    far = np.ones(len(found), dtype=bool)
    if len(labelled_px):
        d = np.hypot(found[:, None, 0] - labelled_px[None, :, 0], found[:, None, 1] - labelled_px[None, :, 1])
        far = d.min(axis=1) * scene.gsd_m > HARD_NEGATIVE_M
    return found[far]


def labelled_sample(item: Any, profile: Profile, sizes: bool = False, miner: Any = None) -> Sample:
    """Return a real labelled scene (:class:`~satwatch.detection.data.labelled.LabelledScene`) on the profile grid.

    Visible labels of the profile's point classes become point labels; don't-care labels become don't-care
    discs. Sizes: with ``sizes`` (sets whose labels are measured ships: EOTDL's rotated rectangles), length and
    width (AIS ``ais_length_m`` / ``ais_width_m`` where known, else the label's) and heading are learnt
    (``has_size``); without, the sets' boxes are axis-aligned and no size loss is taken. A set that labels only
    some objects (``exhaustive`` False) would teach the others as background: with a ``miner`` (a detector),
    every object it finds away from the labels becomes a don't-care disc. Area classes: none of these sets holds
    an encampment, so that mask is a real negative; vehicle parks are not labelled (no loss).
    """
    scene = item.scene
    raw, names, scale = profile_raster(scene, profile)
    to_px = _to_profile_px(scene, scale)
    crs_tr = Transformer.from_crs(4326, scene.crs, always_xy=True)
    points: list[list[float]] = []
    ignore: list[list[float]] = []
    labels = item.labels
    for row, geom in zip(labels.drop(columns="geometry").to_dict("records"), labels.geometry, strict=True):
        cls = str(row["class"])
        if cls not in profile.point_classes:
            continue
        px, py = to_px @ crs_tr.transform(geom.x, geom.y)
        length = float(row.get("length_m", math.nan))
        width = float(row.get("width_m", math.nan))
        heading = math.nan
        if sizes:
            ais_l, ais_w = float(row.get("ais_length_m", math.nan)), float(row.get("ais_width_m", math.nan))
            length = ais_l if math.isfinite(ais_l) and ais_l > 0 else length
            width = ais_w if math.isfinite(ais_w) and ais_w > 0 else width
            heading = float(row.get("heading_deg", math.nan)) % 180.0
        if bool(row.get("visible", True)):
            points.append([px, py, length, width, heading, profile.point_classes.index(cls)])
        else:
            ignore.append([px, py, max(2.0, (length if math.isfinite(length) else 10.0) / profile.res_m)])
    if miner is not None and not getattr(item, "negatives_known", True):
        to_scene_px = ~scene.transform
        labelled = np.array([to_scene_px @ crs_tr.transform(g.x, g.y) for g in labels.geometry]).reshape(-1, 2)
        for x, y in mine_hard_negatives(scene, labelled, miner):
            ignore.append([x / scale, y / scale, max(3.0, HARD_NEGATIVE_M / profile.res_m)])
    masks = np.zeros((len(profile.mask_classes), *raw.shape[1:]), dtype=np.uint8)
    known = tuple(c == "encampment" for c in profile.mask_classes)
    return Sample(name=scene.meta.scene_id, raw=raw, names=names,
                  points=np.array(points, dtype=np.float64).reshape(-1, 6),
                  ignore=np.array(ignore, dtype=np.float64).reshape(-1, 3),
                  masks=masks if profile.mask_classes else None, has_size=sizes,
                  mask_known=known if profile.mask_classes else None)


def real_training_items(profile: Profile) -> list[Any]:
    """Return the real labelled scenes a profile may train on, as validation items (only ``train`` groups).

    ``vhr``: the aerial vehicle images of the training sequences of
    :data:`~satwatch.detection.data.splits.SPLITS` (exhaustive labels);
    ``s1``: the OpenSARShip chips of the training package (one AIS ship each; the ships are cut out and pasted
    onto simulated sea by :func:`paste_real_ships`, since the chips are not exhaustive). None, with a warning,
    when the set is not under the real-data folder. ``s2``: none here (it trains on sen2ships ports through
    :func:`port_sample`).

    Raises:
        UsageError: a validation group would be trained on (the split is checked, not assumed).
    """
    from satwatch.errors import UsageError

    source = {"vhr": "aerial_vehicles", "s1": "opensarship", "s2": "eotdl_s2_ships"}.get(profile.name)
    if source is None:
        return []
    if not (real_data_root() / source).is_dir():
        log.warning("no real %s data under %s: %s trains on simulated scenes only", source, real_data_root(),
                    profile.name)
        return []
    train, held = SPLITS[source]["train"], SPLITS[source]["validation"]
    if set(train) & set(held):
        raise UsageError(f"{source} groups {sorted(set(train) & set(held))} are both trained and validated on")
    if source == "opensarship":
        from satwatch.detection.data.opensarship import load_chips

        return [ValidationItem(item.scene, item.labels, False) for item in load_chips() if item.group in train]
    if source == "eotdl_s2_ships":
        from satwatch.detection.data.eotdl_s2_ships import load_chips as load_eotdl

        return [ValidationItem(item.scene, item.labels[item.labels["class"] == "vessel"], False)
                for item in load_eotdl() if item.group in train]
    from satwatch.detection.data.aerial_vehicles import load_images

    return [ValidationItem(item.scene, item.labels[item.labels["class"] == "vehicle"], True)
            for item in load_images() if item.group in train]


def real_training_samples(profile: Profile, simulated: list[Sample] | None = None,
                          miner: Any = None) -> list[Sample]:
    """Return :func:`real_training_items` as training samples.

    ``vhr``: each image on the profile grid (:func:`labelled_sample`); ``s2``: each EOTDL chip with its ship's
    AIS size and heading, other ships the ``miner`` finds made don't-care; ``s1``: the real ships pasted onto
    the ``simulated`` samples (:func:`paste_real_ships`; none without them).
    """
    items = real_training_items(profile)
    if profile.name == "s1":
        return paste_real_ships(simulated or [], items)
    return [labelled_sample(item, profile, sizes=profile.name == "s2", miner=miner) for item in items]


def validation_scenes(profile: Profile, scenario: str | Path = "scenarios/validate.yaml",
                      real: bool = True, simulated: bool = True) -> dict[str, list[tuple[Scene, gpd.GeoDataFrame]]]:
    """Return held-out scenes with their labels, by kind (``real``, ``simulated``).

    ``real`` (s2 only): the :data:`HOLDOUT_PORTS` of sen2ships with their ship boxes as polygons; ``simulated``:
    every ``profile.sensor`` acquisition of the validation scenario with its truth as labels (at 10 m, convoys
    on roads are don't care). Labels carry ``class``, ``scene_id`` (the scene's) and ``visible`` (False: don't
    care).
    """
    from satwatch.imagery.scenario import load_scenario
    from satwatch.imagery.simulated import render

    out: dict[str, list[tuple[Scene, gpd.GeoDataFrame]]] = {"real": [], "simulated": []}
    if real and profile.name == "s2":
        for name in HOLDOUT_PORTS:
            port = load_port(name)
            labels = load_coco_labels(DEFAULT_ROOT / "annotations.json", name)
            out["real"].append((port.scene, labels))
    if simulated:
        scen = load_scenario(scenario)
        catalog = load_catalog()
        for aoi_id in scen.aois:
            for when in scen.acquisitions(catalog[aoi_id], profile.sensor):
                rendered = render(catalog[aoi_id], when, profile.sensor, scen)
                truth = rendered.truth[rendered.truth["class"].isin(profile.classes)].copy()
                truth["scene_id"] = rendered.scene.meta.scene_id
                if profile.res_m >= 5.0:  # convoys at 10 m: vehicles 30 m apart on a road are not an area
                    truth.loc[truth["where"] == "road", "visible"] = False
                out["simulated"].append((rendered.scene, truth))
    return out


PASTE_RATIO = 4.0
"""A pixel belongs to a real ship cut-out when its linear VV is this many times the chip's sea mean (+6 dB)."""
PASTE_SEA_DB = -12.0
"""A simulated background pixel is open sea, where a ship may be pasted, below this VV (dB) over the cut-out."""
PASTE_CLEAR_PX = 12.0
"""A pasted ship keeps at least this many profile pixels from every object of the background scene."""


def ship_cutout(item: Any, ring_px: int = 3) -> tuple[np.ndarray, float, float, np.ndarray] | None:
    """Cut the labelled ship out of a real Sentinel-1 chip as its backscatter above the sea.

    The ship is the connected set of pixels whose linear VV is at least :data:`PASTE_RATIO` times the sea mean
    (the chip's outer ``ring_px`` ring) holding the brightest pixel within a quarter ship length (at least 3
    px) of the label point, grown by one pixel: hull, sidelobes and all, as the sensor saw it. Its excess
    power over the sea, per band, is what :func:`paste_real_ships` adds to a background.

    Args:
        item: a :class:`~satwatch.detection.data.labelled.LabelledScene` or validation item of an ``s1`` chip
            (bands VV, VH in dB at 10 m) with one ``vessel`` label.
        ring_px: width of the chip's outer ring the sea level is taken from, pixels.

    Returns:
        ``(excess, cx, cy, label)``: ``excess`` ``(2, h, w)`` float32 linear power above the sea (VV, VH; 0
        outside the ship), the label point in cut-out pixels, and the label row ``[length_m, width_m,
        heading_deg]`` (heading in the chip's grid, NaN unknown); None when no pixel of the ship stands out.
    """
    from scipy import ndimage

    scene = item.scene
    if scene.meta.sensor != "s1" or "VV" not in scene.bands or scene.gsd_m > 10.5 or len(item.labels) != 1:
        return None
    lin = {b: 10.0 ** (scene.band(b).astype(np.float64) / 10.0) for b in ("VV", "VH") if b in scene.bands}
    vv = np.nan_to_num(lin["VV"], nan=0.0)
    h, w = vv.shape
    ring = np.zeros((h, w), dtype=bool)
    ring[:ring_px], ring[-ring_px:], ring[:, :ring_px], ring[:, -ring_px:] = True, True, True, True
    sea = {b: float(np.nanmean(v[ring])) for b, v in lin.items()}
    label = item.labels.iloc[0]
    to_px = ~scene.transform
    x, y = Transformer.from_crs(4326, scene.crs, always_xy=True).transform(label.geometry.x, label.geometry.y)
    px, py = to_px @ (x, y)
    length = float(label.get("length_m", math.nan))
    reach = max(3.0, (length / 40.0) if math.isfinite(length) else 3.0)
    yy, xx = np.mgrid[0:h, 0:w]
    near = (xx + 0.5 - px) ** 2 + (yy + 0.5 - py) ** 2 <= reach**2
    bright = vv >= PASTE_RATIO * sea["VV"]
    if not (near & bright).any():
        return None
    parts, _ = ndimage.label(bright)
    peak = np.unravel_index(np.argmax(np.where(near & bright, vv, -np.inf)), vv.shape)
    ship = ndimage.binary_dilation(parts == parts[peak])
    rows, cols = np.nonzero(ship)
    r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    excess = np.zeros((2, r1 - r0, c1 - c0), dtype=np.float32)
    for i, band in enumerate(("VV", "VH")):
        if band in lin:
            above = np.nan_to_num(lin[band] - sea[band], nan=0.0).clip(min=0.0)
            excess[i] = (above * ship)[r0:r1, c0:c1]
    heading = float(label.get("heading_deg", math.nan))
    return excess, px - c0, py - r0, np.array([length, float(label.get("width_m", math.nan)), heading])


def paste_real_ships(backgrounds: list[Sample], items: list[Any], per_scene: int = 8,
                     seed: int = 0) -> list[Sample]:
    """Return copies of simulated ``s1`` samples with real ships (:func:`ship_cutout`) added on their open sea.

    Each real ship's excess backscatter is added, in linear power, at a random place of a background where the
    sea is open (VV below :data:`PASTE_SEA_DB` over the whole cut-out, no NaN) and no object of the background
    lies within :data:`PASTE_CLEAR_PX`; it becomes a point label with the AIS length and width and its heading
    in the chip's grid. The backgrounds' own objects stay labelled. Every cut-out is used in turn, so each real
    ship appears about ``len(backgrounds) * per_scene / len(items)`` times, in different places.

    Args:
        backgrounds: simulated samples of the ``s1`` profile (bands VV, VH in dB).
        items: real labelled chips (training groups only: the caller checks the split).
        per_scene: ships pasted into each background.
        seed: seed of the random places.
    """
    cutouts = [c for c in (ship_cutout(item) for item in items) if c is not None]
    if not cutouts or not backgrounds:
        return []
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    k = 0
    for bg in backgrounds:
        if "VV" not in bg.names:
            continue
        raw = bg.raw.copy()
        vv_i = bg.names.index("VV")
        vh_i = bg.names.index("VH") if "VH" in bg.names else None
        points = [list(p) for p in bg.points]
        h, w = raw.shape[1:]
        for _ in range(per_scene):
            excess, cx, cy, size = cutouts[k % len(cutouts)]
            k += 1
            eh, ew = excess.shape[1:]
            for _try in range(50):
                r0, c0 = int(rng.integers(0, h - eh)), int(rng.integers(0, w - ew))
                window = raw[vv_i, r0:r0 + eh, c0:c0 + ew]
                x, y = c0 + cx, r0 + cy
                if not np.isfinite(window).all() or window.max() >= PASTE_SEA_DB:
                    continue
                if any((p[0] - x) ** 2 + (p[1] - y) ** 2 < PASTE_CLEAR_PX**2 for p in points):
                    continue
                for i, band_i in ((0, vv_i), (1, vh_i)):
                    if band_i is None:
                        continue
                    patch = raw[band_i, r0:r0 + eh, c0:c0 + ew]
                    raw[band_i, r0:r0 + eh, c0:c0 + ew] = 10.0 * np.log10(10.0 ** (patch / 10.0) + excess[i])
                points.append([x, y, size[0], size[1], size[2] % 180.0 if math.isfinite(size[2]) else math.nan,
                               0.0])
                break
        out.append(Sample(name=f"{bg.name}+real", raw=raw, names=bg.names,
                          points=np.array(points, dtype=np.float64).reshape(-1, 6), ignore=bg.ignore,
                          masks=bg.masks, mask_ignore=bg.mask_ignore, has_size=bg.has_size,
                          area_anchors=bg.area_anchors, mask_known=bg.mask_known))
    return out


PASTE_HULLS_TRIES = 400
"""Random placements tried per pasted hull before it is given up (a crowded or coastless port)."""
PASTE_LAND_MIN_PX = 300
"""Land a hull is pasted against is a region of at least this many profile pixels (0.03 km2 at 10 m: a quay, a
pier, a breakwater); smaller non-water regions are ships, buoys or glint."""
PASTE_HULL_CLEAR_PX = 3
"""A pasted hull keeps at least this many profile pixels from every labelled ship of the port it is pasted in."""


def hull_cutouts(ports: list[str], profile: Profile, root: Path | None = None
                 ) -> list[tuple[np.ndarray, np.ndarray, tuple[str, ...]]]:
    """Cut every labelled ship out of sen2ships ports, on the profile grid, by its pixel mask (RLE).

    Each profile pixel takes the port's mask at its centre. Cut-outs touching no data are left out.

    Returns:
        ``(pixels, mask, names)`` per ship: ``(bands, h, w)`` float32 of its bounding box, ``(h, w)`` bool hull
        mask, band names.
    """
    from satwatch.detection.data.sen2ships import load_hull_masks

    out = []
    for name in ports:
        port = load_port(name, root)
        raw, names, scale = profile_raster(port.scene, profile)
        h, w = raw.shape[1:]
        rows = np.minimum(((np.arange(h) + 0.5) * scale).astype(int), port.scene.height - 1)
        cols = np.minimum(((np.arange(w) + 0.5) * scale).astype(int), port.scene.width - 1)
        for full in load_hull_masks(name, root):
            mask = full[rows][:, cols]
            if not mask.any():
                continue
            ys, xs = np.nonzero(mask)
            r0, r1, c0, c1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
            pixels = raw[:, r0:r1, c0:c1].copy()
            if not np.all(np.isfinite(pixels[:, mask[r0:r1, c0:c1]])):
                continue
            out.append((pixels, mask[r0:r1, c0:c1].copy(), names))
    return out


def paste_real_hulls(ports: list[Sample], cutouts: list[tuple[np.ndarray, np.ndarray, tuple[str, ...]]],
                     per_port: int, seed: int = 0) -> list[Sample]:
    """Return a copy of each real port sample with ``per_port`` real hulls pasted berthed along its quays.

    Real berthed ships are what the detector misses in real ports (a slightly brighter patch against a quay of
    about its own brightness, ``scripts/s2_port_stats.py``). Each hull, cut out of a training port by its
    mask (:func:`hull_cutouts`, randomly flipped), replaces the pixels of a place in another training port where
    all of it lies on water (NDWI from ``B03`` and ``B08`` > 0), at least one of its pixels touches land (a
    quay, a pier, a breakwater: a region of :data:`PASTE_LAND_MIN_PX` or more), and it keeps :data:`PASTE_HULL_CLEAR_PX` from every labelled ship. Each pasted
    hull is a vessel label at its mask's centroid (no size: the port samples learn positions only).

    Args:
        ports: real port samples (:func:`port_sample`), all of one band set.
        cutouts: hulls from :func:`hull_cutouts`; those whose bands differ from a port's are not pasted there.
        per_port: hulls pasted into each port copy.
        seed: random seed.

    Returns:
        One new sample per port, named ``<port>+hulls``.
    """
    from dataclasses import replace

    from scipy import ndimage

    rng = np.random.default_rng(seed)
    out = []
    for sample in ports:
        if "B03" not in sample.names or "B08" not in sample.names:
            continue
        usable = [c for c in cutouts if c[2] == sample.names]
        if not usable:
            continue
        raw = sample.raw.copy()
        green, nir = raw[sample.names.index("B03")], raw[sample.names.index("B08")]
        with np.errstate(invalid="ignore", divide="ignore"):
            water = np.isfinite(green) & np.isfinite(nir) & ((green - nir) / (green + nir) > 0.0)
        land, _ = ndimage.label(np.isfinite(green) & ~water, structure=np.ones((3, 3), bool))
        sizes = np.bincount(land.ravel())
        sizes[0] = 0
        land = (sizes >= PASTE_LAND_MIN_PX)[land]  # smaller "land" is a ship, a buoy or a glint, not a quay
        near_land = ndimage.binary_dilation(land, structure=np.ones((3, 3), bool))
        taken = np.zeros(water.shape, dtype=bool)
        for x, y in sample.points[:, :2]:
            r, c = int(y), int(x)
            taken[max(r - PASTE_HULL_CLEAR_PX, 0):r + PASTE_HULL_CLEAR_PX + 1,
                  max(c - PASTE_HULL_CLEAR_PX, 0):c + PASTE_HULL_CLEAR_PX + 1] = True
        shore = np.argwhere(water & near_land & ~taken)
        if not len(shore):
            continue
        points = [sample.points]
        h, w = water.shape
        for _ in range(per_port):
            pixels, mask, _ = usable[int(rng.integers(len(usable)))]
            if rng.random() < 0.5:
                pixels, mask = pixels[:, :, ::-1], mask[:, ::-1]
            if rng.random() < 0.5:
                pixels, mask = pixels[:, ::-1, :], mask[::-1, :]
            mh, mw = mask.shape
            for _ in range(PASTE_HULLS_TRIES):
                r, c = shore[int(rng.integers(len(shore)))]
                r0, c0 = int(r) - int(rng.integers(mh)), int(c) - int(rng.integers(mw))
                if r0 < 0 or c0 < 0 or r0 + mh > h or c0 + mw > w:
                    continue
                win = (slice(r0, r0 + mh), slice(c0, c0 + mw))
                if not (water[win][mask].all() and near_land[win][mask].any() and not taken[win][mask].any()):
                    continue
                raw[:, win[0], win[1]][:, mask] = pixels[:, mask]
                water[win][mask] = False
                grown = ndimage.binary_dilation(mask, iterations=PASTE_HULL_CLEAR_PX)
                taken[win][grown] = True
                ys, xs = np.nonzero(mask)
                points.append(np.array([[c0 + xs.mean() + 0.5, r0 + ys.mean() + 0.5, np.nan, np.nan, np.nan, 0.0]]))
                break
        out.append(replace(sample, name=f"{sample.name}+hulls", raw=raw, points=np.concatenate(points),
                           hard_negatives=None))
    return out
