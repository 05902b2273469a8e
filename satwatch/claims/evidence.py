"""Evidence package per claim: before/after image chips with detections, a time-series plot, the layers used.

:func:`write_evidence` writes ``<run>/evidence/<claim id>/``:

- ``<aoi>_<sensor>_before.png`` / ``<aoi>_<sensor>_after.png``: the best observed used acquisition of the
  baseline and of the test window (Sentinel-2 in true colour B04/B03/B02; Sentinel-1 as VV sigma0 in dB,
  -25..0 dB grey; VHR as R/G/B), the AOI outline, and the detections of that scene drawn on it (vessels as
  circles scaled by length, polygons outlined). The caption names the scene, its observed fraction and the
  detector, and on simulated imagery says SIMULATED, not evidence.
- ``timeseries.png``: each measured indicator's value per acquisition (used: filled; excluded for too little
  observation: crosses on the axis), the windows shaded, the claim date marked, the verdict in the title.
- ``layers.gpkg``: the layers the verdict used (EPSG:4326): ``aois``, ``scenes`` (with ``window`` and
  ``used``), ``detections`` (claim AOIs, inside the windows), ``presences`` (arrival indicators),
  ``ground_change`` (pixel change over the claim's windows).

Chips need the archived scenes named in ``scenes.geojson``; when a scene file is gone its chip is skipped
(verdicts never need pixels). Figures use matplotlib's object API (no global pyplot state), written atomically.
"""

from __future__ import annotations

import math
import textwrap
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pyproj import Transformer

from satwatch.atomic import atomic_path
from satwatch.claims.measures import (
    GROUND_CHANGE_GEOJSON,
    RunData,
    acquisition_series,
    arrival_series,
    load_run,
    window_of,
)
from satwatch.claims.verdicts import ClaimVerdict, IndicatorVerdict
from satwatch.imagery.scene import Scene, read_scene
from satwatch.outputs.files import write_geopackage

__all__ = ["MAX_CHIP_PX", "render_chip", "write_evidence"]

MAX_CHIP_PX = 1000
"""Longest side of a chip in pixels; larger scenes are subsampled (every n-th pixel)."""
SIMULATED_CAPTION = "SIMULATED imagery: a demonstration of the method, not evidence about the real world"
_VERDICT_COLOUR = {"supported": "#1a7f37", "contradicted": "#b42318", "inconclusive": "#6b7280"}


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path


def _image(scene: Scene, step: int) -> tuple[npt.NDArray[np.float32], str | None]:
    """``(H, W, 3)`` RGB 0..1 or ``(H, W)`` grey 0..1 of the scene, subsampled by ``step``; and a colour map."""
    bands = scene.bands
    if {"B04", "B03", "B02"} <= set(bands) or {"R", "G", "B"} <= set(bands):
        names = ("B04", "B03", "B02") if "B04" in bands else ("R", "G", "B")
        rgb = np.stack([scene.band(n)[::step, ::step] for n in names], axis=-1).astype(np.float32)
        rgb = np.clip(np.nan_to_num(rgb, nan=0.0) * 3.5, 0.0, 1.0) ** (1 / 1.3)
        if "SCL" in bands:  # cloud and shadow left as rendered: they are what the sensor saw
            pass
        return rgb.astype(np.float32), None
    name = "VV" if "VV" in bands else bands[0]
    db = scene.band(name)[::step, ::step].astype(np.float32)
    grey = np.clip((np.nan_to_num(db, nan=-25.0) + 25.0) / 25.0, 0.0, 1.0)
    return grey.astype(np.float32), "gray"


