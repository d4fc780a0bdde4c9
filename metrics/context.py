"""What surrounds the practices: hindrance_prevalence, cop_activity and coverage.

These are visit- or roster-level indicators. Grouping or filtering them by `practice` uses the
visits at which that practice was scored (coverage: teacher-practices scored at a round).
"""
from __future__ import annotations

from typing import Sequence

import duckdb
import numpy as np
import pandas as pd

from sustain.config import Config
from sustain.dimensions import teacher_select

from .base import (HIERARCHY, filtered_rows, group_columns, hindrance_join, order_rows, query, school_hierarchy, select_list,
                   suppress)
from .filters import BY_COLUMNS, Filters

NOT_HINDRANCE = [c for c in BY_COLUMNS if c != "hindrance"]


def hindrance_prevalence(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                         config: Config) -> pd.DataFrame:
    """Share of visits (teacher present, so the context questions were asked) reporting each
    hindrance. Rows are always by hindrance (the hindrance filter picks which ones)."""
    by = group_columns(by, NOT_HINDRANCE)
    codes = list(filters.hindrance) or config.hindrance_codes
    # the rows of `filtered_rows(by, ..., "placed_visits")` with each visit's hindrance list (model_visits
    # holds it; placed_visits leaves it out): visits, or visits with each practice scored at them
    per_practice = "practice" in by or bool(filters.practice)
    relation = ("(select o.*, mv.hindrances from observed_visit_practices o join model_visits mv using (submission_id))"
                if per_practice else "model_visits")
    where, params = filters.replace(hindrance=()).where("practice" if per_practice else "visit", keyed=True)
    # a group by months holds a teacher's one visit of that round (one row per practice scored at it,
    # by practice); otherwise a teacher may be in a group several times
    once = "months" in by and (not per_practice or "practice" in by)
    # every hindrance of a group shares its visits (n) and teachers; only `reported` differs: one
    # pass over the visits counts them all (not every visit crossed with every hindrance: millions
    # of rows in a national view, nor a join to the reports)
    reports = ", ".join(f"count(*) filter (where list_contains(hindrances, $hindrance_{i}))"
                        for i in range(len(codes)))
    frame = query(con, config, f"""
filtered as (
    select * from {relation} r where ({where}) and teacher_status = 'present'
),
group_visits as (
    select {select_list(by)} count(*) as n,
           {"count(*)" if once else "count(distinct teacher_key)"} as teachers,
           [{reports}] as reports
    from filtered
    group by all
),
group_hindrances as (
    select {select_list(by)} unnest($codes::varchar[]) as hindrance, unnest(reports) as reported, n, teachers
    from group_visits
    where n > 0
)
select {select_list(by)} hindrance, reported::double / n as rate, n, reported, teachers
from group_hindrances
""", params | {"codes": codes} | {f"hindrance_{i}": code for i, code in enumerate(codes)})
    frame["hindrance"] = pd.Categorical(frame["hindrance"], categories=config.hindrance_codes, ordered=True)
    frame = order_rows(frame, ["hindrance", *by]).astype({"hindrance": str})
    frame = suppress(frame, [*by, "hindrance"], ["rate", "n", "reported", "teachers"], config.thresholds.min_group_n,
                     n_column="teachers", hierarchy=school_hierarchy(con))
    return frame[[*by, "hindrance", "rate", "n", "reported", "teachers", "suppressed"]]


ALL_CLUSTERS = "select distinct cluster from schools"


def _view_clusters(filters: Filters | None) -> tuple[str, dict]:
    """(a query of the clusters where the visits of these filters' places are placed, its
    parameters): `ALL_CLUSTERS` when the filters name no place (province, district, cluster,
    school, scope), so a country's view does not list them from its visits."""
    if filters is None:
        return ALL_CLUSTERS, {}
    place = Filters(**{level: getattr(filters, level) for level in HIERARCHY}, scope=filters.scope)
    if place == Filters():
        return ALL_CLUSTERS, {}
    where, params = place.where("visit", alias="v", keyed=True)
    return f"select distinct v.cluster from model_visits v where {where}", params


