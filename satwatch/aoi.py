"""Areas of interest: the catalog in ``aoi/aois.geojson`` and users' own vector files.

An AOI is a polygon (or multipolygon) in EPSG:4326 with descriptive properties. Wherever a command takes
``--aoi`` it takes either a catalog id or a path to a GeoJSON / GeoPackage file of the user's own; both go
through the same validation:

- geometry must be a non-empty, valid (not self-intersecting) polygon or multipolygon;
- input in another CRS is reprojected to EPSG:4326; input with no CRS must already be in degrees;
- an AOI crossing the antimeridian (longitudes beyond 180, or a ring jumping from +179 to -179) is split into
  a multipolygon at 180 degrees, never rejected;
- areas under ``MIN_AREA_KM2`` or over ``MAX_AREA_KM2`` are refused;
- ids must be safe as file names (``[a-z0-9][a-z0-9_-]*``) and unique within a file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry

from satwatch.errors import AOIError, InputFileError, UnknownAOIError
from satwatch.settings import REPO_ROOT

__all__ = [
    "AOI",
    "CATALOG_PATH",
    "CLASSES",
    "MAX_AREA_KM2",
    "MIN_AREA_KM2",
    "load_aoi_file",
    "load_catalog",
    "project_geometry",
    "resolve_aoi",
    "resolve_aois",
]

CATALOG_PATH = REPO_ROOT / "aoi" / "aois.geojson"
"""The shipped catalog (in the repository checkout or the Docker image, beside the package)."""
CLASSES = ("vessel", "vehicle", "encampment")
MIN_AREA_KM2 = 0.01
"""Smaller than a 10 x 10 Sentinel-2 pixel patch: nothing can be counted in it."""
MAX_AREA_KM2 = 25_000.0
"""About two Sentinel-2 tiles: larger boxes are a typo (degrees for kilometres) or a country, not an AOI."""
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_GEOD = pyproj.Geod(ellps="WGS84")


@dataclass(frozen=True)
class AOI:
    """One validated area of interest."""

    id: str
    """Identifier, safe as a file name: lower-case letters, digits, ``_`` and ``-``."""
    geometry: Polygon | MultiPolygon = field(repr=False)
    """Footprint in EPSG:4326, longitudes in [-180, 180]; a multipolygon when split at the antimeridian."""
    name: str = ""
    """Human-readable name."""
    country: str = ""
    """ISO 3166-1 alpha-2 code of the country the AOI lies in."""
    watch: tuple[str, ...] = CLASSES
    """Object classes worth counting here (subset of ``vessel``, ``vehicle``, ``encampment``)."""
    rationale: str = ""
    """Why the place is watched."""
    source: str = ""
    """Where the location comes from (public reporting, coordinates)."""
    confidence: str = "unverified"
    """How well the place is pinned: ``high``, ``medium-high``, ``medium``, ``low`` or ``unverified``."""

    @property
    def crosses_antimeridian(self) -> bool:
        """True when the geometry was split at 180 degrees."""
        b = self.geometry.bounds
        return isinstance(self.geometry, MultiPolygon) and b[0] <= -179.999999 and b[2] >= 179.999999

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)`` in degrees; across the antimeridian min_lon > max_lon."""
        if not self.crosses_antimeridian:
            b = self.geometry.bounds
            return (b[0], b[1], b[2], b[3])
        parts = list(getattr(self.geometry, "geoms", [self.geometry]))
        east = [g for g in parts if g.bounds[0] >= 0]
        west = [g for g in parts if g.bounds[0] < 0]
        return (
            min(g.bounds[0] for g in east),
            self.geometry.bounds[1],
            max(g.bounds[2] for g in west),
            self.geometry.bounds[3],
        )

    @property
    def area_km2(self) -> float:
        """Geodesic area on the WGS84 ellipsoid, km2."""
        return geodesic_area_km2(self.geometry)

    @property
    def centroid_lonlat(self) -> tuple[float, float]:
        """Centroid ``(lon, lat)`` in degrees, correct across the antimeridian."""
        c = _unwrap(self.geometry).centroid
        lon = ((c.x + 180.0) % 360.0) - 180.0
        return (lon, c.y)

    @property
    def utm_epsg(self) -> int:
        """EPSG code of the WGS84 / UTM zone holding the centroid (326xx north, 327xx south)."""
        lon, lat = self.centroid_lonlat
        zone = min(60, int((lon + 180.0) // 6.0) + 1)
        return (32600 if lat >= 0 else 32700) + zone

    def geometry_in(self, crs: int | str | pyproj.CRS) -> BaseGeometry:
        """Return the geometry projected to ``crs`` (an EPSG code or CRS), unsplit across the antimeridian."""
        return project_geometry(_unwrap(self.geometry), 4326, crs)

    def to_feature(self) -> dict[str, Any]:
        """Return a GeoJSON Feature (RFC 7946) with the AOI's properties."""
        return {
            "type": "Feature",
            "properties": {
                "id": self.id,
                "name": self.name,
                "country": self.country,
                "watch": list(self.watch),
                "rationale": self.rationale,
                "source": self.source,
                "confidence": self.confidence,
            },
            "geometry": mapping(shapely.orient_polygons(self.geometry)),
        }


def project_geometry(geom: BaseGeometry, src_crs: Any, dst_crs: Any) -> BaseGeometry:
    """Reproject a shapely geometry from ``src_crs`` to ``dst_crs`` (EPSG codes, WKT or pyproj CRSs)."""
    tr = pyproj.Transformer.from_crs(src_crs, dst_crs, always_xy=True)

    def _xy(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, _xy)


def geodesic_area_km2(geom: BaseGeometry) -> float:
    """Geodesic area of a lon/lat geometry on the WGS84 ellipsoid, in km2."""
    area, _ = _GEOD.geometry_area_perimeter(geom)
    return abs(area) / 1e6


def _unwrap(geom: BaseGeometry) -> BaseGeometry:
    """Join antimeridian-split parts into one geometry with longitudes in [0, 360) where needed."""
    if not isinstance(geom, MultiPolygon):
        return geom
    b = geom.bounds
    if not (b[0] <= -179.999999 and b[2] >= 179.999999):
        return geom
    shifted = _map_lon(geom, lambda lon: lon % 360.0)
    return shapely.union_all([shapely.make_valid(g) for g in getattr(shifted, "geoms", [shifted])])


def _map_lon(geom: BaseGeometry, fn: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]) -> BaseGeometry:
    """Apply ``fn`` to every longitude of ``geom`` (vectorised), keeping latitudes."""

    def _xy(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        out = coords.copy()
        out[:, 0] = fn(coords[:, 0])
        return out

    return shapely.transform(geom, _xy)


def _split_antimeridian(geom: BaseGeometry) -> BaseGeometry:
    """Split a polygon whose longitudes run past 180 (or jump across it) into parts on both sides."""
    minx, _, maxx, _ = geom.bounds
    if maxx - minx > 180.0:
        # A ring that jumps from +179 to -179: move the western longitudes east by 360.
        geom = _map_lon(geom, lambda lon: lon + 360.0 * (lon < 0))
        minx, _, maxx, _ = geom.bounds
    if minx < -180.0:
        geom = _map_lon(geom, lambda lon: lon + 360.0)
        minx, _, maxx, _ = geom.bounds
    if maxx <= 180.0:
        return geom
    east = geom.intersection(box(-180.0, -90.0, 180.0, 90.0))
    west = _map_lon(geom.intersection(box(180.0, -90.0, 540.0, 90.0)), lambda lon: lon - 360.0)
    parts: list[Polygon] = []
    for g in (east, west):
        parts.extend(p for p in getattr(g, "geoms", [g]) if isinstance(p, Polygon) and not p.is_empty)
    return MultiPolygon(parts)


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return CLASSES
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


def validate_aoi(raw_id: Any, geom: BaseGeometry | None, props: dict[str, Any], where: str) -> AOI:
    """Validate one feature and return the AOI, or raise :class:`AOIError` naming ``where``."""
    aoi_id = str(raw_id or "").strip()
    if not _ID_RE.match(aoi_id):
        raise AOIError(
            f"{where}: AOI id {aoi_id!r} is not safe as a file name; use 1-64 lower-case letters, digits, "
            "'_' or '-', starting with a letter or digit"
        )
    if geom is None or geom.is_empty:
        raise AOIError(f"{where}: AOI {aoi_id!r} has an empty geometry")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise AOIError(f"{where}: AOI {aoi_id!r} is a {geom.geom_type}; an AOI must be a Polygon or MultiPolygon")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise AOIError(f"{where}: AOI {aoi_id!r} has an invalid geometry ({reason}); fix the ring order or "
                       "self-intersection")
    minx, miny, maxx, maxy = geom.bounds
    if miny < -90 or maxy > 90 or minx < -540 or maxx > 540:
        raise AOIError(f"{where}: AOI {aoi_id!r} has coordinates outside longitude/latitude degrees; "
                       "give the file a CRS or reproject it to EPSG:4326")
    geom = _split_antimeridian(geom)
    area = geodesic_area_km2(geom)
    if area < MIN_AREA_KM2:
        raise AOIError(f"{where}: AOI {aoi_id!r} covers {area:.4f} km2, under the {MIN_AREA_KM2} km2 minimum")
    if area > MAX_AREA_KM2:
        raise AOIError(f"{where}: AOI {aoi_id!r} covers {area:,.0f} km2, over the {MAX_AREA_KM2:,.0f} km2 limit; "
                       "draw a smaller box around the facility")
    watch = _as_list(props.get("watch"))
    bad = sorted(set(watch) - set(CLASSES))
    if bad:
        raise AOIError(f"{where}: AOI {aoi_id!r} watches unknown classes {bad}; allowed: {list(CLASSES)}")
    if not isinstance(geom, MultiPolygon | Polygon):
        raise AOIError(f"{where}: AOI {aoi_id!r} does not form a polygon after splitting at the antimeridian")
    return AOI(
        id=aoi_id,
        geometry=geom,
        name=str(props.get("name") or aoi_id),
        country=str(props.get("country") or ""),
        watch=watch,
        rationale=str(props.get("rationale") or ""),
        source=str(props.get("source") or ""),
        confidence=str(props.get("confidence") or "unverified"),
    )


def load_aoi_file(path: str | Path) -> list[AOI]:
    """Read and validate every feature of a GeoJSON or GeoPackage file (first layer), in file order.

    A feature's id is its ``id`` property, else the file stem when the file holds a single feature.

    Raises:
        InputFileError: the file does not exist or no vector driver can read it.
        AOIError: a feature is invalid (see the module docstring) or two features share an id.
    """
    import geopandas as gpd  # heavy import, kept local so `satwatch aoi list` stays quick

    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"AOI file {p} does not exist")
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputFileError(f"cannot read {p} as a GeoJSON/GeoPackage vector file: {exc}") from exc
    if len(gdf) == 0:
        raise AOIError(f"{p}: the file holds no features")
    if gdf.crs is not None and not gdf.crs.equals(pyproj.CRS.from_epsg(4326)):
        gdf = gdf.to_crs(4326)
    aois: list[AOI] = []
    seen: set[str] = set()
    for i, row in enumerate(gdf.itertuples(index=False)):
        props = {k: v for k, v in row._asdict().items() if k != "geometry"}
        props = {k: (None if _is_missing(v) else v) for k, v in props.items()}
        raw_id = props.get("id") or (p.stem.lower() if len(gdf) == 1 else None)
        if isinstance(props.get("watch"), str) and props["watch"].startswith("["):
            props["watch"] = json.loads(props["watch"])
        aoi = validate_aoi(raw_id, row.geometry, props, f"{p} feature {i}")
        if aoi.id in seen:
            raise AOIError(f"{p}: AOI id {aoi.id!r} appears more than once; ids must be unique")
        seen.add(aoi.id)
        aois.append(aoi)
    return aois


def _is_missing(value: Any) -> bool:
    try:
        return value is None or (isinstance(value, float) and math.isnan(value))
    except TypeError:
        return False


def load_catalog(path: str | Path | None = None) -> dict[str, AOI]:
    """Load the AOI catalog (default: the shipped ``aoi/aois.geojson``) as ``{id: AOI}`` in file order.

    Read with the standard library (no GDAL), so listing AOIs is fast.

    Example:
        >>> "ru_dunai" in load_catalog()
        True
    """
    p = Path(path) if path is not None else CATALOG_PATH
    if not p.is_file():
        raise InputFileError(f"AOI catalog {p} does not exist")
    data = json.loads(p.read_text(encoding="utf-8"))
    catalog: dict[str, AOI] = {}
    for i, feat in enumerate(data.get("features", [])):
        props = dict(feat.get("properties") or {})
        geom = shape(feat["geometry"]) if feat.get("geometry") else None
        aoi = validate_aoi(props.get("id", feat.get("id")), geom, props, f"{p} feature {i}")
        if aoi.id in catalog:
            raise AOIError(f"{p}: AOI id {aoi.id!r} appears more than once; ids must be unique")
        catalog[aoi.id] = aoi
    return catalog


def _looks_like_path(spec: str) -> bool:
    return "/" in spec or spec.lower().endswith((".geojson", ".json", ".gpkg"))


def resolve_aois(specs: Iterable[str], catalog: dict[str, AOI] | None = None) -> list[AOI]:
    """Resolve ``--aoi`` values (catalog ids or vector file paths) to AOIs, keeping order, without repeats.

    Raises:
        UnknownAOIError: a value is neither a catalog id nor an existing file.
    """
    cat = load_catalog() if catalog is None else catalog
    out: dict[str, AOI] = {}
    for spec in specs:
        if spec in cat:
            found: Sequence[AOI] = [cat[spec]]
        elif Path(spec).is_file() or _looks_like_path(spec):
            if not Path(spec).is_file():
                raise InputFileError(f"AOI file {spec} does not exist")
            found = load_aoi_file(spec)
        else:
            raise UnknownAOIError(
                f"unknown AOI {spec!r}: not a catalog id (see `satwatch aoi list`) nor a path to a vector file"
            )
        for aoi in found:
            out[aoi.id] = aoi
    return list(out.values())


def resolve_aoi(spec: str, catalog: dict[str, AOI] | None = None) -> AOI:
    """Resolve one ``--aoi`` value that must name exactly one AOI."""
    aois = resolve_aois([spec], catalog)
    if len(aois) != 1:
        raise AOIError(f"{spec} holds {len(aois)} AOIs; name one of them by id: {[a.id for a in aois]}")
    return aois[0]
