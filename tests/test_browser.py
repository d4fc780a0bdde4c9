"""A real `streamlit run dashboard.py` on a fresh database, driven by Playwright in Debian's chromium
(server, browser and waiting: tests/browser_helpers.py). Screenshots go to test-artifacts/screenshots/.
"""
import re

import pytest
from playwright.sync_api import expect

from browser_helpers import DESKTOP, PAGES, PHONE, SCREENSHOTS, go_to, new_page, screenshot, settle, url_values
from server_helpers import error_count

pytestmark = pytest.mark.slow  # a real server and chromium

DISTRICTS = {"Thatta", "Sanghar", "Mirpurkhas", "Quetta", "Pishin", "Lasbela"}
# a phone's browser, as Playwright's "iPhone 13" device describes it: Streamlit knows a phone by this
IPHONE_USER_AGENT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 15_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                     "Version/15.0 Mobile/15E148 Safari/604.1")


def legend_texts(page, key):
    """Plotly legends are SVG text, which has no innerText: read textContent."""
    return page.locator(f".st-key-{key} .legendtext").evaluate_all("nodes => nodes.map(n => n.textContent)")


def pick(page, name, option):
    page.locator(f".st-key-{name} input").click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def district_ticks(page):
    """The districts of the Overview's "districts compared" chart (its y axis's tick labels)."""
    return page.locator(".st-key-districts_chart .ytick text").evaluate_all("nodes => nodes.map(n => n.textContent)")


def test_donor_pack_downloads_stay_after_a_download(server, browser):
    """Item 3: both download buttons stay after the first download, until the filters change.
    First in the file, so that its session is the one whose first run built the database: the
    build's status box above the page went on the next run, and a donor pack box whose open state
    lived only in the browser closed with it, hiding the buttons."""
    page = new_page(browser, DESKTOP)
    page.goto(f"{server}/?district=Pishin")
    settle(page)
    page.get_by_text("Donor pack: PowerPoint").click()
    page.locator(".st-key-pack_build button").click()
    pptx, html = page.locator(".st-key-pack_pptx button"), page.locator(".st-key-pack_html button")
    expect(pptx).to_be_visible(timeout=300_000)  # building the pack takes a while on a busy machine
    with page.expect_download() as first:
        pptx.click()
    assert first.value.suggested_filename.endswith(".pptx")
    settle(page)
    expect(html).to_be_visible()
    with page.expect_download() as second:
        html.click()
    assert second.value.suggested_filename.endswith(".html")
    settle(page)
    expect(pptx).to_be_visible()
    screenshot(page, SCREENSHOTS / "donor_pack_after_downloads.png")
    pick(page, "filter_district", "Quetta")  # other districts: the pack must be built again
    settle(page)
    expect(pptx).to_have_count(0)
    page.context.close()


def test_overview_shows_retention_chart_from_ingested_sample(server, browser):
    page = new_page(browser, DESKTOP)
    page.goto(server)
    settle(page)
    expect(page.get_by_role("heading", name="Retention of practices after the programme")).to_be_visible()
    # one line per programme, and every district of the sample compared, drawn from the ingested data
    assert {"Cluster-based mentoring (coached)", "Cluster-based training (training only)"} <= set(
        legend_texts(page, "retention_chart"))
    assert DISTRICTS <= set(district_ticks(page))
    expect(page.get_by_test_id("stCaptionContainer").filter(has_text="rests on up to").first).to_be_visible()
    screenshot(page, SCREENSHOTS / "overview.png")
    page.context.close()


def test_a_district_picked_once_holds_on_every_page(server, browser):
    """Issue 13 item 1: pick Pishin once, on the Overview; every page then opens with it, in the
    sidebar, in the URL and in what it shows; nothing fails."""
    errors = []
    page = new_page(browser, DESKTOP, errors)
    page.goto(server)
    settle(page)
    assert DISTRICTS <= set(district_ticks(page))
    pick(page, "filter_district", "Pishin")  # once
    expect(page).to_have_url(re.compile(r"district=Pishin"))
    settle(page)
    assert district_ticks(page) == ["Pishin"]
    for title, path, heading in [*PAGES[1:], PAGES[0]]:
        go_to(page, title)
        expect(page).to_have_url(re.compile(rf"/{path}\?(.*&)?district=Pishin"))
        settle(page)
        expect(page.get_by_role("heading", name=heading).first).to_be_visible()
        assert url_values(page, "district") == ["Pishin"], title
        expect(page.locator(".st-key-filter_district")).to_contain_text("Pishin")
        assert error_count(page) == 0, title
        if path == "planner":  # the officer's plan is for Pishin's schools only
            expect(page.get_by_text(re.compile(r"Showing \d+ of \d+ schools"))).to_be_visible()
            shown = page.get_by_text(re.compile(r"Showing \d+ of \d+ schools")).inner_text()
            assert int(re.search(r"of (\d+) schools", shown).group(1)) < 600, shown
        screenshot(page, SCREENSHOTS / f"page_{path or 'overview'}_pishin.png")
    assert district_ticks(page) == ["Pishin"]
    assert not errors, errors
    page.context.close()


