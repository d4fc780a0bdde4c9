"""The donor pack (report/): PPTX with native charts carrying the numbers of `python -m metrics`,
a self-contained HTML report that opens offline in chromium, Urdu right-to-left, escaping of user
text, PNG export through kaleido and the system chromium.

Browser parts use Debian's chromium (/usr/bin/chromium): without it they skip and say so, except
in CI (CI=true), where a missing chromium fails.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import pytest
from pptx import Presentation
from pptx.oxml.ns import qn

from report.content import TOO_FEW, build_report, readme_indicators
from report.html_report import build_html, esc, figures
from report.png import NO_CHROMIUM, PNG_MAGIC, figure_png
from report.pptx_deck import build_deck
from metrics.definitions import DEFINITIONS
from metrics.registry import INDICATORS
from sustain.config import load_config
from sustain.db import read_only
from support import ROOT_DIR, teacher, visit, write_config, write_kobo, write_roster
from support import run_cli as in_process  # python -m MODULE's main(argv), or a process

pytestmark = pytest.mark.slow  # the donor pack's PowerPoint, HTML and PNG

CHROMIUM = "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHART_KEYS = ["retention", "districts", "half_life", "hindrances"]


def needs_chromium():
    if not HAVE_CHROMIUM:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)")
        pytest.skip("browser test skipped: no chromium at /usr/bin/chromium (apt-get install -y chromium)")


def metrics_rows(db: Path, indicator: str, programme: str, by: str = "") -> list[dict]:
    args = [indicator, "--db", str(db), "--where", f"programme={programme}", "--format", "json"]
    if by:
        args += ["--by", by]
    code, out, err = in_process("metrics", args)  # `python -m metrics`'s main: its very JSON
    assert code == 0, err
    return json.loads(out)["rows"]


@pytest.fixture(scope="module")
def pack(sample_db, tmp_path_factory):
    """`python -m report` for CBM (English) and CBT (Urdu) on the sample data."""
    out = tmp_path_factory.mktemp("pack")
    for programme, language, process in (("CBM", "en", True), ("CBT", "ur", False)):  # one real process
        code, stdout, stderr = in_process("report", ["--programme", programme, "--language", language, "--db",
                                                     str(sample_db), "--out", str(out)], process=process)
        assert code == 0, stderr
        assert f"sustain_{programme}.pptx" in stdout and f"sustain_{programme}.html" in stdout
    return out


def charts_of(path: Path) -> dict[str, object]:
    """Chart slides' charts, keyed by chart (slides 2-5 in chart order)."""
    deck = Presentation(str(path))
    charts = [shape.chart for slide in deck.slides for shape in slide.shapes if shape.has_chart]
    return dict(zip(CHART_KEYS, charts))


def same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


# -- PPTX ---------------------------------------------------------------------------------------
def test_pptx_charts_are_native_and_carry_the_numbers_of_python_m_metrics(pack, sample_db):
    deck = Presentation(str(pack / "sustain_CBM.pptx"))
    chart_shapes = [shape for slide in deck.slides for shape in slide.shapes if shape.has_chart]
    assert len(chart_shapes) == 4
    assert not [shape for slide in deck.slides for shape in slide.shapes if shape.shape_type == 13], "no pictures"
    charts = charts_of(pack / "sustain_CBM.pptx")

    # retention curve: x = months, y = rate of every round that is shown
    rows = [r for r in metrics_rows(sample_db, "retention", "CBM") if not r["suppressed"]]
    series = charts["retention"].plots[0].series[0]
    x_values = [float(v.text) for v in series._element.find(qn("c:xVal")).iter(qn("c:v"))]
    assert x_values == [float(r["months"]) for r in rows]
    assert all(same(a, r["rate"]) for a, r in zip(series.values, rows, strict=True))
    assert charts["retention"].chart_type == 74  # XY_SCATTER_LINES

    # districts at the latest round with a shown value
    rows = metrics_rows(sample_db, "retention", "CBM", "district")
    latest = max(r["months"] for r in rows if not r["suppressed"] and r["months"] > 0)
    rows = [r for r in rows if r["months"] == latest]
    plot = charts["districts"].plots[0]
    assert [c.split(" (")[0] for c in plot.categories] == [r["district"] for r in rows]
    assert all(same(a, None if r["suppressed"] else r["rate"]) for a, r in zip(plot.series[0].values, rows, strict=True))

    # half-lives by practice, shortest first (those without one after, in config order)
    config = load_config()
    rows = {r["practice"]: r for r in metrics_rows(sample_db, "half_life", "CBM", "practice")}
    plot = charts["half_life"].plots[0]
    order = sorted((c for c in config.practice_codes if c in rows),
                   key=lambda c: (rows[c]["half_life_months"] is None, rows[c]["half_life_months"] or 0))
    assert [c.split(" (")[0] for c in plot.categories] == [config.practice_label(code) for code in order]
    expected = [None if rows[c]["suppressed"] else rows[c]["half_life_months"] for c in order]
    assert all(same(a, b) for a, b in zip(plot.series[0].values, expected, strict=True))

    # hindrance hazard ratios
    rows = metrics_rows(sample_db, "hindrance_effect", "CBM")
    plot = charts["hindrances"].plots[0]
    assert [c.split(" (")[0] for c in plot.categories] == [config.hindrance_label(r["hindrance"]) for r in rows]
    assert all(same(a, None if r["suppressed"] else r["hazard_ratio"])
               for a, r in zip(plot.series[0].values, rows, strict=True))
    # log axis crossing at a hazard ratio of 1
    value_axis = charts["hindrances"].value_axis._element
    assert value_axis.find(qn("c:scaling")).find(qn("c:logBase")) is not None


