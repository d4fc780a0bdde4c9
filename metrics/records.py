"""Record-level tables for the Data page: the import ledger, the quarantine and the tidy
observations researchers download. Same signature as the indicators, `(con, filters, by, config)`.

- `import_ledger`: every file import, newest first (not filtered: a file spans districts).
- `quarantine_rows`: rows kept aside by the ingest, with file, row, column, value, rule and detail
  (not filtered: a quarantined row may name a district or school the roster lacks). It cannot be
  placed in a district, so a viewer limited to some districts (`Filters.scope`) sees none of it.
  `raw_row` is the whole row as the file held it (JSON, header -> cell; teacher ids as `key:<key>`),
  so a data manager can fix it and import it again.
- `sync_log`: the last live sync of every source (`python -m ingest sync`), and the sources
  configured under `sources.sync` that have not run yet (synced_at empty); not filtered.
- `tidy_observations`: one row per teacher, practice and round (the `observations` base
  relation), plus one row (practice, score, retained empty) per placed visit at which no practice
  was scored (the teacher absent, on leave, left or transferred, or every practice `na`), with
  the filters applied. Each row carries its visit's teacher status and, for each hindrance of
  config, whether the visit reported it (empty when the teacher was not present: the question is
  asked only then), so hindrances and drop-out can be modelled from it. This is row-level
  pseudonymous data for researchers: teachers appear only under their salted key, no group is
  suppressed and nothing else is left out; it must be shared under the programme's
  data-protection terms, not published.
- `tidy_preview`: the tidy export's first PREVIEW_ROWS rows and its row count (`attrs["rows"]`),
  computed in DuckDB: what the Data page shows without reading the export. `tidy_batches` reads the whole export in Arrow
  record batches, for the downloads (report/exports.py `write_tidy_bundle`) to write in bounded
  memory.
"""
from __future__ import annotations

from typing import Sequence

import duckdb
import pandas as pd
import pyarrow as pa

from sustain.config import Config
from sustain.dimensions import teacher_dimensions

from sustain.db import execute, relation, sibling_cursor

from .base import BASE_CTES, base_params, filtered_rows, query
from .filters import Filters

LEDGER_COLUMNS = ["run_id", "source_file", "source_sha256", "kind", "started_at", "finished_at", "rows_read",
                  "inserted", "updated", "unchanged", "quarantined", "refused", "reason", "config_version", "notes"]
SYNC_COLUMNS = ["source", "kind", "synced_at", "fetched", "absent"]
QUARANTINE_COLUMNS = ["file", "row", "column", "value", "rule", "detail", "run_id", "quarantined_at", "raw_row"]
_PLACE_AND_TEACHER = ["teacher_key", "school_id", "school_name", "cluster", "district", "province", "programme",
                      "school_type", "gender", "subject"]
# the tidy export's columns but the hindrances (`tidy_columns(config)` adds one per hindrance of
# config after teacher_status); every teacher-level dimension of the catalogue is one of them
TIDY_COLUMNS = (_PLACE_AND_TEACHER + [d.name for d in teacher_dimensions() if d.name not in _PLACE_AND_TEACHER]
                + ["months", "visit_date", "teacher_status", "practice", "score", "retained", "source_file",
                   "source_sha256"])
HINDRANCE_PREFIX = "hindrance_"
PREVIEW_ROWS = 100  # rows of the tidy export the Data page shows
ROWS_PER_BATCH = 32_768  # rows of the tidy export held at once while a download is written


def tidy_columns(config: Config) -> list[str]:
    """The tidy export's columns: TIDY_COLUMNS with `hindrance_<code>` per hindrance of config."""
    at = TIDY_COLUMNS.index("teacher_status") + 1
    return TIDY_COLUMNS[:at] + [HINDRANCE_PREFIX + h.code for h in config.hindrances] + TIDY_COLUMNS[at:]


def import_ledger(con: duckdb.DuckDBPyConnection, filters: Filters | None, by: Sequence[str],
                  config: Config) -> pd.DataFrame:
    """The import ledger, newest first; `filters` and `by` do not apply."""
    frame = query(con, config, f"""
ledger as (
    select {", ".join(LEDGER_COLUMNS)} from import_ledger
)
select * from ledger order by finished_at desc, started_at desc, source_file
""")
    return frame[LEDGER_COLUMNS]


