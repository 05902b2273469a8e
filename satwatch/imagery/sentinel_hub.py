"""Real imagery: Sentinel-2 L2A and Sentinel-1 GRD from Sentinel Hub or the Copernicus Data Space Ecosystem.

The source talks to the Sentinel Hub APIs through sentinelhub-py, with a commercial Sentinel Hub account
(provider ``sentinel-hub``) or a free Copernicus Data Space Ecosystem account (provider ``cdse``).

Search (Catalog API)
    One :class:`SentinelHubAcquisition` per overpass, never a mosaic: catalog items (one per Sentinel-2 tile or
    Sentinel-1 GRD slice) of the same platform within :data:`ACQUISITION_WINDOW` of the first one are one
    acquisition, acquired at the earliest item's time (it also records the latest item's time). Its cloud
    fraction is the items' cloud cover weighted by their share of the AOI; its coverage is the fraction of the
    AOI inside the union of their footprints. ``max_cloud`` and ``min_coverage`` filter acquisitions, never single
    tiles. The search runs from the start day's first instant to the end of the end day (items carry
    milliseconds, so the end is the last microsecond, not 23:59:59).

Fetch (Process API)
    One acquisition at a time: the request's time range spans its catalog items, ``[first item - TIME_PAD,
    last item + TIME_PAD]`` (``[acquired - TIME_PAD, acquired + ACQUISITION_WINDOW]`` when the last item is
    unknown), which holds that overpass only. The grid is the AOI's UTM zone (``aoi.utm_epsg``) at
    10 m, bounds of the projected AOI snapped outwards to 10 m (the same grid the simulated source uses). AOIs
    wider or taller than :data:`MAX_PX` pixels are split with sentinelhub's ``BBoxSplitter`` into pieces
    snapped to the pixel grid; pieces outside the AOI polygon are not requested, and the pieces are merged into
    one scene. The raw TIFF bytes are decoded here and georeferenced with the request's own bbox, CRS and size
    (sentinelhub's decoder drops georeferencing). Evalscripts:

    - ``s2``: ``B02 B03 B04 B08 B11 B12`` and ``SCL`` as UINT16 digital numbers (harmonised, so DN = 10000 x
      reflectance; a 16-bit output costs half the processing units of FLOAT32), scaled to float32 reflectance
      0..1 (and above) on decode; ``SCL`` keeps its class codes;
    - ``s1``: IW GRD dual-polarisation ``VV VH`` sigma0 (``SIGMA0_ELLIPSOID``), orthorectified on the
      Copernicus 30 m DEM, converted to dB (FLOAT32: dB values are negative and fractional);

    both with the service's ``dataMask``: pixels without data become NaN. Scenes are written into the archive
    (scene file contract, ``simulated = false``, ``source`` = the provider) with a STAC Item carrying
    ``eo:cloud_cover`` (Sentinel-2) and the provider's item ids. An answer without a single valid pixel is not
    archived: :class:`~satwatch.errors.NoDataError` says so, and a later run asks again.

Caching
    A scene already archived for the same AOI geometry is returned without any request (not even a token).
    Scenes are written atomically, so an interrupted fetch leaves nothing that reads as a scene.

Failures
    A request is tried at most ``RetryPolicy.attempts`` times on connection errors, timeouts and 5xx answers
    (``attempts - 1`` retries with backoff). A 429 answer (token, catalog or process request) waits the
    ``Retry-After`` the service sends (milliseconds), logged at INFO, at most ``RetryPolicy.rate_limited - 1``
    times per request; a ``Retry-After`` longer than ``RetryPolicy.max_wait_s`` (``SATWATCH_SH_MAX_WAIT_S``,
    default 120 s) is not waited: :class:`~satwatch.errors.ProviderError` names both at once. Only 401 answers
    and the token errors ``invalid_client`` / ``unauthorized_client`` mean rejected credentials
    (:class:`~satwatch.errors.CredentialsError`, one fixed line); 403 answers (a used-up quota, a missing
    permission) and every other refusal raise :class:`~satwatch.errors.ProviderError` quoting the server's
    ``code`` and ``message``; missing credentials name the variable to set. Secrets never reach messages or
    logs: messages are built here and scrubbed, and the OAuth libraries' debug logs (which print the token
    request body) are kept quiet.

Configuration (see ``docs/real-imagery.md``)
    Provider by argument, else ``SATWATCH_PROVIDER``; ``SATWATCH_SH_BASE_URL`` / ``SATWATCH_SH_TOKEN_URL``
    override the provider's URLs (tests, private deployments); ``http://`` URLs are refused except for loopback
    hosts. Credentials come from ``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET``, else from the sentinelhub config
    profile named by ``SH_PROFILE`` (default ``default-profile``) in sentinelhub's ``config.toml``, which is
    read and never written.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import logging
import math
import os
import sys
import tarfile
import threading
import time as _time
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import requests
from affine import Affine
from oauthlib.oauth2 import BackendApplicationClient  # type: ignore[import-untyped]
from oauthlib.oauth2.rfc6749.errors import (  # type: ignore[import-untyped]
    InsecureTransportError,
    MissingTokenError,
    OAuth2Error,
)
from pyproj import CRS
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.io import MemoryFile
from sentinelhub.api.catalog import SentinelHubCatalog
from sentinelhub.api.process import SentinelHubRequest
from sentinelhub.areas import BBoxSplitter
from sentinelhub.config import SHConfig
from sentinelhub.constants import CRS as SH_CRS
from sentinelhub.constants import MimeType, MosaickingOrder, SHConstants
from sentinelhub.data_collections import DataCollection
from sentinelhub.download.handlers import fail_user_errors, retry_temporary_errors
from sentinelhub.download.models import DownloadRequest, DownloadResponse
from sentinelhub.download.sentinelhub_client import SentinelHubDownloadClient
from sentinelhub.download.session import SentinelHubSession
from sentinelhub.exceptions import DownloadFailedException
from sentinelhub.geometry import BBox, Geometry
from shapely.errors import ShapelyError
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from tqdm import tqdm

from satwatch.aoi import AOI, project_geometry
from satwatch.errors import CredentialsError, NoDataError, ProviderError, SatwatchError, UsageError
from satwatch.imagery.scene import SENSOR_BANDS, Scene, SceneMeta, format_acquired
from satwatch.imagery.source import Acquisition
from satwatch.settings import PROVIDERS, Settings, load_settings

__all__ = [
    "ACQUISITION_WINDOW",
    "DEFAULT_RETRY",
    "EVALSCRIPTS",
    "GSD_M",
    "MAX_PX",
    "PROVIDER_URLS",
    "Piece",
    "RequestGrid",
    "RetryPolicy",
    "SentinelHubAcquisition",
    "SentinelHubSource",
    "decode_process_response",
    "group_acquisitions",
    "plan_grid",
    "resolve_config",
    "time_range",
]

log = logging.getLogger("satwatch")

PROVIDER_URLS: dict[str, tuple[str, str]] = {
    "sentinel-hub": (
        "https://services.sentinel-hub.com",
        "https://services.sentinel-hub.com/auth/realms/main/protocol/openid-connect/token",
    ),
    "cdse": (
        "https://sh.dataspace.copernicus.eu",
        "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token",
    ),
}
"""``provider -> (base URL of the Process and Catalog APIs, OAuth2 token URL)``."""
MAX_PX = 2500
"""Largest width or height, pixels, that the Process API serves in one request."""
GSD_M = 10.0
"""Pixel size of fetched scenes, metres (Sentinel-2's and Sentinel-1 GRD's finest)."""
ACQUISITION_WINDOW = timedelta(minutes=10)
"""Catalog items of one platform within this time of the first are one acquisition (one overpass)."""
TIME_PAD = timedelta(minutes=1)
"""Margin before an acquisition's first item and after its last one in the Process request's time range."""
DN_SCALE: dict[str, tuple[float, ...]] = {"s2": (10000.0,) * 6 + (1.0,)}
"""Per sensor, the divisor of each band of the ``default`` output that turns the integers the service sends into
the scene contract's values: Sentinel-2 DN / 10000 = reflectance (harmonised L2A), SCL class codes unchanged.
Sensors not named here are sent as float32 in their final units."""

EVALSCRIPTS: dict[str, str] = {
    "s2": """//VERSION=3