def test_pptx_slides_carry_n_dates_and_method(pack):
    deck = Presentation(str(pack / "sustain_CBM.pptx"))
    slides = list(deck.slides)
    title_text = " ".join(s.text_frame.text for s in slides[0].shapes if s.has_text_frame)
    config = load_config()
    programme = next(p for p in config.programmes if p.code == "CBM")
    for fact in (programme.name, programme.funder, config.version):
        assert fact in title_text
    assert re.search(r"Follow-up visits: \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d", title_text)
    summary = " ".join(s.text_frame.text for s in slides[1].shapes if s.has_text_frame)
    assert summary.startswith("Summary") and "n = " in summary  # the executive summary comes second
    for slide in slides[2:6]:
        assert any(shape.has_chart for shape in slide.shapes)
        text = " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
        assert "n = " in text or "n per round" in text
        assert re.search(r"Visits \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d", text)
        assert "Method:" in text
    methodology = " ".join(s.text_frame.text for slide in slides[6:] for s in slide.shapes if s.has_text_frame)
    for indicator in ("retention", "half_life", "hindrance_effect"):
        assert DEFINITIONS[indicator].plain in methodology
    assert "`" not in methodology and "metrics/" not in methodology and ".py" not in methodology


def test_suppressed_groups_are_too_few_to_show_never_zero(sample_db, tmp_path):
    """A threshold just above the smallest district's teachers at the latest round hides that
    district (and, complementary, another): empty category named so, caption says so, never 0."""
    config = load_config()
    with read_only(sample_db) as con:
        plain = build_report(con, config, "CBM")
        smallest = min(p.teachers for p in plain.chart("districts").points)
        strict = load_config(write_config(tmp_path, **{"thresholds.min_group_n": smallest + 1}))
        report = build_report(con, strict, "CBM")
    hidden = [p for p in report.chart("districts").points if p.status == TOO_FEW]
    assert hidden and all(p.value is None for p in hidden)
    chart = charts_of_bytes(build_deck(report), tmp_path)["districts"]
    values = dict(zip(chart.plots[0].categories, chart.plots[0].series[0].values))
    for point in hidden:
        assert values[f"{point.label} (too few to show)"] is None
    page = build_html(report)
    section = page.split('id="section-districts"')[1].split("</section>")[0]
    for point in hidden:
        assert f"{esc(point.label)}: too few to show" in section


def test_nothing_to_show_when_every_group_is_too_small(sample_db, tmp_path):
    config = load_config(write_config(tmp_path, **{"thresholds.min_group_n": 10**7}))
    with read_only(sample_db) as con:
        report = build_report(con, config, "CBM")
    assert all(not chart.shown for chart in report.charts)
    assert not [s for s in charts_of_bytes(build_deck(report), tmp_path).values()]
    page = build_html(report)
    assert "js-plotly-plot" not in page and "too few to show" in page


def charts_of_bytes(content: bytes, tmp_path: Path) -> dict:
    path = tmp_path / "deck.pptx"
    path.write_bytes(content)
    return charts_of(path)


