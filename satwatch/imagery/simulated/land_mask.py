"""The real land mask: GLOBE at 1/120 degree (about 1 km) from the ``global-land-mask`` package.

The ocean mask (21600 x 43200 rows and columns, True = ocean) is read offline from the package's npz, only the rows
an AOI needs, and sampled bilinearly at lon/lat degrees (EPSG:4326) as an ocean fraction 0..1.
"""

from __future__ import annotations

import functools
import importlib.util
import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from satwatch.errors import ScenarioError
from satwatch.imagery.simulated.arrays import F64

_MASK_COLS = 43200
_MASK_ROWS = 21600


def _mask_file() -> Path:
    spec = importlib.util.find_spec("global_land_mask")
    if spec is None or not spec.submodule_search_locations:
        raise ScenarioError("the simulator needs the global-land-mask package; install satwatch's dependencies "
                            "(pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "globe_combined_mask_compressed.npz"


@functools.lru_cache(maxsize=64)
def _ocean_rows(r0: int, r1: int) -> npt.NDArray[np.bool_]:
    """Rows ``r0..r1-1`` of the GLOBE ocean mask (True = ocean), streamed from the package's npz.

    Only the needed rows are kept (the full mask is 933 MB uncompressed); reading stops after ``r1``.
    """
    with zipfile.ZipFile(_mask_file()) as zf, zf.open("mask.npy") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        if shape != (_MASK_ROWS, _MASK_COLS) or fortran or dtype != np.dtype(bool):
            raise ScenarioError(f"unexpected land mask layout {shape} {dtype}; reinstall global-land-mask")
        remaining = r0 * _MASK_COLS
        while remaining:
            chunk = fh.read(min(remaining, 1 << 24))
            if not chunk:
                break
            remaining -= len(chunk)
        raw = fh.read((r1 - r0) * _MASK_COLS)
    return np.frombuffer(raw, dtype=np.bool_).reshape(r1 - r0, _MASK_COLS)


def _ocean_fraction(lon: F64, lat: F64) -> F64:
    """Bilinear ocean fraction 0..1 of the 1 km GLOBE mask at lon/lat degrees (any shape)."""
    fr = np.clip((90.0 - lat) * 120.0, 0, _MASK_ROWS - 1.000001)
    fc = (lon + 180.0) * 120.0
    r0 = int(np.floor(fr.min()))
    r1 = min(_MASK_ROWS, int(np.floor(fr.max())) + 2)
    rows = _ocean_rows(r0, r1).astype(np.float32)
    ir = np.floor(fr).astype(np.intp)
    tr = fr - ir
    ir = ir - r0
    ir1 = np.minimum(ir + 1, rows.shape[0] - 1)
    ic = np.floor(fc).astype(np.int64)
    tc = fc - ic
    ic0 = (ic % _MASK_COLS).astype(np.intp)
    ic1 = ((ic + 1) % _MASK_COLS).astype(np.intp)
    top = rows[ir, ic0] * (1 - tc) + rows[ir, ic1] * tc
    bottom = rows[ir1, ic0] * (1 - tc) + rows[ir1, ic1] * tc
    return np.asarray(top * (1 - tr) + bottom * tr, dtype=np.float64)
