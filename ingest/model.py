"""The analysis model: the tables every indicator reads, built at the end of each import.

Indicators never rebuild placement from raw visits: they aggregate (or fit models on) these
tables. `refresh_model(con, config, teachers)` recomputes the rows of the given teachers only
(an import touches few teachers; a roster import or a changed schedule rebuilds everything).
`model_info` keeps a fingerprint of the configuration the model was built with (schedule,
window, programme end dates, practices and their cut-offs); a reader meeting a model built
under another configuration is told to rebuild it (`python -m ingest --rebuild-model`).

The tables are created by migration 2 (sustain/db.py MIGRATIONS; the rollups by 5 and 7,
`model_unit_patterns` and `unscored_cells` by 8, which dropped the former response weights).
Columns, documented as dbt documents a model:

`model_visits`: placed visits, one row per teacher and scheduled round.
  submission_id, teacher_key   the visit and the teacher's pseudonymous key
  months                       the scheduled round (months since the cohort's programme end) the
                               visit is placed on: the nearest round within +- schedule.window_weeks;
                               several visits in one round's window: the latest counts
  visit_date, days_since_end   the date and days since the programme's end date
  teacher_status, cop_active, cop_meetings_3m   as recorded at the visit
  school_id, cluster, district, province, school_type   where the visit was made
  programme, gender, subject   the teacher's (roster), then any other teacher-level dimension of
                               the catalogue (sustain/dimensions.py `teacher_dimensions`)
  hindrances                   list of hindrance codes reported at the visit (empty list: none)

`model_observations`: one row per placed visit where the teacher was present and a practice was
  scored (`na` is missing, never 0): the model_visits columns (but hindrances) plus
  practice, score, retained (score >= the practice's `retained_at`).

`person_period`: one row per teacher-practice in use at month 0 (retained at its month-0
  observation) and per scheduled round t > 0.
  teacher_key, practice, months        the unit and the round
  observed                             the practice was scored at a present visit at t
  retained                             retained at t (null when not observed)
  at_risk                              observed at t and no event at an earlier round: in the
                                       discrete-time risk set of round t
  event                                at_risk and not retained: the first visit not retained
                                       (abandonment dated at that visit; it happened in the
                                       interval since the last retained visit)
  censored                             the last round the unit was observed, retained, with no
                                       later observation: follow-up ends here without an event
  confirmed_event                      event, and not retained at the next observed round too
                                       (the "confirmed abandonment" sensitivity rule)
  months_prev                          the previous round with a placed visit of the teacher
  hindrances_now, hindrances_prev      hindrances reported at the visit of round t, and at the
                                       teacher's previous placed visit (exposure for round t)
  hindrances_m0                        hindrances reported at the month-0 visit
  school_id, cluster, district, province, school_type   where the unit was observed at t (the
                                       round's visit), else where it was at month 0
  programme, gender, subject, ...      the teacher's (the catalogue's teacher-level dimensions)

`model_unit_patterns`: one row per unit (teacher-practice scored at month 0, in use or not):
  teacher_key, practice and `pattern`, its round symbols coded base 5 (sustain/patterns.py
  `unit_pattern_ctes`, the one definition). A unit's pattern reads all its teacher's rounds, so it is
  refreshed with the teacher's other rows (per teacher, like `person_period`).

`rollup_cells`: the sufficient statistics of retention's scored units and of prevalence per school
  and cell, so a country or district view reads thousands of rows, not the person-period table. One
  row per measure (`prevalence`: each observation; `retention`: each unit in use at month 0 at its
  month-0 observation, and each later round where it was scored), grain (sustain/dimensions.py
  `rollup_grains`: the dimension columns it keeps, null in the others) and the kept columns (always
  the school's place, programme and months): retained, n (rows) and teachers (distinct teachers of
  the cell); in retention's cells also survival's first-drop counts (metrics/survival.py): at_risk
  (the rows in the risk set: every month-0 row, and the later rounds' `at_risk`) and events (null
  in prevalence's cells).

`unscored_cells`: retention's units not scored at a round (metrics/as_scored.py counts each one as
  the latent model's value for its pattern), per school cell: one row per grain (the grains of
  `rollup_grains` that keep the practice: the model is fitted per programme and practice), the
  kept columns (months among them), and `pattern` (`model_unit_patterns`): `units`, the
  person-period rows not observed at that round. An unscored unit lies where it was at month 0; it
  is one row, so its count adds up over any pooling. With `rollup_cells` (retention's retained, n and
  teachers), a retention view's per-school totals (units = n + unscored units) are sums of cells.
  At national scale a school cell holds a few units, so the table has about one row per unscored
  unit-round (no smaller than the rows): what it saves is computing each unit's pattern, and the
  join to person_period, at every view.

`pattern_cells`: the latent model's sufficient statistics (metrics/latent.py), so its fit reads
  cells, not rows: one row per month-0 school cell (the school's place, programme, practice and
  the catalogue's teacher-level columns, where the unit was observed at month 0) and `pattern` (the
  unit's round symbols coded base 5, sustain/patterns.py): `units`, the teacher-practices scored at
  month 0 (in use or not) with that pattern. A unit lies in one cell, so the counts add up over
  any pooling.

An import rewrites the cells (`rollup_cells`, `unscored_cells`, `pattern_cells`) of the schools it
touched only: every school where one of its teachers was observed, before or after the import (a
unit's unscored rounds lie at its month-0 school, one of them).

`pattern_hindrance_cells`: `pattern_cells` per hindrance group: `hindrance` and the same columns,
  counting the units whose teacher reported that hindrance at any placed visit (the rule of a
  hindrance filter or group: `teacher_hindrances` in metrics/base.py), so a view filtered by one
  hindrance or grouped by hindrance fits the latent model on cells too. A teacher is in every
  group they reported, so the counts add up within one hindrance, never across hindrances. A
  teacher's hindrances change only with their visits, which puts the schools of all their
  observations (their month-0 school among them) in the refresh's scope.

`rollup_hindrance_cells`, `unscored_hindrance_cells`: retention's `rollup_cells` and `unscored_cells`
  per hindrance group: `hindrance` and the same columns, at the grains without the teacher-level
  factors (sustain/dimensions.py `HINDRANCE_GRAINS`: `core` and `practice`; the unscored units at
  `practice`), counting the rows of the teachers who reported that hindrance at any placed visit
  (the rule of a hindrance filter or group), so a retention view filtered by one hindrance or
  grouped by hindrance sums cells too (metrics/rollups.py). Within one hindrance a teacher's rows
  are theirs alone, so the counts add up as in `rollup_cells`; across hindrances they do not. Their
  refresh scope is `pattern_hindrance_cells`'.

Every row and cell carries `district_key` (sustain/dimensions.py `district_key_sql`: an integer hash of
its district, which a district's filter also tests), and rows are written ordered by province,
district key and school, so that DuckDB's per-row-group min/max (zone maps) let a province's, a
district's or a school's view skip the rest of the country (DuckDB keeps only the first bytes of a
text's min and max: districts named alike could not be told apart by their names); an incremental
refresh appends its teachers' rows after them (a full rebuild, `--rebuild-model`, orders everything
again). Within a school the order is the cheapest to produce, not a contract: `model_visits` by
teacher and round; `model_observations` and `person_period` sort by the row id of the
`model_visits` row whose place they take (written just before in that order: an integer sort, not
five text keys), so a teacher's rows stay together; the cells by an integer place id numbered in
that place order.
"""
from __future__ import annotations

