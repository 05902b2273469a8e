"""The analyst's report: one self-contained ``report.html`` per run folder, readable with no network.

:func:`write_report` reads only the run folder (``run.json``, ``scenes.geojson``, ``detections.geojson``,
``changes.geojson``, ``timeseries.csv`` / ``counts.csv``, ``comparisons.csv``, ``claims.json``, ``evidence/``) and
the archived scenes it names, and writes one HTML file holding everything inline: styles, a small plain
JavaScript (no library), the maps as inline SVG with the quicklooks as JPEG data URIs, the charts as inline SVG
and the evidence PNGs as data URIs. Nothing is fetched when the file is opened (no CDN, no fonts, no tiles), so it
opens on an air-gapped workstation, from an e-mail attachment or a USB stick::

    write_report("data/outputs/20241124T101500Z-primorsky-autumn-2024")   # -> .../report.html

Sections: maps (one per AOI: quicklook of the chosen date as the base layer, that date's detections, the run's
change layers, a date selector, pan and zoom), before/after pairs, count time series with the observed fraction,
claim verdicts (when ``claims.json`` exists) and provenance. A simulated run carries a banner in every section.
Why no map library: ``docs/report.md``.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from satwatch.atomic import atomic_path
from satwatch.errors import InputFileError
from satwatch.outputs.quicklook import MapGrid, render_quicklook

__all__ = [
    "CLASS_COLOURS",
    "REPORT_NAME",
    "STATUS_COLOURS",
    "VERDICT_COLOURS",
    "build_report_html",
    "publish_report",
    "write_report",
]

log = logging.getLogger("satwatch")

REPORT_NAME = "report.html"
"""File name of the report inside the run folder."""

CLASS_COLOURS = {"vessel": "#00e5ff", "vehicle": "#ffb300", "encampment": "#ff3d00"}
"""Display colour per detection class (the same colours as the QGIS styles)."""
STATUS_COLOURS = {"arrived": "#00e676", "departed": "#ff1744", "persisted": "#448aff", "visited": "#e040fb",
                  "new": "#00e676", "removed": "#ff1744", "persisting": "#448aff",
                  "s1_increase": "#ffea00", "s1_decrease": "#2979ff", "s2_disturbance": "#ff6d00"}
"""Display colour per change status (presences, footprints) or pixel-change kind."""
VERDICT_COLOURS = {"supported": "#1b5e20", "contradicted": "#b71c1c", "inconclusive": "#5d4037"}
"""Badge colour per verdict."""


@dataclass(frozen=True)
class _Frame:
    """One date of one AOI's map."""

    scene_id: str
    """Scene id (``<aoi>_<sensor>_<time>``)."""
    sensor: str
    """Sensor of the scene."""
    acquired: str
    """Acquisition time, UTC ISO 8601."""
    observed_fraction: float
    """Share of the AOI valid and clear."""
    n_detections: int
    """Detections in the scene."""
    image_id: str | None
    """Element id of the quicklook in the report's image store; None when the scene could not be read."""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 2) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(v):
        return "-"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.{digits}f}"


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else None


def _read_vector(path: Path) -> gpd.GeoDataFrame:
    if not path.is_file():
        return gpd.GeoDataFrame({"aoi": []}, geometry=[], crs=4326)
    gdf = gpd.read_file(path)
    return gdf if len(gdf) else gpd.GeoDataFrame({"aoi": []}, geometry=[], crs=4326)


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() and path.stat().st_size > 0 else pd.DataFrame()


def _banner(simulated: bool, notice: str) -> str:
    if not simulated:
        return ""
    text = notice.removeprefix("SIMULATED").strip(" :") or "simulated imagery"
    return f'<div class="banner" role="note"><b>SIMULATED</b> {_e(text)}</div>'


# --- SVG geometry -------------------------------------------------------------------------------------------------

def _path_d(geom: BaseGeometry) -> str:
    parts: list[str] = []
    polys: Iterable[BaseGeometry]
    if isinstance(geom, Polygon):
        polys = [geom]
    elif isinstance(geom, MultiPolygon):
        polys = geom.geoms
    elif isinstance(geom, LineString):
        return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in geom.coords)
    else:
        polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon)]
    for poly in polys:
        assert isinstance(poly, Polygon)
        for ring in [poly.exterior, *poly.interiors]:
            coords = list(ring.coords)
            if coords:
                parts.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in coords) + " Z")
    return " ".join(parts)


def _feature_svg(geom_px: BaseGeometry, colour: str, title: str, radius: float, css: str) -> str:
    tip = f"<title>{_e(title)}</title>"
    if isinstance(geom_px, Point):
        return (f'<circle class="{css}" cx="{geom_px.x:.1f}" cy="{geom_px.y:.1f}" r="{radius:.1f}" '
                f'stroke="{colour}" fill="{colour}">{tip}</circle>')
    if geom_px.is_empty:
        return ""
    if geom_px.geom_type == "MultiPoint":
        return "".join(_feature_svg(p, colour, title, radius, css) for p in getattr(geom_px, "geoms", []))
    return f'<path class="{css}" d="{_path_d(geom_px)}" stroke="{colour}" fill="{colour}">{tip}</path>'


def _detection_title(row: pd.Series) -> str:
    bits = [str(row.get("class", "object")), f"score {_num(row.get('score'))}"]
    if pd.notna(row.get("length_m")) and row.get("length_m"):
        bits.append(f"length {_num(row.get('length_m'), 0)} m")
    if pd.notna(row.get("area_m2")) and row.get("area_m2"):
        bits.append(f"area {_num(row.get('area_m2'), 0)} m2")
    return ", ".join(bits)


