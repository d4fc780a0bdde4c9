"""The follow-up planner: `visit_plan` on a hand fixture (order, scores and reasons worked by hand),
and the page through AppTest on the sample data, including its Excel download.

Fixture (programme CBM, end 2023-12-15; cut-off 3; min_group_n 3; today 2025-06-14; gw, q, ta =
group_work, questioning, teaching_aids):

    school cluster teacher  month 0 (2023-12-15)   later visit                      hindrances, CoP answer
    S1     THA-C1  T1       gw 3, q 3, ta 3        m12 (2024-12-14) gw 3, q 2, ta 2  no_followup low_pay, no
    S1     THA-C1  T2       gw 3, q 3, ta 3        m12 (2024-12-14) gw 2, q 3, ta 1  no_followup, no
    S2     SAN-C1  T3, T4   gw 3, q 4, ta 3        m12 (2024-12-14) gw 3, q 3, ta 4  none, yes
    S3     THA-C1  T5       gw 3, q 3, ta 1        m6 (2024-06-15) gw 2, q 3, ta 1   no_resources, no
    S4     SAN-C1  T6       never visited
    S5     SAN-C1  T7       gw 4                   m12 (2024-12-14) gw 1             political_interference, yes
    S6     THA-C1  T8       gw 3                   m6 (2024-06-15) teacher left

CoP log: THA-C1 met 2024-06-01 (before its window), SAN-C1 met 2024-11-20.
Persistence (metrics.decay): the common round is 12 (CBM's latest). Observed there: S1 2 of 6,
S2 6 of 6, S5 0 of 1 (S3 and S6 were not visited at 12, S4 never): 3 schools, under 5, so the
prior is Beta(1, 1); CBM's retention at 12 is x = 8/13. P(retention < x) under Beta(1 + k, 1 + n - k)
= P(Binomial(n + 1, x) >= k + 1): S1 1 - sum_{j<3} C(7, j) x^j (1 - x)^(7 - j) = 0.918,
S2 x^7 = 0.033, S5 1 - (1 - x)^2 = 0.852. Every school rests on fewer than 3 teachers: shown (and
scored) to one decimal, 0.9, 0.0 and 0.9.
Recent visits are the latest round's; months since the last visit: 182 days (5.98 months) for
S1, S2, S5; 364 days for S3, S6. THA-C1 not active (both recent answers no, no meeting in the
window), SAN-C1 active (3 of 3 yes, a meeting on 2024-11-20).
"""
import datetime as dt
import io
import math

import duckdb
import numpy as np
import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metrics import Filters
from metrics.planner import PLAN_HEAD_ROWS, WEIGHTS, visit_plan, visit_plan_head
from support import ROOT_DIR, teacher, visit, write_kobo, write_roster

TODAY = dt.date(2025, 6, 14)
SAN = dict(cluster="SAN-C1", district="Sanghar")
M0, M6, M12 = "2023-12-15", "2024-06-15", "2024-12-14"
ALL3 = {"group_work": "3", "questioning": "3", "teaching_aids": "3"}


