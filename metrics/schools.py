"""Page tables for district officers: `school_trends` (one row per school) and
`teacher_practices` (the teachers of the chosen school). Both have the signature of every table
in metrics/registry.py: `(connection, Filters, by, config) -> DataFrame`.

`school_trends` columns: `school_id, school_name, cluster, district, province, retention,
retention_trend, latest_months, latest_retention, persistence_class, hindrances, n, teachers, suppressed`.

- `retention`: a list with one value per round of `schedule.months` (month 0 first): the
  school's retention at that round, the `retention` indicator grouped by school_id (of the
  school's teacher-practices in use at month 0, the share still in use at the round). A round
  with no observation, or whose cell that table suppresses (fewer than `thresholds.min_group_n`
  distinct teachers, or suppressed with another school of its cluster, district or province), is None.
- `retention_trend`: the same values without the Nones (the rounds shown, in order), for a
  sparkline, which cannot draw gaps.
- `latest_months`, `latest_retention`: the school's latest round after month 0 whose retention
  is shown (not None), and the retention there.
- `n`: teacher-practices in use at month 0 (the base every round's retention is a share of);
  `teachers`: the distinct teachers they belong to (the school's month-0 cell of `retention`).
- `suppressed`: the school's month-0 cell of `retention` by school_id is suppressed (it rests on
  fewer than `thresholds.min_group_n` teachers, or is suppressed with it so that no school can be
  recovered from its cluster's, district's or province's figures, `base.suppress`). A suppressed
  school's retention, hindrances and counts are blank.
- `round`, `programme`, `index_shrunk`, `p_at_risk`, `p_below_programme`, `programme_retention`,
  `persistence_class`: the school's row of `metrics.decay.persistence` (retention at the common
  round, shrunk toward its programme-and-district mean, and the probabilities that it is below
  `thresholds.at_risk_retention` and below its programme's retention at that round); for a school
  with teachers of several programmes, its most at-risk programme's (`decay.by_school`). Classes,
  with e = `thresholds.class_evidence`:
    * "decaying": p_below_programme >= e (evidence that the school keeps fewer practices than its
      programme at that round);
    * "persisting": p_below_programme <= 1 - e;
    * "uncertain": between the two;
    * "too few to show": the school was not observed at the round.
  A school resting on fewer than `thresholds.min_group_n` teachers still has its probabilities
  (rounded to one decimal) and class: they weigh its few observations against its district's.
- `hindrances`: the hindrances reported at the school's visits (teacher present, under the
  filters), as config labels with how many of those visits reported each, most reported first,
  e.g. "Lack of follow-up (7 of 11 visits); Teachers' low pay (2 of 11 visits)". Empty when none
  was reported.

Rows are ordered by the evidence of decay, strongest first: `p_below_programme` descending
(schools without one last), then `p_at_risk` descending, then school_id; so a school of two
teachers at 0% does not lead by noise. A hindrance filter keeps the teachers who reported it (as everywhere): their
observations and their visits. `months_min` / `months_max` are ignored: a trend spans all rounds.
"""
from __future__ import annotations

from typing import Sequence

import duckdb
import numpy as np
import pandas as pd

from sustain.config import DAYS_PER_MONTH, Config

from .as_scored import as_scored_shares
from .base import TOO_FEW, filtered_rows, order_rows, query, suppress_by_school
from .context import hindrance_prevalence
from .decay import CLASSES, DECAYING, PERSISTING, UNCERTAIN, by_school, persistence  # noqa: F401 (re-exported)
from .filters import FilterError, Filters, check_by

# the unit is the school: --by may only name its hierarchy (always present as columns)
SCHOOL_BY = ["province", "district", "cluster", "school_id"]

SCHOOL_COLUMNS = ["school_id", "school_name", "cluster", "district", "province", "retention", "retention_trend",
                  "latest_months", "latest_retention", "programme", "round", "index_shrunk", "p_at_risk",
                  "p_below_programme", "programme_retention", "persistence_class", "hindrances", "n", "teachers",
                  "suppressed"]
