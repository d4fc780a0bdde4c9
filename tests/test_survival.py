"""Kaplan-Meier survival of practices retained at month 0: a hand-computed fixture, the sample data
against an independent pandas derivation fitted with lifelines, and lifelines' lung data.

Fixture (programme CBM, cut-off 3, rounds 0 3 6 12 18 24; gw = group_work, q = questioning;
"-" = no visit that round):
    teacher  practice  m0  m3      m6      m12  m18   -> duration, event
    A        gw        4   4       2       1    -     -> 6, abandoned (6 and 12 not retained)
    B        gw        3   2       2       -    -     -> 3, abandoned
    C        gw        3   4       3       3    -     -> 12, censored (last observed round)
    C        q         4   1       1       -    -     -> 3, abandoned
    D        gw        4   4       left    -    -     -> 6, censored (left at month 6)
    E        gw        3   2       -       1    -     -> 3, abandoned (missed round 6 skipped)
    F        gw        3   3       1       -    -     -> 6, censored (final non-retained: not confirmed)
    G        gw        2   4       4       -    -     -> not at risk (not retained at month 0)
    H        gw        3   1       4       2    1     -> 12, abandoned (3 alone is not two in a row)
    I        gw        3   2       absent  2    -     -> 3, abandoned (absent visit skipped)

Units at risk: 9 (8 teachers). Kaplan-Meier by hand:
    t   at risk  events  S(t)
    0   9        0       1
    3   9        4       5/9            (B, C-q, E, I)
    6   5        1       5/9 * 4/5 = 4/9  (A; D and F censored at 6)
    12  2        1       4/9 * 1/2 = 2/9  (H; C-gw censored at 12)
95% interval at t = 3 (Greenwood on log(-log S), lifelines' default):
    V = [d/(n(n-d))] / (ln S)^2 = (4/45) / (ln 5/9)^2 = 0.088889 / 0.345496 = 0.257279
    z sqrt(V) = 1.959964 * 0.507227 = 0.994147
    low = S^exp(+0.994147) = (5/9)^2.702491 = 0.20426, high = S^exp(-0.994147) = (5/9)^0.370029 = 0.80455
By practice: gw 8 units: S = 1, 5/8 (3 events of 8), 5/8*4/5 = 1/2, 1/2*1/2 = 1/4; q 1 unit: S(3) = 0.
"""
import os

import duckdb
import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung

from metrics import FilterError, Filters
from metrics.base import DAYS_PER_MONTH
from metrics.survival import km_table, survival
from support import teacher, visit, write_kobo, write_roster

# teacher -> list of (month, scores or status)
PLAN = {
    "A": [(0, {"group_work": "4"}), (3, {"group_work": "4"}), (6, {"group_work": "2"}), (12, {"group_work": "1"})],
    "B": [(0, {"group_work": "3"}), (3, {"group_work": "2"}), (6, {"group_work": "2"})],
    "C": [(0, {"group_work": "3", "questioning": "4"}), (3, {"group_work": "4", "questioning": "1"}),
          (6, {"group_work": "3", "questioning": "1"}), (12, {"group_work": "3"})],
    "D": [(0, {"group_work": "4"}), (3, {"group_work": "4"}), (6, "left")],
    "E": [(0, {"group_work": "3"}), (3, {"group_work": "2"}), (12, {"group_work": "1"})],
    "F": [(0, {"group_work": "3"}), (3, {"group_work": "3"}), (6, {"group_work": "1"})],
    "G": [(0, {"group_work": "2"}), (3, {"group_work": "4"}), (6, {"group_work": "4"})],
    "H": [(0, {"group_work": "3"}), (3, {"group_work": "1"}), (6, {"group_work": "4"}), (12, {"group_work": "2"}),
          (18, {"group_work": "1"})],
    "I": [(0, {"group_work": "3"}), (3, {"group_work": "2"}), (6, "absent"), (12, {"group_work": "2"})],
}


