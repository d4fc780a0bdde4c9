"""The latent-state model behind `survival` and `half_life`: a two-state hidden Markov model of
a practice in use at the programme's end, read through an imperfect score.

Why. A practice is scored at a visit; the score is not the practice. With a field instrument a
practice in use is now and then scored below the cut-off (and an abandoned one above it), so a
life table that ends a unit at its first visit "not retained" counts every such scoring error as
an abandonment and lies well below the true curve (on the simulator, scoring accuracy 0.9:
S(24) 0.07-0.14 too low). The model separates the two.

The model (per unit = teacher-practice scored in use at month 0, i.e. the `person_period` units):
- Latent state at each scheduled round j = 0..K: U (in use) or A (abandoned). A is absorbing (no
  recovery): a practice dropped stays dropped, so the share in state U at t is both the true
  retention and the true survival at t.
- P(U at month 0 | scored in use at month 0) = pi_g (the unit may be a scoring error itself; month 0
  is the selection, so its score is conditioned on, not modelled).
- Transition between rounds j-1 and j: U -> A with probability q_{g,j} (a piecewise-constant
  hazard per scheduled interval, free per group g and interval: no parametric shape).
- What a round shows (the emission), given the state s: the teacher left or transferred at that
  round (ends follow-up) with probability l_s; otherwise the practice is scored in use with
  probability e_s, not in use with 1 - e_s, or not scored (absent, on leave, no visit, `na`),
  which is taken as missing at random (its probability cancels). Rounds after leaving carry
  nothing. e_U is the instrument's sensitivity, 1 - e_A its specificity; l_A > l_U lets leaving
  depend on the practice's state at that round (informative attrition).
- e_U, e_A, l_U, l_A are properties of the instrument and of the follow-up, shared by every group
  of a view; pi_g and q_{g,j} are per group.

Estimand: S_g(t) = P(U at t | U at month 0) = prod_{j: t_j <= t} (1 - q_{g,j}), the share of the
teacher-practices truly in use at the programme's end still in use at t, over all of them (also
those later unobserved or gone).

Fit. Maximum likelihood by EM (Baum-Welch, accelerated by SQUAREM: `fit_hmm`) on SUFFICIENT
STATISTICS: DuckDB codes each unit's sequence of round symbols as one integer (base 5: 0 after
leaving, 1 not scored, 2 in use, 3 not in use, 4 left at this round) and counts units per group,
school and pattern; the likelihood depends on the data only through these counts, so the fit costs
the same for 1,000 or 1,000,000 teachers (a few hundred patterns per group). Interval: percentile
of curves drawn from the estimate's cluster-robust sampling distribution (each group's logit
hazards normal with the sandwich covariance by school, `robust_covariance`; seeded: `fit_view`).

Identification rests on the absorbing assumption: a unit scored in use after a visit scored not
in use must have been misscored once. A practice that truly comes back after a lapse is, to this
model, a scoring error (so the curve is the share never having dropped it for good). The
sensitivity rules of `survival` ("first_drop", "confirmed") read the scores as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse, special

from sustain.config import Config
from sustain.db import execute, relation, sibling_cursor
# the round symbols (the base-5 digits of a pattern code) and the code itself
from sustain.patterns import BASE, GONE, IN_USE, LEAVING_STATUSES, LEFT, MISSING, NOT_IN_USE, unit_pattern_ctes

from . import rollups
from .base import BASE_CTES, ascending_codes, base_params, filtered_rows, group_ids, select_list
from .filters import Filters
from .stats import BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED, MIN_SCHOOLS_INTERVAL, percentile_interval

# EM: iterations and tolerance (on the log-likelihood per unit) for the estimate and the replicates
MAX_ITERATIONS = 500
TOLERANCE = 1e-9
BOOTSTRAP_ITERATIONS = 60
# replicates refitted at once (memory: block x patterns x rounds x 2 floats, a few times)
REPLICATE_BLOCK = 50
START = {"p": 0.7, "e": [0.9, 0.1], "leave": [0.02, 0.04], "q": 0.1}
# probabilities are kept inside [EPS, 1 - EPS] so no pattern gets likelihood 0
EPS = 1e-6


@dataclass
class LatentFit:
    """The model fitted to every group of a view: `groups` (the by-columns, one row per group,
    in the order of the arrays), `months` (0 and the follow-up rounds), `survival` (groups x rounds,
    S at each round, 1 at month 0), `replicates` (B x groups x rounds, the bootstrap refits; NaN
    where a replicate has no unit of the group), `low`, `high` (percentile interval), `params`
    (the shared emission parameters and per-group pi)."""
    groups: pd.DataFrame
    months: np.ndarray
    survival: np.ndarray
    replicates: np.ndarray
    low: np.ndarray
    high: np.ndarray
    params: dict


def pattern_counts(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str], config: Config) -> pd.DataFrame:
    """One row per group, school and pattern: the --by columns, `school_id`, `pattern` (the unit's
    round symbols coded base 5, digit 0 for month 0, digit j for the j-th round after it;
    sustain/patterns.py) and `units`.

    Units are the teacher-practices scored at month 0 (in use or not: those scored not in use tell
    the model how often a practice not in use is scored in use), grouped and filtered on their
    month-0 observation (where the teacher was at month 0), like `survival`'s month-0 row.

    Read from the counts stored at import per school cell (ingest/model.py `pattern_cells`, and
    `pattern_hindrance_cells` for one hindrance or grouped by hindrance) when the view allows
    (metrics/rollups.py `pattern_table`); else coded from the model's rows here. Both give the
    same counts (tests/test_rollups.py)."""
    sql, params = _pattern_counts_sql(filters, by, config)
    return execute(con, sql, params).df()


def _pattern_counts_sql(filters: Filters, by: Sequence[str], config: Config) -> tuple[str, dict]:
    """`pattern_counts`'s SQL (a whole statement) and parameters."""
    dims = filters.replace(months_min=None, months_max=None)
    followup = [m for m in config.schedule.months if m > 0]
    if rollups.patterns_readable(by, dims):
        return rollups.pattern_cells_sql(by, dims)
    rows, params = filtered_rows(by, dims, relation="baseline")
    keys = select_list(by, "s")
    school = "" if "school_id" in by else "s.school_id, "
    return f"""with {BASE_CTES},
baseline as (
    select * from observations where months = 0
),
shown as (
    {rows}
),
{unit_pattern_ctes("shown", "observations", "placed_visits")}
select {keys}{school}y.pattern, count(*) as units
from shown s
join unit_patterns y using (teacher_key, practice)
group by all
""", base_params(config) | params | {"followup_months": followup, "leaving_statuses": LEAVING_STATUSES}


