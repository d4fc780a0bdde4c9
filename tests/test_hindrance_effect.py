"""Hindrance effect on abandonment: a hand-computed 2x2 fixture, the clustered intervals against a
hand-written sandwich estimator and statsmodels GEE, Benjamini-Hochberg by hand, and recovery of
the generator's harmful hindrances on the sample data.

Fixture: 14 teachers, 2 per school S1..S7, one practice (group_work) each, retained at month 0.
"abandons" = scores 3, 1, 1 at months 0, 3, 6 (confirmed at 3); "keeps" = 3, 3, 3. Hindrances are
reported at the month-0 visit.
    teacher school outcome  reported
    T01     S1     abandons no_followup low_pay
    T02     S1     abandons no_followup teacher_resistance
    T03     S2     abandons no_followup teacher_resistance
    T04     S2     keeps    no_followup low_pay
    T05     S3     abandons no_followup political_interference
    T06     S3     keeps    no_followup
    T07     S4     abandons low_pay political_interference
    T08     S4     keeps    low_pay
    T09     S5     abandons teacher_resistance
    T10     S5     keeps
    T11     S6     keeps    low_pay
    T12     S6     keeps    teacher_resistance
    T13     S7     keeps    low_pay
    T14     S7     keeps

2x2 tables (a = exposed abandoned, b = exposed kept, c = unexposed abandoned, d = unexposed kept):
    no_followup          a 4 b 2 c 2 d 6: OR = ad/bc = 24/4 = 6,   RD = 4/6 - 2/8  = 0.416667
    low_pay              a 2 b 4 c 4 d 4: OR = 8/16     = 0.5, RD = 2/6 - 4/8  = -0.166667
    teacher_resistance   a 3 b 1 c 3 d 7: OR = 21/3     = 7,   RD = 3/4 - 3/10 = 0.45
    political_interf.    a 2 b 0 c 4 d 8: b = 0 -> perfect separation, no OR; RD = 2/2 - 4/12 = 0.666667
    the other four: never reported -> no exposed units.
"""
import math
import os

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from metrics import Filters
from metrics.base import query
from metrics.hindrance_effect import effect_estimates, hindrance_effect
from metrics.survival import followup_ctes
from support import teacher, visit, write_kobo, write_roster

ABANDONS, KEEPS = ("3", "1", "1"), ("3", "3", "3")
TEACHERS = [  # teacher, school, abandons, hindrances
    ("T01", "S1", 1, "no_followup low_pay"),
    ("T02", "S1", 1, "no_followup teacher_resistance"),
    ("T03", "S2", 1, "no_followup teacher_resistance"),
    ("T04", "S2", 0, "no_followup low_pay"),
    ("T05", "S3", 1, "no_followup political_interference"),
    ("T06", "S3", 0, "no_followup"),
    ("T07", "S4", 1, "low_pay political_interference"),
    ("T08", "S4", 0, "low_pay"),
    ("T09", "S5", 1, "teacher_resistance"),
    ("T10", "S5", 0, ""),
    ("T11", "S6", 0, "low_pay"),
    ("T12", "S6", 0, "teacher_resistance"),
    ("T13", "S7", 0, "low_pay"),
    ("T14", "S7", 0, ""),
]
HAND = {  # hindrance: (odds ratio, risk difference, exposed units)
    "no_followup": (6.0, 4 / 6 - 2 / 8, 6),
    "low_pay": (0.5, 2 / 6 - 4 / 8, 6),
    "teacher_resistance": (7.0, 3 / 4 - 3 / 10, 4),
}


def build(tmp_path, config, load):
    teachers, visits = [], []
    for t, school, abandons, reported in TEACHERS:
        teachers.append(teacher(t, school))
        for month, score in zip((0, 3, 6), ABANDONS if abandons else KEEPS):
            visits.append(visit(f"{t}-{month}", t, school, month, scores={"group_work": score},
                                hindrances=reported if month == 0 else ""))
    result = load(config, write_roster(tmp_path / "roster.csv", teachers), write_kobo(tmp_path / "k.csv", visits))
    assert result.ok and result.files[1].inserted == len(visits)
    return duckdb.connect(str(config.database_path()), read_only=True)


@pytest.fixture
def con(tmp_path, config_factory, load):
    config = config_factory(**{"thresholds.min_group_n": 1})
    connection = build(tmp_path, config, load)
    yield connection, config
    connection.close()


def arrays(hindrance):
    """Outcome, exposure and school of the 14 units, written from the fixture table above."""
    y = np.array([row[2] for row in TEACHERS], dtype=float)
    x = np.array([hindrance in row[3].split() for row in TEACHERS], dtype=float)
    schools = np.array([row[1] for row in TEACHERS])
    return y, x, schools


