"""half_life and persistence (metrics/decay.py) on fixtures loaded through the real ingest, against
values computed by hand, with cross-checks against scipy and statsmodels.

Fixture A (cut-off 3; "3" retained, "2" dropped; a practice once dropped stays dropped):

    school district teacher programme  gw dropped at  q dropped at   visits (months)
    S1     Thatta   T1      CBM        3              6              0, 3, 6, 12
    S2     Thatta   T2      CBM        3              12             0, 3, 6, 12
    S3     Thatta   T3      CBM        6              never          0, 3, 6, 12
    S4     Sanghar  T4      CBM        12             never          0, 3, 6, 12
    S5     Sanghar  T5      CBM        never          never          0, 3, 6, 12
    S6     Sanghar  T6      CBT        6              -              0, 3, 6

CBM retention (10 teacher-practices in use at month 0, all observed at every round): month 3
8/10, month 6 6/10, month 12 4/10. Half-life, log-linear between 6 and 12:
6 + 6 ln(0.6 / 0.5) / ln(0.6 / 0.4) = 8.6985 months. With follow-up to month 6 only, one half is
not reached by month 6.
Persistence: CBM is followed to month 12, CBT to month 6: the common round is 6 (12 for CBM alone).
At month 12: S1 0/2, S2 0/2, S3 1/2, S4 1/2, S5 2/2.
"""
import math

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize, stats

from metrics import Filters
from metrics.decay import (DECAYING, PERSISTING, UNCERTAIN, common_round, fit_beta_prior, fit_decay, half_life,
                           half_life_readings, persistence, read_half_life)
from metrics.base import TOO_FEW
from support import teacher, visit, write_kobo, write_roster

SAN = dict(cluster="SAN-C1", district="Sanghar")
DROPS = {  # teacher -> (school, programme, place, {practice: month dropped}, visit months)
    "T1": ("S1", "CBM", {}, {"group_work": 3, "questioning": 6}, [0, 3, 6, 12]),
    "T2": ("S2", "CBM", {}, {"group_work": 3, "questioning": 12}, [0, 3, 6, 12]),
    "T3": ("S3", "CBM", {}, {"group_work": 6, "questioning": None}, [0, 3, 6, 12]),
    "T4": ("S4", "CBM", SAN, {"group_work": 12, "questioning": None}, [0, 3, 6, 12]),
    "T5": ("S5", "CBM", SAN, {"group_work": None, "questioning": None}, [0, 3, 6, 12]),
    "T6": ("S6", "CBT", SAN, {"group_work": 6}, [0, 3, 6]),
}
HALF_LIFE_A = 6 + 6 * math.log(0.6 / 0.5) / math.log(0.6 / 0.4)
CBM = Filters(programme=("CBM",))


def scores_at(drops: dict, month: int) -> dict:
    return {p: ("2" if dropped is not None and month >= dropped else "3") for p, dropped in drops.items()}


def load_teachers(tmp_path, config, load, plan: dict):
    teachers, visits = [], []
    for t, (school, programme, place, drops, months) in plan.items():
        teachers.append(teacher(t, school, programme=programme, **place))
        for month in months:
            visits.append(visit(f"{t}-{month}", t, school, month, programme=programme,
                                scores=scores_at(drops, month), **place))
    result = load(config, write_roster(tmp_path / "roster.csv", teachers), write_kobo(tmp_path / "k.csv", visits))
    assert result.ok and result.files[1].inserted == len(visits)
    return duckdb.connect(str(config.database_path()), read_only=True)


@pytest.fixture
def fixture_a(tmp_path, config_factory, load):
    config = config_factory(**{"thresholds.min_group_n": 3, "thresholds.at_risk_retention": 0.5})
    con = load_teachers(tmp_path, config, load, DROPS)
    yield con, config
    con.close()


def with_min_n(config, value):
    return config.model_copy(update={"thresholds": config.thresholds.model_copy(update={"min_group_n": value})})


# -- reading the curve ---------------------------------------------------------------------------