import hashlib
import json
from typing import Callable

import duckdb

from sustain.config import DAYS_PER_MONTH, Config
from sustain.db import execute
from sustain.dimensions import (CATALOGUE, HINDRANCE_GRAINS, MODEL_CORE_TEACHER_COLUMNS, district_key_sql,
                                model_fingerprint_basis, place_columns, rollup_grains, teacher_dimensions,
                                teacher_select)
from sustain.patterns import LEAVING_STATUSES, unit_pattern_ctes

MODEL_TABLES = ("model_visits", "model_observations", "person_period")
# the cells stored per school (refreshed for the schools an import touched: `refresh_rollups`)
CELL_TABLES = ("rollup_cells", "unscored_cells", "pattern_cells", "pattern_hindrance_cells",
               "rollup_hindrance_cells", "unscored_hindrance_cells")
# what the model's tables are made of; a change here rebuilds every model at the next import or start
# (3: `pattern_cells`; 4: `model_unit_patterns` and `unscored_cells`, without the response classes;
# 5: `pattern_hindrance_cells`; 6: `rollup_hindrance_cells`, `unscored_hindrance_cells`;
# 7: `model_teacher_hindrances`; 8: survival's `at_risk` and `events` in retention's cells;
# 9: `district_key` on the rows and cells, stored by province, district key and school)
MODEL_VERSION = 9
# the model's tables of one row per teacher and something, rebuilt with the teacher's rows
TEACHER_TABLES = ("model_unit_patterns", "model_teacher_hindrances")


# each teacher with every hindrance any of their placed visits reported, once, in hindrance order
# (a hindrance filter reads that hindrance's rows: DuckDB skips the others by their min and max)
TEACHER_HINDRANCES_SQL = """
insert into model_teacher_hindrances
select distinct teacher_key, unnest(hindrances) as hindrance from model_visits
where $scope_all or teacher_key in (select teacher_key from model_scope)
order by hindrance, teacher_key
"""