def _detections_svg(dets: gpd.GeoDataFrame, grid: MapGrid) -> str:
    out = []
    for _, row in dets.iterrows():
        if row.geometry is None or row.geometry.is_empty:
            continue
        colour = CLASS_COLOURS.get(str(row.get("class")), "#ffffff")
        score = float(row["score"]) if pd.notna(row.get("score")) else 0.5
        out.append(_feature_svg(grid.to_pixels(row.geometry), colour, _detection_title(row), 2.5 + 4.0 * score,
                                "det"))
    return "".join(out)


def _changes_svg(changes: gpd.GeoDataFrame, grid: MapGrid) -> str:
    out = []
    for _, row in changes.iterrows():
        if row.geometry is None or row.geometry.is_empty:
            continue
        layer = str(row.get("layer") or "")
        key = str(row.get("kind") or "") if layer == "change_pixels" else str(row.get("status") or "")
        colour = STATUS_COLOURS.get(key, "#ffffff")
        if layer == "change_presences":
            title = (f"{row.get('class', '')} presence {key}: first {row.get('first_seen', '')}, last "
                     f"{row.get('last_seen', '')}, seen {row.get('n_seen', '')}x")
        else:
            title = f"{layer.removeprefix('change_')} {key}: {_num(row.get('area_m2'), 0)} m2"
        out.append(_feature_svg(grid.to_pixels(row.geometry), colour, title, 5.0, f"chg {_e(key)}"))
    return "".join(out)


# --- maps ---------------------------------------------------------------------------------------------------------

def _grid_for(aoi_geom: BaseGeometry, scenes: gpd.GeoDataFrame, max_px: int) -> MapGrid:
    crs: str | None = None
    for p in scenes.get("path", pd.Series(dtype=str)).dropna():
        try:
            import rasterio

            with rasterio.open(p) as src:
                if src.crs is not None and src.crs.is_projected:
                    crs = src.crs.to_string()
                    break
        except (OSError, rasterio.errors.RasterioIOError):
            continue
    if crs is None:
        crs = gpd.GeoSeries([aoi_geom], crs=4326).estimate_utm_crs().to_string()
    return MapGrid.for_geometry(aoi_geom, crs, max_px=max_px)


class _ImageStore:
    """Quicklooks rendered once and referenced by id from every map and pair (``<use href="#id">``)."""

    def __init__(self) -> None:
        self.images: list[str] = []
        self.ids: dict[str, str | None] = {}

    def add(self, scene_id: str, path: str | None, grid: MapGrid) -> str | None:
        if scene_id in self.ids:
            return self.ids[scene_id]
        image_id: str | None = None
        if path:
            try:
                jpeg = render_quicklook(path, grid)
                image_id = f"ql-{len(self.ids)}"
                data = base64.b64encode(jpeg).decode("ascii")
                self.images.append(f'<image id="{image_id}" x="0" y="0" width="{grid.width}" height="{grid.height}" '
                                   f'preserveAspectRatio="none" href="data:image/jpeg;base64,{data}"/>')
            except (InputFileError, ValueError, OSError) as exc:
                log.warning("report: no quicklook for %s (%s)", scene_id, exc)
        self.ids[scene_id] = image_id
        return image_id

    def svg(self) -> str:
        return ('<svg class="store" width="0" height="0" aria-hidden="true"><defs>' + "".join(self.images)
                + "</defs></svg>")


def _default_frame(frames: Sequence[_Frame]) -> int:
    """Index of the frame shown first: a well observed optical scene with the most detections, else the best one."""
    if not frames:
        return 0
    good = [i for i, f in enumerate(frames) if f.observed_fraction >= 0.5 and f.image_id]
    if good:
        return max(good, key=lambda i: (frames[i].sensor != "s1", frames[i].observed_fraction >= 0.9,
                                        frames[i].n_detections, frames[i].observed_fraction, i))
    return max(range(len(frames)), key=lambda i: frames[i].observed_fraction)


def _legend(classes: Iterable[str], change_keys: Iterable[str]) -> str:
    items = [f'<span class="key"><i style="background:{CLASS_COLOURS.get(c, "#fff")}"></i>{_e(c)}</span>'
             for c in classes]
    items += [f'<span class="key"><i class="ring" style="border-color:{STATUS_COLOURS.get(k, "#fff")}"></i>'
              f"{_e(k.replace('_', ' '))}</span>" for k in change_keys]
    return '<div class="legend">' + "".join(items) + "</div>"


