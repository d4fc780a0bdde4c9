"""What every browser test shares: a dashboard server on a fresh database per test module
(`server`), one on a copy of the sample database per worker process (`sample_server`), chromium
(`browser`), opening a page and waiting until the app has settled, and comparing
screenshots.

tests/conftest.py registers this module as a plugin, so its fixtures reach every test module
without an import (an imported fixture would be the importing module's own: a second server).
Outside CI the browser tests skip (and say so) when /usr/bin/chromium is missing; in CI (CI=true)
a missing browser is a failure. Screenshots go to test-artifacts/screenshots/.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from server_helpers import CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_until_idle
from support import ROOT_DIR

ARTIFACTS = ROOT_DIR / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}

# every page of the navigation: (sidebar title, url path, heading)
PAGES = [("Overview", "", "Retention of practices after the programme"),
         ("Districts and schools", "districts", "Districts and schools"),
         ("Practices", "practices", "Practices"),
         ("Hindrances", "hindrances", "Hindrances"),
         ("Communities of practice", "communities", "Communities of practice"),
         ("Follow-up planner", "planner", "Follow-up planner"),
         ("Data", "data", "Data")]


def require_chromium() -> str:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            raise RuntimeError("CI needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
        pytest.skip("browser tests skipped: no chromium found (apt-get install -y chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The dashboard with no database yet: the first start builds it from sample_data/."""
    tmp = tmp_path_factory.mktemp("browser")
    env = {"SUSTAIN_DB": str(tmp / "sustain.duckdb")}
    saved_salt = os.environ.pop("SUSTAIN_SALT", None)  # the sample data uses the demo salt, as a first start does
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(streamlit_server(tmp, env))  # the server's environment is copied here
        finally:
            if saved_salt is not None:
                os.environ["SUSTAIN_SALT"] = saved_salt
        yield url


@pytest.fixture(scope="session")
def sample_server(sample_db, tmp_path_factory):
    """The dashboard on a copy of the session's sample database (no first-start build to wait for),
    shared by every test of this worker process that only reads pages (visual references, the Urdu
    switch, requests leaving localhost): one start, and the pages' metrics cached once."""
    tmp = tmp_path_factory.mktemp("browser")
    shutil.copy(sample_db, tmp / "sustain.duckdb")
    with streamlit_server(tmp, {"SUSTAIN_DB": str(tmp / "sustain.duckdb")}) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """One chromium per test module; each test opens its own context (a new visitor). Not one per
    session: Playwright's sync API runs an event loop in this thread while it is open, and a test
    that starts its own (the donor pack's HTML in chromium, tests/test_report.py) cannot."""
    executable = require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


# Settled: the script has finished, nothing is stale or spinning, every plotly chart has drawn,
# and the web fonts are loaded. Streamlit fades stale elements and shows a running man while a
# script runs; plotly draws after the script is done.
SETTLED = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector("[data-stale='true'], [data-testid='stSpinner'], [data-testid='stSkeleton']")) return false;
  if (document.querySelector("[data-testid='stStatusWidget'] [data-testid='stStatusWidgetRunningIcon']")) return false;
  for (const chart of document.querySelectorAll("[data-testid='stPlotlyChart']")) {
    if (!chart.querySelector('.main-svg')) return false;
  }
  return document.fonts.status === 'loaded';
}"""


def settle(page, timeout: float = 90_000) -> None:
    """Wait until the app has settled (see SETTLED), twice over a short interval, so a rerun that
    starts right after the first check is waited for too."""
    wait_until_idle(page, timeout)
    for _ in range(2):
        page.wait_for_function(SETTLED, timeout=timeout)
        page.wait_for_timeout(300)
    page.wait_for_function(SETTLED, timeout=timeout)


def go_to(page, title: str) -> None:
    """Open a page from the sidebar's navigation (on a phone the sidebar is opened first)."""
    nav = page.get_by_test_id("stSidebarNav")
    if not nav.is_visible():
        page.get_by_test_id("stExpandSidebarButton").click()
    nav.get_by_text(title, exact=True).click()


def url_values(page, name: str) -> list[str]:
    return page.evaluate(f"() => new URL(location.href).searchParams.getAll({name!r})")


def new_page(browser, viewport: dict, errors: list | None = None):
    context = browser.new_context(viewport=viewport, device_scale_factor=1, reduced_motion="reduce")
    page = context.new_page()
    if errors is not None:
        page.on("pageerror", lambda error: errors.append(str(error)))
    return page


# Streamlit scrolls its main area inside the window, so a "full page" screenshot is the window only:
# the window is made as tall as the content for the shot (capped), then set back
CONTENT_HEIGHT = """() => Math.max(...["[data-testid='stMain']",
  "[data-testid='stSidebar'][aria-expanded='true'] [data-testid='stSidebarContent']"]
  .map(s => document.querySelector(s)).filter(Boolean).map(e => e.scrollHeight))"""
MAX_SHOT_HEIGHT = 8000


def screenshot(page, path: Path, mask=()) -> Image.Image:
    """The whole page with animations stopped, the caret hidden and the mouse out of the way
    (plotly's mode bar shows on hover)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    viewport = page.viewport_size
    page.mouse.move(0, 0)
    height = min(MAX_SHOT_HEIGHT, max(viewport["height"], int(page.evaluate(CONTENT_HEIGHT))))
    try:
        if height != viewport["height"]:
            page.set_viewport_size({"width": viewport["width"], "height": height})
            page.wait_for_function(SETTLED)
            page.wait_for_timeout(500)  # plotly redraws responsive charts after a resize (debounced)
            page.wait_for_function(SETTLED)
        page.screenshot(path=str(path), animations="disabled", caret="hide", mask=list(mask), mask_color="#888888")
    finally:
        page.set_viewport_size(viewport)
    return Image.open(path).convert("RGB")


# -- comparing screenshots ------------------------------------------------------------------------
def differing_pixels(reference: Image.Image, actual: Image.Image, tolerance: int = 48) -> np.ndarray:
    """A boolean image (of the larger size) of the pixels that changed. A pixel counts as changed
    only when no pixel in the 3x3 neighbourhood of the same place in the other image is within
    `tolerance` (per channel, 0-255): anti-aliasing and one-pixel shifts of an edge do not count.
    Where the sizes differ, the part only one image has counts as changed."""
    height = max(reference.height, actual.height)
    width = max(reference.width, actual.width)

    def padded(image):
        canvas = np.full((height, width, 3), -1000, dtype=np.int16)
        canvas[:image.height, :image.width] = np.asarray(image, dtype=np.int16)
        return canvas

    ref, act = padded(reference), padded(actual)

    def far(a, b):
        nearest = np.full((height, width), 10_000, dtype=np.int16)
        edged = np.pad(b, ((1, 1), (1, 1), (0, 0)), mode="edge")
        for dy in (0, 1, 2):
            for dx in (0, 1, 2):
                shifted = edged[dy:dy + height, dx:dx + width]
                nearest = np.minimum(nearest, np.abs(a - shifted).max(axis=2))
        return nearest > tolerance

    return far(act, ref) & far(ref, act)


def diff_image(actual: Image.Image, changed: np.ndarray) -> Image.Image:
    """The actual screenshot, faded, with the changed pixels in red: what a reviewer looks at."""
    canvas = Image.new("RGB", (changed.shape[1], changed.shape[0]), "white")
    canvas.paste(actual, (0, 0))
    faded = (np.asarray(canvas, dtype=np.float32) * 0.3 + 255 * 0.7).astype(np.uint8)
    faded[changed] = (255, 0, 0)
    return Image.fromarray(faded)
