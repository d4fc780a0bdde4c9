"""Open the DuckDB file and create the canonical schema.

DuckDB allows one read-write process or many read-only ones. Ingest opens read-write and writes
each file in one transaction; the dashboard and `python -m metrics` open read-only per query and
never hold the file open across reruns. A reader that meets the writer's lock retries briefly and
then raises `DataRefreshing`, which pages turn into "the data is refreshing".
"""
from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import duckdb

SCHEMA_VERSION = 1

SCHEMA = """
create table if not exists schema_info (version integer not null);

create table if not exists schools (
    school_id     varchar primary key,
    school_name   varchar,
    school_type   varchar,
    cluster       varchar not null,
    district      varchar not null,
    province      varchar not null,
    source_file   varchar, source_sha256 varchar, source_row integer, run_id varchar
);

-- teacher_name is never stored: a teacher is known only by a salted hash of the roster id
create table if not exists teachers (
    teacher_key   varchar primary key,
    gender        varchar,
    subject       varchar,
    school_id     varchar not null,
    programme     varchar not null,
    content_hash  varchar not null,
    source_file   varchar, source_sha256 varchar, source_row integer, run_id varchar
);

create table if not exists visits (
    submission_id   varchar primary key,   -- root instance id: identity across edits
    instance_id     varchar not null,
    edit_rank       integer not null,      -- ODK `Edits`; Kobo 1 when instance differs from root
    version_time    timestamptz,           -- `end` (Kobo) / SubmissionDate (ODK): later wins on equal rank
    content_hash    varchar not null,
    source_kind     varchar not null,
    visit_date      date not null,
    observer_id     varchar,
    district        varchar,
    cluster         varchar,
    school_id       varchar not null,
    teacher_key     varchar not null,
    teacher_status  varchar not null,
    cop_active      boolean,
    cop_meetings_3m integer,
    comments        varchar,
    submitted_at    varchar,
    source_file varchar, source_sha256 varchar, source_row integer, run_id varchar
);

create table if not exists visit_practices (
    submission_id varchar not null,
    practice      varchar not null,
    score         integer,                 -- null: `na` or not scored (missing, never 0)
    primary key (submission_id, practice)
);

create table if not exists visit_hindrances (
    submission_id varchar not null,
    hindrance     varchar not null,
    primary key (submission_id, hindrance)
);

create table if not exists cop_meetings (
    meeting_key      varchar primary key,
    cluster          varchar not null,
    meeting_date     date not null,
    attendees        integer,
    facilitator_role varchar,
    topic            varchar,
    source_file varchar, source_sha256 varchar, source_row integer, run_id varchar
);

create table if not exists quarantine (
    source_file   varchar not null,
    source_sha256 varchar not null,
    row_number    integer not null,        -- data row, 1 = first row under the header
    column_name   varchar not null,
    value         varchar,
    rule          varchar not null,
    detail        varchar,
    run_id        varchar not null,
    quarantined_at timestamp not null,
    primary key (source_sha256, row_number, column_name, rule)
);

create table if not exists import_ledger (
    run_id        varchar not null,
    source_file   varchar not null,
    source_sha256 varchar,
    kind          varchar,
    started_at    timestamp not null,
    finished_at   timestamp not null,
    rows_read     integer,
    inserted      integer,
    updated       integer,
    unchanged     integer,
    quarantined   integer,
    refused       boolean not null,
    reason        varchar,
    config_version varchar
);
"""


class DataRefreshing(RuntimeError):
    """The database is locked by an ingest for longer than the reader is willing to wait."""


class DatabaseMissing(FileNotFoundError):
    """No database file yet: run `python -m ingest` or start the dashboard once."""


def open_for_writing(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the database read-write and make sure the schema exists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DataRefreshing(
                f"{path} is in use by another process (another import, or a reader): "
                "wait for it to finish and run the import again"
            ) from None
        raise
    con.execute(SCHEMA)
    if not con.execute("select count(*) from schema_info").fetchone()[0]:
        con.execute("insert into schema_info values (?)", [SCHEMA_VERSION])
    return con


@contextlib.contextmanager
def read_only(path: str | Path, retry_seconds: float = 3.0):
    """A short-lived read-only connection; waits up to `retry_seconds` for a writer to finish."""
    path = Path(path)
    if not path.exists():
        raise DatabaseMissing(f"no database at {path}: import data with `python -m ingest FILE...` first")
    deadline = time.monotonic() + retry_seconds
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                if "lock" in str(exc).lower():
                    raise DataRefreshing("the data is refreshing (an import is running); try again in a moment") from None
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
    try:
        yield con
    finally:
        con.close()


_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    """Run `sql` binding only the named parameters it uses (DuckDB refuses unused ones)."""
    used = set(_PARAM.findall(sql))
    missing = used - set(params or {})
    if missing:
        raise KeyError(f"no value for SQL parameter(s): {', '.join(sorted(missing))}")
    return con.execute(sql, {name: value for name, value in (params or {}).items() if name in used})
