"""Real-data validation of every detector, per profile: the figures that choose defaults and fill model cards.

The validation sets are fixed here, split by place, date or package, never by chip or frame
(:data:`~satwatch.detection.data.splits.SPLITS`):

=========== ======================== ==========================================================================
profile     set                      what it holds (real imagery, never trained on)
=========== ======================== ==========================================================================
``s2``      ``sen2ships-holdout``    the held-out sen2ships ports and qingdao: every ship labelled (exhaustive)
``s2``      ``sen2ships-holdout-scl``  the same ports with an SCL band that marks every labelled ship as cloud (9)
``s2``      ``eotdl-2022-08-25``     EOTDL chips of one date (tile T32VPH): one AIS ship per chip, AIS length
``s1``      ``opensarship-val``      OpenSARShip packages of 2016-05-18 and 2015-08-23: one AIS ship per chip
``vhr``     ``aerial-val``           aerial/drone vehicle images of held-out sequences, block-averaged to 1 m
=========== ======================== ==========================================================================

Small Sentinel-1 chips (13-125 px) are too small for a CFAR background window (800 m) or a CNN's context, so each is
placed at the centre of a canvas of sea clutter drawn from the chip's own border statistics (gamma-distributed
intensity with the border's mean and equivalent number of looks, per band); only what lies inside the real chip
is scored: detections outside its footprint are dropped before matching, the label is the real AIS ship, and
false alarms are counted only on real chips known to hold no other ship (OpenSARShip ``Multi_ship = 0`` and
``Port = 0``), per km2 of real chip. Figures and their intervals: :mod:`satwatch.detection.training.figures`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from affine import Affine

from satwatch.detection.data.labelled import ValidationItem
from satwatch.detection.data.splits import SPLITS
from satwatch.detection.training.figures import Figures, SceneTally, figures_from_tallies
from satwatch.imagery.scene import Scene
from satwatch.imagery.speckle import SPECKLE_LOOKS, correlated_speckle

__all__ = [
    "ValidationSet", "concat_labels", "embed_in_clutter", "opensarship_items", "real_sets", "score", "tally_scenes",
    "with_hull_cloud",
]

log = logging.getLogger(__name__)

CANVAS_PX = 256
"""Edge of the sea-clutter canvas a small Sentinel-1 chip is placed on, pixels (2.56 km at 10 m)."""


@dataclass(frozen=True)
class ValidationSet:
    """A named real validation set of one profile."""

    name: str
    """e.g. ``sen2ships-holdout``."""
    cls: str
    """Class scored."""
    items: tuple[ValidationItem, ...]
    """Its scenes."""


# ----------------------------------------------------------------------------------------------------------------
# Building the sets
# ----------------------------------------------------------------------------------------------------------------


def _optical_water_km2(scene: Scene) -> float:
    """Observed water of an optical scene, km2: the water mask the counts use (observability's), 0 without one."""
    from satwatch.change.observability import water_mask

    bands = scene.data[[i for i, b in enumerate(scene.bands) if b != "SCL"]]
    valid: npt.NDArray[np.bool_] = np.all(np.isfinite(bands), axis=0)
    water = water_mask(scene, valid, scene.gsd_m)
    return 0.0 if water is None else float((water & valid).sum()) * scene.gsd_m**2 / 1e6


def _scene_km2(scene: Scene) -> float:
    return float(np.isfinite(scene.data[0]).sum()) * scene.gsd_m**2 / 1e6


def embed_in_clutter(scene: Scene, canvas_px: int = CANVAS_PX, seed: int = 0, ring_px: int = 3) -> Scene:
    """Place a small Sentinel-1 chip (sigma0 dB) at the centre of a sea-clutter canvas of its own statistics.

    Per band, the clutter is speckle correlated over about two pixels, as real GRD sea is
    (:func:`~satwatch.imagery.speckle.correlated_speckle`), whose mean and (rounded) equivalent number of looks
    are those of the chip's outer ring (``ring_px`` wide; the ship sits at the centre, so the ring is sea). The
    canvas keeps the chip's pixel size and CRS; the chip's pixels are unchanged. Chips larger than the canvas
    are returned as they are.

    Returns:
        A scene of ``(bands, canvas_px, canvas_px)`` float32 dB with the same meta.
    """
    h, w = scene.height, scene.width
    if h >= canvas_px and w >= canvas_px:
        return scene
    ch, cw = max(canvas_px, h), max(canvas_px, w)
    rng = np.random.default_rng(seed)
    out = np.empty((len(scene.bands), ch, cw), dtype=np.float32)
    ring = np.zeros((h, w), dtype=bool)
    ring[:ring_px], ring[-ring_px:], ring[:, :ring_px], ring[:, -ring_px:] = True, True, True, True
    for i in range(len(scene.bands)):
        lin = 10.0 ** (scene.data[i][ring] / 10.0)
        lin = lin[np.isfinite(lin)]
        mean = float(np.mean(lin)) if len(lin) else 1e-3
        var = float(np.var(lin)) if len(lin) > 1 else mean**2
        looks = int(np.clip(round(mean**2 / var), 1, 20)) if var > 0 else SPECKLE_LOOKS
        clutter = mean * correlated_speckle((ch, cw), rng, looks=looks)
        out[i] = (10.0 * np.log10(np.maximum(clutter, 1e-12))).astype(np.float32)
    r0, c0 = (ch - h) // 2, (cw - w) // 2
    out[:, r0:r0 + h, c0:c0 + w] = scene.data
    transform = scene.transform @ Affine.translation(-c0, -r0)
    return Scene(data=out, bands=scene.bands, crs=scene.crs, transform=transform, meta=scene.meta)


def _vessel_labels(labels: gpd.GeoDataFrame, scene: Scene) -> gpd.GeoDataFrame:
    """Return vessel point labels as discs of a third of the labelled length (at most 60 m).

    A detection on the hull away from the AIS centre still matches its ship.
    """
    out = labels.copy()
    if "length_m" not in out or out.empty:
        return out
    from satwatch.change.matching import utm_crs

    centre = scene.footprint().centroid
    crs = utm_crs(centre.x, centre.y)
    projected = out.to_crs(crs)
    radius = np.clip(np.nan_to_num(out["length_m"].to_numpy(dtype=float), nan=0.0) / 3.0, 0.0, 60.0)
    projected["geometry"] = [g.buffer(r) if r > 0 else g for g, r in zip(projected.geometry, radius, strict=True)]
    return projected.to_crs(4326)


def _sen2ships_items() -> list[ValidationItem]:
    from satwatch.detection.data.label_files import load_coco_labels
    from satwatch.detection.data.sen2ships import DEFAULT_ROOT, load_port

    items = []
    qingdao_root = DEFAULT_ROOT.parent / "sen2ships_qingdao"
    for name in SPLITS["sen2ships"]["validation"]:
        root = qingdao_root if name == "qingdao" else DEFAULT_ROOT
        if not (root / "annotations.json").is_file():
            log.warning("sen2ships port %s not found under %s: left out", name, root)
            continue
        port = load_port(name, root)
        labels = load_coco_labels(root / "annotations.json", name)
        labels["scene_id"] = port.scene.meta.scene_id
        items.append(ValidationItem(port.scene, labels, True, None, _optical_water_km2(port.scene)))
    return items


def with_hull_cloud(item: ValidationItem) -> ValidationItem:
    """Return the same port scene with an SCL band in which every labelled ship box is cloud (class 9).

    Real L2A scene classification often marks white hulls as cloud; sen2ships has no SCL band, so this puts the
    worst case on real pixels: water (NDWI > 0 from B03, else B02, against B08) is SCL 6, other valid pixels 5,
    and each labelled box 9. A detector that treats SCL cloud as unobservable finds none of these ships.
    """
    from rasterio.features import rasterize

    scene = item.scene
    green = scene.band("B03") if "B03" in scene.bands else scene.band("B02")
    nir = scene.band("B08")
    with np.errstate(invalid="ignore", divide="ignore"):
        scl = np.where((green - nir) / (green + nir) > 0.0, 6.0, 5.0).astype(np.float32)
    scl[~np.isfinite(green) | ~np.isfinite(nir)] = 0.0
    boxes = item.labels.to_crs(scene.crs).geometry
    hulls = rasterize([(g, 1) for g in boxes], out_shape=(scene.height, scene.width), transform=scene.transform,
                      dtype="uint8", all_touched=False) if len(boxes) else np.zeros(scl.shape, dtype=np.uint8)
    scl[hulls.astype(bool)] = 9.0
    cloudy = Scene(data=np.concatenate([scene.data, scl[None]]), bands=(*scene.bands, "SCL"), crs=scene.crs,
                   transform=scene.transform, meta=scene.meta)
    return ValidationItem(cloudy, item.labels, item.negatives_known, item.scored_area, item.water_km2)


def _labelled_items(loaded: Sequence[Any], groups: tuple[str, ...], cls: str,
                    negatives: Callable[[Any], bool] | None = None, embed: bool = False,
                    water: Callable[[Scene], float] = _scene_km2) -> list[ValidationItem]:
    items = []
    for i, item in enumerate(x for x in loaded if x.group in groups):
        labels = item.labels[item.labels["class"] == cls].copy()
        if "ais_length_m" in labels:  # length error is measured against AIS where the set has it
            ais = labels["ais_length_m"].to_numpy(dtype=float)
            labels["length_m"] = np.where(np.isfinite(ais) & (ais > 0), ais, np.nan)
        neg = item.exhaustive if negatives is None else negatives(item)
        scene = item.scene
        area = None
        if embed:
            area = scene.footprint()
            scene = embed_in_clutter(scene, seed=i)
        if cls == "vessel":
            labels = _vessel_labels(labels, scene)
        items.append(ValidationItem(scene, labels, neg, area, water(item.scene) if neg else 0.0))
    return items


def opensarship_items(groups: tuple[str, ...]) -> list[ValidationItem]:
    """OpenSARShip chips of ``groups`` as scored scenes, each embedded in sea clutter of its own statistics.

    See :func:`embed_in_clutter`. Unmatched detections count as false alarms only on chips recorded as neither
    in port nor with several ships.
    """
    from satwatch.detection.data.opensarship import load_chips

    def clean(item: Any) -> bool:
        lab = item.labels
        return bool(len(lab)) and not bool(lab["multi_ship"].any()) and not bool(lab["port"].any())

    return _labelled_items(load_chips(), groups, "vessel", negatives=clean, embed=True)


def real_sets(profile: str) -> list[ValidationSet]:
    """Return the real validation sets of a profile (those whose data is present under ``../shared/data``)."""
    from satwatch.detection.data.labelled import real_data_root

    data_root = real_data_root()
    sets: list[ValidationSet] = []
    if profile == "s2":
        items = _sen2ships_items()
        if items:
            sets.append(ValidationSet("sen2ships-holdout", "vessel", tuple(items)))
            sets.append(ValidationSet("sen2ships-holdout-scl", "vessel", tuple(with_hull_cloud(i) for i in items)))
        if (data_root / "eotdl_s2_ships").is_dir():
            from satwatch.detection.data.eotdl_s2_ships import load_chips

            groups = SPLITS["eotdl_s2_ships"]["validation"]
            sets.append(ValidationSet(f"eotdl-{'+'.join(groups)}", "vessel",
                                      tuple(_labelled_items(load_chips(), groups, "vessel"))))
    elif profile == "s1":
        if (data_root / "opensarship").is_dir():
            sets.append(ValidationSet("opensarship-val", "vessel",
                                      tuple(opensarship_items(SPLITS["opensarship"]["validation"]))))
    elif profile == "vhr" and (data_root / "aerial_vehicles").is_dir():
        from satwatch.detection.data.aerial_vehicles import load_images

        groups = SPLITS["aerial_vehicles"]["validation"]
        sets.append(ValidationSet("aerial-val", "vehicle",
                                  tuple(_labelled_items(load_images(), groups, "vehicle"))))
    return sets


# ----------------------------------------------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------------------------------------------


def tally_scenes(items: Sequence[ValidationItem], frames: Sequence[gpd.GeoDataFrame], cls: str,
                 match_distance_m: float | Mapping[str, float] | None = None) -> list[SceneTally]:
    """Match each scene's detections to its labels: one :class:`SceneTally` per scene (see :func:`score`).

    ``match_distance_m``: as :func:`~satwatch.detection.training.evaluate.evaluate` takes it (default: the
    class's own, ``MATCH_DISTANCE_M``).
    """
    from satwatch.detection.training.evaluate import evaluate

    tallies = []
    for item, det in zip(items, frames, strict=True):
        sid = item.scene.meta.scene_id
        det = det[det["class"] == cls] if len(det) else det
        if item.scored_area is not None and len(det):
            det = det[shapely.contains(item.scored_area, shapely.centroid(det.geometry.to_numpy()))]
        labels = item.labels
        if labels.empty:
            fp = len(det) if item.negatives_known else 0
            tallies.append(SceneTally(sid, 0, fp, 0, (), item.water_km2, item.negatives_known))
            continue
        if det.empty:
            n = int(labels["visible"].astype(bool).sum()) if "visible" in labels else len(labels)
            tallies.append(SceneTally(sid, 0, 0, n, (), item.water_km2, item.negatives_known))
            continue
        result = evaluate(det.assign(scene_id=sid), labels.assign(scene_id=sid), match_distance_m=match_distance_m,
                          cls=cls, scene_id=sid)
        m = result.total
        lengths: tuple[tuple[int, float], ...] = ()
        if "length_m" in result.detections and "length_m" in result.labels:
            d = result.detections
            tp = d[d["outcome"] == "tp"]
            index = tp["label_index"].to_numpy(dtype=int)
            err = np.abs(tp["length_m"].to_numpy(dtype=float) - result.labels["length_m"].to_numpy(dtype=float)[index])
            lengths = tuple((int(i), float(e)) for i, e in zip(index, err, strict=True) if np.isfinite(e))
        tallies.append(SceneTally(sid, m.tp, m.fp if item.negatives_known else 0, m.fn, lengths, item.water_km2,
                                  item.negatives_known))
    return tallies


def score(detect: Callable[[Scene], gpd.GeoDataFrame], vset: ValidationSet,
          match_distance_m: float | Mapping[str, float] | None = None,
          progress: Callable[[int, int], None] | None = None) -> tuple[Figures, list[SceneTally]]:
    """Run one detector over a validation set and return its figures (with intervals) and per-scene tallies.

    A scene the detector refuses (:class:`DetectionError`, e.g. a band it needs is missing) counts as a scene
    where it found nothing: that is what a user would get.
    """
    from satwatch.detection.detections import empty_detections
    from satwatch.errors import DetectionError

    frames = []
    for i, item in enumerate(vset.items, start=1):
        try:
            frames.append(detect(item.scene))
        except DetectionError as exc:  # e.g. the baseline needs B03, which qingdao lacks: it finds nothing there
            log.warning("%s: %s; counted as no detections", vset.name, exc)
            frames.append(empty_detections())
        if progress is not None:
            progress(i, len(vset.items))
    tallies = tally_scenes(vset.items, frames, vset.cls, match_distance_m)
    return figures_from_tallies(tallies, vset.name, vset.cls, real=True), tallies


def tallies_table(tallies: Sequence[SceneTally]) -> str:
    """Per-scene tallies as a small text table (for the validation script's log)."""
    rows = [(t.scene_id, t.tp, t.fp, t.fn,
             f"{np.median([e for _, e in t.length_errors_m]):.0f}" if t.length_errors_m else "-")
            for t in tallies]
    frame = pd.DataFrame(rows, columns=["scene", "tp", "fp", "fn", "len_err_m"])
    return frame.to_string(index=False)


def concat_labels(frames: Sequence[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Concatenate label frames (EPSG:4326)."""
    return gpd.GeoDataFrame(pd.concat(list(frames), ignore_index=True), crs=4326)