def render_chip(scene: Scene, detections: gpd.GeoDataFrame, aoi_geometry: Any, title: str, caption: str,
                path: Path, simulated: bool) -> Path:
    """Write one chip PNG: the scene, the AOI outline and ``detections`` (EPSG:4326) drawn in pixel space."""
    step = max(1, math.ceil(max(scene.height, scene.width) / MAX_CHIP_PX))
    img, cmap = _image(scene, step)
    h, w = img.shape[:2]
    fig = Figure(figsize=(8.0, 8.0 * h / w + 1.2))
    ax = fig.add_axes((0.0, 1.2 / (8.0 * h / w + 1.2), 1.0, 8.0 * h / w / (8.0 * h / w + 1.2)))
    ax.imshow(img, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    inv = ~scene.transform
    to_scene = Transformer.from_crs(4326, scene.crs, always_xy=True)

    def px(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        x, y = to_scene.transform(lon, lat)
        col, row = inv * (np.asarray(x), np.asarray(y))
        return np.asarray(col) / step, np.asarray(row) / step

    if aoi_geometry is not None:
        for poly in getattr(aoi_geometry, "geoms", [aoi_geometry]):
            lon, lat = poly.exterior.xy
            c, r = px(lon, lat)
            ax.plot(c, r, color="#facc15", linewidth=1.2)
    points = detections[detections.geometry.geom_type == "Point"]
    if len(points):
        c, r = px(points.geometry.x.to_numpy(), points.geometry.y.to_numpy())
        length = points["length_m"].to_numpy(dtype=float)
        size = np.where(np.isfinite(length), np.clip(length / 10.0 / step, 3, 30), 6.0)
        ax.scatter(c, r, s=(size * 2.2) ** 2, facecolors="none", edgecolors="#ff2d55", linewidths=1.4)
    for geom in detections[detections.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].geometry:
        for poly in getattr(geom, "geoms", [geom]):
            lon, lat = poly.exterior.xy
            c, r = px(lon, lat)
            ax.plot(c, r, color="#00e5ff", linewidth=1.4)
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    height_in = 8.0 * h / w + 1.2
    fig.text(0.01, 1.12 / height_in, title, fontsize=10, weight="bold", va="top")
    fig.text(0.01, 0.86 / height_in, textwrap.fill(caption, 125), fontsize=8, va="top")
    if simulated:
        fig.text(0.01, 0.1 / height_in, SIMULATED_CAPTION, fontsize=9, color="#b42318", weight="bold", va="bottom")
    return _save(fig, path)


def _series(run: RunData, cv: ClaimVerdict, iv: IndicatorVerdict, sensor: str) -> pd.DataFrame:
    claim, ind = cv.claim, iv.indicator
    if ind.spec.kind == "arrivals":
        return arrival_series(run, ind, sensor, claim.baseline, claim.test, cv.min_observed)[0]
    return acquisition_series(run, ind, sensor, claim.baseline, claim.test, cv.min_observed)


def _day_num(day: date) -> float:
    """Matplotlib's date number of a day (days since its default epoch, 1970-01-01)."""
    return float((day - date(1970, 1, 1)).days)


def _timeseries(run: RunData, cv: ClaimVerdict, path: Path) -> Path | None:
    panels = [iv for iv in cv.indicators if iv.sensors and iv.indicator.spec.kind != "pixel"]
    if not panels:
        return None
    fig = Figure(figsize=(10.0, 2.4 * len(panels) + 1.0))
    claim = cv.claim
    markers = {"s2": "o", "s1": "s", "vhr": "^"}
    for k, iv in enumerate(panels):
        ax = fig.add_subplot(len(panels), 1, k + 1)
        ax.xaxis_date()
        for w, colour in ((claim.baseline, "#dbeafe"), (claim.test, "#ffedd5")):
            ax.axvspan(_day_num(w.start), _day_num(w.end + timedelta(days=1)), color=colour, zorder=0)
        if claim.baseline.start <= claim.date <= claim.test.end:
            ax.axvline(_day_num(claim.date), color="#6b7280", linestyle="--", linewidth=1)
        for s in iv.sensors:
            ser = _series(run, cv, iv, s.sensor)
            if ser.empty:
                continue
            t = pd.to_datetime(ser["acquired"], utc=True).dt.tz_localize(None)
            used = ser["used"].astype(bool).to_numpy()
            value = ser["count"].astype(float).to_numpy()
            if iv.indicator.spec.kind == "count":
                exposure = ser["observed_fraction"].astype(float).to_numpy()
                value = np.where(exposure > 0, value / np.where(exposure > 0, exposure, 1.0), np.nan)
            ax.plot(t[used], value[used], marker=markers.get(s.sensor, "o"), linestyle="-", linewidth=0.8,
                    label=f"{s.sensor} used")
            if (~used).any():
                ax.plot(t[~used], np.zeros(int((~used).sum())), marker="x", linestyle="none", color="#9ca3af",
                        label=f"{s.sensor} excluded (too little observed)")
        ind = iv.indicator
        ax.set_title(f"{ind.label}: {iv.verdict.upper()}", fontsize=9, color=_VERDICT_COLOUR[iv.verdict])
        unit = {"count": "per observed acq.", "area": "m2", "arrivals": "arrivals"}[ind.spec.kind]
        ax.set_ylabel(unit, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper left")
    notice = f"{claim.id}: baseline {claim.baseline} (blue), test {claim.test} (orange); dashed: claim date"
    fig.text(0.01, 0.005, notice + (f"\n{SIMULATED_CAPTION}" if cv.simulated else ""), fontsize=8,
             color="#b42318" if cv.simulated else "black", va="bottom")
    fig.subplots_adjust(hspace=0.6, top=0.96, bottom=0.9 / (2.4 * len(panels) + 1.0) + 0.02)
    return _save(fig, path)


def _best(ser: pd.DataFrame, window: str) -> pd.Series | None:
    rows = ser[(ser["window"] == window) & ser["used"].astype(bool)]
    if rows.empty:
        return None
    return rows.sort_values(["observed_fraction", "count", "acquired"], ascending=[False, False, False]).iloc[0]


def write_evidence(run_dir: str | Path | RunData, verdict: ClaimVerdict) -> dict[str, Any]:
    """Write the evidence package of one claim verdict; return its file paths relative to the run folder."""
    from satwatch.aoi import resolve_aoi

    run = run_dir if isinstance(run_dir, RunData) else load_run(run_dir)
    claim = verdict.claim
    folder = run.run_dir / "evidence" / claim.id
    folder.mkdir(parents=True, exist_ok=True)

    def rel(p: Path) -> str:
        return str(p.relative_to(run.run_dir))

    out: dict[str, Any] = {"folder": rel(folder), "chips": [], "timeseries": None, "layers": None,
                           "missing_scenes": []}
    aois = [a for a in dict.fromkeys(iv.indicator.aoi for iv in verdict.indicators) if run.sensors_of(a)]
    scenes = run.scenes
    for aoi in aois:
        sensors = run.sensors_of(aoi)
        chosen = None
        for sensor in [s for s in ("s2", "s1", "vhr") if s in sensors]:
            ser = acquisition_series(run, _any_indicator(verdict, aoi), sensor, claim.baseline, claim.test,
                                     verdict.min_observed)
            before, after = _best(ser, "baseline"), _best(ser, "test")
            if before is not None and after is not None:
                chosen = (sensor, before, after)
                break
        if chosen is None:
            continue
        sensor, before, after = chosen
        geometry = resolve_aoi(aoi).geometry
        for label, row in (("before", before), ("after", after)):
            srow = scenes[scenes["scene_id"].astype(str) == str(row["scene_id"])].iloc[0]
            scene_path = Path(str(srow["path"]))
            if not scene_path.is_file():
                out["missing_scenes"].append(str(scene_path))
                continue
            scene = read_scene(scene_path)
            det = run.detections[run.detections["scene_id"].astype(str) == str(row["scene_id"])]
            kinds = ", ".join(f"{n} {c}" for c, n in det["class"].value_counts().sort_index().items()) or "none"
            window = "baseline" if label == "before" else "test"
            title = f"{claim.id} {aoi} {sensor.upper()} {row['acquired']} ({label}: {window} window)"
            caption = (f"scene {row['scene_id']}; observed {float(row['observed_fraction']):.0%} of the AOI; "
                       f"detections ({run.detector_name}): {kinds}. Yellow: AOI; red circles: vessels; "
                       "cyan: area detections.")
            path = render_chip(scene, det, geometry, title, caption, folder / f"{aoi}_{sensor}_{label}.png",
                               verdict.simulated)
            out["chips"].append(rel(path))
    ts = _timeseries(run, verdict, folder / "timeseries.png")
    out["timeseries"] = rel(ts) if ts is not None else None
    out["layers"] = rel(_layers(run, verdict, aois, folder / "layers.gpkg"))
    return out


def _any_indicator(verdict: ClaimVerdict, aoi: str) -> Any:
    """Return a count indicator of the AOI (for picking chips), preferring one of the claim's own."""
    from satwatch.claims.catalog import Indicator

    for iv in verdict.indicators:
        if iv.indicator.aoi == aoi and iv.indicator.spec.kind in ("count", "area"):
            return iv.indicator
    return Indicator(aoi=aoi, measure="vessel_count", expect="increase", min_effect=1.0)


def _layers(run: RunData, verdict: ClaimVerdict, aois: list[str], path: Path) -> Path:
    from satwatch.aoi import resolve_aoi

    claim = verdict.claim
    sim = verdict.simulated
    layer_aois = gpd.GeoDataFrame(
        {"id": list(claim.aois), "claim": claim.id, "in_run": [a in aois for a in claim.aois], "simulated": sim},
        geometry=[resolve_aoi(a).geometry for a in claim.aois], crs=4326)
    scenes = gpd.read_file(run.run_dir / "scenes.geojson")
    if len(scenes):
        scenes["acquired"] = run.scenes.set_index("scene_id").loc[scenes["scene_id"], "acquired"].to_numpy()
        days = scenes["acquired"].astype(str).str.slice(0, 10).map(date.fromisoformat)
        scenes["window"] = [window_of(d, claim.baseline, claim.test) for d in days]
        scenes = scenes[scenes["aoi"].isin(aois) & (scenes["window"] != "")].copy()
        scenes["used"] = scenes["observed_fraction"].astype(float) >= verdict.min_observed
    det = run.detections
    if len(det):
        days = det["acquired"].astype(str).str.slice(0, 10).map(date.fromisoformat)
        inside = np.array([window_of(d, claim.baseline, claim.test) != "" for d in days], dtype=bool)
        det = det[det["aoi"].isin(aois).to_numpy() & inside]
    layers: dict[str, gpd.GeoDataFrame] = {"aois": layer_aois, "scenes": scenes, "detections": det}
    presences = []
    for iv in verdict.indicators:
        if iv.indicator.spec.kind == "arrivals":
            for s in iv.sensors:
                _, pres = arrival_series(run, iv.indicator, s.sensor, claim.baseline, claim.test,
                                         verdict.min_observed)
                if len(pres):
                    presences.append(pres)
    if presences:
        layers["presences"] = gpd.GeoDataFrame(pd.concat(presences, ignore_index=True), geometry="geometry",
                                               crs=4326)
    gc = run.run_dir / GROUND_CHANGE_GEOJSON
    if gc.is_file():
        g = gpd.read_file(gc)
        if len(g):
            g = g[g["claim"].astype(str) == claim.id]
        layers["ground_change"] = g if len(g) else gpd.GeoDataFrame({"claim": []}, geometry=[], crs=4326)
    return write_geopackage(layers, path)
