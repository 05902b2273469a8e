"""Where training and validation samples come from: simulated scenes and the real sen2ships ports.

- **simulated scenes** rendered from a scenario (planted vessels at berth, at anchor and under way, vehicle
  parks and encampments; the simulator's truth is the label). Truth objects hidden by cloud (``visible =
  False``) are *don't care*: no loss is taken around them;
- **real Sentinel-2 ports** of sen2ships (``s2`` only). Their boxes give centres only (boxes are axis-aligned,
  so no length, width or heading is learnt from them); they label no vehicle parks, but no port holds an
  encampment, so their encampment mask is a real negative everywhere.

Every sample is resampled to the profile grid by the same GDAL bilinear read the detector uses
(:func:`satwatch.detection.cnn.profile_raster`), so training sees what inference sees. This module needs GDAL,
GeoPandas and PROJ; the training loop (:mod:`satwatch.detection.training`) does not.
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
from satwatch.detection.cnn import profile_raster
from satwatch.detection.profiles import Profile
from satwatch.detection.samples import Sample
from satwatch.detection.sen2ships import load_port
from satwatch.detection.training import HOLDOUT_PORTS
from satwatch.imagery.scene import Scene

__all__ = [
    "labelled_sample", "port_sample", "real_training_items", "real_training_samples", "simulated_samples",
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


def port_sample(name: str, profile: Profile, root: Path | None = None) -> Sample:
    """Return a sen2ships port on the ``s2`` profile grid; ship box centres are the vessel labels.

    The encampment mask is labelled empty (no port holds a camp: its port and urban texture are negatives);
    vehicle parks are not labelled (no loss).
    """
    port = load_port(name, root)
    raw, names, scale = profile_raster(port.scene, profile)
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
                  masks=masks if profile.mask_classes else None, has_size=False, mask_known=known)


def labelled_sample(item: Any, profile: Profile) -> Sample:
    """Return a real labelled scene (:class:`~satwatch.detection.data.labelled.LabelledScene`) on the profile grid.

    Visible labels of the profile's point classes become point labels (length and width from the labels; heading
    unknown: the sets' boxes are axis-aligned or AIS-derived, so ``has_size`` is False and no size loss is taken);
    don't-care labels become don't-care discs. Area classes: none of these sets holds an encampment, so that mask
    is a real negative; vehicle parks are not labelled (no loss).
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
        if bool(row.get("visible", True)):
            points.append([px, py, length, width, math.nan, profile.point_classes.index(cls)])
        else:
            ignore.append([px, py, max(2.0, (length if math.isfinite(length) else 10.0) / profile.res_m)])
    masks = np.zeros((len(profile.mask_classes), *raw.shape[1:]), dtype=np.uint8)
    known = tuple(c == "encampment" for c in profile.mask_classes)
    return Sample(name=scene.meta.scene_id, raw=raw, names=names,
                  points=np.array(points, dtype=np.float64).reshape(-1, 6),
                  ignore=np.array(ignore, dtype=np.float64).reshape(-1, 3),
                  masks=masks if profile.mask_classes else None, has_size=False,
                  mask_known=known if profile.mask_classes else None)


def real_training_items(profile: Profile) -> list[Any]:
    """Return the real labelled scenes a profile may train on, as validation items (only ``train`` groups).

    ``vhr``: the aerial vehicle images of the training sequences of ``validation.SPLITS`` (exhaustive labels);
    none, with a warning, when the set is not under the real-data folder. Other profiles: none here (``s2``
    trains on sen2ships ports through :func:`port_sample`).

    Raises:
        UsageError: a validation group would be trained on (the split is checked, not assumed).
    """
    from satwatch.detection.validation import SPLITS, ValidationItem
    from satwatch.errors import UsageError

    if profile.name != "vhr":
        return []
    from satwatch.detection.data.aerial_vehicles import load_images
    from satwatch.detection.data.labelled import real_data_root

    if not (real_data_root() / "aerial_vehicles").is_dir():
        log.warning(
            "no real aerial vehicle images under %s: vhr trains on simulated scenes only", real_data_root())
        return []

    train, held = SPLITS["aerial_vehicles"]["train"], SPLITS["aerial_vehicles"]["validation"]
    if set(train) & set(held):
        raise UsageError(f"aerial vehicle groups {sorted(set(train) & set(held))} are both trained and validated on")
    return [ValidationItem(item.scene, item.labels[item.labels["class"] == "vehicle"], True)
            for item in load_images() if item.group in train]


def real_training_samples(profile: Profile) -> list[Sample]:
    """Return :func:`real_training_items` on the profile grid (:func:`labelled_sample`)."""
    return [labelled_sample(item, profile) for item in real_training_items(profile)]


def validation_scenes(profile: Profile, scenario: str | Path = "scenarios/validate.yaml",
                      real: bool = True, simulated: bool = True) -> dict[str, list[tuple[Scene, gpd.GeoDataFrame]]]:
    """Return held-out scenes with their labels, by kind (``real``, ``simulated``).

    ``real`` (s2 only): the :data:`HOLDOUT_PORTS` of sen2ships with their ship boxes as polygons; ``simulated``:
    every ``profile.sensor`` acquisition of the validation scenario with its truth as labels (at 10 m, convoys
    on roads are don't care). Labels carry ``class``, ``scene_id`` (the scene's) and ``visible`` (False: don't
    care).
    """
    from satwatch.detection.evaluate import load_coco_labels
    from satwatch.detection.sen2ships import DEFAULT_ROOT
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