def _columns(alias: str = "") -> str:
    """The catalogue's teacher-level dimension columns (sustain/dimensions.py), `alias.`-prefixed."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{d.name}" for d in teacher_dimensions())


def ensure_dimension_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Add to the model tables the catalogue's teacher-level columns migration 2 did not create
    (names are code identifiers from the catalogue; values are always computed, never spliced)."""
    for d in teacher_dimensions():
        if d.name not in MODEL_CORE_TEACHER_COLUMNS:
            for table in (*MODEL_TABLES, *CELL_TABLES):
                con.execute(f"alter table {table} add column if not exists {d.name} varchar")


# The model's SQL, one idea per CTE. `$scope_all` true: every teacher; else those in temp table
# `model_scope(teacher_key)`.
PLACED_VISITS_SQL = f"""
insert into model_visits by name
with programmes as (
    select unnest($programme_codes) as programme, unnest($programme_ends)::date as end_date
),
schedule as (
    select unnest($schedule_months) as months
),
scoped_visits as (
    select * from visits
    where $scope_all or teacher_key in (select teacher_key from model_scope)
),
visit_context as (
    -- a visit is placed where it was made (visits hold the roster's place of the school on the
    -- visit date), not where its school is now
    select v.submission_id, v.teacher_key, v.visit_date, v.teacher_status, v.cop_active, v.cop_meetings_3m,
           v.school_id, v.cluster, v.district, v.province, sc.school_type,
           {teacher_select('t')},
           date_diff('day', p.end_date, v.visit_date) as days_since_end
    from scoped_visits v
    join teachers t using (teacher_key)
    join schools sc on sc.school_id = v.school_id
    join programmes p on p.programme = t.programme
),
placed as (
    select vc.*, s.months
    from visit_context vc
    join schedule s on abs(vc.days_since_end - s.months * $days_per_month) <= $window_days
    qualify row_number() over (partition by vc.teacher_key, s.months
                               order by vc.visit_date desc, vc.submission_id) = 1
),
reported as (
    select submission_id, list(hindrance order by hindrance) as hindrances
    from visit_hindrances
    where submission_id in (select submission_id from placed)
    group by submission_id
)
select p.submission_id, p.teacher_key, p.months, p.visit_date, p.days_since_end,
       p.teacher_status, p.cop_active, p.cop_meetings_3m,
       p.school_id, p.cluster, p.district, p.province, p.school_type,
       {district_key_sql('p.district')} as district_key,
       {_columns('p')},
       coalesce(r.hindrances, []::varchar[]) as hindrances
from placed p left join reported r using (submission_id)
order by p.province, district_key, p.district, p.school_id, p.teacher_key, p.months
"""

OBSERVATIONS_SQL = f"""
insert into model_observations by name
with practice_cutoffs as (
    select unnest($practice_codes) as practice, unnest($practice_cutoffs) as retained_at
),
scoped as (
    -- the scope's model_visits rows were just written in the stored order (province, district, school,
    -- teacher, round), so their row ids are in that order: sorting by the row id keeps it without comparing
    -- text (the order serves the zone maps only; the rows are the same in any order)
    select *, rowid as visit_row from model_visits
    where $scope_all or teacher_key in (select teacher_key from model_scope)
)
select pv.submission_id, pv.teacher_key, pv.months, pv.visit_date, pv.days_since_end,
       pv.teacher_status, pv.cop_active, pv.cop_meetings_3m,
       pv.school_id, pv.cluster, pv.district, pv.province, pv.school_type, pv.district_key,
       {_columns('pv')},
       vp.practice, vp.score, vp.score >= pc.retained_at as retained
from scoped pv
join visit_practices vp using (submission_id)
join practice_cutoffs pc using (practice)
where pv.teacher_status = 'present' and vp.score is not null
order by pv.visit_row, vp.practice
"""

