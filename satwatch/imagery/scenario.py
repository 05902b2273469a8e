"""Simulation scenarios: which AOIs, which period, which sensors, and what activity is planted where and when.

A scenario is a small YAML file (schema in ``docs/scenario.md``) read by :func:`load_scenario`::

    name: primorsky-autumn-2024
    seed: 7
    aois: [ru_dunai, ru_ussuriysk]
    period: 2024-09-01/2024-11-30
    sensors: [s2, s1]
    revisit_days: {s2: 5, s1: 12}
    cloud_cover: 0.35
    activity:
      - {aoi: ru_dunai, class: vessel, where: berth, count: {2024-09-01: 2, 2024-10-08: 6}}
      - {aoi: ru_ussuriysk, class: encampment, where: land, area_m2: {2024-09-01: 0, 2024-10-12: 25000}}

Planted quantities are step functions of the UTC date: a value holds from its date until the next date; before
the first date the first value holds, after the last date the last one. The activity is fictional; only the AOI
geometry is real. Everything rendered from a scenario is simulated, a demonstration and never evidence.

Acquisition times follow the real orbits' local solar times: Sentinel-2 passes at about 10:30 local mean solar
time (descending), Sentinel-1 at about 06:00 (descending, dawn) or 18:00 (ascending, dusk) depending on the AOI,
and the simulated very-high-resolution satellite at about 11:00. Dates repeat every ``revisit_days`` from the
period start, shifted by an offset that is fixed per AOI and sensor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from satwatch.aoi import AOI, CLASSES, load_catalog
from satwatch.errors import InputFileError, SatwatchError, ScenarioError
from satwatch.imagery.scene import SENSORS

__all__ = [
    "DEFAULT_CLOUD_COVER",
    "DEFAULT_REVISIT_DAYS",
    "WHERE",
    "Activity",
    "Scenario",
    "as_date",
    "load_scenario",
    "overpass_time",
    "stable_seed",
]

WHERE: dict[str, tuple[str, ...]] = {
    "vessel": ("berth", "anchor", "moving"),
    "vehicle": ("land", "road"),
    "encampment": ("land",),
}
"""Allowed ``where`` values per class: vessels moored at berths, anchored offshore or under way; vehicles
parked in rows on land or in convoys on roads; encampments on land."""
QUANTITY: dict[str, str] = {"vessel": "count", "vehicle": "count", "encampment": "area_m2"}
"""The key that carries each class's step function: a number of objects, or an area in square metres."""
DEFAULT_REVISIT_DAYS: dict[str, int] = {"s2": 5, "s1": 12, "vhr": 30}
"""Days between acquisitions when a scenario names none for a sensor."""
DEFAULT_CLOUD_COVER = 0.3
"""Mean cloud fraction of simulated Sentinel-2 acquisitions when a scenario names none."""
LOCAL_SOLAR_HOURS: dict[str, float] = {"s2": 10.5, "s1_descending": 6.0, "s1_ascending": 18.0, "vhr": 11.0}
"""Local mean solar time (hours) of each sensor's overpass."""
_TOP_KEYS = ("name", "description", "seed", "aois", "period", "sensors", "revisit_days", "cloud_cover", "activity")
_REQUIRED = ("name", "aois", "period")
_ACTIVITY_KEYS = ("aoi", "class", "where", "count", "area_m2", "length_m")
_MAX_COUNT = 2000
_MAX_AREA_M2 = 5_000_000.0


def stable_seed(*parts: object) -> int:
    """Return a 63-bit integer derived from the parts' text (SHA-256), the same in every process and run.

    Python's ``hash()`` changes between processes; this never does, so it can seed random generators.

    Example:
        >>> stable_seed("ru_dunai", "s2", 7) == stable_seed("ru_dunai", "s2", 7)
        True
    """
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def s1_orbit_pass(aoi_id: str) -> str:
    """Return ``ascending`` or ``descending``: the Sentinel-1 pass simulated over an AOI (fixed per AOI)."""
    return "ascending" if stable_seed("s1-pass", aoi_id) % 2 else "descending"


