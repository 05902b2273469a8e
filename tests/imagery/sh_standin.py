"""A stand-in for the parts of the Sentinel Hub APIs satwatch uses, served on 127.0.0.1 for tests.

It speaks HTTP the way Sentinel Hub does, so the real sentinelhub-py client talks to it unchanged:

- ``POST /oauth/token``: OAuth2 client credentials (form body); 401 ``{"error": "unauthorized_client",
  "error_description": ...}`` for unknown credentials (as Keycloak answers); the token it issues is required as
  ``Authorization: Bearer`` on the other endpoints.
- ``POST /api/v1/catalog/1.0.0/search``: STAC item search (``collections``, ``datetime``, ``intersects`` or
  ``bbox``, cql2-text ``filter`` of ``AND``-joined comparisons, ``limit``) with pagination through
  ``context.next`` (at most ``page_size`` items per page). Item datetimes carry milliseconds, as the real
  catalog's do; Sentinel-1 acquisitions come with single-polarisation (``SV``) scenes beside the dual ones, as
  in the real catalog, so a search that forgets the polarisation filter finds too much.
- ``POST /api/v1/process``: bounds (bbox + CRS), one data input (``sentinel-2-l2a`` or ``sentinel-1-grd``) with
  ``dataFilter.timeRange`` (and ``polarization`` / ``acquisitionMode``, honoured), an evalscript and ``output``
  (width/height or resx/resy, responses). It answers one GeoTIFF for one response, a tar of
  ``<identifier>.tif`` members for several, and 400 with Sentinel Hub's error JSON when the image is larger than
  ``max_px`` (2500) on a side or the body is malformed. Each successful request is charged processing units by
  the service's rules (:func:`processing_units`); with ``pu_quota`` set, a request beyond it is answered 403 with
  Sentinel Hub's error JSON, the way a used-up monthly quota is.

It does not run evalscripts: it reads the input band names and units and the declared outputs from ``setup()``
and returns, per output, the input bands it names (``default``: every input band but ``dataMask``; an output
with id ``dataMask``: the mask), Sentinel-1 bands in dB when the evalscript converts them (``toDb``/``log``),
else in linear power, Sentinel-2 reflectance bands as reflectance, or as DN = 10000 x reflectance when their
unit is ``DN``, cast to each output's ``sampleType`` (integers rounded and clamped, as the service does).
Pixels come from :func:`satwatch.imagery.simulated.render` of the catalog item's AOI at the item's acquisition
time, warped (nearest neighbour) onto the requested bbox, CRS and size, so fetched scenes can be compared with
the simulator pixel for pixel. ``dataMask`` is 1 inside the rendered grid and the footprints of the items in the
time range, 0 elsewhere (and values there are 0).

Faults are injected per endpoint (:meth:`SentinelHubStandIn.fault`): a status, a delay before answering (slow
responses), or a truncated body (``Content-Length`` promises more than is sent). Fault bodies are what the real
services send: 429 a flat ``{"status", "reason", "message", "code"}`` (with ``Retry-After`` in milliseconds when
given), other statuses of the APIs ``{"error": {"status", "reason", "message", "code"}}``, and the token
endpoint OAuth2's ``{"error", "error_description"}``. Every request is recorded
(:attr:`SentinelHubStandIn.received`).

Run it by hand (the catalog then holds acquisitions of the named AOIs in the period)::

    python -m tests.imagery.sh_standin --aoi ru_dunai --start 2024-10-01 --end 2024-10-20 --port 8765
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import secrets
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import numpy.typing as npt
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.features import rasterize
from rasterio.io import MemoryFile
from rasterio.warp import reproject
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from satwatch.aoi import AOI, load_catalog, project_geometry
from satwatch.imagery.scenario import Scenario
from satwatch.imagery.scene import Scene
from satwatch.imagery.simulated import cloud_fraction, render

COLLECTIONS = {"s2": "sentinel-2-l2a", "s1": "sentinel-1-grd"}
ITEM_MS = timedelta(milliseconds=24)
"""Offset of :meth:`SentinelHubStandIn.add_acquisitions`' first item from the scenario's whole-second time."""
SENSOR_OF = {v: k for k, v in COLLECTIONS.items()}
TOKEN_PATH = "/oauth/token"
CATALOG_PATH = "/api/v1/catalog/1.0.0/search"
PROCESS_PATH = "/api/v1/process"


class _BadRequestError(Exception):
    """A request the real service would answer with 400."""


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
_CODES = {401: "COMMON_UNAUTHORIZED", 403: "COMMON_INSUFFICIENT_PERMISSIONS", 404: "COMMON_NOT_FOUND",
          429: "RATE_LIMIT_EXCEEDED"}
_OAUTH_ERRORS = {400: "invalid_request", 401: "invalid_client", 403: "access_denied", 429: "too_many_requests"}
QUOTA_MESSAGE = "You have used up the processing units of your monthly quota."
"""The message of the stand-in's 403 answer to a request beyond ``pu_quota``."""