@pytest.fixture
def fixture_db(tmp_path, config_factory, load):
    def build(min_group_n=1):
        config = config_factory(**{"thresholds.min_group_n": min_group_n})
        teachers = [teacher(t, "S1") for t in PLAN]
        visits = []
        for t, rounds in PLAN.items():
            for month, what in rounds:
                if isinstance(what, str):
                    visits.append(visit(f"{t}-{month}", t, "S1", month, status=what))
                else:
                    visits.append(visit(f"{t}-{month}", t, "S1", month, scores=what))
        result = load(config, write_roster(tmp_path / "roster.csv", teachers), write_kobo(tmp_path / "k.csv", visits))
        assert result.ok and result.files[1].inserted == len(visits)
        return duckdb.connect(str(config.database_path()), read_only=True), config
    connections = []

    def make(min_group_n=1):
        connection, config = build(min_group_n)
        connections.append(connection)
        return connection, config
    yield make
    for connection in connections:
        connection.close()


def test_survival_by_hand(fixture_db):
    con, config = fixture_db()
    table = survival(con, Filters(), [], config)
    assert list(table.columns) == ["months", "survival", "ci_low", "ci_high", "at_risk", "events", "n", "teachers",
                                   "suppressed"]
    assert table["months"].tolist() == [0, 3, 6, 12]
    assert table["survival"].tolist() == pytest.approx([1, 5 / 9, 4 / 9, 2 / 9])
    assert table["at_risk"].tolist() == [9, 9, 5, 2]
    assert table["events"].tolist() == [0, 4, 1, 1]
    assert table["n"].tolist() == [9] * 4 and table["teachers"].tolist() == [8] * 4
    assert not table["suppressed"].any()
    assert table.loc[1, ["ci_low", "ci_high"]].tolist() == pytest.approx([0.20426, 0.80455], abs=1e-4)

    by_practice = survival(con, Filters(), ["practice"], config)
    gw = by_practice[by_practice["practice"] == "group_work"]
    assert gw["survival"].tolist() == pytest.approx([1, 5 / 8, 1 / 2, 1 / 4])
    assert gw["at_risk"].tolist() == [8, 8, 5, 2]
    q = by_practice[by_practice["practice"] == "questioning"]
    assert q["months"].tolist() == [0, 3] and q["survival"].tolist() == pytest.approx([1, 0])
    assert q["n"].tolist() == [1, 1] and q["teachers"].tolist() == [1, 1]


def test_months_filter_selects_rows_of_the_same_curve(fixture_db):
    con, config = fixture_db()
    table = survival(con, Filters(months_min=3, months_max=6), [], config)
    assert table["months"].tolist() == [3, 6]
    assert table["survival"].tolist() == pytest.approx([5 / 9, 4 / 9])


def test_months_is_not_a_grouping_and_filters_are_values(fixture_db):
    con, config = fixture_db()
    with pytest.raises(FilterError, match="months"):
        survival(con, Filters(), ["months"], config)
    with pytest.raises(FilterError, match="cannot group by"):
        survival(con, Filters(), ["teacher_name"], config)
    assert survival(con, Filters(district=("x' OR 1=1 --",)), [], config).empty


def test_small_groups_are_suppressed_whole_and_blank(fixture_db):
    con, config = fixture_db(min_group_n=2)
    table = survival(con, Filters(), ["practice"], config)
    # questioning has 1 unit -> suppressed; group_work is then suppressed too (complementary),
    # each as one row with every value blank, never 0
    assert table["practice"].tolist() == ["group_work", "questioning"]
    assert table["suppressed"].tolist() == [True, True]
    for column in ["months", "survival", "ci_low", "ci_high", "at_risk", "events", "n", "teachers"]:
        assert table[column].isna().all(), column


def test_km_table_on_lifelines_lung():
    lung = load_lung()
    table = km_table(lung["time"], lung["status"])
    median = table.loc[table["survival"] <= 0.5, "time"].iloc[0]
    assert median == 310
    assert table["time"].iloc[0] == 0 and table["survival"].iloc[0] == 1
    assert table["at_risk"].iloc[0] == len(lung) and table["events"].sum() == lung["status"].sum()