EVIDENCE_COLUMNS = ["programme", "round", "index_shrunk", "p_at_risk", "p_below_programme", "programme_retention",
                    "persistence_class"]


def school_trends(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                  config: Config) -> pd.DataFrame:
    """One row per school: retention by round, its evidence of decay at the common round and its
    class, and its hindrances (see the module docstring)."""
    check_by(by, SCHOOL_BY)
    rounds = list(config.schedule.months)
    original, filters = filters, filters.replace(months_min=None, months_max=None)

    # the retention indicator by school, suppressed as it is (on distinct teachers, with
    # complementary suppression within each cluster, district and province): a school's row
    # stands or falls with its month-0 cell, a round is shown when its cell is
    cells = school_retention(con, filters, config)
    context = _school_context(con, filters, config)

    frame = context[context["school_id"].isin(cells["school_id"])]
    frame = frame.sort_values("school_id").reset_index(drop=True)
    # each cell's row in `frame` and column in the (school x round) grid, as positions: the
    # grid is filled by numpy, not a pandas lookup per school
    row = pd.Index(frame["school_id"]).get_indexer(cells["school_id"])
    at_round = pd.Index(rounds).get_indexer(cells["months"])
    hidden = cells["suppressed"].to_numpy(dtype=bool)
    base = (row >= 0) & (cells["months"] == 0).to_numpy()
    shown_base = np.zeros(len(frame), dtype=bool)
    shown_base[row[base & ~hidden]] = True
    suppressed = ~shown_base
    for name in ("n", "teachers"):
        counts = pd.array([pd.NA] * len(frame), dtype="Int64")
        counts[row[base]] = cells.loc[base, name].astype("Int64").to_numpy()
        counts[suppressed] = pd.NA
        frame[name] = counts
    frame["suppressed"] = suppressed
    grid = np.full((len(frame), len(rounds)), np.nan)
    placed = (row >= 0) & (at_round >= 0) & ~hidden
    grid[row[placed], at_round[placed]] = cells.loc[placed, "rate"].to_numpy(dtype="float64", na_value=np.nan)
    grid[suppressed] = np.nan
    frame.loc[suppressed, "hindrances"] = ""

    frame["retention"], frame["retention_trend"] = _retention_lists(grid)
    frame["latest_months"], frame["latest_retention"] = _latest(grid, rounds)
    evidence = by_school(persistence(con, original, [], config)).reindex(frame["school_id"])
    for column in EVIDENCE_COLUMNS:
        frame[column] = evidence[column].to_numpy()
    frame["round"] = frame["round"].astype("Int64")
    frame["persistence_class"] = frame["persistence_class"].fillna(TOO_FEW)
    frame = frame.sort_values(["p_below_programme", "p_at_risk", "school_id"], ascending=[False, False, True],
                              na_position="last", kind="stable")
    return frame[SCHOOL_COLUMNS].reset_index(drop=True)


def school_retention(con: duckdb.DuckDBPyConnection, filters: Filters, config: Config) -> pd.DataFrame:
    """The `retention` indicator by school_id (`school_id, months, rate, retained, n, teachers,
    suppressed`), suppressed as that table is, without its interval: a table of every school
    shows none, and at national scale the interval is most of the cost."""
    by = ["school_id", "months"]
    frame = as_scored_shares(con, filters, by, config, interval=False)
    if frame.empty:  # no rows: the --by columns are untyped, as an empty table has always given them
        frame = frame.astype({c: object for c in by})
    frame = order_rows(frame, by)
    values = ["rate", "retained", "n", "teachers"]
    # suppressed on integer codes of the schools and of their cluster, district and province
    # (`base.suppress_by_school`): the same groups as the names make, without grouping a row per
    # school and round by text
    shown = suppress_by_school(con, frame[[*by, *values]], by, values, config.thresholds.min_group_n)
    return shown[[*by, *values, "suppressed"]]


