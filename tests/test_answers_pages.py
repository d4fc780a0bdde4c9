"""Pages open with their answer (report/answers.py), and the Overview never shows a figure that
pools programmes without naming them: AppTest on the sample database built by the real ingest."""
import json

import pytest


from metrics.filters import Filters
from metrics.registry import INDICATORS, TABLES
from sustain.config import load_config
from sustain.db import read_only


@pytest.fixture
def app(open_page):
    def run(page, **query):
        at = open_page(page, 90, **query)
        assert not at.exception
        return at
    return run


def answer(at) -> str:
    """The page's first markdown: its answer, in bold (markdown escapes removed)."""
    text = at.markdown[0].value
    assert text.startswith("**") and text.endswith("**")
    return text.strip("*").replace("\\", "")


def figure(at, key):
    charts = [c for c in at.get("plotly_chart") if key in c.proto.id]
    assert charts, f"no chart {key}"
    return json.loads(charts[0].proto.spec)


def retention(sample_db, filters, by):
    with read_only(sample_db) as con:
        return INDICATORS["retention"](con, filters, by, load_config())


def test_overview_shows_each_programme_and_never_a_pooled_figure_unnamed(app, sample_db):
    config = load_config()
    names = {p.code: p.name for p in config.programmes}
    at = app("pages/overview.py")
    sentence = answer(at)
    per_programme = retention(sample_db, Filters(), ["programme"])
    latest = per_programme[per_programme["months"] == 24]
    for row in latest.itertuples():
        assert f"{names[row.programme]} kept" in sentence
        assert f"({row.rate:.0%}; n = {row.n:,} teacher-practices, {row.teachers:,} teachers)" in sentence
    assert "goes with the fastest loss" in sentence and "95% CI" in sentence
    # rounds 6, 12 and 24 of each programme, each with its interval and n
    labels = [m.label for m in at.metric]
    assert sorted(label for label in labels if label.startswith("Retention at month")) == sorted(
        f"Retention at month {m}" for m in (6, 12, 24) for _ in names)
    details = [c.value for c in at.caption if c.value.startswith("95% CI") and "teacher-practices" in c.value]
    assert len(details) == 3 * len(names) and all(d.endswith(" teachers") for d in details)
    for row in per_programme[per_programme["months"].isin([6, 12, 24])].itertuples():
        assert f"{row.rate:.0%}" in [m.value for m in at.metric]
    # the pooled retention (both programmes summed) appears nowhere: not in a metric, not in the sentence
    pooled = retention(sample_db, Filters(), [])
    pooled_24 = f"{pooled.loc[pooled['months'] == 24, 'rate'].iloc[0]:.0%}"
    assert pooled_24 not in {f"{r:.0%}" for r in per_programme["rate"]}  # the check below can tell them apart
    assert pooled_24 not in [m.value for m in at.metric] and pooled_24 not in sentence
    # every other headline figure spans both programmes and says so
    for label in labels:
        if not label.startswith("Retention at month"):
            assert label.endswith("(CBM and CBT pooled)"), label
    curve = figure(at, "retention_chart")
    assert {t["name"] for t in curve["data"]} == set(names.values())
    assert curve["layout"]["xaxis"]["tickvals"] == config.schedule.months
    assert curve["layout"]["legend"]["title"]["text"] == "Programme"
    assert all(t.get("texttemplate") for t in curve["data"])  # 12 points: each carries its value
    assert "keeps" in curve["layout"]["title"]["text"]  # the title states the finding
    assert any("rests on up to" in c.value for c in at.caption)  # the n caption stays


def test_overview_of_one_programme_names_it_and_pools_nothing(app):
    at = app("pages/overview.py", programme=["CBM"], district=["Pishin"])
    sentence = answer(at)
    assert sentence.startswith("In Pishin, ")
    assert "practices in use when Cluster-based mentoring (coached) ended were still in use 24 months later" in sentence
    assert not any("pooled" in m.label for m in at.metric)
    assert len([m for m in at.metric if m.label.startswith("Retention at month")]) == 3


