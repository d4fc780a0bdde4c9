"""Indicators (README "Indicators") as pure functions `(connection, Filters, by, config) -> tidy DataFrame`.

Every table has the --by columns first, then the indicator's own columns (always `n`), then
`teachers` (distinct teachers the row rests on) and `suppressed` (True where the row rests on
fewer than `thresholds.min_group_n` teachers, or is suppressed with it: values blank, shown as
"too few to show"; `base.suppress`).
"""
from __future__ import annotations

from typing import Sequence

import duckdb
import numpy as np
import pandas as pd

from sustain.config import Config

from .as_scored import ROW_COLUMNS as RATE_COLUMNS, as_scored_shares
from .base import filtered_rows, group_columns, order_rows, query, school_hierarchy, select_list, suppress
from .filters import BY_COLUMNS, DIMENSIONS, TEACHER_COLUMNS, Filters
from .rollups import rollup_grain, rollup_table, school_cells_sql
from .stats import clustered_ratio_intervals_from_sums



def prevalence(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
               config: Config) -> pd.DataFrame:
    """Share of observed teacher-practices scored at or above the practice's cut-off, per round
    (`months` is always a grouping column: prevalence is defined at t).

    Reads `model_observations` (a practice scored `na`, or a teacher absent, is missing, never 0).
    `rate` = retained / n over the group's teacher-practices observed at t; `n` those
    teacher-practices; `teachers` the distinct teachers they belong to. `ci_low, ci_high`: 95%
    interval clustered by school: the ratio estimator's linearised variance over the group's
    school totals, var = S / (S - 1) * sum_s (y_s - rate n_s)^2 / n^2 (S schools), on the logit
    scale; Wilson's interval where the group has one school or every school agrees exactly
    (`stats.clustered_ratio_interval`). Suppressed on distinct teachers (`base.suppress`)."""
    by = group_columns(by, BY_COLUMNS, always=["months"])
    frame = _clustered_shares(con, config, by, *_school_cells("prevalence", by, filters))
    frame = suppress(order_rows(frame, by), by, ["rate", "n", "ci_low", "ci_high", "teachers"],
                     config.thresholds.min_group_n, hierarchy=school_hierarchy(con))
    return frame[[*by, "rate", "n", "ci_low", "ci_high", "teachers", "suppressed"]]


def _followed_rows(by: Sequence[str], filters: Filters) -> tuple[str, dict]:
    """The rows `retention_counts` counts, filtered: each teacher-practice in use at month 0 (its month-0
    observation, retained by definition) and each later round where it was observed
    (`person_period`, `observed`), where the unit was at that round."""
    columns = ", ".join(RATE_COLUMNS)
    relation = f"""(
    select {columns} from observations where months = 0 and retained
    union all
    select {columns} from person_period where observed
)"""
    return filtered_rows(by, filters, relation)


def _retention_counts_sql(by: Sequence[str], filters: Filters) -> tuple[str, dict]:
    """The SQL (a CTE list ending in a select) of `retention_counts`: from the rollups when the view
    allows (metrics/rollups.py; per hindrance group where the view is), else from the model's rows."""
    grain = rollup_grain(by, filters, hindrance_cells=True)
    if grain is not None:
        cells, params = school_cells_sql("retention", grain, by, filters)
        return f"""
school_cells as (
    {cells}
)
select {select_list(by)}
       coalesce(sum(school_retained), 0)::bigint as retained,
       coalesce(sum(school_n), 0)::bigint as n,
       coalesce(sum(school_teachers), 0)::bigint as teachers
from school_cells
group by all
""", params
    grain = _unit_level_grain(by, filters)
    if grain is not None:
        table = rollup_table([*by, "months"], filters)
        where, params = filters.where("practice", alias="r", hindrance_rows=table != "rollup_cells", keyed=True)
        return f"""
unit_cells as (
    select {select_list(by, "r")}
           coalesce(sum(r.retained), 0)::bigint as retained,
           coalesce(sum(r.n), 0)::bigint as n,
           coalesce(sum(r.teachers) filter (where r.months = 0), 0)::bigint as teachers
    from {table} r
    where r.measure = $rollup_measure and r.grain = $rollup_grain and {where}
    group by all
)
select * from unit_cells
""", params | {"rollup_measure": "retention", "rollup_grain": grain}
    rows, params = _followed_rows(by, filters)
    return f"""
followed as (
    {rows}
)
select {select_list(by)}
       count(*) filter (where retained) as retained,
       count(*) as n,
       count(distinct teacher_key) as teachers
from followed
group by all
""", params


