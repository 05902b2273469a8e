"""The claims catalog: public claims restated as testable indicators, read from YAML and validated on load.

``aoi/claims.yaml`` is the project's catalog (schema in ``docs/claims.md``); users pass their own file in the same
format (``satwatch claims check ID --claims my_claims.yaml``). A claim says who claimed what, when and where, the
``baseline`` window (before the claimed activity) and the ``test`` window (when it is said to have happened), and
its **indicators**: each names an AOI, a measure, an expected direction and optionally a minimum effect::

    claims = load_claims()                      # aoi/claims.yaml
    c05 = claims["C05"]
    [f"{i.aoi} {i.measure} {i.expect}" for i in c05.indicators][:1]
    # ['kp_chongjin_port large_vessel_presence increase']

Measures (:data:`MEASURES`) read the detections contract (``satwatch.detection.detections``) and the run's
observability; a measure whose class the run's detector does not report is never turned into a zero.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from satwatch.change.timeseries import Window
from satwatch.errors import ClaimError, InputFileError, UsageError
from satwatch.imagery.scenario import as_date
from satwatch.settings import REPO_ROOT

__all__ = [
    "CLAIMED_QUANTITIES",
    "DEFAULT_CLAIMS",
    "DIRECTIONS",
    "MEASURES",
    "Claim",
    "Indicator",
    "MeasureSpec",
    "Source",
    "claims_sha256",
    "load_claims",
    "parse_claims",
]

Day = date
"""A UTC day (alias: a ``date`` field of a claim would shadow the type in annotations)."""
DEFAULT_CLAIMS = REPO_ROOT / "aoi" / "claims.yaml"
"""The project's claims catalog."""
DIRECTIONS = ("increase", "decrease", "present", "absent")
"""Expected directions: ``increase`` / ``decrease`` compare the test window with the baseline; ``present`` /
``absent`` look at the test window alone."""
CLAIMED_QUANTITIES = ("people", "landing_ships", "ships", "escorts", "containers", "round_trips", "vehicles",
                      "buildings", "sites")
"""Numbers a claim may state (``claimed:``), turned into expected observables with the planning factors."""


@dataclass(frozen=True)
class MeasureSpec:
    """What one measure counts, from which class of the detections contract, in which unit."""

    name: str
    """Measure name as written in the catalog."""
    cls: str | None
    """Detection class it reads (``vessel``, ``vehicle``, ``encampment``); None for pixel-level ground change."""
    kind: str
    """``count`` (objects per acquisition), ``area`` (m2 of polygons per acquisition), ``arrivals`` (new
    presences per week) or ``pixel`` (m2 of pixel-level change between the window composites)."""
    unit: str
    """Unit of the effect size and of ``min_effect``."""
    default_min_effect: float
    """Minimum effect used when an indicator gives none."""
    directions: tuple[str, ...]
    """Directions the measure can test."""
    description: str
    """One line for tables and docs."""


MEASURES: dict[str, MeasureSpec] = {m.name: m for m in (
    MeasureSpec("vessel_count", "vessel", "count", "vessels per fully observed acquisition", 1.0, DIRECTIONS,
                "vessels detected per acquisition"),
    MeasureSpec("vessel_arrivals", "vessel", "arrivals", "arrivals per week", 0.5, ("increase", "decrease"),
                "vessels newly present (linked across dates, seen on 2+ acquisitions) per week"),
    MeasureSpec("large_vessel_presence", "vessel", "count", "large vessels per fully observed acquisition", 0.5,
                DIRECTIONS, "vessels at least min_length_m long per acquisition"),
    MeasureSpec("vehicle_count", "vehicle", "count", "vehicle detections per fully observed acquisition", 5.0,
                DIRECTIONS, "vehicle detections (single vehicles at VHR, parks or convoys at 10 m) per acquisition"),
    MeasureSpec("vehicle_park_area_m2", "vehicle", "area", "m2 of vehicle parks per acquisition", 3000.0,
                DIRECTIONS, "summed area of vehicle-park polygons per acquisition"),
    MeasureSpec("encampment_area_m2", "encampment", "area", "m2 of encampment per acquisition", 5000.0, DIRECTIONS,
                "summed area of encampment polygons per acquisition"),
    MeasureSpec("ground_change_area_m2", None, "pixel", "m2 of pixel-level change", 10000.0,
                ("increase", "present", "absent"),
                "area of pixel-level ground change between the baseline and test composites"),
)}
"""Every measure an indicator can name."""

_CLAIM_KEYS = ("id", "date", "claimant", "statement", "sources", "aois", "baseline", "test", "indicators",
               "claimed", "conflicts_with", "notes")
