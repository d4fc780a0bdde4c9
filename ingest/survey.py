"""Follow-up visit exports (KoboToolbox CSV/XLSX, ODK Central CSV, SurveyCTO CSV) -> visits.

Staging only renames: headers are stripped of their group path and mapped onto the canonical
fields of the default form (plus `sources.<kind>.columns` from config). Validation and the merge
with what is stored are done in bulk in SQL over the staged table.

Identity and edits (decision, following how the servers behave): each kind's rule is its entry in
ingest/kinds.py (identity = the root instance id, a `uuid:` prefix dropped; version =
(edit_rank, version_time)). Then, for every kind:
- same identity, same content: unchanged. Newer version: replaces the stored one (updated).
  Older version: unchanged (the stored one is newer). Same version, different content: a
  conflict, quarantined with rule `conflict_no_edit_marker`; the stored row is kept.
"""
from __future__ import annotations

import datetime as dt

from sustain.config import DAYS_PER_MONTH, Config
from sustain.pseudonym import shown_id_sql, teacher_key_sql

from .read import FileRefused, RawTable, py_strip, raw_column
from .tables import periods_sql

TEACHER_STATUSES = ["present", "absent", "transferred", "left", "on_leave"]
FORM_FIELDS = [
    "visit_date", "observer_id", "district", "cluster", "school_id", "teacher_id",
    "teacher_status", "hindrances", "cop_active", "cop_meetings_3m", "comments",
]
REQUIRED = ["visit_date", "school_id", "teacher_id", "teacher_status"]
MULTI_SELECT = "hindrances"


_DATE_DIRECTIVES = {"Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{1,2}", "d": r"\d{1,2}", "H": r"\d{1,2}",
                    "M": r"\d{1,2}", "S": r"\d{1,2}", "f": r"\d{1,6}", "j": r"\d{1,3}", "b": "[A-Za-z]+",
                    "B": "[A-Za-z]+", "z": r"(Z|[+-]\d{2}:?\d{2})", "%": "%"}


def date_shapes(formats: list[str]) -> list[str]:
    """For each declared strptime format, a regular expression of its shape: a value of that shape
    that still does not parse names a day that does not exist (`impossible_date`, e.g. 31/02);
    any other unparsed value is `bad_date` (an undeclared format, an Excel serial number, text)."""
    shapes = []
    for fmt in formats:
        pattern, pieces = "", iter(fmt)
        for char in pieces:
            if char == "%":
                pattern += _DATE_DIRECTIVES.get(next(pieces, ""), ".+")
            else:
                pattern += char if char.isalnum() else f"\\x{{{ord(char):x}}}"
        shapes.append(pattern)
    return shapes


def stage(con, raw: RawTable, kind, config: Config) -> list[str]:
    """Make the temp table `staged` from `raw_rows` (see read.load_raw): the file's columns renamed
    to canonical ones (all values stay text, '' for empty) and the identity columns derived by the
    kind's rule (`kind`: a survey entry of ingest/kinds.py). Returns notes in words: a configured
    practice with no column in this file (an earlier form version) is imported as not scored (no
    score stored, never 0), and said so."""
    source = kind.source(config)
    practice_fields = {code: f"practice__{code}" for code in config.practice_codes}
    meta_columns = list(dict.fromkeys(kind.meta_fields.values()))
    known = {name: name for name in FORM_FIELDS} | dict(kind.meta_fields) | practice_fields
    mapping: dict[str, str] = {}
    split_options: dict[str, str] = {}  # header -> hindrance option of a split 0/1 column
    for header in raw.headers:
        if header in source.columns:
            target = known.get(source.columns[header], source.columns[header])
            if target not in known.values():
                raise FileRefused(
                    f"{raw.path.name}: config sources.{kind.config_key}.columns maps {header!r} onto "
                    f"{source.columns[header]!r}, which is not a field of the form"
                )
            mapping[header] = target
            continue
        parts = kind.header_parts(header, source)
        if len(parts) >= 2 and parts[-2] == MULTI_SELECT:
            split_options[header] = parts[-1]
        elif parts[-1] in known:
            mapping[header] = known[parts[-1]]
    targets = list(mapping.values())
    for target in set(targets):
        if targets.count(target) > 1:
            clashing = [h for h, t in mapping.items() if t == target]
            raise FileRefused(f"{raw.path.name}: columns {', '.join(map(repr, clashing))} all map to the field {target!r}")
    missing = [f for f in REQUIRED if f not in targets]
    if not {"instance_id", "root_uuid", "uuid", "key"} & set(targets):
        missing.append("instance id (meta/instanceID, _uuid, meta-instanceID or KEY)")
    if missing:
        raise FileRefused(
            f"{raw.path.name}: required column(s) missing: {', '.join(missing)} "
            f"(a renamed column can be mapped in config.yaml sources.{kind.config_key}.columns)"
        )
    unscored = [code for code, field in practice_fields.items() if field not in targets]
    notes = [f"practice {code}: no column in this file (an earlier form version?); imported as not scored"
             for code in unscored]

    position = {header: raw_column(i) for i, header in enumerate(raw.headers)}
    column_of = {target: position[header] for header, target in mapping.items()}
    params: dict[str, str] = {}
    selected = ["_row"]
    for field in FORM_FIELDS + list(practice_fields.values()) + meta_columns:
        if field == MULTI_SELECT and field not in column_of and split_options:
            # only the split 0/1 columns were exported: rebuild the space-separated answer
            ticked = []
            for index, (header, option) in enumerate(split_options.items()):
                params[f"option_{index}"] = option
                ticked.append(f"case when {py_strip(position[header])} in ('1', '1.0', 'True', 'true') "
                              f"then $option_{index} end")
            selected.append(f"concat_ws(' ', {', '.join(ticked)}) as {field}")
        else:
            selected.append(f"{column_of[field]} as {field}" if field in column_of else f"'' as {field}")
    if "submitted_at" not in meta_columns:
        selected.append("'' as submitted_at")
    con.execute("drop table if exists staged_base")
    con.execute(f"create temp table staged_base as select {', '.join(selected)} from raw_rows", params)
    kind.identity(con)
    con.execute("drop table staged_base")
    return notes


