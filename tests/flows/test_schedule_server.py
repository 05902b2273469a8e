"""Scheduling against a real Prefect server: `satwatch server` on 127.0.0.1, `satwatch schedule --interval`.

The served deployment (monitor_catalog over the tiny scenario, baseline detector) must produce completed flow
runs that wrote their run folders. Bounded in time: the server, the serving process and every flow run they
started are stopped at the end whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "scenarios" / "tiny.yaml"
BIN = Path(sys.executable).parent
OFFLINE = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture()
def prefect_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`satwatch server` on a free loopback port with its own PREFECT_HOME; yields (api url, env)."""
    import httpx

    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, **OFFLINE, "PREFECT_HOME": str(tmp_path / "prefect"),
           "SATWATCH_DATA_DIR": str(tmp_path / "data"),
           # the scheduler looks for due runs every 2 s and the runner polls every 2 s (defaults: 60 s and 10 s)
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2", "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    env.pop("PREFECT_API_URL", None)
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - open for the server's whole life
    proc = subprocess.Popen([str(BIN / "satwatch"), "server", "--port", str(port)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the Prefect server did not come up in 120 s"
            time.sleep(0.5)
        yield api, {**env, "PREFECT_API_URL": api}
    finally:
        _stop(proc)
        log.close()


@pytest.mark.slow
def test_scheduled_deployment_on_a_real_server_completes_runs_that_write_outputs(
        prefect_server: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    import httpx

    api, env = prefect_server
    log = open(tmp_path / "schedule.log", "wb")  # noqa: SIM115 - open for the serving process's whole life
    serve = subprocess.Popen([str(BIN / "satwatch"), "schedule", "--scenario", str(TINY), "--detector", "baseline",
                              "--interval", "10", "--name", "tiny-test"], env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    completed: list[dict[str, object]] = []
    try:
        deadline = time.monotonic() + 200
        while len(completed) < 2:
            assert serve.poll() is None, (tmp_path / "schedule.log").read_text()[-3000:]
            assert time.monotonic() < deadline, (tmp_path / "schedule.log").read_text()[-3000:]
            time.sleep(2)
            runs = httpx.post(f"{api}/flow_runs/filter", json={
                "flow_runs": {"state": {"type": {"any_": ["COMPLETED", "FAILED", "CRASHED"]}}},
                "sort": "START_TIME_ASC", "limit": 20, "offset": 0}, timeout=10).raise_for_status().json()
            bad = [r for r in runs if r["state_type"] != "COMPLETED"]
            assert not bad, (bad[0]["state"], (tmp_path / "schedule.log").read_text()[-3000:])
            completed = runs
    finally:
        _stop(serve)
        log.close()
    deployments = httpx.post(f"{api}/deployments/filter", json={"limit": 10, "offset": 0}, timeout=10).json()
    assert [d["name"] for d in deployments] == ["tiny-test"]
    assert deployments[0]["schedules"][0]["schedule"]["interval"] == 10.0
    assert all(r["deployment_id"] == deployments[0]["id"] for r in completed)
    assert all(r["auto_scheduled"] for r in completed)
    outputs = sorted((tmp_path / "data" / "outputs").glob("*/run.json"))
    assert len(outputs) >= 2
    for path in outputs[:2]:
        record = json.loads(path.read_text())
        assert record["parameters"]["aois"] == ["ru_dunai"] and record["summary"]["scenes"] > 0
        assert (path.parent / "detections.geojson").is_file() and (path.parent / "counts.csv").is_file()