def _map_block(aoi: str, aoi_geom: BaseGeometry, scenes: gpd.GeoDataFrame, dets: gpd.GeoDataFrame,
               changes: gpd.GeoDataFrame, store: _ImageStore, max_px: int) -> tuple[str, MapGrid, list[_Frame]]:
    grid = _grid_for(aoi_geom, scenes, max_px)
    frames: list[_Frame] = []
    layers: list[str] = []
    for _, sc in scenes.sort_values("acquired").iterrows():
        sid = str(sc["scene_id"])
        image_id = store.add(sid, sc.get("path") if isinstance(sc.get("path"), str) else None, grid)
        scene_dets = dets[dets["scene_id"] == sid] if "scene_id" in dets else dets.iloc[:0]
        frames.append(_Frame(sid, str(sc.get("sensor", "")), str(sc.get("acquired", "")),
                             float(sc.get("observed_fraction", float("nan"))), len(scene_dets), image_id))
        base = (f'<use href="#{image_id}"/>' if image_id else
                f'<rect width="{grid.width}" height="{grid.height}" class="noimg"/>'
                f'<text x="10" y="20" class="noimg-t">no quicklook: scene file not readable</text>')
        layers.append(f'<g class="frame" data-scene="{_e(sid)}" style="display:none">{base}'
                      f'<g class="dets">{_detections_svg(scene_dets, grid)}</g></g>')
    first = _default_frame(frames)
    if layers:
        layers[first] = layers[first].replace('style="display:none"', "", 1)
    aoi_path = _path_d(grid.to_pixels(aoi_geom))
    chg = _changes_svg(changes, grid)
    options = "".join(
        f'<option value="{i}"{" selected" if i == first else ""}>{_e(f.acquired[:16].replace("T", " "))} '
        f"{_e(f.sensor.upper())} - observed {_num(100 * f.observed_fraction, 0)}% - {f.n_detections} det."
        "</option>"
        for i, f in enumerate(frames))
    km = grid.pixel_size * grid.width / 1000
    bar_km = next((b for b in (0.5, 1, 2, 5, 10, 20, 50) if b >= km / 6), 50)
    bar_px = bar_km * 1000 / grid.pixel_size
    classes = sorted(set(dets["class"].dropna().astype(str))) if "class" in dets and len(dets) else []
    keys: list[str] = []
    if len(changes):
        for col in ("status", "kind"):
            if col in changes:
                keys += [k for k in changes[col].dropna().astype(str).unique() if k]
    svg = (f'<svg class="map" viewBox="0 0 {grid.width} {grid.height}" data-w="{grid.width}" data-h="{grid.height}" '
           f'role="img" aria-label="map of {_e(aoi)}">'
           f'<rect width="{grid.width}" height="{grid.height}" class="mapbg"/>'
           f'<g class="frames">{"".join(layers)}</g>'
           f'<path class="aoi" d="{aoi_path}"><title>AOI {_e(aoi)}</title></path>'
           f'<g class="changes">{chg}</g>'
           f'<g class="scalebar" transform="translate(10,{grid.height - 14})"><rect width="{bar_px:.1f}" height="4"/>'
           f'<text y="-4">{bar_km:g} km</text></g></svg>')
    controls = (f'<div class="controls"><button type="button" class="prev" title="earlier date">&#9664;</button>'
                f'<select class="date" aria-label="date">{options}</select>'
                f'<button type="button" class="next" title="later date">&#9654;</button>'
                f'<label><input type="checkbox" class="show-dets" checked> detections</label>'
                f'<label><input type="checkbox" class="show-changes" checked> change layers</label>'
                f'<button type="button" class="reset" title="reset pan and zoom">reset view</button></div>')
    block = (f'<div class="map-block" id="map-{_e(aoi)}" data-aoi="{_e(aoi)}"><h3>{_e(aoi)}</h3>{controls}'
             f'<div class="map-wrap">{svg}</div>{_legend(classes, keys)}'
             f'<p class="hint">{len(frames)} acquisitions; wheel to zoom, drag to pan; change layers cover the whole '
             f"run (presences linked across dates, pixel change between the windows). Grid: {_e(grid.crs)}, "
             f"{grid.pixel_size:.0f} m per pixel.</p></div>")
    return block, grid, frames


# --- before / after -----------------------------------------------------------------------------------------------

def _pair_block(aoi: str, grid: MapGrid, frames: Sequence[_Frame], dets: gpd.GeoDataFrame,
                windows: tuple[str, str] | None) -> str:
    if not frames:
        return ""

    def in_window(f: _Frame, window: str) -> bool:
        start, end = window.split("/")
        return start <= f.acquired[:10] <= end

    usable = [f for f in frames if f.image_id and f.observed_fraction >= 0.5]
    if windows is not None:
        before = [f for f in usable if in_window(f, windows[0])]
        after = [f for f in usable if in_window(f, windows[1])]
    else:
        half = len(usable) // 2
        before, after = usable[:half], usable[half:]
    for sensor in ("s2", "vhr", "s1"):
        b = [f for f in before if f.sensor == sensor]
        a = [f for f in after if f.sensor == sensor]
        if b and a:
            pick_b = max(b, key=lambda f: (f.observed_fraction, f.acquired))
            pick_a = max(a, key=lambda f: (f.observed_fraction, f.acquired))
            break
    else:
        return f'<p class="muted">{_e(aoi)}: no well observed acquisition of one sensor in both windows.</p>'
    cells = []
    for label, f in (("before", pick_b), ("after", pick_a)):
        scene_dets = dets[dets["scene_id"] == f.scene_id] if "scene_id" in dets else dets.iloc[:0]
        cells.append(
            f'<figure class="pair-img"><svg class="chip" viewBox="0 0 {grid.width} {grid.height}" role="img" '
            f'aria-label="{label} {_e(f.scene_id)}"><use href="#{f.image_id}"/>'
            f'<g class="dets">{_detections_svg(scene_dets, grid)}</g></svg>'
            f"<figcaption><b>{label}</b> {_e(f.acquired[:16].replace('T', ' '))} {_e(f.sensor.upper())}, observed "
            f"{_num(100 * f.observed_fraction, 0)}%, {f.n_detections} detections</figcaption></figure>")
    win = f" (baseline {_e(windows[0])}, test {_e(windows[1])})" if windows else ""
    return f'<div class="pair"><h3>{_e(aoi)}{win}</h3><div class="pair-row">{"".join(cells)}</div></div>'


# --- time series --------------------------------------------------------------------------------------------------

def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _day(text: str) -> date:
    return datetime.fromisoformat(str(text)[:10]).date()