def overpass_time(aoi: AOI, day: date, sensor: str) -> datetime:
    """Return the simulated overpass time (aware UTC datetime) of ``sensor`` over ``aoi`` on the UTC date ``day``.

    The time of day is the sensor's local mean solar time (:data:`LOCAL_SOLAR_HOURS`) at the AOI's centroid
    longitude, plus a fixed per-AOI offset of up to +-8 minutes (position in the swath) and a per-date jitter of
    up to +-1 minute; it is wrapped into the same UTC date, so the result's UTC date is always ``day``.

    Example:
        >>> from satwatch.aoi import load_catalog
        >>> t = overpass_time(load_catalog()["ru_dunai"], date(2024, 10, 8), "s2")
        >>> (t.date().isoformat(), t.hour)
        ('2024-10-08', 1)
    """
    if sensor not in SENSORS:
        raise ScenarioError(f"sensor {sensor!r} is unknown; use one of {', '.join(SENSORS)}")
    key = f"s1_{s1_orbit_pass(aoi.id)}" if sensor == "s1" else sensor
    lon = aoi.centroid_lonlat[0]
    swath_s = stable_seed("swath", aoi.id, sensor) % 961 - 480
    jitter_s = stable_seed("jitter", aoi.id, sensor, day.isoformat()) % 121 - 60
    seconds = round(LOCAL_SOLAR_HOURS[key] * 3600.0 - lon * 240.0) + swath_s + jitter_s
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return midnight + timedelta(seconds=seconds % 86400)


@dataclass(frozen=True)
class Activity:
    """One planted activity: a class of objects at one AOI, as a step function of the date."""

    aoi: str
    """AOI id (a catalog id)."""
    cls: str
    """Object class: ``vessel``, ``vehicle`` or ``encampment`` (the YAML key is ``class``)."""
    where: str
    """Setting, one of :data:`WHERE` for the class (``berth``, ``anchor``, ``moving``, ``land``, ``road``)."""
    steps: tuple[tuple[date, float], ...]
    """``(date, value)`` pairs in increasing date order: number of objects, or area in m2 for encampments."""
    length_m: tuple[float, float] | None = None
    """Vessels only: ``(min, max)`` hull length in metres of the planted ships; None for the default mix."""

    @property
    def quantity(self) -> str:
        """``count`` (vessels, vehicles) or ``area_m2`` (encampments)."""
        return QUANTITY[self.cls]

    def value_at(self, day: date) -> float:
        """Value holding on ``day``: the value of the latest step on or before it (the first one before them)."""
        value = self.steps[0][1]
        for when, v in self.steps:
            if when > day:
                break
            value = v
        return value

    @property
    def max_value(self) -> float:
        """Largest value over all steps (how many objects, or how much area, the AOI must have room for)."""
        return max(v for _, v in self.steps)