def _cluster_meetings_ctes(by_months: bool, clusters: str = ALL_CLUSTERS) -> str:
    """The CTEs ending in `cluster_meetings`: each cluster's CoP meetings logged after its programme
    ended and the months elapsed, over one period from the end to the last round (or today,
    whichever is first), or one period per round (since the previous round) when by months; for
    the clusters the query `clusters` names (`chosen_clusters`), each over all its schools."""
    periods = ("select months, lag(months) over (order by months) as previous, months as upto from schedule"
               if by_months else "select null::integer as months, 0 as previous, max(months) as upto from schedule")
    return f"""
chosen_clusters as (
    {clusters}
),
cluster_end as (
    select sc.cluster, min(p.end_date) as end_date
    from schools sc join teachers t using (school_id) join programmes p using (programme)
    where sc.cluster in (select cluster from chosen_clusters)
    group by sc.cluster
),
periods as (
    {periods}
),
cluster_periods as (
    select ce.cluster, pe.months,
           ce.end_date + to_days(cast(round(pe.previous * $days_per_month) as integer)) as period_start,
           least(ce.end_date + to_days(cast(round(pe.upto * $days_per_month) as integer)), $today::date) as period_end
    from cluster_end ce cross join periods pe
    where pe.months is null or pe.months > 0
),
cluster_meetings as (
    select cp.cluster, cp.months,
           greatest(date_diff('day', cp.period_start, cp.period_end), 0) / $days_per_month as months_elapsed,
           count(m.meeting_key) as meetings
    from cluster_periods cp
    left join cop_meetings m on m.cluster = cp.cluster
         and m.meeting_date > cp.period_start and m.meeting_date <= cp.period_end
    group by all
)"""


def _meetings_per_month(frame: pd.DataFrame) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(frame["months_elapsed"] > 0, frame["meetings"] / frame["months_elapsed"], np.nan)


def cop_activity(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                 config: Config) -> pd.DataFrame:
    """Communities of practice after month 0, by cluster unless grouped otherwise.

    meetings_per_month: meetings in the CoP log of the group's clusters after their programme
    ended, over the months elapsed (to the last scheduled round or today, whichever is first;
    by `months`: within the interval since the previous round). active_share: share of
    follow-up visits after month 0 answering that the cluster's community met in the last month.
    n: those visits."""
    by = group_columns(by, BY_COLUMNS) or ["cluster"]
    rows, params = filtered_rows(by, filters, "placed_visits")
    by_months = "months" in by
    # the columns read below, so the visits shared by two CTEs are held narrow
    kept = [*by, *(c for c in ("cluster", "teacher_key", "cop_active") if c not in by)]
    clusters, cluster_params = _view_clusters(filters)
    frame = query(con, config, f"""
filtered as (
    select {", ".join(kept)} from ({rows}) where months > 0 and teacher_status = 'present'
),{_cluster_meetings_ctes(by_months, clusters)},
group_clusters as (
    select distinct {select_list(by)} cluster as group_cluster from filtered
),
group_meetings as (
    select {select_list(by, "g")} sum(cm.meetings) as meetings, sum(cm.months_elapsed) as months_elapsed
    from group_clusters g join cluster_meetings cm
      on cm.cluster = g.group_cluster {"and cm.months = g.months" if by_months else ""}
    group by all
),
group_visits as (
    select {select_list(by)}
           avg(cop_active::integer) as active_share,
           count(*) filter (where cop_active is not null) as n,
           count(distinct teacher_key) as teachers
    from filtered
    group by all
)
select {select_list(by, "v")} gm.meetings, gm.months_elapsed, v.active_share, v.n, v.teachers
from group_visits v left join group_meetings gm using ({", ".join(by)})
""", params | cluster_params | {"today": _today()})
    frame["meetings_per_month"] = _meetings_per_month(frame)
    frame = suppress(order_rows(frame, by), by, ["meetings_per_month", "active_share", "n", "meetings", "teachers"],
                     config.thresholds.min_group_n, n_column="teachers", hierarchy=school_hierarchy(con))
    return frame[[*by, "meetings_per_month", "active_share", "n", "meetings", "teachers", "suppressed"]]


