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
def app(sample_db, monkeypatch, tmp_path, page_caches):
    monkeypatch.setenv("SUSTAIN_DB", str(sample_db))

    def run(page, **changes):
        if changes:
            monkeypatch.setenv("SUSTAIN_CONFIG", str(write_config(tmp_path, **changes)))
        page_caches()
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
    # the caption says every school's figures are hidden (and why), while the chances are drawn
    assert any(f"{len(table):,} schools have fewer than 5 teachers" in caption.value for caption in at.caption)


def test_a_country_of_more_schools_than_the_table_lists_says_so(app, monkeypatch):
    """At national scale the table lists the schools with the strongest evidence, not all 166,667,
    and says so (the sample: 600 schools, 50 listed); the ranking's sentence no longer claims every
    school is listed. A district with fewer schools lists all of them again."""
    from app import charts_analysis

    at = app("pages/districts.py", **SCHOOLS_SHOWN)
    listed = at.dataframe[0].value
    assert any("the table lists every school" in caption.value for caption in at.caption)
    monkeypatch.setattr(charts_analysis, "SCHOOLS_LISTED", 150)
    at = app("pages/districts.py", **SCHOOLS_SHOWN)
    first = at.dataframe[0].value
    assert len(first) == 150 and len(listed) > 150
    assert list(first["school_id"]) == list(listed["school_id"][:150])  # strongest evidence first
    caption = " ".join(c.value for c in at.caption)
    assert (f"of {len(listed):,} schools judged" in caption or f"{len(listed):,} schools judged" in caption)
    assert "The table lists the 150 with the strongest evidence: choose a district or a cluster" in caption
    assert "the table lists every school" not in caption
    # nor does the School box offer them all: it asks to narrow first; the cluster box still lists
    assert at.selectbox(key="drill_school").options == ["all"]
    assert f"{len(listed):,} to choose from: choose a district (in the sidebar) or a cluster first." in caption
    assert len(at.selectbox(key="drill_cluster").options) > 10
    at.multiselect(key="filter_district").set_value(["Quetta"]).run()
    assert 0 < len(at.dataframe[0].value) < 150 and any("the table lists every school" in c.value for c in at.caption)
    assert len(at.selectbox(key="drill_school").options) == len(at.dataframe[0].value) + 1
    assert not any("to choose from" in c.value for c in at.caption)


def test_a_link_to_a_school_opens_it_where_the_box_cannot_list_every_school(app, monkeypatch):
    from app import charts_analysis

    monkeypatch.setattr(charts_analysis, "SCHOOLS_LISTED", 150)
    at = app("pages/districts.py", **SCHOOLS_SHOWN)
    school = at.dataframe[0].value["school_id"].iloc[-1]  # beyond the listed ones
    at = AppTest.from_file(str(ROOT_DIR / "pages/districts.py"), default_timeout=60)
    at.query_params["drill_school"] = school
    at.run()
    assert not at.exception
    assert at.selectbox(key="drill_school").options[1].startswith(school)
    assert at.selectbox(key="drill_school").value == school
    assert at.table, "the chosen school's card"


def test_districts_filter_and_drill_down(app, sample_db):
    at = app("pages/districts.py", **SCHOOLS_SHOWN)
    everywhere = drawn_schools(figure(at, "schools_chart"))
    at.multiselect(key="filter_district").set_value(["Quetta"]).run()
    quetta = drawn_schools(figure(at, "schools_chart"))
    assert quetta and quetta != everywhere
    schools = at.dataframe[0].value
    assert set(schools["district"]) == {"Quetta"}
    # ranked on the evidence of decay, and the classes separate the schools
    ranked = schools["p_below_programme"].dropna()
    assert ranked.is_monotonic_decreasing and len(ranked) > 10
    judged = schools[schools["persistence_class"] != "too few to show"]["persistence_class"].value_counts(normalize=True)
    assert {"decaying", "uncertain", "persisting"} <= set(judged.index) and judged.max() < 0.7
    spec = figure(at, "schools_chart")
    drawn = {trace["name"]: values(trace["x"]) for trace in spec["data"]}
    assert all(x >= 0.8 for x in drawn.get("decaying", [])) and all(x <= 0.2 for x in drawn.get("persisting", []))
    assert any("likely to keep fewer practices than its programme's schools as a whole 24 months after the "
               "programme" in m.value for m in at.markdown)

    at.selectbox(key="drill_cluster").set_value("QUE-C1").run()
    table = at.dataframe[0].value
    assert set(table["cluster"]) == {"QUE-C1"} and drawn_schools(figure(at, "schools_chart")) <= set(table["school_id"])
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


def drawn_schools(spec) -> set:
    """The school codes of the ranking's points (first of each point's customdata)."""
    return {row[0] for trace in spec["data"] for row in trace.get("customdata") or []}


