"""school_trends (persistence classes), teacher_practices and retention_by_cop on a ten-teacher
fixture, against values computed by hand.

Config: min_group_n 2 (distinct teachers), at_risk_retention 0.5, programme CBM (end 2023-12-15), cut-off 3.
Two practices per teacher (gw = group_work, q = questioning; others never scored):

    school cluster  teacher  month 0     month 3      month 6
    S1     THA-C1   T1       gw 3, q 3   gw 3, q 3    gw 4, q 3
    S1     THA-C1   T2       gw 3, q 3   gw 3, q 2    gw 3, q 1
    S2     THA-C1   T3       gw 3, q 3   gw 3, q 3    gw 3, q 2
    S2     THA-C1   T4       gw 3, q 3   gw 3, q 2    gw 2, q 2
    S3     THA-C1   T5       gw 3, q 3   gw 2, q 2    gw 3, q 2
    S3     THA-C1   T6       gw 3, q 3   gw 1, q 3    gw 3, q 2
    S4     THA-C2   T7       gw 3, q 3   gw 2, q 3    -
    S5     THA-C2   T8       gw 3        -            -
    S6     THA-C2   T9       gw 3, q 3   gw 3, q 3    -
    S6     THA-C2   T10      gw 3, q 3   absent       -

Retention per school (retained at month 0 = the base n; a cell needs 2 distinct teachers):
    month 0: S4 (T7) and S5 (T8) rest on one teacher: suppressed; THA-C2's total minus S6 would
             give their teachers one each (2 = 1 + 1), so S6 is suppressed with them.
    month 3: S4 (T7) and S6 (T9; T10 absent) one teacher each: suppressed; THA-C2 has no other
             school seen at month 3, so within Thatta S1 (smallest, first by id) is suppressed too,
             and then, alone in THA-C1, S2.
    S1: base 4; month 3: hidden (complementary); month 6: 3 of 4 = .75
    S2: base 4; month 3: hidden (complementary); month 6: 1 of 4 = .25
    S3: base 4; month 3: 1 of 4 = .25; month 6: 2 of 4 = .50
    S4, S5, S6: suppressed
Classes (metrics.decay.persistence): the common round is 6 (CBM's latest); S1, S2, S3 are observed
there, fewer than 5 schools, so the prior is Beta(1, 1); CBM's retention at 6 is 6 of 12 = 0.5.
P(retention < 0.5) under Beta(1 + k, 1 + n - k) = P(Binomial(n + 1, 0.5) >= k + 1):
    S1 Beta(4, 2): 6/32 = 0.1875   -> persisting (<= 0.2)
    S2 Beta(2, 4): 26/32 = 0.8125  -> decaying (>= 0.8)
    S3 Beta(3, 3): 0.5             -> uncertain
    S4, S5, S6: not observed at month 6 -> too few to show
Each rests on 2 teachers: exact at min_group_n 2; under 3 they are shown rounded to 0.2, 0.8, 0.5.
Hindrances: T1 month 0 low_pay; T2 month 3 low_pay no_followup; T1 month 6 no_followup: S1 has
6 present visits, each hindrance reported at 2 (ties in config order: no_followup first).

CoP log after the end (2023-12-15; period to the month-24 round, 730 days = 23.98 months):
THA-C1 14 meetings (0.58 a month: active), THA-C2 11 meetings (0.46 a month: inactive).
"""
import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from metrics import FilterError, Filters
from metrics.communities import cluster_cop_class, retention_by_cop
from metrics.decay import persistence_classes
from metrics.schools import school_trends, teacher_practices, within
from support import teacher, visit, write_kobo, write_roster

C2 = dict(cluster="THA-C2")
SCHOOL = {"T1": "S1", "T2": "S1", "T3": "S2", "T4": "S2", "T5": "S3", "T6": "S3", "T7": "S4", "T8": "S5",
          "T9": "S6", "T10": "S6"}
