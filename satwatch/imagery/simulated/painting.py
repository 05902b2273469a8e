"""Painting planted objects onto a scene's pixels, supersampled in each object's own frame.

``_Canvas`` holds ``(bands, H, W)`` float32 values (reflectance, or linear sigma0 for ``s1``) on a ``_Grid`` and
paints hulls, superstructures, wakes, vehicles, tents and sheds with their coverage of each pixel, in the
materials of :mod:`~satwatch.imagery.simulated.materials`; ``_paint_objects`` paints everything present.
"""

from __future__ import annotations

import math

import numpy as np

from satwatch.imagery.simulated.arrays import F32, F64, I64, Bool
from satwatch.imagery.simulated.grid import _Grid
from satwatch.imagery.simulated.materials import (
    _CAMP_GROUND,
    _DECKS,
    _FOAM,
    _LUT,
    _S1_SHIP_DB_100M,
    _S1_SHIP_DB_PER_DECADE,
    _S1_SHIP_SPREAD_DB,
    _S1_SHIP_VH_BELOW_VV_DB,
    _SHED,
    _TENT_OLIVE,
    _TENT_WHITE,
    _VEHICLE,
    _WHITE,
    GRAVEL,
    VHR_REAL_VEHICLES,
    VHR_VEHICLE_BRIGHT,
    VHR_VEHICLE_DARK,
)
from satwatch.imagery.simulated.noise import _rng
from satwatch.imagery.simulated.objects import _Convoy, _Present, _Ship, _tent_cells
from satwatch.imagery.simulated.sites import _Camp, _Park


def _vehicle_tones(object_id: str, n: int) -> F64:
    """Brightness factors of ``n`` VHR vehicles of one park or convoy (stable per object id).

    A share ``VHR_REAL_VEHICLES["brighter_share"]`` is bright (:data:`VHR_VEHICLE_BRIGHT`), the rest dark
    (:data:`VHR_VEHICLE_DARK`), as the real aerial vehicles are against their ground.
    """
    rng = _rng(object_id, "vehicle-tones")
    bright = rng.random(n) < VHR_REAL_VEHICLES["brighter_share"]
    return np.where(bright, rng.uniform(*VHR_VEHICLE_BRIGHT, n), rng.uniform(*VHR_VEHICLE_DARK, n))