def quarantine_rows(con: duckdb.DuckDBPyConnection, filters: Filters | None, by: Sequence[str],
                    config: Config) -> pd.DataFrame:
    """Quarantined rows, newest first, then by file and row; `filters` and `by` do not apply,
    except the viewer's district scope: limited viewers see no rows (a quarantined row cannot be
    placed in a district). `row` is the data row of the file (1 = first row under the header)."""
    every_district = filters is None or filters.scope is None
    frame = query(con, config, """
kept_aside as (
    select source_file as file, row_number as "row", column_name as "column", value, rule, detail,
           run_id, quarantined_at, raw_row
    from quarantine
    where $every_district
)
select * from kept_aside order by quarantined_at desc, file, "row", "column"
""", {"every_district": every_district})
    return frame[QUARANTINE_COLUMNS]


def sync_log(con: duckdb.DuckDBPyConnection, filters: Filters | None, by: Sequence[str],
             config: Config) -> pd.DataFrame:
    """The last live sync per source: when it ran, how many submissions it fetched and (full runs)
    how many stored ones the server no longer lists; a configured source never synced has an
    empty `synced_at`. `filters` and `by` do not apply (a source spans districts)."""
    configured = config.sources.sync
    frame = query(con, config, """
configured as (
    select unnest($names::varchar[]) as source, unnest($kinds::varchar[]) as kind
),
last_runs as (
    select source, kind, synced_at, fetched, absent from sync_state
),
per_source as (
    select coalesce(r.source, c.source) as source, coalesce(r.kind, c.kind) as kind,
           r.synced_at, r.fetched, r.absent
    from last_runs r full join configured c using (source)
)
select * from per_source order by source
""", {"names": list(configured), "kinds": [s.kind for s in configured.values()]})
    return frame[SYNC_COLUMNS]


def tidy_observations(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                      config: Config) -> pd.DataFrame:
    """One row per teacher, practice and round with the filters applied (`by` does not apply),
    and one per placed visit without a scored practice: the observations every indicator starts
    from, with the school's name, the visit's teacher status and hindrances, and its source file
    (its sha256 links it to the import ledger). Not suppressed: see the module docstring."""
    sql, params = tidy_sql(filters, config)
    frame = query(con, config, sql, params)
    frame["visit_date"] = pd.to_datetime(frame["visit_date"]).dt.date
    return frame[tidy_columns(config)]


def tidy_preview(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                 config: Config) -> pd.DataFrame:
    """The tidy export's first PREVIEW_ROWS rows (as `tidy_observations` returns them), with its
    row count in `attrs["rows"]`; counted in DuckDB, so the export is never read whole. `by` does
    not apply.

    Neither sorts nor joins the whole export (at national scale that cost seconds): the export is
    ordered by teacher first, and the scored rows are part of it, so its first PREVIEW_ROWS rows
    lie among the teachers up to the PREVIEW_ROWS-th smallest key of the scored rows; the preview
    is the export's query on those teachers only. The count adds the scored and the unscored rows
    without the joins that only carry columns: each row has one placed visit, one visit and one
    school (the analysis model is built from them, and refreshed with them)."""
    ctes, params = tidy_ctes(filters, config)
    # the bound and the export's row count in one pass over the view's rows
    bound = query(con, config, f"""{ctes},
last_teacher as (
    select teacher_key from filtered order by teacher_key limit 1 offset $last_row
)
select (select teacher_key from last_teacher) as teacher_key,
       (select count(*) from filtered) + (select count(*) from unscored_visits) as rows
""", params | {"last_row": PREVIEW_ROWS - 1})
    # fewer scored rows than the preview shows: a small export, read whole
    upto = bound["teacher_key"].iloc[0] if pd.notna(bound["teacher_key"].iloc[0]) else None
    sql, params = tidy_sql(filters, config, upto, sources=False)
    preview = query(con, config, f"{sql}\nlimit $preview_rows", params | {"preview_rows": PREVIEW_ROWS})
    preview["visit_date"] = pd.to_datetime(preview["visit_date"]).dt.date
    # each row's source file from its visit, looked up by submission for the preview's rows only
    # (joined in the query, DuckDB read every visit's submission id: 150 ms at a million teachers)
    found = execute(con, """select submission_id, source_file, source_sha256 from visits
where submission_id in (select unnest($submissions::varchar[]))""",
                    {"submissions": preview["submission_id"].dropna().unique().tolist()}).df()
    found = found.set_index("submission_id")
    for column in ("source_file", "source_sha256"):
        preview[column] = preview["submission_id"].map(found[column]).astype(object)
    preview = preview[tidy_columns(config)]
    preview.attrs["rows"] = int(bound["rows"].iloc[0])
    return preview


