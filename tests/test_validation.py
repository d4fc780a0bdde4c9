"""Validation by simulation, the fast version (issue 10, item 8; the full run is
benchmarks/validation.py).

Two parts:
- the simulator itself (tests/simulator.py): its truth is computed correctly (with no scoring
  error, missingness or attrition the realised truth equals a direct count of the scores, and the
  retention indicator reproduces it through the real ingest), the real hindrance's hazard ratio
  is recovered from the latent durations by statsmodels (piecewise-exponential Poisson model),
  the null is confounded by programme and has no effect, attrition is informative; retention's
  as-scored truth stated from the latent state (R_state) equals the count of complete scores;
- the bundled sample: its retention intervals hold truth.json's `retention_as_scored`;
- the indicators on a few seeds of a small population, loosely; assertions on the estimators
  rewritten in issue 10 check its targets (survival and half-life near the latent truth with and
  without scoring error, retention near its as-scored truth; the confounded null hindrance not
  flagged).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator
from simulator import PRACTICES, PROGRAMMES, ROUNDS, SimParams

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

PERFECT = dict(accuracy=1.0, missed_rate=0.0, attrition_base=0.0, attrition_slope=0.0, na_rate=0.0, jitter_days=0)


# ------------------------------------------------------------------------------------------------
# The simulator
# ------------------------------------------------------------------------------------------------

def test_simulation_is_seeded_and_structured():
    a = simulator.simulate(SimParams(teachers=500), seed=3)
    b = simulator.simulate(SimParams(teachers=500), seed=3)
    assert np.array_equal(a.duration, b.duration) and np.array_equal(a.scores, b.scores)
    assert a.teachers == 500
    sizes = np.bincount(a.teacher_school)
    assert sizes[:-1].min() >= 2 and sizes.max() <= 6
    # a school's teachers share one programme (clusters are trained by one programme)
    per_school = pd.Series(a.teacher_programme).groupby(a.teacher_school).nunique()
    assert (per_school == 1).all()
    # not in use at month 0 means abandoned at 0; in use means a positive abandonment time
    assert (a.duration[~a.in_use0] == 0).all() and (a.duration[a.in_use0] > 0).all()


def test_realised_truth_equals_a_direct_count_without_noise():
    """No scoring error, no missed visits, no attrition, no jitter: of practices scored >= 3 at
    month 0, the share scored >= 3 at t is the realised truth S(t) (up to the visit falling a few
    hours off the nominal month)."""
    pop = simulator.simulate(SimParams(teachers=800, **PERFECT), seed=11)
    true = simulator.truth(pop)
    scores = pop.scores.transpose(0, 2, 1).reshape(-1, len(ROUNDS))
    programme = pop.unit_programme
    assert (pop.visit_kind == 1).all()
    for p, code in enumerate(PROGRAMMES):
        units = scores[programme == p]
        base = units[:, 0] >= 3
        assert base.sum() == true["programme"][code]["n"]
        for j, t in enumerate(ROUNDS):
            direct = float(np.mean(units[base, j] >= 3))
            assert abs(direct - true["programme"][code]["S"][int(t)]) < 0.005, (code, t)
            assert abs(true["programme"][code]["R_scores"][int(t)] - true["programme"][code]["S"][int(t)]) < 0.005
        # the half-life is the median latent abandonment time: S crosses 0.5 there
        durations = pop.duration[(programme == p) & pop.in_use0]
        half = true["programme"][code]["half_life"]
        assert np.mean(durations > half) == pytest.approx(0.5, abs=1 / len(durations))


def test_retention_indicator_reproduces_the_truth_on_perfect_data(tmp_path):
    """Through the real ingest, with perfect data the retention indicator equals the truth."""
    from ingest import ingest_files
    from metrics.filters import Filters
    from metrics.registry import TABLES
    from sustain.config import load_config
    from sustain.db import read_only
    from support import write_config

    pop = simulator.simulate(SimParams(teachers=300, **PERFECT), seed=5)
    true = simulator.truth(pop)
    roster, export = simulator.write_files(pop, tmp_path / "files")
    config = load_config(write_config(tmp_path))
    result = ingest_files([roster, export], config)
    assert result.ok and sum(f.quarantined for f in result.files) == 0
    with read_only(config.database_path()) as con:
        frame = TABLES["retention"](con, Filters(), ["programme"], config)
    for code in PROGRAMMES:
        for t in (3, 6, 12, 18, 24):
            row = frame[(frame["programme"] == code) & (frame["months"] == t)].iloc[0]
            assert row["rate"] == pytest.approx(true["programme"][code]["S"][t], abs=0.01), (code, t)
            assert row["n"] == true["programme"][code]["n"]


def _person_intervals(pop):
    """Piecewise-exponential data from the latent durations of units in use at month 0, over
    the intervals between rounds up to 24 months: exposure time, event, exposures and the known
    offset (log of every hazard factor but the hindrances)."""
    params = pop.params
    units = np.nonzero(pop.in_use0)[0]
    teacher = units // len(PRACTICES)
    practice = units % len(PRACTICES)
    school = pop.teacher_school[teacher]
    base = np.array([params.base_hazard[c] for c in PROGRAMMES])[pop.teacher_programme[teacher]]
    known = (base * np.array([params.practice_hr[p] for p in PRACTICES])[practice]
             * pop.school_frailty[school] * pop.teacher_frailty[teacher])
    T = pop.duration[units]
    starts, ends = ROUNDS[:-1], ROUNDS[1:]
    time_in = np.clip(np.minimum(T[:, None], ends[None, :]) - starts[None, :], 0, None)
    event = (T[:, None] > starts[None, :]) & (T[:, None] <= ends[None, :])
    real = pop.school_exposed_round[school][:, :-1]
    null = pop.school_null_round[school][:, :-1]
    keep = time_in > 0
    return pd.DataFrame({
        "event": event[keep].astype(float), "log_time": np.log(time_in[keep]),
        "offset": np.log(np.repeat(known[:, None], len(starts), axis=1)[keep]),
        "real": real[keep].astype(float), "null": null[keep].astype(float)})


def test_hazard_ratios_recovered_from_latent_durations():
    """statsmodels Poisson GLM on the latent piecewise-exponential data (the exact likelihood of
    A4) recovers the real hindrance's 1.8 and the null's 1.0 (conditional on the known frailties)."""
    import statsmodels.api as sm

    pop = simulator.simulate(SimParams(teachers=4000), seed=21)
    data = _person_intervals(pop)
    exog = sm.add_constant(data[["real", "null"]])
    fit = sm.GLM(data["event"], exog, family=sm.families.Poisson(),
                 offset=data["offset"] + data["log_time"]).fit()
    hr_real, hr_null = math.exp(fit.params["real"]), math.exp(fit.params["null"])
    assert fit.params["const"] == pytest.approx(0, abs=0.05)  # the known factors are the whole baseline
    assert 1.65 < hr_real < 1.95
    assert 0.9 < hr_null < 1.1


def test_null_is_confounded_and_attrition_informative():
    pop = simulator.simulate(SimParams(teachers=3000), seed=8)
    school_programme = pd.Series(pop.teacher_programme).groupby(pop.teacher_school).first().to_numpy()
    null_rate = [pop.school_null_round[school_programme == p].mean() for p in range(2)]
    assert null_rate[1] > 4 * null_rate[0]          # reported far more in CBT, the higher hazard
    assert abs(pop.school_affected.mean() - 0.4) < 0.06
    # teachers who leave had more practices not in use at month 12 than those who stay
    in_use12 = (pop.duration > 12).reshape(-1, len(PRACTICES)).mean(axis=1)
    left = pop.leave_round < len(ROUNDS)
    assert 0.1 < left.mean() < 0.45
    assert in_use12[left].mean() < in_use12[~left].mean() - 0.05
    # ~8% of scheduled visits missed at random (before any leaving)
    before_leaving = np.arange(len(ROUNDS))[None, :] < pop.leave_round[:, None]
    assert abs((pop.visit_kind[before_leaving] != 1).mean() - 0.08) < 0.015


def test_as_scored_truth_from_the_state_equals_the_complete_scores():
    """Retention's truth (the as-scored share had every unit been visited) computed two ways agree:
    R_state from the latent states and the scoring accuracy alone, R_scores by counting the
    simulated complete scores; they differ only by the scoring draws. At accuracy 0.9 both lie
    well away from the latent S(t), so the check can tell the as-scored estimand from the latent one."""
    pop = simulator.simulate(SimParams(teachers=12_000), seed=4)
    true = simulator.truth(pop)
    for code in PROGRAMMES:
        curve = true["programme"][code]
        assert curve["R_state"][0] == 1.0
        for t in (6, 12, 24):
            assert curve["R_state"][t] == pytest.approx(curve["R_scores"][t], abs=0.006), (code, t)
        assert curve["R_state"][24] - curve["S"][24] > 0.02, code  # scored in use by mistake


def test_sample_retention_covers_its_as_scored_truth(sample_db):
    """truth.json states retention's estimand (`retention_as_scored`, from the generator's true
    states and score model, not from an estimator); on the bundled sample, whose attrition is at
    random, every programme and programme-practice interval holds it and the pooled estimates are
    within 0.02 of it."""
    import json

    import duckdb

    from metrics.filters import Filters
    from metrics.registry import TABLES
    from sustain.config import load_config
    from support import ROOT_DIR

    truth = json.loads((ROOT_DIR / "sample_data" / "truth.json").read_text(encoding="utf-8"))["retention_as_scored"]
    config = load_config()
    with duckdb.connect(str(sample_db), read_only=True) as con:
        pooled = TABLES["retention"](con, Filters(), ["programme"], config)
        cells = TABLES["retention"](con, Filters(), ["programme", "practice"], config)
    followed = pooled[pooled["months"] > 0]
    assert len(followed) == 10
    for row in followed.itertuples():
        true = truth[row.programme]["programme"][str(row.months)]
        assert row.ci_low <= true <= row.ci_high and abs(row.rate - true) < 0.02, (row.programme, row.months)
    followed = cells[cells["months"] > 0]
    assert len(followed) == 60
    for row in followed.itertuples():
        assert row.ci_low <= truth[row.programme]["practice"][row.practice][str(row.months)] <= row.ci_high, \
            (row.programme, row.practice, row.months)


def test_superpopulation_half_lives_match_the_design():
    truth = simulator.superpopulation_truth(SimParams(), teachers=60_000, seed=99)
    assert truth["programme"]["CBM"]["half_life"] == pytest.approx(12, abs=0.6)
    assert truth["programme"]["CBT"]["half_life"] == pytest.approx(6, abs=0.4)


# ------------------------------------------------------------------------------------------------
# The indicators, on a few seeds
# ------------------------------------------------------------------------------------------------

SEEDS = [101, 102, 103]


def _summarise(**changes):
    import validation

    records = validation.run(SEEDS, SimParams(teachers=600, **changes), jobs=2, diagnostics=False)
    assert (records.groupby("seed")["quarantined"].first() == 0).all()
    return validation.summarise(records).set_index(["indicator", "group", "months"])


@pytest.fixture(scope="module")
def summary():
    """The default DGP (scoring accuracy 0.9)."""
    return _summarise()


@pytest.fixture(scope="module")
def summary_exact():
    """No scoring error (accuracy 1): what is left is the estimator's own bias (missed rounds,
    informative attrition, clustering)."""
    return _summarise(accuracy=1.0)


def _row(summary, indicator, group, months=""):
    return summary.loc[(indicator, group, months)]


@pytest.mark.slow
@pytest.mark.parametrize("which", ["summary", "summary_exact"])
def test_retention_at_12_near_the_truth(which, request):
    summary = request.getfixturevalue(which)
    # retention's truth is the as-scored share had every unit been visited (R_scores)
    for code in PROGRAMMES:
        for t in (12, 24):
            assert abs(_row(summary, "retention", code, t)["bias"]) < 0.05, (code, t)


@pytest.mark.slow
def test_real_hindrance_reads_harmful(summary):
    assert _row(summary, "hindrance_effect", "no_followup")["mean_estimate"] > 1


@pytest.mark.slow
@pytest.mark.parametrize("which", ["summary", "summary_exact"])
def test_survival_near_the_truth(which, request):
    """Issue 10's target: S(12) and S(24) within 0.05 of the latent truth on average, with missed
    rounds, informative attrition and clustering, with and without scoring error (accuracy 0.9).
    The latent model separates scoring error from abandonment; the first-drop life table (a
    sensitivity rule) lies 0.07-0.14 below the truth under scoring error."""
    summary = request.getfixturevalue(which)
    for code in PROGRAMMES:
        for t in (12, 24):
            assert abs(_row(summary, "survival", code, t)["bias"]) < 0.05, (code, t)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["summary", "summary_exact"])
def test_half_life_near_the_truth(which, request):
    summary = request.getfixturevalue(which)
    for code in PROGRAMMES:
        row = _row(summary, "half_life", code)
        assert abs(row["bias"]) < 0.15 * row["truth"], code


@pytest.mark.slow
def test_confounded_null_hindrance_not_flagged(summary):
    """The null hindrance, reported far more in the programme with the higher hazard, is not
    flagged once programme is in the model (the crude odds ratio flagged it in 4 of 6 seeds).
    Power for the real one needs more teachers than this quick run has: benchmarks/validation.py
    measures it at 1,200 teachers over 50 seeds."""
    assert _row(summary, "hindrance_effect", "political_interference")["flagged"] == 0
