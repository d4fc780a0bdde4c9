"""Survival: a life table at the scheduled rounds of practices in use at month 0. A hand-computed
fixture (both rules), a gap-free fixture against lifelines' Kaplan-Meier (and the old
confirmed-rule derivation), the sample data against an independent pandas derivation from the raw
tables, and the school bootstrap against Greenwood.

Golden fixture (programme CBM, one school, cut-off 3, rounds 0 3 6 12 18 24; gw = group_work,
q = questioning; "." = no visit that round):
    unit  m0  m3  m6      m12  m18    m24   first_drop: at risk / event      confirmed (old rule)
    A gw  4   4   2       1    .      .     3 6, event 6                     3 6, event 6 (2, 1)
    B gw  3   2   2       .    .      .     3, event 3                       3, event 3
    C gw  3   4   3       3    .      .     3 6 12, censored                 3 6 12
    C q   4   1   1       .    .      .     3, event 3                       3, event 3
    D gw  4   4   left    .    .      .     3 (censored at 3, not 6)         3
    E gw  3   2   .       1    .      .     3, event 3                       3, event 3 (missed 6 skipped)
    F gw  3   3   1       .    .      .     3 6, event 6                     3 6 (not confirmed)
    G gw  2   4   4       .    .      .     not a unit (not retained at 0)
    H gw  3   1   4       2    1      .     3, event 3                       3 6 12, event 12
    I gw  3   2   absent  2    .      .     3, event 3                       3, event 3
    J gw  3   4   .       4    4      2     3 12 18 24, event 24 (last)      3 12 18 24 (not confirmed)
    K gw  3   3   3       3    3      3     every round, censored            every round
    L gw  3   3   3       .    left   .     3 6 (censored at 6, not 18)      3 6
J reported low_pay at month 12 (the only hindrance).

12 units, 11 teachers. first_drop, by hand:
    t   r   d   S(t)
    0   12  0   1
    3   12  5   7/12             (B, C-q, E, H, I)
    6   5   2   7/12 * 3/5 = 7/20  (A, F; at risk A C-gw F K L: D left, J missed, E/I not seen)
    12  3   0   7/20             (C-gw J K; L missed)
    18  2   0   7/20             (J K)
    24  2   1   7/20 * 1/2 = 7/40  (J: a drop at the last round is an event, S(24) < S(18))
Interval at t = 3: one school, so the school bootstrap cannot vary and Greenwood's (log(-log))
interval is shown: V = [5 / (12 * 7)] / ln(7/12)^2 = 0.0595238 / 0.2905172 = 0.204889,
z sqrt(V) = 1.959964 * 0.452647 = 0.887172; low = (7/12)^exp(0.887172) = (7/12)^2.428210 = 0.270145,
high = (7/12)^exp(-0.887172) = (7/12)^0.411827 = 0.800948.

confirmed, by hand (the old rule's events; censoring at the last observation):
    t   r   d   S(t)
    3   12  4   2/3              (B, C-q, E, I)
    6   6   1   2/3 * 5/6 = 5/9    (A; at risk A C-gw F H K L)
    12  4   1   5/9 * 3/4 = 5/12   (H; at risk C-gw H J K)
    18  2   0   5/12             (J K)
    24  2   0   5/12             (the last round can hold no event)
The old implementation (followup_ctes + Kaplan-Meier) dated the same events {3: 4, 6: 1, 12: 1};
it kept D (left at 6), J (missed 6) and L (left at 18) in its risk sets: 2/3, 7/12, 7/15, ...
"""
import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from metrics import FilterError, Filters
from metrics.base import query
from sustain.config import DAYS_PER_MONTH
from metrics.stats import clustered_ratio_interval
from metrics.survival import (bootstrap_interval, greenwood_interval, survival,
                              survival_counts)
from support import teacher, visit, with_min_group_n, write_config, write_kobo, write_roster

COLUMNS = ["months", "survival", "ci_low", "ci_high", "at_risk", "events", "n", "teachers", "suppressed"]