BOTH3 = {"group_work": "3", "questioning": "3"}
SCORES = {  # teacher -> {month: scores, or "absent"}
    "T1": {0: BOTH3, 3: BOTH3, 6: {"group_work": "4", "questioning": "3"}},
    "T2": {0: BOTH3, 3: {"group_work": "3", "questioning": "2"}, 6: {"group_work": "3", "questioning": "1"}},
    "T3": {0: BOTH3, 3: BOTH3, 6: {"group_work": "3", "questioning": "2"}},
    "T4": {0: BOTH3, 3: {"group_work": "3", "questioning": "2"}, 6: {"group_work": "2", "questioning": "2"}},
    "T5": {0: BOTH3, 3: {"group_work": "2", "questioning": "2"}, 6: {"group_work": "3", "questioning": "2"}},
    "T6": {0: BOTH3, 3: {"group_work": "1", "questioning": "3"}, 6: {"group_work": "3", "questioning": "2"}},
    "T7": {0: BOTH3, 3: {"group_work": "2", "questioning": "3"}},
    "T8": {0: {"group_work": "3"}},
    "T9": {0: BOTH3, 3: BOTH3},
    "T10": {0: BOTH3, 3: "absent"},
}
HINDRANCES = {("T1", 0): "low_pay", ("T2", 3): "low_pay no_followup", ("T1", 6): "no_followup"}


def monthly(cluster, first, count):
    return [f"{cluster},{first + dt.timedelta(days=30 * i)},12,teacher,meeting {i + 1}" for i in range(count)]


@pytest.fixture
def con(tmp_path, config_factory, load):
    config = config_factory(**{"thresholds.min_group_n": 2, "thresholds.at_risk_retention": 0.5})
    teachers, visits = [], []
    for t, school in SCHOOL.items():
        place = C2 if school in ("S4", "S5", "S6") else {}
        teachers.append(teacher(t, school, **place))
        for month, scores in SCORES[t].items():
            if scores == "absent":
                visits.append(visit(f"{t}-{month}", t, school, month, status="absent", cop_active="", **place))
            else:
                visits.append(visit(f"{t}-{month}", t, school, month, scores=scores,
                                    hindrances=HINDRANCES.get((t, month), ""), **place))
    log = tmp_path / "cop.csv"
    log.write_text("\n".join(["cluster,meeting_date,attendees,facilitator_role,topic",
                              *monthly("THA-C1", dt.date(2024, 1, 10), 14),
                              *monthly("THA-C2", dt.date(2024, 1, 12), 11)]) + "\n", encoding="utf-8")
    result = load(config, write_roster(tmp_path / "roster.csv", teachers), write_kobo(tmp_path / "k.csv", visits), log)
    assert result.ok and result.files[1].inserted == len(visits) == 25
    connection = duckdb.connect(str(config.database_path()), read_only=True)
    yield connection, config
    connection.close()


def test_persistence_classes_rules(con):
    _, config = con  # class_evidence 0.8 (config.yaml)
    assert persistence_classes([0.8, 0.79, 0.2, 0.21, 0.5, float("nan"), None], config) == [
        "decaying", "uncertain", "persisting", "uncertain", "uncertain", "too few to show", "too few to show"]