@dataclass
class SchoolPatterns:
    """`pattern_counts` as the fit reads it, without a frame of one row per school cell: `cells`
    (the by-columns, `pattern`, `units` summed over schools: one row per group and pattern, in the
    order of a sorted groupby), and per (group, school, pattern) row of `pattern_counts` (or
    several rows summing to it): `school` (the school's number in ascending school_id order; some
    numbers may have no row, `school_patterns`), `cell` (its row of `cells`) and `units`;
    `school_ids`, when asked for: each number's id (numbered consecutively then)."""
    cells: pd.DataFrame
    school: np.ndarray
    cell: np.ndarray
    units: np.ndarray
    school_ids: np.ndarray


def school_patterns(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                    config: Config, ids: bool = False) -> SchoolPatterns | None:
    """`pattern_counts` numbered in numpy (None when no unit is in view): the rows come as Arrow
    columns, the schools numbered by DuckDB and the cells by integer keys, and only the (group,
    pattern) cells, a few thousand, become a frame (a national view has millions of school cells:
    a frame of them, and its groupby on strings, cost more than the fit).

    Each row's school (`school`) comes as its rank among the `schools` table's schools in the view's
    place (ascending school_id, `_SCHOOL_RANKS`), an integer: at a national view the schools' ids,
    carried out of DuckDB as text and numbered in Arrow, cost more than the rest of the rows
    together. A number may then have no row (a school of the place with no unit in view): such
    a school adds nothing to any sum, and `robust_covariance` counts only the schools with units.
    A row whose school the table does not hold there (a school the roster has since moved or
    dropped) has no rank: the rows are then numbered from their ids' text, consecutively.
    `ids`: the schools numbered consecutively (in the same order), and `school_ids` each number's id
    (the model fit's schools); else `school_ids` is empty (a view's fit needs only the numbers)."""
    by = list(by)
    dims = filters.replace(months_min=None, months_max=None)
    table = rollups.pattern_table(by, dims)
    if table is not None:
        # the stored cells as they are, not summed per group, school and pattern in DuckDB: numpy
        # sums them anyway (the cells per key below, the schools' counts in fit_view's sparse matrix)
        where, params = dims.where("practice", alias="r", hindrance_rows=True, keyed=True)
        keys = "".join(f"r.{c}, " for c in by) + ("" if "school_id" in by else "r.school_id, ")
        sql = f"select {keys}r.pattern, r.units from {table} r where {where}"
    else:
        sql, params = _pattern_counts_sql(filters, by, config)
    place, place_params = filters.place_only().where("visit", alias="s")
    ranks = _SCHOOL_RANKS.format(where=place)
    ranked = f"""select {"".join(f"v.{c}, " for c in by)}v.pattern, v.units, k.school_rank
from ({sql}) v
left join ({ranks}) k on k.school_id = v.school_id"""
    # on a cursor of its own: a relation cannot start while `con` holds an unfinished result
    cursor = sibling_cursor(con)
    try:
        school_ids = None
        found = relation(cursor, ranked, params | place_params).to_arrow_table()
        if found.num_rows == 0:
            return None
        if found["school_rank"].null_count == 0:
            school = found["school_rank"].to_numpy().astype("int64", copy=False)
            if ids:  # numbered consecutively, each number's id read from the ranks' own order
                school, present = _dense_codes(school)
                school_ids = relation(cursor, f"select school_id from ({ranks}) order by school_rank",
                                      place_params).to_arrow_table()["school_id"]
                school_ids = school_ids.take(pa.array(present))
        else:  # a school the table lacks there: the rows numbered from their ids' text
            found = relation(cursor, sql, params).to_arrow_table()
            if found.num_rows == 0:
                return None
            school, school_ids = ascending_codes(found["school_id"])
    finally:
        cursor.close()
    # the rows' path codes the pattern as a wider integer (a sum of powers of 5)
    patterns = pc.cast(found["pattern"], "int64").to_numpy()
    pattern_code, pattern_values = _dense_codes(patterns)
    # each row's cell, numbered in ascending order of one integer key per (group, pattern): the
    # by-columns' dictionary codes (a missing value its own code) in mixed radix, then the pattern's
    # number; and each cell's key (without --by, the patterns' numbers are the cells')
    values = {}
    if by:
        key = np.zeros(found.num_rows, dtype="int64")
        for column in by:
            codes = pc.dictionary_encode(found[column], null_encoding="encode").combine_chunks()
            values[column] = (codes.dictionary.to_pandas(), len(codes.dictionary))
            key = key * len(codes.dictionary) + codes.indices.to_numpy(zero_copy_only=False).astype("int64")
        cell_of_row, cell_keys = _dense_codes(key * len(pattern_values) + pattern_code)
    else:
        cell_of_row, cell_keys = pattern_code, np.arange(len(pattern_values), dtype="int64")
    units = found["units"].to_numpy().astype("int64", copy=False)
    # each cell's by-values and pattern decoded from its key (mixed radix, last column first)
    rest = cell_keys
    small = {"pattern": pattern_values[rest % len(pattern_values)]}
    rest = rest // len(pattern_values)
    for column in reversed(by):
        dictionary, size = values[column]
        small[column] = dictionary.take(rest % size).reset_index(drop=True)
        rest = rest // size
    small = pd.DataFrame({column: small[column] for column in [*by, "pattern"]})
    small["units"] = np.bincount(cell_of_row, weights=units, minlength=len(cell_keys)).astype("int64")
    # the cells in the order of fit_view's sorted groupby, and each found cell's place in it
    grouped = small.groupby([*by, "pattern"], sort=True, dropna=False)
    cells = grouped["units"].sum().reset_index()
    place_of_cell = grouped.ngroup().to_numpy()
    # (the cells in ascending key are most often in that order already: no copy of every row then)
    in_order = np.array_equal(place_of_cell, np.arange(len(place_of_cell)))
    school_ids = np.array([], dtype=object) if school_ids is None else school_ids.to_numpy(zero_copy_only=False)
    return SchoolPatterns(cells=cells, school=school, cell=cell_of_row if in_order else place_of_cell[cell_of_row],
                          units=units, school_ids=school_ids)


# the schools of a view's place numbered in ascending school_id (`school_patterns`); {where}: the
# place's clause on `schools s` (Filters.place_only().where, bound with the view's parameters)
_SCHOOL_RANKS = """select school_id, (row_number() over (order by school_id) - 1)::integer as school_rank
from schools s
where {where}"""
# `_dense_codes`: the widest range of values numbered through an array (else by hashing)
DENSE_RANGE = 1 << 24