def test_read_half_life_by_hand():
    months = [3, 6, 12]
    values, reached = read_half_life(months, [[0.8, 0.6, 0.4],      # between 6 and 12, log-linear
                                              [0.9, 0.7, 0.6],      # never at or below one half
                                              [0.8, 0.0, 0.0],      # 0 at 6: linear between 3 and 6
                                              [0.8, np.nan, 0.4],   # a missing round is skipped
                                              [0.7, 0.5, 0.3],      # exactly one half at a round
                                              [0.4, 0.6, 0.3]])     # the first crossing counts
    assert reached.tolist() == [True, False, True, True, True, True]
    assert values[0] == pytest.approx(6 + 6 * math.log(1.2) / math.log(1.5))
    assert math.isnan(values[1])
    assert values[2] == pytest.approx(3 + 3 * 0.3 / 0.8)
    assert values[3] == pytest.approx(3 + 9 * math.log(0.8 / 0.5) / math.log(0.8 / 0.4))
    assert values[4] == pytest.approx(6)
    assert values[5] == pytest.approx(3 * math.log(2) / math.log(2.5))


# -- half_life on fixture A ---------------------------------------------------------------------

def test_half_life_by_hand(fixture_a):
    con, config = fixture_a
    row = half_life(con, CBM, [], config).iloc[0]
    assert row["half_life_months"] == pytest.approx(HALF_LIFE_A)
    assert bool(row["reached"]) and row["horizon_months"] == 12 and row["rounds"] == 3
    assert row["n"] == 30 and row["teachers"] == 5 and not row["suppressed"]
    short = half_life(con, CBM.replace(months_max=6), [], config).iloc[0]
    assert math.isnan(short["half_life_months"]) and not bool(short["reached"])
    assert short["horizon_months"] == 6 and short["note"].startswith("not reached by month 6")
    readings = half_life_readings(con, CBM.replace(months_max=6), [], config).iloc[0]
    assert not bool(readings["reached"]) and readings["horizon_months"] == 6 and readings["n"] == short["n"]
    # two teachers (< min_group_n 3): suppressed, values blank
    small = half_life(con, CBM.replace(school_id=("S1", "S2")), [], config).iloc[0]
    assert small["suppressed"] and math.isnan(small["half_life_months"]) and pd.isna(small["reached"])
    by_programme = half_life(con, Filters(), ["programme"], config).set_index("programme")
    # CBT rests on one teacher; CBM is suppressed with it (complementary: the overall n and
    # teachers minus CBM's would give CBT's)
    assert by_programme["suppressed"].all()


# the Overview's median half-life reads `half_life_readings`: every group at once, the model's
# estimate without its replicates; the readings are half_life's (cells and rows paths, suppression)
READINGS = ["half_life_months", "reached", "horizon_months", "rounds", "n", "teachers", "suppressed"]


@pytest.mark.parametrize("filters, by", [
    (Filters(), ["practice"]),
    (Filters(hindrance=("low_pay", "no_followup")), ["district"]),   # read from the model's rows
    (Filters(district=("Thatta",), months_max=12), ["cluster"]),
    (Filters(hindrance=("low_pay",)), []),
], ids=["practice", "rows", "clusters", "hindrance"])
def test_half_life_readings_are_half_lifes_readings(sample_db, filters, by):
    from sustain.config import load_config

    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        config = load_config()
        table, readings = half_life(con, filters, by, config), half_life_readings(con, filters, by, config)
    finally:
        con.close()
    assert len(table) and not table["reached"].isna().all()
    pd.testing.assert_frame_equal(readings[[*by, *READINGS]], table[[*by, *READINGS]], rtol=1e-12)
    assert readings[["ci_low", "ci_high", "decay_per_month"]].isna().all().all()


def test_half_life_interval_is_read_from_the_models_draws(fixture_a):
    """The interval recomputed independently from the latent model's draws of the curve
    (`latent.latent_survival`, the same fit as `survival`): each draw read at the usable rounds by a
    loop, draws not reaching one half counted as infinite."""
    from metrics import latent

    con, config = fixture_a
    row = half_life(con, CBM, [], config).iloc[0]
    fit = latent.latent_survival(con, CBM, [], config)
    months = list(fit.months)
    estimates = []
    for draw in fit.replicates[:, 0, :]:
        curve = [(0, 1.0)] + [(m, draw[months.index(m)]) for m in (3, 6, 12)]
        value = math.inf
        for (t1, r1), (t2, r2) in zip(curve, curve[1:]):
            if r2 <= 0.5:
                value = t1 + (t2 - t1) * (math.log(r1 / 0.5) / math.log(r1 / r2) if r2 > 0 else (r1 - 0.5) / (r1 - r2))
                break
        estimates.append(value)
    estimates = np.array(estimates)
    finite = np.where(np.isfinite(estimates), estimates, estimates[np.isfinite(estimates)].max())
    assert row["ci_low"] == pytest.approx(np.percentile(finite, 2.5))
    if np.mean(~np.isfinite(estimates)) > 0.025:
        assert row["ci_high"] == math.inf
    else:
        assert row["ci_high"] == pytest.approx(np.percentile(finite, 97.5))
    assert row["ci_low"] < row["half_life_months"] < row["ci_high"]


