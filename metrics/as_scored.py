"""Retention's estimate: the share of teacher-practices in use at month 0 that an observer would score
in use at month t had every one been visited, with teachers not seen at t (absent, gone, not
scored) represented through the latent-state model of `metrics.latent`.

Why. A teacher who stops using the practices is more likely to leave (transfer, quit) before the
next visit. Weights that represent an unseen unit by the seen ones with the same last observed
state cannot see a drop that happened after that visit, so they overstate retention: on the
simulator +0.01 to +0.02 at 12-24 months (0.6-0.8 standard errors; 95% intervals covered the
truth in 84-92% of seeds; benchmarks/validation_after3_diagnosis.md). The latent model lets the
chance of leaving at a round depend on the practice's state at that round (l_A > l_U), and
separates scoring error from abandonment, so it can say how likely an unseen unit was to be scored
in use.

Estimator (a model-based prediction estimator). Each unit u of a group at round t > 0 (the rows
of `person_period`, grouped where the unit was at t, else at month 0) counts
- its score at t where it was scored (1 at or above the cut-off, else 0), and
- where it was not, v_u(t) = e_U P(U at t | its pattern) + e_A P(A at t | its pattern): the
  probability it would have been scored in use, given everything seen of it (its scores at every
  round, the rounds it missed, the round its teacher left), from the model fitted once to every
  unit scored at month 0, per programme and practice (`latent.as_scored_values`).
`rate` = sum over the group's units of (score or v) / the group's units. With every unit scored
at t it is the observed share; a unit missed at t but seen in use later counts about e_U.
The model is fitted over the whole analysis model, not per view (as the response weights were),
so a figure does not depend on the filters beyond the units it counts, and one fit serves every
view until the next import (cached on the model's build time).

Interval (cluster-robust by school, delta method). The estimate is a smooth function of the
units' scores and of the model's parameters theta; its linearisation gives each school s the
influence phi_s = [sum_{u in s} (y_u - R) + g' (-H^-1 U_s)] / N, with y_u the score or v_u, g =
sum_u d v_u / d theta, U_s the school's score of the log-likelihood and H its Hessian
(`latent.school_influence`: the model's parameter uncertainty, which imputation alone would
ignore). var = S / (S - 1) sum_s phi_s^2 (S: the group's schools), on the logit scale, as the
other shares (`stats.clustered_ratio_intervals_from_sums`; Wilson's where it cannot be computed).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd
from scipy import sparse

from sustain.config import Config

from . import latent
from .base import filtered_rows, query, select_list
from .filters import TEACHER_COLUMNS, Filters
from .stats import clustered_ratio_intervals_from_sums

# the groups the model is fitted to (hazards and p per group; emissions shared)
MODEL_BY = ["programme", "practice"]
# the rows retention counts: each teacher-practice in use at month 0, at month 0 and at every round
ROW_COLUMNS = ["teacher_key", "practice", "months", "retained", "school_id", "cluster", "district", "province",
               "school_type", *TEACHER_COLUMNS]
# fitted models kept per database state (path, model build time, configuration fingerprint)
CACHE_SIZE = 4
_fits: "OrderedDict[tuple, AsScoredModel]" = OrderedDict()


@dataclass
class AsScoredModel:
    """The latent model fitted to every unit scored at month 0, per programme and practice, read
    for retention: `values` (one row per programme, practice, pattern of a unit in use at month 0
    and round t > 0 where such a unit is not scored: `value` = v(t) and its gradient `d0..`),
    `schools` (school ids, the rows of `influence`), `influence` (schools x parameters: the
    estimate's move when the school is added, -H^-1 U_s; the columns are each model group's K
    hazards and p, then e_U, e_A, l_U, l_A), `groups` (programme, practice of each model group),
    `unstable` (parameters whose Hessian block is not finite: no interval leans on them), `covariance` =
    sum_s X_s X_s' (parameters x parameters)."""
    values: pd.DataFrame
    schools: pd.Index
    influence: np.ndarray
    groups: pd.DataFrame
    unstable: np.ndarray
    slots: int
    covariance: np.ndarray