def test_school_trends_by_hand(con):
    connection, config = con
    table = school_trends(connection, Filters(), [], config)
    # strongest evidence of decay first: S2 (0.8), S3 (0.5), S1 (0.2), then the schools without one by id
    assert table["school_id"].tolist() == ["S2", "S3", "S1", "S4", "S5", "S6"]
    rows = table.set_index("school_id")
    assert rows["persistence_class"].to_dict() == {
        "S1": "persisting", "S2": "decaying", "S3": "uncertain",
        "S4": "too few to show", "S5": "too few to show", "S6": "too few to show"}
    # two teachers each (= min_group_n 2): the probabilities are exact
    assert rows.loc[["S2", "S3", "S1"], "p_below_programme"].tolist() == pytest.approx([26 / 32, 0.5, 6 / 32])
    assert rows.loc[["S2", "S3", "S1"], "round"].tolist() == [6, 6, 6]
    assert rows.loc[["S4", "S5", "S6"], "p_below_programme"].isna().all()
    rounded = school_trends(connection, Filters(), [], config.model_copy(
        update={"thresholds": config.thresholds.model_copy(update={"min_group_n": 3})})).set_index("school_id")
    assert rounded.loc[["S2", "S3", "S1"], "p_below_programme"].tolist() == [0.8, 0.5, 0.2]
    exact = school_trends(connection, Filters(), [], config.model_copy(
        update={"thresholds": config.thresholds.model_copy(update={"min_group_n": 1})})).set_index("school_id")
    assert exact.loc[["S1", "S2", "S3"], "p_below_programme"].tolist() == pytest.approx([6 / 32, 26 / 32, 0.5])
    assert exact.loc[["S1", "S2", "S3"], "index_shrunk"].tolist() == pytest.approx([4 / 6, 2 / 6, 3 / 6])
    assert exact.loc[["S1", "S2", "S3"], "programme_retention"].tolist() == pytest.approx([0.5] * 3)
    assert exact.loc[["S1", "S2", "S3"], "persistence_class"].tolist() == ["persisting", "decaying", "uncertain"]
    assert rows["suppressed"].to_dict() == {"S1": False, "S2": False, "S3": False, "S4": True, "S5": True, "S6": True}
    # one value per round of schedule.months [0, 3, 6, 12, 18, 24]; None: not observed or suppressed
    # every unit of S1, S2 and S3 was scored at months 3 and 6, so retention is the share scored in
    # use (README "retention": only units not scored count through the model): as in the docstring
    assert rows.loc["S1", "retention"] == pytest.approx([1.0, None, 3 / 4, None, None, None])
    assert rows.loc["S2", "retention"] == pytest.approx([1.0, None, 1 / 4, None, None, None])
    assert rows.loc["S3", "retention"] == pytest.approx([1.0, 1 / 4, 2 / 4, None, None, None])
    assert rows.loc["S6", "retention"] == [None] * 6
    assert rows.loc["S4", "retention"] == [None] * 6
    assert rows.loc["S3", "retention_trend"] == pytest.approx([1.0, 1 / 4, 2 / 4])
    assert rows.loc[["S1", "S2", "S3"], "latest_months"].tolist() == [6, 6, 6]
    assert rows.loc[["S1", "S2", "S3"], "latest_retention"].tolist() == pytest.approx([3 / 4, 1 / 4, 2 / 4])
    assert rows.loc[["S1", "S2", "S3"], "n"].tolist() == [4, 4, 4]
    assert rows.loc[["S1", "S2", "S3"], "teachers"].tolist() == [2, 2, 2]
    assert rows.loc[["S4", "S5", "S6"], "n"].isna().all() and rows.loc[["S4", "S5", "S6"], "teachers"].isna().all()
    assert rows.loc["S1", "hindrances"] == "Lack of follow-up (2 of 6 visits); Teachers' low pay (2 of 6 visits)"
    assert rows.loc["S2", "hindrances"] == "" and rows.loc["S4", "hindrances"] == ""
    assert rows.loc["S1", ["school_name", "cluster", "district", "province"]].tolist() == [
        "School S1", "THA-C1", "Thatta", "Sindh"]


def test_school_trends_filters_and_drill(con):
    connection, config = con
    table = school_trends(connection, Filters(), [], config)
    assert within(table, Filters(cluster=("THA-C2",)))["school_id"].tolist() == ["S4", "S5", "S6"]
    # with 3 teachers needed no school of two teachers is shown
    stricter = config.model_copy(update={"thresholds": config.thresholds.model_copy(update={"min_group_n": 3})})
    gw = school_trends(connection, Filters(practice=("group_work",)), [], stricter).set_index("school_id")
    assert gw.loc["S1", "retention"] == [None] * 6 and gw.loc["S1", "suppressed"]
    hostile = school_trends(connection, Filters(district=("x' OR 1=1 --",)), [], config)
    assert hostile.empty
    with pytest.raises(FilterError):
        school_trends(connection, Filters(), ["gender"], config)


def test_teacher_practices_by_hand(con):
    connection, config = con
    table = teacher_practices(connection, Filters(school_id=("S2",)), [], config)
    assert len(table) == 2 and table["teachers"].tolist() == [1, 1]
    assert not table["suppressed"].any()
    rows = sorted(table[["latest_months", "retained_practices", "lost_practices", "retained", "n"]]
                  .itertuples(index=False, name=None))
    # T3 at month 6: gw 3 kept, q 2 lost; T4: gw 2 and q 2, both lost
    assert rows == [(6, "", "Group work, Higher-order questioning", 0, 2),
                    (6, "Group work", "Higher-order questioning", 1, 2)]
    assert table["teacher_key"].str.fullmatch(r"[0-9a-f]{16}").all()  # pseudonymous keys only
    small = teacher_practices(connection, Filters(school_id=("S4",)), [], config)
    assert small["suppressed"].all() and small["n"].isna().all() and (small["retained_practices"] == "").all()
    with pytest.raises(FilterError):
        teacher_practices(connection, Filters(), [], config)


def test_cop_classes_by_hand(con):
    connection, config = con
    # THA-C1: 14 meetings / 23.98 months = 0.58 >= 0.5; THA-C2: 11 / 23.98 = 0.46
    assert cluster_cop_class(connection, config) == {"THA-C1": "active", "THA-C2": "inactive"}


