"""Object matching across dates: the same vessel at the same berth on consecutive acquisitions is one presence.

Point objects (vessels) are linked acquisition by acquisition (:func:`link_points`): at each acquisition a
shapely :class:`~shapely.STRtree` of its detections is queried with the last positions of the open presences
(``dwithin`` ``radius_m``), and candidate pairs are assigned one to one, most recently seen presence first, then
nearest first (greedy). A presence missed on up to ``max_gap`` acquisitions in a row (a partly clouded scene, a
detector miss) stays open. No all-pairs loop: the work per acquisition is the tree query, so 1,000,000
detections over 200 dates link in a few seconds (``benchmarks/bench_matching.py``).

Sensors are never mixed (Sentinel-1 and Sentinel-2 see different subsets of the ships), and only acquisitions
the caller marks as used (well observed) take part: the sequence of acquisitions, not of detections, decides
that an object departed, so a well observed acquisition with no detection ends a presence.

Area objects (encampments, vehicle parks) are compared as footprints (:func:`footprint_change`): the union of
the polygons of the test window minus that of the baseline is ``new``, the reverse ``removed``, the
intersection ``persisting``, each with its area in m2.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS, Geod

__all__ = [
    "FOOTPRINT_COLUMNS",
    "PRESENCE_COLUMNS",
    "footprint_change",
    "geodesic_area_m2",
    "link_points",
    "match_presences",
    "utm_crs",
]

PRESENCE_COLUMNS = (
    "presence_id", "aoi", "class", "sensor", "status", "first_seen", "last_seen", "arrived_after",
    "departed_before", "n_seen", "n_acquisitions", "length_m", "simulated",
)
"""Columns of :func:`match_presences` (then ``geometry``, a Point at the mean position, EPSG:4326)."""
FOOTPRINT_COLUMNS = ("aoi", "class", "status", "area_m2", "baseline", "test", "simulated")
"""Columns of :func:`footprint_change` (then ``geometry``, (Multi)Polygons in EPSG:4326)."""

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def utm_crs(lon: float, lat: float) -> CRS:
    """Return the WGS 84 / UTM zone CRS holding ``(lon, lat)`` (degrees): metres for distances and areas."""
    zone = min(60, max(1, int((lon + 180.0) // 6.0) + 1))
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def geodesic_area_m2(geoms: gpd.GeoSeries) -> F64:
    """Geodesic area in m2 (WGS 84 ellipsoid) of each geometry of ``geoms`` (any CRS; reprojected to 4326)."""
    geod = Geod(ellps="WGS84")
    g = geoms.to_crs(4326) if geoms.crs is not None and geoms.crs.to_epsg() != 4326 else geoms
    return np.array([abs(geod.geometry_area_perimeter(x)[0]) if x is not None else 0.0 for x in g], dtype=float)


def link_points(
    x: F64, y: F64, frame: I64, n_frames: int, radius_m: float = 50.0, max_gap: int = 1
) -> I64:
    """Link points across frames (acquisitions) into presences; return a presence id per point.

    Args:
        x: ``(n,)`` point x coordinates in a metric CRS (metres), e.g. the AOI's UTM zone.
        y: ``(n,)`` point y coordinates, same CRS.
        frame: ``(n,)`` index ``0..n_frames-1`` of the acquisition each point was detected on (time order).
        n_frames: number of acquisitions in the sequence (frames with no points are allowed and count).
        radius_m: largest distance between a presence's last position and its next detection, metres.
        max_gap: acquisitions in a row a presence may be missed and still continue.

    Returns:
        ``(n,)`` int64 presence ids, ``0..k-1`` in order of first appearance. Two points on one frame never
        share an id.

    Example:
        >>> ids = link_points(np.array([0.0, 3.0, 500.0]), np.zeros(3), np.array([0, 1, 1]), 2)
        >>> ids.tolist()
        [0, 0, 1]
    """
    n = len(x)
    ids = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return ids
    order = np.argsort(frame, kind="stable")
    bounds = np.searchsorted(frame[order], np.arange(n_frames + 1))
    active_pt = np.empty(0, dtype=np.int64)  # index of the last point of each open presence
    active_frame = np.empty(0, dtype=np.int64)
    next_id = 0
    for f in range(n_frames):
        cur = order[bounds[f]:bounds[f + 1]]
        if len(active_pt):
            alive = f - active_frame <= max_gap + 1
            active_pt, active_frame = active_pt[alive], active_frame[alive]
        matched_cur = np.zeros(len(cur), dtype=bool)
        new_active_pt = active_pt.copy()
        new_active_frame = active_frame.copy()
        if len(cur) and len(active_pt):
            tree = shapely.STRtree(np.asarray(shapely.points(x[cur], y[cur])))
            qa, qc = tree.query(shapely.points(x[active_pt], y[active_pt]), predicate="dwithin", distance=radius_m)
            if len(qa):
                pa, pc = active_pt[qa], cur[qc]
                dist = np.hypot(x[pa] - x[pc], y[pa] - y[pc])
                gap = f - active_frame[qa]
                rank = np.lexsort((dist, gap))
                used_a = np.zeros(len(active_pt), dtype=bool)
                for a, c in zip(qa[rank].tolist(), qc[rank].tolist(), strict=True):
                    if used_a[a] or matched_cur[c]:
                        continue
                    used_a[a] = True
                    matched_cur[c] = True
                    ids[cur[c]] = ids[active_pt[a]]
                    new_active_pt[a] = cur[c]
                    new_active_frame[a] = f
        fresh = cur[~matched_cur]
        ids[fresh] = np.arange(next_id, next_id + len(fresh))
        next_id += len(fresh)
        active_pt = np.concatenate([new_active_pt, fresh])
        active_frame = np.concatenate([new_active_frame, np.full(len(fresh), f, dtype=np.int64)])
    return ids


def match_presences(
    detections: gpd.GeoDataFrame,
    acquisitions: pd.DataFrame,
    classes: Sequence[str] = ("vessel",),
    radius_m: float = 50.0,
    max_gap: int = 1,
) -> gpd.GeoDataFrame:
    """Link point detections into presences per AOI, class and sensor, and say which arrived or departed.

    Args:
        detections: detections contract (EPSG:4326; ``class, aoi, sensor, acquired, scene_id, simulated``,
            optional ``length_m``); only Point rows of ``classes`` are linked.
        acquisitions: the acquisitions to use, one row per scene with ``aoi, sensor, acquired, scene_id``
            (e.g. the well observed rows of ``scenes.geojson``); detections on other scenes are ignored.
        classes: point classes to link.
        radius_m: see :func:`link_points`.
        max_gap: see :func:`link_points`.

    Returns:
        GeoDataFrame (EPSG:4326, Points at the mean position) with :data:`PRESENCE_COLUMNS`. ``status``:
        ``persisted`` (seen on the first and last acquisition of its AOI/sensor sequence), ``arrived`` (not on
        the first, seen on the last), ``departed`` (seen on the first, not on the last), ``visited`` (arrived
        and departed within the period). ``arrived_after`` / ``departed_before`` bracket the change: the
        acquisition before the first sighting and the one after the last (empty when none). Dates are UTC
        ISO 8601 acquisition times.
    """
    rows: list[dict[str, object]] = []
    geoms: list[shapely.Geometry] = []
    if len(detections) and len(acquisitions):
        det = detections[detections["class"].isin(list(classes)) & (detections.geometry.geom_type == "Point")]
        for (aoi, sensor), acq in acquisitions.groupby(["aoi", "sensor"], sort=True):
            acq = acq.sort_values("acquired")
            times = acq["acquired"].astype(str).tolist()
            frame_of = {sid: i for i, sid in enumerate(acq["scene_id"].astype(str))}
            for cls in classes:
                d = det[(det["aoi"] == aoi) & (det["sensor"] == sensor) & (det["class"] == cls)]
                d = d[d["scene_id"].astype(str).isin(frame_of)]
                if d.empty:
                    continue
                lon, lat = d.geometry.x.to_numpy(), d.geometry.y.to_numpy()
                metric = d.to_crs(utm_crs(float(lon.mean()), float(lat.mean())))
                frame = d["scene_id"].astype(str).map(frame_of).to_numpy(dtype=np.int64)
                ids = link_points(metric.geometry.x.to_numpy(), metric.geometry.y.to_numpy(), frame, len(times),
                                  radius_m, max_gap)
                length = d["length_m"].to_numpy(dtype=float) if "length_m" in d else np.full(len(d), np.nan)
                sim = d["simulated"].astype(bool).to_numpy()
                frame_df = pd.DataFrame({"id": ids, "f": frame, "lon": lon, "lat": lat, "len": length, "sim": sim})
                for pid_key, g in frame_df.groupby("id", sort=True):
                    pid = int(str(pid_key))
                    first, last = int(g["f"].min()), int(g["f"].max())
                    arrived, departed = first > 0, last < len(times) - 1
                    status = {(False, False): "persisted", (True, False): "arrived", (False, True): "departed",
                              (True, True): "visited"}[(arrived, departed)]
                    rows.append({
                        "presence_id": f"{aoi}-{sensor}-{cls}-{int(pid):05d}", "aoi": aoi, "class": cls,
                        "sensor": sensor, "status": status, "first_seen": times[first], "last_seen": times[last],
                        "arrived_after": times[first - 1] if arrived else "",
                        "departed_before": times[last + 1] if departed else "",
                        "n_seen": len(g), "n_acquisitions": last - first + 1,
                        "length_m": round(float(np.nanmean(g["len"])), 1) if g["len"].notna().any() else np.nan,
                        "simulated": bool(g["sim"].any()),
                    })
                    geoms.append(shapely.Point(float(g["lon"].mean()), float(g["lat"].mean())))
    return gpd.GeoDataFrame(rows, columns=list(PRESENCE_COLUMNS), geometry=geoms, crs=4326)


def footprint_change(
    baseline: gpd.GeoDataFrame, test: gpd.GeoDataFrame, baseline_label: str, test_label: str,
    min_area_m2: float = 0.0,
) -> gpd.GeoDataFrame:
    """Compare area-class footprints of two windows per AOI and class: ``new``, ``removed``, ``persisting``.

    Args:
        baseline: polygon detections of the baseline window (EPSG:4326; ``aoi``, ``class``, ``simulated``).
        test: polygon detections of the test window.
        baseline_label: the baseline window as text (written to every row).
        test_label: the test window as text.
        min_area_m2: parts smaller than this (m2) are dropped (slivers from boundary jitter).

    Returns:
        GeoDataFrame (EPSG:4326) with :data:`FOOTPRINT_COLUMNS`; ``area_m2`` is geodesic.
    """
    rows: list[dict[str, object]] = []
    geoms: list[shapely.Geometry] = []
    both = pd.concat([baseline.assign(_w="b"), test.assign(_w="t")], ignore_index=True)
    if both.empty:
        return gpd.GeoDataFrame(columns=list(FOOTPRINT_COLUMNS), geometry=[], crs=4326)
    both = gpd.GeoDataFrame(both, geometry="geometry", crs=4326)
    both = both[both.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    for (aoi, cls), g in both.groupby(["aoi", "class"], sort=True):
        b = shapely.union_all(g[g["_w"] == "b"].geometry.to_numpy())
        t = shapely.union_all(g[g["_w"] == "t"].geometry.to_numpy())
        sim = bool(g["simulated"].astype(bool).any())
        for status, geom in (("new", t.difference(b)), ("removed", b.difference(t)), ("persisting", t.intersection(b))):
            geom = shapely.make_valid(geom)
            parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
            if not parts:
                continue
            series = gpd.GeoSeries(parts, crs=4326)
            area = geodesic_area_m2(series)
            keep = [p for p, a in zip(parts, area, strict=True) if a >= min_area_m2]
            if not keep:
                continue
            merged = shapely.union_all(keep)
            rows.append({"aoi": aoi, "class": cls, "status": status,
                         "area_m2": round(float(geodesic_area_m2(gpd.GeoSeries([merged], crs=4326))[0]), 1),
                         "baseline": baseline_label, "test": test_label, "simulated": sim})
            geoms.append(merged)
    return gpd.GeoDataFrame(rows, columns=list(FOOTPRINT_COLUMNS), geometry=geoms, crs=4326)