# teacher -> list of (month, scores or status[, hindrances])
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
    "J": [(0, {"group_work": "3"}), (3, {"group_work": "4"}), (12, {"group_work": "4"}, "low_pay"),
          (18, {"group_work": "4"}), (24, {"group_work": "2"})],
    "K": [(0, {"group_work": "3"}), (3, {"group_work": "3"}), (6, {"group_work": "3"}), (12, {"group_work": "3"}),
          (18, {"group_work": "3"}), (24, {"group_work": "3"})],
    "L": [(0, {"group_work": "3"}), (3, {"group_work": "3"}), (6, {"group_work": "3"}), (18, "left")],
}


def build_db(tmp_path, config_factory, load, plan, schools=None, min_group_n=1):
    """Load a plan {teacher: [(month, scores | status[, hindrances]), ...]} through the real ingest."""
    config = config_factory(**{"thresholds.min_group_n": min_group_n})
    schools = schools or {}
    teachers = [teacher(t, schools.get(t, "S1")) for t in plan]
    visits = []
    for t, rounds in plan.items():
        for month, what, *reported in rounds:
            extra = {"hindrances": reported[0]} if reported else {}
            if isinstance(what, str):
                visits.append(visit(f"{t}-{month}", t, schools.get(t, "S1"), month, status=what, **extra))
            else:
                visits.append(visit(f"{t}-{month}", t, schools.get(t, "S1"), month, scores=what, **extra))
    result = load(config, write_roster(tmp_path / "roster.csv", teachers), write_kobo(tmp_path / "k.csv", visits))
    assert result.ok and result.files[1].inserted == len(visits)
    return duckdb.connect(str(config.database_path()), read_only=True), config


@pytest.fixture(scope="module")
def plan_config(tmp_path_factory):
    """PLAN imported once for the module; the config of its database (min_group_n 1)."""
    from ingest import ingest_files
    from sustain.config import load_config

    folder = tmp_path_factory.mktemp("survival_plan")
    connection, config = build_db(folder, lambda **changes: load_config(write_config(folder, **changes)),
                                  lambda config, *files: ingest_files(list(files), config), PLAN)
    connection.close()
    return config


@pytest.fixture
def fixture_db(plan_config):
    """`fixture_db(min_group_n)`: a read-only connection to PLAN's database and its config; the tests
    only read (suppression is applied when reading: another min_group_n is a copy of the config)."""
    connections = []

    def make(min_group_n=1):
        connection = duckdb.connect(str(plan_config.database_path()), read_only=True)
        connections.append(connection)
        return connection, with_min_group_n(plan_config, min_group_n)
    yield make
    for connection in connections:
        connection.close()


def test_life_table_by_hand(fixture_db):
    con, config = fixture_db()
    table = survival(con, Filters(), [], config, rule="first_drop")
    assert list(table.columns) == COLUMNS
    assert table["months"].tolist() == [0, 3, 6, 12, 18, 24]
    assert table["survival"].tolist() == pytest.approx([1, 7 / 12, 7 / 20, 7 / 20, 7 / 20, 7 / 40], abs=1e-12)
    assert table["at_risk"].tolist() == [12, 12, 5, 3, 2, 2]
    assert table["events"].tolist() == [0, 5, 2, 0, 0, 1]
    assert table["n"].tolist() == [12] * 6 and table["teachers"].tolist() == [11] * 6
    assert not table["suppressed"].any()
    assert table.loc[1, ["ci_low", "ci_high"]].tolist() == pytest.approx([0.270145, 0.800948], abs=1e-5)
    assert table.loc[0, ["ci_low", "ci_high"]].tolist() == [1, 1]
    # a drop at the last round is an event now
    assert table.loc[5, "survival"] < table.loc[4, "survival"]

    by_practice = survival(con, Filters(), ["practice"], config, rule="first_drop")
    gw = by_practice[by_practice["practice"] == "group_work"]
    # 11 units: 4 events of 11 at 3 (B E H I), then as above
    assert gw["survival"].tolist() == pytest.approx([1, 7 / 11, 7 / 11 * 3 / 5, 21 / 55, 21 / 55, 21 / 110])
    q = by_practice[by_practice["practice"] == "questioning"]
    assert q["months"].tolist() == [0, 3] and q["survival"].tolist() == pytest.approx([1, 0])
    assert q["n"].tolist() == [1, 1] and q["teachers"].tolist() == [1, 1]


