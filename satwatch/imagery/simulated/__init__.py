"""The simulated imagery source: deterministic Sentinel-2 L2A, Sentinel-1 GRD and VHR scenes with ground truth.

No credentials, no network. Every scene is rendered from the AOI's real geometry and a
:class:`~satwatch.imagery.scenario.Scenario` (planted activity); it is labelled simulated everywhere
(``SATWATCH_SIMULATED=true``, ``simulated`` on every truth feature): a demonstration, never evidence.

The world (static per AOI and scenario seed, identical on every date and sensor)
    All static fields live in map coordinates of the AOI's UTM zone, on lattices anchored at multiples of their
    step, and are sampled bilinearly at each grid's pixel centres, so a 10 m and a 0.5 m grid show the same
    coast, roads and sites. Land and water come from the real 1 km GLOBE land mask shipped in the
    ``global-land-mask`` package (read offline, only the rows the AOI needs), refined with deterministic fractal
    value noise down to 40 m and turned into a signed distance to the coast (metres, positive on land). Inland
    AOIs may get a meandering river (always, when the scenario plants vessels there). Land cover: forest, grass,
    bare soil and urban blocks (30 m roofs and streets) from further noise fields, urban favoured near the
    coast of port AOIs; roads are meandering lines cut at the water; ports get quays and piers cluttered in
    12 m and 96 m cells (stacks, sheds, berths), as bright as a hull as real ports are (version 6).
    Berths lie along pier sides (ships pointing away from the shore towards the pier head), anchorages in
    open water, shipping lanes for moving vessels, vehicle parks (gravel lots, vehicles in rows) and
    encampments (compacted ground, rows of tents, a few sheds) on open land. Object ``k`` of an activity keeps
    its place and size on every date where the planted count exceeds ``k``.

Per acquisition
    Random draws (cloud fraction, cloud type and height, wind, noise, speckle, moving objects' positions, which
    hulls Sentinel-2 SCL takes for cloud) come from generators seeded with SHA-256 of (scenario seed, AOI,
    sensor, acquisition time): the same inputs always give bit-identical arrays.

Sensors (all on the AOI's UTM grid, ``aoi.utm_epsg``)
    - ``s2``: 10 m, bands ``B02 B03 B04 B08 B11 B12 SCL``; surface reflectance 0..1 (float32) with per-material
      spectra, autumn senescence of vegetation, a Gaussian PSF (sigma 0.55 px), B11/B12 at 20 m (2 x 2 block
      means), additive noise (quays, water and noise calibrated on real sen2ships training ports,
      ``scripts/s2_port_stats.py``); clouds from a fractal field thresholded so their fraction is the acquisition's
      ``cloud_fraction`` (drawn from a Beta distribution around ``scenario.cloud_cover``), thin cirrus on some
      dates, cloud shadows displaced by the sun's position and the cloud height. SCL: 3 shadow, 4 vegetation,
      5 not vegetated (also objects), 6 water, 8/9 cloud medium/high, 10 cirrus (0 is never used: every pixel
      of the bounding box is valid). Bright hulls: as ESA's scene classification does for white hulls, the
      hull pixels of about one in eight vessels of at least 60 m on water in clear sky are SCL 9 (cloud)
      (:data:`BRIGHT_HULL_RATE`); the reflectance is unchanged and their truth stays ``visible`` (see
      :func:`satwatch.imagery.bands.scl_not_clear`).
    - ``s1``: 10 m, ``VV VH`` sigma0 in dB: sea clutter from the day's wind speed (calmer near the coast),
      land and urban brighter, ships as bright scatterers with cross-shaped sidelobes, dark wakes, a PSF
      (sigma 0.8 px), thermal noise floor and multiplicative speckle of 4 looks correlated over about two
      pixels (:func:`~satwatch.imagery.speckle.correlated_speckle`) in linear power. Speckle and ship brightness
      are calibrated on real OpenSARShip chips (``scripts/s1_clutter_stats.py``; version 5).
    - ``vhr``: 0.5 m ``R G B N`` reflectance, never the whole AOI: a window of at most 2048 x 2048 px
      (1024 m) centred on the planted land activity (encampment, else the first vehicle park), else the first
      berth, else the AOI centre; individual vehicles, tents and ship superstructures are visible. No clouds.

Ground truth (:attr:`Rendered.truth`, EPSG:4326): one row per planted object present in the scene: vessels as
Points at the hull centre, vehicle parks, convoys and encampments as Polygons (see :data:`TRUTH_COLUMNS`); in
VHR scenes (0.5 m) every vehicle is its own Point (``count`` 1) instead of its park's or convoy's polygon.
Headings are degrees clockwise from grid north of the UTM zone (the bow's direction, 0..360).

Limits: no terrain or relief shading, no layover or azimuth shift of moving ships in SAR, a single incidence
angle per scene, no atmosphere beyond clouds, the 1 km land mask misses narrow bays (Vladivostok's Golden Horn
is land here), and lakes are not in the mask.

Modules (each imports only those listed above it)
    - :mod:`~satwatch.imagery.simulated.arrays`: numpy array type aliases.
    - :mod:`~satwatch.imagery.simulated.materials`: land-cover classes, per-material reflectance and sigma0, the
      Sentinel-1 ship calibration.
    - :mod:`~satwatch.imagery.simulated.noise`: deterministic value noise and seeded generators.
    - :mod:`~satwatch.imagery.simulated.grid`: pixel grids and map lattices in UTM metres, :func:`scene_grid`.
    - :mod:`~satwatch.imagery.simulated.land_mask`: the GLOBE land mask read from ``global-land-mask``.
    - :mod:`~satwatch.imagery.simulated.sites`: where planted vessels, piers, parks and the encampment sit.
    - :mod:`~satwatch.imagery.simulated.world`: the static world of one AOI (coast, land cover fields, roads).
    - :mod:`~satwatch.imagery.simulated.conditions`: per-acquisition cloud fraction, wind, sun and season.
    - :mod:`~satwatch.imagery.simulated.objects`: the planted objects present at one acquisition.
    - :mod:`~satwatch.imagery.simulated.painting`: painting objects onto pixels.
    - :mod:`~satwatch.imagery.simulated.landcover`: the class map and optical reflectance on a grid.
    - :mod:`~satwatch.imagery.simulated.sensors`: the ``s2``, ``s1`` and ``vhr`` renderers, bright hulls.
    - :mod:`~satwatch.imagery.simulated.truth`: the ground-truth GeoDataFrame.
    - :mod:`~satwatch.imagery.simulated.rendering`: :func:`render` and :class:`Rendered`.
    - :mod:`~satwatch.imagery.simulated.source`: :class:`SimulatedSource` (search, fetch into the archive).
"""

from satwatch.imagery.scenario import overpass_time
from satwatch.imagery.simulated.conditions import cloud_fraction
from satwatch.imagery.simulated.grid import GSD_M, VHR_MAX_PX, scene_grid
from satwatch.imagery.simulated.rendering import Rendered, render
from satwatch.imagery.simulated.sensors import BRIGHT_HULL_MIN_LENGTH_M, BRIGHT_HULL_RATE, BRIGHT_HULL_SCL
from satwatch.imagery.simulated.source import SimulatedSource
from satwatch.imagery.simulated.truth import TRUTH_COLUMNS

__all__ = [
    "BRIGHT_HULL_MIN_LENGTH_M",
    "BRIGHT_HULL_RATE",
    "BRIGHT_HULL_SCL",
    "GSD_M",
    "TRUTH_COLUMNS",
    "VHR_MAX_PX",
    "Rendered",
    "SimulatedSource",
    "cloud_fraction",
    "overpass_time",
    "render",
    "scene_grid",
]