def cluster_meetings_per_month(con: duckdb.DuckDBPyConnection, config: Config,
                               within: Filters | None = None) -> pd.DataFrame:
    """`cop_activity`'s meetings_per_month by cluster, unfiltered and unsuppressed (cluster,
    meetings_per_month), for the clusters it has a row for (a follow-up visit after month 0 with
    the teacher present) and a rate (months elapsed): the same CTEs, without counting the visits.
    `within`: only the clusters where visits in these filters' places (province, district,
    cluster, school, scope) are placed, each still over all its schools: a school's view reads
    its cluster's rows, not the country's."""
    clusters, params = _view_clusters(within)
    frame = query(con, config, f"""{_cluster_meetings_ctes(False, clusters)},
followed_clusters as (
    select distinct cluster from placed_visits
    where months > 0 and teacher_status = 'present' and cluster in (select cluster from chosen_clusters)
)
select f.cluster, cm.meetings, cm.months_elapsed
from followed_clusters f join cluster_meetings cm using (cluster)
""", params | {"today": _today()})
    frame["meetings_per_month"] = _meetings_per_month(frame)
    return frame.loc[frame["meetings_per_month"].notna(), ["cluster", "meetings_per_month"]].reset_index(drop=True)


def coverage(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
             config: Config) -> pd.DataFrame:
    """Roster teachers visited per scheduled round (always by months).

    expected: roster teachers whose round has come due (programme end + round <= today), less
    those recorded as left or transferred at an earlier round; observed: those with a visit
    placed on the round (any status). Groups use the roster's school of the teacher. By or
    filtered on practice: teacher-practices expected and scored."""
    by = group_columns(by, BY_COLUMNS, always=["months"])
    per_practice = "practice" in by or bool(filters.practice)
    units = "expected_practices" if per_practice else "expected_teachers"
    # a hindrance filter keeps the teachers who reported one at any placed visit (`Filters.where`'s
    # rule, read from the model's `teacher_hindrances`)
    where, params = filters.where("practice" if per_practice else "visit", hindrance_rows="hindrance" in by)
    # a group holds each teacher once per round (and hindrance, when grouped by it): the roster has
    # one row per teacher, the schedule one per round; not so for teacher-practices (unless by practice)
    teachers = ("count(distinct teacher_key)" if per_practice and "practice" not in by
                else "count(*)")
    # the roster's own filters (place and teacher; not the round, practice or hindrance) narrow the
    # teachers whose visits are read: a district's coverage reads its teachers' visits, not the
    # country's (DuckDB did not push the filter that far once a hindrance filter was joined)
    roster_where, roster_params = filters.replace(months_min=None, months_max=None, practice=(),
                                                  hindrance=()).where("visit")
    in_view = "" if roster_where == "true" else \
        "where teacher_key in (select teacher_key from roster_in_view)"
    frame = query(con, config, f"""
roster_in_view as (
    select t.teacher_key, {teacher_select("t")}, t.school_id,
           sc.cluster, sc.district, sc.province, sc.school_type
    from teachers t
    join schools sc using (school_id)
    where {roster_where}
),
teacher_visits as (
    -- each teacher's placed rounds (one visit a round) and the first round recorded as gone
    select teacher_key, list(months) as visited_rounds,
           min(months) filter (where teacher_status in ('left', 'transferred')) as gone_at
    from model_visits
    {in_view}
    group by teacher_key
),
roster as (
    select r.*, tv.visited_rounds, tv.gone_at
    from roster_in_view r
    left join teacher_visits tv using (teacher_key)
),
due_rounds as (
    select p.programme, s.months
    from programmes p cross join schedule s
    where p.end_date + to_days(cast(round(s.months * $days_per_month) as integer)) <= $today::date
),
expected_teachers as (
    select r.* exclude (visited_rounds, gone_at), d.months,
           coalesce(list_contains(r.visited_rounds, d.months), false) as visited
    from roster r
    join due_rounds d using (programme)
    where r.gone_at is null or d.months <= r.gone_at
),
expected_practices as (
    select e.* exclude (visited), pc.practice,
           exists (select 1 from observed_visit_practices o
                   where o.teacher_key = e.teacher_key and o.months = e.months and o.practice = pc.practice) as visited
    from expected_teachers e cross join practice_cutoffs pc
),
filtered as (
    select * from {hindrance_join(by, units)} r where {where}
)
select {select_list(by)}
       count(*) filter (where visited) as observed,
       count(*) as expected,
       {teachers} as teachers
from filtered
group by all
""", params | roster_params | {"today": _today()})
    frame["rate"] = frame["observed"] / frame["expected"]
    frame["n"] = frame["expected"]
    frame = suppress(order_rows(frame, by), by, ["observed", "expected", "rate", "n", "teachers"],
                     config.thresholds.min_group_n, n_column="teachers", hierarchy=school_hierarchy(con))
    return frame[[*by, "observed", "expected", "rate", "n", "teachers", "suppressed"]]


def _today():
    import datetime as dt

    return dt.date.today()