def test_tab_and_compare_by_are_in_the_url(server, browser):
    """Item 1: a page's open tab and its "Compare by" go into the URL, and that URL opens the same view."""
    page = new_page(browser, DESKTOP)
    page.goto(f"{server}/practices?district=Pishin")
    settle(page)
    page.locator(".st-key-compare_by").click()
    page.get_by_role("option", name="gender", exact=True).click()
    expect(page).to_have_url(re.compile(r"compare_by=gender"))
    page.get_by_role("tab", name="Half-life").click()
    expect(page).to_have_url(re.compile(r"tab=Half-life"))
    settle(page)
    link = page.url
    shared = new_page(browser, DESKTOP)
    shared.goto(link)
    settle(shared)
    expect(shared.get_by_role("tab", name="Half-life")).to_have_attribute("aria-selected", "true")
    expect(shared.locator(".st-key-compare_by input")).to_have_value("gender")
    expect(shared.locator(".st-key-filter_district")).to_contain_text("Pishin")
    screenshot(shared, SCREENSHOTS / "practices_from_a_link.png")
    shared.context.close()
    page.context.close()


def test_districts_page_has_one_district_box(server, browser):
    """Item 4: the district is chosen in the sidebar only; the page drills down below it."""
    page = new_page(browser, DESKTOP)
    page.goto(f"{server}/districts?district=Pishin")
    settle(page)
    main = page.get_by_test_id("stMain")
    expect(main.get_by_text("Cluster", exact=True)).to_be_visible()
    expect(main.get_by_text("District", exact=True)).to_have_count(0)
    expect(main.get_by_text("Province", exact=True)).to_have_count(0)
    screenshot(page, SCREENSHOTS / "districts_pishin.png")
    page.context.close()


# each drawn plotly chart's box, its title's, its plot areas' and its annotations' (subplot titles)
CHART_BOXES = """() => [...document.querySelectorAll('.js-plotly-plot')].filter(c => c.offsetParent !== null).map(c => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const title = c.querySelector('.gtitle');
  return {chart: box(c), title: title ? box(title) : null, text: title ? title.textContent : '',
          plots: [...c.querySelectorAll('.nsewdrag')].map(box),
          annotations: [...c.querySelectorAll('.annotation-text')].map(box)};
})"""


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_phone_titles_clear_the_toolbar_and_heatmap_titles_do_not_collide(server, browser):
    """Item 13: at 390 px every page's title sits below the toolbar and inside the screen; every
    chart's title fits inside the chart (plotly does not wrap: a 55-character line was cut at the
    right edge), no subplot title runs into it, a legend does not squeeze the plot (the decay
    chart's, at the right, left it 67 of 358 px); the hindrance heatmaps' titles do not overlap."""
    page = new_page(browser, PHONE)
    charts_seen = 0
    for _, path, heading in PAGES:
        page.goto(f"{server}/{path}")
        settle(page)
        title = page.get_by_role("heading", name=heading).first
        expect(title).to_be_visible()
        box = title.bounding_box()
        toolbar = page.get_by_test_id("stHeader").bounding_box()
        assert box["y"] >= toolbar["y"] + toolbar["height"], path
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], path
        for chart in page.evaluate(CHART_BOXES):
            charts_seen += 1
            left, _, right, _ = chart["chart"]
            if chart["title"]:
                assert left - 1 <= chart["title"][0] and chart["title"][2] <= right + 1, (path, chart["text"])
                assert not [a for a in chart["annotations"] if _overlap(a, chart["title"])], (path, chart["text"])
            assert sum(p[2] - p[0] for p in chart["plots"]) >= 0.5 * (right - left), (path, chart["text"])
    assert charts_seen >= 5  # the check looked at charts, not at an empty page
    page.goto(f"{server}/hindrances")
    settle(page)
    boxes = page.locator(".st-key-prevalence_chart .annotation-text").evaluate_all(
        "nodes => nodes.map(n => { const r = n.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })")
    assert len(boxes) >= 8
    overlaps = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]]
    assert not overlaps, overlaps
    screenshot(page, SCREENSHOTS / "phone_hindrances.png")
    page.context.close()