PERSON_PERIOD_SQL = f"""
insert into person_period by name
with schedule as (
    select unnest($schedule_months) as months
),
scoped_visits as (
    select teacher_key, submission_id, months, hindrances,
           school_id, cluster, district, province, school_type, district_key,
           -- written just before in the stored order (province, district, school, teacher, round): see below
           rowid as visit_row,
           lag(months) over (partition by teacher_key order by months) as months_prev,
           lag(hindrances) over (partition by teacher_key order by months) as hindrances_prev
    from model_visits
    where $scope_all or teacher_key in (select teacher_key from model_scope)
),
units as (
    -- teacher-practices in use when the programme ended
    select teacher_key, practice, school_id, cluster, district, province, school_type, district_key,
           {_columns()}, submission_id as m0_submission
    from model_observations
    where months = 0 and retained and ($scope_all or teacher_key in (select teacher_key from model_scope))
),
rounds as (
    select u.*, s.months
    from units u cross join schedule s
    where s.months > 0
),
followups as (
    -- a unit's observations after month 0 in sequence. Only observed rounds need it (every flag
    -- below is false at a round not observed), so the windows sort these rows, not every round's.
    select teacher_key, practice, months, retained,
           -- rounds observed not retained before this one: the unit has left the risk set
           coalesce(sum(case when not retained then 1 else 0 end)
                    over (partition by teacher_key, practice order by months
                          rows between unbounded preceding and 1 preceding), 0) as earlier_drops,
           max(months) over (partition by teacher_key, practice) as last_observed,
           lead(retained ignore nulls) over (partition by teacher_key, practice order by months) as next_retained
    from model_observations
    where months > 0 and ($scope_all or teacher_key in (select teacher_key from model_scope))
),
sequenced as (
    select r.*, o.teacher_key is not null as observed,
           o.retained, o.earlier_drops, o.last_observed, o.next_retained
    from rounds r
    left join followups o
      on o.teacher_key = r.teacher_key and o.practice = r.practice and o.months = r.months
)
select s.teacher_key, s.practice, s.months,
       s.observed,
       s.retained,
       s.observed and s.earlier_drops = 0 as at_risk,
       s.observed and s.earlier_drops = 0 and not s.retained as event,
       s.observed and s.earlier_drops = 0 and s.retained and s.months = s.last_observed as censored,
       s.observed and s.earlier_drops = 0 and not s.retained and s.next_retained is not distinct from false
           as confirmed_event,
       v.months_prev,
       coalesce(v.hindrances, []::varchar[]) as hindrances_now,
       coalesce(v.hindrances_prev, []::varchar[]) as hindrances_prev,
       coalesce(m0.hindrances, []::varchar[]) as hindrances_m0,
       -- an observed round is where its visit was (the observation's place), else the unit's month-0 place
       coalesce(case when s.observed then v.school_id end, s.school_id) as school_id,
       coalesce(case when s.observed then v.cluster end, s.cluster) as cluster,
       coalesce(case when s.observed then v.district end, s.district) as district,
       coalesce(case when s.observed then v.province end, s.province) as province,
       coalesce(case when s.observed then v.school_type end, s.school_type) as school_type,
       coalesce(case when s.observed then v.district_key end, s.district_key) as district_key,
       {_columns('s')}
from sequenced s
left join scoped_visits v on v.teacher_key = s.teacher_key and v.months = s.months
left join scoped_visits m0 on m0.submission_id = s.m0_submission
-- stored by province, district and school (zone maps): a row's place is its round's visit's or its
-- month-0 visit's, and the scope's model_visits rows were just written in that order, so their row
-- ids sort the rows by place without comparing text
order by case when s.observed then v.visit_row else m0.visit_row end, s.practice, s.months
"""


# the pattern code of every unit (teacher-practice scored at month 0) of every teacher
# (`$scope_all`) or of those in temp table `model_scope`; it reads all the teacher's rounds
UNIT_PATTERNS_SQL = f"""
insert into model_unit_patterns by name
with scoped_observations as (
    select teacher_key, practice, months, retained from model_observations
    where $scope_all or teacher_key in (select teacher_key from model_scope)
),
month0_units as (
    select * from scoped_observations where months = 0
),
scoped_visits as (
    select teacher_key, months, teacher_status from model_visits
    where $scope_all or teacher_key in (select teacher_key from model_scope)
),
{unit_pattern_ctes("month0_units", "scoped_observations", "scoped_visits")}
select teacher_key, practice, pattern from unit_patterns
order by teacher_key, practice
"""

# The cells are built from temp tables of the scoped rows in which the school's place (the text
# columns every grain keeps: province, district, cluster, school_id, school_type) is one integer,
# `place_id`, numbered in the order the cells are stored (province, district, school): each grain groups
# and sorts integers and a few short codes instead of five text columns (grouping and sorting them
# was most of the rollups' cost), and takes the place's columns back when its cells are written.
# A place is the whole tuple, not the school: a school's district can change (the roster's history).
PLACE_COLUMNS = place_columns()
# place ids follow the cells' stored order, province, district (its key, sustain/dimensions.py
# `district_key_sql`) then school (the other columns only break ties)
_PLACE_TIES = [c for c in PLACE_COLUMNS if c not in ("province", "district", "school_id")]
_SAME_PLACE = " and ".join(f"s.{c} is not distinct from p.{c}" for c in PLACE_COLUMNS)