def keys_sql() -> str:
    """The pseudonymous key of each distinct teacher id in `staged` (a file has far fewer teachers
    than rows: each key is computed once); binds `$salt`."""
    return f"""create or replace temp table staged_keys as
    select teacher_id, {teacher_key_sql("teacher_id")} as given_key from (select distinct teacher_id from staged)"""


# the schools and teachers a file names: the only history rows its checks and placing read
FILE_SCHOOLS = "select distinct trim(school_id) from staged"
FILE_TEACHERS = "select given_key from staged_keys"


def validation_sql(config: Config) -> str:
    """One query over `staged` (+ `cfg_programmes`) giving every broken rule as a row."""
    checks = []
    for code in config.practice_codes:
        column = f"practice__{code}"
        checks.append(
            f"""select _row, '{code}' as column_name, {column} as value, 'bad_score' as rule,
                   'score must be ' || $scale_{code}_min || '..' || $scale_{code}_max || ' or na' as detail
            from joined
            where lower(trim({column})) not in ('', 'na')
              and (not regexp_full_match(trim({column}), '[0-9]+')  -- DuckDB would cast '3.5' to 4, '1e1' to 10
                   or coalesce(try_cast(trim({column}) as integer) not between $scale_{code}_min and $scale_{code}_max, true))"""
        )
    practice_checks = "\nunion all\n".join(checks)
    return f"""
with school_periods as (
    {periods_sql("school_history", "school_id", FILE_SCHOOLS)}
),
teacher_periods as (
    {periods_sql("teacher_history", "teacher_key", FILE_TEACHERS)}
),
keyed as (
    select s.*, k.given_key, try_strptime(trim(s.visit_date), $date_formats)::date as parsed_date
    from staged s join staged_keys k using (teacher_id)
),
joined as (
    -- the school's place and the teacher's school as the roster had them on the visit date
    select s.*, t.teacher_key, t.programme, sc.school_id as known_school,
           coalesce(sp.district, sc.district) as roster_district, tp.school_id as roster_school,
           p.end_date
    from keyed s
    left join teachers t on t.teacher_key = s.given_key
    left join schools sc on sc.school_id = trim(s.school_id)
    left join school_periods sp on sp.school_id = sc.school_id
         and s.parsed_date >= sp.eff_from and s.parsed_date < sp.eff_to
    left join teacher_periods tp on tp.teacher_key = t.teacher_key
         and s.parsed_date >= tp.eff_from and s.parsed_date < tp.eff_to
    left join cfg_programmes p on p.code = t.programme
),
hindrance_tokens as (
    select _row, hindrances, unnest(string_split(regexp_replace(trim(hindrances), '\\s+', ' ', 'g'), ' ')) as token
    from joined where trim(hindrances) <> ''
)
select _row, 'instance_id' as column_name, '' as value, 'missing_instance_id' as rule,
       'no meta/instanceID, meta/rootUuid, _uuid or KEY' as detail
from joined where trim(submission_id) = ''
union all
select _row, 'teacher_id', {shown_id_sql("teacher_id")}, 'unknown_teacher',
       'no roster teacher has this id (shown as its pseudonymous key): check the id, or import the roster first'
from joined where teacher_key is null
union all
select _row, 'school_id', school_id, 'unknown_school', 'school not in the roster'
from joined where known_school is null
union all
select _row, 'district', district, 'school_not_in_district', 'the roster places this school in ' || roster_district
from joined where known_school is not null and trim(district) <> ''
  and lower(trim(district)) <> lower(roster_district)
union all
select _row, 'school_id', school_id, 'school_mismatch',
       'the roster places this teacher at ' || roster_school || ' on ' || parsed_date::varchar
       || ': if the teacher transferred, import a roster giving the new school (and its valid_from) first'
from joined where known_school is not null and roster_school is not null and trim(school_id) <> roster_school
union all
select _row, 'visit_date', visit_date,
       case when len(list_filter($date_shapes, lambda shape: regexp_full_match(trim(visit_date), shape))) > 0
            then 'impossible_date' else 'bad_date' end,
       'expected a date in one of the formats ' || array_to_string($date_formats, ', ')
from joined where parsed_date is null
union all
select _row, 'visit_date', visit_date, 'date_outside_programme',
       'the programme ' || programme || ' ended ' || end_date::varchar
from joined where parsed_date is not null and end_date is not null
  and (parsed_date < end_date - $window_days
       or parsed_date > end_date + $last_month_days + $window_days
       or parsed_date > $today)
union all
select _row, 'teacher_status', teacher_status, 'bad_status', 'expected one of ' || array_to_string($statuses, ', ')
from joined where not list_contains($statuses, lower(trim(teacher_status)))
union all
{practice_checks}
union all
select distinct _row, 'hindrances', hindrances, 'unknown_option', 'unknown hindrance code ' || token
from hindrance_tokens where not list_contains($hindrance_codes, token)
union all
select _row, 'cop_active', cop_active, 'unknown_option', 'expected yes or no'
from joined where lower(trim(cop_active)) not in ('', 'yes', 'no')
union all
select _row, 'cop_meetings_3m', cop_meetings_3m, 'bad_integer', 'expected a whole number 0 or more'
from joined where trim(cop_meetings_3m) <> ''
  and (not regexp_full_match(trim(cop_meetings_3m), '[0-9]+')
       or coalesce(try_cast(trim(cop_meetings_3m) as integer) < 0, true))
"""