def _unit_level_grain(by: Sequence[str], filters: Filters) -> str | None:
    """For `retention_counts` over every round (`months` not in `by`): the rollup grain it can be
    summed from, or None. retained and n add up over rounds; the distinct teachers over every round
    do not, but when every column grouped or filtered on stays the same over a unit's rows
    (practice, hindrance and the teacher-level dimensions; not a place, which a teacher can leave,
    nor a months bound), each teacher of a group has a unit in it at month 0 (every row of `followed`
    belongs to a unit in use at month 0, whose month-0 row is in the same group), so they are the
    group's teachers at month 0, a sum of cells (one school per teacher and round)."""
    if "months" in by or filters.months_min is not None or filters.months_max is not None or filters.scope is not None:
        return None
    unit_level = {"practice", "hindrance", *TEACHER_COLUMNS}
    filtered = {name for name in DIMENSIONS if getattr(filters, name)}
    if not (set(by) | filtered) <= unit_level:
        return None
    return rollup_grain([*by, "months"], filters, hindrance_cells=True)


def retention_counts(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                     config: Config) -> pd.DataFrame:
    """Unsuppressed counts behind `retention` (retained, n, teachers per group and round; without
    `months` in `by`, over every round, month 0 included); `school_id` may be in `by`. For
    estimators that pool finer cells (half_life), never shown as they are."""
    sql, params = _retention_counts_sql(by, filters)
    return query(con, config, sql, params)


def retention_round_totals(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                           config: Config) -> pd.DataFrame:
    """`retention_counts` by `by` and `months` summed over the groups' schools in DuckDB, with
    `schools` (the schools with a count at that round): what a curve read per round needs, without
    one row per school reaching pandas (a national view has tens of thousands). `teachers` adds up
    over schools within a round (a teacher has one placed visit per round), so one aggregation
    gives every column: the cells' sums, or the rows' distinct teachers and schools."""
    keys = [*by, "months"]
    grain = rollup_grain(keys, filters, hindrance_cells=True)
    if grain is not None:
        table = rollup_table(keys, filters)
        where, params = filters.where("practice", alias="r", hindrance_rows=table != "rollup_cells", keyed=True)
        return query(con, config, f"""
round_totals as (
    select {select_list(keys, "r")}
           sum(r.retained)::bigint as retained, sum(r.n)::bigint as n, sum(r.teachers)::bigint as teachers,
           count(distinct r.school_id) as schools
    from {table} r
    where r.measure = $rollup_measure and r.grain = $rollup_grain and {where}
    group by all
)
select * from round_totals
""", params | {"rollup_measure": "retention", "rollup_grain": grain})
    rows, params = _followed_rows(keys, filters)
    return query(con, config, f"""
followed as (
    {rows}
),
round_totals as (
    select {select_list(keys)}
           count(*) filter (where retained) as retained, count(*) as n,
           count(distinct teacher_key) as teachers, count(distinct school_id) as schools
    from followed
    group by all
)
select * from round_totals
""", params)