def test_decay_per_month_agrees_with_scipy(fixture_a):
    """decay_per_month: maximum likelihood of retained ~ Binomial(n, exp(a - lambda t)) over the
    school-round cells, found here by scipy's optimiser instead of statsmodels' IRLS."""
    con, config = fixture_a
    row = half_life(con, CBM, [], config).iloc[0]
    t = np.array([3, 6, 12] * 5, dtype=float)
    school_retained = {"S1": [1, 0, 0], "S2": [1, 1, 0], "S3": [2, 1, 1], "S4": [2, 2, 1], "S5": [2, 2, 2]}
    k = np.concatenate([school_retained[s] for s in sorted(school_retained)]).astype(float)
    n = np.full_like(k, 2.0)

    def negative_log_likelihood(theta):
        p = np.clip(np.exp(theta[0] - theta[1] * t), 1e-12, 1 - 1e-12)
        return -np.sum(k * np.log(p) + (n - k) * np.log(1 - p))

    fitted = optimize.minimize(negative_log_likelihood, [-0.1, 0.1], method="Nelder-Mead",
                               options={"xatol": 1e-10, "fatol": 1e-12}).x
    assert row["decay_per_month"] == pytest.approx(fitted[1], rel=1e-4)
    direct = fit_decay(t, k, n, clusters=np.repeat(sorted(school_retained), 3))
    assert direct["intercept"] == pytest.approx(fitted[0], abs=1e-4) and direct["se"] > 0


# -- the horizon does not move the curve's half-life ----------------------------------------------

def heterogeneous_plan():
    """120 teacher-practices, half fast (half-life 3 months), half slow (30 months): survivors
    per round round(60 * 2 ** (-t / h)): fast 30, 15, 4, 1, 0; slow 56, 52, 45, 40, 34 at
    months 3, 6, 12, 18, 24. Teachers T01-T10 (schools F1-F5) carry the fast units, T11-T20
    (schools L1-L5) the slow ones: schools differ too."""
    rounds = [3, 6, 12, 18, 24]
    fast = [60, 30, 15, 4, 1, 0]
    slow = [60, 56, 52, 45, 40, 34]
    drops = []
    for survivors in (fast, slow):
        for i, month in enumerate(rounds):
            drops += [month] * (survivors[i] - survivors[i + 1])
        drops += [None] * survivors[-1]
    practices = ["group_work", "questioning", "teaching_aids", "lesson_planning", "learning_environment",
                 "peer_feedback"]
    plan = {}
    for i in range(20):
        t = f"T{i + 1:02d}"
        school = f"{'F' if i < 10 else 'L'}{i // 2 % 5 + 1}"
        plan[t] = (school, "CBM", {}, dict(zip(practices, drops[6 * i:6 * i + 6])), [0, *rounds])
    return plan


def test_half_life_does_not_depend_on_the_horizon(tmp_path, config_factory, load):
    config = config_factory(**{"thresholds.min_group_n": 3})
    con = load_teachers(tmp_path, config, load, heterogeneous_plan())
    try:
        full = half_life(con, Filters(), [], config).iloc[0]
        truncated = half_life(con, Filters(months_max=12), [], config).iloc[0]
    finally:
        con.close()
    # retained 86, 67, 49, 41, 34 of 120: one half is crossed between months 6 and 12
    expected = 6 + 6 * math.log((67 / 120) / 0.5) / math.log(67 / 49)
    assert full["half_life_months"] == pytest.approx(expected)
    assert truncated["half_life_months"] == pytest.approx(expected)
    assert (full["horizon_months"], truncated["horizon_months"]) == (24, 12)
    # the old estimator (exponential through 1 at month 0, no intercept; statsmodels) moves by -22%
    m = np.array([3, 6, 12, 18, 24], dtype=float)
    k = np.array([86, 67, 49, 41, 34], dtype=float)

    def no_intercept_half_life(keep):
        with pytest.warns(Warning):  # statsmodels: the log link does not respect the binomial domain
            fit = sm.GLM(np.column_stack([k[keep], 120 - k[keep]]), -m[keep].reshape(-1, 1),
                         family=sm.families.Binomial(link=sm.families.links.Log())).fit(start_params=[0.05])
        return math.log(2) / fit.params[0]

    old_full, old_truncated = no_intercept_half_life(m <= 24), no_intercept_half_life(m <= 12)
    assert old_truncated / old_full - 1 < -0.12
    assert abs(truncated["half_life_months"] / full["half_life_months"] - 1) < 1e-9