def _retention_lists(grid: np.ndarray) -> tuple[list, np.ndarray]:
    """Per row of `grid` (schools x rounds, NaN: no value shown), its values as a list with None
    for NaN, and the list of its values shown. Built per pattern of rounds shown (a few), not per
    school."""
    if not len(grid):  # no school: empty lists, typed as an empty table has always had them
        return [], []
    shown = ~np.isnan(grid)
    values = grid.astype(object)
    values[~shown] = None
    trend = np.empty(len(grid), dtype=object)
    # each row's pattern as one integer (a bit per round), grouped by a stable sort of it
    key = shown.astype("int64") @ (np.int64(1) << np.arange(grid.shape[1], dtype="int64"))
    order = np.argsort(key, kind="stable")
    starts = np.flatnonzero(np.r_[True, key[order][1:] != key[order][:-1]])
    for start, end in zip(starts, np.r_[starts[1:], len(order)]):
        rows = order[start:end]
        trend[rows] = grid[np.ix_(rows, np.flatnonzero(shown[rows[0]]))].tolist()
    return values.tolist(), trend


def _latest(grid: np.ndarray, rounds: list[int]) -> tuple[pd.arrays.IntegerArray, np.ndarray]:
    """Per row of `grid` (schools x rounds, NaN: no value shown), the latest round after month 0
    with a value shown and that value (NA and NaN when there is none)."""
    later = ~np.isnan(grid) & (np.asarray(rounds) > 0)
    found = later.any(axis=1)
    # the last True of each row: the first of the reversed row
    last = np.where(found, grid.shape[1] - 1 - np.argmax(later[:, ::-1], axis=1), 0) if grid.shape[1] else \
        np.zeros(len(grid), dtype="int64")
    months = pd.array([pd.NA] * len(grid), dtype="Int64")
    months[found] = np.asarray(rounds, dtype="int64")[last[found]]
    return months, np.where(found, grid[np.arange(len(grid)), last] if grid.shape[1] else np.nan, np.nan)


HIERARCHY = ["province", "district", "cluster", "school_id"]


