"""The roster and the CoP meeting log -> schools, teachers, cop_meetings.

The roster is the master list of the hierarchy. `teacher_name` is read and dropped in staging: it
never reaches the database. Validation and the merge are bulk SQL over the staged table.
"""
from __future__ import annotations

from sustain.config import Config
from sustain.dimensions import roster_attributes
from sustain.pseudonym import shown_id_sql, teacher_key_sql

from .read import FileRefused, RawTable, py_strip, raw_column

# the catalogue's roster columns (code identifiers): in the content hash and teachers.attributes
_ATTRIBUTES = roster_attributes()
_ATTRIBUTES_HASHED = "".join(f", {column}" for column in _ATTRIBUTES)
_ATTRIBUTES_MAP = (f"map([{', '.join(repr(c) for c in _ATTRIBUTES)}]::varchar[], "
                   f"[{', '.join(f'nullif({c}, {chr(39)}{chr(39)})' for c in _ATTRIBUTES)}]::varchar[])")

# valid_from (optional): the date the row's assignment starts; empty or absent: the import date
# Then the roster columns the catalogue of dimensions declares (optional; kept in teachers.attributes).
ROSTER_FIELDS = ["teacher_id", "gender", "subject", "school_id", "school_name", "school_type",
                 "cluster", "district", "province", "programme", "valid_from", *roster_attributes()]
ROSTER_REQUIRED = ["teacher_id", "school_id", "cluster", "district", "province", "programme"]
COP_FIELDS = ["cluster", "meeting_date", "attendees", "facilitator_role", "topic"]
COP_REQUIRED = ["cluster", "meeting_date"]


def stage_plain(con, raw: RawTable, kind, config: Config) -> None:
    """Make the temp table `staged` from `raw_rows` (see read.load_raw): renamed by the config
    mapping, only the kind's canonical fields kept (teacher_name is dropped here), each stripped as
    Python's str.strip() would. `kind` is the roster's or CoP log's entry in ingest/kinds.py."""
    mapping = kind.source(config).columns
    renamed = [mapping.get(h, h) for h in raw.headers]
    missing = [f for f in kind.required if f not in renamed]
    if missing:
        raise FileRefused(
            f"{raw.path.name}: required column(s) missing: {', '.join(missing)} "
            f"(a renamed column can be mapped in config.yaml sources.{kind.config_key}.columns)"
        )
    # as pandas' rename would leave it: the last column of a name wins when two share one
    column_of = {name: raw_column(i) for i, name in enumerate(renamed)}
    selected = ", ".join(f"{py_strip(column_of[f])} as {f}" if f in column_of else f"'' as {f}" for f in kind.fields)
    con.execute("drop table if exists staged")
    con.execute(f"create temp table staged as select _row, {selected} from raw_rows")


def periods_sql(table: str, key: str, scope: str | None = None) -> str:
    """`table` (school_history or teacher_history; `key` its id column, both from code) with each
    row's effective interval [eff_from, eff_to). Rows of one key chain (each closed row ends where
    the next starts), so ordering by valid_to gives their order; the first row also covers the time
    before it (see sustain/db.py), which keeps visits older than the first roster import placed.
    `scope` (a query of keys, from code) keeps only those keys' rows: the same intervals (the
    window is per key), without ordering a national history for every file."""
    where = f"where {key} in ({scope})" if scope else ""
    return f"""select *, case when row_number() over (partition by {key} order by valid_to nulls last, valid_from) = 1
                     then date '0001-01-01' else valid_from end as eff_from,
                coalesce(valid_to, date '9999-12-31') as eff_to
         from {table} {where}"""


FIRST_ROW_START = "date '0001-01-01'"

