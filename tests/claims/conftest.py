"""Hand-made run folders: the files verdicts read (run.json, scenes.geojson, detections.geojson), no imagery."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from satwatch.aoi import load_catalog
from satwatch.detection.detections import as_detections
from satwatch.outputs.files import write_geojson

RunMaker = Callable[..., Path]


def _scene_id(aoi: str, sensor: str, day: date) -> str:
    return f"{aoi}_{sensor}_{day:%Y%m%d}T014500"


@pytest.fixture
def make_run(tmp_path: Path) -> RunMaker:
    """Build a run folder: ``values`` per sensor is a list of (day, observed_fraction, objects).

    ``objects`` is an int (that many vessels of ``length_m``) or a float (one encampment polygon of that area,
    class ``area_class``). ``error_models`` (dicts of ``ErrorModel.to_dict``) go into run.json as a run stores
    them; ``water_km2`` is each scene's observed water per fully observed acquisition, ``berth_km2`` the part of it
    within 60 m of a coast.
    """

    def make(
        aoi: str = "ru_ussuriysk",
        values: dict[str, Sequence[tuple[date, float, float]]] | None = None,
        classes: Sequence[str] = ("vessel",),
        classes_by_sensor: dict[str, Sequence[str]] | None = None,
        detector: str = "baseline-cfar-1",
        length_m: float | None = 110.0,
        area_class: str = "encampment",
        name: str = "run",
        error_models: Sequence[dict[str, Any]] | None = None,
        water_km2: float | None = None,
        berth_km2: float | None = None,
    ) -> Path:
        run = tmp_path / name
        run.mkdir()
        lon, lat = load_catalog()[aoi].centroid_lonlat
        scenes, dets = [], []
        for sensor, rows in (values or {}).items():
            for day, observed, objects in rows:
                sid = _scene_id(aoi, sensor, day)
                acquired = f"{day.isoformat()}T01:45:00Z"
                scenes.append({"scene_id": sid, "aoi": aoi, "sensor": sensor, "acquired": acquired,
                               "observed_fraction": observed, "min_object_length_m": 25.0, "path": "/nowhere.tif",
                               "simulated": True, "geometry": box(lon - 0.1, lat - 0.1, lon + 0.1, lat + 0.1),
                               **({} if water_km2 is None else {"observed_water_km2": water_km2 * observed,
                                                                 "observed_land_km2": 10.0 * observed}),
                               **({} if berth_km2 is None else {"observed_berth_km2": berth_km2 * observed})})
                common = {"scene_id": sid, "acquired": acquired, "sensor": sensor, "aoi": aoi, "simulated": True,
                          "detector": detector, "score": 0.9}
                if isinstance(objects, float):
                    if objects > 0:
                        side = (objects ** 0.5) / 111_000.0
                        dets.append({**common, "class": area_class, "area_m2": objects,
                                     "geometry": box(lon, lat, lon + side / 0.72, lat + side)})
                else:
                    for k in range(int(objects)):
                        dets.append({**common, "class": "vessel", "length_m": length_m,
                                     "geometry": Point(lon + 0.01 * k, lat)})
        write_geojson(gpd.GeoDataFrame(scenes, geometry="geometry", crs=4326), run / "scenes.geojson")
        frame = as_detections(gpd.GeoDataFrame(dets, geometry="geometry", crs=4326)) if dets else None
        if frame is not None:
            write_geojson(frame, run / "detections.geojson")
        else:
            write_geojson(gpd.GeoDataFrame({"class": []}, geometry=[], crs=4326), run / "detections.geojson")
        det = {"name": detector, "classes": list(classes)}
        if classes_by_sensor is not None:
            det["classes_by_sensor"] = {k: list(v) for k, v in classes_by_sensor.items()}
        if error_models is not None:
            det["error_models"] = list(error_models)
        (run / "run.json").write_text(json.dumps({"run_id": name, "simulated": True, "detector": det}))
        return run

    return make


def days(start: date, n: int, step: int = 5) -> list[date]:
    return [start + timedelta(days=step * i) for i in range(n)]