# ---- the sample data against an independent derivation --------------------------------------

@pytest.fixture(scope="module")
def sample(sample_db):
    from sustain.config import load_config

    con = duckdb.connect(str(sample_db), read_only=True)
    yield con, load_config()
    con.close()


def units_in_pandas(con, config) -> pd.DataFrame:
    """Durations and events straight from the raw tables, in pandas (no SQL window functions)."""
    visits = con.execute("select submission_id, teacher_key, visit_date, teacher_status from visits").df()
    programme = con.execute("select teacher_key, programme from teachers").df()
    scores = con.execute("select submission_id, practice, score from visit_practices where score is not null").df()
    ends = {p.code: pd.Timestamp(p.end_date) for p in config.programmes}
    visits = visits.merge(programme, on="teacher_key")
    visits["days"] = (pd.to_datetime(visits["visit_date"]) - visits["programme"].map(ends)).dt.days
    window = config.schedule.window_weeks * 7
    placed = pd.concat([visits[(visits["days"] - m * DAYS_PER_MONTH).abs() <= window].assign(round=m)
                        for m in config.schedule.months])
    placed = (placed.sort_values(["visit_date", "submission_id"], ascending=[False, True])
              .drop_duplicates(["teacher_key", "round"]))
    exits = (placed[placed["teacher_status"].isin(["left", "transferred"])]
             .groupby("teacher_key")["round"].min().rename("exit"))
    cutoff = {p.code: p.retained_at for p in config.practices}
    obs = placed[placed["teacher_status"] == "present"].merge(scores, on="submission_id")
    obs["retained"] = obs["score"] >= obs["practice"].map(cutoff)
    base = obs[(obs["round"] == 0) & obs["retained"]][["teacher_key", "practice"]]
    later = obs[obs["round"] > 0].merge(base, on=["teacher_key", "practice"]).merge(exits, on="teacher_key", how="left")
    later = later[later["exit"].isna() | (later["round"] < later["exit"])]
    later = later.sort_values(["teacher_key", "practice", "round"])
    following = later.groupby(["teacher_key", "practice"])["retained"].shift(-1)
    later["lost"] = (~later["retained"]) & (following == False)  # noqa: E712 (NaN is not False)
    event = later[later["lost"]].groupby(["teacher_key", "practice"])["round"].min().rename("event_round")
    last = later.groupby(["teacher_key", "practice"])["round"].max().rename("last_round")
    units = (base.merge(event, on=["teacher_key", "practice"], how="left")
             .merge(last, on=["teacher_key", "practice"], how="left")
             .merge(exits, on="teacher_key", how="left")
             .merge(programme, on="teacher_key"))
    units["event"] = units["event_round"].notna()
    units["duration"] = units["event_round"].fillna(units["exit"]).fillna(units["last_round"]).fillna(0)
    return units


def test_sample_matches_independent_kaplan_meier(sample):
    con, config = sample
    units = units_in_pandas(con, config)
    mine = survival(con, Filters(), ["programme"], config)
    for programme, group in units.groupby("programme"):
        fitter = KaplanMeierFitter().fit(group["duration"], group["event"])
        rows = mine[mine["programme"] == programme]
        expected = fitter.survival_function_.iloc[:, 0]
        assert rows["months"].tolist() == expected.index.astype(int).tolist()
        assert rows["survival"].to_numpy() == pytest.approx(expected.to_numpy(), abs=1e-12)
        low = fitter.confidence_interval_survival_function_.iloc[:, 0].to_numpy()
        assert rows["ci_low"].to_numpy() == pytest.approx(low, abs=1e-12)
        assert rows["n"].iloc[0] == len(group)
        assert rows["events"].sum() == group["event"].sum()
    # the curve falls and CBT (training only) loses its practices faster than coached CBM
    at_12 = mine[mine["months"] == 12].set_index("programme")["survival"]
    assert at_12["CBT"] < at_12["CBM"] < 1
