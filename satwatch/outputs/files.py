"""Atomic writers for run outputs: GeoJSON (RFC 7946), GeoPackage, CSV and JSON.

Every writer writes under a temporary name in the destination folder and renames it into place, so a reader
(QGIS, a browser, another process) never sees a half-written file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from satwatch.atomic import atomic_path

__all__ = ["write_csv", "write_geojson", "write_geopackage", "write_json"]


def _to_4326(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        return gdf.set_crs(4326)
    return gdf if gdf.crs.to_epsg() == 4326 else gdf.to_crs(4326)


def write_geojson(gdf: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write ``gdf`` as an RFC 7946 GeoJSON FeatureCollection (EPSG:4326, right-hand rule), atomically.

    GDAL's ``RFC7946=YES`` reprojects to EPSG:4326, orients rings counter-clockwise, splits geometries at the
    antimeridian and writes 7 decimal places (~1 cm).
    """
    final = Path(path)
    with atomic_path(final, ".geojson") as tmp:
        _to_4326(gdf).to_file(
            tmp, driver="GeoJSON", engine="pyogrio", layer=final.stem, layer_options={"RFC7946": "YES"}
        )
    return final


def write_geopackage(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path) -> Path:
    """Write several layers (name -> GeoDataFrame, EPSG:4326) into one GeoPackage, atomically.

    Empty layers are written too (with their columns), so a GIS user sees every layer the run can produce.
    """
    final = Path(path)
    with atomic_path(final, ".gpkg") as tmp:
        tmp.unlink()  # GDAL refuses to open the empty placeholder as a GeoPackage
        for name, gdf in layers.items():
            # GeoPackage 1.3: older GDAL (e.g. Debian's 3.6 ogrinfo, QGIS LTR builds) warns on 1.4 files.
            _to_4326(gdf).to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", dataset_options={"VERSION": "1.3"})
    return final


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as UTF-8 CSV without the index, atomically."""
    final = Path(path)
    with atomic_path(final, ".csv") as tmp:
        df.to_csv(tmp, index=False)
    return final


def write_json(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as indented UTF-8 JSON, atomically."""
    final = Path(path)
    with atomic_path(final, ".json") as tmp:
        tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return final