def build(tmp_path, config, load):
    teachers = [teacher("T1", "S1"), teacher("T2", "S1"), teacher("T3", "S2", **SAN), teacher("T4", "S2", **SAN),
                teacher("T5", "S3"), teacher("T6", "S4", **SAN), teacher("T7", "S5", **SAN), teacher("T8", "S6")]
    s2_m0 = {"group_work": "3", "questioning": "4", "teaching_aids": "3"}
    s2_m12 = {"group_work": "3", "questioning": "3", "teaching_aids": "4"}
    visits = [
        visit("T1-0", "T1", "S1", visit_date=M0, scores=ALL3),
        visit("T2-0", "T2", "S1", visit_date=M0, scores=ALL3),
        visit("T1-12", "T1", "S1", visit_date=M12, scores={"group_work": "3", "questioning": "2", "teaching_aids": "2"},
              hindrances="no_followup low_pay", cop_active="no"),
        visit("T2-12", "T2", "S1", visit_date=M12, scores={"group_work": "2", "questioning": "3", "teaching_aids": "1"},
              hindrances="no_followup", cop_active="no"),
        visit("T3-0", "T3", "S2", visit_date=M0, scores=s2_m0, **SAN),
        visit("T4-0", "T4", "S2", visit_date=M0, scores=s2_m0, **SAN),
        visit("T3-12", "T3", "S2", visit_date=M12, scores=s2_m12, **SAN),
        visit("T4-12", "T4", "S2", visit_date=M12, scores=s2_m12, **SAN),
        visit("T5-0", "T5", "S3", visit_date=M0, scores={"group_work": "3", "questioning": "3", "teaching_aids": "1"}),
        visit("T5-6", "T5", "S3", visit_date=M6, scores={"group_work": "2", "questioning": "3", "teaching_aids": "1"},
              hindrances="no_resources", cop_active="no"),
        visit("T7-0", "T7", "S5", visit_date=M0, scores={"group_work": "4"}, **SAN),
        visit("T7-12", "T7", "S5", visit_date=M12, scores={"group_work": "1"}, hindrances="political_interference",
              **SAN),
        visit("T8-0", "T8", "S6", visit_date=M0, scores={"group_work": "3"}),
        visit("T8-6", "T8", "S6", visit_date=M6, status="left", cop_active="", cop_meetings=""),
    ]
    cop_log = tmp_path / "cop.csv"
    cop_log.write_text("cluster,meeting_date,attendees,facilitator_role,topic\n"
                       "THA-C1,2024-06-01,12,teacher,before the window\n"
                       "SAN-C1,2024-11-20,9,lead teacher,سبق کی منصوبہ بندی\n", encoding="utf-8")
    result = load(config, write_roster(tmp_path / "roster.csv", teachers), write_kobo(tmp_path / "k.csv", visits),
                  cop_log)
    assert result.ok and result.files[1].inserted == len(visits) and result.files[1].quarantined == 0
    return duckdb.connect(str(config.database_path()), read_only=True)


@pytest.fixture
def plan(tmp_path, config_factory, load):
    config = config_factory(**{"thresholds.min_group_n": 3})
    con = build(tmp_path, config, load)
    try:
        yield lambda filters=Filters(): visit_plan(con, filters, [], config, today=TODAY)
    finally:
        con.close()


def months(days):
    return days / 30.4375