_CLAIM_REQUIRED = ("id", "date", "claimant", "statement", "sources", "aois", "baseline", "test", "indicators")
_SOURCE_KEYS = ("publisher", "title", "date", "url")
_INDICATOR_KEYS = ("aoi", "measure", "expect", "min_effect", "min_length_m", "sensor", "why")
_SENSOR_CHOICES = ("any", "s1", "s2", "vhr")


@dataclass(frozen=True)
class Source:
    """Where a claim was published."""

    publisher: str
    """Who published it (agency, outlet, think tank)."""
    title: str
    """Title or short description of the item."""
    date: date
    """Publication date (UTC day)."""
    url: str = ""
    """Address of the item, when known."""


@dataclass(frozen=True)
class Indicator:
    """One observable consequence of a claim: a measure at an AOI expected to move in one direction."""

    aoi: str
    """AOI id (catalog id) where the measure is taken."""
    measure: str
    """A key of :data:`MEASURES`."""
    expect: str
    """One of :data:`DIRECTIONS`."""
    min_effect: float
    """Smallest effect that would bear out the claim, in the measure's unit (:attr:`MeasureSpec.unit`); for
    ``present`` / ``absent``: the least value of one acquisition that counts as showing the object."""
    sensor: str = "any"
    """``any`` (each sensor of the run on its own), ``s1``, ``s2`` or ``vhr``."""
    min_length_m: float = 90.0
    """``large_vessel_presence`` only: least detected length in metres (landing ships are 110 to 135 m)."""
    why: str = ""
    """What the indicator shows about the claim, in one sentence."""

    @property
    def spec(self) -> MeasureSpec:
        """The measure's :class:`MeasureSpec`."""
        return MEASURES[self.measure]

    @property
    def label(self) -> str:
        """Short label, e.g. ``ru_vladivostok vessel_arrivals increase``."""
        extra = f">={self.min_length_m:g}m" if self.measure == "large_vessel_presence" else ""
        return f"{self.aoi} {self.measure}{extra} {self.expect}"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, as in the catalog YAML."""
        out: dict[str, Any] = {"aoi": self.aoi, "measure": self.measure, "expect": self.expect,
                               "min_effect": self.min_effect, "sensor": self.sensor}
        if self.measure == "large_vessel_presence":
            out["min_length_m"] = self.min_length_m
        if self.why:
            out["why"] = self.why
        return out


@dataclass(frozen=True)
class Claim:
    """A public claim restated so that imagery can test it."""

    id: str
    """Catalog id, e.g. ``C05``."""
    date: date
    """Day the claim was made public."""
    claimant: str
    """Who made it."""
    statement: str
    """What was claimed, restated in the catalog's own words."""
    sources: tuple[Source, ...]
    """Where it was published (at least one)."""
    aois: tuple[str, ...]
    """AOI ids the claim concerns."""
    baseline: Window
    """Window before the claimed activity (UTC days, inclusive)."""
    test: Window
    """Window when the activity is said to have happened; starts after the baseline ends."""
    indicators: tuple[Indicator, ...]
    """Observable consequences tested one by one."""
    claimed: dict[str, tuple[float, float]] = field(default_factory=dict, hash=False)
    """Numbers the claim states, ``name -> (low, high)`` (names in :data:`CLAIMED_QUANTITIES`)."""
    conflicts_with: tuple[str, ...] = ()
    """Ids of claims this one contradicts in part; each is tested on its own."""
    notes: str = ""
    """What imagery cannot test about this claim, or other remarks."""

    @property
    def period(self) -> tuple[Day, Day]:
        """First and last day covered by the two windows."""
        return self.baseline.start, self.test.end

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict in the catalog's YAML layout (the definition a verdict was made with)."""
        return {
            "id": self.id, "date": self.date.isoformat(), "claimant": self.claimant, "statement": self.statement,
            "sources": [{"publisher": s.publisher, "title": s.title, "date": s.date.isoformat(), "url": s.url}
                        for s in self.sources],
            "aois": list(self.aois), "baseline": str(self.baseline), "test": str(self.test),
            "indicators": [i.to_dict() for i in self.indicators],
            "claimed": {k: list(v) for k, v in self.claimed.items()},
            "conflicts_with": list(self.conflicts_with), "notes": self.notes,
        }


