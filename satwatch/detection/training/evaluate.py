"""Evaluation of detections against labels: precision, recall, F1 and count error per class and per scene.

Inputs:

- **Detections**: the detections contract (:mod:`satwatch.detection.detections`, EPSG:4326). Only ``class``
  (or an explicit class), ``score`` (1.0 when absent), ``scene_id`` (optional) and the geometry are used.
- **Labels**: a GeoDataFrame in any CRS with a ``class`` column (or an explicit class) and Point, MultiPoint,
  Polygon or MultiPolygon geometries; an optional ``scene_id`` column splits them per scene. A ``visible``
  column (the simulator's truth has one) marks labels with ``visible == False`` as *don't care*: the object
  is there but hidden (under cloud), so a detection that matches one counts neither as a true nor as a false
  positive, and the label is not counted as a miss. COCO ``iscrowd = 1`` annotations are don't care too.
  :func:`~satwatch.detection.data.label_files.load_coco_labels` turns COCO boxes drawn on a raster into such a
  frame; files are read by :mod:`satwatch.detection.data.label_files`.

Matching (:func:`evaluate`), per scene and class, one to one:

1. A detection's *location* is its point, or the centroid of its polygon, in a local UTM projection
   (metres). A detection and a label of the same class are a candidate pair when that location lies within
   the class's match distance of the label's geometry (:data:`MATCH_DISTANCE_M` unless given): inside a
   polygon label the distance is 0, so a detection anywhere inside a large labelled object matches it,
   however far from its centre. The distance must be smaller than the spacing of the objects it tells apart:
   cars parked in a row are 2.5-3 m apart, so a vehicle matches within 3 m; at 30 m a detection on a roof
   would claim a car it never saw.
2. With ``iou_threshold`` set, a polygon detection and a polygon label (encampments, vehicle parks) are
   instead a candidate pair when their intersection over union is at least the threshold (IoU matching); a
   point on either side still uses the location rule.
3. Candidate pairs come from a shapely ``STRtree`` query (``dwithin`` / ``intersects``), never from an
   all-pairs loop. They are assigned greedily: highest detection score first, then closest (distance over
   the match distance, or ``1 - IoU``), each detection and each label used once. Pairs with visible labels
   are assigned first; a detection left over that is a candidate of any don't-care label is then *ignored*.
   Greedy by score is the rule of the COCO and PASCAL VOC evaluations: a confident detection claims its
   object before a less confident duplicate, so a duplicate is what becomes the false positive, and the
   result at a score threshold is the same as matching the thresholded detections. It works on the sparse
   candidate pairs only, so a full Sentinel-2 tile with thousands of objects costs milliseconds, where an
   optimal assignment (Hungarian) would need a dense cost matrix and, maximising matches, may pair a
   duplicate over a confident detection.

Metrics, per scene and class: ``tp`` (matched detections), ``fp`` (unmatched detections, not ignored),
``fn`` (unmatched visible labels), precision ``tp / (tp + fp)``, recall ``tp / (tp + fn)``, F1 ``2 tp / (2 tp
+ fp + fn)`` (NaN when the denominator is 0), count error ``(tp + fp) - (tp + fn)`` (detected objects minus
labelled objects, both without don't care) and relative count error ``|count error| / labels`` (NaN without
labels). Totals sum ``tp``/``fp``/``fn`` over scenes (micro average); the median relative count error is
taken over the scenes that have labels of the class.

Scenes: when both frames have a ``scene_id`` column, they are grouped by it, and the scenes evaluated are
those with labels (detections on other scenes are left out and a note says so, unless ``all_scenes``, which
counts them as false positives, e.g. when the labels are the complete simulator truth of a run). Otherwise,
or when ``scene_id`` is given, everything is one scene.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from satwatch.change.matching import utm_crs
from satwatch.detection.detections import DETECTION_CLASSES
from satwatch.errors import UsageError

__all__ = [
    "ALL",
    "DEFAULT_MATCH_DISTANCE_M",
    "MATCH_DISTANCE_M",
    "Evaluation",
    "Metrics",
    "evaluate",
    "evaluate_detections",
    "match_distances",
]

DEFAULT_MATCH_DISTANCE_M = 30.0
"""Match distance of a class :data:`MATCH_DISTANCE_M` does not name, metres."""
MATCH_DISTANCE_M: dict[str, float] = {"vessel": 30.0, "encampment": 30.0, "vehicle": 3.0}
"""Default match distance per class, metres. ``vessel``: three Sentinel-2 pixels, about the centre error of a
small vessel (and well under the 20-40 m between berthed ships). ``encampment``: polygons, matched inside or by
IoU, so the distance only serves point labels. ``vehicle``: half a car's length (4.5 m) plus one 1 m pixel,
so a detection must lie on the car: cars in a parking row are 2.5-3 m apart."""
ALL = "ALL"
"""The ``scene_id`` and ``cls`` of totals over all scenes or all classes."""

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]
_POINTS = ("Point", "MultiPoint")
_POLYGONS = ("Polygon", "MultiPolygon")


# ----------------------------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------------------------


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


@dataclass(frozen=True)
class Metrics:
    """Detection quality for one class (or all classes) on one scene (or all scenes).

    Example:
        >>> m = Metrics("genoa", "vessel", n_labels=10, n_detections=9, tp=8, fp=1, fn=2)
        >>> round(m.f1, 3), m.count_error, m.relative_count_error
        (0.842, -1, 0.1)
    """

    scene_id: str
    """Scene id, or :data:`ALL` for a total over scenes."""
    cls: str
    """Class, or :data:`ALL` for a total over classes."""
    n_labels: int
    """Labelled objects counted (don't-care labels excluded) = ``tp + fn``."""
    n_detections: int
    """Detections counted (ignored ones excluded) = ``tp + fp``."""
    tp: int
    """Detections matched one to one with a visible label."""
    fp: int
    """Detections that match no label."""
    fn: int
    """Visible labels that no detection matches."""
    ignored: int = 0
    """Detections matching only a don't-care label (neither true nor false positives)."""
    dont_care: int = 0
    """Don't-care labels (``visible == False``, COCO ``iscrowd``): never counted as misses."""

    @property
    def precision(self) -> float:
        """``tp / (tp + fp)``; NaN without detections."""
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """``tp / (tp + fn)``; NaN without labels."""
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """``2 tp / (2 tp + fp + fn)``, the harmonic mean of precision and recall; NaN with neither."""
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def count_error(self) -> int:
        """Detected count minus labelled count (positive: over-counting)."""
        return self.n_detections - self.n_labels

    @property
    def relative_count_error(self) -> float:
        """``|count_error| / n_labels``; NaN without labels."""
        return _ratio(abs(self.count_error), self.n_labels)

    def to_dict(self) -> dict[str, Any]:
        """Fields and derived metrics as JSON-ready values (NaN as ``None``)."""
        return {
            "scene_id": self.scene_id, "class": self.cls, "labels": self.n_labels, "detections": self.n_detections,
            "tp": self.tp, "fp": self.fp, "fn": self.fn, "ignored": self.ignored, "dont_care": self.dont_care,
            "precision": _num(self.precision), "recall": _num(self.recall), "f1": _num(self.f1),
            "count_error": self.count_error, "relative_count_error": _num(self.relative_count_error),
        }


def _num(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def _fmt(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


@dataclass(frozen=True, eq=False)
class Evaluation:
    """What :func:`evaluate` found: metrics per scene and class, totals, and each object's outcome."""

    per_scene: tuple[Metrics, ...]
    """One entry per evaluated scene and class (scenes, then classes, sorted); zeros included."""
    per_class: tuple[Metrics, ...]
    """Totals over all scenes per class (``scene_id`` :data:`ALL`), classes sorted."""
    total: Metrics
    """Totals over all scenes and classes."""
    median_relative_count_error: Mapping[str, float]
    """Class (and :data:`ALL`, per-scene counts of all classes) -> median over the scenes with labels of the
    per-scene relative count error; NaN where no scene has labels."""
    match_distance_m: Mapping[str, float]
    """Match distance used per evaluated class, metres."""
    iou_threshold: float | None
    """IoU threshold for polygon-to-polygon pairs, or None (location rule for every pair)."""
    min_score: float
    """Detections scoring below this were left out."""
    simulated: bool
    """Detections or labels come from simulated imagery: a demonstration, never evidence."""
    notes: tuple[str, ...] = ()
    """What the user should know: left-out detections, dropped labels."""
    detections: gpd.GeoDataFrame = field(default_factory=gpd.GeoDataFrame, repr=False)
    """Evaluated detections (EPSG:4326) with ``eval_scene``, ``outcome`` (``tp``, ``fp``, ``ignored``),
    ``label_index`` (row of :attr:`labels`, -1 when none), ``distance_m`` and ``iou`` of the match."""
    labels: gpd.GeoDataFrame = field(default_factory=gpd.GeoDataFrame, repr=False)
    """Evaluated labels (EPSG:4326) with ``eval_scene``, ``outcome`` (``tp``, ``fn``, ``dont_care``) and
    ``detection_index`` (row of :attr:`detections`, -1 when none)."""

    def to_dict(self) -> dict[str, Any]:
        """Everything but the per-object frames, as JSON-ready values (NaN as ``None``)."""
        return {
            "simulated": self.simulated,
            "settings": {"match_distance_m": dict(self.match_distance_m), "iou_threshold": self.iou_threshold,
                         "min_score": self.min_score},
            "total": self.total.to_dict(),
            "per_class": [m.to_dict() for m in self.per_class],
            "median_relative_count_error": {k: _num(v) for k, v in self.median_relative_count_error.items()},
            "per_scene": [m.to_dict() for m in self.per_scene],
            "notes": list(self.notes),
        }

    def table(self) -> str:
        """Return a readable text table: per scene and class, totals per class and over all, medians."""
        header = ("scene", "class", "labels", "detections", "tp", "fp", "fn", "precision", "recall", "f1",
                  "count_err", "rel_err", "dont_care", "ignored")
        rows = [
            (m.scene_id, m.cls, str(m.n_labels), str(m.n_detections), str(m.tp), str(m.fp), str(m.fn),
             _fmt(m.precision), _fmt(m.recall), _fmt(m.f1), f"{m.count_error:+d}", _fmt(m.relative_count_error),
             str(m.dont_care), str(m.ignored))
            for m in (*self.per_scene, *self.per_class, self.total)
        ]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.insert(2 + len(self.per_scene), "")
        medians = ", ".join(f"{k} {_fmt(v)}" for k, v in self.median_relative_count_error.items())
        iou = f", IoU >= {self.iou_threshold:g} for polygon pairs" if self.iou_threshold is not None else ""
        lines.append("")
        lines.append(f"median per-scene relative count error: {medians or '-'}")
        within = ", ".join(f"{c} {d:g} m" for c, d in sorted(self.match_distance_m.items())) or "-"
        lines.append(f"matched within: {within}{iou}; scores >= {self.min_score:g}")
        lines.extend(self.notes)
        if self.simulated:
            lines.append("SIMULATED imagery: a demonstration of the method, not evidence about the real world.")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------------------------------------------


def _visible(frame: pd.DataFrame) -> Bool:
    if "visible" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    col = frame["visible"]
    if col.dtype == bool:
        return col.to_numpy(dtype=bool)
    text = col.astype("object").map(lambda v: str(v).strip().lower() if v is not None else "")
    return ~text.isin(["false", "0", "no"]).to_numpy(dtype=bool)


def _classes(frame: pd.DataFrame, cls: str | None, what: str) -> pd.Series:
    if "class" in frame.columns:
        return frame["class"].astype("object").where(frame["class"].notna(), "").astype(str).str.strip()
    if cls is None:
        raise UsageError(f"the {what} have no 'class' column; pass --class with the class they all have")
    return pd.Series(cls, index=frame.index, dtype="object")


def _scene_column(frame: pd.DataFrame) -> pd.Series | None:
    if "scene_id" not in frame.columns:
        return None
    return frame["scene_id"].astype("object").where(frame["scene_id"].notna(), "").astype(str)


def _simulated(frame: pd.DataFrame) -> bool:
    if "simulated" not in frame.columns or len(frame) == 0:
        return False
    return bool(frame["simulated"].astype("object").map(lambda v: str(v).strip().lower() in ("true", "1")).any())


def evaluate(
    detections: gpd.GeoDataFrame,
    labels: gpd.GeoDataFrame,
    *,
    match_distance_m: float | Mapping[str, float] | None = None,
    iou_threshold: float | None = None,
    cls: str | None = None,
    min_score: float = 0.0,
    scene_id: str | None = None,
    all_scenes: bool = False,
) -> Evaluation:
    """Match detections to labels one to one and measure precision, recall, F1 and count error.

    The matching rule, don't-care labels and scene grouping are described in this module's docstring.

    Args:
        detections: detections contract (or any frame with ``class``; ``score`` and ``scene_id`` optional);
            Point or Polygon geometries; EPSG:4326 (a frame in another CRS is reprojected).
        labels: labels in any CRS (see the module docstring), e.g.
            :func:`~satwatch.detection.data.label_files.read_labels` output.
        match_distance_m: largest distance in metres from a detection's location (point, polygon centroid) to
            a label's geometry for the two to match (0 inside a polygon label); one value for every class, or
            per class (classes not named: :data:`DEFAULT_MATCH_DISTANCE_M`); default :data:`MATCH_DISTANCE_M`.
            Distances are measured in the UTM zone of each scene.
        iou_threshold: if given (0 < t <= 1, e.g. 0.3), polygon detections match polygon labels when their
            IoU is at least ``t`` instead of by location.
        cls: evaluate only this class; also the class of every label (or detection) in a frame without a
            ``class`` column.
        min_score: leave out detections scoring below this (0..1).
        scene_id: treat both frames as one scene with this id, whatever their ``scene_id`` columns say.
        all_scenes: count detections on scenes without any label as false positives instead of leaving them
            out (for complete labels such as the simulator's truth).

    Returns:
        :class:`Evaluation` with per-scene, per-class and total :class:`Metrics`.

    Raises:
        UsageError: an option is out of range, a frame lacks ``class`` and ``cls`` is not given, ``cls`` is
            in neither frame nor a detection class, the scene ids of the two frames share none, or a label
            is neither a point nor a polygon.

    Example:
        >>> from satwatch.detection.data.label_files import read_detections, read_labels
        >>> result = evaluate(read_detections("d.geojson"), read_labels("truth.geojson"))  # doctest: +SKIP
        >>> result.total.f1  # doctest: +SKIP
        0.93
    """
    by_class, other = _distances(match_distance_m)
    if iou_threshold is not None and not (0.0 < iou_threshold <= 1.0):
        raise UsageError(f"IoU threshold {iou_threshold:g} must be in (0, 1], e.g. 0.3")
    if not (0.0 <= min_score <= 1.0):
        raise UsageError(f"minimum score {min_score:g} must be in 0..1")
    notes: list[str] = []

    det = detections if detections.crs is not None else detections.set_crs(4326)
    det = det.to_crs(4326) if det.crs.to_epsg() != 4326 else det
    lab = labels if labels.crs is not None else labels.set_crs(4326)
    lab = lab.to_crs(4326) if lab.crs.to_epsg() != 4326 else lab
    det = det.reset_index(drop=True)
    lab = lab.reset_index(drop=True)
    simulated = _simulated(det) or _simulated(lab)

    det_cls = _classes(det, cls, "detections") if len(det) else pd.Series([], dtype="object")
    lab_cls = _classes(lab, cls, "labels") if len(lab) else pd.Series([], dtype="object")
    if cls is not None and cls not in DETECTION_CLASSES and cls not in set(lab_cls):
        raise UsageError(f"class {cls!r} is in neither the labels nor {', '.join(DETECTION_CLASSES)}")

    # geometry checks
    lab_types = lab.geometry.geom_type if len(lab) else pd.Series([], dtype="object")
    empty = lab.geometry.isna() | lab.geometry.is_empty if len(lab) else pd.Series([], dtype=bool)
    if empty.any():
        notes.append(f"{int(empty.sum())} label(s) without geometry were left out")
    bad = ~lab_types.isin([*_POINTS, *_POLYGONS]) & ~empty
    if bad.any():
        kinds = ", ".join(sorted(set(lab_types[bad].astype(str))))
        raise UsageError(f"labels must be points or polygons; {int(bad.sum())} are {kinds}")
    det_types = det.geometry.geom_type if len(det) else pd.Series([], dtype="object")
    det_empty = det.geometry.isna() | det.geometry.is_empty if len(det) else pd.Series([], dtype=bool)
    det_bad = ~det_types.isin([*_POINTS, *_POLYGONS]) & ~det_empty
    if det_bad.any() or det_empty.any():
        notes.append(f"{int((det_bad | det_empty).sum())} detection(s) without a point or polygon were left out")

    # scores
    if "score" in det.columns and len(det):
        score = pd.to_numeric(det["score"], errors="coerce").fillna(1.0).to_numpy(dtype=np.float64)
    else:
        score = np.ones(len(det), dtype=np.float64)

    # scenes
    det_scene_col, lab_scene_col = _scene_column(det), _scene_column(lab)
    if scene_id is not None:
        det_scene = pd.Series(scene_id, index=det.index, dtype="object")
        lab_scene = pd.Series(scene_id, index=lab.index, dtype="object")
    elif (det_scene_col is not None or len(det) == 0) and (lab_scene_col is not None or len(lab) == 0) and (
            det_scene_col is not None or lab_scene_col is not None):
        # an empty frame (GDAL reads an empty GeoJSON back without columns) takes the other's scenes
        det_scene = det_scene_col if det_scene_col is not None else pd.Series([], dtype="object")
        lab_scene = lab_scene_col if lab_scene_col is not None else pd.Series([], dtype="object")
        if len(det) and len(lab) and not set(det_scene) & set(lab_scene):
            raise UsageError(
                f"the detections' scene ids ({_few(det_scene)}) and the labels' ({_few(lab_scene)}) share none; "
                "pass --scene-id NAME to evaluate a single scene whatever its ids")
    else:
        ids = sorted(set(det_scene_col if det_scene_col is not None else [])
                     | set(lab_scene_col if lab_scene_col is not None else []))
        one = ids[0] if len(ids) == 1 and ids[0] else ALL
        det_scene = pd.Series(one, index=det.index, dtype="object")
        lab_scene = pd.Series(one, index=lab.index, dtype="object")

    keep_lab = ~empty.to_numpy(dtype=bool) if len(lab) else np.zeros(0, dtype=bool)
    keep_det = ~(det_bad | det_empty).to_numpy(dtype=bool) if len(det) else np.zeros(0, dtype=bool)
    if cls is not None:
        keep_lab &= (lab_cls == cls).to_numpy(dtype=bool)
        keep_det &= (det_cls == cls).to_numpy(dtype=bool)
    low = keep_det & (score < min_score)
    keep_det &= ~low
    labelled_scenes = set(lab_scene[~empty.to_numpy(dtype=bool)]) if len(lab) else set()
    if scene_id is None and det_scene_col is not None and lab_scene_col is not None and len(lab) and not all_scenes:
        outside = keep_det & ~det_scene.isin(labelled_scenes).to_numpy(dtype=bool)
        if outside.any():
            n_out = len(set(det_scene[outside]))
            notes.append(f"{int(outside.sum())} detection(s) on {n_out} scene(s) without labels were not evaluated "
                         "(--all-scenes counts them as false positives)")
        keep_det &= ~outside

    d = det[keep_det].copy()
    d["class"] = det_cls[keep_det].to_numpy()
    d["eval_scene"] = det_scene[keep_det].to_numpy()
    d_score = score[keep_det]
    lb = lab[keep_lab].copy()
    lb["class"] = lab_cls[keep_lab].to_numpy()
    lb["eval_scene"] = lab_scene[keep_lab].to_numpy()
    care = _visible(lb)
    lab_dist = np.array([by_class.get(c, other) for c in lb["class"]], dtype=np.float64)
    d = d.reset_index(drop=True)
    lb = lb.reset_index(drop=True)

    det_label = np.full(len(d), -1, dtype=np.int64)
    det_outcome = np.full(len(d), "fp", dtype=object)
    det_dist = np.full(len(d), np.nan)
    det_iou = np.full(len(d), np.nan)
    lab_det = np.full(len(lb), -1, dtype=np.int64)

    scenes = sorted(labelled_scenes | set(d["eval_scene"]))
    for sc in scenes:
        di = np.flatnonzero((d["eval_scene"] == sc).to_numpy())
        li = np.flatnonzero((lb["eval_scene"] == sc).to_numpy())
        if len(di) == 0 or len(li) == 0:
            continue
        both = pd.concat([d.geometry.iloc[di], lb.geometry.iloc[li]])
        minx, miny, maxx, maxy = both.total_bounds
        crs = utm_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0)
        dg = np.asarray(d.geometry.iloc[di].to_crs(crs).to_numpy(), dtype=object)
        lg = np.asarray(lb.geometry.iloc[li].to_crs(crs).to_numpy(), dtype=object)
        m = _match(dg, d_score[di], d["class"].to_numpy()[di], lg, lb["class"].to_numpy()[li], care[li],
                   lab_dist[li], iou_threshold)
        matched = m.det_label >= 0
        det_label[di[matched]] = li[m.det_label[matched]]
        det_outcome[di[matched]] = "tp"
        det_dist[di] = m.distance
        det_iou[di] = m.iou
        det_outcome[di[m.ignored]] = "ignored"
        lab_det[li[m.det_label[matched]]] = di[matched]
    lab_outcome = np.where(lab_det >= 0, "tp", np.where(care, "fn", "dont_care")).astype(object)

    d = d.assign(outcome=det_outcome, label_index=det_label, distance_m=det_dist, iou=det_iou)
    lb = lb.assign(outcome=lab_outcome, detection_index=lab_det)
    per_scene, per_class, total, medians = _summarise(d, lb, scenes)
    return Evaluation(
        per_scene=per_scene, per_class=per_class, total=total, median_relative_count_error=medians,
        match_distance_m=match_distances(sorted(set(lb["class"]) | set(d["class"])), match_distance_m),
        iou_threshold=iou_threshold, min_score=float(min_score),
        simulated=simulated, notes=tuple(notes), detections=d, labels=lb,
    )


def _distances(match_distance_m: float | Mapping[str, float] | None) -> tuple[dict[str, float], float]:
    """``(per class, for other classes)`` match distances (see :func:`evaluate`).

    Raises:
        UsageError: a distance is negative or not finite.
    """
    if match_distance_m is None:
        by_class, other = dict(MATCH_DISTANCE_M), DEFAULT_MATCH_DISTANCE_M
    elif isinstance(match_distance_m, Mapping):
        by_class, other = {str(c): float(v) for c, v in match_distance_m.items()}, DEFAULT_MATCH_DISTANCE_M
    else:
        by_class, other = {}, float(match_distance_m)
    for value in (*by_class.values(), other):
        if not (math.isfinite(value) and value >= 0.0):
            raise UsageError(f"match distance {value:g} m must be a number >= 0")
    return by_class, other


def match_distances(classes: Sequence[str], match_distance_m: float | Mapping[str, float] | None = None,
                    ) -> dict[str, float]:
    """Return the match distance of each class in ``classes``, metres, as :func:`evaluate` applies it.

    ``match_distance_m``: one distance for every class, per-class distances, or None for
    :data:`MATCH_DISTANCE_M` (classes it does not name: :data:`DEFAULT_MATCH_DISTANCE_M`).

    Raises:
        UsageError: a distance is negative or not finite.
    """
    by_class, other = _distances(match_distance_m)
    return {c: by_class.get(c, other) for c in classes}


evaluate_detections = evaluate
"""Alias of :func:`evaluate`, for modules that have an ``evaluate`` of their own (the training loop)."""


def _few(values: pd.Series) -> str:
    ids = sorted(set(values))
    return ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


@dataclass(frozen=True)
class _Matched:
    """Result of :func:`_match` for one scene: arrays over its detections."""

    det_label: I64
    """``(n_det,)`` index of the matched visible label, -1 when none."""
    ignored: Bool
    """``(n_det,)`` unmatched detections that are candidates of a don't-care label."""
    distance: F64
    """``(n_det,)`` metres from the location to the matched label (NaN unless location-matched)."""
    iou: F64
    """``(n_det,)`` IoU with the matched label (NaN unless IoU-matched)."""


def _match(
    det_geom: npt.NDArray[np.object_], score: F64, det_cls: npt.NDArray[np.object_],
    lab_geom: npt.NDArray[np.object_], lab_cls: npt.NDArray[np.object_], care: Bool,
    lab_distance_m: F64, iou_threshold: float | None,
) -> _Matched:
    """Greedy one-to-one matching of one scene; geometries in a metric CRS (metres).

    ``lab_distance_m``: the match distance of each label (by its class), metres.
    """
    n_det, n_lab = len(det_geom), len(lab_geom)
    det_poly = np.isin(shapely.get_type_id(det_geom), [3, 6])
    lab_poly = np.isin(shapely.get_type_id(lab_geom), [3, 6])
    lab_geom = np.where(shapely.is_valid(lab_geom), lab_geom, shapely.make_valid(lab_geom))
    location = np.where(det_poly, shapely.centroid(det_geom), det_geom)
    tree = shapely.STRtree(lab_geom)
    widest = float(lab_distance_m.max()) if n_lab else 0.0
    if widest > 0:
        qd, ql = tree.query(location, predicate="dwithin", distance=widest)
    else:
        qd, ql = tree.query(location, predicate="intersects")
    keep = det_cls[qd] == lab_cls[ql]
    if iou_threshold is not None:
        keep &= ~(det_poly[qd] & lab_poly[ql])
    qd, ql = qd[keep], ql[keep]
    dist = shapely.distance(location[qd], lab_geom[ql]).astype(np.float64)
    near = dist <= lab_distance_m[ql]
    qd, ql, dist = qd[near], ql[near], dist[near]
    reach = lab_distance_m[ql]
    cost = np.divide(dist, reach, out=np.zeros(len(qd)), where=reach > 0)
    iou = np.full(len(qd), np.nan)
    if iou_threshold is not None and det_poly.any() and lab_poly.any():
        polys = np.flatnonzero(det_poly)
        pd_, pl = tree.query(det_geom[polys], predicate="intersects")
        pd_ = polys[pd_]
        ok = lab_poly[pl] & (det_cls[pd_] == lab_cls[pl])
        pd_, pl = pd_[ok], pl[ok]
        inter = shapely.area(shapely.intersection(det_geom[pd_], lab_geom[pl]))
        union = shapely.area(det_geom[pd_]) + shapely.area(lab_geom[pl]) - inter
        pair_iou = np.divide(inter, union, out=np.zeros(len(pd_)), where=union > 0)
        ok = pair_iou >= iou_threshold
        pd_, pl, pair_iou = pd_[ok], pl[ok], pair_iou[ok]
        qd = np.concatenate([qd, pd_])
        ql = np.concatenate([ql, pl])
        dist = np.concatenate([dist, np.full(len(pd_), np.nan)])
        cost = np.concatenate([cost, 1.0 - pair_iou])
        iou = np.concatenate([iou, pair_iou])
    det_label = np.full(n_det, -1, dtype=np.int64)
    lab_used = np.zeros(n_lab, dtype=bool)
    out_dist = np.full(n_det, np.nan)
    out_iou = np.full(n_det, np.nan)
    visible = care[ql]
    v = np.flatnonzero(visible)
    order = v[np.lexsort((ql[v], qd[v], cost[v], -score[qd[v]]))]
    for k in order.tolist():
        i, j = int(qd[k]), int(ql[k])
        if det_label[i] >= 0 or lab_used[j]:
            continue
        det_label[i] = j
        lab_used[j] = True
        out_dist[i] = dist[k]
        out_iou[i] = iou[k]
    ignored = np.zeros(n_det, dtype=bool)
    hidden = qd[~visible]
    ignored[hidden] = True
    ignored &= det_label < 0
    return _Matched(det_label=det_label, ignored=ignored, distance=out_dist, iou=out_iou)


def _summarise(
    d: pd.DataFrame, lb: pd.DataFrame, scenes: Sequence[str]
) -> tuple[tuple[Metrics, ...], tuple[Metrics, ...], Metrics, dict[str, float]]:
    classes = sorted(set(d["class"]) | set(lb["class"]))
    det_counts = d.groupby(["eval_scene", "class", "outcome"]).size()
    lab_counts = lb.groupby(["eval_scene", "class", "outcome"]).size()

    def get(counts: pd.Series, sc: str, c: str, outcome: str) -> int:
        return int(counts.get((sc, c, outcome), 0))

    per_scene: list[Metrics] = []
    for sc in scenes:
        for c in classes:
            tp, fp = get(det_counts, sc, c, "tp"), get(det_counts, sc, c, "fp")
            fn = get(lab_counts, sc, c, "fn")
            per_scene.append(Metrics(sc, c, n_labels=tp + fn, n_detections=tp + fp, tp=tp, fp=fp, fn=fn,
                                     ignored=get(det_counts, sc, c, "ignored"),
                                     dont_care=get(lab_counts, sc, c, "dont_care")))

    def add(items: Sequence[Metrics], scene: str, c: str) -> Metrics:
        tp, fp, fn = (sum(getattr(m, k) for m in items) for k in ("tp", "fp", "fn"))
        return Metrics(scene, c, n_labels=tp + fn, n_detections=tp + fp, tp=tp, fp=fp, fn=fn,
                       ignored=sum(m.ignored for m in items), dont_care=sum(m.dont_care for m in items))

    per_class = tuple(add([m for m in per_scene if m.cls == c], ALL, c) for c in classes)
    total = add(per_scene, ALL, ALL)
    medians: dict[str, float] = {}
    for c in classes:
        errs = [m.relative_count_error for m in per_scene if m.cls == c and m.n_labels > 0]
        medians[c] = float(np.median(errs)) if errs else math.nan
    scene_totals = [add([m for m in per_scene if m.scene_id == sc], sc, ALL) for sc in scenes]
    errs = [m.relative_count_error for m in scene_totals if m.n_labels > 0]
    medians[ALL] = float(np.median(errs)) if errs else math.nan
    return tuple(per_scene), per_class, total, medians