def tidy_batches(con: duckdb.DuckDBPyConnection, filters: Filters, config: Config,
                 rows_per_batch: int = ROWS_PER_BATCH) -> pa.RecordBatchReader:
    """The tidy export, in its order, as Arrow record batches of at most `rows_per_batch` rows
    (DuckDB produces them as they are read; the export is never held whole)."""
    sql, params = tidy_sql(filters, config)
    # a cursor of its own: `con` may hold an unfinished result (sustain.db.read_only's check), and
    # a relation is read only on a connection without one
    tidy = relation(sibling_cursor(con), f"with {BASE_CTES},\n{sql}", base_params(config) | params)
    return tidy.to_arrow_reader(rows_per_batch)  # DuckDB 2's name for fetch_record_batch


def tidy_sql(filters: Filters, config: Config, upto: str | None = None,
             sources: bool = True) -> tuple[str, dict]:
    """The tidy export's query (continuing BASE_CTES, as `query` runs it) and its parameters;
    `upto`: only the rows of teachers whose key is at most this one; `sources` False: the source
    file columns left empty and each row's `submission_id` added (`tidy_preview` reads them)."""
    ctes, params = tidy_ctes(filters, config, upto, sources)
    return f"""{ctes}
select * from tidy order by teacher_key, months, practice nulls first
""", params


def tidy_ctes(filters: Filters, config: Config, upto: str | None = None,
              sources: bool = True) -> tuple[str, dict]:
    """The tidy export's rows, unordered, as the named CTE `tidy` (continuing BASE_CTES) and its
    parameters; `upto`: only the rows of teachers whose key is at most this one; `sources`: see
    `tidy_sql`. Hindrance columns are named from config codes (lower-case identifiers, checked by
    config)."""
    # the scored rows of the filtered visits' place and rounds: a scored row carries its visit's
    # columns (the analysis model copies them), so a district's visits are tested on its rows only
    place, place_params = filters.replace(practice=(), hindrance=()).where("visit", keyed=True)
    observed, params = filtered_rows([], filters)
    # visit-level: a practice filter does not apply to a visit at which nothing was scored
    visits, visit_params = filtered_rows([], filters.replace(practice=()), "placed_visits")
    # the model's tables joined here are read for the view's place only (a row's placed visit is in
    # it: the model's rows carry their visit's place) and, with `upto`, for those teachers only, so
    # DuckDB joins a few rows, not every visit of the country; `visits` is joined for the sources
    # of a whole export only (the preview looks its rows' up by submission)
    of_teachers = {"model_observations": f"(select * from model_observations where {place})",
                   "model_visits": f"(select * from model_visits where {place})"}
    params = params | place_params
    if upto is not None:
        observed, visits = (f"select * from ({rows}) where teacher_key <= $tidy_upto" for rows in (observed, visits))
        of_teachers = {t: f"(select * from {r} where teacher_key <= $tidy_upto)" for t, r in of_teachers.items()}
        params = params | {"tidy_upto": upto}
    from_visit = {"school_name": "sc.school_name", "teacher_status": "mv.teacher_status",
                  "source_file": "v.source_file", "source_sha256": "v.source_sha256"}
    if not sources:
        from_visit |= {"source_file": "null::varchar", "source_sha256": "null::varchar"}
    carried = ", ".join(c for c in TIDY_COLUMNS
                        if c not in from_visit and c not in ("practice", "score", "retained"))
    codes = {HINDRANCE_PREFIX + h.code: f"tidy_h{i}" for i, h in enumerate(config.hindrances)}
    outer = ", ".join(
        f"case when mv.teacher_status = 'present' then list_contains(mv.hindrances, ${codes[c]}) end as {c}"
        if c in codes else f"{from_visit.get(c, 'r.' + c)} as {c}" for c in tidy_columns(config))
    visits_join = "\n    join visits v on v.submission_id = r.submission_id" if sources else ""
    submission = "" if sources else ", r.submission_id as submission_id"
    return f"""
filtered as (
    {observed}
),
filtered_visits as (
    {visits}
),
unscored_visits as (
    select * from filtered_visits fv
    where not exists (select 1 from {of_teachers['model_observations']} o where o.submission_id = fv.submission_id)
),
tidy_rows as (
    select {carried}, submission_id, practice, score, retained from filtered
    union all
    select {carried}, submission_id, null::varchar as practice, null::integer as score, null::boolean as retained
    from unscored_visits
),
tidy as (
    select {outer}{submission}
    from tidy_rows r
    join {of_teachers['model_visits']} mv on mv.submission_id = r.submission_id
    join schools sc on sc.school_id = r.school_id{visits_join}
)""", params | visit_params | {name: code[len(HINDRANCE_PREFIX):] for code, name in codes.items()}
