"""Deterministic noise: pure functions of map position and a salt, and generators seeded by SHA-256.

``_hash01`` maps integer lattice coordinates to uniform [0, 1); ``_value_noise`` and ``_fbm`` give smooth fields
``(len(ys), len(xs))`` float32 on separable grids of map metres, a fixed function of position (any grid samples the
same field); ``_rng`` is a numpy Generator seeded from :func:`~satwatch.imagery.scenario.stable_seed` of its parts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from satwatch.imagery.scenario import stable_seed
from satwatch.imagery.simulated.arrays import F32, F64, I64

_H1 = np.uint64(0x9E3779B97F4A7C15)
_H2 = np.uint64(0xC2B2AE3D27D4EB4F)
_H3 = np.uint64(0xFF51AFD7ED558CCD)
_H4 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_S11 = np.uint64(11)


def _hash01(iy: I64, ix: I64, salt: int) -> F64:
    """Uniform [0, 1) values from integer lattice coordinates (broadcast) and a salt: a pure function."""
    h = np.asarray(iy, dtype=np.int64).view(np.uint64) * _H1
    h = h ^ (np.asarray(ix, dtype=np.int64).view(np.uint64) * _H2)
    h = h ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
    h = h ^ (h >> _S33)
    h = h * _H3
    h = h ^ (h >> _S33)
    h = h * _H4
    h = h ^ (h >> _S33)
    return (h >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)


def _value_noise(xs: F64, ys: F64, cell: float, salt: int) -> F32:
    """Smooth value noise in [0, 1] on the separable grid ``ys x xs`` (map metres), lattice cell ``cell`` m.

    Returns ``(len(ys), len(xs))`` float32. Lattice values hash the integer cell coordinates, so the field is
    a fixed function of map position: any grid samples the same noise.
    """
    fx = xs / cell
    ix = np.floor(fx)
    tx = (fx - ix).astype(np.float32)
    tx = tx * tx * (3 - 2 * tx)
    fy = ys / cell
    iy = np.floor(fy)
    ty = (fy - iy).astype(np.float32)
    ty = ty * ty * (3 - 2 * ty)
    ix0, iy0 = int(ix.min()), int(iy.min())
    lx = np.arange(ix0, int(ix.max()) + 2, dtype=np.int64)
    ly = np.arange(iy0, int(iy.max()) + 2, dtype=np.int64)
    v = _hash01(ly[:, None], lx[None, :], salt).astype(np.float32)
    cx = (ix - ix0).astype(np.intp)
    cy = (iy - iy0).astype(np.intp)
    a = v[:, cx] * (1 - tx) + v[:, cx + 1] * tx
    return np.asarray(a[cy] * (1 - ty)[:, None] + a[cy + 1] * ty[:, None], dtype=np.float32)


def _fbm(xs: F64, ys: F64, cells: Sequence[float], salt: int, gain: float = 0.55) -> F32:
    """Fractal sum of value noise octaves (coarse to fine), scaled to about [-1, 1]; shape ``(len(ys), len(xs))``."""
    total = np.zeros((len(ys), len(xs)), dtype=np.float32)
    amp, norm = 1.0, 0.0
    for i, cell in enumerate(cells):
        total += np.float32(amp) * (_value_noise(xs, ys, cell, salt + 7919 * i) * 2 - 1)
        norm += amp
        amp *= gain
    total *= np.float32(1.6 / norm)
    return total


def _rng(*parts: object) -> np.random.Generator:
    """Return a numpy Generator seeded from SHA-256 of the parts (stable across processes)."""
    return np.random.default_rng(stable_seed(*parts))