@pytest.mark.parametrize("device", ["narrow window", "phone"])
def test_the_sidebar_closes_after_a_page_is_chosen_on_a_narrow_screen(server, browser, device):
    """Leftover of item 13: at 390x844 the sidebar, opened to choose a page, closes once the page
    is chosen (Streamlit does so for a phone's user agent only; a narrow window of any browser
    kept it open over the page); at 1440 px it stays where it is."""
    if device == "phone":  # a phone's user agent and touch, as Playwright's iPhone 13
        context = browser.new_context(viewport=PHONE, device_scale_factor=1, reduced_motion="reduce",
                                      is_mobile=True, has_touch=True, user_agent=IPHONE_USER_AGENT)
        page = context.new_page()
    else:
        page = new_page(browser, PHONE)
    page.goto(f"{server}/?district=Pishin")
    settle(page)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_have_attribute("data-collapsed", "true")
    for title, path, heading in PAGES[1:3]:
        go_to(page, title)  # opens the sidebar, then chooses the page
        expect(page).to_have_url(re.compile(rf"/{path}\?district=Pishin"))
        settle(page)
        expect(page.get_by_role("heading", name=heading).first).to_be_visible()
        expect(sidebar).to_have_attribute("data-collapsed", "true")
    page.context.close()
    desktop = new_page(browser, DESKTOP)
    desktop.goto(server)
    settle(desktop)
    go_to(desktop, "Practices")
    settle(desktop)
    expect(desktop.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "false")
    desktop.context.close()


def test_back_and_forward_restore_the_filters(server, browser):
    """Leftover of item 13: the browser's back and forward buttons bring back the filters of that
    step, in the sidebar and on the page, within a page and across a page change (one press)."""
    page = new_page(browser, DESKTOP)
    page.goto(server)
    settle(page)
    pick(page, "filter_district", "Pishin")
    expect(page).to_have_url(re.compile(r"\?district=Pishin$"))
    settle(page)
    pick(page, "filter_district", "Sanghar")
    expect(page).to_have_url(re.compile(r"\?district=Pishin&district=Sanghar$"))
    settle(page)
    assert set(district_ticks(page)) == {"Pishin", "Sanghar"}
    districts = page.locator(".st-key-filter_district")
    page.go_back()
    expect(page).to_have_url(re.compile(r"\?district=Pishin$"))
    settle(page)
    expect(districts).to_contain_text("Pishin")
    expect(districts).not_to_contain_text("Sanghar")
    assert district_ticks(page) == ["Pishin"]
    page.go_forward()
    settle(page)
    expect(districts).to_contain_text("Sanghar")
    assert set(district_ticks(page)) == {"Pishin", "Sanghar"}
    go_to(page, "Practices")
    expect(page).to_have_url(re.compile(r"/practices\?district=Pishin&district=Sanghar$"))
    settle(page)
    page.get_by_role("tab", name="Half-life").click()
    expect(page).to_have_url(re.compile(r"/practices\?.*tab=Half-life"))
    settle(page)
    go_to(page, "Hindrances")  # the Practices page's tab goes from the URL: no step of its own
    expect(page).to_have_url(re.compile(r"/hindrances\?district=Pishin&district=Sanghar$"))
    settle(page)
    page.go_back()  # one press: the Practices page as it was left
    expect(page).to_have_url(re.compile(r"/practices\?.*tab=Half-life"))
    settle(page)
    expect(page.get_by_role("tab", name="Half-life")).to_have_attribute("aria-selected", "true")
    expect(districts).to_contain_text("Sanghar")
    page.go_back()
    expect(page).to_have_url(re.compile(r"/practices\?district=Pishin&district=Sanghar$"))
    settle(page)
    page.go_back()  # and across the page change to the Overview, with its filters
    expect(page).to_have_url(re.compile(r"/\?district=Pishin&district=Sanghar$"))
    settle(page)
    assert set(district_ticks(page)) == {"Pishin", "Sanghar"}
    page.context.close()
