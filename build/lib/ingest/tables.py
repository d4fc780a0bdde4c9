"""The roster and the CoP meeting log -> schools, teachers, cop_meetings.

The roster is the master list of the hierarchy. `teacher_name` is read and dropped in staging: it
never reaches the database. Validation and the merge are bulk SQL over the staged table.
"""
from __future__ import annotations

import pandas as pd

from sustain.config import Config

from .read import FileRefused, RawTable

ROSTER_FIELDS = ["teacher_id", "gender", "subject", "school_id", "school_name", "school_type",
                 "cluster", "district", "province", "programme"]
ROSTER_REQUIRED = ["teacher_id", "school_id", "cluster", "district", "province", "programme"]
COP_FIELDS = ["cluster", "meeting_date", "attendees", "facilitator_role", "topic"]
COP_REQUIRED = ["cluster", "meeting_date"]


def stage_plain(raw: RawTable, kind: str, config: Config) -> pd.DataFrame:
    """Rename by the config mapping; keep only canonical fields (teacher_name is dropped here)."""
    fields, required = (ROSTER_FIELDS, ROSTER_REQUIRED) if kind == "roster" else (COP_FIELDS, COP_REQUIRED)
    mapping = getattr(config.sources, kind).columns
    frame = raw.frame.rename(columns={h: mapping[h] for h in raw.headers if h in mapping})
    missing = [f for f in required if f not in frame.columns]
    if missing:
        raise FileRefused(
            f"{raw.path.name}: required column(s) missing: {', '.join(missing)} "
            f"(a renamed column can be mapped in config.yaml sources.{kind}.columns)"
        )
    staged = pd.DataFrame({"_row": raw.frame["_row"]})
    for field in fields:
        staged[field] = frame[field].astype(str).str.strip() if field in frame.columns else ""
    return staged


ROSTER_VALIDATION = """
with firsts as (
    select *, row_number() over (partition by teacher_id order by _row) as teacher_seen,
           first_value(cluster || '|' || district || '|' || province) over (partition by school_id order by _row) as school_place
    from staged
)
select _row, col as column_name, val as value, 'missing_value' as rule, 'a roster row needs ' || col as detail
from (unpivot (select _row, teacher_id, school_id, cluster, district, province, programme from staged)
      on teacher_id, school_id, cluster, district, province, programme into name col value val)
where val = ''
union all
select _row, 'programme', programme, 'unknown_programme', 'expected one of ' || array_to_string($programmes, ', ')
from staged where programme <> '' and not list_contains($programmes, programme)
union all
select _row, 'teacher_id', teacher_id, 'duplicate_teacher', 'this teacher_id is on an earlier row of the file'
from firsts where teacher_id <> '' and teacher_seen > 1
union all
select _row, 'school_id', school_id, 'school_conflict', 'an earlier row places this school in ' || school_place
from firsts where school_id <> '' and school_place <> cluster || '|' || district || '|' || province
"""

ROSTER_MERGE = """
create or replace temp table roster_actions as
with valid as (
    select *, substr(sha256($salt || ':' || teacher_id), 1, 16) as teacher_key
    from staged where _row not in (select _row from bad)
),
hashed as (
    select *, md5(concat_ws('|', gender, subject, school_id, programme)) as content_hash from valid
)
select h.*, case when t.teacher_key is null then 'insert'
                 when t.content_hash = h.content_hash then 'unchanged' else 'update' end as action
from hashed h left join teachers t using (teacher_key)
"""

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
    "delete from teachers where teacher_key in (select teacher_key from roster_actions where action = 'update')",
    """insert into teachers
       select teacher_key, nullif(gender, ''), nullif(subject, ''), school_id, programme, content_hash,
              $file, $sha, _row, $run_id
       from roster_actions where action in ('insert', 'update')""",
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