def test_school_ranking_leads_with_evidence_not_tiny_schools(app):
    """Pishin with every school's counts shown (min_group_n 1): the drawn schools are the
    strongest evidence first, each named on the chart (top row first); among schools that kept
    none of their practices, those resting on more observations come first, so a school of one
    or two observations at 0% does not lead; a chosen school is highlighted, its hindrances shown
    in a wrapped table; the classes still separate the schools."""
    at = app("pages/districts.py", **{"thresholds.min_group_n": 1})
    at.multiselect(key="filter_district").set_value(["Pishin"]).run()
    assert not at.exception
    table = at.dataframe[0].value
    spec = figure(at, "schools_chart")
    rows = sorted(((y, row[0], x) for trace in spec["data"] for y, x, row in
                   zip(values(trace["y"]), values(trace["x"]), trace["customdata"])), reverse=True)
    codes = [code for _, code, _ in rows]
    assert len(codes) == 15 and codes == table["school_id"].head(15).tolist()
    chances = [x for _, _, x in rows]
    assert chances == sorted(chances, reverse=True) and chances[0] == table["p_below_programme"].max()
    names = [a["text"] for a in spec["layout"]["annotations"] if "(SCH-" in a["text"]]
    assert [n.split("(")[1].rstrip(")") for n in names] == table["school_id"].head(15).tolist()
    # tiny schools at 0% do not lead: among the schools that kept nothing, more evidence first
    kept_none = table[table["latest_retention"] == 0]
    assert len(kept_none) > 5
    assert kept_none["n"].iloc[0] >= kept_none["n"].median() and kept_none["n"].iloc[0] > kept_none["n"].min()
    judged = table[table["persistence_class"] != "too few to show"]["persistence_class"].value_counts(normalize=True)
    assert judged["decaying"] < 0.5

    chosen = table["school_id"].iloc[20]  # outside the top 15: drawn too, highlighted
    at.selectbox(key="drill_school").set_value(chosen).run()
    spec = figure(at, "schools_chart")
    assert chosen in drawn_schools(spec) and len(drawn_schools(spec)) == 16
    assert any(a["text"].startswith("<b>") and chosen in a["text"] for a in spec["layout"]["annotations"])
    widths = {row[0]: w for trace in spec["data"] for row, w in
              zip(trace["customdata"], values(trace["marker"]["line"]["width"]))}
    assert widths[chosen] > 0 and all(w == 0 for code, w in widths.items() if code != chosen)
    card = at.table[0].value
    assert card.loc["Hindrances reported"].iloc[0] == table.set_index("school_id").loc[chosen, "hindrances"]
    assert chosen in card.loc["School"].iloc[0]


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


def test_the_survival_tab_says_what_its_curve_counts_as_abandoned(app, sample_db):
    """The tab draws survival's default (latent) curve: its caption must not define abandonment as
    the first visit not retained (the first-drop rule, a sensitivity rule the tab does not draw), as
    it did since the latent model became the default; nor give the interval as a school bootstrap."""
    import inspect

    import duckdb

    from metrics import Filters
    from metrics.survival import survival
    from sustain.config import load_config

    assert inspect.signature(survival).parameters["rule"].default == "latent"
    at = app("pages/practices.py")
    assert not at.exception
    caption = " ".join(c.value for c in at.caption)
    assert "One low score does not by itself count as a drop" in caption
    assert "first visit at which the practice was not retained" not in caption
    assert "resampling schools" not in caption
    # the curve drawn is the latent rule's, which differs from the first-drop life table
    drawn = [t for t in figure(at, "survival_chart")["data"] if str(t.get("name", "")).startswith("all practices")][0]
    with duckdb.connect(str(sample_db), read_only=True) as con:
        latent = survival(con, Filters(), [], load_config())
        first_drop = survival(con, Filters(), [], load_config(), rule="first_drop")
    assert values(drawn["y"]) == pytest.approx(latent["survival"].tolist())
    assert values(drawn["y"]) != pytest.approx(first_drop["survival"].tolist())


def test_hindrances_filter_and_compare_by(app):
    at = app("pages/hindrances.py")
    heat = figure(at, "prevalence_chart")
    assert points(heat, "y") == {"Thatta", "Sanghar", "Mirpurkhas", "Quetta", "Pishin", "Lasbela"}
    forest = figure(at, "forest_chart")
    assert forest["layout"]["xaxis"]["type"] == "log"
    assert "1 = no difference" in forest["layout"]["xaxis"]["title"]["text"]
    # each hindrance named above its row with n
    assert any("n = " in a["text"] for a in forest["layout"]["annotations"])
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


def marker_traces(spec):
    return [t for t in spec["data"] if t.get("mode") == "markers"]