def _unplaced(grain: str) -> list[str]:
    """A grain's kept columns but the place's (`rollup_grains`: every grain keeps the place)."""
    return [c for c in rollup_grains()[grain] if c not in PLACE_COLUMNS]


def _listed(columns, alias: str = "") -> str:
    return ", ".join(f"{alias}{c}" for c in columns)


# the places of every school (`$scope_all`) or of those in temp table `rollup_scope(school_id)`:
# every place a model row of these schools has
ROLLUP_PLACES_SQL = f"""
create or replace temp table rollup_places as
with places as (
    select distinct {_listed(PLACE_COLUMNS)} from model_observations
    where $scope_all or school_id in (select school_id from rollup_scope)
    union
    select distinct {_listed(PLACE_COLUMNS)} from person_period
    where $scope_all or school_id in (select school_id from rollup_scope)
)
select row_number() over (order by province, district_key, district, school_id, {_listed(_PLACE_TIES)}) as place_id, *
from (select *, {district_key_sql("district")} as district_key from places)
"""

# the rows the rollups aggregate, with the finest grain's columns (the place as `place_id`)
_SOURCE_COLUMNS = _listed(rollup_grains()["practice_teacher"])
ROLLUP_SOURCE_SQL = f"""
create or replace temp table rollup_source as
with scoped as (
    select 'prevalence' as measure, teacher_key, {_SOURCE_COLUMNS}, retained,
           null::boolean as at_risk, null::boolean as event
    from model_observations
    where $scope_all or school_id in (select school_id from rollup_scope)
    union all
    -- a unit in use at month 0 is at risk there, with no event (metrics/survival.py `baseline`)
    select 'retention', teacher_key, {_SOURCE_COLUMNS}, retained, true, false
    from model_observations
    where months = 0 and retained and ($scope_all or school_id in (select school_id from rollup_scope))
    union all
    -- survival's risk set and events are among the observed rounds
    select 'retention', teacher_key, {_SOURCE_COLUMNS}, retained, at_risk, event
    from person_period
    where observed and ($scope_all or school_id in (select school_id from rollup_scope))
)
select s.measure, s.teacher_key, p.place_id, {_listed(_unplaced("practice_teacher"), "s.")}, s.retained,
       s.at_risk, s.event
from scoped s join rollup_places p on {_SAME_PLACE}
"""

# retention's units not scored at a round, with their pattern (`unscored_cells`); an unscored row
# lies at its unit's month-0 place, one of its teacher's observations
ROLLUP_UNSCORED_SQL = f"""
create or replace temp table rollup_unscored as
select s.teacher_key, p.place_id, {_listed(_unplaced("practice_teacher"), "s.")}, u.pattern
from person_period s
join model_unit_patterns u using (teacher_key, practice)
join rollup_places p on {_SAME_PLACE}
where not s.observed and ($scope_all or s.school_id in (select school_id from rollup_scope))
"""

# the units (teacher-practices scored at month 0) with their pattern, by their month-0 cell
# (`pattern_cells`): the month-0 observations among the prevalence rows
_PATTERN_COLUMNS = [c for c in _unplaced("practice_teacher") if c != "months"]
ROLLUP_UNITS_SQL = f"""
create or replace temp table rollup_units as
select s.teacher_key, s.place_id, {_listed(_PATTERN_COLUMNS, "s.")}, u.pattern
from rollup_source s
join model_unit_patterns u using (teacher_key, practice)
where s.measure = 'prevalence' and s.months = 0
"""

# each teacher of the rows once per hindrance they reported at any placed visit (the rule of a
# hindrance filter or group, `teacher_hindrances` in metrics/base.py); the teachers of the unscored
# rows and of the units are among those of `rollup_source`
ROLLUP_HINDRANCES_SQL = """
create or replace temp table rollup_hindrances as
select distinct teacher_key, unnest(hindrances) as hindrance from model_visits
where $scope_all or teacher_key in (select teacher_key from rollup_source)
"""

ROLLUP_TEMP_TABLES = ("rollup_places", "rollup_source", "rollup_unscored", "rollup_units", "rollup_hindrances",
                      "rollup_fine_cells")


def _write_cells(table: str, cells: str, leading: list[str], order: list[str], columns: list[str]) -> str:
    """Insert into `table` the cells the query `cells` returns (with `place_id` and `columns`), with
    their place's columns and district key, in the stored order: `order`, then province, district
    and school (`place_id`'s).
    `leading`: the select's first expressions (e.g. the grain)."""
    return f"""
insert into {table} by name
with cells as ({cells})
select {", ".join(leading)}, {_listed(PLACE_COLUMNS, "p.")}, p.district_key, {_listed(columns, "c.")}
from cells c join rollup_places p using (place_id)
order by {", ".join([*order, "c.place_id"])}
"""