@dataclass
class Fault:
    """Something to do instead of (or before) the normal answer, for the next ``times`` requests of an endpoint."""

    endpoint: str
    status: int | None = None
    retry_after_ms: int | None = None
    delay_s: float = 0.0
    truncate: bool = False
    times: int = 1
    message: str | None = None
    """The answer's ``message`` (``error_description`` at the token endpoint); default: a generic one."""
    code: str | None = None
    """The answer's ``code`` (the OAuth2 ``error`` at the token endpoint); default: the usual one for the status."""

    def answer(self) -> _Answer:
        """The error answer the real service gives with this status."""
        assert self.status is not None
        reason = _REASONS.get(self.status, "Error")
        if self.status == 429:  # the rate limiter's answer is flat, not wrapped in "error"
            body: dict[str, Any] = {"status": 429, "reason": reason, "code": self.code or _CODES[429],
                                    "message": self.message or "You have exceeded your rate limit"}
            answer = _Answer(429, json.dumps(body).encode())
        elif self.endpoint == "token":
            body = {"error": self.code or _OAUTH_ERRORS.get(self.status, "server_error"),
                    "error_description": self.message or f"injected fault {self.status}"}
            answer = _Answer(self.status, json.dumps(body).encode())
        else:
            answer = _error(self.status, self.message or f"injected fault {self.status}", reason,
                            self.code or _CODES.get(self.status, "COMMON_EXCEPTION"))
        if self.retry_after_ms is not None:
            answer.headers["Retry-After"] = str(self.retry_after_ms)
        return answer


@dataclass
class Received:
    """One request the stand-in received and the status it answered."""

    endpoint: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    pu: float = 0.0
    """Processing units charged (successful process requests only)."""

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Item:
    """A catalog item: one Sentinel-2 tile or Sentinel-1 slice of an acquisition."""

    id: str
    sensor: str
    datetime: datetime
    geometry: BaseGeometry
    properties: dict[str, Any]
    aoi: AOI
    render_time: datetime

    def feature(self) -> dict[str, Any]:
        return {
            "type": "Feature", "stac_version": "1.0.0", "id": self.id, "collection": COLLECTIONS[self.sensor],
            "geometry": mapping(self.geometry), "bbox": list(self.geometry.bounds),
            "properties": {"datetime": self.datetime.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                           **self.properties},
            "assets": {}, "links": [],
        }


@dataclass
class _Answer:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, message: str, reason: str = "Bad Request", code: str = "COMMON_BAD_PAYLOAD") -> _Answer:
    body = {"error": {"status": status, "reason": reason, "message": message, "code": code}}
    return _Answer(status, json.dumps(body).encode())


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _crs(url: str) -> CRS:
    if url.rstrip("/").endswith("CRS84"):
        return CRS.from_epsg(4326)
    m = re.search(r"EPSG/0/(\d+)$", url)
    if not m:
        raise _BadRequestError(f"unsupported CRS {url!r}")
    return CRS.from_epsg(int(m.group(1)))


def _cql2(text: str) -> list[tuple[str, str, Any]]:
    """Parse ``a = 'x' AND b < 3`` into ``[(prop, op, value), ...]``; anything richer is a 400."""
    out = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        m = re.fullmatch(r"\s*([\w:.-]+)\s*(<=|>=|<>|!=|=|<|>)\s*(.+?)\s*", part)
        if not m:
            raise _BadRequestError(f"cannot parse filter {part!r}")
        raw = m.group(3)
        value: Any = raw[1:-1] if raw.startswith("'") and raw.endswith("'") else float(raw)
        out.append((m.group(1), m.group(2), value))
    return out


