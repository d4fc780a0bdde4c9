"""Decay and persistence: `half_life` (read from the retention curve) and `persistence` (each
school at a common round, shrunk toward its programme-and-district mean, with the probability that
its retention is low).

Both read the counts behind the `retention` indicator (`indicators.retention_counts`: of the
teacher-practices in use at month 0, those observed at a round and those retained there, from the
analysis model's `person_period`), aggregated by DuckDB per group, school and round; the models
below are fitted on those sufficient statistics, never on one row per teacher-practice.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from sustain.config import Config

from sustain.db import execute

from .base import (TOO_FEW, group_columns, group_ids, order_rows, query, school_hierarchy, schools_of, select_list, suppress,
                   suppress_by_school)
from .filters import BY_COLUMNS, Filters
from . import latent, rollups
from .indicators import retention_counts, retention_round_totals
from .stats import MIN_SCHOOLS_INTERVAL, percentile_interval, replicate_totals, school_bootstrap_weights

HALF = 0.5
HALF_LIFE_BY = [c for c in BY_COLUMNS if c != "months"]
# a model with an intercept and a slope needs two rounds after month 0
MIN_ROUNDS_DECAY = 2

DECAY_MODEL = ("decay_per_month is a model, not a reading of the curve: the slope lambda of a binomial "
               "GLM with log link, retention(t) = exp(a - lambda t), fitted to each school's counts at the "
               "rounds after month 0 (intercept a free, errors clustered by school)")


# -- half-life ----------------------------------------------------------------------------------

def read_half_life(months, curves) -> tuple[np.ndarray, np.ndarray]:
    """The time at which each retention curve first falls to one half.

    `months`: the K rounds after month 0, ascending; `curves`: (B x K) retention at those rounds
    (NaN: the round is missing from that curve). Every curve starts at 1 at month 0. The half-life
    is read between the last round above 0.5 (month 0 included) and the first round at or below
    it, log-linearly: t = t1 + (t2 - t1) * ln(r1 / 0.5) / ln(r1 / r2); when r2 = 0 the log is
    undefined and the reading is linear. Returns (half_life, reached): where no round is at or
    below 0.5, half_life is NaN and reached False.
    """
    months = np.asarray(months, dtype="float64")
    curves = np.atleast_2d(np.asarray(curves, dtype="float64"))
    rows = curves.shape[0]
    times = np.concatenate([np.zeros((rows, 1)), np.broadcast_to(months, curves.shape)], axis=1)
    values = np.concatenate([np.ones((rows, 1)), curves], axis=1)
    valid = ~np.isnan(values)
    below = valid & (values <= HALF)
    reached = below.any(axis=1)
    second = np.argmax(below, axis=1)
    # the last valid round before the first one at or below one half (month 0 is always valid)
    positions = np.where(valid, np.arange(values.shape[1]), -1)
    last_valid = np.maximum.accumulate(positions, axis=1)
    first = last_valid[np.arange(rows), np.maximum(second - 1, 0)]
    t1, t2 = times[np.arange(rows), first], times[np.arange(rows), second]
    r1, r2 = values[np.arange(rows), first], values[np.arange(rows), second]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_linear = t1 + (t2 - t1) * np.log(r1 / HALF) / np.log(r1 / r2)
        linear = t1 + (t2 - t1) * (r1 - HALF) / (r1 - r2)
    half_life = np.where(r2 > 0, log_linear, linear)
    return np.where(reached, half_life, np.nan), reached


def fit_decay(months, retained, n, clusters=None) -> dict:
    """decay_per_month: the slope of retention(t) = exp(a - lambda t) over rounds t > 0.

    A binomial GLM with log link and an intercept (statsmodels), fitted by maximum likelihood to
    cells of (retained, n) at months t (a school's counts at a round): the intercept lets the
    curve start below 1 after month 0, so lambda is the rate of loss between the follow-up rounds,
    not the rate that also has to explain the first drop. With `clusters` (one school code per
    cell) and at least `MIN_SCHOOLS_INTERVAL` of them, standard errors are clustered by school.
    Returns {decay_per_month, se, intercept, note}; NaN with the reason when the model cannot be
    fitted (fewer than two rounds, or no convergence).
    """
    months = np.asarray(months, dtype="float64")
    retained = np.asarray(retained, dtype="float64")
    n = np.asarray(n, dtype="float64")
    empty = {"decay_per_month": np.nan, "se": np.nan, "intercept": np.nan}
    if len(np.unique(months)) < MIN_ROUNDS_DECAY:
        return empty | {"note": f"decay_per_month needs {MIN_ROUNDS_DECAY} rounds after month 0"}
    # here, and only these parts: statsmodels.api costs a CLI or server start about a second
    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM
    from statsmodels.tools.sm_exceptions import PerfectSeparationError

    endog = np.column_stack([retained, n - retained])
    exog = np.column_stack([np.ones_like(months), -months])
    family = families.Binomial(link=families.links.Log())
    options: dict = {"start_params": _log_linear_start(months, retained, n)}
    note = ""
    groups = pd.factorize(np.asarray(clusters))[0] if clusters is not None else None
    if groups is not None and groups.max() + 1 >= MIN_SCHOOLS_INTERVAL:
        options |= {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        intercept = rate = se = math.nan
        # IRLS first; when a step takes a fitted share to 1 (weights infinite), quasi-Newton
        for method in ("IRLS", "bfgs"):
            try:
                result = GLM(endog, exog, family=family).fit(method=method, maxiter=200, **options)
            except (ValueError, ZeroDivisionError, np.linalg.LinAlgError,
                    PerfectSeparationError):
                continue
            if np.all(np.isfinite(result.params)) and np.all(np.isfinite(result.bse)):
                intercept, rate = (float(v) for v in result.params)
                se = float(result.bse[1])
                break
    if not (math.isfinite(rate) and math.isfinite(intercept)):
        return empty | {"note": "decay_per_month cannot be fitted: the model did not converge"}
    return {"decay_per_month": rate, "se": se, "intercept": intercept, "note": note}


def _log_linear_start(months, retained, n) -> list[float]:
    """Start values (a, lambda) from a regression of the log of each round's pooled retention on
    t, weighted by the round's n (pooled first: one school's 0 of 2 would otherwise weigh as log 0)."""
    # summed per round with numpy (a pandas groupby per fit cost more than the fit's start)
    t, at = np.unique(np.asarray(months, dtype="float64"), return_inverse=True)
    k = np.bincount(at, weights=np.asarray(retained, dtype="float64"), minlength=len(t))
    total = np.bincount(at, weights=np.asarray(n, dtype="float64"), minlength=len(t))
    share = np.clip(k / np.clip(total, 1, None), 1e-3, 1.0)
    slope, intercept = np.polyfit(t, np.log(share), 1, w=np.sqrt(total))
    return [min(float(intercept), -1e-3), -float(slope)]


def half_life(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
              config: Config) -> pd.DataFrame:
    """Half-life: the time at which retention falls to one half, read from the retention curve.

    Definition. For each group, retention at a scheduled round t > 0 is the `retention`
    indicator's: of the teacher-practices in use at month 0, the share retained at t among those
    observed at t (pooled over the group's schools). The rounds used are those resting on at
    least `thresholds.min_group_n` distinct teachers (`rounds` counts them); `horizon_months` is
    the last of them. With retention 1 at month 0, `half_life_months` is read between the last
    round above 0.5 and the first round at or below it, log-linearly (linearly when retention
    there is 0; `read_half_life`). When retention stays above 0.5 through the horizon,
    `half_life_months` is NaN, `reached` is False and `note` says "not reached by month H".

    Interval (`ci_low`, `ci_high`): 95% school bootstrap (`stats.school_bootstrap_weights`,
    seeded): schools are resampled with replacement with their counts per round, each replicate's
    curve is read the same way, and the interval is the replicates' 2.5 and 97.5 percentiles
    (`stats.percentile_interval`). Replicates where one half is not reached by the horizon count
    as infinitely long: when they are more than 2.5% of the replicates `ci_high` is infinite
    (more than 97.5%: `ci_low` too), and `note` says so (JSON has no infinity: it prints null).
    Needs `MIN_SCHOOLS_INTERVAL` schools, else blank (note).

    `decay_per_month`: a model, marked as such: lambda of retention(t) = exp(a - lambda t), a
    binomial GLM with log link and a free intercept on the counts at the rounds used (`fit_decay`;
    the schools' cells and their pooled counts per round give the same likelihood in lambda, so
    it is fitted on the pooled ones). It summarises the speed of loss between follow-up
    rounds; it is not the curve's half-life (ln 2 / lambda differs from it when teachers differ
    in how fast they drop practices, and depends on the horizon).

    `n`: teacher-practice observations at the rounds used; `teachers`: distinct teachers the
    group rests on (every round); `suppressed`: fewer than `thresholds.min_group_n` teachers
    (`base.suppress`): values blank.
    """
    return _half_life(con, filters, by, config, interval=True)


def half_life_readings(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                       config: Config) -> pd.DataFrame:
    """`half_life`'s readings without its interval and decay model (for the Overview's median):
    the same rows and the same `half_life_months`, `reached`, `horizon_months`, `rounds`, `n`,
    `teachers` and `suppressed`; `ci_low`, `ci_high` and `decay_per_month` are blank and `note`
    holds only what the reading says. It skips the school bootstrap, the model's replicate curves
    and the GLM: the curve is the latent model's estimate, fitted on its pattern counts summed over
    schools in DuckDB (the estimate does not depend on the schools, only its interval does)."""
    return _half_life(con, filters, by, config, interval=False)


def _half_life(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str], config: Config,
               interval: bool) -> pd.DataFrame:
    by = group_columns(by, HALF_LIFE_BY)
    minimum = config.thresholds.min_group_n
    # the counts per group and round, summed over schools in DuckDB; each school's counts only
    # when a group's interval needs them (no model curve, or too few schools to tell from the
    # rounds' counts): a national view has tens of thousands of schools
    rounds = _round_schools(con, filters, by, config) if interval else _round_sums(con, filters, by, config)
    rounds = rounds[rounds["months"] > 0]
    school_cells: list[pd.DataFrame] = []

    def schools_of(key: tuple) -> pd.DataFrame:
        if not school_cells:
            cells = retention_counts(con, filters, [*by, "school_id", "months"], config)
            school_cells.append(cells[cells["months"] > 0])
        cells = school_cells[0]
        for column, value in zip(by, key):
            cells = cells[cells[column].isna()] if pd.isna(value) else cells[cells[column] == value]
        return cells

    # distinct teachers per group over all rounds (not summable from the school-round cells)
    totals = retention_counts(con, filters, by, config)
    columns = [*by, "half_life_months", "ci_low", "ci_high", "reached", "decay_per_month", "horizon_months",
               "rounds", "n", "teachers", "suppressed", "note"]
    if rounds.empty:
        return pd.DataFrame(columns=columns)
    if interval:
        curves = latent.group_curves(latent.latent_survival(con, filters, by, config), by)
        groups = rounds.groupby(by, sort=True, dropna=False) if by else [((), rounds)]
        rows = []
        for key, group in groups:
            key = key if isinstance(key, tuple) else (key,)
            rows.append(dict(zip(by, key)) | _half_life_row(group, minimum, curves.get(key), config,
                                                            lambda key=key: schools_of(key)))
        frame = pd.DataFrame(rows)
    else:
        frame = _readings(rounds, by, minimum, _model_estimates(con, filters, by, config), config)
    if by:
        frame = frame.merge(totals[[*by, "teachers"]], on=by, how="left")
    else:
        frame["teachers"] = int(totals["teachers"].sum()) if len(totals) else 0
    frame["teachers"] = frame["teachers"].fillna(0).astype("int64")
    frame["n"] = frame["n"].astype("int64")
    frame["reached"] = frame["reached"].astype("boolean")
    frame = suppress(order_rows(frame, by), by,
                     ["half_life_months", "ci_low", "ci_high", "decay_per_month", "horizon_months", "rounds", "n"],
                     minimum, n_column="teachers", hierarchy=school_hierarchy(con))
    frame.loc[frame["suppressed"], "reached"] = pd.NA
    frame.loc[frame["suppressed"], "note"] = TOO_FEW
    return frame[columns]


def _half_life_row(per_round: pd.DataFrame, minimum: int, model_curve=None, config: Config | None = None,
                   schools_of=None) -> dict:
    """half_life's values for one group from its counts per round (`_round_schools`: months,
    retained, n, teachers and the bounds of its schools); `schools_of()` gives its counts per school and round
    (read only when the interval needs them). With `model_curve` (the latent model's (estimate,
    replicates) at 0 and every round, `latent.group_curves`), the curve and its interval are the
    model's, read at the same usable rounds."""
    # one row per round, as arrays (pandas indexing per group cost more than the reading)
    per_round = per_round.sort_values("months")
    # a teacher has one placed visit per round, so the schools' teachers add up to the round's
    kept = per_round["teachers"].to_numpy() >= minimum
    usable = per_round["months"].to_numpy()[kept]
    retained, observed = per_round["retained"].to_numpy()[kept], per_round["n"].to_numpy()[kept]
    row = {"rounds": len(usable), "n": int(observed.sum()), "half_life_months": np.nan,
           "ci_low": np.nan, "ci_high": np.nan, "reached": None, "decay_per_month": np.nan, "horizon_months": np.nan}
    if not len(usable):
        return row | {"note": f"no round after month 0 rests on {minimum} or more teachers"}
    horizon = int(usable.max())
    curve = retained / observed
    if model_curve is not None:
        at = np.searchsorted(np.array(sorted({0, *config.schedule.months})), usable)
        curve = model_curve[0][at]
    value, reached = read_half_life(usable, curve)
    notes = [] if reached[0] else [f"not reached by month {horizon}"]
    row |= {"half_life_months": float(value[0]), "reached": bool(reached[0]), "horizon_months": horizon}

    # the schools of the usable rounds (`_round_schools`): enough when one round has enough for
    # certain, too few when all of them together have too few, or all are one school; else
    # counted from the schools' cells
    used = None
    first, last = per_round["first_school"][kept], per_round["last_school"][kept]
    if per_round["schools_low"].to_numpy()[kept].max() >= MIN_SCHOOLS_INTERVAL:
        enough = True
    elif per_round["schools_high"].to_numpy()[kept].sum() < MIN_SCHOOLS_INTERVAL:
        enough = False
    elif first.notna().all() and first.min() == last.max():
        enough = False
    else:
        cells = schools_of()
        used = cells[cells["months"].isin(usable)]
        enough = used["school_id"].nunique() >= MIN_SCHOOLS_INTERVAL
    # school bootstrap: replicate curves from resampled schools' counts per round (the model's
    # replicate curves instead when it gives the curve: then the counts' replicates are not drawn)
    if enough:
        if model_curve is not None:
            replicates = model_curve[1][:, at]
        else:
            if used is None:
                cells = schools_of()
                used = cells[cells["months"].isin(usable)]
            school, schools = pd.factorize(used["school_id"], sort=True)  # sorted: the same replicates every run
            column = np.searchsorted(usable, used["months"].to_numpy())
            retained = np.zeros((len(schools), len(usable)))
            observed = np.zeros((len(schools), len(usable)))
            np.add.at(retained, (school, column), used["retained"].to_numpy(float))
            np.add.at(observed, (school, column), used["n"].to_numpy(float))
            weights = school_bootstrap_weights(len(schools))
            with np.errstate(divide="ignore", invalid="ignore"):
                replicates = replicate_totals(weights, retained) / replicate_totals(weights, observed)
        values, hit = read_half_life(usable, replicates)
        row["ci_low"], row["ci_high"] = _interval_with_not_reached(values, hit)
        if math.isinf(row["ci_high"]):
            notes.append(f"interval's upper end not reached by month {horizon}")
    else:
        notes.append(f"no interval: fewer than {MIN_SCHOOLS_INTERVAL} schools")

    # the model's only covariate is the round, so its likelihood (and lambda) rests on the rounds'
    # pooled counts: fitted on those, not on every school's cell (its clustered se is not shown)
    fit = fit_decay(usable, retained, observed)
    row["decay_per_month"] = fit["decay_per_month"]
    if fit["note"]:
        notes.append(fit["note"])
    return row | {"note": "; ".join(notes)}