def within(table: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The rows of a school table (school_trends) inside the hierarchy filters (province,
    district, cluster, school_id) of `filters`: the districts page's drill-down narrows the
    schools shown without a new query (classes and suppression stay those of the whole table)."""
    keep = pd.Series(True, index=table.index)
    for column in HIERARCHY:
        values = getattr(filters, column)
        if values:
            keep &= table[column].isin(values)
    return table[keep]


def _school_context(con: duckdb.DuckDBPyConnection, filters: Filters, config: Config) -> pd.DataFrame:
    """Each school with visits under the filters: its names and hierarchy, and the hindrances
    reported at its visits with the teacher present (counts of visits)."""
    if filters.practice or not visits_placed_once(config):
        # one row per practice scored (a practice filter), or a visit placed on two rounds: each
        # visit once
        rows, params = filtered_rows([], filters, "placed_visits")
        visits = f"""
present_visits as (
    select distinct submission_id, school_id from ({rows}) where teacher_status = 'present'
),
school_visits as (
    select school_id, count(*) as visits from present_visits group by all
),
reported as (
    select pv.school_id, vh.hindrance
    from present_visits pv join visit_hindrances vh using (submission_id)
),"""
    else:
        # each placed visit is a visit, with its hindrances listed (model_visits: `placed_visits`
        # with that list), read twice rather than through one CTE that DuckDB would materialise
        rows, params = filtered_rows([], filters, "model_visits")
        visits = f"""
school_visits as (
    select school_id, count(*) as visits from ({rows}) where teacher_status = 'present' group by all
),
reported as (
    select school_id, unnest(hindrances) as hindrance
    from ({rows}) where teacher_status = 'present' and len(hindrances) > 0
),"""
    # the text is built where the counts are (one string per school, most reported first, then in
    # config order; codes outside the config after them, by code), not in a Python loop per school
    codes = config.hindrance_codes
    params = params | {"label_codes": codes, "label_texts": [config.hindrance_label(c) for c in codes]}
    frame = query(con, config, f"""{visits}
school_hindrances as (
    select school_id, hindrance, count(*) as reported from reported group by all
),
hindrance_labels as (
    select unnest($label_codes::varchar[]) as hindrance, unnest($label_texts::varchar[]) as label,
           unnest(range(len($label_codes::varchar[]))) as rank
),
school_texts as (
    select sh.school_id,
           string_agg(coalesce(hl.label, sh.hindrance) || ' (' || sh.reported || ' of ' || sv.visits || ' visits)',
                      '; ' order by sh.reported desc, coalesce(hl.rank, $label_count), sh.hindrance) as hindrances
    from school_hindrances sh
    join school_visits sv using (school_id)
    left join hindrance_labels hl using (hindrance)
    group by sh.school_id
)
select sc.school_id, sc.school_name, sc.cluster, sc.district, sc.province,
       coalesce(st.hindrances, '') as hindrances
from school_visits sv
join schools sc using (school_id)
left join school_texts st using (school_id)
""", params | {"label_count": len(codes)})
    if frame.empty:  # no school: the column is untyped, as an empty table has always given it
        frame["hindrances"] = frame["hindrances"].astype("float64")
    return frame[["school_id", "school_name", "cluster", "district", "province", "hindrances"]]


def visits_placed_once(config: Config) -> bool:
    """True when no visit can be placed on two rounds (ingest/model.py places a visit on every
    round within schedule.window_weeks of it, then keeps the latest visit per teacher and round):
    the windows of consecutive rounds do not overlap."""
    months = sorted(set(config.schedule.months))
    window = config.schedule.window_weeks * 7
    return all((later - earlier) * DAYS_PER_MONTH > 2 * window for earlier, later in zip(months, months[1:]))


TEACHER_COLUMNS = ["teacher_key", "school_id", "latest_months", "retained_practices", "lost_practices", "retained",
                   "n", "teachers", "suppressed"]


def teacher_practices(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                      config: Config) -> pd.DataFrame:
    """The teachers of the chosen school(s), by pseudonymous key only, with their practices at
    their latest observed round.

    Needs a `school_id` filter (a teacher-level table is for one school's follow-up visit, never
    a list of all teachers): FilterError otherwise.

    Columns: `teacher_key, school_id, latest_months` (the teacher's latest round with a practice
    observed), `retained_practices` (config labels of the practices retained there, in config
    order), `lost_practices` (retained at month 0, observed and not retained at the latest round),
    `retained` (count of retained practices there), `n` (practices observed there), `teachers` (1),
    `suppressed`. Suppression follows the school: when the school's teacher-practices in use at
    month 0 belong to fewer than `thresholds.min_group_n` distinct teachers (its `school_trends`
    teachers), every row is suppressed (values blank).
    """
    check_by(by, SCHOOL_BY)
    if not filters.school_id:
        raise FilterError("teacher_practices needs a school_id filter (one school's teachers)")
    rows, params = filtered_rows([], filters)
    frame = query(con, config, f"""
filtered as (
    {rows}
),
latest as (
    select teacher_key, school_id, max(months) as latest_months from filtered group by all
),
baseline as (
    select teacher_key, school_id, practice from filtered where months = 0 and retained
),
at_latest as (
    select f.teacher_key, f.school_id, f.practice, f.retained, l.latest_months,
           b.practice is not null as retained_at_start
    from filtered f
    join latest l on l.teacher_key = f.teacher_key and l.school_id = f.school_id and f.months = l.latest_months
    left join baseline b on b.teacher_key = f.teacher_key and b.school_id = f.school_id and b.practice = f.practice
),
school_base as (
    select school_id, count(distinct teacher_key) as base from baseline group by all
)
select a.teacher_key, a.school_id, any_value(a.latest_months) as latest_months,
       list(a.practice) filter (where a.retained) as retained_codes,
       list(a.practice) filter (where a.retained_at_start and not a.retained) as lost_codes,
       count(*) filter (where a.retained) as retained,
       count(*) as n,
       1 as teachers,
       coalesce(any_value(sb.base), 0) as school_base
from at_latest a left join school_base sb using (school_id)
group by a.teacher_key, a.school_id
order by a.school_id, a.teacher_key
""", params)
    frame["retained_practices"] = [_practice_text(codes, config) for codes in frame["retained_codes"]]
    frame["lost_practices"] = [_practice_text(codes, config) for codes in frame["lost_codes"]]
    frame["suppressed"] = frame["school_base"] < config.thresholds.min_group_n
    hidden = frame["suppressed"]
    for column in ("latest_months", "retained", "n", "teachers"):
        frame[column] = frame[column].astype("Int64")
        frame.loc[hidden, column] = pd.NA
    frame.loc[hidden, ["retained_practices", "lost_practices"]] = ""
    return frame[TEACHER_COLUMNS].reset_index(drop=True)


# the areas around a school, nearest first: where the chosen school's hindrances are looked for
AREAS = ["school_id", "cluster", "district", "province"]
AREA_COLUMNS = ["level", "area", "hindrance", "rate", "n", "reported", "teachers", "suppressed"]


def area_hindrances(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                    config: Config) -> pd.DataFrame:
    """The officer's "why" for one school: the hindrances reported at the visits of the nearest
    area around the chosen school (`filters.school_id`, exactly one) whose figures can be shown:
    the school itself, else its cluster, else its district, else its province.

    An area's figures are its rows of `hindrance_prevalence` grouped by that level (`level`:
    school_id, cluster, district or province) under the same filters without the drill-down
    (school_id, cluster), suppressed as that table is: on distinct teachers, with complementary
    suppression within the parents. So nothing is shown that the Hindrances table by that level
    would hide, and a school's own figures cannot be had from its cluster's by subtraction (that
    table hides a second school, or the cluster, with it). The nearest level whose rows are all
    shown is returned (an area with one hindrance hidden by the complementary rule would answer
    "why" without it), most reported first; no row when no area can be shown.

    Why not the school's own count of visits reporting each hindrance: with fewer than
    `thresholds.min_group_n` teachers a count of their visits is a fact about one or two named
    teachers (a hindrance is reported at a teacher's visit), which is what suppression forbids.

    Columns: `level, area` (the area's value at that level), `hindrance, rate` (share of the
    area's visits with the teacher present reporting it), `n` (those visits), `reported`,
    `teachers` (distinct teachers visited), `suppressed`.
    """
    check_by(by, [])
    if len(filters.school_id) != 1:
        raise FilterError("area_hindrances needs one school_id (the chosen school)")
    place = con.execute("select school_id, cluster, district, province from schools where school_id = $school",
                        {"school": filters.school_id[0]}).df()
    wide = filters.replace(school_id=(), cluster=())
    for level in AREAS:
        if place.empty:
            break
        area = place[level].iloc[0]
        rows = hindrance_prevalence(con, wide, [level], config)
        rows = rows[rows[level] == area]
        if len(rows) and not rows["suppressed"].any():
            rows = rows.rename(columns={level: "area"}).assign(level=level)
            return rows.sort_values("rate", ascending=False, kind="stable")[AREA_COLUMNS].reset_index(drop=True)
    return pd.DataFrame({column: pd.Series(dtype="object") for column in AREA_COLUMNS})


def _practice_text(codes, config: Config) -> str:
    chosen = set(codes) if isinstance(codes, (list, np.ndarray)) else set()
    return ", ".join(config.practice_label(code) for code in config.practice_codes if code in chosen)
