"""The HTML report: self-contained, every section bannered for simulated runs, and rendered in a real browser.

The browser test drives Debian's ``chromium`` (installed by ``scripts/install-system-deps.sh``, which ``make
install`` runs as root) with every http(s) URL blocked, and saves its screenshot under ``tests/artifacts/``.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from PIL import Image

from satwatch.cli import main
from satwatch.outputs._headless import HeadlessChromium, find_chromium
from satwatch.outputs.quicklook import MapGrid, quicklook_array
from satwatch.outputs.report import build_report_html, write_report

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SECTIONS = ("maps", "pairs", "timeseries", "claims", "provenance")


def test_report_is_one_self_contained_file(report_run: Path) -> None:
    text = (report_run / "report.html").read_text(encoding="utf-8")
    # Every src/href is inline data or an in-page anchor: nothing is fetched, nothing beside the file is needed.
    refs = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert refs and all(r.startswith(("data:", "#")) for r in refs), {r[:40] for r in refs} - {"data:", "#"}
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text.split("<main>")[1]
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    # simulated run: a banner in every section
    for sid in SECTIONS:
        section = text.split(f'<section id="{sid}">')[1].split("</section>")[0]
        assert section.startswith('<div class="banner"') and "SIMULATED" in section, sid
    scenes = gpd.read_file(report_run / "scenes.geojson")
    assert text.count('class="frame"') == len(scenes)
    assert text.count("data:image/jpeg;base64,") == len(scenes)  # one quicklook per scene, referenced by <use>
    assert text.count('class="claim"') == 1 and "C14short" in text
    assert "data:image/png;base64," in text  # the evidence package's chips and plot
    record = json.loads((report_run / "run.json").read_text())
    assert record["run_id"] in text and "report.html" in record["outputs"]


def test_report_without_claims_or_scenes_files(report_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(report_run, run, ignore=shutil.ignore_patterns("claims.json", "timeseries.csv", "evidence"))
    scenes = gpd.read_file(run / "scenes.geojson")
    scenes.loc[0, "path"] = str(tmp_path / "deleted.tif")  # an archived scene that went away
    scenes.to_file(run / "scenes.geojson", driver="GeoJSON")
    html = build_report_html(run)
    assert "No claims were checked" in html and "no quicklook" in html
    assert html.count('class="frame"') == len(scenes)


def test_quicklook_true_colour_and_radar(report_run: Path) -> None:
    scenes = gpd.read_file(report_run / "scenes.geojson")
    aoi = gpd.read_file(report_run / "layers.gpkg", layer="aois").geometry.iloc[0]
    grid = MapGrid.for_geometry(aoi, "EPSG:32652", max_px=200)
    assert max(grid.width, grid.height) == 200
    for sensor in ("s2", "s1"):
        img = quicklook_array(scenes[scenes["sensor"] == sensor]["path"].iloc[0], grid)
        assert img.shape == (grid.height, grid.width, 3) and img.dtype == np.uint8
        assert img.std() > 10, sensor  # an image, not a flat fill
        if sensor == "s1":
            assert (img[..., 0] == img[..., 1]).all()  # VV in grey


def test_cli_report_rewrites_and_refuses_non_run_folders(report_run: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    shutil.copytree(report_run, run)
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"report: {run / 'report.html'}"
    assert (run / "report.html").is_file() and (run / "detections.qml").is_file()
    assert main(["report", str(tmp_path)]) == 2
    assert "satwatch: error:" in capsys.readouterr().err


def test_report_in_headless_chromium_offline(report_run: Path) -> None:
    if find_chromium() is None:
        pytest.skip("chromium not installed: scripts/install-system-deps.sh installs it (make install, as root)")
    path = write_report(report_run)
    scenes = gpd.read_file(report_run / "scenes.geojson")
    with HeadlessChromium(width=1400, height=1000) as browser:
        page = browser.open(path)
        assert page.console_errors == []
        assert page.outside_requests == []
        assert page.requests[0].startswith("file://")
        assert browser.evaluate("document.documentElement.dataset.ready") == "1"  # the script ran to its end
        counts = browser.evaluate("""({
            maps: document.querySelectorAll('svg.map').length,
            frames: document.querySelectorAll('svg.map g.frame').length,
            shown: [...document.querySelectorAll('svg.map g.frame')].filter(f => f.style.display !== 'none').length,
            charts: document.querySelectorAll('svg.chart').length,
            points: document.querySelectorAll('svg.chart circle.pt').length,
            pairs: document.querySelectorAll('svg.chip').length,
            claims: document.querySelectorAll('table.claims tr.claim').length,
            banners: document.querySelectorAll('section > .banner').length,
            sections: document.querySelectorAll('section').length,
            mapWidth: document.querySelector('svg.map').getBoundingClientRect().width,
            imgWidth: document.querySelector('svg.map g.frame:not([style*="none"]) use').getBoundingClientRect().width,
        })""")
        assert counts["maps"] == 1 and counts["frames"] == len(scenes) and counts["shown"] == 1
        assert counts["charts"] >= 2 and counts["points"] >= len(scenes)
        assert counts["pairs"] == 2 and counts["claims"] == 1
        assert counts["banners"] == counts["sections"] == 5
        assert counts["mapWidth"] > 300 and counts["imgWidth"] > 300  # the quicklook is laid out, not collapsed
        # the date toggle shows exactly one other frame
        before = browser.evaluate("document.querySelector('select.date').value")
        browser.evaluate("document.querySelector('.map-block .prev').click()" if before != "0"
                         else "document.querySelector('.map-block .next').click()")
        after = browser.evaluate("document.querySelector('select.date').value")
        shown = browser.evaluate("[...document.querySelectorAll('svg.map g.frame')]"
                                 ".findIndex(f => f.style.display !== 'none')")
        assert after != before and str(shown) == after
        # the claims section comes first when claims were checked: bring the map into the viewport
        browser.evaluate("document.querySelector('svg.map').scrollIntoView()")
        box = browser.evaluate("(() => { const r = document.querySelector('svg.map').getBoundingClientRect();"
                               " return [r.x, r.y, r.width, r.height]; })()")
        shot = browser.screenshot(ARTIFACTS / "report.png")
    print(f"screenshot: {shot}")
    img = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)
    assert img.shape[:2] == (1000, 1400) and img.std() > 20
    x, y, w, h = (int(v) for v in box)
    map_px = img[max(y, 0): min(y + h, 1000), x: x + w]
    assert map_px.size and map_px.std() > 15  # the map shows imagery, not a blank rectangle
    assert len(np.unique(map_px.reshape(-1, 3), axis=0)) > 200


def test_claims_come_first_with_a_chart_per_indicator_and_each_sentence_once(report_run: Path) -> None:
    text = (report_run / "report.html").read_text()
    assert text.index('<section id="claims">') < text.index('<section id="maps">')
    claims = text[text.index('<section id="claims">'):text.index("</section>", text.index('<section id="claims">'))]
    doc = json.loads((report_run / "claims.json").read_text())
    measured = [i for c in doc["claims"] for i in c["indicators"] if i["sensors"]]
    assert claims.count('<figure class="ts ind">') == sum(len(i["sensors"]) for i in measured) > 0
    for ind in measured:
        assert claims.count(html.escape(ind["reason"], quote=True)) == 1, ind["reason"]
        for s in ind["sensors"]:
            assert s["error_model"]["source"] == "real"
            assert f"recall {s['error_model']['recall']['value']:.2f}" in claims
    # counts charts carry the estimated true counts' intervals
    assert re.search(r'<line class="est"[^>]*><title>[^<]*estimated true', text)