def model_state(con: duckdb.DuckDBPyConnection) -> tuple:
    """What the fitted model depends on: the database file and the analysis model's build (every
    import and rebuild rewrites `model_info`)."""
    path = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    built = con.execute("select config_fingerprint, built_at from model_info limit 1").fetchone()
    return (path[0] if path else None, *(built or (None, None)))


def fit_model(con: duckdb.DuckDBPyConnection, config: Config) -> AsScoredModel | None:
    """The model for retention (see `AsScoredModel`), fitted once per database state and kept."""
    key = (model_state(con), tuple(config.schedule.months))
    if key[0][2] is not None and key in _fits:
        _fits.move_to_end(key)
        return _fits[key]
    model = _fit(con, config)
    _fits[key] = model
    while len(_fits) > CACHE_SIZE:
        _fits.popitem(last=False)
    return model


def _fit(con: duckdb.DuckDBPyConnection, config: Config) -> AsScoredModel | None:
    counts = latent.pattern_counts(con, Filters(), MODEL_BY, config)
    if counts.empty:
        return None
    followup = [m for m in sorted(config.schedule.months) if m > 0]
    rounds = len(followup)
    cells = counts.groupby([*MODEL_BY, "pattern"], sort=True, dropna=False)["units"].sum().reset_index()
    groups = cells[MODEL_BY].drop_duplicates().reset_index(drop=True)
    group = cells[MODEL_BY].merge(groups.assign(_g=np.arange(len(groups))), on=MODEL_BY, how="left")["_g"].to_numpy()
    symbols = latent.decode(cells["pattern"].to_numpy(), rounds)
    estimate = latent.fit_hmm(symbols, group, cells["units"].to_numpy(float), len(groups))
    column = counts[[*MODEL_BY, "pattern"]].merge(cells[[*MODEL_BY, "pattern"]].assign(_c=np.arange(len(cells))),
                                                  on=[*MODEL_BY, "pattern"], how="left")["_c"].to_numpy()
    school_codes, schools = pd.factorize(counts["school_id"].astype("string"), sort=True)
    school_counts = sparse.csr_matrix((counts["units"].to_numpy(float), (school_codes, column)),
                                      shape=(len(schools), len(cells)))
    slots = rounds + 1 + latent.SHARED
    own = rounds + 1
    x_own, x_shared, finite = latent.school_influence(symbols, group, school_counts, len(groups), estimate)
    if x_own is None:
        influence = np.full((len(schools), len(groups) * own + latent.SHARED), np.nan)
    else:
        influence = -np.concatenate([x_own.reshape(len(schools), -1), x_shared], axis=1)
    unstable = np.concatenate([np.repeat(~finite, own), np.zeros(latent.SHARED, dtype=bool)])
    influence[:, unstable] = 0.0

    # values of the units in use at month 0, at the rounds where they were not scored
    followed = symbols[:, 0] == latent.IN_USE
    values, gradient = latent.as_scored_values(symbols[followed], group[followed], estimate)
    unscored = ~np.isin(symbols[followed], (latent.IN_USE, latent.NOT_IN_USE))
    unscored[:, 0] = False
    pattern_of, round_of = np.nonzero(unscored)
    source = cells[followed].reset_index(drop=True)
    table = source.loc[pattern_of, [*MODEL_BY, "pattern"]].reset_index(drop=True)
    table["months"] = np.asarray(followup, dtype="int64")[round_of - 1]
    table["value"] = values[pattern_of, round_of]
    for i in range(slots):
        table[f"d{i}"] = gradient[pattern_of, round_of, i]
    return AsScoredModel(values=table, schools=pd.Index(schools.astype(str)), influence=influence, groups=groups,
                         unstable=unstable, slots=slots, covariance=influence.T @ influence)


