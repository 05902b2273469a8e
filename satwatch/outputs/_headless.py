"""Headless Chromium over the Chrome DevTools Protocol, to check and photograph reports offline.

Used by the report's browser test and ``scripts/screenshot_report.py``; not part of the public API. It drives
the system's Chromium (Debian's ``chromium``, installed by ``scripts/install-system-deps.sh``) with no network:
every http(s)/ws(s) URL is blocked in the browser and host names resolve nowhere, and every request the page
makes is recorded so a caller can assert that none left the machine::

    with HeadlessChromium() as browser:
        page = browser.open(Path("report.html"))
        assert not page.console_errors and not page.outside_requests
        browser.screenshot(Path("report.png"))
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from websockets.sync.client import ClientConnection, connect

from satwatch.errors import SatwatchError

__all__ = ["HeadlessChromium", "PageLoad", "find_chromium"]

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:", "chrome:", "devtools:")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable (``SATWATCH_CHROMIUM`` first, then the usual names), or None."""
    explicit = os.environ.get("SATWATCH_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else shutil.which(explicit)
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageLoad:
    """What loading one page produced."""

    url: str
    """The page's URL."""
    requests: list[str] = field(default_factory=list)
    """Every URL the page requested (documents, scripts, images, fetches), in order."""
    console_errors: list[str] = field(default_factory=list)
    """Console messages of level error, uncaught exceptions and failed loads."""

    @property
    def outside_requests(self) -> list[str]:
        """Requested URLs that would leave the machine (anything but file:, data:, about:, blob:)."""
        return [u for u in self.requests if not u.startswith(_LOCAL_SCHEMES)]


class HeadlessChromium:
    """A headless Chromium process with one page, driven over the DevTools protocol (a context manager)."""

    def __init__(self, executable: str | None = None, width: int = 1400, height: int = 1000,
                 timeout_s: float = 60.0) -> None:
        exe = executable or find_chromium()
        if exe is None:
            raise SatwatchError("no Chromium found: install Debian's chromium (scripts/install-system-deps.sh) "
                                "or set SATWATCH_CHROMIUM")
        self.executable = exe
        self.width, self.height, self.timeout_s = width, height, timeout_s
        self._profile = Path(tempfile.mkdtemp(prefix="satwatch-chromium-"))
        self._proc: subprocess.Popen[bytes] | None = None
        self._ws: ClientConnection | None = None
        self._session = ""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    # -- process and connection ----------------------------------------------------------------------------------

    def __enter__(self) -> HeadlessChromium:
        args = [
            self.executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            f"--user-data-dir={self._profile}", "--remote-debugging-port=0", "--remote-allow-origins=*",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
            "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider",
            "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
            "--hide-scrollbars", "--mute-audio", f"--window-size={self.width},{self.height}", "about:blank",
        ]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = self._profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout_s
        while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise SatwatchError(f"Chromium ({self.executable}) did not start its DevTools endpoint")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self._ws = connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=self.timeout_s)
        target = self._call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                   session=False)["sessionId"]
        for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self._call(method)
        self._call("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]})
        self._call("Emulation.setDeviceMetricsOverride",
                   {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection, stop Chromium and remove its temporary profile."""
        if self._ws is not None:
            with contextlib.suppress(OSError):
                self._ws.close()
            self._ws = None
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
            self._proc = None
        shutil.rmtree(self._profile, ignore_errors=True)

    def _recv(self, timeout: float) -> dict[str, Any]:
        assert self._ws is not None
        msg = json.loads(self._ws.recv(timeout=timeout))
        return msg if isinstance(msg, dict) else {}

    def _call(self, method: str, params: dict[str, Any] | None = None, session: bool = True) -> dict[str, Any]:
        assert self._ws is not None
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self._session
        self._ws.send(json.dumps(msg))
        deadline = time.monotonic() + self.timeout_s
        while True:
            reply = self._recv(max(0.1, deadline - time.monotonic()))
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise SatwatchError(f"DevTools {method} failed: {reply['error']}")
                result = reply.get("result", {})
                return result if isinstance(result, dict) else {}
            if "method" in reply:
                self._events.append(reply)

    def _drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                self._events.append(self._recv(left))
            except TimeoutError:
                return

    # -- pages ---------------------------------------------------------------------------------------------------

    def open(self, path_or_url: Path | str, settle_s: float = 1.0) -> PageLoad:
        """Load a file (or URL), wait for the load event and ``settle_s`` more, and report what happened."""
        url = path_or_url.resolve().as_uri() if isinstance(path_or_url, Path) else path_or_url
        self._events.clear()
        self._call("Page.navigate", {"url": url})
        deadline = time.monotonic() + self.timeout_s
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            if time.monotonic() > deadline:
                raise SatwatchError(f"{url} did not finish loading in {self.timeout_s:.0f} s")
            self._drain(0.2)
        self._drain(settle_s)
        page = PageLoad(url)
        for e in self._events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Network.requestWillBeSent":
                page.requests.append(str(params.get("request", {}).get("url", "")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                page.console_errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                                    for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                page.console_errors.append(str(details.get("exception", {}).get("description")
                                               or details.get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                page.console_errors.append(f"{entry.get('text')} {entry.get('url', '')}".strip())
            elif method == "Network.loadingFailed":
                page.console_errors.append(f"load failed: {params.get('errorText')}")
        return page

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page (JSON-serialisable results only)."""
        result = self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise SatwatchError(f"JavaScript failed: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def screenshot(self, path: Path, full_page: bool = False, max_height: int = 6000) -> Path:
        """Save a PNG of the viewport (or the whole page, up to ``max_height`` px) and return ``path``."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            height = min(int(self.evaluate("document.documentElement.scrollHeight")), max_height)
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1})
        data = self._call("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path
