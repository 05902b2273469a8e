"""Plain-text tables for the terminal (the CLI's listings, the claims' verdict table).

Example::

    >>> print(text_table([("ru_dunai", "3")], ("aoi", "scenes")))
    aoi       scenes
    --------  ------
    ru_dunai  3
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["text_table"]


def text_table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """Return ``rows`` under ``header`` as left-aligned columns two spaces apart, a dashed rule under the header."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