def _readings(rounds: pd.DataFrame, by: list[str], minimum: int, curves: dict, config: Config) -> pd.DataFrame:
    """`_half_life_row`'s reading (no interval, no decay model) for every group at once: its rows
    (by-columns, half_life_months, reached, horizon_months, rounds, n, note; ci_low, ci_high and
    decay_per_month blank) in the order of `rounds.groupby(by)`. Each group's rounds become a row
    of a (groups x rounds) matrix, NaN where a round is not usable: `read_half_life` skips those,
    so each row reads as the group's usable rounds alone would."""
    if by:
        grouped = rounds.groupby(by, sort=True, dropna=False)
        group = grouped.ngroup().to_numpy()
        keys = grouped.size().index.to_frame(index=False)
        key_tuples = list(keys.itertuples(index=False, name=None))
    else:
        group = np.zeros(len(rounds), dtype="int64")
        keys, key_tuples = pd.DataFrame(index=[0]), [()]
    months, column = np.unique(rounds["months"].to_numpy(), return_inverse=True)
    shape = (len(key_tuples), len(months))
    present = np.zeros(shape, dtype=bool)
    present[group, column] = True
    totals = {}
    for name in ("retained", "n", "teachers"):
        totals[name] = np.zeros(shape, dtype="int64")
        np.add.at(totals[name], (group, column), rounds[name].to_numpy(dtype="int64"))
    # a teacher has one placed visit per round, so the schools' teachers add up to the round's
    usable = present & (totals["teachers"] >= minimum)
    with np.errstate(divide="ignore", invalid="ignore"):
        curve = totals["retained"] / totals["n"]
    # the model's curve where it has the group (read at the same rounds)
    at = np.searchsorted(np.array(sorted({0, *config.schedule.months})), months)
    for g, key in enumerate(key_tuples):
        if key in curves:
            curve[g] = curves[key][0][at]
    value, reached = read_half_life(months, np.where(usable, curve, np.nan))
    used = usable.any(axis=1)
    horizon = np.where(usable, months[None, :], -1).max(axis=1).astype("int64")
    frame = keys.assign(
        half_life_months=value, ci_low=np.nan, ci_high=np.nan,
        reached=pd.Series(np.where(used, reached, None), dtype=object),
        decay_per_month=np.nan,
        horizon_months=pd.Series(np.where(used, horizon, np.nan)) if not used.all() else horizon,
        rounds=usable.sum(axis=1), n=np.where(usable, totals["n"], 0).sum(axis=1),
        note=[f"no round after month 0 rests on {minimum} or more teachers" if not u else
              "" if r else f"not reached by month {h}" for u, r, h in zip(used, reached, horizon)])
    return frame[[*by, "rounds", "n", "half_life_months", "ci_low", "ci_high", "reached", "decay_per_month",
                  "horizon_months", "note"]]