def _view_sql(by: Sequence[str], filters: Filters, config: Config, model: AsScoredModel) -> tuple[str, dict]:
    """One query: per group of `by` (holding months) and school, the observed counts (`retained`,
    `n`, `teachers`), the units and the sum of their values (`part` = 'cell'); per group and model
    group, the sum of the gradients of the values (`part` = 'slope')."""
    columns = ", ".join(ROW_COLUMNS)
    relation = f"""(
    select {columns}, true as observed from observations where months = 0 and retained
    union all
    select {columns}, observed from person_period
)"""
    rows, params = filtered_rows(by, filters, relation)
    keys = select_list(by)
    school = "" if "school_id" in by else "school_id, "
    followup = [m for m in sorted(config.schedule.months) if m > 0]
    slopes = [f"d{i}" for i in range(model.slots)]
    table = model.values
    value_params = {"v_programme": table["programme"].astype(str).tolist(),
                    "v_practice": table["practice"].astype(str).tolist(),
                    "v_pattern": table["pattern"].astype("int64").tolist(),
                    "v_months": table["months"].astype("int64").tolist(),
                    "v_value": table["value"].astype(float).tolist()}
    value_params |= {f"v_{d}": table[d].astype(float).tolist() for d in slopes}
    value_columns = ", ".join(f"unnest($v_{d}) as {d}" for d in slopes)
    slope_sums = ", ".join(f"sum({d}) as {d}" for d in slopes)
    sql = f"""
shown as (
    {rows}
),
left_at as (
    select teacher_key, min(months) as months
    from placed_visits
    where months > 0 and teacher_status in (select unnest($leaving_statuses))
    group by teacher_key
),
unit_patterns as (
    -- the unit's round symbols coded as latent.pattern_counts codes them (month 0: in use)
    select pp.teacher_key, pp.practice,
           {latent.IN_USE} + sum(case when pp.observed and pp.retained then {latent.IN_USE}
                    when pp.observed then {latent.NOT_IN_USE}
                    when la.months = pp.months then {latent.LEFT}
                    when la.months < pp.months then {latent.GONE}
                    else {latent.MISSING} end
               * ({latent.BASE}::bigint ** list_position($followup_months, pp.months))::bigint) as pattern
    from person_period pp
    left join left_at la using (teacher_key)
    where pp.teacher_key in (select teacher_key from shown)
    group by pp.teacher_key, pp.practice
),
value_table as (
    select unnest($v_programme) as programme, unnest($v_practice) as practice, unnest($v_pattern) as pattern,
           unnest($v_months) as months, unnest($v_value) as value, {value_columns}
),
valued as (
    select s.*, s.programme as model_programme, s.practice as model_practice,
           case when s.observed then (case when s.retained then 1.0 else 0.0 end) else v.value end as value,
           {", ".join(f"v.{d}" for d in slopes)}
    from shown s
    join unit_patterns u on u.teacher_key = s.teacher_key and u.practice = s.practice
    left join value_table v
      on v.programme = s.programme and v.practice = s.practice and v.pattern = u.pattern and v.months = s.months
      and not s.observed
)
select 'cell' as part, {keys}{school}
       count(*) filter (where observed and retained) as school_retained,
       count(*) filter (where observed) as school_n,
       count(distinct teacher_key) filter (where observed) as school_teachers,
       count(value) as school_units,
       sum(value) as school_value
from valued
group by all
union all by name
select 'slope' as part, {keys}model_programme, model_practice, {slope_sums}
from valued
where not observed
group by all
"""
    return sql, params | value_params | {"followup_months": followup, "leaving_statuses": latent.LEAVING_STATUSES}