_CELL_COUNTS = ["retained", "n", "teachers", "at_risk", "events"]


def _rollup_cells(grain: str, cells: str) -> tuple[str, dict]:
    return _write_cells("rollup_cells", cells, ["c.measure", "$grain as grain"], ["c.measure"],
                        [*_unplaced(grain), *_CELL_COUNTS]), {"grain": grain}


def _summed(coarse: str, rows: str) -> str:
    """A grain's cells summed from a finer grain's `rows` (a teacher's columns are the same in all
    its rows, so the cells' teachers add up when a grain drops teacher-level columns)."""
    return f"""
select measure, place_id, {_listed(_unplaced(coarse))},
       sum(retained)::bigint as retained, sum(n)::bigint as n, sum(teachers)::bigint as teachers,
       sum(at_risk)::bigint as at_risk, sum(events)::bigint as events
from {rows}
group by all"""


# The four grains from two passes over `rollup_source`. A source row is one teacher-practice-round
# (of one measure), so at the grains that keep the practice each row is its own teacher in its cell;
# at the grains that pool practices a teacher counts once per cell. The grains without the
# teacher-level factors are sums of those with them (the finer grain's cells are kept in
# `rollup_fine_cells` meanwhile).
def _rollup_pass(fine: str, coarse: str, teachers: str) -> list[tuple[str, dict]]:
    fine_cells = f"""
create or replace temp table rollup_fine_cells as
select measure, place_id, {_listed(_unplaced(fine))},
       count(*) filter (where retained) as retained, count(*) as n, {teachers} as teachers,
       -- null in prevalence's cells (its rows carry no at_risk)
       sum(at_risk::integer)::bigint as at_risk, sum((at_risk and event)::integer)::bigint as events
from rollup_source
group by all"""
    return [(fine_cells, {}), _rollup_cells(fine, "select * from rollup_fine_cells"),
            _rollup_cells(coarse, _summed(coarse, "rollup_fine_cells"))]


ROLLUP_SQL = [*_rollup_pass("practice_teacher", "practice", "count(*)"),
              *_rollup_pass("teacher", "core", "count(distinct teacher_key)")]

# the grains of `unscored_cells`: those of the rollups that keep the practice (each counts the
# unscored rows of its cell)
UNSCORED_GRAINS = [g for g in reversed(rollup_grains()) if "practice" in rollup_grains()[g]]
UNSCORED_CELLS_SQL = [
    (_write_cells("unscored_cells", f"""
select place_id, {_listed(_unplaced(grain))}, pattern, count(*) as units
from rollup_unscored
group by all""", ["$grain as grain"], [], [*_unplaced(grain), "pattern", "units"]), {"grain": grain})
    for grain in UNSCORED_GRAINS
]

# the latent model's pattern counts of the units by their month-0 cell
PATTERN_CELLS_SQL = _write_cells("pattern_cells", f"""
select place_id, {_listed(_PATTERN_COLUMNS)}, pattern, count(*) as units
from rollup_units
group by all""", ["c.pattern"], [], [*_PATTERN_COLUMNS, "units"])

# `pattern_cells` per hindrance: each unit once per hindrance its teacher reported
PATTERN_HINDRANCE_CELLS_SQL = _write_cells("pattern_hindrance_cells", f"""
select h.hindrance, u.place_id, {_listed(_PATTERN_COLUMNS, "u.")}, u.pattern, count(*) as units
from rollup_units u
join rollup_hindrances h using (teacher_key)
group by all""", ["c.hindrance", "c.pattern"], ["c.hindrance"], [*_PATTERN_COLUMNS, "units"])


# retention's cells per hindrance (`rollup_hindrance_cells`, `unscored_hindrance_cells`): each
# row of a teacher once per hindrance the teacher reported, at HINDRANCE_GRAINS
def _hindrance_rollup(grain: str) -> tuple[str, dict]:
    # at a grain keeping the practice a source row is its own teacher in its cell (as ROLLUP_SQL)
    teachers = "count(*)" if "practice" in rollup_grains()[grain] else "count(distinct s.teacher_key)"
    return _write_cells("rollup_hindrance_cells", f"""
select h.hindrance, s.measure, s.place_id, {_listed(_unplaced(grain), "s.")},
       count(*) filter (where s.retained) as retained, count(*) as n, {teachers} as teachers,
       count(*) filter (where s.at_risk) as at_risk, count(*) filter (where s.at_risk and s.event) as events
from rollup_source s
join rollup_hindrances h using (teacher_key)
where s.measure = 'retention'
group by all""", ["c.hindrance", "c.measure", "$grain as grain"], ["c.hindrance"],
                        [*_unplaced(grain), *_CELL_COUNTS]), {"grain": grain}