def _round_schools(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                   config: Config) -> pd.DataFrame:
    """`_round_sums` per group and round (months, retained, n, teachers) with what `_half_life_row`
    needs to tell whether the usable rounds rest on `MIN_SCHOOLS_INTERVAL` schools: `schools_low`
    and `schools_high`, bounds of the round's distinct schools, and `first_school`, `last_school`
    (the least and greatest school_id; blank when not read). Counting every group's distinct
    schools per round hashes one entry per group, round and school (most of a national view's
    cost, and more than linear in schools); the bounds need no such count: the high one is the
    round's school cells (a school has one or more), the low one the distinct schools among a
    fixed sixteenth of the schools (by a hash of school_id: exact for those), and a group is
    decided by the bounds (`_half_life_row`) unless it has between 5 schools' cells and a
    sixteenth's 5 schools (then its schools are counted from the cells). The rows' path (no
    rollup for the view) counts them exactly: both bounds are `retention_round_totals`' schools."""
    keys = [*by, "months"]
    grain = rollups.rollup_grain(keys, filters, hindrance_cells=True)
    if grain is None:
        rounds = retention_round_totals(con, filters, by, config)
        schools = rounds.pop("schools")
        return rounds.assign(schools_low=schools, schools_high=schools, first_school=None, last_school=None)
    cells, params = rollups.school_cells_sql("retention", grain, keys, filters, summed=False)
    # two reads merged here: the sums and bounds per round, the sampled schools per round
    sums = query(con, config, f"""
cells as (
    {cells}
),
round_sums as (
    select {select_list(keys)}
           sum(school_retained)::bigint as retained, sum(school_n)::bigint as n,
           sum(school_teachers)::bigint as teachers, count(school_id) as schools_high,
           min(school_id) as first_school, max(school_id) as last_school
    from cells
    group by all
)
select * from round_sums
""", params)
    sampled = query(con, config, f"""
cells as (
    {cells}
),
sampled_schools as (
    select {select_list(keys)}school_id
    from cells
    where hash(school_id) % $school_sample::ubigint = 0  -- typed: an untyped parameter slows the filter 5x
    group by all
),
sampled as (
    select {select_list(keys)}count(*) as schools_low
    from sampled_schools
    group by all
)
select * from sampled
""", params | {"school_sample": SCHOOL_SAMPLE})
    rounds = sums.merge(sampled, on=keys, how="left")
    rounds["schools_low"] = rounds["schools_low"].fillna(0).astype("int64")
    return rounds[[*keys, "retained", "n", "teachers", "schools_low", "schools_high", "first_school", "last_school"]]