# -- persistence -------------------------------------------------------------------------------

def test_common_round(fixture_a):
    con, config = fixture_a
    table = persistence(con, Filters(), [], config)
    assert set(table["round"]) == {6}  # CBT is followed to month 6 only
    assert set(persistence(con, CBM, [], config)["round"]) == {12}
    assert set(persistence(con, Filters.from_pairs([("months", "3")]), [], config)["round"]) == {3}
    counts = pd.DataFrame({"programme": ["A", "A", "B", "B"], "months": [3, 12, 3, 6], "n": [5, 5, 5, 5]})
    assert common_round(counts, Filters()) == 3
    assert common_round(counts, Filters(months_min=6)) is None


def test_persistence_by_hand_with_a_flat_prior(fixture_a):
    """Four schools in view (fewer than 5): the prior is Beta(1, 1), so every figure is by hand.
    At month 12: S1 0/2, S2 0/2, S3 1/2, S4 1/2; the programme's retention 2/8 = 0.25.
    Posterior Beta(1 + k, 1 + n - k): S1 Beta(1, 3): mean 1/4, P(< 0.5) = 1 - 0.5^3 = 7/8,
    P(< 0.25) = 1 - 0.75^3; S3 Beta(2, 2): mean 1/2, P(< 0.5) = 1/2, P(< 0.25) = 3x^2 - 2x^3."""
    con, config = fixture_a
    view = CBM.replace(school_id=("S1", "S2", "S3", "S4"))
    table = persistence(con, view, [], with_min_n(config, 1)).set_index("school_id")
    assert table["round"].tolist() == [12] * 4
    assert table["index"].tolist() == [0, 0, 0.5, 0.5]
    assert table["index_shrunk"].tolist() == pytest.approx([0.25, 0.25, 0.5, 0.5])
    assert table["p_at_risk"].tolist() == pytest.approx([7 / 8, 7 / 8, 0.5, 0.5])
    below_s1, below_s3 = 1 - 0.75**3, 3 * 0.25**2 - 2 * 0.25**3
    assert table["p_below_programme"].tolist() == pytest.approx([below_s1, below_s1, below_s3, below_s3])
    assert table["programme_retention"].tolist() == pytest.approx([0.25] * 4)
    # 0.578 is neither >= 0.8 nor <= 0.2; 0.156 <= 0.2
    assert table["persistence_class"].tolist() == [UNCERTAIN, UNCERTAIN, PERSISTING, PERSISTING]
    assert table[["retained", "n", "teachers"]].astype(int).values.tolist() == [[0, 2, 1], [0, 2, 1], [1, 2, 1],
                                                                                [1, 2, 1]]
    assert table.loc["S1", "school_name"] == "School S1" and table.loc["S4", "district"] == "Sanghar"


def test_persistence_suppresses_counts_and_rounds_probabilities(fixture_a):
    con, config = fixture_a  # min_group_n 3: every school rests on one teacher
    view = CBM.replace(school_id=("S1", "S2", "S3", "S4"))
    table = persistence(con, view, [], config).set_index("school_id")
    assert table["suppressed"].all()
    assert table[["index", "index_shrunk", "retained", "n", "teachers"]].isna().all().all()
    # 7/8 and 0.578 shown to one decimal; the class follows the value shown
    assert table["p_at_risk"].tolist() == [0.9, 0.9, 0.5, 0.5]
    assert table["p_below_programme"].tolist() == [0.6, 0.6, 0.2, 0.2]
    assert table["persistence_class"].tolist() == [UNCERTAIN, UNCERTAIN, PERSISTING, PERSISTING]


