"""QGIS styles for the run's layers: a ``layer_styles`` table in ``layers.gpkg`` and ``.qml`` files beside GeoJSON.

QGIS applies a GeoPackage layer's default style from the ``layer_styles`` table (QGIS's own GeoPackage style
extension: one row per layer, ``useAsDefault = 1``) and a file layer's style from a ``.qml`` file of the same
name beside it, the moment the layer is added. The styles here use the report's colours:

- ``detections``: categorised by ``class`` (vessel cyan, vehicle amber, encampment red-orange), marker size
  (points) or outline width (polygons) scaled by ``score`` (``scale_linear("score", 0, 1, ...)``);
- ``scenes``: footprints graduated by ``observed_fraction`` (under 0.5: red, not used for counts; 0.5-0.9 amber;
  0.9 and over: green), no fill;
- ``aois``: dashed yellow outline; ``simulated_truth``: hollow grey markers by class;
- ``change_presences`` by ``status``, ``change_footprints`` by ``status``, ``change_pixels`` by ``kind``.

Example::

    write_styles("data/outputs/20241124T101500Z-primorsky-autumn-2024")   # layer_styles + detections.qml, ...

Styles are plain QML written here (no QGIS needed); ``docs/outputs.md`` lists them with the fields they read.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pyogrio

from satwatch.atomic import atomic_path

__all__ = ["GEOJSON_STYLES", "LAYER_STYLES", "LayerStyle", "layer_qml", "write_styles"]

_CLASS = (("vessel", "#00e5ff"), ("vehicle", "#ffb300"), ("encampment", "#ff3d00"))
_PRESENCE = (("arrived", "#00e676"), ("departed", "#ff1744"), ("persisted", "#448aff"), ("visited", "#e040fb"))
_FOOTPRINT = (("new", "#00e676"), ("removed", "#ff1744"), ("persisting", "#448aff"))
_PIXELS = (("s1_increase", "#ffea00"), ("s1_decrease", "#2979ff"), ("s2_disturbance", "#ff6d00"))
_OBSERVED = ((0.0, 0.5, "#e53935", "under 0.5 (not used for counts)"), (0.5, 0.9, "#ffb300", "0.5 - 0.9"),
             (0.9, 1.0001, "#43a047", "0.9 - 1"))


@dataclass(frozen=True)
class LayerStyle:
    """How one layer is drawn."""

    kind: str
    """``categorized`` (by ``field`` and ``categories``), ``graduated`` (``observed_fraction`` ranges) or
    ``single``."""
    field: str = ""
    """Attribute the renderer reads (categorised and graduated)."""
    categories: tuple[tuple[str, str], ...] = ()
    """(value, ``#rrggbb`` colour) pairs of a categorised renderer."""
    colour: str = "#ffd600"
    """Colour of a single-symbol style."""
    fill_alpha: int = 60
    """Fill opacity 0..255 (markers and polygons); 0 draws outlines only."""
    score_scaled: bool = False
    """Scale marker size / outline width with the ``score`` field (0..1)."""
    dashed: bool = False
    """Dashed outline (AOIs)."""


LAYER_STYLES: dict[str, LayerStyle] = {
    "aois": LayerStyle("single", colour="#ffd600", fill_alpha=0, dashed=True),
    "scenes": LayerStyle("graduated", field="observed_fraction", fill_alpha=0),
    "detections": LayerStyle("categorized", field="class", categories=_CLASS, fill_alpha=70, score_scaled=True),
    "simulated_truth": LayerStyle("categorized", field="class",
                                  categories=tuple((c, "#bdbdbd") for c, _ in _CLASS), fill_alpha=0),
    "change_presences": LayerStyle("categorized", field="status", categories=_PRESENCE, fill_alpha=0),
    "change_footprints": LayerStyle("categorized", field="status", categories=_FOOTPRINT, fill_alpha=50),
    "change_pixels": LayerStyle("categorized", field="kind", categories=_PIXELS, fill_alpha=60),
}
"""Style of each ``layers.gpkg`` layer (a layer not listed gets a single yellow symbol)."""

GEOJSON_STYLES: dict[str, str] = {"scenes.geojson": "scenes", "detections.geojson": "detections",
                                  "truth.geojson": "simulated_truth"}
"""GeoJSON files that get a ``.qml`` beside them, and the layer style they use. ``changes.geojson`` mixes points
and polygons, which one QGIS style cannot draw: its styled form is the ``change_*`` layers of ``layers.gpkg``."""


def _rgba(colour: str, alpha: int = 255) -> str:
    c = colour.lstrip("#")
    return f"{int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},{alpha}"


def _dd(prop: str, expression: str) -> str:
    return ('<data_defined_properties><Option type="Map"><Option name="name" value="" type="QString"/>'
            f'<Option name="properties" type="Map"><Option name="{prop}" type="Map">'
            '<Option name="active" value="true" type="bool"/>'
            f'<Option name="expression" value={quoteattr(expression)} type="QString"/>'
            '<Option name="type" value="3" type="int"/></Option></Option>'
            '<Option name="type" value="collection" type="QString"/></Option></data_defined_properties>')


def _props(values: dict[str, str]) -> str:
    return "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in values.items())


def _symbol(name: str, geometry: str, colour: str, style: LayerStyle) -> str:
    """One QGIS symbol (``marker``, ``line`` or ``fill``) for ``geometry`` (Point, LineString, Polygon)."""
    fill = _rgba(colour, style.fill_alpha)
    line = _rgba(colour)
    if geometry == "Point":
        layer = ('<layer class="SimpleMarker" enabled="1" locked="0" pass="0">'
                 + _props({"name": "circle", "color": fill, "outline_color": line, "outline_style": "solid",
                           "outline_width": "0.5", "outline_width_unit": "MM", "size": "3", "size_unit": "MM",
                           "scale_method": "diameter"})
                 + (_dd("size", 'scale_linear(coalesce("score", 0.5), 0, 1, 1.5, 5)') if style.score_scaled else "")
                 + "</layer>")
        return f'<symbol type="marker" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">{layer}</symbol>'
    if geometry == "LineString":
        layer = ('<layer class="SimpleLine" enabled="1" locked="0" pass="0">'
                 + _props({"line_color": line, "line_width": "0.6", "line_width_unit": "MM",
                           "line_style": "dash" if style.dashed else "solid"}) + "</layer>")
        return f'<symbol type="line" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">{layer}</symbol>'
    layer = ('<layer class="SimpleFill" enabled="1" locked="0" pass="0">'
             + _props({"color": fill, "style": "solid" if style.fill_alpha else "no", "outline_color": line,
                       "outline_style": "dash" if style.dashed else "solid", "outline_width": "0.6",
                       "outline_width_unit": "MM", "joinstyle": "miter"})
             + (_dd("strokeWidth", 'scale_linear(coalesce("score", 0.5), 0, 1, 0.2, 1.2)')
                if style.score_scaled else "")
             + "</layer>")
    return f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">{layer}</symbol>'


def layer_qml(layer: str, geometry: str) -> str:
    """QML document styling ``layer`` (a name of :data:`LAYER_STYLES`) whose features are ``geometry``.

    ``geometry`` is ``Point``, ``LineString`` or ``Polygon`` (multi-types and unknown types map to the closest).
    """
    geom = "Point" if "Point" in geometry else "LineString" if "Line" in geometry else "Polygon"
    style = LAYER_STYLES.get(layer, LayerStyle("single"))
    if style.kind == "categorized":
        cats = "".join(f"<category value={quoteattr(v)} symbol=\"{i}\" label={quoteattr(v)} render=\"true\"/>"
                       for i, (v, _) in enumerate(style.categories))
        other = len(style.categories)
        cats += f'<category value="" symbol="{other}" label="other" render="true"/>'
        symbols = "".join(_symbol(str(i), geom, c, style) for i, (_, c) in enumerate(style.categories))
        symbols += _symbol(str(other), geom, "#ffffff", style)
        renderer = (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(style.field)} symbollevels="0" '
                    f'forceraster="0" enableorderby="0"><categories>{cats}</categories>'
                    f"<symbols>{symbols}</symbols></renderer-v2>")
    elif style.kind == "graduated":
        ranges = "".join(f'<range lower="{lo}" upper="{hi}" symbol="{i}" label={quoteattr(label)} render="true"/>'
                         for i, (lo, hi, _, label) in enumerate(_OBSERVED))
        symbols = "".join(_symbol(str(i), geom, c, style) for i, (_, _, c, _) in enumerate(_OBSERVED))
        renderer = (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(style.field)} '
                    f'graduatedMethod="GraduatedColor" symbollevels="0" forceraster="0" enableorderby="0">'
                    f"<ranges>{ranges}</ranges><symbols>{symbols}</symbols></renderer-v2>")
    else:
        renderer = ('<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0" enableorderby="0"><symbols>'
                    + _symbol("0", geom, style.colour, style) + "</symbols></renderer-v2>")
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="3.28.0" styleCategories="Symbology">{renderer}'
            '<blendMode>0</blendMode><featureBlendMode>0</featureBlendMode><layerOpacity>1</layerOpacity></qgis>\n')