def test_confirmed_rule_by_hand_and_against_the_old_derivation(fixture_db):
    con, config = fixture_db()
    table = survival(con, Filters(), [], config, rule="confirmed")
    assert table["months"].tolist() == [0, 3, 6, 12, 18, 24]
    assert table["survival"].tolist() == pytest.approx([1, 2 / 3, 5 / 9, 5 / 12, 5 / 12, 5 / 12], abs=1e-12)
    assert table["at_risk"].tolist() == [12, 12, 6, 4, 2, 2]
    assert table["events"].tolist() == [0, 4, 1, 1, 0, 0]
    # the last round can hold no event under this rule
    assert table["survival"].iloc[-1] == table["survival"].iloc[-2]
    # the same abandonments, dated at the same rounds, as the old implementation dated them
    assert table.set_index("months")["events"].loc[[3, 6, 12]].tolist() == [4, 1, 1]
    with pytest.raises(FilterError, match="rule"):
        survival(con, Filters(), [], config, rule="ever")


def test_months_filter_selects_rows_of_the_same_curve(fixture_db):
    con, config = fixture_db()
    table = survival(con, Filters(months_min=3, months_max=6), [], config, rule="first_drop")
    assert table["months"].tolist() == [3, 6]
    assert table["survival"].tolist() == pytest.approx([7 / 12, 7 / 20])
    # the default (latent model): the same rows of the unfiltered curve
    whole = survival(con, Filters(), [], config).set_index("months")["survival"]
    shown = survival(con, Filters(months_min=3, months_max=6), [], config)
    assert shown["survival"].tolist() == pytest.approx(whole.loc[[3, 6]].tolist())


def test_months_is_not_a_grouping_and_filters_are_values(fixture_db):
    con, config = fixture_db()
    with pytest.raises(FilterError, match="months"):
        survival(con, Filters(), ["months"], config)
    with pytest.raises(FilterError, match="cannot group by"):
        survival(con, Filters(), ["teacher_name"], config)
    assert survival(con, Filters(district=("x' OR 1=1 --",)), [], config).empty


def test_hindrance_filter_and_grouping_keep_the_teachers_who_reported_it(fixture_db):
    con, config = fixture_db()
    # J reported low_pay (at month 12): J's unit, all of its rounds (month 3 too)
    expected = ([0, 3, 12, 18, 24], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1])
    for table in (survival(con, Filters(hindrance=("low_pay",)), [], config, rule="first_drop"),
                  survival(con, Filters(), ["hindrance"], config, rule="first_drop")):
        assert table["months"].tolist() == expected[0]
        assert table["survival"].tolist() == pytest.approx(expected[1])
        assert table["at_risk"].tolist() == expected[2]
        assert set(table.get("hindrance", pd.Series(["low_pay"]))) == {"low_pay"}
    assert survival(con, Filters(hindrance=("other",)), [], config).empty


def test_small_groups_are_suppressed_whole_and_blank(fixture_db):
    con, config = fixture_db(min_group_n=2)
    table = survival(con, Filters(), ["practice"], config)
    # questioning rests on 1 teacher -> suppressed; group_work is then suppressed too
    # (complementary), each as one row with every value blank, never 0
    assert table["practice"].tolist() == ["group_work", "questioning"]
    assert table["suppressed"].tolist() == [True, True]
    for column in COLUMNS[:-1]:
        assert table[column].isna().all(), column


