"""Planning factors: the documented ranges that translate between claimed numbers and what imagery can observe.

People are never visible in the imagery satwatch uses, so a claimed number of soldiers can only be compared with
its observable consequences: ships of a given size, camp area, vehicle parks. Each factor is a range with its
source (``docs/claims.md`` shows the table); every translation gives a range, never a point::

    people_for_camp_area(18_000)       # (600.0, 1800.0): people 18,000 m2 of new camp could house
    FACTORS["troops_per_landing_ship"].low, FACTORS["troops_per_landing_ship"].high   # (225.0, 400.0)

These are planning factors, not measurements: they say what a claim would look like, and what an observation
could at most or at least mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "FACTORS",
    "PlanningFactor",
    "expected_observables",
    "interpret_effect",
    "people_for_camp_area",
]


@dataclass(frozen=True)
class PlanningFactor:
    """One translation factor with its plausible range and where the range comes from."""

    name: str
    """Key used in code and docs."""
    description: str
    """What the factor relates, in words."""
    unit: str
    """Unit of ``low`` and ``high``."""
    low: float
    """Low end of the range."""
    high: float
    """High end of the range."""
    source: str
    """Where the range comes from (published figures, or how it was derived when it is an assumption)."""


FACTORS: dict[str, PlanningFactor] = {f.name: f for f in (
    PlanningFactor(
        "troops_per_landing_ship", "soldiers one large landing ship carries", "people per ship", 225.0, 400.0,
        "Ropucha class (Project 775): about 225-340 troops with vehicles (public naval references); CNS "
        "(Middlebury) estimate of up to about 400 per ship, CNN, 27 Feb 2025"),
    PlanningFactor(
        "landing_ship_length_m", "hull length of the Pacific Fleet's large landing ships", "m", 110.0, 135.0,
        "Ropucha class 112.5 m, Alligator (Tapir) class about 113 m, Ivan Gren class about 135 m (public naval "
        "references); hence min_length_m 90-100 with the detector's length error"),
    PlanningFactor(
        "containers_per_ship_visit", "containers one cargo-ship visit moves between Rajin and Dunai",
        "containers per visit", 100.0, 300.0,
        "White House imagery of 13 Oct 2023: about 300 containers staged at Najin for one shipment (7-8 Sep "
        "2023); RUSI (Oct 2023): 'hundreds of containers' per trip. Low end is an assumption for smaller loads"),
    PlanningFactor(
        "people_per_tent", "soldiers sleeping in one field tent", "people per tent", 10.0, 20.0,
        "Derived: common field tents of 20-50 m2 at about 2-2.5 m2 per cot (assumption, no single source)"),
    PlanningFactor(
        "camp_m2_per_person", "gross camp area per person (tents, paths, spacing, kitchens)", "m2 per person",
        10.0, 30.0,
        "UNHCR camp planning standard: 45 m2 per person recommended, 30 m2 minimum, for civilian camps with all "
        "services (UNHCR Emergency Handbook); military field camps are denser: 10-30 m2 is an assumption"),
    PlanningFactor(
        "vehicle_park_m2_per_vehicle", "parking area per vehicle in a vehicle park", "m2 per vehicle", 30.0, 60.0,
        "Derived: a military truck or APC covers 20-25 m2 (2.5 x 8-10 m); parks in rows leave 1-2 times that "
        "again for spacing and lanes (assumption)"),
    PlanningFactor(
        "vehicles_per_battalion", "vehicles of one battalion", "vehicles per battalion", 40.0, 100.0,
        "Truck-borne light infantry about 40-60 (assumption); a Russian battalion tactical group about 75-100 "
        "with armour (RUSI, Preliminary Lessons in Conventional Warfighting from Russia's Invasion of Ukraine, "
        "2022)"),
    PlanningFactor(
        "people_per_battalion", "soldiers in one battalion", "people per battalion", 400.0, 800.0,
        "Battalion strengths of 400-800 in public descriptions of Russian and North Korean units (assumption "
        "spanning light and mechanised battalions)"),
)}
"""The planning factors, by name (table in ``docs/claims.md``)."""


def _span(value_low: float, value_high: float, f_low: float, f_high: float, divide: bool) -> tuple[float, float]:
    if divide:
        return value_low / f_high, value_high / f_low
    return value_low * f_low, value_high * f_high


def people_for_camp_area(area_m2: float) -> tuple[float, float]:
    """People ``area_m2`` of camp could house at :data:`FACTORS` ``camp_m2_per_person`` (low, high).

    Example:
        >>> people_for_camp_area(18_000)
        (600.0, 1800.0)
    """
    f = FACTORS["camp_m2_per_person"]
    return area_m2 / f.high, area_m2 / f.low


def _fmt(low: float, high: float) -> str:
    def one(v: float) -> str:
        if v >= 100:
            return f"{v:,.0f}"
        return f"{v:.1f}".rstrip("0").rstrip(".")

    return one(low) if math.isclose(low, high) else f"{one(low)}-{one(high)}"


def expected_observables(claimed: dict[str, tuple[float, float]]) -> list[str]:
    """Describe what a claim's stated numbers would look like in imagery, one sentence each (:data:`FACTORS`).

    Example:
        >>> expected_observables({"people": (1500, 1500)})[0]
        '1,500 people would need 3.8-6.7 large landing ships at 225-400 per ship'
    """
    out: list[str] = []
    if "people" in claimed:
        lo, hi = claimed["people"]
        ship = FACTORS["troops_per_landing_ship"]
        camp = FACTORS["camp_m2_per_person"]
        tent = FACTORS["people_per_tent"]
        bn = FACTORS["people_per_battalion"]
        veh = FACTORS["vehicles_per_battalion"]
        park = FACTORS["vehicle_park_m2_per_vehicle"]
        people = _fmt(lo, hi)
        out.append(f"{people} people would need {_fmt(*_span(lo, hi, ship.low, ship.high, True))} large landing "
                   f"ships at {_fmt(ship.low, ship.high)} per ship")
        out.append(f"{people} people in the field need about {_fmt(*_span(lo, hi, camp.low, camp.high, False))} m2 "
                   f"of camp ({_fmt(camp.low, camp.high)} m2 per person) or "
                   f"{_fmt(*_span(lo, hi, tent.low, tent.high, True))} tents")
        battalions = _span(lo, hi, bn.low, bn.high, True)
        vehicles = _span(battalions[0], battalions[1], veh.low, veh.high, False)
        out.append(f"as {_fmt(*battalions)} battalions they would bring {_fmt(*vehicles)} vehicles if motorised, "
                   f"parked on {_fmt(*_span(vehicles[0], vehicles[1], park.low, park.high, False))} m2 "
                   "(light infantry moved by sea may bring far fewer)")
    if "landing_ships" in claimed:
        lo, hi = claimed["landing_ships"]
        ship = FACTORS["troops_per_landing_ship"]
        length = FACTORS["landing_ship_length_m"]
        out.append(f"{_fmt(lo, hi)} landing ships ({_fmt(length.low, length.high)} m long, visible at 10 m) carry "
                   f"at most {_fmt(*_span(lo, hi, ship.low, ship.high, False))} people")
    if "containers" in claimed:
        lo, hi = claimed["containers"]
        c = FACTORS["containers_per_ship_visit"]
        out.append(f"{_fmt(lo, hi)} containers mean about {_fmt(*_span(lo, hi, c.low, c.high, True))} cargo-ship "
                   f"visits at {_fmt(c.low, c.high)} containers per visit")
    if "vehicles" in claimed:
        lo, hi = claimed["vehicles"]
        park = FACTORS["vehicle_park_m2_per_vehicle"]
        out.append(f"{_fmt(lo, hi)} vehicles parked need about {_fmt(*_span(lo, hi, park.low, park.high, False))} "
                   "m2 of vehicle park; single vehicles are not visible at 10 m")
    return out


def interpret_effect(measure: str, effect: float) -> str:
    """Say what an observed effect (test minus baseline, in the measure's unit) could mean, or return ``""``.

    Example:
        >>> interpret_effect("encampment_area_m2", 18_000)
        'the observed 18,000 m2 of new camp could house 600-1,800 people at 10-30 m2 per person'
    """
    if not math.isfinite(effect) or effect <= 0:
        return ""
    if measure == "encampment_area_m2":
        camp = FACTORS["camp_m2_per_person"]
        return (f"the observed {effect:,.0f} m2 of new camp could house {_fmt(*people_for_camp_area(effect))} "
                f"people at {_fmt(camp.low, camp.high)} m2 per person")
    if measure == "vehicle_park_area_m2":
        park = FACTORS["vehicle_park_m2_per_vehicle"]
        return (f"the observed {effect:,.0f} m2 of new vehicle park could hold "
                f"{_fmt(effect / park.high, effect / park.low)} vehicles at {_fmt(park.low, park.high)} m2 each")
    if measure == "large_vessel_presence":
        ship = FACTORS["troops_per_landing_ship"]
        return (f"{effect:.1f} more large ships per acquisition; if they were landing ships they could carry "
                f"{_fmt(effect * ship.low, effect * ship.high)} people at a time (cargo and naval ships carry none)")
    return ""
