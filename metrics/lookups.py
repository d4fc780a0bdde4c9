"""Small look-ups the app and the report need besides the indicators: the values a filter can take
and the date range of the visits behind a view. SQL lives here, not in the layers above."""
from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from sustain.config import Config
from sustain.dimensions import roster_choice_dimensions, value_order

from .base import filtered_rows, query
from .filters import Filters

# the sidebar's choices that come from the roster (practice and hindrance come from config), from
# the catalogue; each one's SQL reads `t` (teachers) or `sc` (schools)
ROSTER_CHOICES = [d.name for d in roster_choice_dimensions()]
_ROSTER_SELECT = ", ".join(f"{d.roster_sql} as {d.name}" for d in roster_choice_dimensions())


def filter_choices(con: duckdb.DuckDBPyConnection, scope: tuple[str, ...] | None) -> dict[str, list[str]]:
    """Values each roster dimension takes, only in the districts the viewer may see (None: all),
    in the catalogue's order (bands in band order, the rest as text)."""
    frame = con.execute(
        f"""with roster as (
               select {_ROSTER_SELECT}, sc.district as scope_district
               from teachers t join schools sc using (school_id)
           )
           select distinct * from roster
           where $everything or list_contains($scope, scope_district)""",
        {"everything": scope is None, "scope": list(scope or [])},
    ).df()
    return {column: value_order(column, frame[column].dropna().unique().tolist()) for column in ROSTER_CHOICES}


def config_choices(config: Config) -> dict[str, list[str]]:
    """Values the sidebar offers for the dimensions config defines (the rest: `filter_choices`)."""
    return {"practice": config.practice_codes, "hindrance": config.hindrance_codes}


def programme_districts(con: duckdb.DuckDBPyConnection, programme: str, scope: tuple[str, ...] | None) -> list[str]:
    """Districts with teachers of `programme`, among those the viewer may see."""
    rows = con.execute(
        """with programme_districts as (
               select distinct s.district
               from teachers t join schools s using (school_id)
               where t.programme = $programme
           )
           select district from programme_districts
           where $everything or list_contains($scope, district)
           order by 1""",
        {"programme": programme, "everything": scope is None, "scope": list(scope or [])}).fetchall()
    return [row[0] for row in rows]


def visit_date_range(con: duckdb.DuckDBPyConnection, config: Config,
                     filters: Filters) -> tuple[dt.date | None, dt.date | None]:
    """First and last date of the visits the figures rest on (visits placed on a round)."""
    rows, params = filtered_rows([], filters, relation="placed_visits")
    frame = query(con, config, f"""
filtered as (
    {rows}
)
select min(visit_date) as first_visit, max(visit_date) as last_visit from filtered
""", params)
    first, last = frame.iloc[0]
    if pd.isna(first):
        return None, None
    return pd.Timestamp(first).date(), pd.Timestamp(last).date()
