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
view until the next import (cached on the model's build time, and kept by the app's result store
for its other processes: `models_kept_by`).

Reading. A unit's pattern is stored at import (ingest/model.py `model_unit_patterns`), and so are the
unscored units per school cell and pattern (`unscored_cells`), beside the scored counts
(`rollup_cells`), and both per hindrance group: a view sums cells where metrics/rollups.py
`rollup_grain` allows (a filter of several hindrances, or a hindrance with a teacher-level factor,
counts its rows). The model's values are joined in DuckDB, which sums each group's totals and,
per group and school, only the two sums the interval needs (units and value: at national scale
this aggregation, one row per group and school, is most of a view's cost, so it carries nothing
else; the scored counts are summed per group from the cells). The query returns one row per
group, with its schools as lists of numbers (school position, units, value) and its unscored
units per model value (`vid`, units): not one row per unit or pattern, nor the schools' keys. The
spreads and the gradients (each value's gradient, `AsScoredModel.value_gradients`, times the
group's units with it) are then a few vector operations in numpy.

Interval (cluster-robust by school, delta method). The estimate is a smooth function of the
units' scores and of the model's parameters theta; its linearisation gives each school s the
influence phi_s = [sum_{u in s} (y_u - R) + g' (-H^-1 U_s)] / N, with y_u the score or v_u, g =
sum_u d v_u / d theta, U_s the school's score of the log-likelihood and H its Hessian
(`latent.school_influence`: the model's parameter uncertainty, which imputation alone would
ignore). var = S / (S - 1) sum_s phi_s^2 (S: the group's schools), on the logit scale, as the
other shares (`stats.clustered_ratio_intervals_from_sums`; Wilson's where it cannot be computed).
"""
from __future__ import annotations

import contextlib
import contextvars
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from sustain.config import Config
from sustain.db import relation, sibling_cursor

from . import latent
from .base import BASE_CTES, base_params, database_state, filtered_rows, select_list
from .filters import TEACHER_COLUMNS, Filters
from .rollups import rollup_grain, school_cells_sql, unscored_cells_sql
from .stats import clustered_ratio_intervals_from_sums

# the groups the model is fitted to (hazards and p per group; emissions shared)
MODEL_BY = ["programme", "practice"]
# the columns of the rows retention (and prevalence) count: one row per teacher-practice and round
ROW_COLUMNS = ["teacher_key", "practice", "months", "retained", "school_id", "cluster", "district", "province",
               "school_type", "district_key", *TEACHER_COLUMNS]  # the key: a district filter tests it
# fitted models kept per database state (path, model build time, configuration fingerprint)
CACHE_SIZE = 4
_fits: "OrderedDict[tuple, AsScoredModel]" = OrderedDict()
# where fitted models are kept beyond this process: the app's result store sets a keeper around
# each view it computes (`models_kept_by`), so a dashboard process reads the model its first
# retention view needs instead of fitting it again (3.3 s at a million teachers, on every server
# process and restart). A keeper has `load(key) -> pa.Table | None` and `save(key, table)`, `key`
# a JSON-ready dict; each part of a model (MODEL_PARTS) is one table.
_keeper: contextvars.ContextVar = contextvars.ContextVar("as_scored_keeper", default=None)
MODEL_PARTS = ("values", "influence", "groups", "parameters")


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

    def __post_init__(self):
        # what each view's query scans, as Arrow tables made once per fit (DuckDB scans Arrow
        # faster than a pandas frame); `vid` numbers the values' rows
        self.values_arrow = pa.Table.from_pandas(self.values, preserve_index=False).append_column(
            "vid", pa.array(np.arange(len(self.values), dtype="int32")))
        # each value's gradient placed in the parameters' columns (values x parameters): a view's
        # gradient is its unscored units per value times this
        own = self.slots - latent.SHARED
        model_group = self.values[MODEL_BY].merge(self.groups.assign(_m=np.arange(len(self.groups))), on=MODEL_BY,
                                                  how="left")["_m"].to_numpy()
        slopes = self.values[[f"d{i}" for i in range(self.slots)]].to_numpy(float)
        self.value_gradients = np.zeros((len(self.values), self.influence.shape[1]))
        rows = np.arange(len(self.values))
        for i in range(own):
            self.value_gradients[rows, model_group * own + i] = slopes[:, i]
        self.value_gradients[:, len(self.groups) * own:] = slopes[:, own:]
        self.schools_arrow = pa.table({"school_id": pa.array(self.schools.astype(str), pa.string()),
                                       "position": pa.array(np.arange(len(self.schools), dtype="int32"))})

    def to_tables(self) -> dict[str, pa.Table]:
        """The model as Arrow tables (MODEL_PARTS), numbers only, which `from_tables` reads back
        exactly: `values` as fitted (its pandas types kept), `influence` one row per school (its id,
        then a column per parameter), `groups`, `parameters` one row per parameter (`unstable`,
        then its row of `covariance`)."""
        parameters = self.influence.shape[1]
        return {
            "values": pa.Table.from_pandas(self.values, preserve_index=False),
            "influence": pa.table({"school_id": pa.array(self.schools.astype(str), pa.string()),
                                   **{f"x{j}": self.influence[:, j] for j in range(parameters)}}),
            "groups": pa.Table.from_pandas(self.groups, preserve_index=False),
            "parameters": pa.table({"unstable": self.unstable,
                                    **{f"c{j}": self.covariance[:, j] for j in range(parameters)}}),
        }

    @classmethod
    def from_tables(cls, tables: dict[str, pa.Table]) -> "AsScoredModel":
        influence, parameters = tables["influence"], tables["parameters"]
        values = tables["values"].to_pandas()
        return cls(values=values, schools=pd.Index(influence.column("school_id").to_pylist(), dtype=object),
                   influence=np.column_stack([influence.column(f"x{j}").to_numpy()
                                              for j in range(influence.num_columns - 1)]),
                   groups=tables["groups"].to_pandas(), unstable=parameters.column("unstable").to_numpy(),
                   slots=sum(1 for c in values.columns if c.startswith("d") and c[1:].isdigit()),
                   covariance=np.column_stack([parameters.column(f"c{j}").to_numpy()
                                               for j in range(parameters.num_columns - 1)]))


@contextlib.contextmanager
def models_kept_by(keeper):
    """Within this block (this thread or task only), fitted models are read from and kept with
    `keeper` (see `_keeper`)."""
    token = _keeper.set(keeper)
    try:
        yield
    finally:
        _keeper.reset(token)


def fit_model(con: duckdb.DuckDBPyConnection, config: Config) -> AsScoredModel | None:
    """The model for retention (see `AsScoredModel`), fitted once per database state and kept in
    this process, and with the keeper of `models_kept_by` when there is one."""
    key = (database_state(con), tuple(config.schedule.months))
    if key[0][2] is not None and key in _fits:
        _fits.move_to_end(key)
        return _fits[key]
    keeper = _keeper.get() if key[0][2] is not None else None
    # what the model depends on besides the data version the keeper keeps it at (never the path:
    # a published database is read under a new name each version)
    kept_key = {"model": "as_scored", "config": key[0][1], "built_at": str(key[0][2]), "months": list(key[1])}
    model = _kept_model(keeper, kept_key) if keeper is not None else None
    if model is None:
        model = _fit(con, config)
        if keeper is not None and model is not None:
            for part, table in model.to_tables().items():
                keeper.save(kept_key | {"part": part}, table)
    _fits[key] = model
    while len(_fits) > CACHE_SIZE:
        _fits.popitem(last=False)
    return model


def _kept_model(keeper, key: dict) -> AsScoredModel | None:
    """The model `keeper` keeps for `key`, or None (not kept, a part missing or unreadable)."""
    tables = {part: keeper.load(key | {"part": part}) for part in MODEL_PARTS}
    if any(table is None for table in tables.values()):
        return None
    try:
        return AsScoredModel.from_tables(tables)
    except (KeyError, ValueError, TypeError, pa.ArrowException):  # a part of another shape: fitted again
        return None


def _fit(con: duckdb.DuckDBPyConnection, config: Config) -> AsScoredModel | None:
    # numbered in numpy from Arrow (`school_patterns`): a national model reads millions of school
    # cells, whose frame of text columns took longer than the fit
    counts = latent.school_patterns(con, Filters(), MODEL_BY, config, ids=True)
    if counts is None:
        return None
    followup = [m for m in sorted(config.schedule.months) if m > 0]
    rounds = len(followup)
    cells = counts.cells
    groups = cells[MODEL_BY].drop_duplicates().reset_index(drop=True)
    group = cells[MODEL_BY].merge(groups.assign(_g=np.arange(len(groups))), on=MODEL_BY, how="left")["_g"].to_numpy()
    symbols = latent.decode(cells["pattern"].to_numpy(), rounds)
    estimate = latent.fit_hmm(symbols, group, cells["units"].to_numpy(float), len(groups))
    schools = counts.school_ids
    school_counts = latent.school_cell_matrix(counts.school, counts.cell, counts.units, (len(schools), len(cells)))
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
    table["pattern"] = table["pattern"].astype("int64")
    table["months"] = np.asarray(followup, dtype="int64")[round_of - 1]
    table["value"] = values[pattern_of, round_of]
    for i in range(slots):
        table[f"d{i}"] = gradient[pattern_of, round_of, i]
    return AsScoredModel(values=table, schools=pd.Index(schools.astype(str)), influence=influence, groups=groups,
                         unstable=unstable, slots=slots, covariance=influence.T @ influence)


# the fitted model's values and gradients (`AsScoredModel.values`), registered on the connection
# for the one query of a view
VALUES_RELATION = "as_scored_values"
# the model's schools (`AsScoredModel.schools`) with their row of `influence` (`position`)
SCHOOLS_RELATION = "as_scored_schools"


def _view_sql(by: Sequence[str], filters: Filters, interval: bool = True) -> tuple[str, dict]:
    """One query, the model's values (`VALUES_RELATION`) and school positions (`SCHOOLS_RELATION`)
    joined in, returning one row per group of `by` (holding months): `gid` (the group's number),
    the scored counts (`retained`, `n`, `teachers`), all units (`units`), the sum of the units'
    scores and of the unscored units' values (`value`; NaN where a unit's pattern is missing from
    the model), and with `interval`:
    - `schools` (with units) and `school_terms`: per school, its `position` (the school's row of
      the model's influence; null for a school the model has no unit of), its units (`units`) and
      value (`value`): what the spreads and the model's share of the variance need
      (`as_scored_shares`), as numbers only;
    - `value_terms`: per value of the model (`vid`), the group's unscored units it counts (`units`):
      the group's gradient is their sum times each value's gradient (`AsScoredModel.value_gradients`),
      so the gradients are not summed over every unit in SQL.
    The counts are summed from the cells stored at import (`rollup_cells`, `unscored_cells`) when
    the view allows (metrics/rollups.py `rollup_grain`), else counted from the view's rows with each
    unit's stored pattern (`model_unit_patterns`); the same figures either way. Only the units and
    the value are summed per group and school (the one aggregation with a row per group and
    school, the costly one at national scale); the scored counts are summed per group from the
    cells. `interval` False: no school is summed, `schools` and the terms are null."""
    grain = rollup_grain(by, filters, hindrance_cells=True)
    counts, params = _cell_counts(by, filters, grain) if grain is not None else _row_counts(by, filters)
    keys = ", ".join(dict.fromkeys([*by, "school_id"]))
    ordered = ", ".join(f"g.{c}" for c in by)
    def same_group(alias: str) -> str:
        return " and ".join(f"{alias}.{c} is not distinct from g.{c}" for c in by)
    sql = f"""{counts},
valued as (
    select u.*, v.value, v.vid
    from unscored_units u
    left join {VALUES_RELATION} v
      on v.programme = u.model_programme and v.practice = u.model_practice and v.pattern = u.pattern
     and v.months = u.months
),
unit_cells as (
    -- each cell's units and value: a scored unit counts its score, an unscored one the model's
    -- value (a unit whose pattern the model lacks cannot happen, both read the same units; if it
    -- did, the figure would be NaN rather than silently wrong)
    select {keys}, school_n as units, school_retained::double as value
    from scored_counts
    union all by name
    select {keys}, school_units as units, coalesce(school_units * value, 'NaN'::double) as value
    from valued
),
scored_totals as (
    select {select_list(by)}
           sum(school_retained)::bigint as retained,
           sum(school_n)::bigint as n,
           sum(school_teachers)::bigint as teachers
    from scored_counts
    group by all
)"""
    if not interval:
        return sql + f""",
unit_totals as (
    select {select_list(by)}sum(units)::bigint as units, sum(value) as value
    from unit_cells
    group by all
)
select g.*, (row_number() over (order by {ordered}) - 1)::integer as gid,
       coalesce(s.retained, 0)::bigint as retained, coalesce(s.n, 0)::bigint as n,
       coalesce(s.teachers, 0)::bigint as teachers, null::bigint as schools
from unit_totals g
left join scored_totals s on {same_group('s')}
""", params
    sql += f""",
school_totals as (
    select {keys}, sum(units)::bigint as units, sum(value) as value
    from unit_cells
    group by all
),
unit_totals as (
    select {select_list(by)}sum(s.units)::bigint as units, sum(s.value) as value,
           count(*) filter (where s.units > 0) as schools,
           list({{'position': p.position, 'units': s.units, 'value': s.value}}) as school_terms
    from school_totals s
    left join {SCHOOLS_RELATION} p using (school_id)
    group by all
),
value_terms as (
    select {select_list(by)}list({{'vid': vid, 'units': units}}) as value_terms
    from (
        select {select_list(by)}vid, sum(school_units)::double as units
        from valued
        where vid is not null
        group by all
    )
    group by all
)
select g.*, (row_number() over (order by {ordered}) - 1)::integer as gid,
       coalesce(s.retained, 0)::bigint as retained, coalesce(s.n, 0)::bigint as n,
       coalesce(s.teachers, 0)::bigint as teachers, t.value_terms
from unit_totals g
left join scored_totals s on {same_group('s')}
left join value_terms t on {same_group('t')}
"""
    return sql, params


def _row_counts(by: Sequence[str], filters: Filters) -> tuple[str, dict]:
    """CTEs `scored_counts` (per group and school: school_retained, school_n, school_teachers) and
    `unscored_units` (group, school, model group, pattern and school_units, the units not scored at
    t; one row per group, school, model group and pattern, or more: the reader sums them) from the
    view's rows."""
    columns = ", ".join(ROW_COLUMNS)
    relation = f"""(
    select {columns}, true as observed from observations where months = 0 and retained
    union all
    select {columns}, observed from person_period
)"""
    rows, params = filtered_rows(by, filters, relation)
    keys = ", ".join(dict.fromkeys([*by, "school_id"]))
    sql = f"""
shown as (
    {rows}
),
scored_counts as (
    select {keys},
           count(*) filter (where retained) as school_retained,
           count(*) as school_n,
           count(distinct teacher_key) as school_teachers
    from shown
    where observed
    group by all
),
unscored_units as (
    select {", ".join(f"s.{c}" for c in dict.fromkeys([*by, "school_id"]))}, s.programme as model_programme,
           s.practice as model_practice, u.pattern, count(*) as school_units
    from shown s
    join model_unit_patterns u on u.teacher_key = s.teacher_key and u.practice = s.practice
    where not s.observed
    group by all
)"""
    return sql, params


def _cell_counts(by: Sequence[str], filters: Filters, grain: str) -> tuple[str, dict]:
    """`_row_counts`' two CTEs read from the cells: the scored counts from `rollup_cells` at
    `grain`, the unscored units from `unscored_cells`, one row per cell (`_view_sql` sums them per
    group and school in one aggregation)."""
    scored, params = school_cells_sql("retention", grain, by, filters, summed=False)
    unscored, unscored_params = unscored_cells_sql(grain, by, filters)
    sql = f"""
scored_counts as (
    {scored}
),
unscored_units as (
    {unscored}
)"""
    return sql, params | unscored_params


def as_scored_shares(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                     config: Config, interval: bool = True) -> pd.DataFrame:
    """Per group of `by` (holding months): rate (the as-scored share), retained, n, teachers (the
    units and distinct teachers scored at t), ci_low, ci_high (module docstring); only rounds where
    at least one unit of the group was scored. Unsuppressed.

    DuckDB sums each group's totals and its schools' squared spreads (`_view_sql`); what leaves it
    is one row per group, its gradients per model group, and per group and school only the
    numbers the model's share of the variance needs (group, school position, spread).
    `interval` False: ci_low and ci_high are NaN, and neither the schools' spreads nor the model's
    gradients are summed (a table of every school that shows no interval: most of the cost of a
    national one)."""
    by = list(by)
    columns = [*by, "rate", "retained", "n", "ci_low", "ci_high", "teachers"]
    model = fit_model(con, config)
    if model is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    # on a cursor of its own: the registrations are seen by this query only
    cursor = sibling_cursor(con)
    try:
        cursor.register(VALUES_RELATION, model.values_arrow)
        cursor.register(SCHOOLS_RELATION, model.schools_arrow)
        sql, params = _view_sql(by, filters, interval)
        parts = relation(cursor, f"with {BASE_CTES},\n{sql}", base_params(config) | params).to_arrow_table()
    finally:
        cursor.close()
    if parts.num_rows == 0:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    groups = parts.select([*by, "gid", "retained", "n", "teachers", "units", "value", "schools"]).to_pandas()
    order = np.argsort(groups["gid"].to_numpy(), kind="stable")
    groups = groups.iloc[order].reset_index(drop=True)
    n_groups = len(groups)
    if not (groups["gid"].to_numpy() == np.arange(n_groups)).all():
        raise AssertionError("group numbers are not 0..groups-1")
    value, units = groups["value"].to_numpy(float), groups["units"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = value / units
    if not interval:
        return _shares_frame(groups, by, rate, np.full(n_groups, np.nan), np.full(n_groups, np.nan))
    parts = parts.take(pa.array(order))
    school_gid, school_terms = _flatten(parts.column("school_terms"))
    # each school's spread: spread_s = value_s - rate units_s
    with np.errstate(invalid="ignore"):
        spread = (school_terms.field("value").to_numpy(zero_copy_only=False)
                  - rate[school_gid] * school_terms.field("units").to_numpy(zero_copy_only=False).astype(float))
    residual = np.bincount(school_gid, weights=spread ** 2, minlength=n_groups)
    position = school_terms.field("position")
    modelled = position.is_valid().to_numpy(zero_copy_only=False) & (spread != 0)
    position = position.fill_null(0).to_numpy(zero_copy_only=False).astype("int64")[modelled]
    school_gid, spread = school_gid[modelled], spread[modelled]
    value_gid, value_terms = _flatten(parts.column("value_terms"))
    vid = value_terms.field("vid").to_numpy(zero_copy_only=False).astype("int64")
    value_units = value_terms.field("units").to_numpy(zero_copy_only=False)
    # the model's share of the variance: g' X_s per school, g = the group's summed gradients
    # (each value's gradient times the group's unscored units with that value)
    gradient = sparse.csr_matrix((value_units, (value_gid, vid)),
                                 shape=(n_groups, len(model.values))) @ model.value_gradients
    spread_x = sparse.csr_matrix((spread, (school_gid, position)), shape=(n_groups, len(model.schools))) @ model.influence
    # sum_s (spread_s + g' X_s)^2 = sum spread^2 + 2 g' sum_s spread_s X_s + g' (sum_s X_s X_s') g
    residual = (residual + 2 * np.einsum("gp,gp->g", gradient, spread_x)
                + np.einsum("gp,pq,gq->g", gradient, model.covariance, gradient))
    leans_on_unstable = (np.abs(gradient[:, model.unstable]) > 0).any(axis=1)
    residual = np.where(leans_on_unstable, np.nan, residual)
    _, low, high = clustered_ratio_intervals_from_sums(value, units, groups["schools"].to_numpy(float), residual)
    return _shares_frame(groups, by, rate, low, high)


def _shares_frame(groups: pd.DataFrame, by: list[str], rate: np.ndarray, low: np.ndarray,
                  high: np.ndarray) -> pd.DataFrame:
    """`as_scored_shares`' table from its groups and figures, built from arrays (a frame's
    assign-then-select cost milliseconds on every retention view).
    A round where no unit of the group was scored is not reported (not yet visited, say): the
    model would give a figure, but no visit of the group would be behind it."""
    n = groups["n"].to_numpy(dtype="int64")
    kept = n > 0
    columns = {c: groups[c].array[kept] for c in by}
    columns |= {"rate": rate[kept], "retained": groups["retained"].to_numpy(dtype="int64")[kept], "n": n[kept],
                "ci_low": np.asarray(low, dtype="float64")[kept], "ci_high": np.asarray(high, dtype="float64")[kept],
                "teachers": groups["teachers"].to_numpy(dtype="int64")[kept]}
    return pd.DataFrame(columns)


def _flatten(terms: pa.ChunkedArray) -> tuple[np.ndarray, pa.StructArray]:
    """A list column of one row per group (in `gid` order) as (the group of each element, the
    elements)."""
    terms = terms.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(terms), 0).to_numpy()
    return np.repeat(np.arange(len(terms)), lengths), pc.list_flatten(terms)