def test_retention_by_cop_by_hand(con):
    connection, config = con
    table = retention_by_cop(connection, Filters(), [], config)
    # active (T1-T6): month 0 12 of 12; month 3: 3 + 3 + 1 = 7 of 12; month 6: 3 + 1 + 2 = 6 of 12
    # inactive (T7-T10): month 0 7 of 7; month 3: T7 1 of 2, T9 2 of 2 = 3 of 4 (T8 unseen, T10 absent)
    assert [tuple(r) for r in table[["cop", "months", "retained", "n", "clusters", "teachers"]]
            .itertuples(index=False)] == [("active", 0, 12, 12, 1, 6), ("active", 3, 7, 12, 1, 6),
                                          ("active", 6, 6, 12, 1, 6), ("inactive", 0, 7, 7, 1, 4),
                                          ("inactive", 3, 3, 4, 1, 2)]
    assert table["rate"].tolist() == pytest.approx([1, 7 / 12, 0.5, 1, 0.75])
    low, high = proportion_confint(7, 12, method="wilson")
    assert table.loc[1, ["ci_low", "ci_high"]].tolist() == pytest.approx([low, high])
    assert not table["suppressed"].any()


def test_retention_by_cop_suppression(con):
    connection, config = con
    stricter = config.model_copy(update={"thresholds": config.thresholds.model_copy(update={"min_group_n": 5})})
    table = retention_by_cop(connection, Filters(), [], stricter).set_index(["cop", "months"])
    # inactive rests on 4 teachers (T7-T10) at month 0 and 2 (T7, T9) at month 3, under 5; active
    # (6 teachers) is suppressed with it at both rounds (complementary), not at month 6 (alone)
    assert table["suppressed"].to_dict() == {("active", 0): True, ("active", 3): True, ("active", 6): False,
                                             ("inactive", 0): True, ("inactive", 3): True}
    assert table.loc[("active", 3), ["rate", "n"]].isna().all()
    only_c1 = retention_by_cop(connection, Filters(cluster=("THA-C1",)), [], config)
    assert set(only_c1["cop"]) == {"active"}


def test_area_hindrances_answer_why_for_a_school_on_too_few_teachers(con):
    """Issue 13 (the officer's "why"): a school on fewer than min_group_n teachers gets the
    hindrances of its nearest area shown by hindrance_prevalence at that level, named as that
    area's. By hand: THA-C1 (S1-S3, six teachers) had 18 visits with the teacher present, low pay
    and lack of follow-up each reported at 2; THA-C2 (S4-S6, four teachers) 6 visits, nothing
    reported; Thatta 24 visits of ten teachers."""
    from app.charts_analysis import area_hindrances_text
    from metrics.schools import area_hindrances

    connection, config = con

    def stricter(n):
        return config.model_copy(update={"thresholds": config.thresholds.model_copy(update={"min_group_n": n})})

    s1 = area_hindrances(connection, Filters(school_id=("S1",)), [], stricter(3))
    assert set(zip(s1["level"], s1["area"])) == {("cluster", "THA-C1")} and not s1["suppressed"].any()
    counted = s1.set_index("hindrance")
    assert counted.loc["low_pay", ["reported", "n", "teachers"]].tolist() == [2, 18, 6]
    assert counted.loc["no_followup", ["reported", "n", "teachers"]].tolist() == [2, 18, 6]
    assert counted.drop(index=["low_pay", "no_followup"])["reported"].eq(0).all()
    assert s1["hindrance"].tolist()[:2] == ["no_followup", "low_pay"]  # most reported first (ties: config order)
    assert area_hindrances_text(s1, config.hindrance_label) == (
        f"too few to show at this school; in its cluster THA-C1 (6 teachers, 18 visits): "
        f"{config.hindrance_label('no_followup')} at 11% of visits; {config.hindrance_label('low_pay')} at 11% of visits")
    s4 = area_hindrances(connection, Filters(school_id=("S4",)), [], stricter(3))
    assert set(s4["area"]) == {"THA-C2"} and s4["reported"].eq(0).all() and s4["teachers"].eq(4).all()
    assert area_hindrances_text(s4, config.hindrance_label).endswith("(4 teachers, 6 visits): none reported")
    # THA-C1's six teachers are too few at 7: the district's ten answer
    s1_district = area_hindrances(connection, Filters(school_id=("S1",)), [], stricter(7))
    assert set(zip(s1_district["level"], s1_district["area"])) == {("district", "Thatta")}
    assert s1_district.set_index("hindrance").loc["low_pay", ["reported", "n", "teachers"]].tolist() == [2, 24, 10]
    # no area rests on eleven teachers: nothing is shown
    nothing = area_hindrances(connection, Filters(school_id=("S1",)), [], stricter(11))
    assert nothing.empty and area_hindrances_text(nothing, config.hindrance_label).startswith("too few to show")
    # at 2 teachers S3's own visits can be shown (T5, T6: 6 visits, nothing reported); S1's two
    # reported hindrances are hidden with THA-C2's schools (whose counts are 0: the complementary
    # rule), so S1 is answered by its cluster rather than with its reports left out
    s3 = area_hindrances(connection, Filters(school_id=("S3",)), [], config)
    assert set(s3["level"]) == {"school_id"}
    assert area_hindrances_text(s3, config.hindrance_label) == "at this school (2 teachers, 6 visits): none reported"
    s1_shown = area_hindrances(connection, Filters(school_id=("S1",)), [], config)
    assert set(zip(s1_shown["level"], s1_shown["area"])) == {("cluster", "THA-C1")}
    with pytest.raises(FilterError):
        area_hindrances(connection, Filters(), [], config)