@dataclass(frozen=True)
class Scenario:
    """A simulation scenario: AOIs, period, sensors, revisits, cloudiness and planted activity."""

    name: str
    """Short name, used in run ids and written into outputs."""
    aois: tuple[str, ...]
    """AOI ids the scenario covers (catalog ids when loaded from a file)."""
    start: date
    """First day of the period (UTC), inclusive."""
    end: date
    """Last day of the period (UTC), inclusive."""
    seed: int = 0
    """Seed of every random choice: same seed, same pixels."""
    sensors: tuple[str, ...] = ("s2", "s1")
    """Sensors a run of this scenario searches by default (``s2``, ``s1``, ``vhr``)."""
    revisit_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_REVISIT_DAYS), hash=False)
    """Days between acquisitions per sensor; sensors missing here use :data:`DEFAULT_REVISIT_DAYS`."""
    cloud_cover: float = DEFAULT_CLOUD_COVER
    """Mean cloud fraction 0..1 of Sentinel-2 acquisitions (each scene draws its own around it)."""
    activity: tuple[Activity, ...] = ()
    """Planted activity, in file order."""
    description: str = ""
    """Free text describing the scenario."""

    @classmethod
    def default(cls, aois: Sequence[str], start: date, end: date, seed: int = 0) -> Scenario:
        """Return the scenario for runs without a scenario file: nothing planted, default revisits and clouds.

        Sentinel-2 every 5 days, Sentinel-1 every 12, mean cloud cover 0.3. AOI ids are not checked against
        the catalog (users' own AOIs work).

        Example:
            >>> Scenario.default(["ru_dunai"], date(2024, 9, 1), date(2024, 9, 30)).revisit("s2")
            5
        """
        if end < start:
            raise ScenarioError(f"period end {end} is before its start {start}; swap them")
        return cls(name="default", aois=tuple(aois), start=start, end=end, seed=seed)

    def revisit(self, sensor: str) -> int:
        """Days between acquisitions of ``sensor``."""
        if sensor not in SENSORS:
            raise ScenarioError(f"sensor {sensor!r} is unknown; use one of {', '.join(SENSORS)}")
        return int(self.revisit_days.get(sensor, DEFAULT_REVISIT_DAYS[sensor]))

    def activities(self, aoi_id: str) -> tuple[Activity, ...]:
        """Return the planted activities of one AOI, in file order."""
        return tuple(a for a in self.activity if a.aoi == aoi_id)

    def value_at(self, aoi_id: str, cls: str, where: str, day: date) -> float:
        """Planted count (or encampment area, m2) of ``cls`` at ``where`` in ``aoi_id`` on UTC date ``day``.

        Returns 0.0 when the scenario plants nothing there.

        Example:
            >>> s = load_scenario("scenarios/demo.yaml")
            >>> s.value_at("ru_dunai", "vessel", "berth", date(2024, 10, 10))
            6.0
        """
        for a in self.activity:
            if a.aoi == aoi_id and a.cls == cls and a.where == where:
                return a.value_at(day)
        return 0.0

    def acquisition_days(self, aoi_id: str, sensor: str, start: date | None = None,
                         end: date | None = None) -> list[date]:
        """UTC dates with an acquisition of ``sensor`` over ``aoi_id`` from ``start`` to ``end`` (inclusive).

        Dates fall every :meth:`revisit` days, phased from the scenario's start by a fixed per-AOI, per-sensor
        offset; ``start``/``end`` default to the scenario's period and may lie outside it (same phase).
        """
        first, last = start or self.start, end or self.end
        step = self.revisit(sensor)
        anchor = self.start + timedelta(days=stable_seed("phase", aoi_id, sensor) % step)
        k = -((anchor - first).days // step)  # smallest k with anchor + k * step >= first
        out: list[date] = []
        day = anchor + timedelta(days=k * step)
        while day <= last:
            out.append(day)
            day += timedelta(days=step)
        return out

    def acquisitions(self, aoi: AOI | str, sensor: str, start: date | None = None,
                     end: date | None = None) -> list[datetime]:
        """Acquisition times (aware UTC) of ``sensor`` over ``aoi`` from ``start`` to ``end``, oldest first.

        ``aoi`` is an :class:`~satwatch.aoi.AOI` or a catalog id (its centroid sets the overpass time).

        Example:
            >>> s = load_scenario("scenarios/tiny.yaml")
            >>> all(t.hour < 3 for t in s.acquisitions("ru_dunai", "s2"))
            True
        """
        if isinstance(aoi, str):
            catalog = load_catalog()
            if aoi not in catalog:
                raise ScenarioError(f"AOI {aoi!r} is not in the catalog; pass the AOI object instead of its id")
            aoi = catalog[aoi]
        return [overpass_time(aoi, d, sensor) for d in self.acquisition_days(aoi.id, sensor, start, end)]


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML file (schema: ``docs/scenario.md``).

    Raises:
        InputFileError: the file does not exist.
        ScenarioError: the file is not YAML or breaks the schema; the message names the key and what to change.

    Example:
        >>> s = load_scenario("scenarios/demo.yaml")
        >>> (s.name, s.aois[0], s.start.isoformat())
        ('primorsky-autumn-2024', 'ru_dunai', '2024-09-01')
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"scenario file {p} does not exist")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{p} is not valid YAML ({exc}); fix the syntax") from exc
    if not isinstance(raw, dict):
        raise ScenarioError(f"{p}: a scenario is a YAML mapping with keys {', '.join(_REQUIRED)}, ...")
    return _parse(raw, str(p))