def _chart(series: pd.DataFrame, title: str, period: tuple[date, date], windows: tuple[str, str] | None,
           value: str = "count") -> str:
    """Draw an SVG chart: counts (used filled, excluded hollow) above, observed fraction bars below."""
    w, h, left, right, top = 640, 230, 44, 12, 22
    plot_h, frac_h, gap = 120, 40, 26
    start, end = period
    span = max((end - start).days, 1)

    def x(d: date) -> float:
        return left + (w - left - right) * (d - start).days / span

    vals = pd.to_numeric(series[value], errors="coerce").fillna(0.0)
    est = (pd.to_numeric(series["estimated_high"], errors="coerce")
           if value == "count" and "estimated_high" in series else pd.Series(dtype=float))
    vmax = max(1.0, float(vals.max()) if len(vals) else 1.0,
               float(est.max()) if len(est) and est.notna().any() else 0.0)
    nice = next((n for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 1e4, 1e5, 1e6) if n >= vmax), vmax)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / nice)

    fy0 = top + plot_h + gap
    parts = [f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-label="{_e(title)}">',
             f'<text class="ct" x="{left}" y="14">{_e(title)}</text>']
    if windows:
        for label, win in (("baseline", windows[0]), ("test", windows[1])):
            a, b = (_day(s) for s in win.split("/"))
            xa, xb = x(max(a, start)), x(min(b, end))
            parts.append(f'<rect class="win {label}" x="{xa:.1f}" y="{top}" width="{max(xb - xa, 0):.1f}" '
                         f'height="{plot_h}"/><text class="wl" x="{xa + 3:.1f}" y="{top + 11}">{label}</text>')
    for frac in (0, 0.5, 1):
        yy = y(nice * frac)
        parts.append(f'<line class="grid" x1="{left}" x2="{w - right}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
                     f'<text class="ax" x="{left - 4}" y="{yy + 4:.1f}" text-anchor="end">{nice * frac:g}</text>')
    pts_used = []
    marks = []
    for (_, row), v in zip(series.iterrows(), vals, strict=True):
        d = _day(row["acquired"] if "acquired" in row else row["date"])
        used = bool(row.get("used", True)) if not isinstance(row.get("used"), str) else row["used"] == "True"
        of = float(row.get("observed_fraction", float("nan")))
        lo_e, hi_e, mid_e = (_float(row.get(k)) for k in ("estimated_low", "estimated_high", "estimated_count"))
        estimate = (f", estimated true {_num(mid_e, 1)} [{_num(lo_e, 1)}, {_num(hi_e, 1)}] "
                    f"({row.get('error_source', '')} error figures)" if value == "count" and math.isfinite(hi_e)
                    else "")
        label = "detections" if value == "count" else value
        tip = (f"{row.get('acquired', d)}: {label} {_num(v, 2 if value != 'count' else 0)}{estimate}, observed "
               f"{_num(100 * of, 0)}%" + ("" if used else f" - excluded ({row.get('excluded_reason') or 'low'})"))
        if estimate and math.isfinite(lo_e):
            marks.append(f'<line class="est" x1="{x(d):.1f}" x2="{x(d):.1f}" y1="{y(hi_e):.1f}" y2="{y(lo_e):.1f}">'
                         f"<title>{_e(tip)}</title></line>")
        cls = "pt used" if used else "pt excl"
        marks.append(f'<circle class="{cls}" cx="{x(d):.1f}" cy="{y(float(v)):.1f}" r="3.5"><title>{_e(tip)}</title>'
                     "</circle>")
        if used:
            pts_used.append(f"{x(d):.1f},{y(float(v)):.1f}")
        bar_h = frac_h * (of if math.isfinite(of) else 0.0)
        marks.append(f'<rect class="of{"" if used else " excl"}" x="{x(d) - 2:.1f}" y="{fy0 + frac_h - bar_h:.1f}" '
                     f'width="4" height="{bar_h:.1f}"><title>{_e(tip)}</title></rect>')
    if len(pts_used) > 1:
        parts.append(f'<polyline class="series" points="{" ".join(pts_used)}"/>')
    parts += marks
    parts.append(f'<line class="thr" x1="{left}" x2="{w - right}" y1="{fy0 + frac_h / 2:.1f}" '
                 f'y2="{fy0 + frac_h / 2:.1f}"/><text class="ax" x="{left - 4}" y="{fy0 + 8}" '
                 f'text-anchor="end">obs.</text><text class="ax" x="{left - 4}" y="{fy0 + frac_h + 3}" '
                 f'text-anchor="end">0</text>')
    # month ticks
    d = date(start.year, start.month, 1)
    while d <= end:
        if d >= start:
            parts.append(f'<line class="tick" x1="{x(d):.1f}" x2="{x(d):.1f}" y1="{top + plot_h}" '
                         f'y2="{top + plot_h + 4}"/><text class="ax" x="{x(d):.1f}" y="{top + plot_h + 15}" '
                         f'text-anchor="middle">{d.isoformat()[:7]}</text>')
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    parts.append("</svg>")
    return "".join(parts)


def _timeseries_section(ts: pd.DataFrame, comparisons: pd.DataFrame, period: tuple[date, date]) -> str:
    if ts.empty:
        return '<p class="muted">No counts in this run.</p>'
    out = []
    for (aoi, sensor, cls), ser in ts.groupby(["aoi", "sensor", "class"], sort=True):
        ser = ser.sort_values("acquired")
        comp = comparisons[(comparisons.get("aoi") == aoi) & (comparisons.get("sensor") == sensor)
                           & (comparisons.get("class") == cls)] if not comparisons.empty else comparisons
        windows = None
        note = ""
        if len(comp):
            c = comp.iloc[0]
            windows = (str(c["baseline"]), str(c["test"]))
            note = (f"baseline {_num(c['baseline_rate'])} vs test {_num(c['test_rate'])} per fully observed "
                    f"acquisition; ratio {_num(c['rate_ratio'])} [95% CI {_num(c['ratio_low'])}, "
                    f"{_num(c['ratio_high'])}], {'' if str(c['significant']) == 'True' else 'not '}significant"
                    f"; acquisitions used {int(c['baseline_used'])} + {int(c['test_used'])}, excluded "
                    f"{int(c['baseline_excluded'])} + {int(c['test_excluded'])}")
        value = "area_m2" if cls in ("encampment",) and "area_m2" in ser and ser["area_m2"].fillna(0).any() \
            else "count"
        title = f"{aoi} - {str(sensor).upper()} - {cls} {'area m2' if value == 'area_m2' else 'count'}"
        out.append(f'<figure class="ts">{_chart(ser, title, period, windows, value)}'
                   f'<figcaption>{_e(note) or "no window comparison"}</figcaption></figure>')
    return ('<p class="hint">Dots: detections per acquisition (filled: used, observed fraction at least 0.5; hollow: '
            "excluded, never read as zero). Grey bars through them: the estimated true count's 95% interval from the "
            "detector's measured recall and false alarms (docs/change.md; hover for the figures and their source). "
            "Bars below: observed fraction of the AOI (line at 0.5). Shaded: baseline and test windows.</p>"
            '<div class="ts-grid">' + "".join(out) + "</div>")


