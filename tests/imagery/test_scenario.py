"""Scenario files: schema validation with clear messages, step functions, acquisition dates and times."""

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from satwatch.aoi import load_catalog
from satwatch.errors import InputFileError, ScenarioError
from satwatch.imagery.scenario import Scenario, load_scenario, overpass_time, stable_seed

REPO = Path(__file__).resolve().parents[2]
GOOD = """\
name: test
seed: 3
aois: [ru_dunai, ru_ussuriysk]
period: 2024-09-01/2024-10-31
sensors: [s2, s1]
revisit_days: {s2: 5, s1: 12}
cloud_cover: 0.2
activity:
  - {aoi: ru_dunai, class: vessel, where: berth, count: {2024-09-01: 2, 2024-10-08: 6, 2024-10-20: 1}}
  - {aoi: ru_ussuriysk, class: encampment, where: land, area_m2: {2024-09-10: 0, 2024-10-12: 25000}}
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_good_file_loads(tmp_path: Path) -> None:
    s = load_scenario(_write(tmp_path, GOOD))
    assert s.name == "test" and s.seed == 3
    assert s.aois == ("ru_dunai", "ru_ussuriysk")
    assert (s.start, s.end) == (date(2024, 9, 1), date(2024, 10, 31))
    assert s.revisit("s2") == 5 and s.revisit("s1") == 12 and s.revisit("vhr") == 30
    assert s.cloud_cover == pytest.approx(0.2)
    assert [a.cls for a in s.activity] == ["vessel", "encampment"]


def test_step_function_semantics(tmp_path: Path) -> None:
    s = load_scenario(_write(tmp_path, GOOD))
    v = "ru_dunai", "vessel", "berth"
    assert s.value_at(*v, date(2024, 8, 1)) == 2  # before the first date: the first value
    assert s.value_at(*v, date(2024, 10, 7)) == 2
    assert s.value_at(*v, date(2024, 10, 8)) == 6  # from its own date on
    assert s.value_at(*v, date(2024, 10, 19)) == 6
    assert s.value_at(*v, date(2024, 10, 20)) == 1
    assert s.value_at(*v, date(2025, 1, 1)) == 1  # after the last date: the last value
    camp = "ru_ussuriysk", "encampment", "land"
    assert s.value_at(*camp, date(2024, 9, 1)) == 0 and s.value_at(*camp, date(2024, 10, 12)) == 25000
    assert s.value_at("ru_dunai", "vehicle", "land", date(2024, 10, 12)) == 0  # nothing planted


@pytest.mark.parametrize(("change", "message"), [
    (("seed: 3", "seed: 3\nclouds: 0.5"), "unknown key 'clouds'"),
    (("aois: [ru_dunai, ru_ussuriysk]", "aois: [ru_dunai, ru_nowhere]"), "unknown AOI 'ru_nowhere' in aois"),
    (("period: 2024-09-01/2024-10-31", "period: 2024-09-01/2024-13-01"), "period end: '2024-13-01' is not a date"),
    (("period: 2024-09-01/2024-10-31", "period: 2024-10-31/2024-09-01"), "ends before it starts"),
    (("period: 2024-09-01/2024-10-31", "period: 2024-09-01"), "must be START/END"),
    (("2024-10-20: 1}", "2024-11-20: 1}"), "date 2024-11-20 is outside the period 2024-09-01/2024-10-31"),
    (("{2024-09-01: 2, 2024-10-08: 6", "{2024-10-08: 2, 2024-09-05: 6"), "list dates in increasing order"),
    (("2024-10-08: 6", "2024-10-08: -6"), "is -6, negative"),
    (("2024-10-08: 6", "2024-10-08: 2.5"), "whole number"),
    (("class: vessel", "class: tank"), "unknown class 'tank'"),
    (("where: berth", "where: dock"), "unknown where 'dock' for class vessel; use one of berth, anchor, moving"),
    (("sensors: [s2, s1]", "sensors: [s2, s3]"), "unknown sensor 's3' in sensors"),
    (("revisit_days: {s2: 5, s1: 12}", "revisit_days: {s2: 0}"), "revisit_days.s2 = 0"),
    (("cloud_cover: 0.2", "cloud_cover: 1.5"), "cloud_cover 1.5 must be a fraction from 0 to 1"),
    (("area_m2: {2024-09-10", "count: {2024-09-10"), "takes area_m2, not count"),
    (("- {aoi: ru_ussuriysk, class: encampment", "- {aoi: ru_vladivostok, class: encampment"),
     "AOI 'ru_vladivostok' is not in the scenario's aois; add it there"),
    (("- {aoi: ru_ussuriysk, class: encampment",
      "- {aoi: ru_dunai, class: vessel, where: berth, count: {2024-09-01: 1}}\n"
      "  - {aoi: ru_ussuriysk, class: encampment"),
     "repeats ru_dunai vessel berth; merge the two entries"),
    (("name: test\n", ""), "key 'name' is missing"),
])
def test_validation_errors_say_what_to_change(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    assert change[0] in GOOD
    path = _write(tmp_path, GOOD.replace(change[0], change[1], 1))
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    text = str(err.value)
    assert message in text
    assert text.startswith(str(path)) and "\n" not in text
    assert err.value.exit_code == 2


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(_write(tmp_path, "name: [unclosed"))
    with pytest.raises(ScenarioError, match="a scenario is a YAML mapping"):
        load_scenario(_write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(InputFileError):
        load_scenario(tmp_path / "missing.yaml")


def test_shipped_scenarios_load() -> None:
    demo = load_scenario(REPO / "scenarios" / "demo.yaml")
    assert demo.aois == ("ru_dunai", "ru_vladivostok", "ru_ussuriysk")
    assert (demo.start, demo.end) == (date(2024, 9, 1), date(2024, 11, 30))
    assert demo.value_at("ru_dunai", "vessel", "berth", date(2024, 10, 10)) == 6
    assert demo.value_at("ru_vladivostok", "vessel", "anchor", date(2024, 10, 10)) > 0
    tiny = load_scenario(REPO / "scenarios" / "tiny.yaml")
    assert tiny.aois == ("ru_dunai",) and (tiny.end - tiny.start).days <= 21
    counts = {tiny.value_at("ru_dunai", "vessel", "anchor", d) for d in tiny.acquisition_days("ru_dunai", "s2")}
    assert len(counts) == 2  # the vessel count changes inside the period, between two S2 acquisitions


def test_acquisitions_follow_revisit_and_period(tmp_path: Path) -> None:
    s = load_scenario(_write(tmp_path, GOOD))
    for sensor, step in (("s2", 5), ("s1", 12)):
        days = s.acquisition_days("ru_dunai", sensor)
        assert days and all(s.start <= d <= s.end for d in days)
        assert all((b - a).days == step for a, b in pairwise(days))
        assert (days[0] - s.start).days == stable_seed("phase", "ru_dunai", sensor) % step  # fixed per-AOI offset
        assert (days[0] - s.start).days < step
    # A narrower or wider window keeps the same phase.
    inside = s.acquisition_days("ru_dunai", "s2", date(2024, 9, 10), date(2024, 9, 30))
    whole = s.acquisition_days("ru_dunai", "s2")
    assert set(inside) == {d for d in whole if date(2024, 9, 10) <= d <= date(2024, 9, 30)}
    later = s.acquisition_days("ru_dunai", "s2", date(2024, 12, 1), date(2024, 12, 31))
    assert later and all((d - s.acquisition_days("ru_dunai", "s2")[0]).days % 5 == 0 for d in later)


def test_overpass_times_are_realistic() -> None:
    cat = load_catalog()
    dunai, kursk = cat["ru_dunai"], cat["ru_kursk_sudzha"]
    day = date(2024, 10, 8)
    t2 = overpass_time(dunai, day, "s2")
    assert t2.tzinfo == UTC and t2.date() == day
    local = (t2 + timedelta(hours=dunai.centroid_lonlat[0] / 15)).time()
    assert abs(local.hour + local.minute / 60 - 10.5) < 0.2  # ~10:30 local solar time
    t1 = overpass_time(dunai, day, "s1")
    local1 = (t1 + timedelta(hours=dunai.centroid_lonlat[0] / 15)).time()
    assert min(abs(local1.hour + local1.minute / 60 - h) for h in (6.0, 18.0)) < 0.2  # dawn or dusk
    assert overpass_time(kursk, day, "s2").hour == 8  # 35 E: 10:30 local is about 08:10 UTC
    assert overpass_time(dunai, day, "s2") == t2  # deterministic
    s = Scenario.default(["ru_dunai"], date(2024, 9, 1), date(2024, 9, 30))
    assert s.acquisitions("ru_dunai", "s2") == s.acquisitions(dunai, "s2")
    assert all(isinstance(t, datetime) and t.tzinfo == UTC for t in s.acquisitions(dunai, "s1"))


def test_default_scenario() -> None:
    s = Scenario.default(["my_own_aoi"], date(2024, 9, 1), date(2024, 9, 2))
    assert s.activity == () and s.sensors == ("s2", "s1") and s.cloud_cover == pytest.approx(0.3)
    assert (s.revisit("s2"), s.revisit("s1")) == (5, 12)
    assert s.value_at("my_own_aoi", "vessel", "berth", date(2024, 9, 1)) == 0
    with pytest.raises(ScenarioError, match="before its start"):
        Scenario.default(["x"], date(2024, 9, 2), date(2024, 9, 1))


def test_stable_seed_is_stable() -> None:
    # Fixed value: must never change between Python processes or versions (it seeds every render).
    assert stable_seed("ru_dunai", "s2", 7) == stable_seed("ru_dunai", "s2", 7)
    assert stable_seed("a") != stable_seed("b")
    assert stable_seed("x") == int.from_bytes(__import__("hashlib").sha256(b"x").digest()[:8], "little") >> 1
