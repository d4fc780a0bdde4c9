"""The base relations every indicator starts from, and the shared post-processing.

`BASE_CTES` defines, as named CTEs over the canonical tables:
- `programmes`: code and end date of each programme (from config, bound as lists);
- `placed_visits`: one row per teacher and scheduled round: a visit is placed on the nearest
  scheduled month (months since the teacher's programme end) within +-window_weeks; when a teacher
  has several visits in one round's window the latest counts;
- `observations`: one row per teacher, practice and round where the teacher was present and the
  practice was scored (`na` is missing, never 0), with `retained` = score >= the practice's cut-off;
- `teacher_hindrances`: each teacher with every hindrance any of their visits reported;
- `observed_visit_practices`: placed visits with each practice scored at them, the visit-level
  relation used when a visit-level indicator is grouped or filtered by practice.
"""
from __future__ import annotations

from typing import Sequence

import duckdb
import numpy as np
import pandas as pd

from sustain.config import Config
from sustain.db import execute

from .filters import Filters, check_by

DAYS_PER_MONTH = 30.4375
# what every output says in place of a suppressed value
TOO_FEW = "too few to show"

BASE_CTES = """
programmes as (
    select unnest($programme_codes) as programme, unnest($programme_ends)::date as end_date
),
schedule as (
    select unnest($schedule_months) as months
),
teacher_hindrances as (
    select distinct v.teacher_key, vh.hindrance
    from visits v join visit_hindrances vh using (submission_id)
),
visit_context as (
    -- a visit is placed where it was made (visits hold the roster's place of the school on the
    -- visit date), not where its school is now
    select v.submission_id, v.teacher_key, v.visit_date, v.teacher_status, v.cop_active, v.cop_meetings_3m,
           v.school_id, v.cluster, v.district, v.province, sc.school_type,
           t.programme, t.gender, t.subject,
           date_diff('day', p.end_date, v.visit_date) as days_since_end
    from visits v
    join teachers t using (teacher_key)
    join schools sc on sc.school_id = v.school_id
    join programmes p on p.programme = t.programme
),
placed_visits as (
    select vc.*, s.months
    from visit_context vc
    join schedule s on abs(vc.days_since_end - s.months * $days_per_month) <= $window_days
    qualify row_number() over (partition by vc.teacher_key, s.months
                               order by vc.visit_date desc, vc.submission_id) = 1
),
practice_cutoffs as (
    select unnest($practice_codes) as practice, unnest($practice_cutoffs) as retained_at
),
observed_visit_practices as (
    select pv.*, vp.practice
    from placed_visits pv join visit_practices vp using (submission_id)
    where vp.score is not null
),
observations as (
    select pv.*, vp.practice, vp.score, vp.score >= pc.retained_at as retained
    from placed_visits pv
    join visit_practices vp using (submission_id)
    join practice_cutoffs pc using (practice)
    where pv.teacher_status = 'present' and vp.score is not null
)
"""


def base_params(config: Config) -> dict:
    return {
        "programme_codes": [p.code for p in config.programmes],
        "programme_ends": [p.end_date.isoformat() for p in config.programmes],
        "schedule_months": list(config.schedule.months),
        "days_per_month": DAYS_PER_MONTH,
        "window_days": config.schedule.window_weeks * 7,
        "practice_codes": config.practice_codes,
        "practice_cutoffs": [p.retained_at for p in config.practices],
    }


def query(con: duckdb.DuckDBPyConnection, config: Config, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run `with <BASE_CTES>, <sql>`; `sql` continues the WITH list (named CTEs, then a select)."""
    full = f"with {BASE_CTES},\n{sql}"
    return execute(con, full, base_params(config) | (params or {})).df()


def group_columns(by: Sequence[str], allowed: Sequence[str], always: Sequence[str] = ()) -> list[str]:
    """Allow-listed --by columns, with `always` ones appended when missing (e.g. months)."""
    chosen = check_by(by, allowed)
    return chosen + [c for c in always if c not in chosen]


def select_list(columns: Sequence[str], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return "".join(f"{prefix}{c}, " for c in columns)


def hindrance_join(by: Sequence[str], relation: str) -> str:
    """Grouping by hindrance joins each teacher to every hindrance group they belong to."""
    if "hindrance" not in by:
        return relation
    return f"(select r.*, th.hindrance from {relation} r join teacher_hindrances th using (teacher_key))"


def filtered_rows(by: Sequence[str], filters: Filters, relation: str = "observations") -> tuple[str, dict]:
    """`select * from <relation, joined to hindrance groups when grouped by them> where <filters>`.
    A visit-level relation (`placed_visits`) becomes `observed_visit_practices` when practice is
    grouped on or filtered, so "by practice" means visits at which that practice was scored."""
    level = "practice"
    if relation == "placed_visits":
        if "practice" in by or filters.practice:
            relation = "observed_visit_practices"
        else:
            level = "visit"
    where, params = filters.where(level, hindrance_rows="hindrance" in by)
    return f"select * from {hindrance_join(by, relation)} r where {where}", params


def suppress(frame: pd.DataFrame, by: Sequence[str], value_columns: Sequence[str], min_n: int,
             n_column: str = "n") -> pd.DataFrame:
    """Mark groups whose n is below `min_n` (DESIGN: "groups with n below min_group_n") as
    suppressed and blank their values.

    Complementary suppression: where exactly one group among rows that differ in only one --by
    column is suppressed, the next smallest is suppressed too, so no suppressed value can be
    recovered by subtraction from a total shown beside the groups. `months` is not such a
    dimension (rounds are not parts of a whole).
    """
    frame = frame.copy()
    frame["suppressed"] = frame[n_column].fillna(0) < min_n
    partition_dims = [c for c in by if c != "months"]
    changed = True
    while changed and partition_dims and len(frame) > 1:
        changed = False
        for dim in partition_dims:
            others = [c for c in by if c != dim]
            groups = frame.groupby(others, dropna=False, sort=False) if others else [((), frame)]
            for _, group in groups:
                if len(group) > 1 and group["suppressed"].sum() == 1:
                    candidates = group[~group["suppressed"]].sort_values(n_column, kind="stable")
                    frame.loc[candidates.index[0], "suppressed"] = True
                    changed = True
    for column in (c for c in value_columns if c in frame.columns):
        integer = pd.api.types.is_integer_dtype(frame[column])
        frame[column] = frame[column].astype("Int64" if integer else "float64")
        frame.loc[frame["suppressed"], column] = pd.NA if integer else np.nan
    return frame


def order_rows(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    if frame.empty or not by:
        return frame.reset_index(drop=True)
    return frame.sort_values(list(by), kind="stable").reset_index(drop=True)