def test_persistence_prior_falls_back_to_the_programme(fixture_a):
    """Thatta has 3 CBM schools and Sanghar 2 (under 5 each): both use the prior fitted over the
    programme's 5 schools; the fit agrees with scipy's beta-binomial maximised another way."""
    con, config = fixture_a
    table = persistence(con, CBM, [], with_min_n(config, 1)).set_index("school_id")
    k = table["retained"].astype(float).to_numpy()
    n = table["n"].astype(float).to_numpy()
    assert k.tolist() == [0, 0, 1, 1, 2] and n.tolist() == [2] * 5
    a, b = fit_beta_prior(k, n)
    assert table["index_shrunk"].to_numpy() == pytest.approx((a + k) / (a + b + n))
    assert table["p_at_risk"].to_numpy() == pytest.approx(stats.beta.cdf(0.5, a + k, b + n - k))

    def negative(theta):
        return -stats.betabinom.logpmf(k, n, math.exp(theta[0]), math.exp(theta[1])).sum()

    independent = optimize.minimize(negative, [0.0, 0.0], method="Powell", options={"xtol": 1e-10, "ftol": 1e-14}).x
    assert (a, b) == pytest.approx(tuple(np.exp(independent)), rel=1e-3)


def test_persistence_prior_per_district_on_a_larger_fixture(tmp_path, config_factory, load):
    """Six schools in one district: the district's own prior, fitted on its (retained, n)."""
    config = config_factory(**{"thresholds.min_group_n": 1})
    practices = ["group_work", "questioning", "teaching_aids", "lesson_planning"]
    kept = {"A1": 4, "A2": 3, "A3": 1, "A4": 0, "A5": 2, "A6": 4}
    plan = {}
    for i, (school, k) in enumerate(kept.items()):
        drops = {p: (None if j < k else 6) for j, p in enumerate(practices)}
        plan[f"T{i}"] = (school, "CBM", {}, drops, [0, 6])
    con = load_teachers(tmp_path, config, load, plan)
    try:
        table = persistence(con, Filters(), [], config).set_index("school_id")
    finally:
        con.close()
    k = np.array(list(kept.values()), dtype=float)
    a, b = fit_beta_prior(k, np.full(6, 4.0))
    assert table.loc[list(kept), "index_shrunk"].to_numpy() == pytest.approx((a + k) / (a + b + 4))
    pooled = k.sum() / 24
    assert table["programme_retention"].tolist() == pytest.approx([pooled] * 6)
    expected = stats.beta.cdf(pooled, a + k, b + 4 - k)
    assert table.loc[list(kept), "p_below_programme"].to_numpy() == pytest.approx(expected)
    classes = table.loc[list(kept), "persistence_class"].tolist()
    assert classes == [DECAYING if p >= 0.8 else PERSISTING if p <= 0.2 else UNCERTAIN for p in expected]
    assert TOO_FEW not in classes


@pytest.mark.parametrize("filters, by", [
    (Filters(), []),
    (Filters(hindrance=("low_pay",)), ["gender"]),
    (Filters(district=("Thatta",)), ["cluster"]),   # a parent in the frame, the others from schools
], ids=["country", "hindrance", "cluster"])
def test_persistence_suppression_on_codes_is_suppress_on_names(sample_db, filters, by):
    """persistence suppresses on integer codes (`base.suppress_by_school`): the same cells as
    `suppress` grouping the schools and their parents by name, with a threshold that suppresses
    some schools and protects others."""
    from sustain.config import load_config
    from metrics.base import school_hierarchy, suppress, suppress_by_school

    config = load_config()
    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        table = persistence(con, filters, by, config)
        keys = ["school_id", "programme", "district", *[c for c in by if c not in ("school_id", "district")]]
        values = ["index", "n", "retained", "teachers"]
        counts = table[[*keys, "round"]].assign(index=np.arange(len(table)) / len(table),
                                                n=np.arange(len(table)) % 7, retained=np.arange(len(table)) % 3,
                                                teachers=np.arange(len(table)) % 9)
        by_name = suppress(counts, keys, values, 4, hierarchy=school_hierarchy(con))
        by_code = suppress_by_school(con, counts, keys, values, 4)
    finally:
        con.close()
    assert by_name["suppressed"].any() and not by_name["suppressed"].all()
    pd.testing.assert_frame_equal(by_code, by_name)