def test_visit_plan_golden(plan):
    table = plan()
    recency_5 = WEIGHTS["recency"] * months(182) / 12
    recency_11 = WEIGHTS["recency"] * months(364) / 12
    chance = ("chance it keeps fewer practices than CBM schools as a whole (at their visits 12 months after the "
              "programme, 62% of the practices scored were in use)")
    expected = [
        ("S1", 0.4 * 0.9 + 0.25 * 1 + recency_5 + 0.15,
         f"fewer than 3 teachers seen 12 months after the programme: 90% {chance}; Lack of follow-up reported at 2 of 2 recent "
         "visits, Teachers' low pay at 1 of 2; last visited 5 months ago; no active community of practice"),
        ("S5", 0.4 * 0.9 + 0.25 * 1 + recency_5,
         f"fewer than 3 teachers seen 12 months after the programme: 90% {chance}; Political interference reported at 1 of 1 "
         "recent visit; last visited 5 months ago; community of practice active"),
        ("S3", 0.25 * 1 + recency_11 + 0.15,
         "not visited 12 months after the programme, when schools are compared; Lack of resources reported at 1 of 1 "
         "recent visit; last visited 11 months ago; no active community of practice"),
        ("S4", 0.2,
         "too few observations to judge decay; no recent visit with the teacher present to ask about hindrances; "
         "never visited; community of practice active"),
        ("S2", 0.4 * 0.0 + recency_5,
         f"fewer than 3 teachers seen 12 months after the programme: 0% {chance}; no hindrance reported at 2 recent visits; "
         "last visited 5 months ago; community of practice active"),
        ("S6", None,
         "every trained teacher of the school is recorded as left or transferred: no practice to follow up "
         "(not scored); not visited 12 months after the programme, when schools are compared; no recent visit with the "
         "teacher present to ask about hindrances; last visited 11 months ago; no active community of practice"),
    ]
    assert table["school_id"].tolist() == [e[0] for e in expected]
    assert table["rank"].tolist() == [1, 2, 3, 4, 5, 6]
    assert table["need_score"].iloc[:5].tolist() == pytest.approx([e[1] for e in expected[:5]])
    assert table["need_score"].isna().tolist() == [False] * 5 + [True]
    for (school, _, reason), got in zip(expected, table["reason"]):
        assert got == reason, school
    by_school = table.set_index("school_id")
    assert by_school["p_below_programme"].to_dict() == pytest.approx(
        {"S1": 0.9, "S5": 0.9, "S3": float("nan"), "S4": float("nan"), "S2": 0.0, "S6": float("nan")}, nan_ok=True)
    assert by_school["persistence_class"].to_dict() == {"S1": "decaying", "S5": "decaying", "S3": "too few to show",
                                                        "S4": "too few to show", "S2": "persisting",
                                                        "S6": "too few to show"}
    assert by_school["retention_index"].isna().all() and by_school["n"].isna().all()  # under 3 teachers
    assert by_school["suppressed"].all()
    assert by_school["cop_active"].to_dict() == {"S1": False, "S3": False, "S5": True, "S4": True, "S2": True,
                                                 "S6": False}
    assert by_school.loc["S1", "top_hindrances"] == "Lack of follow-up, Teachers' low pay"
    assert by_school.loc["S1", "last_visit"] == dt.date(2024, 12, 14)
    assert by_school["teachers"].to_dict() == {"S1": 2, "S3": 1, "S5": 1, "S4": 1, "S2": 2, "S6": 1}
    assert all(0 <= s <= 1 for s in table["need_score"].dropna())


def test_visit_plan_quotes_the_counts_of_a_school_shown(tmp_path, config_factory, load):
    """With min_group_n 1 the schools' figures are shown and the probabilities exact."""
    config = config_factory(**{"thresholds.min_group_n": 1})
    con = build(tmp_path, config, load)
    try:
        table = visit_plan(con, Filters(), [], config, today=TODAY).set_index("school_id")
    finally:
        con.close()
    x = 8 / 13
    s1 = 1 - sum(math.comb(7, j) * x**j * (1 - x) ** (7 - j) for j in range(3))
    assert table.loc["S1", "p_below_programme"] == pytest.approx(s1)
    assert table.loc["S2", "p_below_programme"] == pytest.approx(x**7)
    assert table.loc["S5", "p_below_programme"] == pytest.approx(1 - (1 - x) ** 2)
    assert table.loc["S1", "retention_index"] == pytest.approx(1 / 3) and table.loc["S1", "n"] == 6
    assert table.loc["S1", "reason"].startswith(
        "2 of 6 practices in use when the programme ended were still in use 12 months after it (33%); 92% chance "
        "it keeps fewer practices than CBM schools as a whole (at their visits 12 months after the programme, 62% of the "
        "practices scored were in use); ")
    # none kept, in words (not "0% of month 0")
    assert table.loc["S5", "reason"].startswith(
        "none of the 1 practices in use when the programme ended was still in use 12 months after it; ")
    assert table.loc["S1", "need_score"] == pytest.approx(
        0.4 * s1 + 0.25 + WEIGHTS["recency"] * months(182) / 12 + 0.15)


def test_visit_plan_filters_and_injection(plan):
    sanghar = plan(Filters(district=("Sanghar",)))
    # compared within the view: CBM keeps 6 of 7 at month 12 in Sanghar, so S2 (6 of 6) is
    # P(Beta(7, 1) < 6/7) = (6/7)^7 = 0.34 (0.3 shown) likely below it: 0.4 * 0.3 + 0.098 > S4's 0.2
    assert sanghar["school_id"].tolist() == ["S5", "S2", "S4"]
    assert sanghar.set_index("school_id").loc["S2", "p_below_programme"] == 0.3
    assert plan(Filters(scope=("Sanghar",)))["school_id"].tolist() == ["S5", "S2", "S4"]  # a limited viewer
    assert plan(Filters(scope=())).empty
    assert plan(Filters(district=("x' OR 1=1 --",))).empty