ROSTER_VALIDATION = f"""
with keyed as (
    select *, {teacher_key_sql("teacher_id")} as teacher_key,
           coalesce(try_strptime(nullif(valid_from, ''), $date_formats)::date, $today) as starts
    from staged
),
firsts as (
    select *, row_number() over (partition by teacher_key order by _row) as teacher_seen,
           first_value(cluster || '|' || district || '|' || province) over (partition by school_id order by _row) as school_place
    from keyed
),
current_schools as (
    select * from ({periods_sql("school_history", "school_id")}) where valid_to is null
),
current_teachers as (
    select * from ({periods_sql("teacher_history", "teacher_key")}) where valid_to is null
)
select _row, col as column_name, val as value, 'missing_value' as rule, 'a roster row needs ' || col as detail
from (unpivot (select _row, teacher_id, school_id, cluster, district, province, programme from staged)
      on teacher_id, school_id, cluster, district, province, programme into name col value val)
where val = ''
union all
select _row, 'programme', programme, 'unknown_programme', 'expected one of ' || array_to_string($programmes, ', ')
from staged where programme <> '' and not list_contains($programmes, programme)
union all
select _row, 'teacher_id', {shown_id_sql("teacher_id")}, 'duplicate_teacher',
       'this teacher is on an earlier row of the file (teacher ids are shown as their pseudonymous keys)'
from firsts where teacher_id <> '' and teacher_seen > 1
union all
select _row, 'school_id', school_id, 'school_conflict', 'an earlier row places this school in ' || school_place
from firsts where school_id <> '' and school_place <> cluster || '|' || district || '|' || province
union all
select _row, 'valid_from', valid_from,
       case when len(list_filter($date_shapes, lambda shape: regexp_full_match(valid_from, shape))) > 0
            then 'impossible_date' else 'bad_date' end,
       'expected a date in one of the formats ' || array_to_string($date_formats, ', ')
from staged where valid_from <> '' and try_strptime(valid_from, $date_formats) is null
union all
-- a change of assignment cannot start before the one it replaces (the history would overlap)
select k._row, 'valid_from', k.valid_from, 'valid_from_before_current',
       'the teacher''s current assignment (' || ct.school_id || ', ' || ct.programme || ') started '
       || ct.valid_from::varchar || '; a change must start on or after that date'
from keyed k join current_teachers ct using (teacher_key)
where ct.eff_from <> {FIRST_ROW_START} and k.starts < ct.valid_from
  and (k.school_id, k.programme) is distinct from (ct.school_id, ct.programme)
union all
select k._row, 'valid_from', k.valid_from, 'valid_from_before_current',
       'the school''s current place (' || cs.district || ', ' || cs.cluster || ') started '
       || cs.valid_from::varchar || '; a move must start on or after that date'
from keyed k join current_schools cs using (school_id)
where cs.eff_from <> {FIRST_ROW_START} and k.starts < cs.valid_from
  and (k.cluster, k.district, k.province) is distinct from (cs.cluster, cs.district, cs.province)
"""

# The merge: valid rows with their key and start date; per school, whether it is new or moved;
# per row, insert / update / unchanged (a row whose school moved is updated: its assignment changed).
ROSTER_MERGE = [
    f"""create or replace temp table roster_valid as
        select *, {teacher_key_sql("teacher_id")} as teacher_key,
               coalesce(try_strptime(nullif(valid_from, ''), $date_formats)::date, $today) as starts,
               md5(concat_ws('|', gender, subject, school_id, programme{_ATTRIBUTES_HASHED})) as content_hash
        from staged where _row not in (select _row from bad)""",
    f"""create or replace temp table school_changes as
        with listed as (
            select school_id, any_value(cluster) as cluster, any_value(district) as district,
                   any_value(province) as province, min(starts) as starts
            from roster_valid group by school_id
        ),
        current_schools as (
            select * from ({periods_sql("school_history", "school_id")}) where valid_to is null
        ),
        compared as (
            select l.*, cs.cluster as old_cluster, cs.district as old_district, cs.province as old_province,
                   -- a second change on the day the current one started replaces it
                   coalesce(cs.eff_from <> {FIRST_ROW_START} and cs.valid_from = l.starts, false) as in_place,
                   case when cs.school_id is null then 'new'
                        when (l.cluster, l.district, l.province) is distinct from (cs.cluster, cs.district, cs.province)
                        then 'moved' end as change
            from listed l left join current_schools cs using (school_id)
        )
        select * from compared where change is not null""",
    f"""create or replace temp table roster_actions as
        with current_teachers as (
            select * from ({periods_sql("teacher_history", "teacher_key")}) where valid_to is null
        )
        select v.*, ct.school_id as old_school, ct.programme as old_programme,
               coalesce(ct.eff_from <> {FIRST_ROW_START} and ct.valid_from = v.starts, false) as in_place,
               ct.teacher_key is not null and ct.school_id <> v.school_id as moved,
               ct.teacher_key is not null and ct.programme <> v.programme as reassigned,
               case when t.teacher_key is null then 'insert'
                    when t.content_hash <> v.content_hash
                         or v.school_id in (select school_id from school_changes where change = 'moved') then 'update'
                    else 'unchanged' end as action
        from roster_valid v
        left join teachers t using (teacher_key)
        left join current_teachers ct using (teacher_key)""",
]