# --- claims -------------------------------------------------------------------------------------------------------

def _data_uri(path: Path) -> str | None:
    if not path.is_file():
        return None
    mime = "image/png" if path.suffix.lower() == ".png" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _badge(verdict: str) -> str:
    return (f'<span class="badge" style="background:{VERDICT_COLOURS.get(verdict, "#455a64")}">'
            f"{_e(verdict)}</span>")


def _evidence_images(run: Path, evidence: dict[str, Any]) -> str:
    paths: list[str] = []
    for chip in evidence.get("chips") or []:
        paths.append(str(chip.get("path") or "") if isinstance(chip, dict) else str(chip))
    if evidence.get("timeseries"):
        paths.append(str(evidence["timeseries"]))
    imgs = []
    for rel in paths:
        if not rel:
            continue
        uri = _data_uri(run / rel)
        if uri:
            imgs.append(f'<figure class="ev"><img alt="{_e(rel)}" src="{uri}"><figcaption>{_e(rel)}</figcaption>'
                        "</figure>")
    return "".join(imgs)


def _indicator_charts(run: Path, claims: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """Return ``(claim id, indicator label, sensor) -> SVG`` of each measured indicator's per-acquisition values."""
    from satwatch.claims.catalog import parse_claims
    from satwatch.claims.measures import acquisition_series, arrival_series, load_run

    out: dict[tuple[str, str, str], str] = {}
    try:
        catalog = parse_claims(claims.get("catalog") or {"claims": []}, "claims.json", check_conflicts=False)
        data = load_run(run)
    except (InputFileError, ValueError, KeyError, OSError) as exc:
        log.warning("claims charts skipped (%s)", exc)
        return out
    for c in claims.get("claims", []):
        claim = catalog.get(str(c.get("id")))
        if claim is None:
            continue
        for ind, doc in zip(claim.indicators, c.get("indicators", []), strict=False):
            if ind.spec.kind == "pixel":
                continue
            for sensor in [str(s.get("sensor")) for s in doc.get("sensors", [])]:
                if ind.spec.kind == "arrivals":
                    series, _ = arrival_series(data, ind, sensor, claim.baseline, claim.test)
                else:
                    series = acquisition_series(data, ind, sensor, claim.baseline, claim.test)
                if series.empty:
                    continue
                title = f"{ind.label} - {sensor.upper()} ({ind.spec.unit})"
                out[(claim.id, ind.label, sensor)] = _chart(
                    series, title, (claim.baseline.start, claim.test.end), (str(claim.baseline), str(claim.test)))
    return out


def _sensor_line(ind: dict[str, Any], s: dict[str, Any]) -> str:
    """One line per sensor: verdict, detections effect, true effect with the recall beside it, acquisitions."""
    unit = _e(ind.get("unit", ""))
    model = s.get("error_model") or {}
    rec = model.get("recall") or {}
    low, high = (rec.get("ci95") or [None, None])[:2]
    if rec.get("value") is not None:
        recall = (f"recall {_num(rec.get('value'))} [{_num(low)}, {_num(high)}] of {_e(model.get('detector', ''))} "
                  f"on {_e(model.get('profile', ''))} ({_e(model.get('source', ''))} validation)")
    else:
        recall = f"detector error unknown ({_e(model.get('note', 'no figures'))})" if model else ""
    if s.get("detections_effect") is not None and rec.get("value") is not None:
        numbers = (f"detections {_num(s.get('detections_effect'))} [{_num(s.get('detections_low'))}, "
                   f"{_num(s.get('detections_high'))}] &rarr; {_num(s.get('effect'))} [{_num(s.get('ci_low'))}, "
                   f"{_num(s.get('ci_high'))}] {unit}")
    else:
        numbers = f"effect {_num(s.get('effect'))} [{_num(s.get('ci_low'))}, {_num(s.get('ci_high'))}] {unit}"
    parts = [f"{_e(str(s.get('sensor', '')).upper())}: {_badge(str(s.get('verdict', '')))} {numbers}",
             f"used {s.get('baseline_used', 0)}+{s.get('test_used', 0)}, excluded {s.get('baseline_excluded', 0)}+"
             f"{s.get('test_excluded', 0)}"]
    if recall:
        parts.append(recall)
    reason = str(ind.get("reason", ""))
    for extra in (s.get("reason"), s.get("short_event")):  # each sentence once: skip what the indicator says
        if extra and str(extra) not in reason:
            parts.append(_e(extra))
    line = "; ".join(parts)
    if s.get("note"):
        line += f'<br><span class="warn">{_e(s["note"])}</span>'
    return line


def _claims_section(run: Path, claims: dict[str, Any] | None) -> str:
    if claims is None:
        return ('<p class="muted">No claims were checked in this run folder. <code>satwatch claims check ID ...'
                "</code> writes claims.json and adds the verdicts here.</p>")
    charts = _indicator_charts(run, claims)
    rows = []
    details = []
    for c in claims.get("claims", []):
        inds = []
        for ind in c.get("indicators", []):
            sens = [_sensor_line(ind, s) for s in ind.get("sensors", [])]
            figs = "".join(f'<figure class="ts ind">{charts[k]}</figure>' for k in
                           ((str(c.get("id")), str(ind.get("label")), str(s.get("sensor")))
                            for s in ind.get("sensors", [])) if k in charts)
            limits = "".join(f"<li>{_e(x)}</li>" for x in ind.get("limits", []))
            inds.append(f"<li>{_badge(str(ind.get('verdict', '')))} <b>{_e(ind.get('label', ''))}</b>: "
                        f"{_e(ind.get('reason', ''))}<br><span class=\"small\">{'<br>'.join(sens)}</span>{figs}"
                        + (f'<ul class="caveats">{limits}</ul>' if limits else "") + "</li>")
        caveats = "".join(f"<li>{_e(x)}</li>" for x in c.get("limits", []))
        rows.append(
            f'<tr class="claim" data-claim="{_e(c.get("id", ""))}"><td><b>{_e(c.get("id", ""))}</b><br>'
            f'<span class="small">{_e(c.get("date", ""))}</span></td>'
            f"<td>{_badge(str(c.get('verdict', '')))}<br><span class=\"small\">confidence "
            f"{_num(c.get('confidence'))}, {c.get('tests', 0)} tests</span><br>{_e(c.get('reason', ''))}</td>"
            f"<td>{_e(c.get('claimant', ''))}: {_e(c.get('statement', ''))}<br><span class=\"small\">baseline "
            f"{_e(c.get('baseline', ''))}, test {_e(c.get('test', ''))}</span></td>"
            f'<td><ul class="inds">{"".join(inds)}</ul></td>'
            f'<td><ul class="caveats">{caveats}</ul></td></tr>')
        imgs = _evidence_images(run, c.get("evidence") or {})
        if imgs:
            details.append(f'<details class="evidence"><summary>Evidence package {_e(c.get("id", ""))}</summary>'
                           f'<div class="ev-row">{imgs}</div></details>')
    table = ('<table class="claims"><thead><tr><th>claim</th><th>verdict</th><th>statement</th>'
             "<th>indicators: verdict, detections and estimated true effect [interval], the detector's recall, "
             "acquisitions; chart: value per acquisition (filled used, hollow excluded), windows shaded</th>"
             "<th>caveats</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    head = (f'<p class="small">claims file {_e(claims.get("claims_file", ""))} (SHA-256 '
            f'{_e(str(claims.get("claims_sha256", ""))[:12])}...), generated {_e(claims.get("generated", ""))}</p>')
    return head + table + "".join(details)


# --- provenance ---------------------------------------------------------------------------------------------------

def _kv_table(items: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in items)
    return f'<table class="kv">{rows}</table>'


def _provenance(record: dict[str, Any]) -> str:
    params = record.get("parameters") or {}
    scenario = record.get("scenario") or {}
    detector = record.get("detector") or {}
    items: list[tuple[str, Any]] = [
        ("run id", record.get("run_id", "")), ("started", record.get("started", "")),
        ("finished", record.get("finished", "")), ("simulated", record.get("simulated", "")),
        ("notice", record.get("notice", "")),
        *((f"parameter {k}", ", ".join(map(str, v)) if isinstance(v, list) else v) for k, v in params.items()),
        ("sources", ", ".join(record.get("sources") or [])),
        ("scenario", f"{scenario.get('name', '')} {scenario.get('path', '')} (SHA-256 {scenario.get('sha256', '')})"
         if scenario else "none"),
        ("detector", f"{detector.get('name', '')}, classes {', '.join(detector.get('classes') or [])}"),
    ]
    summary = record.get("summary") or {}
    items += [(f"summary {k}", json.dumps(v) if isinstance(v, dict) else v) for k, v in summary.items()]
    # acquisitions the run could not use (no data, unreadable scene files moved to quarantine): run.json "excluded"
    items += [(f"excluded {e.get('aoi', '')} {e.get('sensor', '')} {e.get('acquired', '')}",
               f"{e.get('kind', '')}: {e.get('reason', '')}") for e in record.get("excluded") or []]
    versions = record.get("versions") or {}
    return (_kv_table(items) + "<h3>Versions</h3>" + _kv_table(versions.items())
            + "<h3>Files</h3><p class=\"small\">" + _e(", ".join(record.get("outputs") or [])) + "</p>")


# --- page ---------------------------------------------------------------------------------------------------------

_CSS = """
:root{--bg:#101418;--fg:#e8eaed;--muted:#9aa0a6;--card:#1a2027;--line:#2f3a45;--accent:#4fc3f7}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
background:var(--bg);color:var(--fg)}header{padding:16px 24px;border-bottom:1px solid var(--line)}
h1{margin:0 0 4px;font-size:22px}h2{margin:0 0 10px;font-size:18px}h3{margin:12px 0 6px;font-size:15px}
nav a{color:var(--accent);margin-right:14px;text-decoration:none}section{padding:14px 24px 22px;
border-bottom:1px solid var(--line)}.banner{background:#b71c1c;color:#fff;padding:6px 10px;margin:0 0 10px;
border-radius:4px;font-size:13px}.muted,.hint,.small{color:var(--muted)}.small{font-size:12px}
.hint{font-size:12px;margin:4px 0}.maps{display:flex;flex-wrap:wrap;gap:18px}
.map-block{background:var(--card);padding:8px 10px;border-radius:6px;flex:1 1 520px;max-width:760px}
.map-wrap{position:relative;overflow:hidden;border:1px solid var(--line);cursor:grab}
svg.map{display:block;width:100%;height:auto;touch-action:none}.mapbg{fill:#202020}
.controls{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin-bottom:6px}
.controls select{max-width:340px}button,select{background:#263238;color:var(--fg);border:1px solid var(--line);
border-radius:3px;padding:2px 6px}path.aoi{fill:none;stroke:#ffd600;stroke-width:1.5;stroke-dasharray:6 3;
vector-effect:non-scaling-stroke}.det{fill-opacity:.25;stroke-width:1.5;vector-effect:non-scaling-stroke}
.chg{fill-opacity:.18;stroke-width:1.5;vector-effect:non-scaling-stroke}circle.chg{fill:none}
.scalebar rect{fill:#fff}.scalebar text{fill:#fff;font-size:11px}.noimg{fill:#303030}.noimg-t{fill:#ccc;font-size:12px}
.legend{display:flex;flex-wrap:wrap;gap:10px;font-size:12px;margin-top:4px}.key i{display:inline-block;width:10px;
height:10px;border-radius:50%;margin-right:4px;vertical-align:middle}.key i.ring{background:none;border:2px solid}
.pair{background:var(--card);padding:8px 10px;border-radius:6px;margin-bottom:12px}.pair-row{display:flex;gap:10px;
flex-wrap:wrap}.pair-img{margin:0;flex:1 1 320px;max-width:560px}svg.chip{width:100%;height:auto;display:block}
figcaption{font-size:12px;color:var(--muted)}.ts-grid{display:flex;flex-wrap:wrap;gap:12px}.ts{margin:0;
background:var(--card);padding:6px;border-radius:6px;flex:1 1 560px;max-width:700px}svg.chart{width:100%;
height:auto;display:block}.chart .ct{fill:var(--fg);font-size:13px;font-weight:600}.chart .ax{fill:var(--muted);
font-size:10px}.chart .grid{stroke:#2f3a45}.chart .tick{stroke:var(--muted)}.chart .series{fill:none;
stroke:var(--accent);stroke-width:1.5}.chart .pt.used{fill:var(--accent)}.chart .pt.excl{fill:none;stroke:#9aa0a6}
.chart .of{fill:#7cb342}.chart .of.excl{fill:#6d4c41}.chart .thr{stroke:#ffd600;stroke-dasharray:3 3}
.chart .est{stroke:#9aa0a6;stroke-width:3;stroke-opacity:.45}
.warn{color:#ffb300}figure.ind{max-width:520px;margin:6px 0}
.chart .win.baseline{fill:#ffffff0d}.chart .win.test{fill:#4fc3f71f}.chart .wl{fill:var(--muted);font-size:10px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid var(--line);padding:5px 6px;text-align:left;
vertical-align:top}table.kv th{width:220px;color:var(--muted);font-weight:normal}.badge{color:#fff;padding:1px 7px;
border-radius:10px;font-size:12px;white-space:nowrap}ul.inds,ul.caveats{margin:0;padding-left:16px}
.caveats{font-size:12px;color:var(--muted)}.evidence{margin:8px 0}.ev-row{display:flex;flex-wrap:wrap;gap:8px}
.ev{margin:0;max-width:420px}.ev img{max-width:100%;display:block}code{background:#263238;padding:1px 4px}
footer{padding:12px 24px;color:var(--muted);font-size:12px}
"""

_JS = """
(function(){
  'use strict';
  function setup(block){
    var sel=block.querySelector('select.date'), frames=block.querySelectorAll('g.frame');
    var svg=block.querySelector('svg.map'), W=+svg.dataset.w, H=+svg.dataset.h, vb=[0,0,W,H];
    function show(i){ frames.forEach(function(f,j){ f.style.display = (i===j)?'':'none'; }); sel.value=String(i); }
    function apply(){ svg.setAttribute('viewBox', vb.map(function(v){return v.toFixed(1);}).join(' ')); }
    sel.addEventListener('change', function(){ show(+sel.value); });
    block.querySelector('.prev').addEventListener('click', function(){ show(Math.max(0, +sel.value-1)); });
    block.querySelector('.next').addEventListener('click', function(){
      show(Math.min(frames.length-1, +sel.value+1)); });
    block.querySelector('.show-dets').addEventListener('change', function(e){
      block.querySelectorAll('g.dets').forEach(function(g){ g.style.display = e.target.checked?'':'none'; }); });
    block.querySelector('.show-changes').addEventListener('change', function(e){
      block.querySelector('g.changes').style.display = e.target.checked?'':'none'; });
    block.querySelector('.reset').addEventListener('click', function(){ vb=[0,0,W,H]; apply(); });
    svg.addEventListener('wheel', function(e){
      e.preventDefault(); var r=svg.getBoundingClientRect();
      var fx=(e.clientX-r.left)/r.width, fy=(e.clientY-r.top)/r.height, k=e.deltaY<0?0.8:1.25;
      var nw=Math.min(W, Math.max(W/20, vb[2]*k)), nh=nw*H/W;
      vb=[vb[0]+(vb[2]-nw)*fx, vb[1]+(vb[3]-nh)*fy, nw, nh]; apply(); }, {passive:false});
    var drag=null;
    svg.addEventListener('pointerdown', function(e){ drag={x:e.clientX,y:e.clientY,vb:vb.slice()};
      svg.setPointerCapture(e.pointerId); });
    svg.addEventListener('pointermove', function(e){ if(!drag) return; var r=svg.getBoundingClientRect();
      vb[0]=drag.vb[0]-(e.clientX-drag.x)*vb[2]/r.width; vb[1]=drag.vb[1]-(e.clientY-drag.y)*vb[3]/r.height;
      apply(); });
    svg.addEventListener('pointerup', function(){ drag=null; });
    document.addEventListener('keydown', function(e){
      if(!block.matches(':hover')) return;
      if(e.key==='ArrowLeft') show(Math.max(0, +sel.value-1));
      if(e.key==='ArrowRight') show(Math.min(frames.length-1, +sel.value+1)); });
  }
  document.querySelectorAll('.map-block').forEach(setup);
  document.documentElement.dataset.ready='1';
})();
"""


def _aoi_geometries(run: Path, scenes: gpd.GeoDataFrame) -> dict[str, BaseGeometry]:
    gpkg = run / "layers.gpkg"
    out: dict[str, BaseGeometry] = {}
    if gpkg.is_file():
        try:
            aois = gpd.read_file(gpkg, layer="aois")
            out = {str(r["id"]): r.geometry for _, r in aois.iterrows() if r.geometry is not None}
        except (ValueError, OSError) as exc:  # no aois layer
            log.debug("report: no aois layer in %s (%s)", gpkg, exc)
    for aoi, grp in scenes.groupby("aoi") if "aoi" in scenes and len(scenes) else []:
        if str(aoi) not in out:
            out[str(aoi)] = grp.geometry.union_all()
    return out


def _period(record: dict[str, Any], ts: pd.DataFrame) -> tuple[date, date]:
    params = record.get("parameters") or {}
    try:
        return date.fromisoformat(params["start"]), date.fromisoformat(params["end"])
    except (KeyError, TypeError, ValueError):
        days = [_day(a) for a in ts.get("acquired", pd.Series(dtype=str)).dropna()]
        return (min(days), max(days)) if days else (date.today(), date.today())


def build_report_html(run_dir: str | Path, max_px: int = 560) -> str:
    """Build the report of ``run_dir`` as one HTML string (see :func:`write_report`).

    Raises:
        InputFileError: ``run_dir`` is not a run folder (no ``run.json``).
    """
    run = Path(run_dir)
    record = _read_json(run / "run.json")
    if record is None:
        raise InputFileError(f"{run} is not a run folder (no run.json); pass data/outputs/<run-id>")
    simulated = bool(record.get("simulated"))
    notice = str(record.get("notice", ""))
    banner = _banner(simulated, notice)
    scenes = _read_vector(run / "scenes.geojson")
    dets = _read_vector(run / "detections.geojson")
    changes = _read_vector(run / "changes.geojson")
    ts = _read_csv(run / "timeseries.csv")
    if ts.empty:
        ts = _read_csv(run / "counts.csv")
    comparisons = _read_csv(run / "comparisons.csv")
    claims = _read_json(run / "claims.json")
    period = _period(record, ts)

    store = _ImageStore()
    maps, pairs = [], []
    for aoi, geom in _aoi_geometries(run, scenes).items():
        sc = scenes[scenes["aoi"] == aoi] if "aoi" in scenes else scenes.iloc[:0]
        if sc.empty:
            continue
        dd = dets[dets["aoi"] == aoi] if "aoi" in dets else dets.iloc[:0]
        cc = changes[changes["aoi"] == aoi] if "aoi" in changes else changes.iloc[:0]
        block, grid, frames = _map_block(aoi, geom, sc, dd, cc, store, max_px)
        maps.append(block)
        comp = comparisons[comparisons["aoi"] == aoi] if "aoi" in comparisons else comparisons
        windows = (str(comp.iloc[0]["baseline"]), str(comp.iloc[0]["test"])) if len(comp) else None
        pairs.append(_pair_block(aoi, grid, frames, dd, windows))

    n_claims = len((claims or {}).get("claims", []))
    verdicts = ", ".join(f"{c.get('id')} {c.get('verdict')}" for c in (claims or {}).get("claims", []))
    summary = record.get("summary") or {}
    title = f"satwatch report - {record.get('run_id', run.name)}"
    sections = [
        ("maps", "Maps", '<div class="maps">' + ("".join(maps) or '<p class="muted">No scenes.</p>') + "</div>"),
        ("pairs", "Before / after", "".join(pairs) or '<p class="muted">No scenes.</p>'),
        ("timeseries", "Counts over time", _timeseries_section(ts, comparisons, period)),
        ("provenance", "Provenance", _provenance(record)),
    ]
    claims_section = ("claims", "Claims", _claims_section(run, claims))
    # analysts read the verdicts first when there are any; otherwise the section (a hint) goes before provenance
    sections.insert(0 if claims is not None else 3, claims_section)
    body = "".join(f'<section id="{sid}">{banner}<h2>{name}</h2>{content}</section>' for sid, name, content in sections)
    nav = "".join(f'<a href="#{sid}">{name}</a>' for sid, name, _ in sections)
    header = (f"<header>{banner}<h1>{_e(title)}</h1><p class=\"small\">{_e(period[0])} to {_e(period[1])}; "
              f"AOIs {_e(', '.join((record.get('parameters') or {}).get('aois', [])))}; "
              f"{summary.get('scenes', len(scenes))} scenes, {summary.get('detections', len(dets))} detections"
              + (f"; {n_claims} claims: {_e(verdicts)}" if n_claims else "") + f"</p><nav>{nav}</nav></header>")
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{_CSS}</style></head><body>{store.svg()}{header}<main>{body}</main>"
            f"<footer>Written by satwatch from the run folder alone; self-contained (no network). "
            f"{_e(notice)}</footer><script>{_JS}</script></body></html>\n")


def write_report(run_dir: str | Path, max_px: int = 560) -> Path:
    """Write ``report.html`` into the run folder (atomically) and return its path.

    ``max_px`` is the longest side of each map in pixels (quicklook resolution). Example::

        path = write_report("data/outputs/20241124T101500Z-primorsky-autumn-2024")
    """
    run = Path(run_dir)
    text = build_report_html(run, max_px)
    final = run / REPORT_NAME
    with atomic_path(final, ".html") as tmp:
        tmp.write_text(text, encoding="utf-8")
    return final


def publish_report(run_dir: str | Path) -> Path | None:
    """Write the run's report at the end of a flow; on failure log a warning and return None.

    The monitor and claim flows call this last: the report is derived from files already written, so a failure
    here (an archived scene deleted meanwhile, a full disk) must not lose the run. ``satwatch report RUN_DIR``
    writes it again and shows the error.
    """
    try:
        path = write_report(run_dir)
    except (InputFileError, OSError, ValueError, KeyError) as exc:
        log.warning("report.html not written (%s); run `satwatch report %s` to retry", exc, run_dir)
        return None
    log.info("report: %s", path)
    return path
