"""Open the DuckDB file and create the canonical schema.

DuckDB allows one read-write process or many read-only ones. Ingest opens read-write and writes
each file in one transaction; the dashboard and `python -m metrics` open read-only per query and
never hold the file open across reruns. A reader that meets the writer's lock retries briefly and
then raises `DataRefreshing`, which pages turn into "the data is refreshing".

A writer also meets readers' locks (a dashboard query holds the file for its duration), and a
second import meets the first one's: `open_for_writing` waits for the lock up to
`WRITE_WAIT_SECONDS` (environment variable `SUSTAIN_LOCK_WAIT` overrides it), then raises
`DatabaseBusy` naming the process that holds it; nothing has been written at that point. While
it waits it leaves `<database>.importing`, and readers step aside, so a busy dashboard cannot
starve an import.
"""
from __future__ import annotations

import contextlib
import os
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


class DatabaseBusy(DataRefreshing):
    """Another process held the database for longer than a writer was willing to wait."""


class DatabaseUnwritable(RuntimeError):
    """The database (or its folder) cannot be written: read-only, no permission, or the disk is
    full. The message is one sentence saying what happened and how to fix it."""


# What the operating system / DuckDB said -> what it means for the user (first match wins)
_STORAGE_REASONS = [
    (("no space left", "disk full", "enospc", "file too large", "efbig", "disk quota"),
     "the disk is full", "free some space"),
    (("read-only file system", "read only file system", "erofs"),
     "it is on a read-only file system", "copy it to a writable folder and pass --db"),
    (("permission denied", "access is denied", "operation not permitted", "eacces", "eperm"),
     "it (or its folder) is read-only for this user", "make it writable, or copy it to a writable folder and pass --db"),
]


def storage_problem(exc: BaseException) -> tuple[str, str] | None:
    """(what happened, how to fix) when `exc` is the database's storage failing (read-only, no
    permission, disk full, or DuckDB invalidated after such a failure); None for anything else."""
    if is_lock_error(exc):
        return None
    text = str(exc).lower()
    if isinstance(exc, OSError) or isinstance(exc, (duckdb.IOException, duckdb.FatalException,
                                                    duckdb.TransactionException, duckdb.InvalidInputException)):
        for needles, what, fix in _STORAGE_REASONS:
            if any(needle in text for needle in needles):
                return what, fix
    if isinstance(exc, duckdb.FatalException) or "invalidated" in text:
        return "it could not be written (" + str(exc).splitlines()[0][:200] + ")", "check the disk and the file"
    if isinstance(exc, (OSError, duckdb.IOException)):
        return "it could not be written (" + str(exc).splitlines()[0][:200] + ")", "check the disk and the file"
    return None


class DatabaseMissing(FileNotFoundError):
    """No database file yet: run `python -m ingest` or start the dashboard once."""


WRITE_WAIT_SECONDS = 10.0


def write_wait_seconds() -> float:
    """How long a writer waits for the lock: $SUSTAIN_LOCK_WAIT, else WRITE_WAIT_SECONDS."""
    try:
        return max(0.0, float(os.environ.get("SUSTAIN_LOCK_WAIT", WRITE_WAIT_SECONDS)))
    except ValueError:
        return WRITE_WAIT_SECONDS


def is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def lock_holder(exc: BaseException) -> str:
    """'process 1234' from DuckDB's lock message, else 'another process'."""
    match = re.search(r"\(PID (\d+)\)", str(exc))
    return f"process {match.group(1)}" if match else "another process"


def wait_for_lock(action, path: str | Path, wait_seconds: float | None = None, on_retry=None):
    """Run `action()` (which opens `path`), retrying while another process holds the file's lock,
    for up to `wait_seconds`; then raise `DatabaseBusy`. `on_retry()` runs before each retry."""
    wait_seconds = write_wait_seconds() if wait_seconds is None else wait_seconds
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            return action()
        except duckdb.IOException as exc:
            if not is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise DatabaseBusy(
                    f"{path} is in use by {lock_holder(exc)} (another import, or a dashboard query) "
                    f"and stayed locked for {wait_seconds:g} s; nothing was written: run the import again "
                    "when it has finished (SUSTAIN_LOCK_WAIT sets how long to wait)"
                ) from None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.5)
            if on_retry:
                on_retry()


# A writer waiting for the lock says so in `<database>.importing` (its process id), refreshed on
# every retry; readers that see a fresh one back off instead of opening, so a busy dashboard
# cannot starve an import (DuckDB's file lock has no queue). A stale one (its process gone, or
# not refreshed for INTENT_STALE_SECONDS, e.g. after a crash) is ignored.
INTENT_STALE_SECONDS = 5.0


def _intent_path(path: Path) -> Path:
    return path.with_name(path.name + ".importing")


def import_waiting(path: str | Path) -> bool:
    """A live writer is waiting for this database's lock."""
    marker = _intent_path(Path(path))
    try:
        pid = int(marker.read_text(encoding="utf-8").strip() or 0)
        age = time.time() - marker.stat().st_mtime
    except (OSError, ValueError):
        return False
    if age > INTENT_STALE_SECONDS:
        return False
    if pid:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:  # exists, owned by someone else
            pass
    return True


def open_for_writing(path: str | Path, wait_seconds: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the database read-write and make sure the schema exists; waits
    for another process's lock up to `wait_seconds` (default `write_wait_seconds()`)."""
    path = Path(path)
    try:
        return _open_for_writing(path, wait_seconds)
    except Exception as exc:
        problem = storage_problem(exc)
        if problem is None:
            raise
        raise DatabaseUnwritable(
            f"cannot write the database {path}: {problem[0]}; nothing was written: {problem[1]}, "
            "then run the same command again"
        ) from None


def _open_for_writing(path: Path, wait_seconds: float | None) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = _intent_path(path)

    def announce() -> None:
        try:
            marker.write_text(str(os.getpid()), encoding="utf-8")
        except OSError:
            pass

    def connect() -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if is_lock_error(exc):
                announce()  # only a writer that meets a lock asks readers to step aside
            raise

    try:
        con = wait_for_lock(connect, path, wait_seconds, on_retry=announce)
    finally:
        try:
            marker.unlink(missing_ok=True)
        except OSError:
            pass
    try:
        con.execute(SCHEMA)
        if not con.execute("select count(*) from schema_info").fetchone()[0]:
            con.execute("insert into schema_info values (?)", [SCHEMA_VERSION])
    except Exception:
        con.close()
        raise
    return con


@contextlib.contextmanager
def read_only(path: str | Path, retry_seconds: float = 3.0):
    """A short-lived read-only connection; waits up to `retry_seconds` for a writer to finish (or
    for a waiting writer to get in and finish), then raises DataRefreshing."""
    path = Path(path)
    if not path.exists():
        raise DatabaseMissing(f"no database at {path}: import data with `python -m ingest FILE...` first")
    deadline = time.monotonic() + retry_seconds
    delay = 0.05
    while True:
        if not import_waiting(path):
            try:
                con = duckdb.connect(str(path), read_only=True)
                break
            except duckdb.IOException as exc:
                if not is_lock_error(exc):
                    raise
        if time.monotonic() > deadline:
            raise DataRefreshing("the data is refreshing (an import is running); try again in a moment") from None
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
