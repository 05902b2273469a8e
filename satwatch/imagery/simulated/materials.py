"""What the simulated world is made of: land-cover classes and each material's signal in every sensor.

Land-cover classes ``WATER`` .. ``GRAVEL`` (0..7, the values of the class maps of
:mod:`~satwatch.imagery.simulated.landcover`); per class, surface reflectance 0..1 in the Sentinel-2 bands
``B02 B03 B04 B08 B11 B12`` (the VHR ``R G B N`` take B04 B03 B02 B08) and Sentinel-1 sigma0 in dB (VV, VH); the
spectra of planted objects (decks, vehicles, tents, sheds), of wake foam, cloud and cirrus; and the Sentinel-1 ship
brightness with the real OpenSARShip figures it is calibrated on (:data:`S1_REAL_SHIP_PEAKS`).
"""

from __future__ import annotations

import numpy as np

# Land-cover classes of the static world.
WATER, FOREST, GRASS, SOIL, URBAN, CONCRETE, ASPHALT, GRAVEL = range(8)
# Surface reflectance per class, bands B02 B03 B04 B08 B11 B12 (the VHR R G B N take B04 B03 B02 B08).
_LUT = np.array([
    [0.040, 0.046, 0.022, 0.018, 0.010, 0.007],  # water (coastal, slightly turbid)
    [0.025, 0.045, 0.025, 0.300, 0.150, 0.070],  # forest
    [0.040, 0.070, 0.050, 0.280, 0.220, 0.120],  # grass, crops
    [0.080, 0.105, 0.135, 0.210, 0.300, 0.240],  # bare soil
    [0.095, 0.105, 0.115, 0.170, 0.200, 0.180],  # urban roofs
    [0.110, 0.117, 0.123, 0.141, 0.165, 0.143],  # quays and piers (concrete, stacks, cranes)
    [0.065, 0.075, 0.085, 0.110, 0.130, 0.120],  # asphalt
    [0.130, 0.140, 0.150, 0.200, 0.260, 0.230],  # gravel lots
], dtype=np.float32)
_TEXTURE = np.array([0.04, 0.18, 0.15, 0.12, 0.25, 0.06, 0.08, 0.08], dtype=np.float32)
# Sentinel-2 quays and water, calibrated on the real sen2ships training ports (``scripts/s2_port_stats.py``;
# :data:`S2_REAL_PORT`). Simulator version 5 had uniform concrete quays (ring B08 0.215, IQR 0.208-0.221),
# hulls 0.062 *darker* than their quay, water local standard deviation 0.0037 and B04 0.030: a berthed ship was a
# dark notch in a bright, smooth quay, which no real port shows. Version 6 (quays darker, clutter in 12 m and
# 96 m cells, less noise) gives on 9 scenes of scenarios/train.yaml (120 hulls, 65 berthed): ring B08 0.114
# [IQR 0.104, 0.131], hull - quay 0.021, 31% of berthed hulls within 0.03 of their quay, water local sd 0.0011.
S2_REAL_PORT: dict[str, float] = {"quay_b08": 0.125, "hull_minus_quay_b08": 0.021, "water_local_sd_b08": 0.0009,
                                  "water_b04": 0.022}