ROLLUP_HINDRANCE_SQL = [_hindrance_rollup(grain) for grain in HINDRANCE_GRAINS]
UNSCORED_HINDRANCE_GRAIN = next(g for g in HINDRANCE_GRAINS if "practice" in rollup_grains()[g])
UNSCORED_HINDRANCE_SQL = (_write_cells("unscored_hindrance_cells", f"""
select h.hindrance, u.place_id, {_listed(_unplaced(UNSCORED_HINDRANCE_GRAIN), "u.")}, u.pattern, count(*) as units
from rollup_unscored u
join rollup_hindrances h using (teacher_key)
group by all""", ["c.hindrance", "$grain as grain"], ["c.hindrance"],
    [*_unplaced(UNSCORED_HINDRANCE_GRAIN), "pattern", "units"]), {"grain": UNSCORED_HINDRANCE_GRAIN})


def refresh_rollups(con: duckdb.DuckDBPyConnection, scope_all: bool) -> None:
    """Rebuild the cells (`CELL_TABLES`) of every school
    (`scope_all`) or of the schools in temp table `rollup_scope`, from the model's rows and
    `model_unit_patterns`."""
    for table in CELL_TABLES:
        if scope_all:
            con.execute(f"delete from {table}")
        else:
            con.execute(f"delete from {table} where school_id in (select school_id from rollup_scope)")
    scope = {"scope_all": scope_all}
    for sql in (ROLLUP_PLACES_SQL, ROLLUP_SOURCE_SQL, ROLLUP_UNSCORED_SQL, ROLLUP_UNITS_SQL, ROLLUP_HINDRANCES_SQL):
        execute(con, sql, scope)
    for sql, params in [*ROLLUP_SQL, *UNSCORED_CELLS_SQL, *ROLLUP_HINDRANCE_SQL, UNSCORED_HINDRANCE_SQL,
                        (PATTERN_CELLS_SQL, {}), (PATTERN_HINDRANCE_CELLS_SQL, {})]:
        execute(con, sql, params)
    for table in ROLLUP_TEMP_TABLES:
        con.execute(f"drop table if exists {table}")


TOUCHED_SCHOOLS_SQL = """
insert into rollup_scope
select distinct school_id from model_observations
where teacher_key in (select teacher_key from model_scope)
"""


def config_fingerprint(config: Config) -> str:
    """What the model depends on in the configuration; a change means a full rebuild."""
    basis = {
        "days_per_month": DAYS_PER_MONTH,
        "months": list(config.schedule.months),
        "window_weeks": config.schedule.window_weeks,
        "programmes": [[p.code, p.end_date.isoformat()] for p in config.programmes],
        "practices": [[p.code, p.retained_at] for p in config.practices],
        "dimensions": model_fingerprint_basis(),
        "model_version": MODEL_VERSION,
        "rollup_grains": rollup_grains(),
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:16]


def model_params(config: Config) -> dict:
    return config.schedule_params()


def model_is_current(con: duckdb.DuckDBPyConnection, config: Config) -> bool:
    row = con.execute("select config_fingerprint from model_info limit 1").fetchone()
    return row is not None and row[0] == config_fingerprint(config)


def refresh_model(con: duckdb.DuckDBPyConnection, config: Config, teachers_sql: str | None = None,
                  params: dict | None = None) -> None:
    """Recompute the model rows of the teachers selected by `teachers_sql` (a query returning
    `teacher_key`, with `params`), or of every teacher when it is None or the model was built
    under another configuration. Runs inside the caller's transaction."""
    full = teachers_sql is None or not model_is_current(con, config)
    if full:
        ensure_dimension_columns(con)
        for table in (*MODEL_TABLES, *TEACHER_TABLES):
            con.execute(f"delete from {table}")
    else:
        execute(con, f"create or replace temp table model_scope as select distinct teacher_key from ({teachers_sql})",
                params or {})
        # the schools whose rollup cells change: where these teachers were observed, before and after
        con.execute("create or replace temp table rollup_scope (school_id varchar)")
        con.execute(TOUCHED_SCHOOLS_SQL)
        for table in (*MODEL_TABLES, *TEACHER_TABLES):
            con.execute(f"delete from {table} where teacher_key in (select teacher_key from model_scope)")
    if full:
        con.execute("create or replace temp table model_scope (teacher_key varchar)")
        con.execute("create or replace temp table rollup_scope (school_id varchar)")
    values = model_params(config) | {"scope_all": full}
    for sql in (PLACED_VISITS_SQL, TEACHER_HINDRANCES_SQL, OBSERVATIONS_SQL, PERSON_PERIOD_SQL):
        execute(con, sql, values)
    execute(con, UNIT_PATTERNS_SQL, {"scope_all": full, "leaving_statuses": LEAVING_STATUSES,
                                     "followup_months": sorted(m for m in config.schedule.months if m > 0)})
    if not full:
        con.execute(TOUCHED_SCHOOLS_SQL)
    refresh_rollups(con, full)
    con.execute("drop table if exists rollup_scope")
    con.execute("delete from model_info")
    execute(con, "insert into model_info values ($fingerprint, now()::timestamp)",
            {"fingerprint": config_fingerprint(config)})
    con.execute("drop table if exists model_scope")


