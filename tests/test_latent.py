"""The latent-state model (metrics/latent.py): its likelihood by hand, its EM against a direct
maximisation with scipy over an independent path-enumeration likelihood, its cluster-robust
covariance against numerical derivatives of that likelihood, and its fit to the simulator.
(survival and half_life on data: tests/test_survival.py, tests/test_decay.py, tests/test_validation.py.)"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import optimize, sparse

from metrics import latent
from metrics.latent import GONE, IN_USE, LEFT, MISSING, NOT_IN_USE

U, A = 0, 1


def path_likelihood(symbols, p, q, e, leave) -> float:
    """P(symbols) by enumerating every latent path (U until the drop, then A), written from the
    model's description, not from latent.py's recursions."""
    k = len(symbols) - 1
    total = 0.0
    for drop in range(k + 2):  # state A from round `drop` on (0: A at month 0; k+1: never)
        prob = (1 - p) if drop == 0 else p
        for j in range(1, k + 1):
            if drop >= 1 and j < drop:
                prob *= 1 - q[j - 1]
            elif drop >= 1 and j == drop:
                prob *= q[j - 1]
        for j, symbol in enumerate(symbols):
            state = A if j >= drop else U
            if j == 0:
                prob *= e[state] if symbol == IN_USE else 1 - e[state]
                continue
            stay = 1 - leave[state]
            prob *= {GONE: 1.0, MISSING: stay, IN_USE: stay * e[state], NOT_IN_USE: stay * (1 - e[state]),
                     LEFT: leave[state]}[symbol]
        total += prob
    return total


def test_likelihood_of_one_pattern_by_hand():
    # month 0 in use, round 1 not in use, round 2 in use; p 0.8, q (0.2, 0.3), e_U 0.9, e_A 0.1,
    # no leaving. Paths: UUU 0.8*.9 * .8*.1 * .7*.9 = 0.036288; UUA 0.8*.9 * .8*.1 * .3*.1 = 0.001728;
    # UAA 0.8*.9 * .2*.9 * .1 = 0.01296; AAA 0.2*.1 * .9 * .1 = 0.0018. Sum 0.052776.
    symbols = np.array([[IN_USE, NOT_IN_USE, IN_USE]])
    x = latent.e_step(symbols, np.array([0]), np.array([[1.0]]), np.array([[[0.2, 0.3]]]), np.array([[0.8]]),
                      np.array([[0.9, 0.1]]), np.array([[0.0, 0.0]]))
    assert math.exp(x["loglik"][0]) == pytest.approx(0.052776)
    assert path_likelihood(symbols[0], 0.8, [0.2, 0.3], [0.9, 0.1], [0, 0]) == pytest.approx(0.052776)
    # expected moves U -> A in interval 1: the UAA path's share; in interval 2: UUA's
    assert x["moves"][0][0, 0] == pytest.approx(0.01296 / 0.052776)
    assert x["moves"][1][0, 0] == pytest.approx(0.001728 / 0.052776)


def test_leaving_and_gone_symbols_by_hand():
    # in use at month 0, left at round 1 (leave_U 0.05, leave_A 0.2), nothing after:
    # U at 1: .7*.9 * .8*.05 ; A at 1: .7*.9 * .2*.2 + .3*.1 * .2
    symbols = np.array([[IN_USE, LEFT, GONE]])
    x = latent.e_step(symbols, np.array([0]), np.array([[1.0]]), np.array([[[0.2, 0.3]]]), np.array([[0.7]]),
                      np.array([[0.9, 0.1]]), np.array([[0.05, 0.2]]))
    by_hand = 0.7 * 0.9 * 0.8 * 0.05 + 0.7 * 0.9 * 0.2 * 0.2 + 0.3 * 0.1 * 0.2
    assert math.exp(x["loglik"][0]) == pytest.approx(by_hand)


def _small_data(seed=3, units=3000, k=3, q=(0.25, 0.15, 0.2)):
    """Patterns drawn from the model itself (one group), as pattern counts."""
    rng = np.random.default_rng(seed)
    p, q, e, leave = 0.9, np.array(q)[:k], np.array([0.88, 0.12]), np.array([0.03, 0.1])
    state = np.where(rng.random(units) < p, U, A)
    rows = []
    for i in range(units):
        s = state[i]
        seq = [IN_USE if rng.random() < e[s] else NOT_IN_USE]
        gone = False
        for j in range(k):
            if s == U and rng.random() < q[j]:
                s = A
            if gone:
                seq.append(GONE)
            elif rng.random() < leave[s]:
                seq.append(LEFT)
                gone = True
            elif rng.random() < 0.1:
                seq.append(MISSING)
            else:
                seq.append(IN_USE if rng.random() < e[s] else NOT_IN_USE)
        rows.append(tuple(seq))
    patterns, counts = np.unique(np.array(rows), axis=0, return_counts=True)
    return patterns, counts.astype(float), rng


def _unpack(theta, k):
    expit = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    return expit(theta[0]), expit(theta[1:1 + k]), expit(theta[1 + k:3 + k]), expit(theta[3 + k:5 + k])


def test_em_reaches_the_maximum_found_by_scipy():
    patterns, counts, _ = _small_data()
    k = patterns.shape[1] - 1
    fit = latent.fit_hmm(patterns, np.zeros(len(patterns), dtype=int), counts, 1)

    def negative(theta):
        p, q, e, leave = _unpack(theta, k)
        return -sum(c * math.log(path_likelihood(s, p, q, e, leave)) for s, c in zip(patterns, counts))

    start = np.array([1.0, -1, -1, -1, 1.5, -1.5, -3, -2])
    best = optimize.minimize(negative, start, method="L-BFGS-B")
    p, q, e, leave = _unpack(best.x, k)
    assert fit["loglik"] * counts.sum() == pytest.approx(-best.fun, abs=1e-3)
    assert fit["q"][0] == pytest.approx(q, abs=2e-3)
    assert fit["p"][0] == pytest.approx(p, abs=2e-3)
    assert fit["e"] == pytest.approx(e, abs=2e-3)
    assert fit["leave"] == pytest.approx(leave, abs=2e-3)
    assert fit["survival"][0] == pytest.approx(np.concatenate([[1], np.cumprod(1 - q)]), abs=3e-3)


def test_accelerated_em_reaches_the_maximum_on_a_school_sized_view():
    """A school's view (40 units: a flat likelihood; plain EM took 442 steps on these data, and
    about 260 on a school of the national sample): the accelerated EM (SQUAREM) ends at the
    log-likelihood scipy maximises in well under half of them, and one more plain EM step from
    its estimate moves nothing (it is a maximum, not a point the extrapolation jumped to)."""
    patterns, counts, _ = _small_data(seed=23, units=40, k=3)
    k = patterns.shape[1] - 1
    group = np.zeros(len(patterns), dtype=int)
    fit = latent.fit_hmm(patterns, group, counts, 1)

    def negative(theta):
        p, q, e, leave = _unpack(theta, k)
        return -sum(c * math.log(path_likelihood(s, p, q, e, leave)) for s, c in zip(patterns, counts))

    best = min((optimize.minimize(negative, start, method="Nelder-Mead",
                                  options={"maxiter": 20000, "maxfev": 20000, "xatol": 1e-9, "fatol": 1e-12})
                for start in (np.array([1.0, -1, -1, -1, 1.5, -1.5, -3, -2]), np.zeros(8))), key=lambda r: r.fun)
    assert fit["loglik"] * counts.sum() >= -best.fun - 1e-4
    assert fit["iterations"] < 150
    again = latent.fit_hmm(patterns, group, counts, 1, start=fit, iterations=1)
    assert again["loglik"] == pytest.approx(fit["loglik"], abs=1e-8)


def test_robust_covariance_matches_numerical_derivatives():
    """The sandwich H^-1 M H^-1 with H and the schools' scores U_s by scipy's finite differences
    of the path-enumeration log-likelihood (two groups, shared emissions, 40 schools)."""
    first, first_counts, rng = _small_data(seed=5, units=1500, k=2)
    second, second_counts, _ = _small_data(seed=6, units=1500, k=2, q=(0.4, 0.1))
    patterns = np.concatenate([first, second])
    counts = np.concatenate([first_counts, second_counts])
    groups = np.repeat([0, 1], [len(first), len(second)])
    # spread each pattern's units over 40 schools at random
    schools = 40
    per_school = np.stack([rng.multinomial(int(c), np.full(schools, 1 / schools)) for c in counts], axis=1)
    fit = latent.fit_hmm(patterns, groups, counts, 2)
    covariance = latent.robust_covariance(patterns, groups, sparse.csr_matrix(per_school.astype(float)), 2, fit)

    # theta: per group (logit q1, q2, logit p), then logit e_U, e_A, leave_U, leave_A
    def logit(v):
        return np.log(v / (1 - v))

    theta0 = np.concatenate([logit(fit["q"][0]), [logit(fit["p"][0])], logit(fit["q"][1]), [logit(fit["p"][1])],
                             logit(fit["e"]), logit(fit["leave"])])

    def loglik(theta, weights):
        expit = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        total = 0.0
        for s, g, c in zip(patterns, groups, weights):
            if c:
                q, p = expit(theta[3 * g:3 * g + 2]), expit(theta[3 * g + 2])
                total += c * math.log(path_likelihood(s, p, q, expit(theta[6:8]), expit(theta[8:10])))
        return total

    step = 1e-5
    hessian = np.array([(optimize.approx_fprime(theta0 + step * np.eye(10)[i], loglik, 1e-6, counts)
                         - optimize.approx_fprime(theta0 - step * np.eye(10)[i], loglik, 1e-6, counts)) / (2 * step)
                        for i in range(10)])
    hessian = (hessian + hessian.T) / 2
    scores = np.array([optimize.approx_fprime(theta0, loglik, 1e-6, per_school[s]) for s in range(schools)])
    meat = schools / (schools - 1) * scores.T @ scores
    inverse = np.linalg.inv(hessian)
    sandwich = inverse @ meat @ inverse
    for g in range(2):
        expected = sandwich[3 * g:3 * g + 2, 3 * g:3 * g + 2]
        assert covariance[g] == pytest.approx(expected, rel=0.06, abs=1e-5)


def test_pattern_codes_round_trip():
    symbols = np.array(list(itertools.product([IN_USE, NOT_IN_USE], [GONE, MISSING, IN_USE, NOT_IN_USE, LEFT],
                                              [MISSING, LEFT])))
    codes = (symbols * latent.BASE ** np.arange(3)).sum(axis=1)
    assert np.array_equal(latent.decode(codes, 2), symbols)


def _covariance_with(monkeypatch, settings: dict, *args) -> np.ndarray:
    """`latent.robust_covariance(*args)` with module settings changed for the call (e.g. GRAM_LIMIT 0:
    the influences' path instead of the Gram matrix)."""
    with monkeypatch.context() as patched:
        for name, value in settings.items():
            patched.setattr(latent, name, value)
        return latent.robust_covariance(*args)


def test_robust_covariance_through_the_gram_matrix_is_the_influences(monkeypatch):
    """The covariance summed through the schools' Gram matrix equals the one summed over each
    school's influence (`GRAM_LIMIT` 0 takes that path): three groups, 30 schools."""
    rng = np.random.default_rng(11)
    parts = [_small_data(seed=s, units=900, k=2, q=q) for s, q in ((7, (0.3, 0.2)), (8, (0.4, 0.1)), (9, (0.1, 0.1)))]
    patterns = np.concatenate([p for p, _, _ in parts])
    counts = np.concatenate([c for _, c, _ in parts])
    groups = np.repeat([0, 1, 2], [len(p) for p, _, _ in parts])
    per_school = sparse.csr_matrix(np.stack([rng.multinomial(int(c), np.full(30, 1 / 30)) for c in counts],
                                            axis=1).astype(float))
    fit = latent.fit_hmm(patterns, groups, counts, 3)
    gram = latent.robust_covariance(patterns, groups, per_school, 3, fit)
    influences = _covariance_with(monkeypatch, {"GRAM_LIMIT": 0}, patterns, groups, per_school, 3, fit)
    assert np.isfinite(gram).all()
    np.testing.assert_allclose(gram, influences, rtol=1e-9, atol=1e-14)


def test_robust_covariance_of_groups_within_schools_sums_only_their_pairs(monkeypatch):
    """Grouped by school (each group's units in one to three of 40 schools), the covariance summed
    over the (school, group) pairs with units (`GRAM_LIMIT` 0) equals the Gram matrix's and the sum
    over every school's dense influence (`school_influence`): the schools outside a group still
    move its hazards through the shared parameters."""
    rng = np.random.default_rng(5)
    parts = [_small_data(seed=20 + g, units=int(rng.integers(60, 200)), k=2, q=(0.3, 0.2)) for g in range(8)]
    patterns = np.concatenate([p for p, _, _ in parts])
    counts = np.concatenate([c for _, c, _ in parts])
    groups = np.repeat(np.arange(8), [len(p) for p, _, _ in parts])
    homes = [rng.choice(40, size=int(rng.integers(1, 4)), replace=False) for _ in range(8)]
    per_school = np.zeros((40, len(counts)))
    for column, (g, units) in enumerate(zip(groups, counts)):
        per_school[:, column][homes[g]] = rng.multinomial(int(units), np.full(len(homes[g]), 1 / len(homes[g])))
    per_school = sparse.csr_matrix(per_school)
    fit = latent.fit_hmm(patterns, groups, counts, 8)
    gram = latent.robust_covariance(patterns, groups, per_school, 8, fit)
    x_own, _, finite = latent.school_influence(patterns, groups, per_school, 8, fit)
    # CR1's factor counts the schools with units (a school of the matrix without any is no cluster)
    schools = int((np.asarray(per_school.sum(axis=1)).ravel() > 0).sum())
    assert schools < 40  # the fixture has schools without units
    dense = schools / (schools - 1) * np.einsum("sgi,sgj->gij", x_own, x_own)[:, :2, :2]
    pairs = _covariance_with(monkeypatch, {"GRAM_LIMIT": 0}, patterns, groups, per_school, 8, fit)
    assert finite.all() and np.isfinite(pairs).all()
    np.testing.assert_allclose(pairs, gram, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(pairs, dense, rtol=1e-9, atol=1e-14)
    # the perturbed parameter sets scored a few at a time (`SCORE_CELLS`): the same sums
    one_set_at_a_time = _covariance_with(monkeypatch, {"SCORE_CELLS": 1}, patterns, groups, per_school, 8, fit)
    np.testing.assert_array_equal(one_set_at_a_time, gram)


def test_school_patterns_are_the_pattern_counts(sample_db):
    """school_patterns (Arrow columns numbered in numpy) holds pattern_counts: the same cells in
    a sorted groupby's order, and each school's counts, from the stored cells and from the rows."""
    import duckdb
    import pandas as pd
    from metrics import Filters
    from sustain.config import load_config

    config = load_config()
    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        for filters, by in [(Filters(), ["practice"]), (Filters(hindrance=("low_pay",)), ["district"]),
                            (Filters(hindrance=("low_pay", "no_followup")), ["programme"]), (Filters(), [])]:
            counts = latent.pattern_counts(con, filters, by, config)
            found = latent.school_patterns(con, filters, by, config)
            grouped = counts.groupby([*by, "pattern"], sort=True, dropna=False)["units"].sum().reset_index()
            grouped["pattern"] = grouped["pattern"].astype("int64")  # the rows' path gives it as a float
            pd.testing.assert_frame_equal(found.cells, grouped)
            schools = sorted(counts["school_id"].unique())
            expected = counts.assign(school=counts["school_id"].map({s: i for i, s in enumerate(schools)}),
                                     cell=counts.groupby([*by, "pattern"], sort=True, dropna=False).ngroup())
            expected = expected.groupby(["school", "cell"])["units"].sum()
            # the schools' numbers ascend with their ids (a number may have no row: a school of the
            # place without units in view), so made consecutive they are the expected ones
            consecutive = np.unique(found.school, return_inverse=True)[1]
            got = pd.DataFrame({"school": consecutive, "cell": found.cell, "units": found.units})
            got = got.groupby(["school", "cell"])["units"].sum()
            pd.testing.assert_series_equal(got, expected, check_dtype=False)
            # with the ids (the model fit's path): numbered consecutively, each number's id listed
            named = latent.school_patterns(con, filters, by, config, ids=True)
            assert list(named.school_ids) == schools
            pd.testing.assert_frame_equal(named.cells, found.cells)
            by_name = pd.DataFrame({"school": named.school, "cell": named.cell, "units": named.units})
            pd.testing.assert_series_equal(by_name.groupby(["school", "cell"])["units"].sum(), expected,
                                           check_dtype=False)
    finally:
        con.close()


def test_school_patterns_of_a_school_the_roster_moved(sample_db, tmp_path):
    """A school whose roster row now names another district keeps its cells in the district it was
    observed in: the view of that district finds no rank for it in the schools table and numbers
    its rows from their ids instead, with the same schools and counts as before the move."""
    import shutil

    import duckdb
    import pandas as pd
    from metrics import Filters
    from sustain.config import load_config

    config = load_config()
    copy = tmp_path / "moved.duckdb"
    shutil.copy(sample_db, copy)
    con = duckdb.connect(str(copy))
    try:
        district, school = con.execute("select district, school_id from pattern_cells order by all limit 1").fetchone()
        filters = Filters(district=(district,))
        before = latent.school_patterns(con, filters, ["practice"], config)
        con.execute("update schools set district = 'Moved elsewhere' where school_id = ?", [school])
        after = latent.school_patterns(con, filters, ["practice"], config)
    finally:
        con.close()
    pd.testing.assert_frame_equal(after.cells, before.cells)

    def per_school(found):
        consecutive = np.unique(found.school, return_inverse=True)[1]
        frame = pd.DataFrame({"school": consecutive, "cell": found.cell, "units": found.units})
        return frame.groupby(["school", "cell"])["units"].sum()
    pd.testing.assert_series_equal(per_school(after), per_school(before))
    assert len(np.unique(after.school)) == after.school.max() + 1  # from the ids: consecutive


def test_dense_codes_are_a_sorted_factorize():
    """`_dense_codes` numbers non-negative integers as `pd.factorize(sort=True)` does, through an
    array of flags within DENSE_RANGE and by hashing beyond it (a negative value too)."""
    import pandas as pd

    rng = np.random.default_rng(3)
    for values in (rng.integers(0, 50, 1000), rng.integers(0, 5**7, 20_000), np.array([7]),
                   np.array([latent.DENSE_RANGE + 5, 3, latent.DENSE_RANGE + 5]), np.array([-2, 4, -2, 0])):
        codes, uniques = latent._dense_codes(values.astype("int64"))
        expected_codes, expected_uniques = pd.factorize(values, sort=True)
        np.testing.assert_array_equal(codes, expected_codes)
        np.testing.assert_array_equal(uniques, expected_uniques)
    codes, uniques = latent._dense_codes(np.zeros(0, dtype="int64"))
    assert len(codes) == 0 and len(uniques) == 0


def test_school_cell_matrix_is_scipys_with_duplicates_kept():
    """The counting-sort matrix (`school_cell_matrix`, duplicate entries kept) gives the same sums
    and products as scipy's own construction, which merges them; a school without rows is an
    empty row."""
    rng = np.random.default_rng(4)
    rows = 5_000
    school = rng.integers(0, 300, rows)
    school[school == 7] = 8  # school 7 has no row
    cell = rng.integers(0, 40, rows)
    units = rng.integers(1, 20, rows)
    ours = latent.school_cell_matrix(school, cell, units, (300, 40))
    scipys = sparse.csr_matrix((units.astype(float), (school, cell)), shape=(300, 40))
    np.testing.assert_array_equal(ours.toarray(), scipys.toarray())
    spread = rng.standard_normal((40, 6))
    np.testing.assert_allclose(ours @ spread, scipys @ spread, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(ours.sum(axis=0)), np.asarray(scipys.sum(axis=0)))
    assert np.diff(ours.indptr)[7] == 0