def validation_params(config: Config, salt: str) -> dict:
    params = {
        "salt": salt,
        "date_formats": config.sources.kobo.date_formats,
        "date_shapes": date_shapes(config.sources.kobo.date_formats),
        "window_days": config.schedule.window_weeks * 7,
        "last_month_days": int(round(config.schedule.months[-1] * DAYS_PER_MONTH)),
        "today": dt.date.today(),
        "statuses": TEACHER_STATUSES,
        "hindrance_codes": config.hindrance_codes,
    }
    for practice in config.practices:
        params[f"scale_{practice.code}_min"] = practice.scale_min
        params[f"scale_{practice.code}_max"] = practice.scale_max
    return params


def clean_sql(config: Config) -> str:
    """Valid rows as stored values, with a content hash, one chosen row per identity."""
    practice_cols = [f"practice__{code}" for code in config.practice_codes]
    scores = ", ".join(f"try_cast(trim({c}) as integer) as {c}" for c in practice_cols)
    hashed = ", ".join(f"coalesce({c}::varchar, '')" for c in practice_cols)
    return f"""
create or replace temp table clean as
with school_periods as (
    {periods_sql("school_history", "school_id", FILE_SCHOOLS)}
),
valid as (
    select s.*, try_strptime(trim(s.visit_date), $date_formats)::date as parsed_date
    from staged s where s._row not in (select _row from bad)
),
typed as (
    -- the visit's place: its school's province, district and cluster valid on the visit date
    select _row, trim(submission_id) as submission_id, trim(instance_id) as instance_id,
           coalesce(try_cast(nullif(trim(edit_rank), '') as integer), 0) as edit_rank,
           try_cast(nullif(trim(version_time), '') as timestamptz) as version_time,
           parsed_date as visit_date,
           nullif(trim(observer_id), '') as observer_id,
           sp.province, sp.district, sp.cluster, sp.school_id,
           k.given_key as teacher_key,
           lower(trim(teacher_status)) as teacher_status,
           case lower(trim(cop_active)) when 'yes' then true when 'no' then false end as cop_active,
           try_cast(nullif(trim(cop_meetings_3m), '') as integer) as cop_meetings_3m,
           nullif(comments, '') as comments,
           nullif(trim(submitted_at), '') as submitted_at,
           case when trim(hindrances) = '' then []::varchar[]
                else list_sort(list_distinct(string_split(regexp_replace(trim(hindrances), '\\s+', ' ', 'g'), ' ')))
           end as hindrance_list,
           {scores}
    from valid v join staged_keys k using (teacher_id)
         join school_periods sp on sp.school_id = trim(v.school_id)
         and v.parsed_date >= sp.eff_from and v.parsed_date < sp.eff_to
),
hashed as (
    select *, md5(concat_ws('|', visit_date::varchar, coalesce(observer_id, ''), school_id, teacher_key,
                  teacher_status, coalesce(cop_active::varchar, ''), coalesce(cop_meetings_3m::varchar, ''),
                  coalesce(comments, ''), array_to_string(hindrance_list, ' '), {hashed})) as content_hash
    from typed
),
ranked as (
    select *,
           row_number() over (partition by submission_id order by edit_rank desc, version_time desc nulls last, _row) as pick,
           count(distinct content_hash) over (partition by submission_id, edit_rank, version_time) as variants
    from hashed
)
select * from ranked
"""
