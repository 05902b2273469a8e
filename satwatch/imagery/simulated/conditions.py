"""Per-acquisition conditions: Sentinel-2 cloud fraction, the day's wind, the sun, the season's greenness.

Each is drawn from a generator seeded with (scenario seed, AOI, sensor or day, time) or computed from the time and
place, so the same acquisition always has the same conditions.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np

from satwatch.imagery.scenario import Scenario
from satwatch.imagery.scene import format_acquired
from satwatch.imagery.simulated.noise import _rng


def cloud_fraction(scenario: Scenario, aoi_id: str, sensor: str, acquired: datetime) -> float:
    """Cloud fraction 0..1 of a simulated acquisition (0 for ``s1`` and ``vhr``).

    Drawn from a Beta distribution with mean ``scenario.cloud_cover`` (concentration 1.6: many clear and many
    overcast scenes, as in the real archive); the rendered scene's cloud mask (SCL 8, 9, 10) covers this
    fraction of its grid.
    """
    if sensor != "s2":
        return 0.0
    cc = scenario.cloud_cover
    if cc <= 0.0 or cc >= 1.0:
        return float(min(max(cc, 0.0), 1.0))
    rng = _rng(scenario.seed, aoi_id, sensor, format_acquired(acquired), "cloud-fraction")
    return round(float(rng.beta(1.6 * cc, 1.6 * (1 - cc))), 4)


def _wind(seed: int, aoi_id: str, day: date) -> tuple[float, float]:
    """``(speed m/s, direction it blows from, degrees)`` of the day's wind over an AOI."""
    rng = _rng(seed, aoi_id, day.isoformat(), "wind")
    return float(np.clip(rng.weibull(2.0) * 7.5, 1.0, 18.0)), float(rng.uniform(0, 360))


def _sun(lon: float, lat: float, when: datetime) -> tuple[float, float]:
    """``(azimuth, zenith)`` of the sun in degrees (NOAA approximation, good to ~0.5 degree)."""
    t = when.astimezone(UTC)
    hour = t.hour + t.minute / 60 + t.second / 3600
    g = 2 * math.pi / 365 * (t.timetuple().tm_yday - 1 + (hour - 12) / 24)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(g) - 0.032077 * math.sin(g) - 0.014615 * math.cos(2 * g)
                       - 0.040849 * math.sin(2 * g))
    decl = (0.006918 - 0.399912 * math.cos(g) + 0.070257 * math.sin(g) - 0.006758 * math.cos(2 * g)
            + 0.000907 * math.sin(2 * g) - 0.002697 * math.cos(3 * g) + 0.00148 * math.sin(3 * g))
    ha = math.radians((hour * 60 + eqtime + 4 * lon) / 4 - 180)
    phi = math.radians(lat)
    cos_z = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(ha)
    zenith = math.degrees(math.acos(max(-1.0, min(1.0, cos_z))))
    azimuth = (math.degrees(math.atan2(math.sin(ha), math.cos(ha) * math.sin(phi) - math.tan(decl) * math.cos(phi)))
               + 180.0) % 360.0
    return azimuth, zenith


def _greenness(day: date, lat: float) -> float:
    """Vegetation vigour 0.25..1: full in summer, falling from mid-September to mid-November (hemisphere-aware)."""
    doy = day.timetuple().tm_yday
    if lat < 0:
        doy = (doy + 182) % 365
    if doy < 160:
        return float(np.clip(0.25 + 0.75 * (doy - 90) / 60, 0.25, 1.0))
    return float(np.clip(1.0 - 0.75 * (doy - 258) / 56, 0.25, 1.0))
