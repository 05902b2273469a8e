"""The run-output cache: entries by fingerprint, the most recently used kept."""

from __future__ import annotations

import os
import time
from pathlib import Path

from satwatch.cache import RunOutputCache


def test_run_output_cache_keeps_the_most_recently_used_entries(tmp_path: Path) -> None:
    cache = RunOutputCache(tmp_path / "cache", keep=2)
    made = tmp_path / "counts.csv"
    made.write_text("aoi,count\nru_dunai,3\n")
    for i, name in enumerate(("a", "b")):
        assert cache.put(name, [made], {"n": i}) is not None
        os.utime(cache.folder / name, (time.time() - 100 + i, time.time() - 100 + i))  # a used before b
    assert cache.put("b", [made], {"n": 9}) is None  # kept already: the first one stays
    files, record = cache.get("a") or ([], {})  # a used now: b is the least recently used
    assert record == {"n": 0} and [f.read_text() for f in files] == [made.read_text()]
    cache.put("c", [made], {"n": 2})
    assert sorted(p.name for p in cache.folder.iterdir()) == ["a", "c"]
    assert cache.get("b") is None
    (cache.folder / "a" / "counts.csv").unlink()
    assert cache.get("a") is None  # incomplete: a miss, computed again