# `_round_schools`: one school in this many (by a hash of its id) is counted for the low bound
SCHOOL_SAMPLE = 16


def _round_sums(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str], config: Config) -> pd.DataFrame:
    """`retention_round_totals` without `schools`: summed from the same rollup cells when the view
    allows (counting the distinct schools is most of that query's cost), else that query."""
    keys = [*by, "months"]
    grain = rollups.rollup_grain(keys, filters, hindrance_cells=True)
    if grain is None:
        return retention_round_totals(con, filters, by, config)
    cells, params = rollups.school_cells_sql("retention", grain, keys, filters, summed=False)
    return query(con, config, f"""
cells as (
    {cells}
),
round_sums as (
    select {select_list(keys)}
           sum(school_retained)::bigint as retained, sum(school_n)::bigint as n,
           sum(school_teachers)::bigint as teachers
    from cells
    group by all
)
select * from round_sums
""", params)


def _model_estimates(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str], config: Config) -> dict:
    """{group key tuple: (the latent model's survival estimate at 0 and every round, None)}: the
    curves of `latent.group_curves` without their replicates, from the pattern counts summed over
    schools (`latent.fit_view` sums them per group and pattern anyway: the same cells, the same fit)."""
    dims = filters.replace(months_min=None, months_max=None)
    table = rollups.pattern_table(by, dims)
    if table is not None:
        # rollups.pattern_cells_sql's cells and filter, summed without the school (a tenth of its cost)
        where, params = dims.where("practice", alias="r", hindrance_rows=True, keyed=True)
        counts = execute(con, f"""
select {select_list(by, "r")}r.pattern, sum(r.units)::bigint as units
from {table} r
where {where}
group by all
order by all  -- the cells as fit_view's grouping orders them
""", params).df()
        summed = True
    else:
        counts, summed = latent.pattern_counts(con, filters, by, config), False
    if counts.empty:
        return {}
    rounds = len({0, *config.schedule.months}) - 1
    groups, estimate, _ = latent.fit_view(counts, by, rounds, replicates=0, summed=summed)
    keys = [tuple(row) for row in groups[list(by)].itertuples(index=False)] if by else [()]
    return {key: (estimate["survival"][g], None) for g, key in enumerate(keys)}