def _geometry_of(path: Path, layer: str | None = None) -> str:
    info = pyogrio.read_info(path, layer=layer)
    geom = str(info.get("geometry_type") or "Unknown")
    if geom in ("Unknown", "Geometry", "GeometryCollection") and info.get("features", 0):
        # Mixed layer: style the most common geometry type.
        import geopandas as gpd

        types = gpd.read_file(path, layer=layer, columns=[]).geom_type.value_counts()
        geom = str(types.index[0]) if len(types) else "Point"
    return geom


_CREATE = """CREATE TABLE IF NOT EXISTS layer_styles (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, f_table_catalog TEXT(256), f_table_schema TEXT(256),
  f_table_name TEXT(256), f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT,
  useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), update_time DATETIME)"""


def write_gpkg_styles(gpkg: str | Path, layers: Sequence[str] | None = None) -> list[str]:
    """Write (replace) the default QGIS style of each spatial layer of ``gpkg`` into its ``layer_styles`` table.

    The table is registered in ``gpkg_contents`` as an attributes table, so GDAL lists it and the file stays a
    valid GeoPackage. Returns the styled layer names.
    """
    path = Path(gpkg)
    geometry_columns: dict[str, str] = {}
    with sqlite3.connect(path) as db:
        for table, column in db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"):
            geometry_columns[str(table)] = str(column)
    names = [n for n in (layers or list(geometry_columns)) if n in geometry_columns and n != "layer_styles"]
    rows = [(n, geometry_columns[n], layer_qml(n, _geometry_of(path, n))) for n in names]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with sqlite3.connect(path) as db:
        db.execute(_CREATE)
        db.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, "
                   "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                   "'QGIS default styles written by satwatch', ?)", (now,))
        for name, column, qml in rows:
            db.execute("DELETE FROM layer_styles WHERE f_table_name = ?", (name,))
            db.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                       "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui, update_time) "
                       "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, 'satwatch', NULL, ?)",
                       (name, column, f"satwatch {name}", qml, f"satwatch default style of {name}", now))
    return names


def write_styles(run_dir: str | Path) -> list[Path]:
    """Style a run folder for QGIS and return the files written or updated.

    Writes the ``layer_styles`` table of ``layers.gpkg`` and a ``.qml`` beside each GeoJSON of
    :data:`GEOJSON_STYLES`.
    """
    run = Path(run_dir)
    written: list[Path] = []
    gpkg = run / "layers.gpkg"
    if gpkg.is_file():
        write_gpkg_styles(gpkg)
        written.append(gpkg)
    for file, layer in GEOJSON_STYLES.items():
        src = run / file
        if not src.is_file():
            continue
        qml = src.with_suffix(".qml")
        with atomic_path(qml, ".qml") as tmp:
            tmp.write_text(layer_qml(layer, _geometry_of(src)), encoding="utf-8")
        written.append(qml)
    return written
