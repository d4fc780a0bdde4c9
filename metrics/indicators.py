"""Indicators (README "Indicators") as pure functions `(connection, Filters, by, config) -> tidy DataFrame`.

Every table has the --by columns first, then the indicator's own columns (always `n`), then
`teachers` (distinct teachers the row rests on) and `suppressed` (True where n is below
`thresholds.min_group_n`: values blank, shown as "too few to show").
"""
from __future__ import annotations

from typing import Sequence

import duckdb
import pandas as pd

from sustain.config import Config

from .base import filtered_rows, group_columns, order_rows, query, select_list, suppress
from .filters import BY_COLUMNS, Filters
from .stats import wilson_interval


def prevalence(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str] = (),
               config: Config | None = None) -> pd.DataFrame:
    """Share of observed teacher-practices scored at or above the practice's cut-off, per round
    (`months` is always a grouping column: prevalence is defined at t)."""
    config = config or _default_config()
    by = group_columns(by, BY_COLUMNS, always=["months"])
    rows, params = filtered_rows(by, filters)
    frame = query(con, config, f"""
filtered as (
    {rows}
)
select {select_list(by)}
       avg(retained::integer) as rate,
       count(*) as n,
       count(distinct teacher_key) as teachers
from filtered
group by all
""", params)
    frame = suppress(order_rows(frame, by), by, ["rate", "n", "teachers"], config.thresholds.min_group_n)
    return frame[[*by, "rate", "n", "teachers", "suppressed"]]


def retention_counts(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                     config: Config) -> pd.DataFrame:
    """Unsuppressed counts behind `retention` (retained, n, teachers per group and round); for
    estimators that pool finer cells (half_life), never shown as they are."""
    rows, params = filtered_rows(by, filters)
    return query(con, config, f"""
baseline as (
    select teacher_key, practice from observations where months = 0 and retained
),
followed as (
    select o.* from ({rows}) o
    join baseline b using (teacher_key, practice)
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
    """Of teacher-practices retained at month 0, the share retained at month t; n = those
    observed at both. Wilson 95% interval. Month 0 is 1 by definition and is included."""
    config = config or _default_config()
    by = group_columns(by, BY_COLUMNS, always=["months"])
    frame = retention_counts(con, filters, by, config)
    frame["rate"] = frame["retained"] / frame["n"]
    frame["ci_low"], frame["ci_high"] = wilson_interval(frame["retained"], frame["n"])
    frame = suppress(order_rows(frame, by), by, ["rate", "retained", "n", "ci_low", "ci_high", "teachers"],
                     config.thresholds.min_group_n)
    return frame[[*by, "rate", "retained", "n", "ci_low", "ci_high", "teachers", "suppressed"]]


def _default_config() -> Config:
    from sustain.config import load_config

    return load_config()


