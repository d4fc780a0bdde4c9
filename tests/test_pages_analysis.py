"""The analysis pages (districts, practices, hindrances, communities) through Streamlit's AppTest on
the sample database built by the real ingest (the session's `sample_db`, tests/conftest.py)."""
import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from support import ROOT_DIR, write_config

PAGES = {
    "pages/districts.py": "Districts and schools",
    "pages/practices.py": "Practices",
    "pages/hindrances.py": "Hindrances",
    "pages/communities.py": "Communities of practice",
}


# The sample's schools have two teachers each: at the default min_group_n (5 distinct teachers) no
# school can be shown, so the Districts page is exercised with schools of two teachers shown.
SCHOOLS_SHOWN = {"thresholds.min_group_n": 2}


@pytest.fixture
def app(sample_db, monkeypatch, tmp_path):
    monkeypatch.setenv("SUSTAIN_DB", str(sample_db))
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()

    def run(page, **changes):
        if changes:
            monkeypatch.setenv("SUSTAIN_CONFIG", str(write_config(tmp_path, **changes)))
        return AppTest.from_file(str(ROOT_DIR / page), default_timeout=60).run()
    return run


def figure(at, key):
    """The plotly figure of the chart with this widget key."""
    charts = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id]
    assert charts, f"no chart {key}"
    return json.loads(charts[0].proto.spec)


def names(spec) -> set:
    return {trace.get("name") for trace in spec["data"] if trace.get("showlegend", True) is not False}


def values(array) -> list:
    """A plotly array as numbers: a list, or plotly's typed-array form {"dtype", "bdata"}."""
    if isinstance(array, dict):
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def points(spec, axis="x") -> set:
    return {value for trace in spec["data"] for value in (trace.get(axis) or []) if value is not None}


@pytest.mark.parametrize("page, heading", PAGES.items())
def test_page_renders_with_heading(app, page, heading):
    at = app(page, **(SCHOOLS_SHOWN if page == "pages/districts.py" else {}))
    assert not at.exception
    assert at.title[0].value == heading
    assert at.get("plotly_chart"), "every analysis page draws a figure"
    assert any("rests on up to" in caption.value for caption in at.caption)


def test_districts_at_the_default_threshold_show_no_school_of_two_teachers(app):
    at = app("pages/districts.py")
    assert not at.exception
    table = at.dataframe[0].value
    assert len(table) and table["n"].isna().all() and table["teachers"].isna().all()
    assert table["latest_retention"].isna().all()
    assert any(caption.value.startswith("Nothing to show") for caption in at.caption)


def test_districts_filter_and_drill_down(app, sample_db):
    at = app("pages/districts.py", **SCHOOLS_SHOWN)
    everywhere = points(figure(at, "schools_chart"))
    at.multiselect(key="filter_district").set_value(["Quetta"]).run()
    quetta = points(figure(at, "schools_chart"))
    assert quetta and quetta < everywhere
    schools = at.dataframe[0].value
    assert set(schools["district"]) == {"Quetta"}
    # ranked on the evidence of decay, and the classes separate the schools
    ranked = schools["p_below_programme"].dropna()
    assert ranked.is_monotonic_decreasing and len(ranked) > 10
    judged = schools[schools["persistence_class"] != "too few to show"]["persistence_class"].value_counts(normalize=True)
    assert {"decaying", "uncertain", "persisting"} <= set(judged.index) and judged.max() < 0.7
    spec = figure(at, "schools_chart")
    drawn = {trace["name"]: values(trace["y"]) for trace in spec["data"]}
    assert all(y >= 0.8 for y in drawn["decaying"]) and all(y <= 0.2 for y in drawn["persisting"])
    assert any("likely to keep fewer practices than its programme" in c.value for c in at.caption)

    at.selectbox(key="drill_cluster").set_value("QUE-C1").run()
    table = at.dataframe[0].value
    assert set(table["cluster"]) == {"QUE-C1"} and points(figure(at, "schools_chart")) <= set(table["school_id"])
    assert set(table["persistence_class"]) <= {"decaying", "uncertain", "persisting", "too few to show"}
    school = next(s for s in at.selectbox(key="drill_school").options if s != "all")
    at.selectbox(key="drill_school").set_value(school.split(" · ")[0]).run()
    assert not at.exception
    teachers = at.dataframe[-1].value
    assert len(teachers) >= 1 and teachers["teacher_key"].astype(str).str.len().gt(0).all()
    # no names: nothing of the roster's teacher_name column reaches the page
    roster = pd.read_csv(ROOT_DIR / "sample_data" / "roster.csv")
    shown = " ".join(teachers.astype(str).to_numpy().ravel())
    assert not any(name in shown for name in roster["teacher_name"])

    # a district outside the drill's cluster resets the lower levels
    at.multiselect(key="filter_district").set_value(["Thatta"]).run()
    assert at.selectbox(key="drill_cluster").value == "all"
    assert set(at.dataframe[0].value["district"]) == {"Thatta"}


def test_practices_compare_by_changes_the_figures(app):
    at = app("pages/practices.py")
    assert not at.exception
    decay, survival = figure(at, "decay_chart"), figure(at, "survival_chart")
    assert len(names(decay)) == 6  # one line per practice, labels from config
    assert "Group work" in names(decay)
    assert [name.split(" (")[0] for name in names(survival)] == ["all practices"]
    at.selectbox(key="compare_by").set_value("province").run()
    assert not at.exception
    assert {a["text"] for a in figure(at, "decay_chart")["layout"]["annotations"]} >= {"Balochistan", "Sindh"}
    assert {name.split(" (")[0] for name in names(figure(at, "survival_chart"))} == {"Balochistan", "Sindh"}
    assert names(figure(at, "half_life_chart")) == {"Balochistan", "Sindh"}


def test_hindrances_filter_and_compare_by(app):
    at = app("pages/hindrances.py")
    heat = figure(at, "prevalence_chart")
    assert points(heat, "y") == {"Thatta", "Sanghar", "Mirpurkhas", "Quetta", "Pishin", "Lasbela"}
    forest = figure(at, "forest_chart")
    assert forest["layout"]["xaxis"]["type"] == "log"
    assert "hazard ratio" in forest["layout"]["xaxis"]["title"]["text"]
    assert any("n = " in str(label) for label in points(forest, "y"))
    caption = " ".join(c.value for c in at.caption)
    assert "reported at the teacher's previous visit" in caption
    assert "adjusted for round, practice and programme; Benjamini–Hochberg across all hindrances shown" in caption
    at.multiselect(key="filter_district").set_value(["Quetta"]).run()
    assert points(figure(at, "prevalence_chart"), "y") == {"Quetta"}
    at.selectbox(key="compare_by").set_value("gender").run()
    assert not at.exception
    assert names(figure(at, "forest_chart")) >= {"female", "male"}


def test_communities_filter_changes_the_figures(app):
    at = app("pages/communities.py")
    assert len(points(figure(at, "meetings_chart"))) == 24
    cop = {"still meeting (active)", "stopped meeting (inactive)"}
    assert names(figure(at, "cop_retention_chart")) == cop
    at.multiselect(key="filter_district").set_value(["Quetta"]).run()
    assert points(figure(at, "meetings_chart")) == {"QUE-C1", "QUE-C2", "QUE-C3", "QUE-C4"}
    assert names(figure(at, "cop_retention_chart")) == cop
    at.multiselect(key="filter_school_type").set_value(["high"]).run()
    at.multiselect(key="filter_gender").set_value(["male"]).run()
    assert "too few to show" in " ".join(c.value for c in at.caption)