def _matches(props: dict[str, Any], clauses: list[tuple[str, str, Any]]) -> bool:
    for prop, op, value in clauses:
        have = props.get(prop)
        if have is None:
            return False
        ok = {"=": have == value, "<>": have != value, "!=": have != value}.get(op)
        if ok is None:
            ok = {"<": have < value, "<=": have <= value, ">": have > value, ">=": have >= value}[op]
        if not ok:
            return False
    return True


def _evalscript(script: str) -> tuple[list[str], dict[str, str], list[tuple[str, int, str]]]:
    """Input band names, their declared units (band -> unit) and ``(id, bands, sampleType)`` of each output."""
    m = re.search(r"bands\s*:\s*\[([^\]]*)\]", script)
    if not m or "//VERSION=3" not in script:
        raise _BadRequestError("evalscript must be version 3 with input bands in setup()")
    inputs = re.findall(r"[\"']([\w]+)[\"']", m.group(1))
    units: dict[str, str] = {}
    um = re.search(r"units\s*:\s*(\[[^\]]*\]|[\"']\w+[\"'])", script)
    if um:
        names = re.findall(r"[\"'](\w+)[\"']", um.group(1))
        if len(names) == 1 and not um.group(1).startswith("["):
            names = names * len(inputs)
        if len(names) != len(inputs):
            raise _BadRequestError(f"{len(names)} units for {len(inputs)} input bands")
        units = dict(zip(inputs, names, strict=True))
    outputs = []
    for om in re.finditer(r"\{\s*id\s*:\s*[\"'](\w+)[\"']\s*,\s*bands\s*:\s*(\d+)(?:\s*,\s*sampleType\s*:\s*"
                          r"[\"'](\w+)[\"'])?", script):
        outputs.append((om.group(1), int(om.group(2)), om.group(3) or "AUTO"))
    if not outputs:
        raise _BadRequestError("evalscript declares no outputs with ids")
    return inputs, units, outputs


def processing_units(width: int, height: int, input_bands: list[str], sample_types: list[str],
                     orthorectify: bool = False) -> float:
    """Processing units of one Process API request by Sentinel Hub's rules.

    Output area / (512 x 512) (at least 0.01), x input bands / 3 (``dataMask`` not counted unless alone),
    x 2 for a 32-bit float output, x 2 for Sentinel-1 orthorectification; at least 0.005 PU.
    """
    area = max(0.01, width * height / 512 ** 2)
    counted = [b for b in input_bands if b != "dataMask"] or input_bands
    factor = len(counted) / 3
    if any(t.upper() in ("FLOAT32", "AUTO_FLOAT") for t in sample_types):
        factor *= 2
    if orthorectify:
        factor *= 2
    return max(0.005, area * factor)


def _geotiff(arr: npt.NDArray[Any], crs: CRS, transform: Affine) -> bytes:
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
                      dtype=arr.dtype, crs=crs.to_wkt(), transform=transform) as dst:
            dst.write(arr)
        return bytes(mem.read())