"""Real Sentinel-2 ports the simulator is calibrated on, medians over 6 sen2ships training ports with B04 and
B08 (161 hull masks; the held-out ports never read): B08 reflectance of the land in the 2-pixel ring of a
berthed hull (IQR 0.086-0.148), a berthed hull's median B08 less that (IQR 0.000-0.056; 44% within 0.03), the
3 x 3 local standard deviation of B08 and the B04 reflectance of open water."""
_QUAY_CELLS_M = ((12.0, (0.45, 1.55)), (96.0, (0.65, 1.35)))
"""Quay clutter: per cell size (metres), the range of a uniform brightness factor drawn per cell; the factors
multiply. 12 m cells are container stacks, sheds and cranes (the real coast's local contrast), 96 m cells are
berths of different surface (the spread of real quays from berth to berth)."""
S2_NOISE = 0.0012
"""Standard deviation of the additive Sentinel-2 noise, reflectance (real open water: local sd 0.0009)."""
# Sentinel-1 sigma0 per class, dB (VV, VH); water is replaced by the wind model.
_S1_DB = np.array([
    [-20.0, -30.0], [-7.5, -13.5], [-10.0, -17.0], [-12.0, -19.0],
    [-4.0, -11.0], [-11.0, -19.0], [-17.0, -25.0], [-10.0, -18.0],
], dtype=np.float32)
_S1_TEXTURE_DB = np.array([0.0, 1.5, 2.0, 1.5, 5.0, 1.0, 1.0, 1.5], dtype=np.float32)
# Sentinel-1 ships, calibrated on the real OpenSARShip training package (2016-01-31, 70 ships with lengths;
# ``scripts/s1_clutter_stats.py``): brightest pixel within 4 px of the centre VV 6.0 + 17.3 log10(L/100) dB
# (residual spread 4.7 dB), VH -3.9 + 13.3 log10(L/100) (2.9 dB). Up to simulator version 4 the same fit gave
# VV 15.5 + 18.1 log10(L/100) (3.2 dB) and VH 9.0 + 19.2 log10(L/100): ships 9.5 dB too bright in VV and
# 12.9 dB in VH, and too alike; version 5 gives VV 6.0 + 19.3 log10(L/100) (5.0 dB) and VH -4.2 + 16.9
# log10(L/100) (2.9 dB) on 76 ships of scenarios/train.yaml. Values are the hull's sigma0 before the PSF.
S1_REAL_SHIP_PEAKS: dict[str, tuple[float, float, float]] = {"VV": (6.0, 17.3, 4.7), "VH": (-3.9, 13.3, 2.9)}
"""Real Sentinel-1 ships the simulator is calibrated on: per band ``(a, b, spread)`` of the least-squares fit
``peak_dB = a + b log10(L / 100 m)`` of the brightest pixel within 4 px of the ship's centre, and the residual
standard deviation, dB; measured by ``scripts/s1_clutter_stats.py`` on the OpenSARShip training package."""
_S1_SHIP_DB_100M = 4.3
"""VV sigma0 of a 100 m hull, dB (the superstructure 4 dB more)."""
_S1_SHIP_DB_PER_DECADE = 12.0
"""Added to a hull's sigma0 per decade of length, dB."""
_S1_SHIP_VH_BELOW_VV_DB = (10.4, 9.4)
"""VH below VV, dB, for the hull and the superstructure."""
_S1_SHIP_SPREAD_DB = 3.4
"""Standard deviation of a vessel's own VV brightness offset, dB (drawn once per vessel; the real spread 4.7 dB
less the 3.2 dB the simulator already had from size, PSF and speckle)."""
# Object materials, bands B02 B03 B04 B08 B11 B12.
_DECKS = np.array([
    [0.140, 0.150, 0.160, 0.190, 0.180, 0.150],  # naval grey
    [0.080, 0.080, 0.150, 0.210, 0.220, 0.180],  # rust red
    [0.060, 0.060, 0.065, 0.100, 0.110, 0.090],  # dark
    [0.070, 0.110, 0.080, 0.190, 0.170, 0.120],  # green deck
    [0.160, 0.150, 0.170, 0.230, 0.210, 0.180],  # containers
    [0.220, 0.210, 0.190, 0.260, 0.250, 0.210],  # light bulk cargo
], dtype=np.float32)
_WHITE = np.array([0.420, 0.440, 0.450, 0.480, 0.400, 0.330], dtype=np.float32)
_VEHICLE = np.array([0.050, 0.070, 0.060, 0.190, 0.150, 0.100], dtype=np.float32)
VHR_REAL_VEHICLES: dict[str, float] = {"brighter_share": 0.375, "core_ratio_median": 0.83}
"""Real vehicles at 1 m against their ground (``scripts/vhr_vehicle_stats.py`` on the aerial training sequences,
2,334 vehicles, sRGB-decoded to linear values): the share brighter than the ground around them, and the median
ratio of the 3 x 3 m core's brightness to the ground's (10-90%: 0.53-2.01). Simulator version 6 painted every
vehicle in one olive material: all darker than their ground, core ratio 0.58 (0.52-0.64)."""
VHR_VEHICLE_DARK = (0.28, 0.97)
"""Brightness factor range of dark vehicles in VHR scenes, times the gravel-lot spectrum (drawn per vehicle)."""
VHR_VEHICLE_BRIGHT = (1.1, 2.9)
"""... of bright (white, silver) vehicles; a share ``VHR_REAL_VEHICLES["brighter_share"]`` of them."""
_TENT_OLIVE = np.array([0.060, 0.080, 0.070, 0.220, 0.180, 0.120], dtype=np.float32)
_TENT_WHITE = np.array([0.480, 0.490, 0.500, 0.540, 0.450, 0.380], dtype=np.float32)
_SHED = np.array([0.300, 0.310, 0.320, 0.340, 0.330, 0.300], dtype=np.float32)
_CAMP_GROUND = np.array([0.110, 0.130, 0.150, 0.210, 0.290, 0.250], dtype=np.float32)
_FOAM = np.array([0.200, 0.210, 0.210, 0.140, 0.060, 0.040], dtype=np.float32)
_CLOUD = np.array([0.560, 0.570, 0.580, 0.600, 0.430, 0.300], dtype=np.float32)
_CIRRUS = np.array([0.300, 0.300, 0.300, 0.300, 0.220, 0.140], dtype=np.float32)