def test_school_trends_retention_is_the_retention_indicator_by_school(con):
    """school_trends reads retention by school without its interval (metrics/schools.py
    `school_retention`): every value shown, every cell hidden and the counts are those of the
    `retention` indicator by school_id, at two thresholds (suppression differs)."""
    from metrics.indicators import retention

    connection, config = con
    for min_n in (1, 2, 3):
        chosen = config.model_copy(update={"thresholds": config.thresholds.model_copy(update={"min_group_n": min_n})})
        table = school_trends(connection, Filters(), [], chosen).set_index("school_id")
        cells = retention(connection, Filters(), ["school_id"], chosen)
        rounds = list(chosen.schedule.months)
        for school, row in table.iterrows():
            mine = cells[cells["school_id"] == school].set_index("months")
            start = mine.loc[0]
            assert row["suppressed"] == bool(start["suppressed"])
            if row["suppressed"]:
                assert row["retention"] == [None] * len(rounds) and pd.isna(row["n"])
                continue
            assert (row["n"], row["teachers"]) == (start["n"], start["teachers"])
            expected = [None if m not in mine.index or mine.loc[m, "suppressed"] else mine.loc[m, "rate"] for m in rounds]
            assert [v is None for v in row["retention"]] == [v is None for v in expected]
            assert [v for v in row["retention"] if v is not None] == pytest.approx(
                [v for v in expected if v is not None], rel=1e-12)


def test_school_context_counts_each_visit_once_whatever_the_schedule_windows(con):
    """The hindrance text counts placed visits (model_visits rows) when no visit can lie in two
    rounds' windows, else each visit once (metrics/schools.py `visits_placed_once`): the same
    text on this fixture (no visit is placed twice), with and without a hindrance or practice filter."""
    from metrics.schools import _school_context, visits_placed_once

    connection, config = con
    assert visits_placed_once(config)  # rounds 3 months apart, windows of 6 weeks
    wide = config.model_copy(update={"schedule": config.schedule.model_copy(update={"window_weeks": 7})})
    assert not visits_placed_once(wide)  # 2 x 49 days > 91.3 days between rounds 0 and 3
    for filters in (Filters(), Filters(hindrance=("low_pay",)), Filters(practice=("group_work",))):
        placed = _school_context(connection, filters, config).sort_values("school_id").reset_index(drop=True)
        once = _school_context(connection, filters, wide).sort_values("school_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(placed, once)
    texts = _school_context(connection, Filters(), config).set_index("school_id")["hindrances"]
    assert texts["S1"] == "Lack of follow-up (2 of 6 visits); Teachers' low pay (2 of 6 visits)"


def test_school_retention_lists_per_round_pattern():
    """`_retention_lists` (built per pattern of rounds shown, not per school) gives each school's
    values with None where not shown, and the values shown in round order."""
    from metrics.schools import _retention_lists

    nan = float("nan")
    grid = np.array([[1.0, 0.5, nan], [nan, nan, nan], [0.9, nan, 0.25], [1.0, 0.75, nan], [0.8, 0.6, 0.4]])
    values, trend = _retention_lists(grid)
    assert values == [[1.0, 0.5, None], [None, None, None], [0.9, None, 0.25], [1.0, 0.75, None], [0.8, 0.6, 0.4]]
    assert list(trend) == [[1.0, 0.5], [], [0.9, 0.25], [1.0, 0.75], [0.8, 0.6, 0.4]]
    assert all(type(line) is list for line in trend)
    assert _retention_lists(np.zeros((0, 3))) == ([], [])