class SentinelHubStandIn:
    """The stand-in server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, client_id: str = "standin-client", client_secret: str = "standin-secret",
                 scenario: Scenario | None = None, max_px: int = 2500, page_size: int = 100,
                 port: int = 0) -> None:
        self.requested_port = port
        self.client_id = client_id
        self.client_secret = client_secret
        self.scenario = scenario or Scenario.default([], date(2015, 1, 1), date(2100, 1, 1))
        self.max_px = max_px
        self.page_size = page_size
        self.pu_quota: float | None = None
        """Processing units the account may still spend; None: no limit. Requests beyond it get 403."""
        self.pu_spent = 0.0
        self.items: list[Item] = []
        self.received: list[Received] = []
        self.faults: list[Fault] = []
        self.tokens: set[str] = set()
        self._lock = threading.Lock()
        self._renders: dict[tuple[str, str, datetime], Scene] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> SentinelHubStandIn:
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", self.requested_port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="sh-standin", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SentinelHubStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the stand-in first"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}{TOKEN_PATH}"

    # -- test controls -----------------------------------------------------------------------------------------

    def fault(self, endpoint: str, **kwargs: Any) -> Fault:
        """Queue a fault for the next request(s) to ``endpoint`` (``token``, ``catalog`` or ``process``)."""
        f = Fault(endpoint, **kwargs)
        with self._lock:
            self.faults.append(f)
        return f

    def requests_to(self, endpoint: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.endpoint == endpoint]

    def add_item(self, aoi: AOI, sensor: str, when: datetime, geometry: BaseGeometry | None = None,
                 render_time: datetime | None = None, item_id: str | None = None, **properties: Any) -> Item:
        """Add one catalog item (default footprint: the AOI's bbox grown by 0.05 degrees).

        Sentinel-1 items are IW dual-polarisation (``DV``) unless ``properties`` say otherwise, e.g.
        ``**{"s1:polarization": "SV", "sar:polarizations": ["VV"]}`` for a single-polarisation scene.
        """
        if geometry is None:
            b = aoi.geometry.bounds
            geometry = box(b[0] - 0.05, b[1] - 0.05, b[2] + 0.05, b[3] + 0.05)
        stamp = when.strftime("%Y%m%dT%H%M%S")
        if sensor == "s2":
            props: dict[str, Any] = {"platform": "sentinel-2a", "instruments": ["msi"], "constellation":
                                     "sentinel-2", "gsd": 10}
            default_id = f"S2A_MSIL2A_{stamp}_N0511_R031_T53TLH_{stamp}"
        else:
            props = {"platform": "sentinel-1a", "sar:instrument_mode": "IW", "s1:polarization": "DV",
                     "s1:resolution": "HIGH", "s1:timeliness": "NRT3h", "sat:orbit_state": "descending",
                     "sar:polarizations": ["VV", "VH"]}
            default_id = f"S1A_IW_GRDH_1SDV_{stamp}_{(when + timedelta(seconds=25)).strftime('%Y%m%dT%H%M%S')}"
        props.update(properties)
        item = Item(id=item_id or default_id, sensor=sensor, datetime=when, geometry=geometry, properties=props,
                    aoi=aoi, render_time=render_time or when)
        with self._lock:
            self.items.append(item)
        return item

    def add_acquisitions(self, aoi: AOI, sensor: str, start: date, end: date, tiles: int = 2,
                         coverage: float = 1.0, single_pol: bool = True) -> list[datetime]:
        """Add the scenario's acquisitions of ``aoi`` in the period, each as ``tiles`` overlapping items.

        Item datetimes carry milliseconds (the first item of an acquisition is :data:`ITEM_MS` after the
        scenario's time, as real sensing times are never whole seconds). Sentinel-2 tiles split the AOI west/east
        and are 2.5 s apart; Sentinel-1 slices split it north/south and are 25 s apart (as in one datatake).
        ``coverage`` < 1 keeps only the western part of the AOI covered. Cloud cover is the simulator's own cloud
        fraction of that acquisition. With ``single_pol`` (Sentinel-1), each acquisition also gets a
        single-polarisation (``SV``) scene of another platform 6 hours later, which a dual-polarisation search must
        not find. Returns the scenario's acquisition times (whole seconds; the pixels are rendered at them).
        """
        times = self.scenario.acquisitions(aoi, sensor, start, end)
        b = aoi.geometry.bounds
        for t in times:
            if sensor == "s1" and single_pol:
                sv = t + timedelta(hours=6) + ITEM_MS
                self.add_item(aoi, sensor, sv, render_time=t, item_id=(
                    f"S1B_IW_GRDH_1SSV_{sv:%Y%m%dT%H%M%S}_{sv + timedelta(seconds=25):%Y%m%dT%H%M%S}_077"),
                    platform="sentinel-1b", **{"s1:polarization": "SV", "sar:polarizations": ["VV"]})
            cloud = 100.0 * cloud_fraction(self.scenario, aoi.id, sensor, t) if sensor == "s2" else None
            extra = {"eo:cloud_cover": round(cloud, 2)} if cloud is not None else {}
            if coverage < 1.0:
                east = b[0] + coverage * (b[2] - b[0])
                self.add_item(aoi, sensor, t + ITEM_MS, box(b[0] - 0.05, b[1] - 0.05, east, b[3] + 0.05),
                              render_time=t, **extra)
                continue
            for k in range(tiles):
                if sensor == "s2":
                    w = (b[2] - b[0]) / tiles
                    geom = box(b[0] - 0.05 + k * w, b[1] - 0.05, b[0] + (k + 1) * w + 0.05 + (0.02 if k else 0),
                               b[3] + 0.05)
                    when = t + ITEM_MS + timedelta(seconds=2.5 * k)
                    item_id = f"S2A_MSIL2A_{t:%Y%m%dT%H%M%S}_N0511_R031_T53TL{'HJKL'[k % 4]}_{t:%Y%m%dT%H%M%S}"
                else:
                    h = (b[3] - b[1]) / tiles
                    geom = box(b[0] - 0.05, b[3] - (k + 1) * h - 0.05, b[2] + 0.05, b[3] - k * h + 0.05)
                    when = t + ITEM_MS + timedelta(seconds=25 * k)
                    item_id = (f"S1A_IW_GRDH_1SDV_{when:%Y%m%dT%H%M%S}_"
                               f"{when + timedelta(seconds=25):%Y%m%dT%H%M%S}_05{k}")
                self.add_item(aoi, sensor, when, geom, render_time=t, item_id=item_id, **extra)
        return times

    # -- endpoints ---------------------------------------------------------------------------------------------

    def _authorized(self, headers: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        return auth.startswith("Bearer ") and auth.removeprefix("Bearer ") in self.tokens

    def answer(self, endpoint: str, headers: dict[str, str], body: bytes) -> _Answer:
        try:
            if endpoint == "token":
                return self._token(body)
            if not self._authorized(headers):
                return _error(401, "Authentication failed: no valid token", "Unauthorized", "COMMON_UNAUTHORIZED")
            payload = json.loads(body)
            if endpoint == "catalog":
                return self._catalog(payload)
            if endpoint == "process":
                return self._process(payload)
            return _error(404, "no such endpoint", "Not Found", "COMMON_NOT_FOUND")
        except (_BadRequestError, KeyError, TypeError, ValueError, IndexError) as exc:
            return _error(400, f"{type(exc).__name__}: {exc}")

    def _token(self, body: bytes) -> _Answer:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return _Answer(400, json.dumps({"error": "unsupported_grant_type"}).encode())
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return _Answer(401, json.dumps({"error": "unauthorized_client",
                                            "error_description": "Invalid client or Invalid client credentials"
                                            }).encode())
        token = secrets.token_hex(16)
        with self._lock:
            self.tokens.add(token)
        return _Answer(200, json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600,
                                        "scope": "email profile"}).encode())

    def _catalog(self, payload: dict[str, Any]) -> _Answer:
        [collection] = payload["collections"]
        if collection not in SENSOR_OF:
            raise _BadRequestError(f"unknown collection {collection}")
        start_text, end_text = str(payload["datetime"]).split("/")
        start, end = _time(start_text), _time(end_text)
        if "intersects" in payload:
            where = shape(payload["intersects"])
        elif "bbox" in payload:
            where = box(*payload["bbox"])
        else:
            where = box(-180, -90, 180, 90)
        clauses = _cql2(payload["filter"]) if payload.get("filter") else []
        limit = int(payload.get("limit", 10))
        if not 1 <= limit <= 100:
            raise _BadRequestError("limit must be between 1 and 100")
        with self._lock:
            found = [i for i in self.items if COLLECTIONS[i.sensor] == collection and start <= i.datetime <= end
                     and i.geometry.intersects(where) and _matches(i.properties, clauses)]
        found.sort(key=lambda i: (i.datetime, i.id))
        offset = int(payload.get("next") or 0)
        page = found[offset:offset + min(limit, self.page_size)]
        context: dict[str, Any] = {"limit": limit, "returned": len(page)}
        if offset + len(page) < len(found):
            context["next"] = offset + len(page)
        body = {"type": "FeatureCollection", "features": [i.feature() for i in page], "links": [],
                "context": context}
        return _Answer(200, json.dumps(body).encode())

    def prerender(self) -> None:
        """Render every item's scene now, so answers come fast (for tests that time the answers)."""
        for item in list(self.items):
            self._render(item)

    def _render(self, item: Item) -> Scene:
        key = (item.aoi.id, item.sensor, item.render_time)
        with self._lock:
            scene = self._renders.get(key)
        if scene is None:
            scene = render(item.aoi, item.render_time, item.sensor, self.scenario).scene
            with self._lock:
                self._renders[key] = scene
        return scene

    def _process(self, payload: dict[str, Any]) -> _Answer:
        bounds = payload["input"]["bounds"]
        crs = _crs(bounds["properties"]["crs"])
        minx, miny, maxx, maxy = (float(v) for v in bounds["bbox"])
        [data] = payload["input"]["data"]
        sensor = SENSOR_OF.get(data["type"])
        if sensor is None:
            raise _BadRequestError(f"unknown data type {data['type']}")
        tr = data["dataFilter"]["timeRange"]
        t0, t1 = _time(tr["from"]), _time(tr["to"])
        output = payload["output"]
        if "width" in output:
            width, height = int(output["width"]), int(output["height"])
        else:
            width = round((maxx - minx) / float(output["resx"]))
            height = round((maxy - miny) / float(output["resy"]))
        if not (1 <= width <= self.max_px and 1 <= height <= self.max_px):
            return _error(400, f"The request image width and height must be between 1 and {self.max_px} pixels "
                               f"(requested {width} x {height}).", code="RENDERER_EXCEPTION")
        inputs, units, outputs = _evalscript(payload["evalscript"])
        declared = {o[0]: o for o in outputs}
        responses = [r["identifier"] for r in output["responses"]]
        for r in output["responses"]:
            if r["identifier"] not in declared:
                raise _BadRequestError(f"response {r['identifier']} is not an output of the evalscript")
            if r["format"]["type"] != "image/tiff":
                raise _BadRequestError(f"format {r['format']['type']} is not served by the stand-in")
        transform = Affine((maxx - minx) / width, 0, minx, 0, -(maxy - miny) / height, maxy)
        request_4326 = project_geometry(box(minx, miny, maxx, maxy), crs, 4326)
        wanted = {"s1:polarization": data["dataFilter"].get("polarization"),
                  "sar:instrument_mode": data["dataFilter"].get("acquisitionMode")}
        with self._lock:
            found = [i for i in self.items if i.sensor == sensor and t0 <= i.datetime <= t1
                     and i.geometry.intersects(request_4326)
                     and all(v is None or i.properties.get(k) == v for k, v in wanted.items())]
        processing = data.get("processing") or {}
        pu = processing_units(width, height, inputs, [declared[r][2] for r in responses],
                              orthorectify=sensor == "s1" and bool(processing.get("orthorectify")))
        with self._lock:
            if self.pu_quota is not None and self.pu_spent + pu > self.pu_quota:
                return _error(403, QUOTA_MESSAGE, "Forbidden", _CODES[403])
        values = {name: np.zeros((height, width), np.float32) for name in inputs}
        mask = np.zeros((height, width), np.uint8)
        if found:
            # mostRecent mosaicking; when AOIs differ, the one overlapping the request most supplies the pixels
            best = max(found, key=lambda i: (i.aoi.geometry.intersection(request_4326).area, i.datetime))
            scene = self._render(best)
            footprint = unary_union([project_geometry(i.geometry, 4326, crs) for i in found
                                     if i.aoi.id == best.aoi.id])
            inside = rasterize([(footprint, 1)], out_shape=(height, width), transform=transform, fill=0,
                               dtype="uint8")
            ones = np.ones((1, scene.height, scene.width), np.float32)
            stack = np.concatenate([scene.data, ones])
            warped = np.full((stack.shape[0], height, width), np.nan, np.float32)
            reproject(stack, warped, src_transform=scene.transform, src_crs=scene.crs.to_wkt(), dst_transform=transform,
                      dst_crs=crs.to_wkt(), resampling=Resampling.nearest, src_nodata=np.nan, dst_nodata=np.nan)
            valid = (warped[-1] == 1) & (inside == 1)
            mask = valid.astype(np.uint8)
            db = "toDb" in payload["evalscript"] or "Math.log" in payload["evalscript"]
            for name in inputs:
                if name in scene.bands:
                    band = np.where(valid, warped[scene.bands.index(name)], 0).astype(np.float32)
                    if sensor == "s1" and not db:
                        band = np.where(valid, 10 ** (band / 10), 0).astype(np.float32)
                    if sensor == "s2" and name.startswith("B") and units.get(name, "REFLECTANCE") == "DN":
                        band = band * np.float32(10000)  # harmonised L2A: DN = 10000 x reflectance
                    values[name] = band
        values["dataMask"] = mask.astype(np.float32)
        files = {}
        for ident in responses:
            _, n_bands, sample_type = declared[ident]
            names = ["dataMask"] if ident == "dataMask" else [n for n in inputs if n != "dataMask"]
            if len(names) != n_bands:
                raise _BadRequestError(
                    f"output {ident} declares {n_bands} bands but evaluatePixel would return {len(names)}")
            stack = np.stack([values[n] for n in names])
            integer = {"UINT8": ("uint8", 255), "UINT16": ("uint16", 65535)}.get(sample_type.upper())
            if integer is not None:  # the service rounds and clamps to the integer type's range
                arr = np.clip(np.rint(np.nan_to_num(stack)), 0, integer[1]).astype(integer[0])
            else:
                arr = stack.astype(np.float32)
            files[ident] = _geotiff(arr, crs, transform)
        with self._lock:
            self.pu_spent += pu
        headers = {"x-processingunits-spent": f"{pu:.6f}"}
        if len(files) == 1:
            return _Answer(200, next(iter(files.values())), "image/tiff", headers)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for ident, blob in files.items():
                info = tarfile.TarInfo(f"{ident}.tif")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
        return _Answer(200, buf.getvalue(), "application/x-tar", headers)

    def next_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.endpoint == endpoint and f.times > 0:
                    f.times -= 1
                    return f
        return None


class _Handler(BaseHTTPRequestHandler):
    owner: SentinelHubStandIn
    server_version = "sh-standin/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        endpoint = {TOKEN_PATH: "token", CATALOG_PATH: "catalog", PROCESS_PATH: "process"}.get(path, "other")
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = Received(endpoint=endpoint, path=path, headers=headers, body=body)
        with self.owner._lock:
            self.owner.received.append(record)
        fault = self.owner.next_fault(endpoint)
        if fault is not None and fault.delay_s:
            time.sleep(fault.delay_s)
        if fault is not None and fault.status is not None:
            answer = fault.answer()
        else:
            answer = self.owner.answer(endpoint, headers, body)
        record.status = answer.status
        spent = answer.headers.get("x-processingunits-spent")
        record.pu = float(spent) if spent is not None and answer.status == 200 else 0.0
        payload = answer.body
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for k, v in answer.headers.items():
                self.send_header(k, v)
            self.end_headers()
            if fault is not None and fault.truncate:
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass


def iter_catalog_aois(ids: list[str] | None) -> Iterator[AOI]:
    catalog = load_catalog()
    for aoi_id in ids or sorted(catalog):
        yield catalog[aoi_id]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Serve the Sentinel Hub stand-in on 127.0.0.1 until interrupted.")
    p.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    p.add_argument("--aoi", action="append", help="catalog AOI to put in the catalog (default: all)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2024, 9, 1))
    p.add_argument("--end", type=date.fromisoformat, default=date(2024, 12, 31))
    p.add_argument("--client-id", default="x")
    p.add_argument("--client-secret", default="y")
    args = p.parse_args(argv)
    standin = SentinelHubStandIn(args.client_id, args.client_secret, port=args.port)
    for aoi in iter_catalog_aois(args.aoi):
        for sensor in ("s2", "s1"):
            standin.add_acquisitions(aoi, sensor, args.start, args.end)
    with standin:
        print(f"Sentinel Hub stand-in on {standin.base_url} (token URL {standin.token_url}); "
              f"{len(standin.items)} catalog items; Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()

if __name__ == "__main__":
    main()