function setup() {
  return {
    input: [{
      bands: ["B02", "B03", "B04", "B08", "B11", "B12", "SCL", "dataMask"],
      units: ["DN", "DN", "DN", "DN", "DN", "DN", "DN", "DN"]
    }],
    output: [
      {id: "default", bands: 7, sampleType: "UINT16"},
      {id: "dataMask", bands: 1, sampleType: "UINT8"}
    ]
  };
}
function evaluatePixel(s) {
  return {default: [s.B02, s.B03, s.B04, s.B08, s.B11, s.B12, s.SCL], dataMask: [s.dataMask]};
}
""",
    "s1": """//VERSION=3
function setup() {
  return {
    input: [{bands: ["VV", "VH", "dataMask"], units: ["LINEAR_POWER", "LINEAR_POWER", "DN"]}],
    output: [
      {id: "default", bands: 2, sampleType: "FLOAT32"},
      {id: "dataMask", bands: 1, sampleType: "UINT8"}
    ]
  };
}
function toDb(x) {
  return x > 0 ? 10 * Math.log(x) / Math.LN10 : NaN;
}
function evaluatePixel(s) {
  return {default: [toDb(s.VV), toDb(s.VH)], dataMask: [s.dataMask]};
}
""",
}
"""Evalscript per sensor: output ``default`` holds :data:`~satwatch.imagery.scene.SENSOR_BANDS` in order
(Sentinel-2: uint16 DN, see :data:`DN_SCALE`; Sentinel-1: float32 dB), output ``dataMask`` the service's data
mask (uint8)."""

_S1_PROCESSING = {"backCoeff": "SIGMA0_ELLIPSOID", "orthorectify": True, "demInstance": "COPERNICUS_30"}
_S2_PROCESSING = {"harmonizeValues": True}  # the service's default, stated: DN = 10000 x reflectance at any baseline
_BASE_COLLECTIONS = {"s2": DataCollection.SENTINEL2_L2A, "s1": DataCollection.SENTINEL1_IW}
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")
_RESPONSES = ("default", "dataMask")
_T = TypeVar("_T")


@dataclass(frozen=True)
class RetryPolicy:
    """How patiently to talk to the service (sentinelhub's own retry machinery does the work)."""

    attempts: int = 4
    """Most tries per request on connection errors, timeouts and 5xx answers, the first included
    (``max_download_attempts``): ``attempts - 1`` retries."""
    backoff_s: float = 5.0
    """Wait after the first failed try, seconds; each further wait is 3x longer (``download_sleep_time``)."""
    timeout_s: float = 120.0
    """Seconds to wait for an answer before the try counts as failed (``download_timeout_seconds``)."""
    rate_limited: int = 8
    """Most tries per request while the service answers 429 Too Many Requests, the first included: at most
    ``rate_limited - 1`` waits."""
    default_retry_after_s: float = 30.0
    """Wait after a 429 that carries no usable ``Retry-After`` header, seconds."""
    max_wait_s: float = 120.0
    """Longest single rate-limit wait, seconds: a 429 whose ``Retry-After`` asks for more stops the request at once
    with :class:`~satwatch.errors.ProviderError` instead of sleeping (``SATWATCH_SH_MAX_WAIT_S``)."""


DEFAULT_RETRY = RetryPolicy()
"""The policy used when none is given (tests swap in a faster one)."""


@dataclass(frozen=True)
class Piece:
    """One Process API request's share of a scene grid, aligned to the grid's pixels."""

    bbox: tuple[float, float, float, float]
    """``(minx, miny, maxx, maxy)`` in the grid's CRS, metres."""
    col: int
    """Column of the piece's left edge in the scene grid."""
    row: int
    """Row of the piece's top edge in the scene grid."""
    width: int
    """Columns, at most :data:`MAX_PX` (or the plan's ``max_px``)."""
    height: int
    """Rows, at most :data:`MAX_PX` (or the plan's ``max_px``)."""


@dataclass(frozen=True)
class RequestGrid:
    """The scene grid of an AOI and the pieces it is requested in."""

    epsg: int
    """EPSG code of the AOI's UTM zone."""
    transform: Affine
    """Pixel-to-map transform of the whole scene (upper-left corner, 10 m pixels, north up)."""
    width: int
    """Columns of the whole scene."""
    height: int
    """Rows of the whole scene."""
    pieces: tuple[Piece, ...]
    """Requests to make; pieces wholly outside the AOI polygon are left out (their pixels stay NaN)."""


def plan_grid(aoi: AOI, max_px: int = MAX_PX, res: float = GSD_M) -> RequestGrid:
    """Return the AOI's scene grid (UTM zone, bounds snapped outwards to ``res``) split into requestable pieces.

    The grid's bounding box is split with sentinelhub's :class:`~sentinelhub.BBoxSplitter` into the fewest
    columns and rows that keep every piece within ``max_px`` x ``max_px``; piece edges are snapped to the pixel
    grid so the pieces tile the scene exactly, without gaps or overlaps.

    Example:
        >>> from satwatch.aoi import load_catalog
        >>> g = plan_grid(load_catalog()["ru_sergeevka"])
        >>> (g.epsg, g.width, g.height, len(g.pieces), max(p.width for p in g.pieces) <= MAX_PX)
        (32652, 4100, 3462, 4, True)
    """
    if max_px < 1:
        raise UsageError(f"max_px must be at least 1, not {max_px}")
    epsg = aoi.utm_epsg
    geom = aoi.geometry_in(epsg)
    minx, miny, maxx, maxy = geom.bounds
    x0 = math.floor(minx / res + 1e-6) * res
    x1 = math.ceil(maxx / res - 1e-6) * res
    y0 = math.floor(miny / res + 1e-6) * res
    y1 = math.ceil(maxy / res - 1e-6) * res
    width = max(1, round((x1 - x0) / res))
    height = max(1, round((y1 - y0) / res))
    x1, y0 = x0 + width * res, y1 - height * res
    n_cols, n_rows = math.ceil(width / max_px), math.ceil(height / max_px)
    splitter = BBoxSplitter([box(x0, y0, x1, y1)], SH_CRS(epsg), split_shape=(n_cols, n_rows))
    pieces = []
    for bbox in splitter.get_bbox_list():
        c0 = round((bbox.min_x - x0) / res)
        c1 = round((bbox.max_x - x0) / res)
        r0 = round((y1 - bbox.max_y) / res)
        r1 = round((y1 - bbox.min_y) / res)
        if c1 <= c0 or r1 <= r0:
            continue
        snapped = (x0 + c0 * res, y1 - r1 * res, x0 + c1 * res, y1 - r0 * res)
        if not box(*snapped).intersects(geom):
            continue
        pieces.append(Piece(bbox=snapped, col=c0, row=r0, width=c1 - c0, height=r1 - r0))
    pieces.sort(key=lambda p: (p.row, p.col))
    return RequestGrid(epsg=epsg, transform=Affine(res, 0.0, x0, 0.0, -res, y1), width=width, height=height,
                       pieces=tuple(pieces))


@dataclass(frozen=True)
class SentinelHubAcquisition(Acquisition):
    """An acquisition found in the Catalog API: an :class:`Acquisition` that also knows its last item's time."""

    last_item: datetime | None = None
    """Time (UTC) of the overpass group's latest catalog item; ``acquired`` is its earliest. None when unknown."""


def time_range(acquisition: Acquisition) -> tuple[datetime, datetime]:
    """Return the Process API time range that holds exactly one acquisition (its overpass, no other).

    The range spans the overpass group's catalog items with :data:`TIME_PAD` on either side; an acquisition that
    does not know its last item gets the widest span a group can have (:data:`ACQUISITION_WINDOW`).

    Example:
        >>> first = datetime(2024, 10, 8, 1, 52, 30, 24000, tzinfo=UTC)
        >>> a = SentinelHubAcquisition("x", "s2", first, "cdse", False, last_item=first + timedelta(seconds=5))
        >>> [t.isoformat() for t in time_range(a)]
        ['2024-10-08T01:51:30.024000+00:00', '2024-10-08T01:53:35.024000+00:00']
        >>> [t.isoformat() for t in time_range(Acquisition("x", "s2", first, "cdse", False))]
        ['2024-10-08T01:51:30.024000+00:00', '2024-10-08T02:02:30.024000+00:00']
    """
    when = acquisition.acquired.astimezone(UTC)
    last = acquisition.last_item if isinstance(acquisition, SentinelHubAcquisition) else None
    if last is None:
        return when - TIME_PAD, when + ACQUISITION_WINDOW
    return when - TIME_PAD, max(when, last.astimezone(UTC)) + TIME_PAD


# ----------------------------------------------------------------------------------------------------------------
# Catalog items to acquisitions
# ----------------------------------------------------------------------------------------------------------------


def _item_time(item: Mapping[str, Any]) -> datetime:
    text = str(item["properties"]["datetime"]).replace("Z", "+00:00")
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def group_acquisitions(
    items: Sequence[Mapping[str, Any]],
    aoi: AOI,
    sensor: str,
    source: str,
    max_cloud: float | None = None,
    min_coverage: float = 0.0,
) -> list[SentinelHubAcquisition]:
    """Turn catalog items (STAC Features) into one :class:`Acquisition` per overpass, oldest first.

    Items of one platform within :data:`ACQUISITION_WINDOW` of the group's first item form one acquisition,
    acquired at the first item's time and ending at the last one's (:attr:`SentinelHubAcquisition.last_item`).

    Args:
        items: STAC Items from the Catalog API (``properties.datetime`` required; ``platform``,
            ``eo:cloud_cover`` in percent and ``geometry`` in EPSG:4326 used when present).
        aoi: the AOI searched.
        sensor: ``s2`` or ``s1``.
        source: provider name written into the acquisitions.
        max_cloud: keep acquisitions whose cloud fraction (0..1) is at most this; None keeps all. Acquisitions
            without cloud cover (Sentinel-1) always pass.
        min_coverage: keep acquisitions covering at least this fraction (0..1) of the AOI.

    Example:
        >>> from satwatch.aoi import load_catalog
        >>> aoi = load_catalog()["ru_dunai"]
        >>> items = [{"id": f"T{i}", "geometry": aoi.to_feature()["geometry"],
        ...           "properties": {"datetime": f"2024-10-08T01:52:3{i}Z", "platform": "sentinel-2a",
        ...                          "eo:cloud_cover": 10.0 * i}} for i in (1, 2)]
        >>> [(a.acquired.second, round(a.cloud_fraction or 0, 2), a.item_id)
        ...  for a in group_acquisitions(items, aoi, "s2", "cdse")]
        [(31, 0.15, 'T1,T2')]
    """
    aoi_utm = aoi.geometry_in(aoi.utm_epsg)
    aoi_area = aoi_utm.area
    ordered = sorted(items, key=_item_time)
    groups: list[list[Mapping[str, Any]]] = []
    for item in ordered:
        platform = str(item["properties"].get("platform", "")).lower()
        for group in groups:
            first = group[0]
            if (str(first["properties"].get("platform", "")).lower() == platform
                    and _item_time(item) - _item_time(first) < ACQUISITION_WINDOW):
                group.append(item)
                break
        else:
            groups.append([item])
    out: list[SentinelHubAcquisition] = []
    for group in groups:
        footprints: list[BaseGeometry] = []
        weights: list[float] = []
        clouds: list[float] = []
        for item in group:
            geom = item.get("geometry")
            part = project_geometry(shape(geom), 4326, aoi.utm_epsg) if geom else aoi_utm
            footprints.append(part)
            cloud = item["properties"].get("eo:cloud_cover")
            if cloud is not None:
                clouds.append(float(cloud))
                weights.append(part.intersection(aoi_utm).area)
        covered = unary_union(footprints).intersection(aoi_utm).area
        coverage = min(1.0, covered / aoi_area) if aoi_area > 0 else 1.0
        cloud_fraction: float | None = None
        if clouds:
            total = sum(weights)
            mean = (sum(c * w for c, w in zip(clouds, weights, strict=True)) / total if total > 0
                    else sum(clouds) / len(clouds))
            cloud_fraction = min(1.0, max(0.0, mean / 100.0))
        if max_cloud is not None and cloud_fraction is not None and cloud_fraction > max_cloud + 1e-9:
            continue
        if coverage < min_coverage - 1e-9:
            continue
        out.append(SentinelHubAcquisition(
            aoi=aoi.id, sensor=sensor, acquired=_item_time(group[0]), source=source, simulated=False,
            cloud_fraction=cloud_fraction, coverage=coverage,
            item_id=",".join(str(i.get("id", "")) for i in group), last_item=_item_time(group[-1]),
        ))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Decoding Process API responses
# ----------------------------------------------------------------------------------------------------------------


def _read_tiff(content: bytes, name: str) -> npt.NDArray[Any]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with MemoryFile(content) as mem, mem.open() as src:
                return np.asarray(src.read())
    except RasterioIOError as exc:
        raise ProviderError(f"the Process API's {name} is not a readable TIFF ({exc})") from exc


def decode_process_response(
    content: bytes, n_bands: int, height: int, width: int, divisors: Sequence[float] | None = None
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Decode a Process API answer to the satwatch evalscripts: a tar of ``default.tif`` and ``dataMask.tif``.

    A single TIFF (one response) is accepted too when it holds ``n_bands + 1`` bands, the last being the mask.

    Args:
        content: the answer's body.
        n_bands: bands of the ``default`` output.
        height: rows requested.
        width: columns requested.
        divisors: one per band: each band (any dtype, e.g. uint16 DN) is divided by its divisor in float32
            (:data:`DN_SCALE`); None keeps the values.

    Returns:
        ``(data, valid)``: ``data`` of shape ``(n_bands, height, width)`` float32 with NaN where the service
        had no data (``dataMask`` 0), and ``valid`` of shape ``(height, width)``.

    Raises:
        ProviderError: the body is neither, a member is missing, or sizes differ from the request.

    Example:
        >>> import rasterio.io
        >>> dn = np.array([[[523, 0]], [[1, 0]]], np.uint16)  # 2 bands, 1 x 2 px; the second pixel has no data
        >>> with rasterio.io.MemoryFile() as mem:
        ...     with warnings.catch_warnings():
        ...         warnings.simplefilter("ignore")
        ...         with mem.open(driver="GTiff", width=2, height=1, count=3, dtype="uint16") as dst:
        ...             dst.write(np.concatenate([dn, [[[1, 0]]]]).astype(np.uint16))
        ...     blob = bytes(mem.read())
        >>> data, valid = decode_process_response(blob, 2, 1, 2, divisors=(10000.0, 1.0))
        >>> data.dtype, round(float(data[0, 0, 0]), 6), float(data[1, 0, 0]), bool(np.isnan(data[:, 0, 1]).all())
        (dtype('float32'), 0.0523, 1.0, True)
    """
    members: dict[str, npt.NDArray[Any]] = {}
    if content[:4] in (b"II*\x00", b"MM\x00*"):
        single = _read_tiff(content, "response")
        if single.shape[0] != n_bands + 1:
            raise ProviderError(
                f"the Process API answered one TIFF with {single.shape[0]} bands; expected {n_bands} bands and "
                "dataMask"
            )
        members = {"default": single[:n_bands], "dataMask": single[n_bands:]}
    else:
        try:
            with tarfile.open(fileobj=io.BytesIO(content), mode="r:") as tar:
                for member in tar.getmembers():
                    stem = member.name.rsplit("/", 1)[-1].removesuffix(".tif")
                    if stem in _RESPONSES and member.isfile():
                        fh = tar.extractfile(member)
                        if fh is not None:
                            members[stem] = _read_tiff(fh.read(), member.name)
        except (tarfile.TarError, EOFError) as exc:
            raise ProviderError(
                f"the Process API's answer ({len(content)} bytes) is neither a TIFF nor a complete tar archive: {exc}"
            ) from exc
    missing = [name for name in _RESPONSES if name not in members]
    if missing:
        raise ProviderError(f"the Process API's answer lacks {', '.join(m + '.tif' for m in missing)}")
    data, mask = members["default"], members["dataMask"]
    if data.shape != (n_bands, height, width) or mask.shape[-2:] != (height, width):
        raise ProviderError(
            f"the Process API answered {data.shape[0]} bands of {data.shape[2]} x {data.shape[1]} px; requested "
            f"{n_bands} bands of {width} x {height} px"
        )
    valid = np.asarray(mask[0] > 0)
    out = data.astype(np.float32)
    if divisors is not None:
        if len(divisors) != n_bands:
            raise ValueError(f"{len(divisors)} divisors for {n_bands} bands")
        out /= np.asarray(divisors, np.float32)[:, None, None]
    out[:, ~valid] = np.nan
    return out, valid


# ----------------------------------------------------------------------------------------------------------------
# Configuration and credentials
# ----------------------------------------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_url(url: str, variable: str) -> str:
    """Return ``url`` without a trailing slash; refuse non-HTTP(S) and plain-HTTP URLs to non-loopback hosts."""
    parts = urlsplit(url.strip())
    shown = f"{parts.scheme}://{parts.hostname or ''}{parts.path}"  # never echo user:password@
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{variable}={shown!r} is not an http(s) URL; give e.g. https://sh.dataspace.copernicus.eu")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise UsageError(
            f"{variable} uses http:// for {parts.hostname}; credentials and tokens would travel in clear text. "
            "Use https:// (http:// is accepted only for loopback hosts such as 127.0.0.1, for local stand-ins)"
        )
    return url.strip().rstrip("/")


def _profile_credentials(env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """Read credentials of the sentinelhub profile (``SH_PROFILE`` or ``default-profile``) without writing.

    ``SHConfig()`` would create the config file when it is missing; this reads it only when it exists.
    Returns ``(values, description of where they came from)``.
    """
    profile = env.get("SH_PROFILE") or "default-profile"
    base = env.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    path = Path(base) / "sentinelhub" / "config.toml"
    if not path.is_file():
        if env.get("SH_PROFILE"):
            raise CredentialsError(
                f"SH_PROFILE={profile} but there is no sentinelhub config file at {path}; create the profile "
                f"(sentinelhub.config --profile {profile} --sh_client_id ... --sh_client_secret ...) or set "
                "SH_CLIENT_ID and SH_CLIENT_SECRET"
            )
        return {}, ""
    try:
        loaded = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"sentinelhub config file {path} cannot be read ({type(exc).__name__}); fix or "
                               "remove it, or set SH_CLIENT_ID and SH_CLIENT_SECRET") from None
    section = loaded.get(profile)
    if not isinstance(section, dict):
        if env.get("SH_PROFILE"):
            raise CredentialsError(
                f"SH_PROFILE={profile} names no profile in {path}; profiles there: "
                f"{', '.join(sorted(loaded)) or 'none'}. Set SH_PROFILE to one of them, or set SH_CLIENT_ID and "
                "SH_CLIENT_SECRET"
            )
        return {}, ""
    values = {k: str(section[k]) for k in ("sh_client_id", "sh_client_secret") if section.get(k)}
    return values, f"profile {profile} in {path}"


def resolve_config(
    provider: str | None = None,
    settings: Settings | None = None,
    retry: RetryPolicy | None = None,
    env: Mapping[str, str] | None = None,
) -> SHConfig:
    """Build the sentinelhub configuration for ``provider`` without reading or writing sentinelhub's defaults.

    URLs: the provider's (:data:`PROVIDER_URLS`), overridden by ``settings.sh_base_url`` /
    ``settings.sh_token_url`` (``SATWATCH_SH_BASE_URL`` / ``SATWATCH_SH_TOKEN_URL``). Credentials:
    ``SH_CLIENT_ID`` / ``SH_CLIENT_SECRET``, else the sentinelhub config profile (``SH_PROFILE``, default
    ``default-profile``), read only.

    Raises:
        UsageError: unknown provider, or a URL that is not https (http is accepted for loopback hosts only).
        CredentialsError: a credential is missing; the message names the variable to set.
    """
    env = os.environ if env is None else env
    settings = settings or load_settings(env)
    provider = provider or settings.provider
    if provider not in PROVIDER_URLS:
        raise UsageError(f"provider {provider!r} is not one of {', '.join(PROVIDERS)}")
    default_base, default_token = PROVIDER_URLS[provider]
    base_url = _checked_url(settings.sh_base_url or default_base, "SATWATCH_SH_BASE_URL")
    token_url = _checked_url(settings.sh_token_url or default_token, "SATWATCH_SH_TOKEN_URL")
    client_id, secret = env.get("SH_CLIENT_ID", ""), env.get("SH_CLIENT_SECRET", "")
    where = "the environment"
    if not (client_id and secret):
        stored, stored_where = _profile_credentials(env)
        client_id = client_id or stored.get("sh_client_id", "")
        secret = secret or stored.get("sh_client_secret", "")
        where = stored_where or where
    if not client_id:
        raise CredentialsError(
            f"no OAuth client id for {provider}: set SH_CLIENT_ID and SH_CLIENT_SECRET (or SH_PROFILE naming a "
            "sentinelhub config profile); see docs/real-imagery.md"
        )
    if not secret:
        raise CredentialsError(
            f"no OAuth client secret for {provider} (client id from {where}): set SH_CLIENT_SECRET; see "
            "docs/real-imagery.md"
        )
    retry = retry or DEFAULT_RETRY
    return SHConfig(
        use_defaults=True,
        sh_client_id=client_id,
        sh_client_secret=secret,
        sh_base_url=base_url,
        sh_token_url=token_url,
        max_download_attempts=retry.attempts,
        download_sleep_time=retry.backoff_s,
        download_timeout_seconds=retry.timeout_s,
        max_retries=retry.rate_limited,
    )


def _collection(sensor: str, base_url: str) -> DataCollection:
    """Return the collection for ``sensor`` bound to ``base_url`` (stock collections pin the commercial URL).

    sentinelhub refuses to define a collection whose definition already exists under another name (the stock
    one, or one the host program defined with ``define_from``); that existing collection is then reused.
    """
    stock = _BASE_COLLECTIONS[sensor]
    if (stock.service_url or "").rstrip("/") == base_url:
        return stock
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:12]
    try:
        return stock.define_from(f"SATWATCH_{stock.name}_{digest}", service_url=base_url)
    except ValueError:
        existing = _defined_collection(stock.value.derive(service_url=base_url))
        if existing is None:
            raise UsageError(
                f"the sentinelhub collection name SATWATCH_{stock.name}_{digest} is already taken by another "
                f"definition in this program; satwatch cannot bind {stock.api_id} to {base_url}"
            ) from None
        return existing


def _defined_collection(definition: Any) -> DataCollection | None:
    """Return the collection already defined (under any name) with exactly ``definition``, if there is one."""
    for member in DataCollection:
        if member.value == definition:  # names are not part of a definition's equality
            return member
    return None


_SESSIONS: dict[tuple[str, str, str, str], SentinelHubSession] = {}
_SESSIONS_LOCK = threading.Lock()


def _quiet_oauth_logs() -> None:
    """Keep the OAuth libraries' debug logs (they print the token request body, secret included) off."""
    for name in ("requests_oauthlib", "oauthlib"):
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)


# ----------------------------------------------------------------------------------------------------------------
# Rate limits and the service's own error answers
# ----------------------------------------------------------------------------------------------------------------


def _seconds(value: float) -> str:
    """Return ``0.3 s``, ``60.001 s``, ``600 s (10 min)``: milliseconds when there are any, minutes from two on."""
    text = f"{value:.3f}".rstrip("0").rstrip(".") + " s"
    return text if value < 120 else f"{text} ({value / 60:.3g} min)"


def _retry_after_s(headers: Mapping[str, str], default_s: float) -> float:
    """Return the seconds a 429 answer asks to wait: ``Retry-After`` in milliseconds (Sentinel Hub's unit).

    A missing or unreadable header gives ``default_s``.
    """
    raw = headers.get("Retry-After")
    try:
        value = float(str(raw).strip()) / 1000.0 if raw is not None else math.nan
    except ValueError:
        value = math.nan
    return value if math.isfinite(value) and value >= 0 else default_s


def _rate_limit_wait(headers: Mapping[str, str], policy: RetryPolicy, provider: str, what: str, tries: int) -> float:
    """Return how long to wait after the ``tries``-th answer 429 to ``what``; log it at INFO.

    Raises:
        ProviderError: the service asks for longer than ``policy.max_wait_s`` (one line naming both), or it has
            answered 429 ``policy.rate_limited`` times.
    """
    wait = _retry_after_s(headers, policy.default_retry_after_s)
    if tries >= policy.rate_limited:
        raise ProviderError(
            f"{provider} kept answering 429 Too Many Requests to the {what} ({tries} tries): the account's request or "
            "processing-unit rate is used up for now; run again later (archived scenes are kept), see "
            "docs/real-imagery.md"
        )
    if wait > policy.max_wait_s:
        raise ProviderError(
            f"{provider} answered 429 Too Many Requests to the {what} with Retry-After {_seconds(wait)}, longer than "
            f"the {_seconds(policy.max_wait_s)} limit on one rate-limit wait (SATWATCH_SH_MAX_WAIT_S); satwatch "
            "stopped instead of waiting: run again later (archived scenes are kept)"
        )
    log.info("%s answered 429 Too Many Requests to the %s: waiting %s as its Retry-After asks (try %d of %d)",
             provider, what, _seconds(wait), tries, policy.rate_limited)
    return wait


def _server_error(response: Any) -> tuple[str, str]:
    """Return ``(code, message)`` of an error answer, ``code`` possibly empty.

    Understands Sentinel Hub's ``{"error": {"status", "reason", "message", "code"}}``, the flat
    ``{"status", "reason", "message", "code"}`` of its 429 answers, OAuth2's ``{"error": "..",
    "error_description": ".."}`` and plain text.
    """
    try:
        body = response.json()
    except ValueError:
        return "", " ".join(str(getattr(response, "text", "")).split())[:200]
    if not isinstance(body, dict):
        return "", str(body)[:200]
    error = body.get("error", body)
    if isinstance(error, dict):
        code = str(error.get("code") or "")
        message = error.get("message") or error.get("reason") or ""
        return code, str(message) if message else json.dumps(error, sort_keys=True, default=str)[:200]
    code = str(error)
    return code, str(body.get("error_description") or body.get("message") or "")


class _Session(SentinelHubSession):
    """sentinelhub's OAuth session, with rate-limited token requests waited out (capped).

    It also keeps the token endpoint's HTTP status, so a refusal can be told from rejected credentials.
    """

    def __init__(self, config: SHConfig, policy: RetryPolicy, provider: str) -> None:
        self._policy = policy
        self._provider = provider
        self.token_status: int | None = None
        """HTTP status of the last answer of the token endpoint."""
        super().__init__(config=config)

    def _collect_new_token(self) -> dict[str, Any]:
        tries = 0
        while True:
            tries += 1
            try:
                return super()._collect_new_token()
            except requests.HTTPError as exc:
                response = exc.response
                if response is None or response.status_code != requests.codes.too_many_requests:
                    raise
                _time.sleep(_rate_limit_wait(response.headers, self._policy, self._provider, "token request", tries))

    @retry_temporary_errors
    @fail_user_errors
    def _fetch_token(self, request: DownloadRequest) -> dict[str, Any]:
        oauth_client = BackendApplicationClient(client_id=self.config.sh_client_id)
        from requests_oauthlib import OAuth2Session  # type: ignore[import-untyped]

        with OAuth2Session(client=oauth_client) as oauth_session:
            oauth_session.register_compliance_hook("access_token_response", self._check_token_answer)
            try:
                token: dict[str, Any] = oauth_session.fetch_token(
                    token_url=request.url, client_id=self.config.sh_client_id,
                    client_secret=self.config.sh_client_secret,
                    headers={**self.DEFAULT_HEADERS, **SHConstants.HEADERS}, include_client_id=True,
                )
            except OAuth2Error as exc:
                exc.http_status = self.token_status  # for _guard: 401 means rejected credentials whatever the body
                raise
            return token

    def _check_token_answer(self, response: requests.Response) -> requests.Response:
        """Keep the status; a 429 raises before oauthlib reads its body (it would take it for an OAuth2 error)."""
        self.token_status = response.status_code
        if response.status_code == requests.codes.too_many_requests:
            response.raise_for_status()
        return SentinelHubSession._compliance_hook(response)


class _DownloadClient(SentinelHubDownloadClient):
    """sentinelhub's download client with satwatch's rate-limit waits.

    Each 429 waits its ``Retry-After`` (logged at INFO, capped by ``RetryPolicy.max_wait_s``), at most
    ``RetryPolicy.rate_limited - 1`` times per request; no Python warnings.
    """

    def __init__(self, config: SHConfig, session: SentinelHubSession, policy: RetryPolicy, provider: str,
                 what: str) -> None:
        super().__init__(config=config, session=session, default_retry_time=policy.default_retry_after_s)
        self._policy = policy
        self._provider = provider
        self._what = what

    @retry_temporary_errors
    @fail_user_errors
    def _execute_download(self, request: DownloadRequest) -> DownloadResponse:
        tries = 0
        while True:
            tries += 1
            log.debug("%s: sending %s request to %s (try %d)", self._provider, request.request_type.value,
                      request.url, tries)
            response = self._do_download(request)
            if response.status_code != requests.codes.too_many_requests:
                response.raise_for_status()
                return DownloadResponse.from_response(response, request)
            _time.sleep(_rate_limit_wait(response.headers, self._policy, self._provider, self._what, tries))


# ----------------------------------------------------------------------------------------------------------------
# The source
# ----------------------------------------------------------------------------------------------------------------


class SentinelHubSource:
    """Sentinel-2 L2A and Sentinel-1 GRD acquisitions from Sentinel Hub or CDSE (see the module docstring).

    Example (needs credentials and the network)::

        src = SentinelHubSource("cdse", max_cloud=0.3)
        aoi = load_catalog()["ru_dunai"]
        for acq in src.search(aoi, date(2024, 10, 1), date(2024, 10, 20), "s2"):
            print(src.fetch(acq, aoi, Path("data/archive")))
    """

    def __init__(
        self,
        provider: str | None = None,
        settings: Settings | None = None,
        *,
        max_cloud: float | None = None,
        min_coverage: float = 0.0,
        max_px: int = MAX_PX,
        retry: RetryPolicy | None = None,
        show_progress: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Resolve URLs and credentials (no network yet).

        Args:
            provider: ``sentinel-hub`` or ``cdse``; default ``SATWATCH_PROVIDER`` (settings).
            settings: satwatch settings; default :func:`~satwatch.settings.load_settings`.
            max_cloud: search keeps acquisitions with cloud fraction (0..1) at most this.
            min_coverage: search keeps acquisitions covering at least this fraction (0..1) of the AOI.
            max_px: largest request edge, pixels (the service's limit is 2500).
            retry: retry, rate-limit and timeout policy; default :data:`DEFAULT_RETRY` with ``max_wait_s`` from
                ``settings.sh_max_wait_s`` (``SATWATCH_SH_MAX_WAIT_S``) when that is set.
            show_progress: draw a progress bar (stderr) over the requests of each scene split in several.
            env: environment to read credentials from; default ``os.environ``.

        Raises:
            UsageError: unknown provider, bad URL or filter value.
            CredentialsError: missing credentials (the message names the variable).
        """
        settings = settings or load_settings(env)
        self.name = provider or settings.provider
        if max_cloud is not None and not 0.0 <= max_cloud <= 1.0:
            raise UsageError(f"max_cloud must be a fraction 0..1, not {max_cloud}")
        if not 0.0 <= min_coverage <= 1.0:
            raise UsageError(f"min_coverage must be a fraction 0..1, not {min_coverage}")
        if retry is None:
            retry = DEFAULT_RETRY
            if settings.sh_max_wait_s is not None:
                retry = replace(retry, max_wait_s=settings.sh_max_wait_s)
        self.retry = retry
        self._config = resolve_config(self.name, settings, self.retry, env)
        self.max_cloud = max_cloud
        self.min_coverage = min_coverage
        self.max_px = max_px
        self.show_progress = show_progress

    def __repr__(self) -> str:
        return f"SentinelHubSource(provider={self.name!r}, base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        """The Process/Catalog API base URL in use."""
        return str(self._config.sh_base_url)

    # -- sessions, clients, errors ------------------------------------------------------------------------------

    def _session_key(self) -> tuple[str, str, str, str]:
        cfg = self._config
        secret_digest = hashlib.sha256(f"{cfg.sh_client_id}\0{cfg.sh_client_secret}".encode()).hexdigest()
        return (self.name, cfg.sh_base_url, cfg.sh_token_url, secret_digest)

    def _session(self) -> SentinelHubSession:
        """Return the cached OAuth session for this provider, URLs and credentials (one token, many requests)."""
        key = self._session_key()
        with _SESSIONS_LOCK:
            session = _SESSIONS.get(key)
            if session is None:
                _quiet_oauth_logs()
                if urlsplit(self._config.sh_token_url).scheme == "http":
                    # oauthlib refuses http:// token URLs; _checked_url let this one through only for loopback.
                    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
                session = self._guard(lambda: _Session(self._config, self.retry, self.name), "token request")
                _SESSIONS[key] = session
            return session

    def authenticate(self) -> None:
        """Get (or reuse) an access token now, so bad credentials fail before any other work.

        Raises:
            CredentialsError: the provider rejected the credentials.
            ProviderError: the token service could not be reached or answered nonsense.
        """
        self._session()

    def _forget_session(self) -> None:
        with _SESSIONS_LOCK:
            _SESSIONS.pop(self._session_key(), None)

    def _client(self, what: str = "request") -> SentinelHubDownloadClient:
        return _DownloadClient(self._config, self._session(), self.retry, self.name, what)

    def _scrub(self, text: str) -> str:
        for secret in (self._config.sh_client_secret,):
            if secret:
                text = text.replace(secret, "***")
        return " ".join(text.split())[:400]

    def _rejected(self) -> CredentialsError:
        return CredentialsError(
            f"Sentinel Hub rejected the credentials for {self.name}: check SH_CLIENT_ID/SH_CLIENT_SECRET"
        )

    def _refused(self, what: str, status: int | None, response: Any) -> SatwatchError:
        """Return the error for an HTTP error answer: 401 means rejected credentials, the rest the server's words."""
        if status == requests.codes.unauthorized:
            self._forget_session()
            return self._rejected()
        code, message = _server_error(response)
        code = f" {self._scrub(code)}" if code else ""
        message = self._scrub(message) or "(no message)"
        if status == requests.codes.forbidden:
            return ProviderError(
                f"{self.name} refused the {what} (HTTP 403{code}): {message}. A used-up processing-unit or request "
                "quota, or an account without access to this data, gives this answer; see the account's dashboard "
                "and docs/real-imagery.md"
            )
        return ProviderError(f"{self.name} {what} failed with HTTP {status}{code}: {message}")

    def _token_refused(self, exc: Any) -> SatwatchError:
        """Return the error for an OAuth2 error answer of the token endpoint."""
        error = str(getattr(exc, "error", "") or "")
        if error in ("invalid_client", "unauthorized_client") or getattr(exc, "http_status", None) == 401:
            return self._rejected()
        status = getattr(exc, "http_status", None)
        detail = self._scrub(str(getattr(exc, "description", "") or ""))
        return ProviderError(
            f"{self.name} token request refused{f' with HTTP {status}' if status else ''} ({self._scrub(error)})"
            f"{': ' + detail if detail else ''}; see docs/real-imagery.md"
        )

    def _guard(self, call: Callable[[], _T], what: str) -> _T:
        """Run ``call``, turning sentinelhub/oauthlib failures into satwatch errors with scrubbed one-line messages."""
        parts = urlsplit(self._config.sh_token_url if what == "token request" else self._config.sh_base_url)
        host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)  # never user:password@
        try:
            return call()
        except SatwatchError:
            raise  # already one of ours (e.g. from the token request inside a catalog search)
        except InsecureTransportError:
            raise ProviderError(f"{self.name} {what}: oauthlib refused the http:// token URL {host}") from None
        except MissingTokenError:
            raise ProviderError(
                f"{self.name} {what} to {host} got an answer without an access token; check SATWATCH_SH_TOKEN_URL"
            ) from None
        except OAuth2Error as exc:
            raise self._token_refused(exc) from None
        except DownloadFailedException as exc:
            cause = exc.request_exception
            response = getattr(cause, "response", None)
            status = getattr(response, "status_code", None)
            if status is not None:
                raise self._refused(what, status, response) from None
            kind = type(cause).__name__ if cause is not None else "error"
            raise ProviderError(
                f"{self.name} {what} to {host} failed after {self.retry.attempts} tries ({kind}); check the network "
                "and SATWATCH_SH_BASE_URL / SATWATCH_SH_TOKEN_URL, then run again"
            ) from None
        except OSError as exc:  # requests' own exceptions derive from OSError (IOError)
            response = getattr(exc, "response", None)
            status = getattr(response, "status_code", None)
            if status is not None and status < 500:
                raise self._refused(what, status, response) from None
            detail = f"HTTP {status}" if status is not None else type(exc).__name__
            raise ProviderError(f"{self.name} {what} to {host} failed ({detail}); run again later") from None
        except (KeyError, TypeError, ValueError, ShapelyError) as exc:  # malformed answers
            raise ProviderError(
                f"{self.name} {what} got an answer satwatch cannot read ({type(exc).__name__}: "
                f"{self._scrub(str(exc))})"
            ) from None

    # -- search ----------------------------------------------------------------------------------------------------

    def search(self, aoi: AOI, start: date, end: date, sensor: str) -> list[Acquisition]:
        """List acquisitions of ``sensor`` over ``aoi`` from ``start`` to ``end`` (inclusive UTC days), oldest first.

        One Catalog API search (paginated) per call, from ``start`` 00:00 to the end of ``end``
        (23:59:59.999999); see :func:`group_acquisitions` for grouping and filters. Each page is a request and
        costs processing units too (by area and months searched, 0.01 PU at least).
        """
        if sensor not in _BASE_COLLECTIONS:
            raise UsageError(f"{self.name} serves sensors s2 and s1, not {sensor!r}")
        if end < start:
            raise UsageError(f"end {end} is before start {start}")
        collection = _collection(sensor, self.base_url)
        when = (datetime.combine(start, time.min, UTC), datetime.combine(end, time.max, UTC))  # items carry ms

        def run() -> tuple[list[dict[str, Any]], list[SentinelHubAcquisition]]:
            catalog = SentinelHubCatalog(config=self._config)
            catalog.client = self._client("catalog search")
            found = catalog.search(collection, time=when, geometry=Geometry(aoi.geometry, SH_CRS.WGS84), limit=100)
            items = list(found)
            return items, group_acquisitions(items, aoi, sensor, self.name, self.max_cloud, self.min_coverage)

        items, acquisitions = self._guard(run, "catalog search")
        log.info("%s: %d %s acquisitions over %s from %s to %s (%d catalog items)", self.name, len(acquisitions),
                 sensor, aoi.id, start, end, len(items))
        return list[Acquisition](acquisitions)

    # -- fetch -----------------------------------------------------------------------------------------------------

    def process_request(self, acquisition: Acquisition, grid: RequestGrid, piece: Piece) -> SentinelHubRequest:
        """Build the Process API request for one piece of one acquisition (raw TIFF responses, no decoding)."""
        sensor = acquisition.sensor
        other: dict[str, Any] = {"processing": dict(_S1_PROCESSING if sensor == "s1" else _S2_PROCESSING)}
        data = SentinelHubRequest.input_data(
            _collection(sensor, self.base_url), time_interval=time_range(acquisition),
            mosaicking_order=MosaickingOrder.MOST_RECENT, other_args=other,
        )
        return SentinelHubRequest(
            evalscript=EVALSCRIPTS[sensor],
            input_data=[data],
            responses=[SentinelHubRequest.output_response(name, MimeType.TIFF) for name in _RESPONSES],
            bbox=BBox(piece.bbox, SH_CRS(grid.epsg)),
            size=(piece.width, piece.height),
            config=self._config,
        )

    def fetch(self, acquisition: Acquisition, aoi: AOI, archive_root: Path) -> Path:
        """Download one acquisition into the archive under ``archive_root`` and return the scene path.

        A scene already archived for this AOI (same geometry) is returned at once: no token, no Process request.
        Nothing is written unless every piece arrived and decoded and at least one pixel is valid.

        Raises:
            NoDataError: the service sent no valid pixel for this acquisition (nothing archived: a later run asks
                again, e.g. once the service has processed the data).
            ProviderError: the service refused or could not deliver (quota, rate limit, network, bad answer).
            CredentialsError: the credentials were rejected.
        """
        from satwatch.imagery.archive import Archive

        if acquisition.aoi != aoi.id:
            raise UsageError(f"acquisition is for AOI {acquisition.aoi!r}, not {aoi.id!r}")
        if acquisition.sensor not in _BASE_COLLECTIONS:
            raise UsageError(f"{self.name} serves sensors s2 and s1, not {acquisition.sensor!r}")
        archive = Archive(archive_root)
        geometry_sha = hashlib.sha256(aoi.geometry.wkb).hexdigest()
        path = archive.scene_path(aoi.id, acquisition.sensor, acquisition.acquired)
        if archive.has(aoi.id, acquisition.sensor, acquisition.acquired):
            stored = archive.get(aoi.id, acquisition.sensor, acquisition.acquired)
            if stored.properties.get("satwatch:aoi_geometry_sha256", geometry_sha) == geometry_sha:
                log.debug("%s already archived; not fetched again", path)
                return path
        grid = plan_grid(aoi, self.max_px)
        bands = SENSOR_BANDS[acquisition.sensor]
        data = np.full((len(bands), grid.height, grid.width), np.nan, dtype=np.float32)
        label = f"{aoi.id} {acquisition.sensor} {format_acquired(acquisition.acquired)}"
        bar = tqdm(total=len(grid.pieces), desc=label, unit="request", file=sys.stderr, leave=False,
                   disable=not self.show_progress or len(grid.pieces) < 2)
        with bar:
            for piece in grid.pieces:
                request = self.process_request(acquisition, grid, piece)

                def download(req: SentinelHubRequest = request) -> bytes:
                    client = self._client("process request")
                    [response] = client.download(req.get_download_list(), max_threads=1, decode_data=False)
                    return bytes(response.content)

                content = self._guard(download, "process request")
                values, _ = decode_process_response(content, len(bands), piece.height, piece.width,
                                                    DN_SCALE.get(acquisition.sensor))
                data[:, piece.row:piece.row + piece.height, piece.col:piece.col + piece.width] = values
                bar.update(1)
        meta = SceneMeta(sensor=acquisition.sensor, acquired=acquisition.acquired, source=self.name,
                         simulated=False, aoi=aoi.id)
        scene = Scene(data=data, bands=bands, crs=CRS.from_epsg(grid.epsg), transform=grid.transform, meta=meta)
        start, end = time_range(acquisition)
        properties: dict[str, Any] = {
            "satwatch:provider": self.name,
            "satwatch:item_ids": [i for i in acquisition.item_id.split(",") if i],
            "satwatch:time_range": [format_acquired(start), format_acquired(end)],
            "satwatch:requests": len(grid.pieces),
            "satwatch:coverage": acquisition.coverage,
            "satwatch:aoi_geometry_sha256": geometry_sha,
        }
        if acquisition.cloud_fraction is not None:
            properties["eo:cloud_cover"] = round(100.0 * acquisition.cloud_fraction, 2)
        if not np.isfinite(data[0]).any():
            raise NoDataError(
                f"{self.name} returned no valid pixel of {label} ({len(grid.pieces)} request(s)): the acquisition's "
                "data do not reach the AOI or are not processed yet; nothing archived, a later run asks again"
            )
        out = archive.put(scene, properties)
        log.debug("%s: archived %s (%d x %d px, %d requests)", self.name, out, grid.width, grid.height,
                  len(grid.pieces))
        return out