def test_practices_opens_with_its_answer_and_reads_without_statistics(app):
    at = app("pages/practices.py")
    sentence = answer(at)
    assert "fades fastest: half gone by month" in sentence and "(CBM and CBT pooled)" in sentence
    assert "observations" in sentence and "teachers" in sentence
    decay = figure(at, "decay_chart")
    assert "fades fastest" in decay["layout"]["title"]["text"]
    assert decay["layout"]["xaxis"]["tickvals"] == load_config().schedule.months
    assert decay["layout"]["legend"]["title"]["text"] == "Practice"
    assert figure(at, "half_life_chart")["layout"]["yaxis"]["categoryorder"] == "total descending"  # by value
    table = at.dataframe[0].value
    assert "decay_per_month" not in table.columns and "reached" not in table.columns
    months = [float(v) for v in table["Half-life (months)"] if v.replace(".", "").isdigit()]
    assert months == sorted(months) and all(len(v.split(".")[1]) == 1 for v in table["Half-life (months)"] if "." in v)
    assert all(v.endswith("%") for v in table["Loss per month (λ, model)"])
    assert not any((table[c].astype(str) == "").all() for c in table.columns)
    captions = " ".join(c.value for c in at.caption)
    for gloss in ("Loss per month (λ)", "Kaplan-Meier", "Censored:", "Half-life:"):
        assert gloss in captions
    at = app("pages/practices.py", programme=["CBT"])
    assert "pooled" not in answer(at)


def test_communities_and_data_open_with_their_answer(app):
    sentence = answer(app("pages/communities.py", district=["Quetta"]))
    assert "whose community kept meeting" in sentence and "n = " in sentence and "(CBM and CBT pooled)" in sentence
    assert "not proof of an effect" in sentence
    assert answer(app("pages/data.py")).startswith("Follow-up visits reached")


def test_districts_planner_and_hindrances_open_with_their_answer(app, sample_db):
    """The officer's pages answer first: how many of Pishin's schools are losing practices (counted
    here from the same school table), which school to visit first, and which hindrance goes with
    the fastest loss (from the hazard model's evidence, the same rule as the forest plot's title)."""
    config = load_config()
    with read_only(sample_db) as con:
        schools = TABLES["school_trends"](con, Filters(district=("Pishin",)), [], config)
        effects = INDICATORS["hindrance_effect"](con, Filters(district=("Pishin",)), [], config)
    judged = schools[schools["persistence_class"] != "too few to show"]
    decaying = int((judged["persistence_class"] == "decaying").sum())
    districts = app("pages/districts.py", district=["Pishin"])
    sentence = answer(districts)
    assert sentence.startswith(f"In Pishin, {decaying} of {len(judged)} schools visited at month ")
    # the ranking's caption says what is drawn and what is hidden, never "nothing to show" under a drawn chart
    captions = " ".join(c.value for c in districts.caption)
    assert f"{len(judged)} of {len(schools)} schools judged" in captions and "Nothing to show" not in captions
    plan = answer(app("pages/planner.py", district=["Pishin"]))
    with read_only(sample_db) as con:
        planned = TABLES["visit_plan"](con, Filters(district=("Pishin",)), [], config)
    assert plan.startswith("Visit ") and "Pishin) first: " in plan
    assert plan.endswith(f"The plan lists 5 of {len(planned)} schools.") and len(planned) > 5  # all, not the 5 shown
    hindrance = answer(app("pages/hindrances.py", district=["Pishin"]))
    clear = effects[~effects["suppressed"] & (effects["ci_low"] > 1) & (effects["p_adj"] < 0.05)]
    if clear.empty:
        assert hindrance.startswith("No hindrance reported clearly goes with faster loss")
    else:
        fastest = clear.loc[clear["hazard_ratio"].astype(float).idxmax(), "hindrance"]
        assert hindrance.lower().startswith(config.hindrance_label(fastest).lower() + " goes with the fastest loss")
