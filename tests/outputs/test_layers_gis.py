"""Every output layer as a GIS user opens it: GDAL's ``ogrinfo`` (and PyQGIS where QGIS is installed).

Asserts CRS (EPSG:4326), feature counts against geopandas, and the QGIS styles: a ``layer_styles`` row per spatial
layer of ``layers.gpkg`` (default, valid QML with the expected renderer) and a ``.qml`` beside the GeoJSON.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest

from satwatch.outputs.styles import GEOJSON_STYLES, LAYER_STYLES

RENDERERS = {"detections": "categorizedSymbol", "scenes": "graduatedSymbol", "aois": "singleSymbol",
             "change_presences": "categorizedSymbol", "change_pixels": "categorizedSymbol"}


def _ogrinfo(*args: str) -> str:
    if shutil.which("ogrinfo") is None:
        pytest.skip("ogrinfo (gdal-bin) not installed: scripts/install-system-deps.sh installs it")
    res = subprocess.run(["ogrinfo", "-ro", *args], capture_output=True, text=True, check=True, timeout=120)
    assert "ERROR" not in res.stderr, res.stderr
    return res.stdout


def _layers(path: Path) -> list[str]:
    return [str(n) for n, g in pyogrio.list_layers(path) if g is not None]


def test_every_layer_loads_with_ogrinfo(report_run: Path) -> None:
    files = [*sorted(report_run.glob("*.geojson")), report_run / "layers.gpkg",
             *sorted(report_run.glob("evidence/*/*.gpkg"))]
    assert {"scenes.geojson", "detections.geojson", "changes.geojson", "layers.gpkg"} <= {f.name for f in files}
    checked = 0
    for path in files:
        for layer in _layers(path):
            out = _ogrinfo("-so", str(path), layer)
            expected = len(gpd.read_file(path, layer=layer))
            assert f"Feature Count: {expected}" in out, (path.name, layer)
            if expected:
                assert 'ID["EPSG",4326]' in out or 'AUTHORITY["EPSG","4326"]' in out, (path.name, layer)
            checked += 1
    assert checked >= 10


def test_geopackage_carries_default_qgis_styles(report_run: Path) -> None:
    gpkg = report_run / "layers.gpkg"
    spatial = set(_layers(gpkg))
    assert {"aois", "scenes", "detections", "simulated_truth", "change_presences", "change_pixels"} <= spatial
    out = _ogrinfo("-sql", "SELECT f_table_name, useAsDefault FROM layer_styles", str(gpkg))
    assert "layer_styles" in _ogrinfo("-q", str(gpkg))  # registered: GDAL lists it as a table
    for layer in spatial:
        assert f"f_table_name (String) = {layer}" in out
    with sqlite3.connect(gpkg) as db:
        rows = db.execute("SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles").fetchall()
        geom_cols = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
    assert len(rows) == len(spatial)
    for name, column, default, qml in rows:
        assert column == geom_cols[name] and default == 1
        root = ET.fromstring(qml.split("\n", 1)[1])
        renderer = root.find("renderer-v2")
        assert renderer is not None
        if name in RENDERERS:
            assert renderer.get("type") == RENDERERS[name], name
    detections = dict((n, q) for n, _, _, q in rows)["detections"]
    root = ET.fromstring(detections.split("\n", 1)[1])
    values = {c.get("value") for c in root.iter("category")}
    assert {"vessel", "vehicle", "encampment"} <= values
    assert "scale_linear(coalesce(\"score\"" in detections  # score-based size
    assert LAYER_STYLES["detections"].field == "class"


def test_qml_beside_geojson(report_run: Path) -> None:
    for file, layer in GEOJSON_STYLES.items():
        if not (report_run / file).is_file():
            continue
        qml = (report_run / file).with_suffix(".qml")
        root = ET.parse(qml).getroot()
        assert root.tag == "qgis" and root.find("renderer-v2") is not None, layer
    assert (report_run / "detections.qml").is_file() and (report_run / "scenes.qml").is_file()


def test_qgis_applies_the_styles_where_installed(report_run: Path, tmp_path: Path) -> None:
    python = shutil.which("python3")
    probe = subprocess.run([python or "python3", "-c", "import qgis.core"], capture_output=True)
    if python is None or probe.returncode != 0:
        pytest.skip("QGIS (PyQGIS) not installed: optional, see docs/report.md")
    script = tmp_path / "check.py"
    script.write_text(
        "import sys\nfrom qgis.core import QgsApplication, QgsVectorLayer\n"
        "app = QgsApplication([], False); app.initQgis()\n"
        f"gpkg = {str(report_run / 'layers.gpkg')!r}\n"
        "for name, kind in (('detections', 'categorizedSymbol'), ('scenes', 'graduatedSymbol')):\n"
        "    layer = QgsVectorLayer(f'{gpkg}|layername={name}', name, 'ogr')\n"
        "    assert layer.isValid(), name\n"
        "    assert layer.crs().authid() == 'EPSG:4326', layer.crs().authid()\n"
        "    assert layer.renderer().type() == kind, (name, layer.renderer().type())\n"
        "print('ok')\n")
    res = subprocess.run([python or "python3", str(script)], capture_output=True, text=True, timeout=300,
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr[-2000:]