def _interval_with_not_reached(values: np.ndarray, reached: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile interval of bootstrap half-lives where a replicate that does not reach one half
    counts as infinitely long: such replicates are set to the longest reached one for the
    percentiles, and a bound falls on "not reached" (inf) when more than alpha/2 (upper) or
    1 - alpha/2 (lower) of the replicates do not reach it."""
    share_not = 1.0 - reached.mean()
    if reached.any():
        capped = np.where(reached, values, values[reached].max())
        low, high = (float(v) for v in percentile_interval(capped, alpha))
    else:
        low = high = math.inf
    if share_not > alpha / 2:
        high = math.inf
    if share_not > 1 - alpha / 2:
        low = math.inf
    return low, high


# -- persistence --------------------------------------------------------------------------------

# schools at which a programme-and-district prior is fitted; below it, the programme's prior
MIN_PRIOR_SCHOOLS = 5
# bounds of the prior's precision a + b (a prior worth 0.1 to 10,000 teacher-practices)
PRECISION_BOUNDS = (0.1, 1e4)
GEOGRAPHY = ["province", "district", "cluster", "school_id"]
PERSISTENCE_BY = [c for c in BY_COLUMNS if c != "months"]
DECAYING, PERSISTING, UNCERTAIN = "decaying", "persisting", "uncertain"
CLASSES = [DECAYING, UNCERTAIN, PERSISTING, TOO_FEW]
# how finely p_at_risk and p_below_programme are shown for a school resting on too few teachers
SUPPRESSED_PROBABILITY_DIGITS = 1

PERSISTENCE_COLUMNS = ["school_id", "school_name", "programme", "district", "round", "index", "index_shrunk",
                       "p_at_risk", "p_below_programme", "programme_retention", "persistence_class", "retained", "n",
                       "teachers", "suppressed"]


def common_round(counts: pd.DataFrame, filters: Filters) -> int | None:
    """The round persistence compares schools at: with `--where months=R` (months_min =
    months_max), R; otherwise the latest round after month 0, within months_min..months_max,
    at which every programme with a follow-up observation in the view has one. `counts`: retention
    counts by (programme, months). None when there is no such round."""
    followed = counts[(counts["months"] > 0) & (counts["n"] > 0)]
    if filters.months_min is not None:
        followed = followed[followed["months"] >= filters.months_min]
    if filters.months_max is not None:
        followed = followed[followed["months"] <= filters.months_max]
    if filters.months_min is not None and filters.months_min == filters.months_max:
        return int(filters.months_min) if filters.months_min > 0 else None
    # (a few rows: sets of plain numbers, not a groupby; a missing programme is no group, as in one)
    named = followed["programme"].notna().to_numpy()
    programmes, months = followed["programme"].to_numpy(dtype=object)[named], followed["months"].to_numpy()[named]
    rounds = [set(months[programmes == p].tolist()) for p in dict.fromkeys(programmes.tolist())]
    common = set.intersection(*rounds) if rounds else set()
    return int(max(common)) if common else None


def fit_beta_prior(retained, n, weights=None) -> tuple[float, float]:
    """Empirical-Bayes Beta(a, b) prior of a school's retention from schools' (retained, n): the
    beta-binomial marginal likelihood sum_s w_s [B(k_s + a, n_s - k_s + b) - B(a, b)] (log beta
    functions) maximised over mean a / (a + b) (logit) and precision a + b (log, within
    `PRECISION_BOUNDS`); `weights` count schools sharing a (k, n) pattern. One group of
    `fit_beta_priors`."""
    k = np.asarray(retained, dtype="float64")
    w = np.ones_like(k) if weights is None else np.asarray(weights, dtype="float64")
    a, b = fit_beta_priors(k, np.asarray(n, dtype="float64"), w, np.array([0, len(k)]))
    return float(a[0]), float(b[0])


# scipy's Nelder-Mead (scipy.optimize.minimize, method="Nelder-Mead", not adaptive): its
# coefficients, first simplex and stopping rule, which `fit_beta_priors` follows step for step
NM_REFLECT, NM_EXPAND, NM_CONTRACT, NM_SHRINK = 1.0, 2.0, 0.5, 0.5
NM_NONZERO_STEP, NM_ZERO_STEP = 0.05, 0.00025
NM_XATOL, NM_FATOL, NM_MAXITER = 1e-6, 1e-9, 2000


def fit_beta_priors(k: np.ndarray, n: np.ndarray, w: np.ndarray, bounds: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """`fit_beta_prior` for several groups at once: group g's patterns are rows bounds[g] to
    bounds[g + 1] of (k, n, w). Returns a and b per group.

    Each group's fit is scipy's Nelder-Mead (xatol 1e-6, fatol 1e-9, 2,000 iterations) from the
    same start, run for every group in lockstep: each step's trial points of all groups are
    evaluated in one pass over their patterns, and every operation on a group's simplex is
    scipy's, in its order, on the same values; the likelihood of a point is computed as one
    group's alone would be (its terms elementwise, then summed over the group's patterns in one
    np.sum), so each group takes the same steps to the same optimum, bit for bit, as a
    one-group `optimize.minimize` would (tests/test_decay.py). The loop is per step, not per group:
    a national view has a prior per programme and district."""
    groups = len(bounds) - 1
    sizes = np.diff(bounds)
    not_retained = n - k
    low, high = (math.log(v) for v in PRECISION_BOUNDS)
    betaln, expit = special.betaln, special.expit

    def parameters(thetas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean, precision) of each point (rows of `thetas`: logit mean, log precision), bounded;
        the same operations element by element as on one point (math.exp kept, as scipy's run of
        one group computes it)."""
        thetas = np.asarray(thetas, dtype="float64").reshape(-1, 2)
        mean = expit(np.minimum(np.maximum(thetas[:, 0], -12.0), 12.0))
        precision = np.array([math.exp(v) for v in np.minimum(np.maximum(thetas[:, 1], low), high).tolist()])
        return mean, precision

    def negative_log_likelihood(which: np.ndarray, thetas: np.ndarray) -> np.ndarray:
        """The objective of group which[i] at thetas[i], for every i at once."""
        mean, precision = parameters(thetas)
        a, b = mean * precision, (1 - mean) * precision
        ab = betaln(a, b)
        size = sizes[which]
        ends = np.cumsum(size)
        rows = np.arange(ends[-1]) - np.repeat(ends - size, size) + np.repeat(bounds[which], size)
        terms = w[rows] * (betaln(k[rows] + np.repeat(a, size), not_retained[rows] + np.repeat(b, size))
                           - np.repeat(ab, size))
        return np.array([-float(np.sum(terms[end - m:end])) for end, m in zip(ends, size)])

    # the first simplex: the start, then each coordinate moved by 5%
    weighted_k = [np.sum(w[s:e] * k[s:e]) for s, e in zip(bounds[:-1], bounds[1:])]
    weighted_n = [np.sum(w[s:e] * n[s:e]) for s, e in zip(bounds[:-1], bounds[1:])]
    pooled = np.array([float(np.clip(a / b, 1e-4, 1 - 1e-4)) for a, b in zip(weighted_k, weighted_n)])
    x0 = np.column_stack([special.logit(pooled), np.full(groups, math.log(10.0))])
    simplex = np.repeat(x0[:, None, :], 3, axis=1)
    for j in range(2):
        simplex[:, j + 1, j] = np.where(x0[:, j] != 0, (1 + NM_NONZERO_STEP) * x0[:, j], NM_ZERO_STEP)
    everyone = np.arange(groups)
    values = np.stack([negative_log_likelihood(everyone, simplex[:, j]) for j in range(3)], axis=1)

    def sort(which):
        order = np.argsort(values[which], axis=1)
        simplex[which] = np.take_along_axis(simplex[which], order[:, :, None], axis=1)
        values[which] = np.take_along_axis(values[which], order, axis=1)

    sort(everyone)
    iterations = np.ones(groups, dtype="int64")
    running = np.ones(groups, dtype=bool)
    while True:
        running &= iterations < NM_MAXITER
        g = np.flatnonzero(running)
        if not len(g):
            break
        converged = ((np.abs(simplex[g, 1:] - simplex[g, :1]).reshape(len(g), -1).max(axis=1) <= NM_XATOL)
                     & (np.abs(values[g, :1] - values[g, 1:]).max(axis=1) <= NM_FATOL))
        running[g[converged]] = False
        g = g[~converged]
        if not len(g):
            break
        worst = simplex[g, -1]
        centre = np.add.reduce(simplex[g, :-1], 1) / 2
        reflected = (1 + NM_REFLECT) * centre - NM_REFLECT * worst
        f_reflected = negative_log_likelihood(g, reflected)
        best, second, last = values[g, 0], values[g, -2], values[g, -1]
        expand = f_reflected < best
        accept = ~expand & (f_reflected < second)
        outside = ~expand & ~accept & (f_reflected < last)
        inside = ~expand & ~accept & ~outside
        # the second trial of each group that needs one: expansion, or a contraction
        trial = np.where(expand[:, None], (1 + NM_REFLECT * NM_EXPAND) * centre - NM_REFLECT * NM_EXPAND * worst,
                         np.where(outside[:, None], (1 + NM_CONTRACT * NM_REFLECT) * centre
                                  - NM_CONTRACT * NM_REFLECT * worst,
                                  (1 - NM_CONTRACT) * centre + NM_CONTRACT * worst))
        second_trial = ~accept
        f_trial = np.full(len(g), np.nan)
        if second_trial.any():
            f_trial[second_trial] = negative_log_likelihood(g[second_trial], trial[second_trial])
        take_trial = (expand & (f_trial < f_reflected)) | (outside & (f_trial <= f_reflected)) | \
            (inside & (f_trial < last))
        take_reflected = accept | (expand & ~(f_trial < f_reflected))
        shrink = (outside & ~(f_trial <= f_reflected)) | (inside & ~(f_trial < last))
        for mask, point, value in ((take_trial, trial, f_trial), (take_reflected, reflected, f_reflected)):
            simplex[g[mask], -1] = point[mask]
            values[g[mask], -1] = value[mask]
        if shrink.any():
            s = g[shrink]
            for j in (1, 2):
                simplex[s, j] = simplex[s, 0] + NM_SHRINK * (simplex[s, j] - simplex[s, 0])
                values[s, j] = negative_log_likelihood(s, simplex[s, j])
        iterations[g] += 1
        sort(g)
    mean, precision = parameters(simplex[:, 0])
    return mean * precision, (1 - mean) * precision