def as_scored_shares(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                     config: Config) -> pd.DataFrame:
    """Per group of `by` (holding months): rate (the as-scored share), retained, n, teachers (the
    units and distinct teachers scored at t), ci_low, ci_high (module docstring). Unsuppressed."""
    by = list(by)
    columns = [*by, "rate", "retained", "n", "ci_low", "ci_high", "teachers"]
    model = fit_model(con, config)
    if model is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    sql, params = _view_sql(by, filters, config, model)
    parts = query(con, config, sql, params)
    cells = parts[parts["part"] == "cell"].reset_index(drop=True)
    slopes = parts[parts["part"] == "slope"].reset_index(drop=True)
    if cells.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    if by:
        gid, index = _group_index(cells, by)
    else:
        gid, index = np.zeros(len(cells), dtype="int64"), pd.DataFrame(index=[0])
    n_groups = len(index)
    total = lambda c: np.bincount(gid, weights=cells[c].to_numpy(float), minlength=n_groups)  # noqa: E731
    units, value = total("school_units"), total("school_value")
    schools = np.bincount(gid, weights=(cells["school_units"].to_numpy(float) > 0), minlength=n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = value / units
    spread = cells["school_value"].to_numpy(float) - rate[gid] * cells["school_units"].to_numpy(float)
    residual = np.bincount(gid, weights=spread**2, minlength=n_groups)
    # the model's share of the variance: g' X_s per school, g = the group's summed gradients
    gradient = np.zeros((n_groups, model.influence.shape[1]))
    if not slopes.empty:
        own = model.slots - latent.SHARED
        model_group = slopes[["model_programme", "model_practice"]].merge(
            model.groups.set_axis(["model_programme", "model_practice"], axis=1)
            .assign(_m=np.arange(len(model.groups))), how="left")["_m"].to_numpy()
        slope_gid = _group_ids(slopes, by, index) if by else np.zeros(len(slopes), dtype="int64")
        d = slopes[[f"d{i}" for i in range(model.slots)]].to_numpy(float)
        known = ~np.isnan(model_group.astype(float)) & (slope_gid >= 0)
        rows, mg, d = slope_gid[known], model_group[known].astype("int64"), d[known]
        for i in range(own):
            np.add.at(gradient, (rows, mg * own + i), d[:, i])
        np.add.at(gradient, (rows, slice(len(model.groups) * own, None)), d[:, own:])
    position = model.schools.get_indexer(cells["school_id"].astype(str))
    inside = position >= 0
    spread_x = sparse.csr_matrix((spread[inside], (gid[inside], position[inside])),
                                 shape=(n_groups, len(model.schools))) @ model.influence
    # sum_s (spread_s + g' X_s)^2 = sum spread^2 + 2 g' sum_s spread_s X_s + g' (sum_s X_s X_s') g
    residual = (residual + 2 * np.einsum("gp,gp->g", gradient, spread_x)
                + np.einsum("gp,pq,gq->g", gradient, model.covariance, gradient))
    leans_on_unstable = (np.abs(gradient[:, model.unstable]) > 0).any(axis=1)
    residual = np.where(leans_on_unstable, np.nan, residual)
    _, low, high = clustered_ratio_intervals_from_sums(value, units, schools, residual)
    frame = index.reset_index(drop=True).copy() if by else pd.DataFrame(index=[0])
    frame = frame.assign(rate=rate, retained=total("school_retained").round().astype("int64"),
                         n=total("school_n").round().astype("int64"), ci_low=low, ci_high=high,
                         teachers=total("school_teachers").round().astype("int64"))
    return frame[columns]


def _group_index(cells: pd.DataFrame, by: Sequence[str]) -> tuple[np.ndarray, pd.DataFrame]:
    gid = cells.groupby(list(by), sort=False, dropna=False).ngroup().to_numpy()
    first = np.unique(gid, return_index=True)[1]
    return gid, cells.loc[first, list(by)].reset_index(drop=True)


def _group_ids(frame: pd.DataFrame, by: Sequence[str], index: pd.DataFrame) -> np.ndarray:
    """The row of `index` (the groups) each row of `frame` belongs to, -1 where none."""
    keyed = index.assign(_gid=np.arange(len(index)))
    merged = frame[list(by)].merge(keyed, on=list(by), how="left")
    return merged["_gid"].fillna(-1).to_numpy("int64")