# teachers whose model rows are refreshed in one transaction: DuckDB's memory in an import is
# bounded (ingest/core.py MEMORY_LIMIT), and a refresh of more teachers in one transaction ran out
# of it at 100,000 teachers
MODEL_BATCH_TEACHERS = 50_000
# every teacher the model has or should have rows for (a full rebuild's scope)
ALL_MODEL_TEACHERS = "select teacher_key from teachers union select teacher_key from model_visits"


def refresh_model_in_batches(con: duckdb.DuckDBPyConnection, config: Config, teachers_sql: str,
                             on_batch: Callable[[int, int], None] | None = None) -> int:
    """Refresh the model rows of the teachers `teachers_sql` selects, `MODEL_BATCH_TEACHERS` at a
    time (in the rows' stored order: by province, district key and school, so a school's cells are
    rebuilt about once and a district's rows lie in one or two batches), a transaction and a
    checkpoint each; `model_info` says current only after the last batch, so a command stopped
    between batches leaves a model the next import or upgrade rebuilds. `on_batch(batches done,
    batches)` reports progress. Returns the number of batches. Outside a transaction."""
    ensure_dimension_columns(con)  # a model of an earlier version may lack a catalogue column
    con.execute(
        f"""create or replace temp table model_batches as
            with due as (select distinct teacher_key from ({teachers_sql}))
            select d.teacher_key,
                   (row_number() over (order by sc.province, {district_key_sql("sc.district")}, sc.district,
                                       sc.school_id, d.teacher_key) - 1)
                   // {int(MODEL_BATCH_TEACHERS)} as batch
            from due d left join teachers t using (teacher_key) left join schools sc using (school_id)"""
    )
    batches = con.execute("select coalesce(max(batch) + 1, 0) from model_batches").fetchone()[0]
    try:
        for batch in range(batches):
            if on_batch:
                on_batch(batch, batches)
            con.execute("begin transaction")
            # incremental from here: the rows outside the batch are rewritten by the other batches
            execute(con, "insert into model_info select $fingerprint, now()::timestamp "
                         "where not exists (select 1 from model_info)", {"fingerprint": config_fingerprint(config)})
            refresh_model(con, config, "select teacher_key from model_batches where batch = $batch", {"batch": batch})
            if batch < batches - 1:
                con.execute("delete from model_info")
            con.execute("commit")
            con.execute("checkpoint")
        if on_batch and batches:
            on_batch(batches, batches)
    except BaseException:
        # roll the failed batch back here, before the temp table is dropped: a statement in an
        # aborted transaction would fail and hide the cause (a full disk, say) from the caller
        try:
            con.execute("rollback")
        except duckdb.Error:
            pass  # no transaction was open
        raise
    finally:
        con.execute("drop table if exists model_batches")
    return batches


def bring_model_up_to_date(con: duckdb.DuckDBPyConnection, config: Config) -> list[str]:
    """Rebuild the whole model when it was built under another configuration (or never, e.g. in a
    database upgraded from an earlier release): in one transaction, or in batches of
    `MODEL_BATCH_TEACHERS` teachers when there are more (`refresh_model_in_batches`). Returns what
    it did."""
    if model_is_current(con, config):
        return []
    teachers = con.execute(f"select count(*) from ({ALL_MODEL_TEACHERS})").fetchone()[0]
    if teachers > MODEL_BATCH_TEACHERS:
        con.execute("delete from model_info")  # not current until the last batch
        batches = refresh_model_in_batches(con, config, ALL_MODEL_TEACHERS)
        return [f"analysis model rebuilt for the current configuration (schedule, programmes, practices), "
                f"{teachers:,} teachers in {batches} batches"]
    con.execute("begin transaction")
    try:
        refresh_model(con, config)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    con.execute("checkpoint")
    return ["analysis model rebuilt for the current configuration (schedule, programmes, practices)"]