def _parse(raw: Mapping[str, Any], where: str) -> Scenario:
    unknown = sorted(str(k) for k in raw if k not in _TOP_KEYS)
    if unknown:
        raise ScenarioError(f"{where}: unknown key {unknown[0]!r}; allowed keys are {', '.join(_TOP_KEYS)}")
    missing = [k for k in _REQUIRED if raw.get(k) in (None, "", [])]
    if missing:
        raise ScenarioError(f"{where}: key {missing[0]!r} is missing; add it (see docs/scenario.md)")
    name = str(raw["name"]).strip()
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError(f"{where}: seed {seed!r} must be a whole number >= 0")
    catalog = load_catalog()
    aois = raw["aois"]
    if isinstance(aois, str):
        aois = [aois]
    if not isinstance(aois, list):
        raise ScenarioError(f"{where}: aois must be a list of AOI ids, e.g. [ru_dunai, ru_vladivostok]")
    for a in aois:
        if str(a) not in catalog:
            raise ScenarioError(f"{where}: unknown AOI {a!r} in aois; use a catalog id (see `satwatch aoi list`)")
    if len(set(map(str, aois))) != len(aois):
        raise ScenarioError(f"{where}: aois lists an AOI twice; list each once")
    start, end = _parse_period(raw["period"], where)
    sensors = raw.get("sensors", ["s2", "s1"])
    if isinstance(sensors, str):
        sensors = [sensors]
    if not isinstance(sensors, list) or not sensors:
        raise ScenarioError(f"{where}: sensors must be a non-empty list drawn from {', '.join(SENSORS)}")
    for s in sensors:
        if s not in SENSORS:
            raise ScenarioError(f"{where}: unknown sensor {s!r} in sensors; use {', '.join(SENSORS)}")
    revisit = dict(DEFAULT_REVISIT_DAYS)
    given = raw.get("revisit_days", {}) or {}
    if not isinstance(given, dict):
        raise ScenarioError(f"{where}: revisit_days must be a mapping such as {{s2: 5, s1: 12}}")
    for s, days in given.items():
        if s not in SENSORS:
            raise ScenarioError(f"{where}: unknown sensor {s!r} in revisit_days; use {', '.join(SENSORS)}")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
            raise ScenarioError(f"{where}: revisit_days.{s} = {days!r} must be a whole number of days, 1 to 366")
        revisit[str(s)] = days
    cloud = raw.get("cloud_cover", DEFAULT_CLOUD_COVER)
    if isinstance(cloud, bool) or not isinstance(cloud, int | float) or not 0.0 <= float(cloud) <= 1.0:
        raise ScenarioError(f"{where}: cloud_cover {cloud!r} must be a fraction from 0 to 1 (e.g. 0.35)")
    entries = raw.get("activity", []) or []
    if not isinstance(entries, list):
        raise ScenarioError(f"{where}: activity must be a list of entries like "
                            "{aoi: ru_dunai, class: vessel, where: berth, count: {2024-09-01: 2}}")
    activity: list[Activity] = []
    seen: set[tuple[str, str, str]] = set()
    for i, entry in enumerate(entries):
        act = _parse_activity(entry, f"{where}: activity[{i}]", [str(a) for a in aois], catalog, start, end)
        key = (act.aoi, act.cls, act.where)
        if key in seen:
            raise ScenarioError(f"{where}: activity[{i}] repeats {' '.join(key)}; merge the two entries into one")
        seen.add(key)
        activity.append(act)
    return Scenario(
        name=name, aois=tuple(str(a) for a in aois), start=start, end=end, seed=seed, sensors=tuple(sensors),
        revisit_days=revisit, cloud_cover=float(cloud), activity=tuple(activity),
        description=str(raw.get("description") or ""),
    )


