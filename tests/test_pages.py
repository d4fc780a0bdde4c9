"""Every page through Streamlit's AppTest on a database built by the real ingest from sample_data/."""
import json

import pytest

from support import ROOT_DIR


PAGES = {"pages/overview.py": "Retention of practices after the programme"}


@pytest.fixture
def app(open_page):
    return lambda page, **query: open_page(page, 60, **query)


def figure(at, index=0):
    return json.loads(at.get("plotly_chart")[index].proto.spec)


@pytest.mark.parametrize("page, heading", PAGES.items())
def test_page_renders_with_heading(app, page, heading):
    at = app(page)
    assert not at.exception
    assert at.title[0].value == heading


def districts(spec) -> set:
    """The districts the "districts compared" chart draws (its points' y values)."""
    return {y for trace in spec["data"] for y in trace["y"]}


def test_overview_filter_changes_the_figure(app):
    at = app("pages/overview.py")
    everyone = districts(figure(at, 1))
    assert everyone == {"Thatta", "Sanghar", "Mirpurkhas", "Quetta", "Pishin", "Lasbela"}
    at.multiselect(key="filter_district").set_value(["Quetta"]).run()
    assert districts(figure(at, 1)) == {"Quetta"}
    assert at.query_params["district"] in ("Quetta", ["Quetta"])


def test_overview_reads_filters_from_the_url(app):
    at = app("pages/overview.py", district=["Pishin", "Lasbela"])
    assert districts(figure(at, 1)) == {"Lasbela", "Pishin"}
    assert any("rests on up to" in caption.value for caption in at.caption)


@pytest.mark.slow  # a report test: builds the PowerPoint and the HTML report
def test_overview_builds_the_donor_pack(app):
    at = app("pages/overview.py")
    at.button(key="pack_build").click().run()
    assert not at.exception
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels[-2:] == ["Download PowerPoint", "Download HTML report"]




def test_a_link_with_compare_by_opens_that_view(app):
    """Issue 13 item 1: a link carrying "Compare by" opens the page compared by it. (The browser
    writes it into the URL, and keeps the filters across pages: tests/test_browser.py checks both in
    chromium; AppTest has no browser URL and draws the entry script's widgets as the page's.)"""
    plain = app("pages/practices.py")
    linked = app("pages/practices.py", compare_by="gender")
    assert not linked.exception
    assert linked.selectbox(key="compare_by").value == "gender"
    assert len(figure(linked)["data"]) > len(figure(plain)["data"])


@pytest.mark.slow  # imports the whole sample
def test_a_page_run_directly_first_builds_the_missing_database(tmp_path, monkeypatch, page_caches):
    """A fresh demo server runs pages/districts.py directly for a typed or shared URL before
    dashboard.py has ever run (Streamlit's pages/ fallback): the page builds the database from the
    bundled sample as the entry script would, instead of failing with "no database"."""
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "fresh.duckdb"
    monkeypatch.setenv("SUSTAIN_DB", str(db))
    page_caches()
    at = AppTest.from_file(str(ROOT_DIR / "pages/districts.py"), default_timeout=180)
    at.query_params["district"] = "Pishin"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert db.exists()
    assert at.title and at.title[0].value
    assert at.sidebar.multiselect(key="filter_district").value == ["Pishin"]


def test_a_point_without_an_interval_hovers_without_one(sample_db):
    """Month 0's retention and a one-school survival curve have no interval: their hover leaves the
    line out (plotly printed "95% CI NaN%–NaN%" from the template); other points show theirs."""
    import duckdb

    from app import charts, charts_analysis
    from metrics import Filters
    from metrics.indicators import retention
    from metrics.survival import survival
    from sustain.config import load_config

    from support import with_min_group_n

    config = with_min_group_n(load_config(), 1)  # the sample's schools are small: show one
    with duckdb.connect(str(sample_db), read_only=True) as con:
        by_programme = retention(con, Filters(), ["programme"], config)
        school = con.execute("select school_id from teachers group by all order by count(*) desc, school_id limit 1").fetchone()[0]
        one_school = survival(con, Filters(school_id=(school,)), [], config)
    trace = charts.retention_curve(by_programme, "programme", "t").data[0]
    texts = dict(zip(trace.x, trace.text))
    assert texts[0] == "" and all(texts[m].startswith("95% CI ") for m in texts if m > 0)
    assert "%{text}" in trace.hovertemplate and "NaN" not in "".join(trace.text)
    later = one_school[(one_school["months"] > 0) & ~one_school["suppressed"]]
    assert len(later) and later["ci_low"].isna().all()
    curve = [t for t in charts_analysis.survival_curves(one_school, None, "t").data if t.mode == "lines+markers"][0]
    assert [text for month, text in zip(curve.x, curve.text) if month > 0] == [""] * len(later)