def sandwich_se(y, x, schools, logistic):
    """Cluster-robust SE of the slope, written out: bread^-1 meat bread^-1 with statsmodels'
    small-sample factor G/(G-1) * (N-1)/(N-K). With one binary regressor both models fit each arm
    exactly: fitted value = the arm's share of abandonment."""
    design = np.column_stack([np.ones_like(x), x])
    fitted = np.where(x == 1, y[x == 1].mean(), y[x == 0].mean())
    weight = fitted * (1 - fitted) if logistic else np.ones_like(y)
    bread = np.linalg.inv(design.T @ (design * weight[:, None]))
    scores = design * (y - fitted)[:, None]
    meat = np.zeros((2, 2))
    for school in np.unique(schools):
        s = scores[schools == school].sum(axis=0)
        meat += np.outer(s, s)
    n, g = len(y), len(np.unique(schools))
    factor = g / (g - 1) * (n - 1) / (n - 2)
    return math.sqrt(factor * (bread @ meat @ bread)[1, 1]), factor


def test_effects_by_hand(con):
    connection, config = con
    table = hindrance_effect(connection, Filters(), [], config)
    assert list(table.columns) == ["hindrance", "risk_difference", "odds_ratio", "ci_low", "ci_high", "p_adj",
                                   "p_value", "n", "rd_ci_low", "rd_ci_high", "exposed_n", "note", "teachers",
                                   "suppressed"]
    assert table["hindrance"].tolist() == config.hindrance_codes  # config order
    rows = table.set_index("hindrance")
    for hindrance, (odds, rd, exposed) in HAND.items():
        assert rows.loc[hindrance, "odds_ratio"] == pytest.approx(odds, rel=1e-9)
        assert rows.loc[hindrance, "risk_difference"] == pytest.approx(rd, abs=1e-12)
        assert rows.loc[hindrance, "exposed_n"] == exposed
        assert rows.loc[hindrance, "note"] == ""
    assert (rows["n"] == 14).all() and (rows["teachers"] == 14).all() and not rows["suppressed"].any()
    political = rows.loc["political_interference"]
    assert math.isnan(political["odds_ratio"]) and math.isnan(political["p_adj"])
    assert "perfect separation" in political["note"]
    assert political["risk_difference"] == pytest.approx(2 / 2 - 4 / 12)
    for hindrance in ("management_resistance", "parent_resistance", "no_resources", "other"):
        assert rows.loc[hindrance, "note"] == "no units with the hindrance"
        assert rows.loc[hindrance, ["risk_difference", "odds_ratio", "p_adj"]].isna().all()


def test_clustered_intervals_against_sandwich_and_gee(con):
    connection, config = con
    rows = hindrance_effect(connection, Filters(), [], config).set_index("hindrance")
    z = stats.norm.ppf(0.975)
    for hindrance in HAND:
        y, x, schools = arrays(hindrance)
        row = rows.loc[hindrance]
        # odds ratio: the sandwich written out above gives the same interval (to rounding)
        se, factor = sandwich_se(y, x, schools, logistic=True)
        log_or = math.log(row["odds_ratio"])
        assert [row["ci_low"], row["ci_high"]] == pytest.approx([math.exp(log_or - z * se), math.exp(log_or + z * se)],
                                                                rel=1e-9)
        assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(log_or) / se), rel=1e-9)
        # risk difference: the linear-model sandwich
        rd_se, _ = sandwich_se(y, x, schools, logistic=False)
        rd = row["risk_difference"]
        assert [row["rd_ci_low"], row["rd_ci_high"]] == pytest.approx([rd - z * rd_se, rd + z * rd_se], rel=1e-9)
        # GEE with an independence working correlation solves the logit score equations, and its
        # robust covariance is the same sandwich without the small-sample factor: after scaling by
        # sqrt(factor) the standard errors agree up to GEE's iterative convergence (well under 1e-6).
        groups = pd.factorize(schools)[0]
        gee = sm.GEE(y, sm.add_constant(x), groups=groups, family=sm.families.Binomial(),
                     cov_struct=sm.cov_struct.Independence()).fit()
        assert gee.params[1] == pytest.approx(log_or, rel=1e-6)
        assert gee.bse[1] * math.sqrt(factor) == pytest.approx(se, rel=1e-6)


def test_benjamini_hochberg_by_hand(con):
    connection, config = con
    rows = hindrance_effect(connection, Filters(), [], config).set_index("hindrance")
    p = rows.loc[list(HAND), "p_value"].sort_values()
    m = 3  # tested hindrances (political_interference and the unreported ones have no p-value)
    # BH: p_adj(i) = min over j >= i of p(j) * m / j, for the sorted p(1) <= p(2) <= p(3)
    third = min(1.0, p.iloc[2] * m / 3)
    second = min(third, p.iloc[1] * m / 2)
    first = min(second, p.iloc[0] * m / 1)
    assert rows.loc[p.index, "p_adj"].tolist() == pytest.approx([first, second, third], rel=1e-12)


