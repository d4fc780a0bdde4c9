"""A real `streamlit run dashboard.py` on a fresh database, driven by Playwright in Debian's chromium.

Outside CI the tests skip (and say so) when /usr/bin/chromium is missing; in CI (CI=true) a
missing browser is a failure. Screenshots go to test-artifacts/screenshots/.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from support import ROOT_DIR

pytestmark = pytest.mark.slow  # a real server and chromium

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = ROOT_DIR / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
    pytest.skip("browser tests skipped: no chromium found (apt-get install -y chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Start the dashboard with no database yet: the first start builds it from sample_data/."""
    tmp = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = os.environ | {"SUSTAIN_DB": str(tmp / "sustain.duckdb"), "PYTHONUNBUFFERED": "1"}
    env.pop("SUSTAIN_SALT", None)  # the bundled sample data uses the demo salt, as a user's first start does
    log = (tmp / "streamlit.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.headless=true",
         f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"],
        cwd=ROOT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        raise RuntimeError(f"streamlit did not start: {(tmp / 'streamlit.log').read_text()}")
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def legend_texts(page, key):
    """Plotly legends are SVG text, which has no innerText: read textContent."""
    return page.locator(f".st-key-{key} .legendtext").evaluate_all("nodes => nodes.map(n => n.textContent)")


def district_ticks(page):
    """The districts of the Overview's "districts compared" chart (its y axis's tick labels)."""
    return page.locator(".st-key-districts_chart .ytick text").evaluate_all("nodes => nodes.map(n => n.textContent)")


def wait_until_idle(page, timeout=90_000):
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)


def test_overview_shows_retention_chart_from_ingested_sample(server, browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server)
    wait_until_idle(page)
    page.wait_for_selector(".st-key-retention_chart .js-plotly-plot", timeout=60_000)
    wait_until_idle(page)
    assert page.get_by_role("heading", name="Retention of practices after the programme").is_visible()
    # one line per programme, and every district of the sample compared, drawn from the ingested data
    assert {"Cluster-based mentoring (coached)", "Cluster-based training (training only)"} <= set(
        legend_texts(page, "retention_chart"))
    assert {"Thatta", "Sanghar", "Mirpurkhas", "Quetta", "Pishin", "Lasbela"} <= set(district_ticks(page))
    assert any("rests on up to" in text for text in page.locator("[data-testid='stCaptionContainer']").all_inner_texts())
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)
    page.close()


def test_filter_goes_into_the_url(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/?district=Quetta")
    wait_until_idle(page)
    page.wait_for_selector(".st-key-districts_chart .js-plotly-plot", timeout=60_000)
    assert district_ticks(page) == ["Quetta"]
    # choose a second district in the sidebar: the URL carries both, and the chart follows
    page.locator(".st-key-filter_district input").click()
    page.get_by_role("option", name="Pishin").click()
    page.keyboard.press("Escape")
    page.wait_for_function("() => new URL(location.href).searchParams.getAll('district').includes('Pishin')",
                           timeout=30_000)
    wait_until_idle(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.st-key-districts_chart .ytick text')].length === 2", timeout=30_000)
    assert sorted(district_ticks(page)) == ["Pishin", "Quetta"]
    page.screenshot(path=str(SCREENSHOTS / "overview_filtered.png"), full_page=True)
    page.close()


PAGES = [("Districts and schools", "districts"), ("Practices", "practices"), ("Hindrances", "hindrances"),
         ("Communities of practice", "communities"), ("Follow-up planner", "planner"), ("Data", "data"),
         ("Overview", "")]
HEADINGS = {"": "Retention of practices after the programme", "districts": "Districts and schools",
            "practices": "Practices", "hindrances": "Hindrances", "communities": "Communities of practice",
            "planner": "Follow-up planner", "data": "Data"}


def test_every_page_with_a_filter_in_the_url(server, browser):
    """Visit every page from the navigation, change the district filter there, check the URL
    carries it and nothing failed, and keep a screenshot of each."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server)
    wait_until_idle(page)
    for title, path in PAGES:
        page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True).click()
        suffix = f"/{path}" if path else ""
        page.wait_for_function(f"() => location.pathname.replace(/\\/$/, '').endsWith('{suffix}')", timeout=30_000)
        wait_until_idle(page)
        page.get_by_role("heading", name=HEADINGS[path]).first.wait_for(timeout=30_000)
        district_box = page.locator(".st-key-filter_district input")
        district_box.click()
        choice = "Pishin" if "Pishin" not in page.url else "Lasbela"
        page.get_by_role("option", name=choice).click()
        page.keyboard.press("Escape")
        page.wait_for_function(
            f"() => new URL(location.href).searchParams.getAll('district').includes('{choice}')", timeout=30_000)
        wait_until_idle(page)
        assert page.locator("[data-testid='stException']").count() == 0, title
        page.screenshot(path=str(SCREENSHOTS / f"page_{path or 'overview'}.png"), full_page=True)
    assert not errors, errors
    page.close()