ROSTER_WRITE = [
    """insert or replace into schools
       with listed as (
           select school_id, any_value(nullif(school_name, '')) as school_name,
                  any_value(nullif(school_type, '')) as school_type, any_value(cluster) as cluster,
                  any_value(district) as district, any_value(province) as province, min(_row) as first_row
           from roster_actions group by school_id
       )
       select l.school_id, l.school_name, l.school_type, l.cluster, l.district, l.province,
              $file, $sha, l.first_row, $run_id
       from listed l left join schools s using (school_id)
       where s.school_id is null
          or (l.school_name, l.school_type, l.cluster, l.district, l.province)
             is distinct from (s.school_name, s.school_type, s.cluster, s.district, s.province)""",
    # school history: replace a same-day change, else close the current row and open a new one
    """update school_history h set cluster = c.cluster, district = c.district, province = c.province, run_id = $run_id
       from school_changes c
       where c.change = 'moved' and c.in_place and h.school_id = c.school_id and h.valid_to is null""",
    """update school_history h set valid_to = c.starts
       from school_changes c
       where c.change = 'moved' and not c.in_place and h.school_id = c.school_id and h.valid_to is null""",
    """insert into school_history (school_id, cluster, district, province, valid_from, valid_to, run_id)
       select school_id, cluster, district, province, starts, null, $run_id
       from school_changes where change = 'new' or not in_place""",
    # teacher history: the same for a new school or programme
    """update teacher_history h set school_id = a.school_id, programme = a.programme, run_id = $run_id
       from roster_actions a
       where (a.moved or a.reassigned) and a.in_place and h.teacher_key = a.teacher_key and h.valid_to is null""",
    """update teacher_history h set valid_to = a.starts
       from roster_actions a
       where (a.moved or a.reassigned) and not a.in_place and h.teacher_key = a.teacher_key and h.valid_to is null""",
    """insert into teacher_history (teacher_key, school_id, programme, valid_from, valid_to, run_id)
       select teacher_key, school_id, programme, starts, null, $run_id
       from roster_actions where action = 'insert' or ((moved or reassigned) and not in_place)""",
    "delete from teachers where teacher_key in (select teacher_key from roster_actions where action = 'update')",
    f"""insert into teachers (teacher_key, gender, subject, school_id, programme, content_hash,
                             source_file, source_sha256, source_row, run_id, attributes)
       select teacher_key, nullif(gender, ''), nullif(subject, ''), school_id, programme, content_hash,
              $file, $sha, _row, $run_id, {_ATTRIBUTES_MAP}
       from roster_actions where action in ('insert', 'update')""",
    # stored visits of a moved school dated on or after the move (a valid_from in the past) now
    # belong to the school's new place; earlier visits keep theirs
    f"""create or replace temp table replaced_visits as
        with school_periods as ({periods_sql("school_history", "school_id")})
        select v.submission_id, v.school_id, sp.province, sp.district, sp.cluster
        from visits v
        join school_periods sp on sp.school_id = v.school_id
             and v.visit_date >= sp.eff_from and v.visit_date < sp.eff_to
        where v.school_id in (select school_id from school_changes where change = 'moved')
          and (v.province, v.district, v.cluster) is distinct from (sp.province, sp.district, sp.cluster)""",
    """update visits set province = r.province, district = r.district, cluster = r.cluster
       from replaced_visits r where visits.submission_id = r.submission_id""",
]
COP_VALIDATION = """
select _row, 'cluster' as column_name, cluster as value, 'unknown_cluster' as rule, 'cluster not in the roster' as detail
from staged where cluster not in (select cluster from schools)
union all
select _row, 'meeting_date', meeting_date,
       case when len(list_filter($date_shapes, lambda shape: regexp_full_match(meeting_date, shape))) > 0
            then 'impossible_date' else 'bad_date' end,
       'expected a date in one of the formats ' || array_to_string($date_formats, ', ')
from staged where try_strptime(meeting_date, $date_formats) is null
union all
select _row, 'attendees', attendees, 'bad_integer', 'expected a whole number 0 or more'
from staged where attendees <> ''
  and (not regexp_full_match(attendees, '[0-9]+') or coalesce(try_cast(attendees as integer) < 0, true))
"""

COP_MERGE = """
create or replace temp table cop_actions as
with valid as (
    select _row, cluster, try_strptime(meeting_date, $date_formats)::date as meeting_date,
           try_cast(nullif(attendees, '') as integer) as attendees,
           nullif(facilitator_role, '') as facilitator_role, nullif(topic, '') as topic
    from staged where _row not in (select _row from bad)
),
keyed as (
    select *, md5(concat_ws('|', cluster, meeting_date::varchar, coalesce(facilitator_role, ''), coalesce(topic, ''))) as meeting_key,
           row_number() over (partition by meeting_key order by _row) as seen
    from valid
)
select k.*, case when m.meeting_key is null and k.seen = 1 then 'insert' else 'unchanged' end as action
from keyed k left join cop_meetings m using (meeting_key)
"""

COP_WRITE = [
    """insert into cop_meetings
       select meeting_key, cluster, meeting_date, attendees, facilitator_role, topic, $file, $sha, _row, $run_id
       from cop_actions where action = 'insert'""",
]