def test_cli_rule_option(fixture_db, capsys):
    from metrics.__main__ import main

    con, config = fixture_db()
    path = str(config.database_path())
    con.close()
    assert main(["survival", "--db", path, "--rule", "confirmed", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [row["events"] for row in rows] == [0, 4, 1, 1, 0, 0]
    assert main(["survival", "--db", path, "--rule", "first_drop"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1].split(",")
    assert last[0] == "24" and float(last[1]) == pytest.approx(7 / 40) and last[5] == "1"
    # the default is the latent model: the same rows and counts, its own curve
    assert main(["survival", "--db", path]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1].split(",")
    assert last[0] == "24" and 0 <= float(last[1]) <= 1 and last[5] == "1"
    assert main(["retention", "--db", path, "--rule", "confirmed"]) == 2


# ---- a gap-free fixture: the life table is Kaplan-Meier ----------------------------------------

def gap_free_plan(seed=7, teachers=40):
    """Every teacher visited at every round from 0 to a random last round (no missed round, no
    absence, no `na`), two practices scored 1..4 with decreasing chances of being retained."""
    rng = np.random.default_rng(seed)
    rounds = [0, 3, 6, 12, 18, 24]
    plan = {}
    for index in range(teachers):
        last = int(rng.integers(1, len(rounds)))
        visits = []
        for k, month in enumerate(rounds[:last + 1]):
            keep = 0.9 - 0.12 * k
            visits.append((month, {p: str(int(rng.integers(3, 5) if rng.random() < keep else rng.integers(1, 3)))
                                   for p in ("group_work", "questioning")}))
        plan[f"T{index:02d}"] = visits
    return plan


def durations_in_python(plan, rule):
    """(duration, event) per unit straight from the plan: first_drop = first later round not
    retained; confirmed = not retained at two rounds in a row (the first dated), else censored at
    the last round seen."""
    out = []
    for visits in plan.values():
        for practice in ("group_work", "questioning"):
            scores = [(m, int(s[practice]) >= 3) for m, s in visits]
            if not scores[0][1]:
                continue
            later = scores[1:]
            event_at = None
            for k, (month, kept) in enumerate(later):
                if not kept and (rule == "first_drop" or (k + 1 < len(later) and not later[k + 1][1])):
                    event_at = month
                    break
            out.append((event_at, True) if event_at is not None else (scores[-1][0], False))
    return pd.DataFrame(out, columns=["duration", "event"])


@pytest.mark.parametrize("rule", ["first_drop", "confirmed"])
def test_gap_free_life_table_is_kaplan_meier(tmp_path, config_factory, load, rule):
    plan = gap_free_plan()
    schools = {t: f"S{i % 8}" for i, t in enumerate(plan)}
    con, config = build_db(tmp_path, config_factory, load, plan, schools=schools)
    try:
        table = survival(con, Filters(), [], config, rule=rule)
        units = durations_in_python(plan, rule)
        fitter = KaplanMeierFitter().fit(units["duration"], units["event"])
        months = table["months"].to_numpy()
        assert table["survival"].to_numpy() == pytest.approx(
            fitter.survival_function_at_times(months).to_numpy(), abs=1e-12)
        assert table["at_risk"].tolist() == [(units["duration"] >= m).sum() for m in months]
        assert table["events"].sum() == units["event"].sum() and table["n"].iloc[0] == len(units)
        # Greenwood (log(-log)) as lifelines computes it
        counts = table[["at_risk", "events"]].to_numpy(dtype="float64").T
        low, high = greenwood_interval(counts[0][None], counts[1][None])
        interval = fitter.confidence_interval_survival_function_.reindex(months)
        inside = (table["survival"] > 0).to_numpy() & (table["survival"] < 1).to_numpy()
        assert low[0][inside] == pytest.approx(interval.iloc[:, 0].to_numpy()[inside], abs=1e-10)
        assert high[0][inside] == pytest.approx(interval.iloc[:, 1].to_numpy()[inside], abs=1e-10)
    finally:
        con.close()


# ---- the school bootstrap ----------------------------------------------------------------------

def test_bootstrap_follows_clustering_and_not_the_unit_count():
    """Synthetic per-school counts, one round: 40 schools of 10 units. Independent units (events
    spread evenly, one school = one unit's worth of variation): about Greenwood's width. Every unit
    of a school sharing its outcome (a school abandons whole or keeps whole): far wider."""
    schools, size = 40, 10
    school = np.arange(schools)
    zeros, rounds = np.zeros(schools, dtype=int), np.ones(schools, dtype=int)
    rng = np.random.default_rng(3)
    spread = rng.binomial(size, 0.5, schools)  # independent units
    whole = np.where(school % 2 == 0, size, 0)  # whole schools abandon
    ratios = {}
    for name, events in (("spread", spread), ("whole", whole)):
        low, high = bootstrap_interval(zeros, school, rounds, np.full(schools, size), events, 1, 2)
        gw_low, gw_high = greenwood_interval(np.array([[schools * size] * 2], dtype=float),
                                             np.array([[0, events.sum()]], dtype=float))
        ratios[name] = (high[0, 1] - low[0, 1]) / (gw_high[0, 1] - gw_low[0, 1])
    assert 0.7 < ratios["spread"] < 1.3
    assert ratios["whole"] > 2.5  # design effect 1 + (10 - 1) * 1 = 10: sqrt = 3.2


@pytest.fixture(scope="module")
def sample(sample_db):
    from sustain.config import load_config

    con = duckdb.connect(str(sample_db), read_only=True)
    yield con, load_config()
    con.close()


def test_sample_bootstrap_is_wider_than_greenwood_where_design_effects_exceed_one(sample):
    con, config = sample
    table = survival(con, Filters(), ["programme"], config, rule="first_drop")
    cells, _ = survival_counts(con, Filters(), ["programme"], config)
    for programme, rows in table.groupby("programme"):
        rows = rows[rows["months"] > 0]
        low, high = greenwood_interval(rows["at_risk"].to_numpy(float)[None], rows["events"].to_numpy(float)[None])
        first = cells[(cells["programme"] == programme) & (cells["months"] == 3)]
        rate, se, _, _ = clustered_ratio_interval(first["events"], first["at_risk"])
        design_effect = se**2 / (rate * (1 - rate) / first["at_risk"].sum())
        assert design_effect > 1.2, programme  # the premise: schools are clusters on the sample
        boot_width = (rows["ci_high"] - rows["ci_low"]).to_numpy()
        assert (boot_width > 1.15 * (high[0] - low[0])).all(), programme
        assert ((rows["ci_low"] < rows["survival"]) & (rows["survival"] < rows["ci_high"])).all()


# ---- the sample data against an independent derivation -----------------------------------------

def life_table_in_pandas(con, config, rule) -> pd.DataFrame:
    """At-risk and events per programme and round straight from the raw tables, in pandas (no
    SQL beyond reading the tables): placement on the nearest round within the window (latest visit
    wins), present visits with a score, units retained at month 0."""
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
    cutoff = {p.code: p.retained_at for p in config.practices}
    obs = placed[placed["teacher_status"] == "present"].merge(scores, on="submission_id")
    obs["retained"] = obs["score"] >= obs["practice"].map(cutoff)
    base = obs[(obs["round"] == 0) & obs["retained"]][["teacher_key", "practice", "programme"]]
    later = (obs[obs["round"] > 0][["teacher_key", "practice", "round", "retained"]]
             .merge(base, on=["teacher_key", "practice"]).sort_values(["teacher_key", "practice", "round"]))
    unit = later.groupby(["teacher_key", "practice"])
    if rule == "first_drop":
        drop = ~later["retained"]
    else:
        drop = ~later["retained"] & (unit["retained"].shift(-1) == False)  # noqa: E712 (NaN is not False)
    earlier = drop.astype(int).groupby([later["teacher_key"], later["practice"]]).cumsum() - drop.astype(int)
    later["at_risk"] = earlier == 0
    later["event"] = later["at_risk"] & drop
    table = (later[later["at_risk"]].groupby(["programme", "round"])
             .agg(at_risk=("at_risk", "size"), events=("event", "sum")).reset_index())
    table["survival"] = (1 - table["events"] / table["at_risk"]).groupby(table["programme"]).cumprod()
    month0 = base.groupby("programme").size().rename("at_risk").reset_index().assign(round=0, events=0, survival=1.0)
    return pd.concat([month0, table]).sort_values(["programme", "round"]).reset_index(drop=True)


@pytest.mark.parametrize("rule", ["first_drop", "confirmed"])
def test_sample_matches_independent_life_table(sample, rule):
    con, config = sample
    expected = life_table_in_pandas(con, config, rule)
    mine = survival(con, Filters(), ["programme"], config, rule=rule)
    assert mine["programme"].tolist() == expected["programme"].tolist()
    assert mine["months"].tolist() == expected["round"].tolist()
    assert mine["at_risk"].tolist() == expected["at_risk"].tolist()
    assert mine["events"].tolist() == expected["events"].tolist()
    assert mine["survival"].to_numpy() == pytest.approx(expected["survival"].to_numpy(), abs=1e-12)
    at = mine.set_index(["programme", "months"])["survival"]
    if rule == "first_drop":
        # drops at the last round count: the curve still falls between 18 and 24
        assert at["CBT", 24] < at["CBT", 18] and at["CBM", 24] < at["CBM", 18]
        # and CBT (training only) loses its practices faster than coached CBM
        assert at["CBT", 12] < at["CBM", 12] < 1
    else:
        assert at["CBT", 24] == at["CBT", 18] and at["CBM", 24] == at["CBM", 18]


def test_sample_grouped_curves_match_the_ungrouped_ones(sample):
    """A curve shown in a group equals the same group chosen by a filter (the bootstrap shares one
    school draw across groups; the point estimates do not depend on it)."""
    con, config = sample
    grouped = survival(con, Filters(), ["programme", "practice"], config, rule="first_drop")
    one = survival(con, Filters(programme=("CBT",), practice=("peer_feedback",)), [], config, rule="first_drop")
    part = grouped[(grouped["programme"] == "CBT") & (grouped["practice"] == "peer_feedback")]
    assert part["survival"].tolist() == pytest.approx(one["survival"].tolist(), abs=1e-12)
    assert part["at_risk"].tolist() == one["at_risk"].tolist()


@pytest.mark.parametrize("by, filters", [
    ((), Filters()), (("programme", "practice"), Filters()), (("hindrance",), Filters()),
    (("gender",), Filters(hindrance=("low_pay",), practice=("peer_feedback", "questioning"))),
])
def test_units_counted_from_month_0_rows_equal_the_units_of_every_row(sample, monkeypatch, by, filters):
    """Without a place grouped or filtered, n and teachers come from the month-0 rows alone
    (`units_whole`); they equal the distinct units and teachers over all of a group's rows."""
    import metrics.survival as module

    con, config = sample
    assert module.units_whole(by, filters)
    quick = survival_counts(con, filters, by, config, per_school=False)
    monkeypatch.setattr(module, "units_whole", lambda by, filters: False)
    every_row = survival_counts(con, filters, by, config, per_school=False)
    assert len(quick[1]) > 0
    for mine, theirs in zip(quick, every_row):  # (cells, groups), in DuckDB's order: compare sorted
        # (the cells' by-columns are Categoricals of each query's own values: compared as text)
        mine, theirs = (frame.astype({c: object for c in by}) for frame in (mine, theirs))
        keys = [c for c in mine.columns if c not in ("at_risk", "events", "n", "teachers")]
        pd.testing.assert_frame_equal(mine.sort_values(keys, ignore_index=True),
                                      theirs.sort_values(keys, ignore_index=True))
    assert not module.units_whole(("district",), Filters())
    assert not module.units_whole((), Filters(school_id=("S1",)))
    assert not module.units_whole((), Filters(scope=("D1",)))


@pytest.mark.parametrize("rule", ["first_drop", "latent"])
def test_grouped_by_school_each_curve_is_the_schools_own(sample, rule):
    """--by school_id (the school is then a key of the cells, not a column beside them): each
    school's row of the grouped table is the school chosen by a filter, at every round."""
    con, config = sample
    config = with_min_group_n(config, 1)  # the sample's schools are small: show every one
    grouped = survival(con, Filters(), ["school_id"], config, rule=rule)
    shown = grouped[~grouped["suppressed"]]
    assert shown["school_id"].nunique() >= 2
    # the schools as text, in ascending order (the order complementary suppression breaks ties by;
    # a Categorical of DuckDB's first appearances would order them, and hide others, by that)
    assert grouped["school_id"].dtype == object
    assert grouped["school_id"].tolist() == sorted(grouped["school_id"])
    for school in shown["school_id"].unique()[:3]:
        one = survival(con, Filters(school_id=(school,)), [], config, rule=rule)
        part = shown[shown["school_id"] == school]
        assert part["months"].tolist() == one["months"].tolist()
        assert part["at_risk"].tolist() == one["at_risk"].tolist()
        assert part["events"].tolist() == one["events"].tolist()
        if rule == "first_drop":  # the latent model's emissions are shared by a view's groups
            assert part["survival"].tolist() == pytest.approx(one["survival"].tolist(), abs=1e-12)
        else:
            # one school: no interval, grouped or filtered (the group's sandwich would be its one
            # school's score, zero at the estimate: a band of almost no width)
            later = part["months"] > 0
            assert part.loc[later, "ci_low"].isna().all() and one.loc[one["months"] > 0, "ci_low"].isna().all()
    if rule == "latent":  # groups of many schools keep theirs
        by_programme = survival(con, Filters(), ["programme"], config)
        assert by_programme.loc[by_programme["months"] > 0, "ci_low"].notna().all()


def test_bootstrap_dense_and_sparse_products_give_the_same_interval(monkeypatch):
    """The replicate counts are multiplied as a dense array of the schools present when small
    enough (`DENSE_CELLS`), else as a sparse matrix: whole-number sums, so the same interval."""
    import metrics.survival as module

    rng = np.random.default_rng(5)
    cells = 600
    group, school, at = rng.integers(0, 4, cells), rng.integers(0, 90, cells), rng.integers(0, 3, cells)
    risk = rng.integers(1, 30, cells)
    events = rng.binomial(risk, 0.2)
    dense = bootstrap_interval(group, school, at, risk, events, 4, 3)
    monkeypatch.setattr(module, "DENSE_CELLS", 0)
    sparse_ = bootstrap_interval(group, school, at, risk, events, 4, 3)
    for mine, theirs in zip(dense, sparse_):
        assert np.isfinite(mine).sum() > 0
        np.testing.assert_array_equal(mine, theirs)


def test_complementary_suppression_does_not_follow_duckdbs_row_order(sample, monkeypatch):
    """The groups' counts come from DuckDB in an order that varies between runs; the cells the
    complementary rule hides must not (two renders hiding different cells would tell both)."""
    import metrics.survival as module

    con, config = sample
    counts = module.survival_counts
    hidden = 0
    for minimum in (2, 3, 5):  # ties between schools of equal teachers at some of them
        shown = {}
        for name, turn in (("as read", lambda frame: frame), ("reversed", lambda frame: frame.iloc[::-1])):
            monkeypatch.setattr(module, "survival_counts",
                                lambda *args, turn=turn, **kwargs: tuple(turn(part) for part in counts(*args, **kwargs)))
            table = survival(con, Filters(), ["school_id"], with_min_group_n(config, minimum), rule="first_drop")
            shown[name] = set(table.loc[table["suppressed"], "school_id"])
        assert shown["as read"] == shown["reversed"], minimum
        hidden += len(shown["as read"])
    assert hidden > 0
