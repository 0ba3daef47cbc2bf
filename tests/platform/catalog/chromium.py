"""Headless Chromium for the catalog's pages: dump a page, screenshot it, or measure it with JavaScript.

Measuring goes through the DevTools protocol (a websocket): the page is loaded
as a reader's browser loads it and a script reads what was laid out, such as
the width a label really takes in the font Chromium picked.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from websockets.sync.client import connect

from ...system_packages import debian_package

__all__ = ["chromium", "evaluate_in_chromium"]

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-extensions",
    "--no-first-run",
    "--hide-scrollbars",
    "--window-size=1400,1900",
]


def _browser() -> str:
    return debian_package("chromium", find=lambda: shutil.which("chromium") or shutil.which("chromium-browser"))


def chromium(*args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium once with these arguments (`--dump-dom URL`, `--screenshot=PATH URL`)."""
    return subprocess.run([_browser(), *_FLAGS, *args], capture_output=True, text=True, timeout=120, check=True)


def evaluate_in_chromium(url: str, expression: str, *, timeout: float = 60) -> Any:
    """The value of a JavaScript expression on the page at `url`, once the page has loaded."""
    with tempfile.TemporaryDirectory(prefix="lakemesh-chromium-") as profile:
        browser = subprocess.Popen(
            [_browser(), *_FLAGS, "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = _devtools_port(Path(profile), browser, deadline=time.monotonic() + timeout)
            page = next(t for t in requests.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page")
            with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout) as devtools:
                ids = itertools.count(1)

                def call(method: str, **params: Any) -> dict:
                    sent = next(ids)
                    devtools.send(json.dumps({"id": sent, "method": method, "params": params}))
                    while True:
                        answer = json.loads(devtools.recv(timeout=timeout))
                        if answer.get("id") == sent:
                            if "error" in answer:
                                raise RuntimeError(f"{method}: {answer['error']}")
                            return answer["result"]

                call("Page.navigate", url=url)
                loaded = f"location.href === {json.dumps(url)} && document.readyState === 'complete'"
                deadline = time.monotonic() + timeout
                while not call("Runtime.evaluate", expression=loaded, returnByValue=True)["result"].get("value"):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{url} did not load in {timeout} s")
                    time.sleep(0.1)
                result = call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
                if "exceptionDetails" in result:
                    raise RuntimeError(f"the script failed: {result['exceptionDetails']}")
                return result["result"].get("value")
        finally:
            browser.terminate()
            browser.wait(timeout=30)


def _devtools_port(profile: Path, browser: subprocess.Popen, *, deadline: float) -> int:
    """The port Chromium chose, from the `DevToolsActivePort` file it writes into its profile."""
    active = profile / "DevToolsActivePort"
    while not active.exists() or not active.read_text().strip():
        if browser.poll() is not None:
            raise RuntimeError(f"Chromium exited with {browser.returncode} before it listened")
        if time.monotonic() > deadline:
            raise TimeoutError("Chromium did not open its DevTools port")
        time.sleep(0.1)
    return int(active.read_text().splitlines()[0])