# -- HTML ---------------------------------------------------------------------------------------
def outside_scripts(page: str) -> str:
    return re.sub(r"<script\b.*?</script>", "", page, flags=re.S | re.I)


def test_html_is_self_contained(pack):
    import plotly.offline

    page = (pack / "sustain_CBM.html").read_text(encoding="utf-8")
    bundle_head = plotly.offline.get_plotlyjs()[:300]
    assert page.count(bundle_head) == 1, "plotly.js inlined exactly once"
    assert page.count('class="plotly-graph-div"') == 4
    markup = outside_scripts(page)
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", markup, re.I), "no external resource"
    assert "http://" not in markup and "https://" not in markup
    assert '<html lang="en" dir="ltr">' in page
    # the methodology appendix gives each indicator's definition in plain words, from the one table
    documented = readme_indicators()
    assert set(documented) == set(INDICATORS)
    for indicator in ("retention", "half_life", "hindrance_effect"):
        assert esc(DEFINITIONS[indicator].plain) in page


def test_executive_summary_comes_first_and_speaks_to_a_donor(pack, sample_db):
    """The summary is the pages' sentences (report/answers.py) on this programme's tables, before any
    chart; the appendix names no code, module or column, and says each definition once."""
    from report import answers

    page = (pack / "sustain_CBM.html").read_text(encoding="utf-8")
    markup = outside_scripts(page)
    config = load_config()
    with read_only(sample_db) as con:
        report = build_report(con, config, "CBM")
        retention = INDICATORS["retention"](con, report.filters, [], config)
        effects = INDICATORS["hindrance_effect"](con, report.filters, [], config)
    assert report.summary[0] == answers.retention_answer(retention, effects, hindrance_label=config.hindrance_label)
    assert esc(report.summary[0]) in markup
    assert markup.index('id="summary"') < markup.index('id="section-retention"') < markup.index('id="methodology"')
    latest = retention[retention["months"] == retention["months"].max()].iloc[0]
    assert f"n = {latest['n']:,} teacher-practices, {latest['teachers']:,} teachers" in report.summary[0]
    appendix = markup[markup.index('id="methodology"'):]
    assert "<code>" not in appendix and "metrics/" not in appendix and ".py" not in appendix
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", re.sub(r'data-indicator="[^"]*"', "", re.sub(r"<[^>]+>", " ", appendix)))
    for indicator in ("retention", "half_life", "hindrance_effect"):
        assert appendix.count(esc(DEFINITIONS[indicator].plain)) == 1
    # the method of a chart is said in its caption, not again in the appendix
    assert esc(report.t("method_retention")) not in appendix
    # chart titles state the finding
    assert report.chart("half_life").title == answers.half_life_title(report.chart("half_life").table,
                                                                       config.practice_label)
    assert "fades fastest" in report.chart("half_life").title
    assert "goes with the fastest loss" in report.chart("hindrances").title


def test_urdu_labels_are_not_clipped_and_axis_titles_clear_their_ticks(pack):
    """In chromium, with the Noto fonts: every category label of the Urdu report lies inside its
    chart, and no y axis title overlaps a tick label."""
    needs_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto((pack / "sustain_CBT.html").as_uri())
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4", timeout=20000)
            found = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(plot => {
                const svg = plot.querySelector('.main-svg').getBoundingClientRect();
                const ticks = [...plot.querySelectorAll('.ytick text')].map(t => t.getBoundingClientRect());
                const title = plot.querySelector('.ytitle');
                const box = title ? title.getBoundingClientRect() : null;
                return {id: plot.id, left: svg.left, lefts: ticks.map(t => t.left),
                        overlap: box ? ticks.some(t => box.right > t.left && box.left < t.right
                                                        && box.bottom > t.top && box.top < t.bottom) : false};
            })""")
        finally:
            browser.close()
    assert len(found) == 4
    for chart in found:
        assert chart["lefts"] and min(chart["lefts"]) >= chart["left"] - 0.5, chart
        assert not chart["overlap"], chart


def test_urdu_report_is_right_to_left(pack):
    page = (pack / "sustain_CBT.html").read_text(encoding="utf-8")
    assert '<html lang="ur" dir="rtl">' in page
    config = load_config()
    assert config.practice_label("group_work", "ur") in page
    deck = Presentation(str(pack / "sustain_CBT.pptx"))
    chart = [shape.chart for slide in deck.slides for shape in slide.shapes if shape.has_chart][2]
    assert config.practice_label("group_work", "ur") in list(chart.plots[0].categories)


def test_html_opens_offline_in_chromium_and_shows_every_chart(pack):
    needs_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            for name, direction in (("sustain_CBM.html", "ltr"), ("sustain_CBT.html", "rtl")):
                page = browser.new_page()
                requests, errors = [], []
                page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
                page.on("pageerror", lambda error: errors.append(str(error)))

                def route(route):
                    if route.request.url.startswith("file:"):
                        route.continue_()
                    else:
                        requests.append(route.request.url)
                        route.abort()
                page.route("**/*", route)
                page.goto((pack / name).as_uri())
                page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 4",
                                       timeout=20000)
                assert page.locator(".js-plotly-plot").count() == 4
                assert page.evaluate("document.documentElement.dir") == direction
                assert requests == [], f"network requests attempted: {requests}"
                assert errors == [], errors
                page.close()
        finally:
            browser.close()


def test_user_text_is_escaped(tmp_path):
    """A district called `<script>...` (through the real ingest) is text everywhere, never markup."""
    from ingest import ingest_files

    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    config = load_config(write_config(tmp_path, **{"thresholds.min_group_n": 1}))
    roster, visits = [], []
    for index in range(4):
        district = evil if index % 2 else "Thatta"
        school, cluster = f"S{index}", f"C{index % 2}"
        roster.append(teacher(f"T{index}", school, cluster=cluster, district=district))
        for month in (0, 3, 6, 12):
            score = "4" if month < 6 or index == 0 else "1"
            visits.append(visit(f"u{index}-{month}", f"T{index}", school, month=month, district=district,
                                cluster=cluster, scores={"group_work": score, "questioning": score},
                                comments=evil, hindrances="low_pay" if index % 2 else ""))
    files = [write_roster(tmp_path / "roster.csv", roster), write_kobo(tmp_path / "kobo.csv", visits)]
    result = ingest_files(files, config, config.database_path())
    assert result.ok and not any(f.quarantined for f in result.files), result
    with read_only(config.database_path()) as con:
        report = build_report(con, config, "CBM")
    assert evil in [p.label for p in report.chart("districts").points]
    page = build_html(report)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert esc(evil) in page
    # plotly draws a small HTML subset in labels: the label handed to it is escaped too
    labels = figures(report)["districts"].data[0].y
    assert esc(evil) in labels and evil not in labels
    deck = charts_of_bytes(build_deck(report), tmp_path)
    assert evil in deck["districts"].plots[0].categories  # PowerPoint text: kept as written, XML-escaped
    # the file name never carries it
    with read_only(config.database_path()) as con:
        named = build_report(con, config, "CBM", districts=[evil])
    assert re.fullmatch(r"sustain_CBM_[A-Za-z0-9-]+", named.file_stem)


# -- PNG ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_figure(sample_db):
    with read_only(sample_db) as con:
        report = build_report(con, load_config(), "CBM")
    return figures(report)["retention"]


def test_png_export(small_figure):
    needs_chromium()
    image = figure_png(small_figure, width=600, height=400, scale=1)
    assert image.startswith(PNG_MAGIC)


def test_png_without_chromium_says_how_to_get_it(small_figure, tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match=re.escape(NO_CHROMIUM)):
        figure_png(small_figure, chromium=tmp_path / "no-such-chromium")
    import report.png as png

    monkeypatch.delenv("SUSTAIN_CHROMIUM", raising=False)
    monkeypatch.setattr(png, "DEFAULT_CHROMIUM", str(tmp_path / "missing"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=re.escape(NO_CHROMIUM)):
        figure_png(small_figure)


def test_cli_refuses_unknown_programme_and_district(sample_db, tmp_path):
    code, _, err = in_process("report", ["--programme", "NOPE", "--db", str(sample_db), "--out", str(tmp_path)])
    assert code == 2 and "unknown programme" in err
    code, _, err = in_process("report", ["--programme", "CBM", "--district", "Atlantis", "--db", str(sample_db),
                                         "--out", str(tmp_path)])
    assert code == 2 and "no district 'Atlantis'" in err
    assert not list(tmp_path.iterdir())