def test_hindrance_filter_picks_rows_and_months_grouping(con):
    connection, config = con
    full = hindrance_effect(connection, Filters(), [], config).set_index("hindrance")
    only = hindrance_effect(connection, Filters(hindrance=("low_pay",)), [], config)
    assert only["hindrance"].tolist() == ["low_pay"]
    # same units (teachers are not selected by the filter) and p_adj still across all hindrances
    assert only.loc[0, ["odds_ratio", "p_adj", "n"]].tolist() == pytest.approx(
        full.loc["low_pay", ["odds_ratio", "p_adj", "n"]].tolist())
    by_months = hindrance_effect(connection, Filters(hindrance=("no_followup",)), ["months"], config)
    assert by_months["months"].tolist() == [3, 6, 12, 18, 24]
    # by month 3 nothing can be confirmed yet (the second non-retained visit is at 6)
    assert by_months.loc[0, "note"] == "no confirmed abandonment in this group"
    assert by_months.loc[1, "odds_ratio"] == pytest.approx(6.0)
    assert hindrance_effect(connection, Filters(district=("x' OR 1=1 --",)), [], config).empty


def test_small_arms_are_suppressed(tmp_path, config_factory, load):
    config = config_factory(**{"thresholds.min_group_n": 5})
    connection = build(tmp_path, config, load)
    try:
        rows = hindrance_effect(connection, Filters(), [], config).set_index("hindrance")
    finally:
        connection.close()
    # no_followup and low_pay have 6 exposed and 8 unexposed units; teacher_resistance 4 exposed
    assert rows.loc[["no_followup", "low_pay"], "suppressed"].tolist() == [False, False]
    # teacher_resistance (4 exposed) and political_interference (2) are hidden, blank, never 0
    hidden = ["teacher_resistance", "political_interference"]
    assert rows.loc[hidden, "suppressed"].all()
    assert rows.loc[hidden, ["odds_ratio", "risk_difference", "p_adj", "n", "exposed_n"]].isna().all().all()
    assert rows.loc["teacher_resistance", "note"].startswith("too few to show")
    # an empty arm hides nothing: the row says so instead
    assert not rows.loc["other", "suppressed"] and rows.loc["other", "note"] == "no units with the hindrance"


def test_effect_estimates_degenerate_inputs():
    assert effect_estimates([1, 0, 1], [0, 0, 0], ["a", "b", "c"])["note"] == "no units with the hindrance"
    assert effect_estimates([1, 0, 1], [1, 1, 1], ["a", "b", "c"])["note"] == "no units without the hindrance"
    one_school = effect_estimates([1, 0, 1, 0], [1, 1, 0, 0], ["a"] * 4)
    assert "one school" in one_school["note"] and math.isnan(one_school["odds_ratio"])


# ---- the sample data: does it find what the generator made harmful? -------------------------

@pytest.fixture(scope="module")
def sample(sample_db):
    from sustain.config import load_config

    con = duckdb.connect(str(sample_db), read_only=True)
    yield con, load_config()
    con.close()


def test_sample_recovers_harmful_hindrances(sample):
    con, config = sample
    rows = hindrance_effect(con, Filters(), [], config).set_index("hindrance")
    assert not rows["suppressed"].any() and (rows["note"] == "").all()
    for harmful in ("no_followup", "teacher_resistance", "political_interference", "no_resources", "low_pay"):
        assert rows.loc[harmful, "odds_ratio"] > 1, harmful
        assert rows.loc[harmful, "risk_difference"] > 0, harmful
    assert rows.loc["no_followup", "ci_low"] > 1
    assert rows["odds_ratio"].idxmax() == "no_followup"


def test_sample_clustered_interval_matches_gee(sample):
    con, config = sample
    rows = hindrance_effect(con, Filters(), [], config).set_index("hindrance")
    ctes, params = followup_ctes(Filters(), window=True)
    units = query(con, config, f"""{ctes}
select u.event::integer as event, u.school_id,
       u.teacher_key in (select pv.teacher_key from placed_visits pv join visit_hindrances vh using (submission_id)
                         where pv.months = 0 and vh.hindrance = 'no_followup') as exposed
from units u
""", params)
    y, x = units["event"].to_numpy(float), units["exposed"].to_numpy(float)
    groups = pd.factorize(units["school_id"])[0]
    gee = sm.GEE(y, sm.add_constant(x), groups=groups, family=sm.families.Binomial(),
                 cov_struct=sm.cov_struct.Independence()).fit()
    n, g = len(y), groups.max() + 1
    factor = g / (g - 1) * (n - 1) / (n - 2)
    z = stats.norm.ppf(0.975)
    se = gee.bse[1] * math.sqrt(factor)
    expected = [math.exp(gee.params[1] - z * se), math.exp(gee.params[1] + z * se)]
    assert rows.loc["no_followup", ["ci_low", "ci_high"]].tolist() == pytest.approx(expected, rel=1e-6)