def test_forest_reads_right_for_a_non_statistician(app):
    """Ticks at 0.25, 0.5, 1, 2, 4 written as plain numbers; value labels beyond the interval's end
    on the side away from 1 (off the points and off the line at 1); compared groups dodged, not
    overlapped; one plain sentence per hindrance with the difference by month 12 beside the
    ratio, a table and a download."""
    at = app("pages/hindrances.py")
    at.selectbox(key="compare_by").set_value("gender").run()
    assert not at.exception
    spec = figure(at, "forest_chart")
    axis = spec["layout"]["xaxis"]
    assert {0.25, 0.5, 1, 2, 4} <= set(values(axis["tickvals"]))
    assert [t for v, t in zip(values(axis["tickvals"]), axis["ticktext"]) if v in (0.25, 0.5, 1, 2, 4)] == \
        ["0.25", "0.5", "1", "2", "4"]
    groups = marker_traces(spec)
    assert {t["name"] for t in groups} == {"female", "male"}
    ys = [values(t["y"]) for t in groups]
    # dodged: the two groups of one hindrance sit at different heights, one row per hindrance
    rows = [{round(y) for y in trace} for trace in ys]
    assert rows[0] == rows[1] and len(rows[0]) == 8
    gaps = [abs(a - b) for a, b in zip(ys[0], ys[1])]
    assert min(gaps) >= 0.3
    labels = [t for t in spec["data"] if t.get("mode") == "text" and t.get("textfont", {}).get("color") != "#888"]
    assert len(labels) == 2
    for marker, text in zip(groups, labels):
        x, lx = values(marker["x"]), values(text["x"])
        high, low = values(marker["error_x"]["array"]), values(marker["error_x"]["arrayminus"])
        for hr, label_x, up, down, position in zip(x, lx, high, low, text["textposition"]):
            if hr >= 1:  # right of the interval's upper end, reading rightwards: never over 1
                assert label_x > hr + up and position == "middle right"
            else:
                assert label_x < hr - down and position == "middle left" and label_x < 1
    # the sentences and the table
    sentences = [t.value for t in at.text]
    assert len(sentences) == 16 and all(s.startswith(("female: ", "male: ")) for s in sentences)
    assert any("by month 12" in s for s in sentences)
    table = at.dataframe[0].value
    assert {"times as fast (95% CI)", "abandoned by month 12: difference per 100 (95% CI)"} <= set(table.columns)
    assert at.get("download_button")


def test_effect_sentence_words():
    """The plain sentence of one row: clear evidence in words ("about twice as fast"), the
    difference by month 12 per 100 with its interval, and "too few to show" for a suppressed row."""
    from app.charts_analysis import effect_sentence

    row = pd.Series({"hindrance": "no_followup", "hazard_ratio": 1.95, "ci_low": 1.5, "ci_high": 2.5, "p_adj": 0.001,
                     "risk_difference_12": 0.1249, "rd_ci_low": 0.06, "rd_ci_high": 0.19, "suppressed": False,
                     "note": ""})
    label = {"no_followup": "Lack of follow-up"}.get
    assert effect_sentence(row, label) == (
        "Teachers dropped practices about twice as fast where lack of follow-up was reported at the previous "
        "visit; by month 12, 12 more in 100 practices abandoned (95% CI +6 to +19).")
    unclear = row.copy()
    unclear[["hazard_ratio", "ci_low", "ci_high", "p_adj", "risk_difference_12", "rd_ci_low"]] = \
        [1.1, 0.8, 1.5, 0.4, -0.002, -0.05]
    assert effect_sentence(unclear, label).startswith("No clear difference where lack of follow-up")
    assert "about as many practices abandoned (95% CI -5 to +19)" in effect_sentence(unclear, label)
    assert effect_sentence(row.copy().replace({False: True}), label) == "Lack of follow-up: too few to show."


def test_heatmap_titles_wrap_between_words():
    """A hindrance's name wraps onto lines between words, never inside one (at 390 px the titles
    are narrow: "Political interference" read "interferen / ce")."""
    from app.charts_analysis import _wrapped

    assert _wrapped("Political interference").split("<br>") == ["Political", "interference"]
    assert _wrapped("Resistance by teachers").split("<br>") == ["Resistance by", "teachers"]


def test_a_school_on_too_few_teachers_answers_why_with_its_clusters_hindrances(app, sample_db):
    """Issue 13 (the officer's "why"): at the default threshold the top-ranked school of Pishin shows
    no hindrances of its own (two teachers); its card gives its cluster's, named as the cluster's,
    with the figures the hindrance table by cluster shows."""
    import duckdb

    from metrics.context import hindrance_prevalence
    from metrics.filters import Filters
    from sustain.config import load_config

    at = app("pages/districts.py")
    at.multiselect(key="filter_district").set_value(["Pishin"]).run()
    top = at.dataframe[0].value.iloc[0]
    assert pd.isna(top["teachers"])  # too few to show its own
    at.selectbox(key="drill_school").set_value(top["school_id"]).run()
    assert not at.exception
    why = at.table[0].value.loc["Hindrances reported"].iloc[0]
    assert why.startswith(f"too few to show at this school; in its cluster {top['cluster']} (")
    config = load_config()
    with duckdb.connect(str(sample_db), read_only=True) as con:
        clusters = hindrance_prevalence(con, Filters(district=("Pishin",)), ["cluster"], config)
    cluster = clusters[(clusters["cluster"] == top["cluster"]) & (clusters["reported"] > 0)]
    assert not cluster["suppressed"].any()
    first = cluster.sort_values("rate", ascending=False, kind="stable").iloc[0]
    assert f"({int(first['teachers']):,} teachers, {int(first['n']):,} visits): " in why
    assert why.split("): ", 1)[1].startswith(f"{config.hindrance_label(first['hindrance'])} at {first['rate']:.0%} of visits")