def persistence(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                config: Config) -> pd.DataFrame:
    """Per school and programme, retention at a common round, shrunk toward the school's
    programme-and-district mean, with the probability that it is low.

    Round (`round`): `common_round`: `--where months=R` fixes it; by default the latest round at
    which every programme in the view has follow-up observations, so every school is compared
    at the same time since its programme ended (a school seen only at month 3 is not set beside
    one seen at month 24).

    `index` = retained / n at that round: of the school's teacher-practices in use at month 0
    (of that programme), those observed at the round (`n`) and those still retained (`retained`),
    as `retention` counts them. `teachers`: distinct teachers observed at the round.

    Shrinkage (empirical Bayes, beta-binomial): within each programme and district (and any
    other --by column), a prior Beta(a, b) is fitted across its schools by maximum marginal
    likelihood (`fit_beta_prior`, on (retained, n) patterns); a programme-and-district with fewer
    than `MIN_PRIOR_SCHOOLS` schools observed at the round uses the prior fitted across the
    programme's schools (all districts); a programme with fewer still uses Beta(1, 1). The school's
    posterior is Beta(a + retained, b + n - retained): `index_shrunk` its mean,
    `p_at_risk` = P(retention < `thresholds.at_risk_retention`) and `p_below_programme` =
    P(retention < `programme_retention`), the programme's retention at the round over every
    school in the view (pooled retained / n, per any non-geographic --by column too) — scipy's
    beta distribution function.

    `persistence_class` (the Districts page's and the planner's): with e = `thresholds.class_evidence`,
    "decaying" when p_below_programme >= e (evidence that the school keeps fewer practices than
    its programme at that round), "persisting" when p_below_programme <= 1 - e, "uncertain"
    otherwise, "too few to show" when the school was not observed at the round (n = 0: no
    probability is given, the prior alone would speak).

    Suppression: a school resting on fewer than `thresholds.min_group_n` teachers at the round (or
    suppressed with one, `base.suppress`) has `index`, `index_shrunk`, `retained`, `n` and
    `teachers` blank. Its probabilities and class are still given, since they weigh its few
    observations against its district's schools and say how sure they are, but rounded to
    `SUPPRESSED_PROBABILITY_DIGITS` decimals (the class is read from the rounded value) so that
    its counts cannot be solved back from them.
    """
    frame = school_persistence(con, filters, by, config)
    names = schools_of(con, frame["school_id"].dropna().unique(), ["school_id", "school_name"])
    frame["school_name"] = frame["school_id"].map(names.set_index("school_id")["school_name"])
    return frame