def _dense_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(each value's number among the distinct values in ascending order, the distinct values):
    `pd.factorize(values, sort=True)` for non-negative integers, through an array of flags when
    their range is at most DENSE_RANGE (a pattern code, a cell's key: no hashing)."""
    if not len(values):
        return np.zeros(0, dtype="int64"), values.astype("int64")
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= DENSE_RANGE:
        codes, uniques = pd.factorize(values, sort=True)
        return codes.astype("int64"), np.asarray(uniques, dtype="int64")
    present = np.zeros(high + 1, dtype=bool)
    present[values] = True
    number = np.cumsum(present, dtype="int64") - 1
    return number[values], np.flatnonzero(present).astype("int64")


def school_cell_matrix(school: np.ndarray, cell: np.ndarray, units: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """The (schools x cells) matrix of units from one entry per row (school, cell, units), built by
    a counting sort of the rows by school. Several rows of one school and cell (stored cells finer
    than the view's) stay separate entries, which every product and sum adds up: scipy's own
    construction sorts and merges them, which at a national view (5 million rows) cost more than
    the fit."""
    order = np.argsort(school, kind="stable")
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(school, minlength=shape[0]), out=indptr[1:])
    return sparse.csr_matrix((np.asarray(units, dtype=float)[order], np.asarray(cell)[order], indptr), shape=shape)


def schools_with_units(school_counts: sparse.csr_matrix) -> int:
    """The rows of a `school_cell_matrix` with units (a view's matrix may hold rows of its place's
    schools without any: no school of the view)."""
    return int(np.count_nonzero(np.diff(school_counts.indptr)))


def decode(patterns: np.ndarray, rounds: int) -> np.ndarray:
    """(patterns x rounds+1) symbols of base-5 pattern codes (month 0 first)."""
    codes = np.asarray(patterns, dtype="int64")
    return np.stack([(codes // BASE**j) % BASE for j in range(rounds + 1)], axis=-1)


def _emission_tables(e: np.ndarray, leave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B x 5 x 2) probability of each symbol given the state (U, A): at month 0 (scored only) and
    at a follow-up round (leaving, then scored or not)."""
    reps = len(e)
    month0 = np.zeros((reps, BASE, 2))
    month0[:, IN_USE] = e
    month0[:, NOT_IN_USE] = 1 - e
    later = np.empty((reps, BASE, 2))
    stay = 1 - leave
    later[:, GONE] = 1.0
    later[:, MISSING] = stay
    later[:, IN_USE] = stay * e
    later[:, NOT_IN_USE] = stay * (1 - e)
    later[:, LEFT] = leave
    return month0, later


def e_step(symbols: np.ndarray, group: np.ndarray, w: np.ndarray, q: np.ndarray, p: np.ndarray, e: np.ndarray,
           leave: np.ndarray) -> dict:
    """Forward-backward for B parameter sets at once. `w`: (B x P) units per pattern; q (B x G x K),
    p (B x G), e and leave (B x 2). Returns per-pattern expected counts, each (B x P) or a list per
    interval: `moves[j]` (U -> A in interval j+1), `at_u[j]` (in U at its start), `start_u` (in U
    at month 0), `in_use[j]` (in U at round j = 0..K; with w = 1, the posterior P(U at j | pattern)); per state (B x P x 2): `scored_in`, `scored`, `left`, `enrolled` (rounds where
    the unit was in that state and scored in use / scored / left / still followed); `loglik`
    (total, B)."""
    k = symbols.shape[1] - 1
    gamma, moves, loglik = _forward_backward(symbols, group, w, q, p, e, leave)
    out = {"moves": [moves[:, :, j] for j in range(k)], "at_u": [gamma[:, :, j, 0] for j in range(k)],
           "start_u": gamma[:, :, 0, 0], "in_use": [gamma[:, :, j, 0] for j in range(k + 1)], "loglik": loglik}
    for name, mask in zip(("scored_in", "scored", "left", "enrolled"), _count_masks(symbols)):
        out[name] = np.stack([sum(np.where(mask[:, j], gamma[:, :, j, s], 0.0) for j in range(k + 1)) for s in (0, 1)],
                             axis=-1)
    return out


def _forward_backward(symbols, group, w, q, p, e, leave) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The forward-backward pass of `e_step` and of `fit_hmm`'s steps, over arrays holding every
    round (a Python loop over rounds and quantities cost more than the arithmetic on a school's or
    district's few hundred patterns): (gamma (B x P x K+1 x 2): the units in each state at each
    round, moves (B x P x K): the units moving U -> A in each interval, the log-likelihood (B))."""
    reps, n_patterns = w.shape
    k = symbols.shape[1] - 1
    month0, later = _emission_tables(e, leave)
    # computed as (K+1, 2, B, P), each round's and state's values contiguous (2-3x faster than
    # slicing the last axes of (B, P, K+1, 2)); returned in the callers' layout
    b = np.empty((k + 1, 2, reps, n_patterns))
    b[0] = month0[:, symbols[:, 0], :].transpose(2, 0, 1)
    b[1:] = later[:, symbols[:, 1:], :].transpose(2, 3, 0, 1)
    qp = q[:, group, :].transpose(2, 0, 1)                              # (K, B, P)
    pp = p[:, group]
    alpha = np.empty_like(b)
    alpha[0, 0] = pp * b[0, 0]
    alpha[0, 1] = (1 - pp) * b[0, 1]
    for j in range(1, k + 1):
        u, a, move = alpha[j - 1, 0], alpha[j - 1, 1], qp[j - 1]
        alpha[j, 0] = u * (1 - move) * b[j, 0]
        alpha[j, 1] = (u * move + a) * b[j, 1]
    likelihood = alpha[k, 0] + alpha[k, 1]
    beta = np.empty_like(b)
    beta[k] = 1.0
    for j in range(k, 0, -1):
        bu, ba = beta[j, 0] * b[j, 0], beta[j, 1] * b[j, 1]
        beta[j - 1, 0] = (1 - qp[j - 1]) * bu + qp[j - 1] * ba
        beta[j - 1, 1] = ba
    positive = likelihood > 0
    scale = np.where(positive, w / np.where(positive, likelihood, 1.0), 0.0)
    gamma = alpha * beta * scale
    moves = alpha[:-1, 0] * qp * b[1:, 1] * beta[1:, 1] * scale
    loglik = np.sum(w * np.log(np.where(positive, likelihood, 1.0)), axis=1)
    return gamma.transpose(2, 3, 0, 1), moves.transpose(1, 2, 0), loglik


def _bounded(values: np.ndarray, fill: float, low: float, high: float) -> np.ndarray:
    """`values` with NaN (0/0: nobody at risk) as `fill`, inside [low, high] (np.nan_to_num then
    np.clip, in two ufuncs: the EM calls it four times an iteration)."""
    return np.clip(np.where(np.isnan(values), fill, values), low, high)


def _within_bounds(state: tuple) -> tuple:
    """(q, p, e, leave) inside the bounds every step keeps them in (NaN, from 0/0, as the start)."""
    q, p, e, leave = state
    return (_bounded(q, START["q"], 0.0, 1.0 - EPS), _bounded(p, START["p"], EPS, 1.0),
            _bounded(e, 0.5, EPS, 1 - EPS), _bounded(leave, 0.0, 0.0, 1 - EPS))


def _per_replicate(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    """(B,) values shaped to broadcast against `like` (B x ...)."""
    return values.reshape((-1,) + (1,) * (like.ndim - 1))


def _count_masks(symbols: np.ndarray) -> np.ndarray:
    """(4 x P x K+1) booleans: the rounds a pattern was scored in use, scored, left at, and still
    followed at (leaving and following counted from the first follow-up round): what the shared
    emissions e and leave are re-estimated from."""
    enrolled = symbols != GONE
    left = symbols == LEFT
    left[:, 0] = enrolled[:, 0] = False
    return np.stack([symbols == IN_USE, np.isin(symbols, (IN_USE, NOT_IN_USE)), left, enrolled])


def _em_counts(symbols, group, member, masks, w, q, p, e, leave):
    """One E-step of `fit_hmm`, summed as its M-step needs it: (moves (B x G x K), at_u (B x G x K),
    start_u (B x G), counted (B x 4 x 2: scored in use, scored, left, followed, per state), the
    log-likelihood (B)), with one group sum per step; `masks`: `_count_masks` as numbers."""
    reps, n_patterns = w.shape
    k = symbols.shape[1] - 1
    gamma, moves, loglik = _forward_backward(symbols, group, w, q, p, e, leave)
    per_pattern = np.empty((reps, n_patterns, 2 * k + 1))
    per_pattern[:, :, :k] = moves
    per_pattern[:, :, k:2 * k] = gamma[:, :, :-1, 0]
    per_pattern[:, :, 2 * k] = gamma[:, :, 0, 0]
    # every quantity's group sums in one product: (G x P) @ (P x B(2K+1))
    summed = np.asarray(member @ per_pattern.transpose(1, 0, 2).reshape(n_patterns, -1))
    summed = summed.reshape(-1, reps, 2 * k + 1).transpose(1, 0, 2)      # (B, G, 2K+1)
    counted = np.einsum("bpjs,mpj->bms", gamma, masks)
    return summed[:, :, :k], summed[:, :, k:2 * k], summed[:, :, 2 * k], counted, loglik


def _sum_by_group(values: np.ndarray, group, groups: int) -> np.ndarray:
    """(B x P) summed by the patterns' groups into (B x G); `group` is the patterns' group index
    or its (G x P) membership matrix (`_membership`, built once per fit)."""
    member = group if sparse.issparse(group) else _membership(group, groups)
    return np.asarray(member @ values.T).T


def _membership(group: np.ndarray, groups: int) -> sparse.csr_matrix:
    return sparse.csr_matrix((np.ones(len(group)), (group, np.arange(len(group)))), shape=(groups, len(group)))


def fit_hmm(symbols: np.ndarray, group: np.ndarray, weights: np.ndarray, groups: int,
            start: dict | None = None, iterations: int = MAX_ITERATIONS, tolerance: float = TOLERANCE) -> dict:
    """EM for the model of the module docstring on weighted patterns.

    `symbols`: (P x K+1) symbols of each pattern (month 0 first); `group`: (P,) its group index;
    `weights`: (P,) or (B x P) unit counts (B data sets fitted at once, independently). Returns
    arrays with a leading B axis when `weights` is 2-D: `q` (groups x K), `p` (groups: P(U) at
    month 0 among units scored at month 0), `e` (2: e_U, e_A), `leave` (2), `survival`
    (groups x K+1), `loglik` (per unit), `iterations`."""
    single = np.ndim(weights) == 1
    w = np.atleast_2d(np.asarray(weights, dtype="float64"))          # (B, P)
    reps = len(w)
    k = symbols.shape[1] - 1
    start = start or {}
    q = np.broadcast_to(np.asarray(start.get("q", START["q"]), float), (reps, groups, k)).copy()
    p = np.broadcast_to(np.asarray(start.get("p", START["p"]), float), (reps, groups)).copy()
    e = np.broadcast_to(np.asarray(start.get("e", START["e"]), float), (reps, 2)).copy()
    leave = np.broadcast_to(np.asarray(start.get("leave", START["leave"]), float), (reps, 2)).copy()
    member = _membership(group, groups)
    units = _sum_by_group(w, member, groups)
    masks = _count_masks(symbols).astype(float)
    total = max(w.sum(), 1.0)

    def update(state):
        """One EM step from `state`: (the next state, the log-likelihood per replicate at `state`)."""
        q, p, e, leave = state
        moves, at_u, start_u, counted, loglik = _em_counts(symbols, group, member, masks, w, q, p, e, leave)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(at_u > 0, moves / at_u, q)
            p = np.where(units > 0, start_u / units, p)
            e = counted[:, 0] / counted[:, 1]
            leave = counted[:, 2] / counted[:, 3]
        return _within_bounds((q, p, e, leave)), loglik

    # SQUAREM (Varadhan & Roland 2008, scheme S3, with the step bounds of their R package): two EM
    # steps, then a step along their extrapolation, kept only where it does not lower the
    # likelihood (else the next cycle starts from the second EM step); the largest step allowed
    # grows fourfold each time it is taken and shrinks back after a rejected one, so a flat
    # likelihood with hazards at 0 or 1 (a school's view) does not try the same long jump every
    # cycle. The same maximum as plain EM in a fraction of the steps (plain EM took about 260 on a
    # school's view). Stops, as plain EM did, at the first step whose log-likelihood per unit
    # moved less than `tolerance`.
    state, previous, loglik, done = (q, p, e, leave), -np.inf, np.nan, 0
    step_max = np.ones(reps)

    def step(state):
        nonlocal previous, loglik, done
        following, per_replicate = update(state)
        done += 1
        loglik = float(per_replicate.sum() / total)
        converged = abs(loglik - previous) < tolerance
        previous = loglik
        return following, per_replicate, converged or done >= iterations

    while True:
        first, _, stop = step(state)
        if stop:
            state = first
            break
        second, at_first, stop = step(first)
        if stop:
            state = second
            break
        r = [a - b for a, b in zip(first, state)]
        v = [c - 2 * a + b for c, a, b in zip(second, first, state)]
        r_norm = np.sqrt(sum(np.square(x).reshape(reps, -1).sum(axis=1) for x in r))
        v_norm = np.sqrt(sum(np.square(x).reshape(reps, -1).sum(axis=1) for x in v))
        with np.errstate(divide="ignore", invalid="ignore"):
            alpha = np.clip(np.where(v_norm > 0, r_norm / v_norm, 1.0), 1.0, step_max)
        jumped = _within_bounds(tuple(b + 2 * _per_replicate(alpha, x) * dr + _per_replicate(alpha ** 2, x) * dv
                                      for b, dr, dv, x in zip(state, r, v, state)))
        after_jump, at_jump, stop = step(jumped)
        worse = ~(at_jump >= at_first)  # a lower likelihood, or not finite: that replicate goes on from `second`
        longest = alpha >= step_max
        step_max = np.where(longest, np.where(worse, np.maximum(1.0, step_max / 4), step_max * 4), step_max)
        state = tuple(np.where(_per_replicate(worse, x), s2, sj) for s2, sj, x in zip(second, after_jump, after_jump))
        if stop:
            break
    q, p, e, leave = state
    out = {"q": q, "p": p, "e": e, "leave": leave, "survival": survival_curves(q, units),
           "loglik": loglik, "iterations": done}
    if single:
        out = {key: (value[0] if isinstance(value, np.ndarray) else value) for key, value in out.items()}
    return out


def survival_curves(q: np.ndarray, units: np.ndarray | None = None) -> np.ndarray:
    """S at month 0 and each round from the interval hazards q (... x G x K): 1, then prod (1 - q)."""
    curves = np.concatenate([np.ones((*q.shape[:-1], 1)), np.cumprod(1 - q, axis=-1)], axis=-1)
    if units is not None:
        curves = np.where(units[..., None] > 0, curves, np.nan)
    return curves


# -- interval: cluster-robust (sandwich) covariance by school -------------------------------------
# parameters on the logit scale, per group: the K interval hazards and p; shared: e_U, e_A, l_U, l_A
SHARED = 4
STEP = 1e-4


def _logit(x):
    x = np.clip(x, CLIP, 1 - CLIP)
    return np.log(x / (1 - x))


def _expit(x):
    return special.expit(x)


CLIP = 1e-5


def _pattern_scores(symbols, group, w, groups, q, p, e, leave) -> tuple[np.ndarray, np.ndarray]:
    """Per-pattern score (gradient of the log-likelihood on the logit scale, by Fisher's identity:
    the expected complete-data score) for B parameter sets: own (B x P x K+1: the pattern's group's
    hazards, then p) and shared (B x P x 4)."""
    x = e_step(symbols, group, w, q, p, e, leave)
    qp, pp = q[:, group, :], p[:, group]
    own = np.stack([x["moves"][j] - qp[:, :, j] * x["at_u"][j] for j in range(q.shape[-1])]
                   + [x["start_u"] - pp * w], axis=-1)
    shared = np.concatenate([x["scored_in"] - e[:, None, :] * x["scored"],
                             x["left"] - leave[:, None, :] * x["enrolled"]], axis=-1)
    return own, shared


def robust_covariance(symbols, group, school_counts: sparse.csr_matrix, groups: int, estimate: dict) -> np.ndarray:
    """Cluster-robust (CR1, by school) covariance of each group's logit hazards, (G x K x K):
    V = H^-1 M H^-1, M = S/(S-1) sum_s U_s U_s' over the schools' scores U_s (S: the rows of
    `school_counts` with units; a row without any is no school of the view), H the Hessian of the
    log-likelihood by central differences of the score (`school_influence`).

    Each school's influence x_sg = H^-1 U_s (its group g's block) is linear in its score vector
    U_s (every group's own parameters, then the shared ones: D = G (K+1) + 4 values), x_sg = L_g U_s,
    so sum_s x_sg x_sg' = L_g (sum_s U_s U_s') L_g': one D x D Gram matrix of the schools' scores
    (a single matrix product over the schools) instead of an (S x G x K+1) array of influences and
    its per-school products. A view of many groups (D above `GRAM_LIMIT`) sums the influences'
    products over the (school, group) pairs with units instead (`_influence_products`)."""
    k = symbols.shape[1] - 1
    m = k + 1
    dimension = groups * m + SHARED
    parts = _influence_parts(symbols, group, school_counts, groups, estimate)
    schools = schools_with_units(school_counts)
    if parts.get("singular") or schools == 0:
        return np.full((groups, k, k), np.nan)
    factor = schools / (schools - 1) if schools > 1 else np.nan
    if dimension > GRAM_LIMIT:
        covariance = factor * _influence_products(school_counts, group, groups, m, parts)
    else:
        # U (S x D): the schools' scores, each pattern's per-unit score placed at its group's columns
        n_patterns = len(group)
        spread = np.zeros((n_patterns, dimension))
        spread[np.arange(n_patterns)[:, None], group[:, None] * m + np.arange(m)] = parts["per_unit"]
        spread[:, groups * m:] = parts["per_unit_shared"]
        scores = np.asarray(school_counts @ spread)
        gram = scores.T @ scores
        # z_s = S^-1 (u_shared_s - sum_g B_g' A_g^-1 u_sg) = Z U_s; x_sg = A_g^-1 u_sg - A_g^-1 B_g z_s = L_g U_s
        to_shared = np.zeros((SHARED, dimension))
        to_shared[:, groups * m:] = np.eye(SHARED)
        to_shared[:, :groups * m] = -np.transpose(np.matmul(np.transpose(parts["b"], (0, 2, 1)), parts["a_inv"]),
                                                  (1, 0, 2)).reshape(SHARED, groups * m)
        shared_map = parts["schur_inv"] @ to_shared
        maps = -np.matmul(parts["a_inv_b"], shared_map)                  # (G, m, D)
        for g in range(groups):
            maps[g, :, g * m:(g + 1) * m] += parts["a_inv"][g]
        covariance = factor * np.matmul(np.matmul(maps, gram), np.transpose(maps, (0, 2, 1)))
    covariance[~parts["finite"]] = np.nan
    return covariance[:, :k, :k]


# `robust_covariance`: the largest score dimension G (K+1) + 4 summed through the Gram matrix
GRAM_LIMIT = 512
# `_influence_parts`: the parameter sets' pattern-round cells scored at once (memory stays bounded)
SCORE_CELLS = 4_000_000


def school_influence(symbols, group, school_counts: sparse.csr_matrix, groups: int, estimate: dict):
    """H^-1 U_s for every school s (its score U_s, on the logit scale, solved against the Hessian H
    of the log-likelihood): (x_own (S x G x K+1: each group's hazards, then p), x_shared (S x 4:
    e_U, e_A, l_U, l_A), finite (G: the group's Hessian block is finite)); (None, None, finite)
    when H cannot be inverted. The estimate moves by about -x_s when school s is added: the
    influence of a school on the parameters, for the sandwich and for the delta method. The
    Hessian is block-arrowhead (a group's parameters meet only its own and the shared ones), so
    each block is differenced for every group at once and H^-1 U_s is solved through the Schur
    complement of the shared block (`_influence_parts`)."""
    parts = _influence_parts(symbols, group, school_counts, groups, estimate)
    if parts.get("singular"):
        return None, None, parts["finite"]
    x_own, z = _influences(school_counts, group, groups, symbols.shape[1], parts)
    return x_own, z, parts["finite"]


def _school_scores(school_counts, group, groups: int, m: int, parts: dict) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The schools' scores at the estimate from `_influence_parts`' per-unit scores: (own
    (S x G m, sparse: each school's score on each group's parameters, zero outside its groups),
    shared (S x 4))."""
    n_patterns = len(group)
    spread = sparse.csr_matrix((parts["per_unit"].ravel(), (np.repeat(np.arange(n_patterns), m),
                                                            (group[:, None] * m + np.arange(m)).ravel())),
                               shape=(n_patterns, groups * m))
    return school_counts @ spread, np.asarray(school_counts @ parts["per_unit_shared"])


def _influences(school_counts, group, groups: int, m: int, parts: dict) -> tuple[np.ndarray, np.ndarray]:
    """(x_own (S x G x m), x_shared (S x 4)) of `school_influence` from `_influence_parts`."""
    own, u_shared = _school_scores(school_counts, group, groups, m, parts)
    u_own = np.asarray(own.todense()).reshape(-1, groups, m)                         # (S, G, m)
    a_inv, b, a_inv_b, schur_inv = parts["a_inv"], parts["b"], parts["a_inv_b"], parts["schur_inv"]
    y = np.einsum("gij,sgj->sgi", a_inv, u_own)
    z = (u_shared - np.einsum("gmt,sgm->st", b, y)) @ schur_inv.T
    x_own = y - np.einsum("gmt,st->sgm", a_inv_b, z)
    return x_own, z


def _influence_products(school_counts, group, groups: int, m: int, parts: dict) -> np.ndarray:
    """sum over schools of x_sg x_sg' for every group g (G x m x m), the influences of
    `_influences` summed without their (S x G x m) array (at a national view grouped by school, S
    and G are both in the hundred thousands). x_sg = y_sg - C_g z_s with y_sg = A_g^-1 u_sg (zero
    for a school with no unit in g) and C_g = A_g^-1 B_g, so
    sum_s x_sg x_sg' = sum_{s in g} (y y' - C_g z y' - y z' C_g') + C_g (sum_s z_s z_s') C_g':
    sums over the (school, group) pairs with units, and one 4 x 4 matrix over every school."""
    a_inv, b, a_inv_b, schur_inv = parts["a_inv"], parts["b"], parts["a_inv_b"], parts["schur_inv"]
    own, u_shared = _school_scores(school_counts, group, groups, m, parts)
    scores = own.tocoo()                                                             # u_sg, sparse
    pair_key, pair = np.unique(scores.row.astype(np.int64) * groups + scores.col // m, return_inverse=True)
    pair_school, pair_group = pair_key // groups, pair_key % groups
    u_own = np.zeros((len(pair_key), m))
    np.add.at(u_own, (pair.reshape(-1), scores.col % m), scores.data)
    y = np.einsum("pij,pj->pi", a_inv[pair_group], u_own)                             # (pairs, m)
    through_own = np.zeros_like(u_shared)
    np.add.at(through_own, pair_school, np.einsum("pmt,pm->pt", b[pair_group], y))
    z = (u_shared - through_own) @ schur_inv.T                                       # (S, 4)
    products = np.zeros((groups, m, m))
    np.add.at(products, pair_group, y[:, :, None] * y[:, None, :])
    z_y = np.zeros((groups, SHARED, m))
    np.add.at(z_y, pair_group, z[pair_school][:, :, None] * y[:, None, :])
    cross = np.matmul(a_inv_b, z_y)                                                  # C_g sum z y'
    return (products - cross - np.transpose(cross, (0, 2, 1))
            + np.matmul(np.matmul(a_inv_b, z.T @ z), np.transpose(a_inv_b, (0, 2, 1))))


def _influence_parts(symbols, group, school_counts: sparse.csr_matrix, groups: int, estimate: dict) -> dict:
    """What `school_influence` solves the schools' scores with: the Hessian's blocks (a_inv: each
    group's own block inverted, b: own x shared, a_inv_b, schur_inv: the shared block's Schur
    complement inverted), finite (G), and each pattern's score per unit at the estimate
    (per_unit (P x K+1), per_unit_shared (P x 4)); {"finite", "singular"} when H cannot be inverted."""
    k = symbols.shape[1] - 1
    m = k + 1
    w = np.asarray(school_counts.sum(axis=0)).ravel()[None, :]
    theta_own = np.concatenate([_logit(estimate["q"]), _logit(estimate["p"])[:, None]], axis=1)  # (G, m)
    theta_shared = np.concatenate([_logit(estimate["e"]), _logit(estimate["leave"])])             # (4,)
    # 2 x (m + 4) perturbed parameter sets: slot i of every group, or one shared parameter
    slots = m + SHARED
    own_sets = np.repeat(theta_own[None], 2 * slots, axis=0)
    shared_sets = np.repeat(theta_shared[None], 2 * slots, axis=0)
    for i in range(slots):
        for sign, row in ((1, 2 * i), (-1, 2 * i + 1)):
            if i < m:
                own_sets[row, :, i] += sign * STEP
            else:
                shared_sets[row, i - m] += sign * STEP
    member = _membership(group, groups)
    sets = 2 * slots
    own_g, shared_g = np.empty((sets, groups, m)), np.empty((sets, groups, SHARED))      # (2S, G, .)
    # a few parameter sets at a time: their forward-backward arrays (sets x patterns x rounds x 2)
    # stay within SCORE_CELLS (a national view grouped by school has millions of patterns)
    chunk = max(1, SCORE_CELLS // max(1, len(group) * m * 2))
    for first in range(0, sets, chunk):
        part = slice(first, min(sets, first + chunk))
        own, shared = _pattern_scores(symbols, group, np.repeat(w, part.stop - part.start, axis=0), groups,
                                      _expit(own_sets[part, :, :k]), _expit(own_sets[part, :, k]),
                                      _expit(shared_sets[part, :2]), _expit(shared_sets[part, 2:]))
        own_g[part] = np.stack([_sum_by_group(own[:, :, i], member, groups) for i in range(m)], axis=-1)
        shared_g[part] = np.stack([_sum_by_group(shared[:, :, i], member, groups) for i in range(SHARED)], axis=-1)
    diff_own = (own_g[0::2] - own_g[1::2]) / (2 * STEP)        # (slots, G, m): d own score / d slot
    diff_shared = (shared_g[0::2] - shared_g[1::2]) / (2 * STEP)  # (slots, G, 4)
    a = np.transpose(diff_own[:m], (1, 2, 0))                   # (G, m, m)  d own_i / d own_j
    a = (a + np.transpose(a, (0, 2, 1))) / 2
    b = np.transpose(diff_own[m:], (1, 2, 0))                   # (G, m, 4)  d own_i / d shared_s
    b = (b + np.transpose(diff_shared[:m], (1, 0, 2))) / 2      # symmetric with d shared_s / d own_i
    d = diff_shared[m:].sum(axis=1)                             # (4, 4)
    d = (d + d.T) / 2
    # a group whose Hessian block is not finite (a hazard at 0 or 1 on very few units) gets no
    # interval; the others are solved without it
    finite = np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
    a, b = np.where(finite[:, None, None], a, 0.0), np.where(finite[:, None, None], b, 0.0)
    try:
        a_inv = np.linalg.pinv(a)
        a_inv_b = a_inv @ b                                     # (G, m, 4)
        schur = d - np.einsum("gms,gmt->st", b, a_inv_b)
        schur_inv = np.linalg.pinv(schur) if np.isfinite(schur).all() else np.zeros((SHARED, SHARED))
    except np.linalg.LinAlgError:
        return {"finite": finite, "singular": True}
    # the schools' scores at the estimate: per unit of a pattern, times the school's units
    own0, shared0 = _pattern_scores(symbols, group, w, groups, estimate["q"][None], estimate["p"][None],
                                    estimate["e"][None], estimate["leave"][None])
    with np.errstate(divide="ignore", invalid="ignore"):
        per_unit = np.where(w[0][:, None] > 0, own0[0] / w[0][:, None], 0.0)
        per_unit_shared = np.where(w[0][:, None] > 0, shared0[0] / w[0][:, None], 0.0)
    return {"a_inv": a_inv, "b": b, "a_inv_b": a_inv_b, "schur_inv": schur_inv, "finite": finite,
            "per_unit": per_unit, "per_unit_shared": per_unit_shared}


def fit_view(counts: "pd.DataFrame | SchoolPatterns", by: Sequence[str], rounds: int, replicates: int = BOOTSTRAP_REPLICATES,
             seed: int = BOOTSTRAP_SEED, summed: bool = False) -> tuple[pd.DataFrame, dict, np.ndarray]:
    """Fit the model to `pattern_counts` (a frame, or `school_patterns`; every group of the view at once, shared emissions) and
    draw `replicates` curves from the estimate's cluster-robust sampling distribution (the logit
    hazards of each group ~ normal with the sandwich covariance by school; seeded). Returns
    (groups, estimate, replicate survival curves (B x groups x rounds+1)). `summed`: `counts` is
    already one row per (by, pattern), sorted by them (missing values last), without schools: the
    cells themselves (no replicates can be drawn from it)."""
    by = list(by)
    if summed and replicates > 0:
        raise ValueError("replicates need the counts by school, not summed ones")
    if isinstance(counts, SchoolPatterns):
        cells = counts.cells
    elif summed:
        cells = counts.reset_index(drop=True)
    else:
        grouped = counts.groupby([*by, "pattern"], sort=True, dropna=False) if by else counts.groupby("pattern", sort=True)
        cells = grouped["units"].sum().reset_index()
    if by:
        group = group_ids(cells, by)  # each cell's group, numbered in order of first appearance
        groups = cells[by].iloc[np.unique(group, return_index=True)[1]].reset_index(drop=True)
    else:
        groups = pd.DataFrame(index=[0])
        group = np.zeros(len(cells), dtype="int64")
    symbols = decode(cells["pattern"].to_numpy(), rounds)
    estimate = fit_hmm(symbols, group, cells["units"].to_numpy(float), len(groups))
    if replicates <= 0:
        return groups, estimate, np.empty((0, len(groups), rounds + 1))
    if isinstance(counts, SchoolPatterns):
        school, column_key, units = counts.school, counts.cell, counts.units.astype(float)
    else:
        column_key = grouped.ngroup().to_numpy()  # each row's cell: the cells are the groups, in order
        school = pd.factorize(counts["school_id"].astype("string"), sort=True)[0]
        units = counts["units"].to_numpy(float)
    n_schools = int(school.max()) + 1 if len(school) else 0
    school_counts = school_cell_matrix(school, column_key, units, (n_schools, len(cells)))
    covariance = robust_covariance(symbols, group, school_counts, len(groups), estimate)
    # no interval for a group of fewer than MIN_SCHOOLS_INTERVAL schools (grouped by school: each
    # group's sandwich would be its one school's score, zero at the estimate)
    if len(groups) == 1:  # (the product below, without its pass over every entry)
        group_schools = np.array([schools_with_units(school_counts)])
    else:
        group_schools = np.asarray(((school_counts @ _membership(group, len(groups)).T) > 0).sum(axis=0)).ravel()
    covariance[group_schools < MIN_SCHOOLS_INTERVAL] = np.nan
    rng = np.random.default_rng(seed)
    centre = _logit(estimate["q"])                                  # (G, K)
    draws = rng.standard_normal((replicates, len(groups), rounds))
    # symmetric square root (the covariance may be singular where a round has nobody at risk)
    valid = np.isfinite(covariance).all(axis=(1, 2))
    values, vectors = np.linalg.eigh(np.where(valid[:, None, None], covariance, 0.0))
    root = vectors * np.sqrt(np.clip(values, 0, None))[:, None, :]
    hazards = _expit(centre[None] + np.einsum("gij,bgj->bgi", root, draws))
    hazards[:, ~valid, :] = np.nan                                   # no interval for that group
    units = _sum_by_group(cells["units"].to_numpy(float)[None, :], group, len(groups))
    return groups, estimate, survival_curves(hazards, np.broadcast_to(units, (replicates, len(groups))))


def latent_survival(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str], config: Config,
                    replicates: int = BOOTSTRAP_REPLICATES) -> LatentFit | None:
    """The model fitted to the view (filters) for each group of `by` (None when no unit is in
    view): S(t) at 0 and every follow-up round, with the school-bootstrap percentile interval."""
    counts = school_patterns(con, filters, by, config)
    if counts is None:
        return None
    months = np.array(sorted({0, *config.schedule.months}), dtype="int64")
    rounds = len(months) - 1
    groups, estimate, curves = fit_view(counts, by, rounds, replicates)
    low, high = percentile_interval(curves) if len(curves) else (np.full_like(estimate["survival"], np.nan),) * 2
    low, high = np.asarray(low), np.asarray(high)
    low[:, 0] = high[:, 0] = 1.0
    params = {"e_in_use": float(estimate["e"][0]), "e_abandoned": float(estimate["e"][1]),
              "leave_in_use": float(estimate["leave"][0]), "leave_abandoned": float(estimate["leave"][1]),
              "p_in_use_month0": estimate["p"], "iterations": estimate["iterations"], "loglik": estimate["loglik"]}
    return LatentFit(groups=groups, months=months, survival=estimate["survival"], replicates=curves,
                     low=low, high=high, params=params)


def curve_frame(fit: LatentFit, by: Sequence[str]) -> pd.DataFrame:
    """The fit as a long frame: the by-columns, months, survival, ci_low, ci_high."""
    n_groups, n_rounds = fit.survival.shape
    frame = fit.groups.loc[np.repeat(np.arange(n_groups), n_rounds), list(by)].reset_index(drop=True)
    return frame.assign(months=np.tile(fit.months, n_groups), survival=fit.survival.ravel(),
                        ci_low=fit.low.ravel(), ci_high=fit.high.ravel())


def with_latent_survival(table: pd.DataFrame, fit: LatentFit | None, by: Sequence[str]) -> pd.DataFrame:
    """`table` (survival's rows: by-columns, months, ...) with survival, ci_low and ci_high taken
    from the model's fit for the same group and round."""
    values = ["survival", "ci_low", "ci_high"]
    if fit is None:
        return table.assign(**{c: np.nan for c in values})
    if not by:  # one group: each row's round is its place in the fit's months (NaN: not among them)
        months = table["months"].to_numpy(dtype="int64")
        at = np.minimum(np.searchsorted(fit.months, months), len(fit.months) - 1)
        found = fit.months[at] == months
        return table.assign(**{column: np.where(found, series[0][at], np.nan) for column, series in
                               (("survival", fit.survival), ("ci_low", fit.low), ("ci_high", fit.high))})
    curves = curve_frame(fit, by)
    keys = [*by, "months"]
    for column in keys:
        curves[column] = curves[column].astype(table[column].dtype)
    return table.drop(columns=values).merge(curves, on=keys, how="left")[table.columns]


def group_curves(fit: LatentFit | None, by: Sequence[str]) -> dict:
    """{group key tuple: (estimate (rounds), replicates (B x rounds))} of a fit, for readers that
    loop over groups (half_life)."""
    if fit is None:
        return {}
    keys = [tuple(row) for row in fit.groups[list(by)].itertuples(index=False)] if by else [()]
    return {key: (fit.survival[g], fit.replicates[:, g, :]) for g, key in enumerate(keys)}


# -- retention: the as-scored share read from the model (metrics/as_scored.py) ---------------------
# parameter slots on the logit scale: each group's K hazards and p, then the shared e_U, e_A, l_U, l_A
# (the order of `school_influence`)

def as_scored_values(symbols: np.ndarray, group: np.ndarray, estimate: dict) -> tuple[np.ndarray, np.ndarray]:
    """For each pattern (units of its group scored in use at month 0) and round j = 0..K: the
    probability that the unit is scored in use at j had it been visited, given everything seen of
    it (its scores, the rounds it missed, the round it left): e_U P(U_j | pattern) + e_A P(A_j |
    pattern), the posterior from forward-backward; 1 or 0 where it was scored. Returns (values
    (P x K+1), gradient (P x K+1 x (K+1) + 4): d value / d logit parameter, the pattern's own group's
    K hazards and p, then the shared e_U, e_A, l_U, l_A, by central differences)."""
    k = symbols.shape[1] - 1
    slots = k + 1 + SHARED
    theta_own = np.concatenate([_logit(estimate["q"]), _logit(estimate["p"])[:, None]], axis=1)    # (G, K+1)
    theta_shared = np.concatenate([_logit(estimate["e"]), _logit(estimate["leave"])])              # (4,)
    own_sets = np.repeat(theta_own[None], 2 * slots + 1, axis=0)
    shared_sets = np.repeat(theta_shared[None], 2 * slots + 1, axis=0)
    for i in range(slots):
        for sign, row in ((1, 2 * i), (-1, 2 * i + 1)):
            if i <= k:
                own_sets[row, :, i] += sign * STEP
            else:
                shared_sets[row, i - k - 1] += sign * STEP
    # the last set is the estimate itself (unclipped: the logit round trip moves nothing else)
    own_sets[-1], shared_sets[-1] = theta_own, theta_shared
    q, p = _expit(own_sets[:, :, :k]), _expit(own_sets[:, :, k])
    e, leave = _expit(shared_sets[:, :2]), _expit(shared_sets[:, 2:])
    q[-1], p[-1], e[-1], leave[-1] = estimate["q"], estimate["p"], estimate["e"], estimate["leave"]
    posterior = e_step(symbols, group, np.ones((2 * slots + 1, len(group))), q, p, e, leave)["in_use"]
    in_use = np.stack(posterior, axis=-1)                                   # (sets, P, K+1)
    values = e[:, None, None, 0] * in_use + e[:, None, None, 1] * (1 - in_use)
    scored = np.isin(symbols, (IN_USE, NOT_IN_USE))
    values = np.where(scored[None], (symbols == IN_USE)[None].astype(float), values)
    gradient = np.stack([(values[2 * i] - values[2 * i + 1]) / (2 * STEP) for i in range(slots)], axis=-1)
    return values[-1], gradient