# -- the page ------------------------------------------------------------------------------------
@pytest.fixture
def app(sample_db, monkeypatch):
    """Run the planner page; media files (download buttons) are kept in `app.media`."""
    import streamlit as st
    import streamlit.testing.v1.app_test as app_test
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    monkeypatch.setenv("SUSTAIN_DB", str(sample_db))
    st.cache_data.clear()
    st.cache_resource.clear()
    storages = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            storages.append(self)

    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", Recording)
    managers = []

    class RecordingManager(app_test.MediaFileManager):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            managers.append(self)

    monkeypatch.setattr(app_test, "MediaFileManager", RecordingManager)

    def run(user=None, **query):
        at = AppTest.from_file(str(ROOT_DIR / "pages/planner.py"), default_timeout=60)
        if user:
            at.session_state["sustain_user"] = user
        for key, values in query.items():
            at.query_params[key] = values
        return at.run()
    run.storages = storages
    run.managers = managers
    return run


def download_content(app, button) -> bytes:
    """The bytes behind a download button: built by its deferred callable (as a click does)."""
    file_id = button.proto.deferred_file_id
    assert file_id and not button.proto.url, "the workbook must be built only when asked for"
    entry = next(m._deferred_callables[file_id] for m in app.managers if file_id in m._deferred_callables)
    return entry["callable"]()


def shown_plan(at):
    """The planner page's table (a static table: the reason wraps in full)."""
    return at.table[0].value


def codes(table) -> list[str]:
    return table["School"].str.extract(r"\((SCH-\d+)\)")[0].tolist()


def test_planner_page(app):
    at = app()
    assert not at.exception
    assert at.title[0].value == "Follow-up planner"
    table = shown_plan(at)
    assert table.index.name == "Rank" and table.index.tolist() == [1, 2, 3, 4, 5]
    assert table.columns.tolist() == ["School", "Need (0 to 1)", "Why this school"]
    assert pd.to_numeric(table["Need (0 to 1)"]).is_monotonic_decreasing
    assert not any("teacher" in c.lower() for c in table.columns)

    at.number_input(key="plan_count").set_value(8).run()
    assert len(shown_plan(at)) == 8

    at.multiselect(key="filter_district").set_value(["Quetta"]).run()
    quetta = shown_plan(at)
    assert quetta["School"].str.endswith(", Quetta").all()
    assert codes(quetta) != codes(table)


def test_planner_table_is_for_people(app, sample_db):
    """Human column names; the reason in full (the metric's own, not clipped), in plain words
    ("in use when the programme ended", not "month 0"); ties at the score shown broken and each
    explained; the score explained in three short lines without config keys; the caption says the
    schools are compared at a common round."""
    at = app(district=["Pishin"])
    at.number_input(key="plan_count").set_value(20).run()
    table = shown_plan(at)
    with duckdb.connect(str(sample_db), read_only=True) as con:
        from sustain.config import load_config

        plan = visit_plan(con, Filters(district=("Pishin",)), [], load_config()).head(20)
    for why, reason in zip(table["Why this school"], plan["reason"]):
        assert why.startswith(reason[:1].upper() + reason[1:] + ".")
    assert not any("month 0" in why for why in table["Why this school"])
    scores = table["Need (0 to 1)"].tolist()
    ties = [i for i in range(1, len(scores)) if scores[i] == scores[i - 1]]
    assert ties, "the sample's Pishin plan has schools of equal score"
    for i in ties:
        assert f"Same score as {codes(table)[i - 1]}, placed after it: " in table["Why this school"].iloc[i]
    explanation = [m.value for m in at.markdown if "need score" in m.value.lower()][0]
    lines = explanation.split("  \n")[1:]
    assert len(lines) == 3 and all(len(line) < 200 for line in lines)
    assert not any(key in explanation for key in ("_", "thresholds", "WEIGHTS", "need_score"))
    caption = " ".join(c.value for c in at.caption)
    assert "compared with its programme's schools at the same time: 24 months after the programme" in caption
    assert "latest round" not in caption.split("(")[0]