def as_date(value: Any, what: str, error: type[SatwatchError] = ScenarioError) -> date:
    """Read a YAML date (a ``date``, a ``datetime`` or ``YYYY-MM-DD`` text); raise ``error`` naming ``what``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise error(f"{what}: {value!r} is not a date; write YYYY-MM-DD") from None


def _parse_period(value: Any, where: str) -> tuple[date, date]:
    parts = str(value).split("/")
    if len(parts) != 2:
        raise ScenarioError(f"{where}: period {value!r} must be START/END, e.g. 2024-09-01/2024-11-30")
    start = as_date(parts[0], f"{where}: period start")
    end = as_date(parts[1], f"{where}: period end")
    if end < start:
        raise ScenarioError(f"{where}: period {value!r} ends before it starts; swap the dates")
    return start, end


def _parse_activity(
    entry: Any, what: str, aois: list[str], catalog: Mapping[str, AOI], start: date, end: date,
) -> Activity:
    if not isinstance(entry, dict):
        raise ScenarioError(f"{what} must be a mapping with keys aoi, class, where and count or area_m2")
    unknown = sorted(str(k) for k in entry if k not in _ACTIVITY_KEYS)
    if unknown:
        raise ScenarioError(f"{what}: unknown key {unknown[0]!r}; allowed keys are {', '.join(_ACTIVITY_KEYS)}")
    aoi = str(entry.get("aoi", ""))
    if aoi not in catalog:
        raise ScenarioError(f"{what}: unknown AOI {aoi!r}; use a catalog id (see `satwatch aoi list`)")
    if aoi not in aois:
        raise ScenarioError(f"{what}: AOI {aoi!r} is not in the scenario's aois; add it there")
    cls = str(entry.get("class", ""))
    if cls not in CLASSES:
        raise ScenarioError(f"{what}: unknown class {cls!r}; use one of {', '.join(CLASSES)}")
    place = str(entry.get("where", ""))
    if place not in WHERE[cls]:
        raise ScenarioError(f"{what}: unknown where {place!r} for class {cls}; use one of {', '.join(WHERE[cls])}")
    quantity = QUANTITY[cls]
    other = "area_m2" if quantity == "count" else "count"
    if other in entry:
        raise ScenarioError(f"{what}: a {cls} entry takes {quantity}, not {other}; rename the key")
    if quantity not in entry:
        raise ScenarioError(f"{what}: key {quantity!r} is missing; give {{YYYY-MM-DD: value, ...}}")
    raw_steps = entry[quantity]
    if not isinstance(raw_steps, dict) or not raw_steps:
        raise ScenarioError(f"{what}: {quantity} must be a mapping of dates to values, e.g. {{2024-09-01: 2}}")
    steps: list[tuple[date, float]] = []
    for key, value in raw_steps.items():
        day = as_date(key, f"{what}: {quantity} date")
        if not start <= day <= end:
            raise ScenarioError(f"{what}: date {day} is outside the period {start}/{end}; move it inside")
        if steps and day <= steps[-1][0]:
            raise ScenarioError(f"{what}: date {day} comes after {steps[-1][0]}; list dates in increasing order")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScenarioError(f"{what}: {quantity} on {day} is {value!r}; give a number")
        if value < 0:
            raise ScenarioError(f"{what}: {quantity} on {day} is {value}, negative; use 0 or more")
        if quantity == "count" and (value != int(value) or value > _MAX_COUNT):
            raise ScenarioError(f"{what}: count on {day} is {value}; use a whole number from 0 to {_MAX_COUNT}")
        if quantity == "area_m2" and value > _MAX_AREA_M2:
            raise ScenarioError(f"{what}: area_m2 on {day} is {value}; keep it under {_MAX_AREA_M2:,.0f} m2")
        steps.append((day, float(value)))
    length: tuple[float, float] | None = None
    if "length_m" in entry:
        raw_len = entry["length_m"]
        ok = (cls == "vessel" and isinstance(raw_len, list) and len(raw_len) == 2
              and all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw_len))
        if not ok or not 10.0 <= float(raw_len[0]) <= float(raw_len[1]) <= 400.0:
            raise ScenarioError(f"{what}: length_m must be [min, max] metres with 10 <= min <= max <= 400, "
                                "and only on vessel entries")
        length = (float(raw_len[0]), float(raw_len[1]))
    return Activity(aoi=aoi, cls=cls, where=place, steps=tuple(steps), length_m=length)