class _Canvas:
    """Pixels being rendered: ``values`` ``(bands, H, W)`` float32 (reflectance, or linear sigma0 for s1)."""

    def __init__(self, grid: _Grid, values: F32, sensor: str) -> None:
        self.grid = grid
        self.values = values
        self.sensor = sensor
        self.objects = np.zeros((grid.height, grid.width), dtype=np.float32)
        self.ss = 8 if grid.res >= 5 else 2
        self.hulls: dict[str, tuple[tuple[int, int, int, int], F32]] = {}
        """Hull coverage 0..1 of each painted vessel, by object id: ``(window, (h, w) coverage)``."""

    def _frame(self, x: float, y: float, heading: float, reach: float) -> tuple[tuple[int, int, int, int], F64,
                                                                                   F64] | None:
        """Window around ``(x, y)`` and supersample coordinates rotated into the object frame (u ahead, v right)."""
        win = self.grid.window(x - reach, y - reach, x + reach, y + reach)
        if win is None:
            return None
        r0, r1, c0, c1 = win
        offs = (np.arange(self.ss) + 0.5) / self.ss
        sx = self.grid.x0 + (np.arange(c0, c1)[:, None] + offs[None, :]).ravel() * self.grid.res - x
        sy = self.grid.y0 - (np.arange(r0, r1)[:, None] + offs[None, :]).ravel() * self.grid.res - y
        t = math.radians(heading)
        u = sx[None, :] * math.sin(t) + sy[:, None] * math.cos(t)
        v = sx[None, :] * math.cos(t) - sy[:, None] * math.sin(t)
        return win, u, v

    def _cover(self, mask: F64 | Bool, win: tuple[int, int, int, int]) -> F32:
        r0, r1, c0, c1 = win
        h, w = r1 - r0, c1 - c0
        cov: F32 = np.asarray(mask, dtype=np.float32).reshape(h, self.ss, w, self.ss).mean(axis=(1, 3))
        return cov

    def paint(self, win: tuple[int, int, int, int], cov: F32, value: F32, solid: bool = True) -> None:
        """Blend ``value`` over the window with coverage ``cov`` 0..1.

        ``value``: per band ``(bands,)``, or per band and pixel ``(bands, h, w)``.
        """
        r0, r1, c0, c1 = win
        block = self.values[:, r0:r1, c0:c1]
        block *= 1 - cov[None]
        block += (value if value.ndim == 3 else value[:, None, None]) * cov[None]
        if solid:
            np.maximum(self.objects[r0:r1, c0:c1], cov, out=self.objects[r0:r1, c0:c1])

    def multiply(self, win: tuple[int, int, int, int], factor: F32) -> None:
        """Multiply the window by ``factor`` ``(h, w)``."""
        r0, r1, c0, c1 = win
        self.values[:, r0:r1, c0:c1] *= factor[None]

    def material(self, spectrum: F32, s1_db: tuple[float, float]) -> F32:
        """Per-band value of a material for this canvas's sensor."""
        if self.sensor == "s1":
            return np.asarray([10 ** (s1_db[0] / 10), 10 ** (s1_db[1] / 10)], dtype=np.float32)
        if self.sensor == "vhr":
            return np.asarray(spectrum[[2, 1, 0, 3]], dtype=np.float32)
        return spectrum

    def ship(self, ship: _Ship) -> None:
        """Hull (pointed bow), superstructure aft, wake when under way; S1: bright scatterers and sidelobes."""
        v = ship.vessel
        if ship.speed_ms > 0:
            self.wake(ship)
        frame = self._frame(ship.x, ship.y, ship.heading, v.length / 2 + 2 * self.grid.res)
        if frame is None:
            return
        win, u, w = frame
        half_l, half_b, bow = v.length / 2, v.width / 2, 0.18 * v.length
        aw = np.abs(w)
        hull = (aw <= half_b) & (u >= -half_l) & (u <= half_l) & ((u <= half_l - bow) | (aw <= half_b * (half_l - u)
                                                                                          / bow))
        sup = (u >= -half_l + 0.04 * v.length) & (u <= -half_l + 0.22 * v.length) & (aw <= 0.4 * v.width)
        db = _S1_SHIP_DB_100M + _S1_SHIP_DB_PER_DECADE * math.log10(v.length / 100.0)
        offset = float(np.clip(_rng(v.object_id, "s1-brightness").normal(0.0, _S1_SHIP_SPREAD_DB), -8.0, 8.0))
        hull_vh, sup_vh = _S1_SHIP_VH_BELOW_VV_DB
        hull_cov = self._cover(hull, win)
        self.hulls[v.object_id] = (win, hull_cov)
        self.paint(win, hull_cov, self.material(_DECKS[v.deck], (db + offset, db - hull_vh)))
        self.paint(win, self._cover(sup, win), self.material(_WHITE, (db + 4.0 + offset, db + 4.0 - sup_vh)))

    def wake(self, ship: _Ship) -> None:
        """Turbulent wake and Kelvin arms behind a moving ship (optical: bright foam; SAR: dark trail)."""
        v = ship.vessel
        length = min(900.0, v.length * (3.0 + ship.speed_ms / 2.0))
        cx = ship.x - math.sin(math.radians(ship.heading)) * (v.length / 2 + length / 2)
        cy = ship.y - math.cos(math.radians(ship.heading)) * (v.length / 2 + length / 2)
        frame = self._frame(cx, cy, ship.heading, length / 2 + length * 0.36 + 10)
        if frame is None:
            return
        win, u, w = frame
        back = length / 2 - u  # metres behind the stern
        fade = np.clip(1 - back / length, 0, 1) * (back >= 0)
        aw = np.abs(w)
        turbulent = (aw <= 0.35 * v.width + back * 0.03) * fade**2
        kelvin = (np.abs(aw - back * 0.354) <= 1.5 + back * 0.01) * fade * 0.45
        if self.sensor == "s1":
            self.multiply(win, 1 - 0.7 * self._cover(turbulent, win))
        else:
            cov = self._cover(np.maximum(turbulent * 0.6, kelvin), win)
            self.paint(win, cov, self.material(_FOAM, (0.0, 0.0)), solid=False)

    def park(self, park: _Park, n: int) -> None:
        """Vehicles 7 x 2.5 m (sizes vary per vehicle) side by side in rows; rows fill first to last."""
        along, across = park.lot_size
        frame = self._frame(park.x, park.y, park.heading, 0.5 * math.hypot(along, across) + 2 * self.grid.res)
        if frame is None:
            return
        win, u, v = frame
        row = np.rint(u / park.pitch_row + (park.rows - 1) / 2).astype(np.int64)
        col = np.rint(v / park.pitch_side + (park.per_row - 1) / 2).astype(np.int64)
        du = u - (row - (park.rows - 1) / 2) * park.pitch_row
        dv = v - (col - (park.per_row - 1) / 2) * park.pitch_side
        k = row * park.per_row + col
        ok = (row >= 0) & (row < park.rows) & (col >= 0) & (col < park.per_row) & (k < n)
        sizes = _rng(park.object_id, "vehicle-sizes").uniform(0.85, 1.25, (park.capacity, 2))
        kk = np.clip(k, 0, park.capacity - 1)
        body = ok & (np.abs(du) <= 3.5 * sizes[kk, 0]) & (np.abs(dv) <= 1.25 * sizes[kk, 1])
        self._paint_vehicles(win, body, park.object_id, park.capacity, kk)

    def convoy(self, convoy: _Convoy) -> None:
        """Vehicles one by one along the road."""
        for i, (x, y, heading) in enumerate(convoy.points):
            frame = self._frame(x, y, heading, 4.0 + 2 * self.grid.res)
            if frame is None:
                continue
            win, u, v = frame
            body = (np.abs(u) <= 3.8) & (np.abs(v) <= 1.3)
            self._paint_vehicles(win, body, convoy.object_id, len(convoy.points), i)

    def _paint_vehicles(self, win: tuple[int, int, int, int], body: Bool, object_id: str, n: int,
                        which: I64 | int) -> None:
        """Paint vehicle bodies (supersample mask ``body``) of park or convoy ``object_id`` (``n`` vehicles).

        In VHR scenes each in its own tone (:func:`_vehicle_tones`, times the gravel-lot spectrum); ``which`` is the
        vehicle each supersample belongs to (an index array like ``body``, or one index). Other sensors paint one
        olive material (at 10 m a vehicle is a fraction of a pixel), and draw no tones.
        """
        cov = self._cover(body, win)
        if self.sensor != "vhr":
            self.paint(win, cov, self.material(_VEHICLE, (4.0, -4.0)))
            return
        tone = np.broadcast_to(_vehicle_tones(object_id, n)[which], body.shape)
        toned = self._cover(np.where(body, tone, 0.0), win)
        factor = np.divide(toned, cov, out=np.ones_like(cov), where=cov > 0)
        self.paint(win, cov, self.material(_LUT[GRAVEL], (0.0, 0.0))[:, None, None] * factor[None])

    def camp(self, camp: _Camp, area: float) -> None:
        """Compacted ground of ``area`` m2, then olive and white tents and sheds in rows."""
        long_side, short_side = camp.sides(area)
        frame = self._frame(camp.x, camp.y, camp.heading, 0.5 * math.hypot(long_side, short_side) + 2 * self.grid.res)
        if frame is None:
            return
        win, u, v = frame
        ground = (np.abs(u) <= long_side / 2) & (np.abs(v) <= short_side / 2)
        self.paint(win, self._cover(ground, win), self.material(_CAMP_GROUND, (-11.0, -18.0)))
        cells = _tent_cells(camp, area)
        if not cells:
            return
        kinds = np.full((201, 201), -1, dtype=np.int64)
        for i, j, k in cells:
            kinds[i + 100, j + 100] = k
        ci = np.rint(u / camp.pitch_long).astype(np.int64)
        cj = np.rint(v / camp.pitch_short).astype(np.int64)
        inside = (np.abs(ci) <= 100) & (np.abs(cj) <= 100)
        kind = np.where(inside, kinds[np.clip(ci + 100, 0, 200), np.clip(cj + 100, 0, 200)], np.int64(-1))
        du = np.abs(u - ci * camp.pitch_long)
        dv = np.abs(v - cj * camp.pitch_short)
        tent = (du <= 5.0) & (dv <= 2.4)
        shed = (du <= 6.5) & (dv <= 3.6)
        self.paint(win, self._cover(tent & (kind == 0), win), self.material(_TENT_OLIVE, (-9.0, -17.0)))
        self.paint(win, self._cover(tent & (kind == 1), win), self.material(_TENT_WHITE, (-9.0, -17.0)))
        self.paint(win, self._cover(shed & (kind == 2), win), self.material(_SHED, (5.0, -6.0)))


def _paint_objects(canvas: _Canvas, present: _Present) -> None:
    if present.camp is not None:
        canvas.camp(*present.camp)
    for park, n in present.parks:
        canvas.park(park, n)
    for convoy in present.convoys:
        canvas.convoy(convoy)
    for ship in present.ships:
        canvas.ship(ship)