def test_the_grouped_charts_put_their_legend_under_the_plot(sample_db):
    """Survival's, half-life's and the decay panels' legends sit in rows under the plot: at the
    right, on a 390 px phone the legend took about a third of the chart's width (seen in chromium)."""
    import duckdb

    from app import charts, charts_analysis
    from metrics import Filters
    from metrics.decay import half_life
    from metrics.indicators import retention
    from metrics.survival import survival
    from sustain.config import load_config

    config = load_config()
    with duckdb.connect(str(sample_db), read_only=True) as con:
        by_gender = survival(con, Filters(), ["gender"], config)
        half_lives = half_life(con, Filters(), ["practice", "gender"], config)
        by_programme = retention(con, Filters(), ["programme"], config)
    figures = [charts_analysis.survival_curves(by_gender, "gender", "t"),
               charts_analysis.half_life_dots(half_lives, "gender", str, "t"),
               charts.retention_curve(by_programme, "programme", "t")]
    for figure in figures:
        legend = figure.layout.legend
        assert legend.orientation == "h" and legend.y < 0 and legend.yanchor == "top", figure.layout.title.text
    assert figures[0].layout.legend.title.text == "gender"
    # the last round's value label reaches into the right margin: clipped at the axes, a phone
    # showed "11" for 11% at month 24
    labelled = [trace for trace in figures[2].data if "text" in (trace.mode or "")]
    assert labelled and all(trace.cliponaxis is False for trace in labelled)
    assert figures[2].layout.margin.r >= 28


def test_the_hindrance_chart_hovers_only_the_figures_it_has(sample_db):
    """With a months filter the risk difference by month 12 is blank: the hover leaves its line out
    (the template printed "+NaN% (+NaN% to +NaN%)"); without one it is there."""
    import duckdb

    from app import charts_analysis
    from metrics import Filters
    from metrics.hindrance_effect import hindrance_effect
    from sustain.config import load_config

    config = load_config()
    with duckdb.connect(str(sample_db), read_only=True) as con:
        tables = {months: hindrance_effect(con, Filters(months_min=months), [], config) for months in (None, 6)}
    for months, table in tables.items():
        hovers = [text for trace in charts_analysis.forest(table, None, str, "t").data
                  if trace.mode == "markers" for text in trace.text]
        assert hovers and not any("NaN" in text or "nan" in text for text in hovers)
        assert all(("difference in abandonment" in text) == (months is None) for text in hovers), months


def test_the_meetings_chart_hovers_only_the_figures_it_has():
    """A cluster whose visits never answered the CoP question has no share of visits: its hover
    leaves that line out (the template printed "NaN% of visits heard the CoP met")."""
    import pandas as pd

    from app import charts_analysis

    table = pd.DataFrame({"cluster": ["A", "B"], "meetings_per_month": [1.5, 0.25], "active_share": [0.4, float("nan")],
                          "n": [20, 0], "meetings": [18.0, 3.0], "teachers": [12, 11], "suppressed": [False, False]})
    hover = dict(zip(table["cluster"], charts_analysis.meetings_bars(table, 1.0, "t").data[0].hovertext))
    assert "40% of visits heard the CoP met last month" in hover["A"] and "1.50 meetings per month (18 logged)" in hover["A"]
    assert "of visits heard" not in hover["B"] and "n = 0 visits, 11 teachers" in hover["B"]
    assert not any("nan" in text.lower() for text in hover.values())


@pytest.mark.slow  # another Python runs the dashboard
def test_the_dashboard_keeps_the_libraries_out_of_each_runs_garbage_collection(sample_db):
    """Streamlit collects garbage after every script run; a full collection walked the imported
    libraries' objects (about 170,000: 50 ms holding the interpreter, every rerun of every session).
    A run of dashboard.py, in a fresh interpreter, leaves them frozen out of the collector's sight,
    and what is made after is still collected."""
    import os
    import subprocess
    import sys

    code = """
import gc, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120).run()
assert not at.exception, at.exception
frozen = gc.get_freeze_count()
class Cycle: pass
made_after = Cycle(); made_after.itself = made_after; del made_after
print(frozen, gc.collect())
"""
    done = subprocess.run([sys.executable, "-c", code, str(ROOT_DIR / "dashboard.py")], cwd=ROOT_DIR,
                          env=os.environ | {"SUSTAIN_DB": str(sample_db)}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, collected = map(int, done.stdout.split()[-2:])
    assert frozen > 100_000
    assert collected >= 1
    # and the server does not collect the whole heap after every run (.streamlit/config.toml)
    import tomllib

    settings = tomllib.loads((ROOT_DIR / ".streamlit" / "config.toml").read_text())
    assert settings["runner"]["postScriptGC"] is False
