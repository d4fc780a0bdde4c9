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

from .latent import RESPONSE_WEIGHTED_PERIODS
from .base import filtered_rows, group_columns, order_rows, query, school_hierarchy, select_list, suppress
from .filters import BY_COLUMNS, TEACHER_COLUMNS, Filters
from .stats import clustered_ratio_intervals


# what the retention and prevalence tables count: one row per teacher-practice observed at a round
RATE_COLUMNS = ["teacher_key", "practice", "months", "retained", "school_id", "cluster", "district", "province",
                "school_type", *TEACHER_COLUMNS]


def prevalence(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str] = (),
               config: Config | None = None) -> pd.DataFrame:
    """Share of observed teacher-practices scored at or above the practice's cut-off, per round
    (`months` is always a grouping column: prevalence is defined at t).

    Reads `model_observations` (a practice scored `na`, or a teacher absent, is missing, never 0).
    `rate` = retained / n over the group's teacher-practices observed at t; `n` those
    teacher-practices; `teachers` the distinct teachers they belong to. `ci_low, ci_high`: 95%
    interval clustered by school: the ratio estimator's linearised variance over the group's
    school totals, var = S / (S - 1) * sum_s (y_s - rate n_s)^2 / n^2 (S schools), on the logit
    scale; Wilson's interval where the group has one school or every school agrees exactly
    (`stats.clustered_ratio_interval`). Suppressed on distinct teachers (`base.suppress`)."""
    config = config or _default_config()
    by = group_columns(by, BY_COLUMNS, always=["months"])
    rows, params = filtered_rows(by, filters)
    frame = _clustered_shares(con, config, by, rows, params)
    frame = suppress(order_rows(frame, by), by, ["rate", "n", "ci_low", "ci_high", "teachers"],
                     config.thresholds.min_group_n, hierarchy=school_hierarchy(con))
    return frame[[*by, "rate", "n", "ci_low", "ci_high", "teachers", "suppressed"]]


def _followed_rows(by: Sequence[str], filters: Filters) -> tuple[str, dict]:
    """The rows retention counts, filtered: each teacher-practice in use at month 0 (its month-0
    observation, retained by definition) and each later round where it was observed
    (`person_period`, `observed`), where the unit was at that round."""
    columns = ", ".join(RATE_COLUMNS)
    relation = f"""(
    select {columns}, 1.0 as weight from observations where months = 0 and retained
    union all
    select {columns}, weight from {RESPONSE_WEIGHTED_PERIODS} where observed
)"""
    return filtered_rows(by, filters, relation)


def retention_counts(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                     config: Config) -> pd.DataFrame:
    """Unsuppressed counts behind `retention` (retained, n, teachers per group and round; without
    `months` in `by`, over every round, month 0 included); `school_id` may be in `by`. For
    estimators that pool finer cells (half_life), never shown as they are."""
    rows, params = _followed_rows(by, filters)
    return query(con, config, f"""
followed as (
    {rows}
)
select {select_list(by)}
       count(*) filter (where retained) as retained,
       count(*) as n,
       count(distinct teacher_key) as teachers
from followed
group by all
""", params)


def retention(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str] = (),
              config: Config | None = None) -> pd.DataFrame:
    """Of teacher-practices in use at month 0 (scored at or above the cut-off), the share still in
    use at month t, among those observed at t.

    Reads `person_period` (rows with `observed`; `rate` = mean of `retained`), plus a month-0 row
    per group: rate 1 by definition, `n` = the teacher-practices in use at month 0, no interval.
    `retained`, `n`: teacher-practices retained at t and observed at t (so observed at both
    rounds); `teachers`: the distinct teachers they belong to. `ci_low, ci_high`: 95% interval
    clustered by school, as `prevalence`'s (linearised ratio variance over school totals, logit
    scale; Wilson's for a single school). Suppressed on distinct teachers (`base.suppress`)."""
    config = config or _default_config()
    by = group_columns(by, BY_COLUMNS, always=["months"])
    rows, params = _followed_rows(by, filters)
    frame = _clustered_shares(con, config, by, rows, params, weight="weight")
    month0 = frame["months"] == 0
    frame.loc[month0, ["ci_low", "ci_high"]] = np.nan
    frame = suppress(order_rows(frame, by), by, ["rate", "retained", "n", "ci_low", "ci_high", "teachers"],
                     config.thresholds.min_group_n, hierarchy=school_hierarchy(con))
    return frame[[*by, "rate", "retained", "n", "ci_low", "ci_high", "teachers", "suppressed"]]


def _clustered_shares(con: duckdb.DuckDBPyConnection, config: Config, by: Sequence[str], rows: str,
                      params: dict, weight: str = "1.0") -> pd.DataFrame:
    """Per group of `by`: retained, n, teachers and rate = retained / n, with the interval
    clustered by school. DuckDB aggregates per group and school; the interval is computed over
    those school totals (`stats.clustered_ratio_intervals`). `weight` (a column of `rows`, from
    code): rate and interval from the weighted totals (retention's response weights); the counts
    shown stay unweighted."""
    totals = query(con, config, f"""
filtered as (
    {rows}
)
select {select_list(by)}
       count(*) filter (where retained) as retained,
       count(*) as n,
       count(distinct teacher_key) as teachers,
       coalesce(sum({weight}) filter (where retained), 0) as weighted_retained,
       sum({weight}) as weighted_n
from filtered
group by all
""", params)
    schools = query(con, config, f"""
filtered as (
    {rows}
)
select {select_list(by)} school_id as cluster_school,
       coalesce(sum({weight}) filter (where retained), 0) as school_retained,
       sum({weight}) as school_n
from filtered
group by all
""", params)
    intervals = clustered_ratio_intervals(schools, by, "school_retained", "school_n", "cluster_school")
    frame = totals.merge(intervals[[*by, "ci_low", "ci_high"]], on=list(by), how="left")
    frame.insert(len(by), "rate", frame["weighted_retained"] / frame["weighted_n"])
    return frame.drop(columns=["weighted_retained", "weighted_n"])


def _default_config() -> Config:
    from sustain.config import load_config

    return load_config()