def school_persistence(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                       config: Config) -> pd.DataFrame:
    """`persistence` without the schools' names (`school_name` blank): what the Overview's share
    of schools decaying reads (`by_school`), without reading every school's name."""
    chosen = group_columns(by, PERSISTENCE_BY)
    keys = ["school_id", "programme", "district", *[c for c in chosen if c not in ("school_id", "programme", "district")]]
    dims = filters.replace(months_min=None, months_max=None)
    # the round from the programmes' counts; then the schools' counts at month 0 and at that round
    # only (not at every round: fewer rows to read and to number)
    chosen_round = common_round(retention_counts(con, dims, ["programme", "months"], config), filters)
    columns = [*[c for c in chosen if c not in PERSISTENCE_COLUMNS], *PERSISTENCE_COLUMNS]
    month0 = retention_counts(con, dims.replace(months_min=0, months_max=0), [*keys, "months"], config)
    # one row per key at month 0 or at the round (a unit seen at the round lies where it was
    # then, maybe not at its month-0 school), with the round's counts (0 where it has none);
    # the rows are ordered by key below
    if chosen_round is None or month0.empty:
        frame = month0[keys].assign(round=pd.NA, retained=0, n=0, teachers=0)
    else:
        later = retention_counts(con, dims.replace(months_min=chosen_round, months_max=chosen_round),
                                 [*keys, "months"], config)
        rows = pd.concat([month0, later], ignore_index=True) if len(later) else month0
        key = group_ids(rows, keys)
        first = ~pd.Series(key).duplicated().to_numpy()
        frame = rows.loc[first, keys].reset_index(drop=True).assign(round=chosen_round)
        position = np.full(key.max() + 1, -1)
        position[key[first]] = np.arange(len(frame))
        seen = (rows["months"] == chosen_round).to_numpy()
        for column in ("retained", "n", "teachers"):
            counts = np.zeros(len(frame), dtype="int64")
            counts[position[key[seen]]] = rows.loc[seen, column].to_numpy(dtype="int64")
            frame[column] = counts
    frame[["retained", "n", "teachers"]] = frame[["retained", "n", "teachers"]].astype("int64")
    frame = _shrink(frame, keys, config)
    # on integer codes of the keys and of the schools' parents (`suppress_by_school`): the same groups
    frame = suppress_by_school(con, order_rows(frame, keys), keys, ["index", "index_shrunk", "retained", "n", "teachers"],
                               config.thresholds.min_group_n, n_column="teachers")
    hidden = frame["suppressed"]
    for column in ("p_at_risk", "p_below_programme"):
        frame.loc[hidden, column] = frame.loc[hidden, column].round(SUPPRESSED_PROBABILITY_DIGITS)
    frame["persistence_class"] = persistence_classes(frame["p_below_programme"], config)
    frame["round"] = frame["round"].astype("Int64")
    frame["school_name"] = pd.Series(np.full(len(frame), np.nan, dtype=object), index=frame.index)
    return frame[columns]


def by_school(table: pd.DataFrame) -> pd.DataFrame:
    """One `persistence` row per school: where a school has teachers of several programmes, the
    row with the strongest evidence of decay (highest p_below_programme; rows without one last):
    a school is as much at risk as its most at-risk programme. Indexed by school_id."""
    ordered = table.sort_values(["p_below_programme", "p_at_risk", "programme"], ascending=[False, False, True],
                                na_position="last", kind="stable")
    return ordered.drop_duplicates("school_id").set_index("school_id")