def test_beta_priors_in_lockstep_are_scipys_nelder_mead():
    """fit_beta_priors runs scipy's Nelder-Mead for every group at once: each group's a, b are
    bit for bit those of optimize.minimize on that group alone (same start, same objective),
    groups of one pattern, all retained and none retained included."""
    from metrics.decay import PRECISION_BOUNDS, fit_beta_priors
    from scipy import special

    def scipy_fit(k, n, w):
        pooled = float(np.clip(np.sum(w * k) / np.sum(w * n), 1e-4, 1 - 1e-4))
        low, high = (math.log(v) for v in PRECISION_BOUNDS)

        def parameters(theta):
            return special.expit(min(max(theta[0], -12.0), 12.0)), math.exp(min(max(theta[1], low), high))

        def negative(theta):
            mean, precision = parameters(theta)
            a, b = mean * precision, (1 - mean) * precision
            return -float(np.sum(w * (special.betaln(k + a, n - k + b) - special.betaln(a, b))))

        x = optimize.minimize(negative, x0=[special.logit(pooled), math.log(10.0)], method="Nelder-Mead",
                              options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000}).x
        mean, precision = (float(v) for v in parameters(x))
        return mean * precision, (1 - mean) * precision

    rng = np.random.default_rng(3)
    groups = []
    for g, size in enumerate([1, 2, 7, 40, 120, 33, 5, 60]):
        n = rng.integers(1, 30, size).astype(float)
        k = rng.binomial(n.astype(int), rng.beta(2, 3, size)).astype(float)
        k = n.copy() if g == 2 else np.zeros(size) if g == 6 else k
        groups.append((k, n, rng.integers(1, 4, size).astype(float)))
    bounds = np.r_[0, np.cumsum([len(k) for k, _, _ in groups])]
    a, b = fit_beta_priors(*(np.concatenate([group[i] for group in groups]) for i in range(3)), bounds)
    assert [(float(x), float(y)) for x, y in zip(a, b)] == [scipy_fit(*group) for group in groups]


def test_round_school_bounds_hold_the_distinct_schools(sample_db):
    """_round_schools' bounds of each round's distinct schools hold the exact count of
    retention_round_totals, with and without a hindrance filter; the low one is positive where a
    round has many schools (the sampled sixteenth finds some)."""
    from metrics.decay import _round_schools
    from metrics.indicators import retention_round_totals
    from sustain.config import load_config

    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        config = load_config()
        for filters, by in [(Filters(), ["practice"]), (Filters(hindrance=("low_pay",)), ["district"]),
                            (Filters(), ["school_id"])]:
            keys = [*by, "months"]
            bounds = _round_schools(con, filters, by, config).sort_values(keys).reset_index(drop=True)
            exact = retention_round_totals(con, filters, by, config).sort_values(keys).reset_index(drop=True)
            assert bounds[keys].equals(exact[keys])
            assert (bounds["schools_low"] <= exact["schools"]).all() and (exact["schools"] <= bounds["schools_high"]).all()
            assert bounds[["retained", "n", "teachers"]].equals(exact[["retained", "n", "teachers"]])
            one = exact["schools"] == 1
            assert (bounds.loc[one, "first_school"] == bounds.loc[one, "last_school"]).all()
            assert (bounds.loc[exact["schools"] >= 100, "schools_low"] > 0).all()
    finally:
        con.close()


def test_hierarchy_codes_follow_the_database_state(sample_db, tmp_path):
    """The schools' codes a process keeps (`base._hierarchy_codes`) are kept per database state and
    read again when it changes (an import rewrites `model_info`): a school moved to another cluster
    gets that cluster's code once the state has changed."""
    import shutil

    from metrics.base import school_hierarchy

    copy = tmp_path / "moved.duckdb"
    shutil.copy(sample_db, copy)
    con = duckdb.connect(str(copy))
    try:
        moved, other = con.execute("""select a.school_id, b.school_id from schools a join schools b
on a.district = b.district and a.cluster < b.cluster order by all limit 1""").fetchone()
        before = school_hierarchy(con).level_codes([moved, other, "no such school"], ["cluster", "district"])
        assert before[0, 0] != before[1, 0] and before[0, 1] == before[1, 1] and (before[2] == -1).all()
        con.execute("update schools set cluster = (select cluster from schools where school_id = ?) "
                    "where school_id = ?", [other, moved])
        # kept for the state it was read at (no import has rewritten model_info yet)
        stale = school_hierarchy(con).level_codes([moved, other], ["cluster", "district"])
        con.execute("update model_info set built_at = built_at + interval 1 second")  # as an import does
        after = school_hierarchy(con).level_codes([moved, other], ["cluster", "district"])
    finally:
        con.close()
    assert stale[0, 0] != stale[1, 0]
    assert after[0, 0] == after[1, 0] and after[0, 1] == after[1, 1]
