"""A real `streamlit run dashboard.py` for tests (health-checked on /_stcore/health) and the
Playwright chromium that drives it; shared by the trust tests (issue 9)."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from support import ROOT_DIR

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
APP_ERROR = "This app has encountered an error"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(tmp: Path, env: dict[str, str], start_seconds: float = 120):
    """Yield the base URL of a fresh server process (its log in tmp/streamlit.log)."""
    port = free_port()
    # DuckDB's default threads, as deployed (tests/conftest.py caps the test processes' at one)
    deployed = {name: value for name, value in os.environ.items() if name != "SUSTAIN_DUCKDB_THREADS"}
    env = deployed | {"PYTHONUNBUFFERED": "1"} | env
    log_path = tmp / f"streamlit-{port}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.headless=true",
             f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"],
            cwd=ROOT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_seconds
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError(f"streamlit did not start: {log_path.read_text()}") from None
                    time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    server_log = log_path.read_text()
    if os.environ.get("SUSTAIN_SHOW_SERVER_LOG"):
        print(server_log)


def wait_until_idle(page, timeout=90_000):
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)


def error_count(page) -> int:
    """Error elements on the page: an exception box, or Streamlit's generic error text."""
    return page.locator("[data-testid='stException']").count() + page.get_by_text(APP_ERROR).count()