def persistence_classes(p_below, config: Config) -> list[str]:
    """The class of each school from its p_below_programme (see `persistence`)."""
    # compared at 12 decimals, so that a probability shown as 0.2 is "at most 1 - 0.8"
    evidence, low = round(config.thresholds.class_evidence, 12), round(1 - config.thresholds.class_evidence, 12)
    p = pd.to_numeric(pd.Series(p_below, dtype="object"), errors="coerce").to_numpy(dtype="float64")
    classes = np.where(np.isnan(p), TOO_FEW, np.where(p >= evidence, DECAYING,
                                                      np.where(p <= low, PERSISTING, UNCERTAIN))).astype(object)
    # the rounding to 12 decimals decides only within a hair of a threshold: those, one by one
    for i in np.flatnonzero(~np.isnan(p) & ((np.abs(p - evidence) < 1e-9) | (np.abs(p - low) < 1e-9))):
        value = round(float(p[i]), 12)
        classes[i] = DECAYING if value >= evidence else PERSISTING if value <= low else UNCERTAIN
    return classes.tolist()


def _shrink(frame: pd.DataFrame, keys: list[str], config: Config) -> pd.DataFrame:
    """index, index_shrunk, p_at_risk, p_below_programme and programme_retention (see
    `persistence`) for rows of (keys, retained, n). The groups (prior, fallback, reference) are
    integer codes per row, so every per-school step is an array operation."""
    frame = frame.copy()
    observed = frame["n"].to_numpy() > 0
    k, n = frame["retained"].to_numpy(float), frame["n"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["index"] = np.where(observed, k / n, np.nan)
    prior_keys = [c for c in keys if c != "school_id"]
    fallback_keys = [c for c in prior_keys if c != "district"]
    reference_keys = [c for c in keys if c not in GEOGRAPHY]
    a = np.full(len(frame), 1.0)
    b = np.full(len(frame), 1.0)
    if observed.any():
        # the district's prior where it has enough schools observed at the round, else the
        # programme's (fitted only for the programmes with such a district), else Beta(1, 1)
        local = group_ids(frame, prior_keys)
        local_a, local_b, local_schools = _priors(k, n, local, observed)
        use_local = local_schools[local] >= MIN_PRIOR_SCHOOLS
        fallback = group_ids(frame, fallback_keys)
        wanted = np.zeros(fallback.max() + 1, dtype=bool)
        wanted[fallback[observed & ~use_local]] = True
        backup_a, backup_b, backup_schools = _priors(k, n, fallback, observed & wanted[fallback])
        use_backup = ~use_local & (backup_schools[fallback] >= MIN_PRIOR_SCHOOLS)
        a = np.where(use_local, local_a[local], np.where(use_backup, backup_a[fallback], 1.0))
        b = np.where(use_local, local_b[local], np.where(use_backup, backup_b[fallback], 1.0))
    frame["index_shrunk"] = np.where(observed, (a + k) / (a + b + n), np.nan)
    frame["p_at_risk"] = _observed_cdf(config.thresholds.at_risk_retention, a + k, b + n - k, observed)
    # the programme's retention at the round: pooled over its schools observed there
    reference = group_ids(frame, reference_keys)
    size = reference.max() + 1 if len(reference) else 0
    pooled_k = np.bincount(reference[observed], weights=k[observed], minlength=size)
    pooled_n = np.bincount(reference[observed], weights=n[observed], minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = np.where(pooled_n > 0, pooled_k / pooled_n, np.nan)
    frame["programme_retention"] = pooled[reference] if len(reference) else np.zeros(0)
    frame["p_below_programme"] = _observed_cdf(frame["programme_retention"].to_numpy(dtype="float64"), a + k,
                                               b + n - k, observed)
    return frame


def _observed_cdf(x, a: np.ndarray, b: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The Beta(a, b) distribution function at x for the observed rows, NaN for the others (whose
    value would be the prior's alone: not computed)."""
    values = np.full(len(a), np.nan)
    if observed.any():
        values[observed] = stats.beta.cdf(np.broadcast_to(x, a.shape)[observed], a[observed], b[observed])
    return values


def _priors(k: np.ndarray, n: np.ndarray, group: np.ndarray, rows: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fitted Beta(a, b) and the number of schools per group (arrays indexed by `group`'s codes;
    NaN and 0 for a group without any of `rows`; NaN and its count for a group of fewer than
    MIN_PRIOR_SCHOOLS, which `_shrink` does not use), each fitted on the group's (retained, n)
    patterns among `rows`, in ascending (retained, n) order."""
    size = group.max() + 1 if len(group) else 0
    a, b, schools = np.full(size, np.nan), np.full(size, np.nan), np.zeros(size, dtype="int64")
    if not rows.any():
        return a, b, schools
    # the distinct (group, retained, n) rows in ascending order with their counts (what
    # np.unique(..., axis=0) gives, by a lexsort of the columns rather than a sort of row records)
    stacked = np.column_stack([group[rows], k[rows], n[rows]])
    stacked = stacked[np.lexsort(stacked.T[::-1])]
    new = np.flatnonzero(np.r_[True, (stacked[1:] != stacked[:-1]).any(axis=1)])
    patterns, weight = stacked[new], np.diff(np.r_[new, len(stacked)])
    starts = np.flatnonzero(np.r_[True, patterns[1:, 0] != patterns[:-1, 0]])
    ends = np.r_[starts[1:], len(patterns)]
    present = patterns[starts, 0].astype("int64")
    schools[present] = np.add.reduceat(weight, starts)
    # a group of fewer schools than a prior needs is not used (`_shrink`): its fit is skipped
    fitted = schools[present] >= MIN_PRIOR_SCHOOLS
    if fitted.any():
        keep = np.repeat(fitted, ends - starts)
        sizes = (ends - starts)[fitted]
        a[present[fitted]], b[present[fitted]] = fit_beta_priors(
            patterns[keep, 1], patterns[keep, 2], weight[keep].astype("float64"), np.r_[0, np.cumsum(sizes)])
    return a, b, schools
