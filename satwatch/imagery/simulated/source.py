"""The simulated imagery source: :class:`SimulatedSource` searches a scenario's acquisitions and renders them.

Scenes are archived per scenario under a folder keyed by :data:`SIMULATOR_VERSION` and the scenario's text.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

from satwatch.aoi import AOI
from satwatch.errors import UsageError
from satwatch.imagery.scenario import Scenario
from satwatch.imagery.scene import SENSORS, SceneMeta
from satwatch.imagery.simulated.conditions import cloud_fraction
from satwatch.imagery.simulated.rendering import render
from satwatch.imagery.source import Acquisition

SIMULATOR_VERSION = "7"
"""Bumped whenever rendering changes, so archived simulated scenes are rendered again."""


class SimulatedSource:
    """The embedded imagery source: renders scenes of a :class:`Scenario` on demand (no network, no credentials).

    Example:
        >>> from datetime import date
        >>> from satwatch.aoi import load_catalog
        >>> src = SimulatedSource(Scenario.default(["ru_dunai"], date(2024, 9, 1), date(2024, 9, 30)))
        >>> len(src.search(load_catalog()["ru_dunai"], date(2024, 9, 1), date(2024, 9, 30), "s2"))
        6
    """

    name: str = "simulated"
    """Source name written into outputs."""

    def __init__(self, scenario: Scenario) -> None:
        """Serve scenes of ``scenario``."""
        self.scenario = scenario

    def search(self, aoi: AOI, start: date, end: date, sensor: str) -> list[Acquisition]:
        """Acquisitions of ``sensor`` over ``aoi`` from ``start`` to ``end`` (inclusive UTC dates), oldest first.

        Dates follow the scenario's revisit for the sensor (any sensor works; see :meth:`Scenario.revisit`);
        Sentinel-2 acquisitions carry the cloud fraction their scene will be rendered with.
        """
        if sensor not in SENSORS:
            raise UsageError(f"sensor {sensor!r} is not one of {', '.join(SENSORS)}")
        out = []
        for when in self.scenario.acquisitions(aoi, sensor, start, end):
            meta = SceneMeta(sensor=sensor, acquired=when, source=self.name, simulated=True, aoi=aoi.id)
            out.append(Acquisition(
                aoi=aoi.id, sensor=sensor, acquired=when, source=self.name, simulated=True,
                cloud_fraction=cloud_fraction(self.scenario, aoi.id, sensor, when) if sensor == "s2" else None,
                coverage=1.0, item_id=meta.scene_id,
            ))
        return out

    def archive_root(self, archive_root: Path) -> Path:
        """Folder under ``archive_root`` that holds this scenario's scenes: ``simulated/<name>-<digest>``.

        Simulated scenes are kept apart from real ones, and per scenario: the digest covers the simulator
        version and the whole scenario (seed, cloud, activity), so editing a scenario never reuses scenes
        rendered from its earlier text.
        """
        digest = hashlib.sha256(f"{SIMULATOR_VERSION}|{self.scenario!r}".encode()).hexdigest()[:12]
        slug = re.sub(r"[^a-z0-9_-]+", "-", self.scenario.name.lower()).strip("-") or "scenario"
        return Path(archive_root) / "simulated" / f"{slug}-{digest}"

    def fetch(self, acquisition: Acquisition, aoi: AOI, archive_root: Path) -> Path:
        """Render the acquisition into the archive (scene, STAC Item, and ``<stem>.truth.geojson`` beside them).

        Scenes go under :meth:`archive_root`. A scene already archived for the same AOI geometry is returned
        without rendering (a user's AOI file that reuses an id with another shape is rendered again). The truth
        is written (atomically) before the scene, so an archived scene always has its truth.
        """
        from satwatch.imagery.archive import Archive
        from satwatch.outputs.files import write_geojson

        if acquisition.aoi != aoi.id:
            raise UsageError(f"acquisition is for AOI {acquisition.aoi!r}, not {aoi.id!r}")
        archive = Archive(self.archive_root(archive_root))
        geometry_sha = hashlib.sha256(aoi.geometry.wkb).hexdigest()
        path = archive.scene_path(aoi.id, acquisition.sensor, acquisition.acquired)
        if archive.has(aoi.id, acquisition.sensor, acquisition.acquired):
            stored = archive.get(aoi.id, acquisition.sensor, acquisition.acquired)
            if stored.properties.get("satwatch:aoi_geometry_sha256") == geometry_sha:
                return path
        rendered = render(aoi, acquisition.acquired, acquisition.sensor, self.scenario)
        truth_path = path.with_suffix(".truth.geojson")
        write_geojson(rendered.truth, truth_path)
        return archive.put(rendered.scene, {**rendered.properties, "satwatch:truth": truth_path.name,
                                            "satwatch:aoi_geometry_sha256": geometry_sha})