def test_planner_ties_are_broken_by_evidence_then_time():
    """Within a score shown equal (2 decimals), stronger evidence of decay first, then the school
    visited longer ago (never visited: longest), then more reports of its main hindrance, then the
    school code; the note of each tied school names the one above it and says why."""
    from metrics.planner import _ranked

    nan = float("nan")
    rows = pd.DataFrame({
        "school_id": ["A", "B", "C", "D", "E", "F"],
        "need_score": [0.701, 0.704, 0.70, 0.70, 0.70, 0.90],
        "p_below_programme": [0.9, 0.8, 0.8, 0.8, 0.8, nan],
        "months_since_visit": [5.0, 5.0, 6.0, nan, 6.0, 1.0],
        "hindrance_share": [0.5, 0.5, 0.5, 0.5, 1.0, 0.0],
    })
    ranked = _ranked(rows)
    assert ranked["school_id"].tolist() == ["F", "A", "D", "E", "C", "B"]
    assert ranked["order_note"].tolist() == [
        "", "", "same score as A, placed after it: weaker evidence of decay",
        "same score as D, placed after it: visited more recently",
        "same score as E, placed after it: fewer recent visits report its main hindrance",
        "same score as C, placed after it: visited more recently"]


def test_empty_plan_says_so_instead_of_crashing(app):
    """Issue 9 item 17: Province=Sindh with District=Quetta matches no school; the page used to
    raise TypeError in visit_plan_workbook."""
    at = app(province=["Sindh"], district=["Quetta"])
    assert not at.exception, at.exception
    assert [i.value for i in at.info] == ["No schools match these filters."]
    assert not at.get("download_button") and not at.table


def test_user_mapped_to_no_district_gets_an_empty_plan_not_a_crash(app, tmp_path, monkeypatch):
    from support import write_config

    monkeypatch.setenv("SUSTAIN_CONFIG", str(write_config(tmp_path, **{"access.users": {"nobody": []},
                                                                        "access.password_file": "users.yaml"})))
    at = app(user="nobody")
    assert not at.exception, at.exception
    assert [i.value for i in at.info] == ["No schools match these filters."]
    assert not at.get("download_button")


def test_empty_workbook_is_valid():
    import pandas as pd

    from report import exports
    from sustain.config import load_config

    empty = pd.DataFrame({"rank": [], "school_id": [], "need_score": [], "reason": []}, dtype=object)
    workbook = openpyxl.load_workbook(io.BytesIO(exports.visit_plan_workbook(empty, Filters(), load_config())))
    assert len(list(workbook["Visit plan"].iter_rows(values_only=True))) == 1


def test_reason_shares_are_worded_as_format_words_them():
    """The reasons' percentages are built for every school at once (`_percent`: the share times
    100, rounded half to even): the same text as f"{share:.0%}", ties and shares near them included."""
    from metrics.planner import _percent

    shares = sorted({k / n for n in range(1, 201) for k in range(n + 1)} | {0.005, 0.015, 0.125, 0.285, 0.845, 0.995})
    assert _percent(np.array(shares)).tolist() == [f"{share:.0%}" for share in shares]


def test_the_pages_plan_is_the_plans_first_rows_and_counts_them_all(sample_db):
    """The planner page reads `visit_plan_head`: the plan's first rows (a national plan has a row
    per school) with the whole plan's count and latest round, which its answer and caption say."""
    from sustain.config import load_config
    from sustain.db import read_only

    config = load_config()
    with read_only(sample_db) as con:
        whole = visit_plan(con, Filters(), [], config, today=TODAY)
        head = visit_plan_head(con, Filters(), [], config, today=TODAY)
    pd.testing.assert_frame_equal(head, whole.head(PLAN_HEAD_ROWS))
    assert head.attrs == {"schools": len(whole), "latest_round": int(whole["round"].max())}
    assert len(head) == PLAN_HEAD_ROWS < len(whole)