def retention(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
              config: Config) -> pd.DataFrame:
    """Of teacher-practices in use at month 0 (scored at or above the cut-off), the share an
    observer would score in use at month t had every one been visited, counting the teacher-practices
    not seen at t through the latent-state model (`metrics.as_scored`, whose docstring has the
    estimator and its interval).

    Rows: the units of `person_period` at t (where the unit was at t, else at month 0), plus a
    month-0 row per group: rate 1 by definition, `n` = the teacher-practices in use at month 0, no
    interval. `rate` = the mean over the group's units of the score at t (1 retained, 0 not) where
    scored, else the model's probability that it would have been scored in use (given its scores,
    the rounds it missed and the round its teacher left). `retained`, `n`: teacher-practices
    retained at t and scored at t; `teachers`: the distinct teachers of those scored at t.
    `ci_low, ci_high`: 95% interval clustered by school by the delta method (the units' school
    totals and the model's parameter uncertainty, logit scale; Wilson's for a single school).
    Suppressed on distinct teachers (`base.suppress`)."""
    by = group_columns(by, BY_COLUMNS, always=["months"])
    frame = as_scored_shares(con, filters, by, config)
    if len(frame):
        month0 = (frame["months"] == 0).to_numpy()
        for column in ("ci_low", "ci_high"):
            frame[column] = np.where(month0, np.nan, frame[column].to_numpy(dtype="float64"))
    if frame.empty:  # no rows: the --by columns are untyped, as an empty table has always given them
        frame = frame.astype({c: object for c in by})
    frame = suppress(order_rows(frame, by), by, ["rate", "retained", "n", "ci_low", "ci_high", "teachers"],
                     config.thresholds.min_group_n, hierarchy=school_hierarchy(con))
    return frame[[*by, "rate", "retained", "n", "ci_low", "ci_high", "teachers", "suppressed"]]


def _school_cells(measure: str, by: Sequence[str], filters: Filters) -> tuple[str, dict]:
    """The per-group, per-school totals of `measure` (prevalence; retention has its own estimator,
    metrics/as_scored.py) as `_clustered_shares` takes them: from the model's rollups when the view
    allows (metrics/rollups.py), else from its rows."""
    grain = rollup_grain(by, filters)
    if grain is not None:
        return school_cells_sql(measure, grain, by, filters)
    rows, params = filtered_rows(by, filters)
    return f"""
with filtered as (
    {rows}
)
select {select_list(by)}school_id,
       count(*) filter (where retained) as school_retained,
       count(*) as school_n,
       count(distinct teacher_key) as school_teachers
from filtered
group by all
""", params


def _clustered_shares(con: duckdb.DuckDBPyConnection, config: Config, by: Sequence[str], school_cells: str,
                      params: dict) -> pd.DataFrame:
    """Per group of `by`: retained, n, teachers and rate = retained / n, with the interval
    clustered by school. One DuckDB query aggregates per group and school (`school_cells`, from
    `_school_cells`), then per group to the interval's sufficient statistics (sum y, sum n,
    schools, sum_s (y_s - rate n_s)^2), so only one row per group reaches pandas
    (`stats.clustered_ratio_intervals_from_sums`).

    `teachers` (distinct teachers per group) is the sum of each school's distinct teachers: `by`
    always holds `months`, and a teacher has one placed visit per round, so one school per group."""
    keys = select_list(by)
    window = f"partition by {', '.join(by)}" if by else ""
    frame = query(con, config, f"""
school_cells as (
    {school_cells}
),
school_spread as (
    select *, sum(school_retained) over w / sum(school_n) over w as group_rate
    from school_cells
    window w as ({window})
)
select {keys}
       coalesce(sum(school_retained), 0)::bigint as retained,
       coalesce(sum(school_n), 0)::bigint as n,
       coalesce(sum(school_teachers), 0)::bigint as teachers,
       count(*) filter (where school_n > 0) as schools,
       sum((school_retained - group_rate * school_n) ** 2) as residual
from school_spread
group by all
""", params)
    se, low, high = clustered_ratio_intervals_from_sums(frame["retained"], frame["n"],
                                                        frame["schools"], frame["residual"].fillna(0.0))
    frame = frame.assign(ci_low=low, ci_high=high)
    frame.insert(len(by), "rate", frame["retained"] / frame["n"])
    frame = frame.drop(columns=["schools", "residual"])
    if frame.empty:  # no rows: the --by columns are untyped, as an empty table has always given them
        frame = frame.astype({c: object for c in by})
    return frame