def claims_sha256(path: str | Path) -> str:
    """SHA-256 of a claims file, recorded with every verdict."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_claims(path: str | Path | None = None) -> dict[str, Claim]:
    """Read and validate a claims catalog (default: :data:`DEFAULT_CLAIMS`); return claims by id, in file order.

    Raises:
        InputFileError: the file does not exist.
        ClaimError: the file breaks the schema (``docs/claims.md``); the message names the claim, the key and
            what to change.

    Example:
        >>> sorted(load_claims())[:3]
        ['C01', 'C02', 'C05']
    """
    p = Path(path) if path is not None else DEFAULT_CLAIMS
    if not p.is_file():
        raise InputFileError(f"claims file {p} does not exist")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ClaimError(f"{p} is not valid YAML ({str(exc).splitlines()[0]}); fix the syntax") from exc
    return parse_claims(raw, str(p))


def parse_claims(raw: Any, where: str = "claims", check_conflicts: bool = True) -> dict[str, Claim]:
    """Validate a parsed catalog (``{claims: [...]}`` or a bare list) and return claims by id, in order.

    The same checks as :func:`load_claims`; used for catalogs stored inside ``claims.json`` (which hold only the
    claims checked, so ``conflicts_with`` may name claims that are not there: ``check_conflicts=False``).
    """
    from satwatch.aoi import load_catalog

    entries = raw.get("claims") if isinstance(raw, Mapping) else raw
    if isinstance(raw, Mapping):
        unknown = sorted(str(k) for k in raw if k not in ("claims", "version", "description"))
        if unknown:
            raise ClaimError(f"{where}: unknown top-level key {unknown[0]!r}; use claims (and version, description)")
    if not isinstance(entries, list) or not entries:
        raise ClaimError(f"{where}: expected a list of claims under 'claims:' (see docs/claims.md)")
    catalog = load_catalog()
    out: dict[str, Claim] = {}
    for i, entry in enumerate(entries):
        claim = _parse_claim(entry, f"{where}: claims[{i}]", catalog)
        if claim.id in out:
            raise ClaimError(f"{where}: claim id {claim.id!r} appears twice; give each claim its own id")
        out[claim.id] = claim
    for claim in out.values() if check_conflicts else ():
        for other in claim.conflicts_with:
            if other not in out:
                raise ClaimError(f"{where}: claim {claim.id} conflicts_with {other!r}, which is not in the file")
    return out


def _as_date(value: Any, what: str) -> date:
    return as_date(value, what, ClaimError)


def _window(value: Any, what: str) -> Window:
    from satwatch.change.timeseries import parse_window

    try:
        return parse_window(str(value))
    except UsageError as exc:
        raise ClaimError(f"{what}: {exc}") from None


def _text(entry: Mapping[str, Any], key: str, what: str, required: bool = True) -> str:
    value = entry.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ClaimError(f"{what}: key {key!r} is missing or empty; add it")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ClaimError(f"{what}: {key} must be text")
    return " ".join(str(value).split())


def _number(value: Any, what: str, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
        raise ClaimError(f"{what}: {value!r} must be a number >= {low:g}")
    return float(value)


def _parse_claim(entry: Any, what: str, catalog: Mapping[str, Any]) -> Claim:
    if not isinstance(entry, Mapping):
        raise ClaimError(f"{what}: a claim is a mapping with keys {', '.join(_CLAIM_REQUIRED)}")
    cid = str(entry.get("id", "")).strip()
    if cid:
        what = f"{what.rsplit(':', 1)[0]}: claim {cid}"
    unknown = sorted(str(k) for k in entry if k not in _CLAIM_KEYS)
    if unknown:
        raise ClaimError(f"{what}: unknown key {unknown[0]!r}; allowed keys are {', '.join(_CLAIM_KEYS)}")
    missing = [k for k in _CLAIM_REQUIRED if entry.get(k) in (None, "", [])]
    if missing:
        raise ClaimError(f"{what}: key {missing[0]!r} is missing; add it (see docs/claims.md)")
    if not cid.replace("-", "").replace("_", "").isalnum():
        raise ClaimError(f"{what}: id {cid!r} must be letters, digits, '-' or '_' (it names evidence folders)")
    raw_sources = entry["sources"]
    if not isinstance(raw_sources, list):
        raise ClaimError(f"{what}: sources must be a list of {{publisher, title, date, url}}")
    sources = []
    for j, s in enumerate(raw_sources):
        sw = f"{what}: sources[{j}]"
        if not isinstance(s, Mapping):
            raise ClaimError(f"{sw} must be a mapping with publisher, title, date (and url)")
        bad = sorted(str(k) for k in s if k not in _SOURCE_KEYS)
        if bad:
            raise ClaimError(f"{sw}: unknown key {bad[0]!r}; use {', '.join(_SOURCE_KEYS)}")
        url = _text(s, "url", sw, required=False)
        if url and not url.startswith(("https://", "http://")):
            raise ClaimError(f"{sw}: url {url!r} must start with https:// or http://")
        sources.append(Source(_text(s, "publisher", sw), _text(s, "title", sw), _as_date(s.get("date"), sw), url))
    aois = entry["aois"]
    if isinstance(aois, str):
        aois = [aois]
    if not isinstance(aois, list):
        raise ClaimError(f"{what}: aois must be a list of AOI ids")
    for a in aois:
        if str(a) not in catalog:
            raise ClaimError(f"{what}: unknown AOI {a!r} in aois; use a catalog id (see `satwatch aoi list`)")
    baseline = _window(entry["baseline"], f"{what}: baseline")
    test = _window(entry["test"], f"{what}: test")
    if baseline.end >= test.start:
        raise ClaimError(f"{what}: baseline {baseline} must end before the test window {test} starts")
    raw_ind = entry["indicators"]
    if not isinstance(raw_ind, list):
        raise ClaimError(f"{what}: indicators must be a list of {{aoi, measure, expect, ...}}")
    indicators = tuple(_parse_indicator(x, f"{what}: indicators[{j}]", [str(a) for a in aois])
                       for j, x in enumerate(raw_ind))
    claimed: dict[str, tuple[float, float]] = {}
    raw_claimed = entry.get("claimed") or {}
    if not isinstance(raw_claimed, Mapping):
        raise ClaimError(f"{what}: claimed must be a mapping such as {{people: [1500, 1500]}}")
    for key, value in raw_claimed.items():
        if key not in CLAIMED_QUANTITIES:
            raise ClaimError(f"{what}: claimed.{key} is unknown; use {', '.join(CLAIMED_QUANTITIES)}")
        pair = value if isinstance(value, list) else [value, value]
        if len(pair) != 2:
            raise ClaimError(f"{what}: claimed.{key} must be a number or [low, high]")
        low, high = _number(pair[0], f"{what}: claimed.{key}"), _number(pair[1], f"{what}: claimed.{key}")
        if high < low:
            raise ClaimError(f"{what}: claimed.{key} [{low:g}, {high:g}] is reversed; give [low, high]")
        claimed[str(key)] = (low, high)
    conflicts = entry.get("conflicts_with") or []
    if isinstance(conflicts, str):
        conflicts = [conflicts]
    if not isinstance(conflicts, list):
        raise ClaimError(f"{what}: conflicts_with must be a list of claim ids")
    return Claim(
        id=cid, date=_as_date(entry["date"], f"{what}: date"), claimant=_text(entry, "claimant", what),
        statement=_text(entry, "statement", what), sources=tuple(sources), aois=tuple(str(a) for a in aois),
        baseline=baseline, test=test, indicators=indicators, claimed=claimed,
        conflicts_with=tuple(str(c) for c in conflicts), notes=_text(entry, "notes", what, required=False),
    )


def _parse_indicator(entry: Any, what: str, aois: list[str]) -> Indicator:
    if not isinstance(entry, Mapping):
        raise ClaimError(f"{what} must be a mapping with aoi, measure, expect")
    unknown = sorted(str(k) for k in entry if k not in _INDICATOR_KEYS)
    if unknown:
        raise ClaimError(f"{what}: unknown key {unknown[0]!r}; allowed keys are {', '.join(_INDICATOR_KEYS)}")
    aoi = str(entry.get("aoi", ""))
    if aoi not in aois:
        raise ClaimError(f"{what}: AOI {aoi!r} is not in the claim's aois; add it there")
    measure = str(entry.get("measure", ""))
    if measure not in MEASURES:
        raise ClaimError(f"{what}: unknown measure {measure!r}; use one of {', '.join(MEASURES)}")
    spec = MEASURES[measure]
    expect = str(entry.get("expect", ""))
    if expect not in spec.directions:
        raise ClaimError(f"{what}: expect {expect!r} does not apply to {measure}; use one of "
                         f"{', '.join(spec.directions)}")
    min_effect = spec.default_min_effect
    if entry.get("min_effect") is not None:
        min_effect = _number(entry["min_effect"], f"{what}: min_effect")
    if expect in ("present", "absent") and spec.kind == "count":
        min_effect = max(1.0, min_effect) if entry.get("min_effect") is None else min_effect
    min_length = 90.0
    if entry.get("min_length_m") is not None:
        if measure != "large_vessel_presence":
            raise ClaimError(f"{what}: min_length_m only applies to large_vessel_presence")
        min_length = _number(entry["min_length_m"], f"{what}: min_length_m", low=1.0)
    sensor = str(entry.get("sensor", "any"))
    if sensor not in _SENSOR_CHOICES:
        raise ClaimError(f"{what}: sensor {sensor!r} is unknown; use one of {', '.join(_SENSOR_CHOICES)}")
    if measure == "ground_change_area_m2" and sensor == "vhr":
        raise ClaimError(f"{what}: ground_change_area_m2 is measured on s1 or s2, not vhr")
    return Indicator(aoi=aoi, measure=measure, expect=expect, min_effect=min_effect, sensor=sensor,
                     min_length_m=min_length, why=_text(entry, "why", what, required=False))
