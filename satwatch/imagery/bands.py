"""Band-level constants shared by the scene model, the detectors and the simulator (no heavy imports)."""

from __future__ import annotations

__all__ = ["SCL_NOT_CLEAR"]

SCL_NOT_CLEAR = (3.0, 8.0, 9.0, 10.0)
"""Sentinel-2 SCL classes that hide the ground: cloud shadow, cloud medium/high probability, thin cirrus. One
definition for the detector's search area, the observed fraction and the simulator's ``visible`` truth."""
