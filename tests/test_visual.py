"""Visual regression (issue 13 item 15): every page at phone (390x844) and desktop (1440x900) width
in chromium, compared with its reference in tests/visual/.

A page fails when more than MAX_CHANGED of its pixels changed (anti-aliasing and one-pixel shifts do
not count: browser_helpers.differing_pixels); the screenshot and a diff image (changes in red) are
kept in test-artifacts/visual/. References change only deliberately, after looking at the diffs:

    SUSTAIN_UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/test_visual.py

The Data page's tables are masked: they show when the files were imported.
"""
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from browser_helpers import ARTIFACTS, PAGES, VIEWPORTS, diff_image, differing_pixels, new_page, screenshot, settle

pytestmark = pytest.mark.slow  # a real server and chromium

REFERENCES = Path(__file__).parent / "visual"
OUTPUT = ARTIFACTS / "visual"
UPDATE = os.environ.get("SUSTAIN_UPDATE_SCREENSHOTS") == "1"
MAX_CHANGED = 0.005  # share of a page's pixels


@pytest.mark.parametrize("width", VIEWPORTS)
def test_every_page_looks_as_its_reference(sample_server, browser, width):
    page = new_page(browser, VIEWPORTS[width])
    failures = []
    for _, path, heading in PAGES:
        page.goto(f"{sample_server}/{path}")
        settle(page)
        expect(page.get_by_role("heading", name=heading).first).to_be_visible()
        name = f"{width}_{path or 'overview'}.png"
        mask = [page.get_by_test_id("stDataFrame")] if path == "data" else []
        actual = screenshot(page, OUTPUT / name, mask=mask)
        reference = REFERENCES / name
        if UPDATE:
            REFERENCES.mkdir(exist_ok=True)
            shutil.copy(OUTPUT / name, reference)
            continue
        if not reference.exists():
            failures.append(f"{name}: no reference (make it with SUSTAIN_UPDATE_SCREENSHOTS=1)")
            continue
        changed = differing_pixels(Image.open(reference).convert("RGB"), actual)
        if changed.mean() > MAX_CHANGED:
            diff_image(actual, changed).save(OUTPUT / f"diff_{name}")
            failures.append(f"{name}: {changed.mean():.2%} of the pixels changed; see {OUTPUT / ('diff_' + name)}")
    page.context.close()
    assert not failures, "\n".join(failures)
