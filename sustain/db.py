"""Open the DuckDB file and create the canonical schema.

DuckDB allows one read-write process or many read-only ones. Ingest opens read-write and writes
each file in one transaction; the dashboard and `python -m metrics` open read-only per query and
leave the file attached for `KEEP_ATTACHED_SECONDS` after their last query (a page's next call
reuses it), never longer. A reader that meets the writer's lock retries briefly and
then raises `DataRefreshing`, which pages turn into "the data is refreshing".

A writer also meets readers' locks (a dashboard query holds the file for its duration), and a
second import meets the first one's: `open_for_writing` waits for the lock up to
`WRITE_WAIT_SECONDS` (environment variable `SUSTAIN_LOCK_WAIT` overrides it), then raises
`DatabaseBusy` naming the process that holds it; nothing has been written at that point. While
it waits it leaves `<database>.importing`, and readers step aside (an idle attachment is dropped),
so a busy dashboard cannot starve an import.

Inside one process (the dashboard's server) every read runs on one in-memory DuckDB instance that
attaches the file read-only while a query reads it (`ReadInstance`: an attach costs a fraction of
a new instance), and a read-write connection cannot be opened while it is attached ("unique file
handle conflict"), nor the reverse. So an import run by the server (an upload, the first-start
build) takes `PROCESS_LOCK` for writing: it waits for the queries in flight, new queries wait
behind it (then say "the data is refreshing"), and a second import queues behind the first.

Published versions (README "Serving many users"): with `publish.enabled` (or `--publish`) the
database path is a pointer, a symlink `data/sustain.duckdb -> versions/sustain-<UTC stamp>.duckdb`.
An import copies the current version into a draft beside it, writes the draft, checkpoints it and
renames it into a new version, then swaps the pointer with one `os.replace` (`publishing`). A
published version is never written again, so readers, which resolve the pointer once per
connection (`current_version`), never see half a version and never wait for the writer.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from sustain.config import ConfigError

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


# -- schema migrations ----------------------------------------------------------------------------
# Ordered; each runs once, in one transaction, when the database is opened for writing, and is
# recorded in `schema_info` (version, applied_at, description). A reader refuses a database whose
# version is newer than the code's (written by a later Sustain), and one that is older than the
# code's until an import or `python -m ingest upgrade` has brought it up to date. Never edit a
# released migration: add the next one.
MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "the canonical tables, quarantine and import ledger", SCHEMA),
    (2, "the analysis model (ingest/model.py) and live-sync state", """
alter table schema_info add column if not exists applied_at timestamp;
alter table schema_info add column if not exists description varchar;
create table if not exists model_info (
    config_fingerprint varchar not null,
    built_at timestamp not null
);
create table if not exists model_visits (
    submission_id varchar, teacher_key varchar, months integer, visit_date date, days_since_end integer,
    teacher_status varchar, cop_active boolean, cop_meetings_3m integer,
    school_id varchar, cluster varchar, district varchar, province varchar, school_type varchar,
    programme varchar, gender varchar, subject varchar, hindrances varchar[]
);
create table if not exists model_observations (
    submission_id varchar, teacher_key varchar, months integer, visit_date date, days_since_end integer,
    teacher_status varchar, cop_active boolean, cop_meetings_3m integer,
    school_id varchar, cluster varchar, district varchar, province varchar, school_type varchar,
    programme varchar, gender varchar, subject varchar,
    practice varchar, score integer, retained boolean
);
create table if not exists person_period (
    teacher_key varchar, practice varchar, months integer,
    observed boolean, retained boolean, at_risk boolean, event boolean, censored boolean,
    confirmed_event boolean, months_prev integer,
    hindrances_now varchar[], hindrances_prev varchar[], hindrances_m0 varchar[],
    school_id varchar, cluster varchar, district varchar, province varchar, school_type varchar,
    programme varchar, gender varchar, subject varchar
);
create table if not exists sync_state (
    source    varchar primary key,
    kind      varchar not null,
    cursor    varchar,          -- Kobo: the last _id; ODK: the last submissionDate/updatedAt
    synced_at timestamp not null,
    fetched   integer not null,
    run_id    varchar,
    absent    integer           -- full runs: stored submissions the server no longer lists
);
"""),
    (3, "history of assignments (valid-from dates), the place of each visit, whole quarantined rows, "
        "import notes and the salt fingerprint", """
alter table visits add column if not exists province varchar;
alter table quarantine add column if not exists raw_row varchar;
alter table import_ledger add column if not exists notes varchar;
-- Assignments over time. The row with valid_to null is the current one (also in schools /
-- teachers). A school's or teacher's first row also stands for the time before its valid_from:
-- the roster is the only record of where they were before they first appeared in it.
create table if not exists school_history (
    school_id  varchar not null,
    cluster    varchar not null,
    district   varchar not null,
    province   varchar not null,
    valid_from date not null,
    valid_to   date,
    run_id     varchar
);
create table if not exists teacher_history (
    teacher_key varchar not null,
    school_id   varchar not null,
    programme   varchar not null,
    valid_from  date not null,
    valid_to    date,
    run_id      varchar
);
-- key -> value; `salt_fingerprint`: sha256 of the salt and a constant, to refuse imports under another salt
create table if not exists settings (
    key   varchar primary key,
    value varchar not null
);
-- a database of an earlier release has schools and teachers but no history: their current
-- assignment becomes their first history row (which also stands for the time before it)
insert into school_history
select school_id, cluster, district, province, current_date, null, 'upgrade' from schools;
insert into teacher_history
select teacher_key, school_id, programme, current_date, null, 'upgrade' from teachers;
-- visits stored before visits.province existed: their school's province (district and cluster
-- were already the roster's at import, checked by the school_not_in_district rule)
update visits set province = sc.province from schools sc
where visits.province is null and sc.school_id = visits.school_id;
"""),
    (4, "teachers' roster attributes beyond the core columns (the catalogue's roster columns)", """
-- roster column -> value, for the roster columns the catalogue of dimensions declares
-- (sustain/dimensions.py `roster_column`); null for teachers imported before
alter table teachers add column if not exists attributes map(varchar, varchar);
"""),
    (5, "retention's response weights and the rollups of the analysis model (ingest/model.py)", """
-- each unit-round's history class, and the classes' response weights
alter table person_period add column if not exists last_retained boolean;
alter table person_period add column if not exists last_months integer;
create table if not exists response_classes (
    programme varchar, months integer, last_retained boolean, last_months integer,
    units bigint, observed_units bigint, weight double
);
-- retention's and prevalence's sums per measure, grain, school cell and history class (the
-- catalogue's further teacher-level columns are added by the model build)
create table if not exists rollup_cells (
    measure varchar, grain varchar,
    province varchar, district varchar, cluster varchar, school_id varchar, school_type varchar,
    programme varchar, months integer, practice varchar, gender varchar, subject varchar,
    last_retained boolean, last_months integer,
    retained bigint, n bigint, teachers bigint
);
"""),
    (6, "scores and hindrances of a visit without primary-key indexes (the import writes each pair once)", """
-- The import writes a visit's (practice, score) and hindrance pairs once: one version of each
-- submission is picked, a changed one's pairs are deleted first, practice codes are distinct and
-- hindrances are taken distinct (ingest/core.py `_import_survey`; tests/test_rollups.py checks it
-- after an import, an edit and a re-import). The indexes cost about a third of a national import.
create table visit_practices_unkeyed (
    submission_id varchar not null,
    practice      varchar not null,
    score         integer                  -- null: `na` or not scored (missing, never 0)
);
insert into visit_practices_unkeyed select submission_id, practice, score from visit_practices
order by submission_id, practice;
drop table visit_practices;
alter table visit_practices_unkeyed rename to visit_practices;
create table visit_hindrances_unkeyed (
    submission_id varchar not null,
    hindrance     varchar not null
);
insert into visit_hindrances_unkeyed select submission_id, hindrance from visit_hindrances
order by submission_id, hindrance;
drop table visit_hindrances;
alter table visit_hindrances_unkeyed rename to visit_hindrances;
"""),
    (7, "the latent model's pattern counts per school cell (ingest/model.py `pattern_cells`)", """
-- units (teacher-practices scored at month 0) per month-0 school cell and pattern of round symbols
-- (sustain/patterns.py); the catalogue's further teacher-level columns are added by the model
-- build, which fills the table (the model version changed, so an existing model is rebuilt once)
create table if not exists pattern_cells (
    province varchar, district varchar, cluster varchar, school_id varchar, school_type varchar,
    programme varchar, practice varchar, gender varchar, subject varchar,
    pattern bigint, units bigint
);
"""),
    (8, "retention's unit patterns and unscored units per school cell (ingest/model.py); "
        "the response weights dropped", """
-- each unit's (teacher-practice scored at month 0) pattern code (sustain/patterns.py)
create table if not exists model_unit_patterns (
    teacher_key varchar, practice varchar, pattern bigint
);
-- retention's units not scored at a round, per grain, school cell and pattern; the catalogue's
-- further teacher-level columns are added by the model build, which fills the table (the model
-- version changed, so an existing model is rebuilt once)
create table if not exists unscored_cells (
    grain varchar,
    province varchar, district varchar, cluster varchar, school_id varchar, school_type varchar,
    programme varchar, months integer, practice varchar, gender varchar, subject varchar,
    pattern bigint, units bigint
);
-- retention's former response weights and the history classes they were kept by: read by no
-- figure since retention became the as-scored share (metrics/as_scored.py)
drop table if exists response_classes;
alter table rollup_cells drop column if exists last_retained;
alter table rollup_cells drop column if exists last_months;
alter table person_period drop column if exists last_retained;
alter table person_period drop column if exists last_months;
"""),
    (9, "the latent model's pattern counts per hindrance group and school cell (ingest/model.py "
        "`pattern_hindrance_cells`)", """
-- pattern_cells again, per hindrance a unit's teacher reported at any placed visit (a teacher is in
-- every hindrance group they reported); filled by the model build (the model version changed)
create table if not exists pattern_hindrance_cells (
    hindrance varchar,
    province varchar, district varchar, cluster varchar, school_id varchar, school_type varchar,
    programme varchar, practice varchar, gender varchar, subject varchar,
    pattern bigint, units bigint
);
"""),
    (10, "retention's cells per hindrance group (ingest/model.py `rollup_hindrance_cells`, "
         "`unscored_hindrance_cells`)", """
-- rollup_cells (retention only) and unscored_cells again, per hindrance a teacher reported at any
-- placed visit (a teacher is in every hindrance group they reported), at the grains without the
-- teacher-level factors; filled by the model build (the model version changed)
create table if not exists rollup_hindrance_cells (
    hindrance varchar, measure varchar, grain varchar,
    province varchar, district varchar, cluster varchar, school_id varchar, school_type varchar,
    programme varchar, months integer, practice varchar, gender varchar, subject varchar,
    retained bigint, n bigint, teachers bigint
);
create table if not exists unscored_hindrance_cells (
    hindrance varchar, grain varchar,
    province varchar, district varchar, cluster varchar, school_id varchar, school_type varchar,
    programme varchar, months integer, practice varchar, gender varchar, subject varchar,
    pattern bigint, units bigint
);
"""),
    (11, "each teacher's hindrances (ingest/model.py `model_teacher_hindrances`)", """
-- each teacher with every hindrance any of their placed visits reported, once: what a hindrance
-- filter keeps a teacher by (metrics/base.py `teacher_hindrances`), stored by hindrance so a
-- filter reads one hindrance's rows; filled by the model build (the model version changed)
create table if not exists model_teacher_hindrances (teacher_key varchar, hindrance varchar);
"""),
    (12, "survival's first-drop counts in retention's cells (ingest/model.py `rollup_cells`)", """
-- per retention cell, its units at risk and its events under the first-drop rule (metrics/survival.py),
-- so a life table sums cells instead of the person-period rows; filled by the model build (the
-- model version changed)
alter table rollup_cells add column if not exists at_risk bigint;
alter table rollup_cells add column if not exists events bigint;
alter table rollup_hindrance_cells add column if not exists at_risk bigint;
alter table rollup_hindrance_cells add column if not exists events bigint;
"""),
    (13, "the district's integer key on the analysis model's tables (sustain/dimensions.py `district_key_sql`)", """
-- beside each model row's district, an integer key of it that DuckDB's row-group min and max can
-- tell apart (they keep only the first bytes of a text); filled by the model build (the model
-- version changed), which stores the rows in its order
alter table model_visits add column if not exists district_key ubigint;
alter table model_observations add column if not exists district_key ubigint;
alter table person_period add column if not exists district_key ubigint;
alter table rollup_cells add column if not exists district_key ubigint;
alter table unscored_cells add column if not exists district_key ubigint;
alter table pattern_cells add column if not exists district_key ubigint;
alter table pattern_hindrance_cells add column if not exists district_key ubigint;
alter table rollup_hindrance_cells add column if not exists district_key ubigint;
alter table unscored_hindrance_cells add column if not exists district_key ubigint;
"""),
    (14, "what each import read its file under (ingest/core.py `reading_fingerprint`)", """
-- a hash of the configuration and of the importing code a file was read under (null when a row was
-- kept aside for a reason a later import may find put right): a later import of the same content
-- (source_sha256) under the same one is not read again
alter table import_ledger add column if not exists read_as varchar;
"""),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


class SchemaMismatch(RuntimeError):
    """The database was written by a newer Sustain, or needs an upgrade this reader cannot do."""


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The database's schema version (0 for an empty file). Read directly, outside a transaction:
    asking the catalogue first (information_schema) cost every read-only open about 10 ms."""
    try:
        return con.execute("select coalesce(max(version), 0) from schema_info").fetchone()[0]
    except duckdb.CatalogException:  # no schema_info table: nothing written yet
        return 0


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every migration newer than the database; returns their descriptions."""
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        raise SchemaMismatch(newer_message(current))
    applied = []
    for version, description, sql in MIGRATIONS:
        if version <= current:
            continue
        con.execute("begin transaction")
        try:
            con.execute(sql)
            if version == 1:
                con.execute("insert into schema_info (version) values (1)")
            else:
                con.execute("insert into schema_info (version, applied_at, description) values (?, now()::timestamp, ?)",
                            [version, description])
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        applied.append(f"schema {version}: {description}")
    return applied


def newer_message(version: int) -> str:
    return (f"this database has schema version {version}, written by a newer Sustain than this one "
            f"(which knows up to {SCHEMA_VERSION}); upgrade Sustain to read it. Nothing was changed.")


def check_readable(con: duckdb.DuckDBPyConnection, path) -> None:
    version = schema_version(con)
    if version > SCHEMA_VERSION:
        raise SchemaMismatch(newer_message(version))
    if version < SCHEMA_VERSION:
        raise SchemaMismatch(
            f"{path} was written by an earlier Sustain (schema {version}, this one needs {SCHEMA_VERSION}): "
            "run `python -m ingest upgrade` (or any import) once to upgrade it; nothing is lost")


class ReadWriteLock:
    """Many readers or one writer, within this process. A waiting writer holds new readers back,
    so queries cannot starve an import; the writing thread may also read (re-entrant)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer: int | None = None  # thread id of the writer
        self._writers_waiting = 0

    def acquire_read(self, timeout: float) -> bool:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._readers += 1
                return True
            ok = self._cond.wait_for(lambda: self._writer is None and not self._writers_waiting, timeout=timeout)
            if ok:
                self._readers += 1
            return ok

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            self._cond.notify_all()

    @contextlib.contextmanager
    def writing(self):
        """Exclusive use; blocks until the readers in flight and earlier writers are done."""
        me = threading.get_ident()
        with self._cond:
            self._writers_waiting += 1
            try:
                self._cond.wait_for(lambda: self._writer is None and self._readers == 0)
            finally:
                self._writers_waiting -= 1
            self._writer = me
        try:
            READ_INSTANCE.detach_idle()  # a file attached for reading cannot be opened for writing
            yield
        finally:
            with self._cond:
                self._writer = None
                self._cond.notify_all()

    def busy_writing(self) -> bool:
        with self._cond:
            return self._writer is not None or bool(self._writers_waiting)


PROCESS_LOCK = ReadWriteLock()


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


def is_configuration_clash(exc: BaseException) -> bool:
    """A connection of this process holds the file in the other mode (read-only vs read-write):
    for a reader, the same as another process's lock. DuckDB says "different configuration" for
    two instances of one file, "unique file handle conflict" when `READ_INSTANCE` has it attached
    (or wants to attach it while a writer of this process has it open)."""
    text = str(exc).lower()
    return ((isinstance(exc, duckdb.ConnectionException) and "different configuration" in text)
            or (isinstance(exc, duckdb.Error) and "unique file handle conflict" in text))


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
    for another process's lock up to `wait_seconds` (default `write_wait_seconds()`). A published
    pointer is resolved: a writer in place (live sync) writes the current version's file, and
    its WAL and lock sit beside that file, where readers look."""
    path = current_version(path)
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
    READ_INSTANCE.detach_idle(path)  # this process's reads keep it attached a moment after them
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
        quiet(con)
        limit_threads(con)
        migrate(con)
    except Exception:
        con.close()
        raise
    return con


def quiet(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB draws its own progress bar on stderr for a long query; a command's output (and a
    server's log) is ours: the ingest draws its own bar, the others none."""
    con.execute("set enable_progress_bar = false")


# the environment variable that caps the threads of each DuckDB instance Sustain opens
THREADS_ENV = "SUSTAIN_DUCKDB_THREADS"


def thread_limit() -> int | None:
    """`SUSTAIN_DUCKDB_THREADS` as a whole number of 1 or more (None when unset: DuckDB's default,
    one thread per core). Why a cap: several processes sharing few cores (dashboard servers beside
    an import, or a test suite's workers) each start a thread per core, and on small data the
    threads' hand-offs cost more CPU than they save (the fast tests: a fifth less CPU at 1)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{THREADS_ENV} must be a whole number of 1 or more (threads per DuckDB instance), "
                         f"not {raw!r}; unset it for one thread per core")
    return int(raw)


def limit_threads(con: duckdb.DuckDBPyConnection) -> None:
    """Apply `thread_limit` to a new DuckDB instance (a setting of the instance, not the cursor)."""
    threads = thread_limit()
    if threads is not None:
        con.execute("set threads = ?", [threads])


@contextlib.contextmanager
def read_only(path: str | Path, retry_seconds: float = 3.0):
    """A short-lived read-only connection; waits up to `retry_seconds` for a writer to finish (an
    import in this process or another, or a waiting writer to get in and finish), then raises
    DataRefreshing. A published pointer is resolved once, here: the connection reads that version
    to its end, whatever is published meanwhile."""
    with _read_locked(current_version(path), retry_seconds) as (con, resolved):
        check_readable(con, resolved)
        yield con


# DuckDB's working memory in a process's reads (`ReadInstance`) and in an import (ingest/core.py);
# it spills to disk beyond (an import's peak RSS stays well under 4 GB at 1M teachers)
MEMORY_LIMIT = "2GB"


@dataclass
class _Attachment:
    """A file `ReadInstance` has attached: its alias, the queries reading it now, and since when
    none has (0.0: in use, or no expiry timer pending)."""
    alias: str
    readers: int = 0
    idle_since: float = 0.0


class ReadInstance:
    """One in-memory DuckDB instance per process through which every read-only query runs: a
    database file is ATTACHed read-only while some query of this process reads it and DETACHed
    when the last one ends (so a writer in another process meets no lock between queries, as
    before), and each query gets its own cursor with the file as its default catalogue.

    Why: `duckdb.connect(path, read_only=True)` builds a whole database instance (its catalogue of
    built-in functions, buffer manager, thread pool) each time, 25-60 ms on these machines, and
    the dashboard opens one per indicator call; an ATTACH into a live instance costs about 10 ms.
    One instance also means one buffer pool for every query of the process (memory is bounded
    once, not per open). Temporary objects (`register`, temp tables) stay per cursor."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hub: duckdb.DuckDBPyConnection | None = None
        self._attached: dict[str, _Attachment] = {}  # by resolved path

    def open(self, path: Path) -> duckdb.DuckDBPyConnection:
        key = str(path)
        with self._lock:
            if self._hub is None:
                self._hub = duckdb.connect(":memory:")
                quiet(self._hub)
                limit_threads(self._hub)
                # every query of the process shares this working memory, spilling beyond it to a
                # folder of its own in the system's temporary folder (the default, ./.tmp, would be
                # the server's working directory)
                self._hub.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
                spill = Path(tempfile.gettempdir()) / f"sustain-read-{os.getpid()}"
                self._hub.execute("set temp_directory = ?", [str(spill)])
            entry = self._attached.get(key)
            if entry is None:
                alias = f"db_{uuid.uuid4().hex[:12]}"
                self._hub.execute(f"attach ? as {alias} (read_only)", [key])  # alias: ours, not the user's
                entry = self._attached[key] = _Attachment(alias)
            entry.readers += 1
            cursor = self._hub.cursor()
        try:
            quiet(cursor)
            cursor.execute(f"use {entry.alias}")
        except BaseException:
            cursor.close()
            self.release(path)
            raise
        return cursor

    def release(self, path: Path) -> None:
        """The last reader of a file leaves it attached for KEEP_ATTACHED_SECONDS (a page's next
        call reuses it and DuckDB's cache of its blocks), unless a writer is waiting for it."""
        key = str(path)
        with self._lock:
            entry = self._attached[key]
            entry.readers -= 1
            if entry.readers > 0:
                return
            if KEEP_ATTACHED_SECONDS <= 0 or import_waiting(path):
                self._detach(key)
                return
            first_idle = entry.idle_since == 0.0
            entry.idle_since = time.monotonic()
        if first_idle:
            self._expire_later(key, KEEP_ATTACHED_SECONDS)

    def _expire_later(self, key: str, seconds: float) -> None:
        timer = threading.Timer(seconds, self._expire, [key])
        timer.daemon = True
        timer.start()

    def _expire(self, key: str) -> None:
        """Detach `key` when it has been idle for KEEP_ATTACHED_SECONDS (else look again then)."""
        with self._lock:
            entry = self._attached.get(key)
            if entry is None or entry.idle_since == 0.0:
                return
            if entry.readers > 0:  # in use again: its last reader starts the next wait
                entry.idle_since = 0.0
                return
            left = entry.idle_since + KEEP_ATTACHED_SECONDS - time.monotonic()
            if left <= 0:
                self._detach(key)
                return
        self._expire_later(key, left)

    def detach_idle(self, path: str | Path | None = None) -> None:
        """Detach `path` (None: every file) where no query reads it: before this process writes
        it, or when a writer in another process is waiting for it."""
        with self._lock:
            for key in [k for k, e in self._attached.items() if e.readers == 0 and (path is None or k == str(path))]:
                self._detach(key)

    def _detach(self, key: str) -> None:
        self._hub.execute(f"detach {self._attached.pop(key).alias}")


READ_INSTANCE = ReadInstance()
# how long a file stays attached after its last query (`ReadInstance.release`): a page's calls and
# a user's next click reuse the attachment and DuckDB's cache of its blocks (at a million teachers
# a school's 17 calls cost 1.68 CPU s re-attaching each time, 1.18 s attached); a writer in
# another process waits at most this long more (it announces itself, and readers then step aside)
KEEP_ATTACHED_SECONDS = 3.0


def sibling_cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A new cursor on the database `con` reads (its own registrations and results): a plain
    `con.cursor()` of a `read_only` connection would start on `READ_INSTANCE`'s empty memory."""
    database = con.execute("select current_database()").fetchone()[0]
    cursor = con.cursor()
    quiet(cursor)
    cursor.execute(f"use {quote_identifier(database)}")
    return cursor


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextlib.contextmanager
def _read_locked(path: Path, retry_seconds: float):
    """A read-only connection to `path` (no schema check): no writer is in it while it is open."""
    if not path.exists():
        raise DatabaseMissing(f"no database at {path}: import data with `python -m ingest FILE...` first")
    deadline = time.monotonic() + retry_seconds
    if not PROCESS_LOCK.acquire_read(timeout=retry_seconds):
        raise DataRefreshing("the data is refreshing (an import is running); try again in a moment")
    try:
        delay = 0.05
        while True:
            if not import_waiting(path):
                try:
                    con = READ_INSTANCE.open(path)
                    break
                except duckdb.Error as exc:
                    if not (is_lock_error(exc) or is_configuration_clash(exc)):
                        raise
            else:
                READ_INSTANCE.detach_idle(path)  # the writer gets in as soon as the queries in flight end
            if time.monotonic() > deadline:
                raise DataRefreshing("the data is refreshing (an import is running); try again in a moment") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        try:
            yield con, path
        finally:
            con.close()
            READ_INSTANCE.release(path)
    finally:
        PROCESS_LOCK.release_read()


_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    """Run `sql` binding only the named parameters it uses (DuckDB refuses unused ones)."""
    used = set(_PARAM.findall(sql))
    missing = used - set(params or {})
    if missing:
        raise KeyError(f"no value for SQL parameter(s): {', '.join(sorted(missing))}")
    return con.execute(sql, {name: value for name, value in (params or {}).items() if name in used})


def relation(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> duckdb.DuckDBPyRelation:
    """`sql` as a relation, bound like `execute`: read in Arrow batches (`to_arrow_reader`) it
    streams, where a DB-API result would copy every row first."""
    used = set(_PARAM.findall(sql))
    missing = used - set(params or {})
    if missing:
        raise KeyError(f"no value for SQL parameter(s): {', '.join(sorted(missing))}")
    return con.sql(sql, params={name: value for name, value in (params or {}).items() if name in used})


# -- published versions (README "Serving many users") ---------------------------------------------
# <folder>/sustain.duckdb is a symlink to versions/sustain-<UTC stamp>.duckdb. An import works in
# versions/.draft-<pid>-<random>.duckdb (a copy of the current version), which becomes a version
# only when complete: checkpointed, no WAL left, renamed, then pointed at by one os.replace.
VERSIONS_FOLDER = "versions"
DRAFT_PREFIX = ".draft-"
KEEP_VERSIONS = 3          # defaults of config `publish` (sustain/config.py)
GRACE_SECONDS = 600.0
_STAMP = "%Y%m%dT%H%M%S%fZ"
# one publisher at a time in this process (an upload queues behind another, as before); the file
# lock beside the pointer does the same across processes (a CLI import, another server)
_PUBLISH_THREAD_LOCK = threading.Lock()


def versions_folder(pointer: str | Path) -> Path:
    return Path(pointer).parent / VERSIONS_FOLDER


def is_published(pointer: str | Path) -> bool:
    """The path is a pointer to a published version (a symlink), not a single database file."""
    return Path(pointer).is_symlink()


def current_version(path: str | Path) -> Path:
    """The file to open for `path`: the version a published pointer names (read once: a publish
    after this call is seen by the next one), else `path` itself."""
    path = Path(path)
    try:
        target = os.readlink(path)
    except OSError:  # not a symlink, or missing
        return path
    return path.parent / target


def version_id(path: str | Path) -> str:
    """What identifies the data `path` holds now, for cache keys: the published version's name,
    or the file's (and its WAL's) modification time for a single file. Any import changes it;
    a live sync writing a version in place changes its modification time."""
    resolved = current_version(path)
    stamps = [p.stat().st_mtime_ns for p in (resolved, Path(f"{resolved}.wal")) if p.exists()]
    return f"{resolved.name}@{max(stamps, default=0)}"


def published_versions(pointer: str | Path) -> list[Path]:
    """The versions beside the pointer, oldest first (the stamp in the name sorts by time)."""
    pointer = Path(pointer)
    folder = versions_folder(pointer)
    if not folder.is_dir():
        return []
    pattern = re.compile(rf"{re.escape(pointer.stem)}-\d{{8}}T\d{{12}}Z(-\d+)?{re.escape(pointer.suffix)}")
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name))


@dataclass
class Draft:
    """The writable copy an import works in; `keep = False` discards it instead of publishing."""
    path: Path
    pointer: Path
    keep: bool = True
    published: Path | None = None   # the new version, once published


@contextlib.contextmanager
def _publish_lock(pointer: Path, wait_seconds: float | None):
    """The one publisher: this process's threads queue; another process is waited for up to
    `wait_seconds` (default `write_wait_seconds()`), then DatabaseBusy."""
    wait_seconds = write_wait_seconds() if wait_seconds is None else wait_seconds
    with _PUBLISH_THREAD_LOCK:
        lock_path = pointer.with_name(pointer.name + ".publish-lock")
        with open(lock_path, "a+") as handle:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = handle.read().strip() if handle.seek(0) == 0 else ""
                        raise DatabaseBusy(
                            f"{pointer} is being published by {'process ' + holder if holder else 'another import'} "
                            f"for longer than {wait_seconds:g} s; nothing was written: run the import again when it "
                            "has finished (SUSTAIN_LOCK_WAIT sets how long to wait)") from None
                    time.sleep(0.1)
            try:
                handle.truncate(0)
                handle.write(str(os.getpid()))
                handle.flush()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _file_state(path: Path) -> tuple | None:
    """What tells whether a version's file was written after it was copied (a writer in place)."""
    states = []
    for file in (path, Path(f"{path}.wal")):
        try:
            stat = file.stat()
            states.append((file.name, stat.st_size, stat.st_mtime_ns))
        except OSError:
            states.append(None)
    return tuple(states) if states[0] else None


def _copy_current(pointer: Path, draft: Path) -> tuple[Path, tuple | None]:
    """Copy the current version (and a WAL, for a single file written in place) into `draft`,
    holding a read lock so that no writer in place is half-way through it."""
    source = current_version(pointer)
    if not source.exists():
        return source, None
    with _read_locked(source, retry_seconds=write_wait_seconds()):
        shutil.copyfile(source, draft)
        wal = Path(f"{source}.wal")
        if wal.exists():
            shutil.copyfile(wal, f"{draft}.wal")
        return source, _file_state(source)


def _remove_database_file(path: Path) -> None:
    for file in (path, Path(f"{path}.wal")):
        try:
            file.unlink(missing_ok=True)
        except OSError:
            pass


def _remove_abandoned_drafts(folder: Path) -> None:
    """Drafts of imports that were killed (their process is gone)."""
    for draft in folder.glob(f"{DRAFT_PREFIX}*"):
        match = re.match(rf"{re.escape(DRAFT_PREFIX)}(\d+)-", draft.name)
        if not match:
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            draft.unlink(missing_ok=True)
        except OSError:  # exists, owned by someone else
            pass


def _publish(draft: Draft) -> Path:
    """Seal the draft (checkpoint, no WAL, on disk), rename it into a version and point at it."""
    con = duckdb.connect(str(draft.path))
    try:
        con.execute("checkpoint")
    finally:
        con.close()
    if Path(f"{draft.path}.wal").exists():
        raise RuntimeError(f"{draft.path} kept a WAL after its checkpoint; nothing was published")
    with open(draft.path, "rb") as handle:
        os.fsync(handle.fileno())
    pointer = draft.pointer
    stamp = dt.datetime.now(dt.timezone.utc).strftime(_STAMP)
    version = draft.path.with_name(f"{pointer.stem}-{stamp}{pointer.suffix}")
    counter = 1
    while version.exists():  # two publishes in one microsecond
        version = draft.path.with_name(f"{pointer.stem}-{stamp}-{counter}{pointer.suffix}")
        counter += 1
    os.rename(draft.path, version)
    link = pointer.with_name(f".{pointer.name}.link-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.symlink(os.path.relpath(version, pointer.parent), link)
    os.replace(link, pointer)  # the one atomic step readers can observe
    Path(f"{pointer}.wal").unlink(missing_ok=True)  # the WAL of a single file the first publish replaced
    dir_fd = os.open(pointer.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return version


def remove_old_versions(pointer: str | Path, keep: int = KEEP_VERSIONS, grace_seconds: float = GRACE_SECONDS,
                        now: float | None = None) -> list[Path]:
    """Remove versions that are neither current nor among the newest `keep`, and were superseded
    more than `grace_seconds` ago (a reader may still be opening one it resolved just before the
    swap). Returns what was removed."""
    pointer = Path(pointer)
    now = time.time() if now is None else now
    versions = published_versions(pointer)
    current = current_version(pointer).name
    removed = []
    for older, newer in zip(versions[:-keep] if keep else versions, versions[1:]):
        if older.name == current:
            continue
        try:
            superseded_at = newer.stat().st_mtime
        except OSError:
            continue
        if now - superseded_at < grace_seconds:
            continue
        _remove_database_file(older)
        removed.append(older)
    return removed


@contextlib.contextmanager
def publishing(pointer: str | Path, keep: int = KEEP_VERSIONS, grace_seconds: float = GRACE_SECONDS,
               wait_seconds: float | None = None):
    """Write a new version and publish it: yields a `Draft` whose `path` is a writable copy of the
    current version (empty when there is none). When the block ends without an exception and
    `draft.keep` is still true, the draft is sealed and the pointer swapped to it; otherwise it is
    removed and readers never knew. Raises DatabaseBusy when the current version changed under
    the copy (a writer in place, e.g. live sync): nothing is published then, nothing is lost."""
    pointer = Path(pointer)
    folder = versions_folder(pointer)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnwritable(f"cannot write the database folder {folder}: {exc.strerror}; nothing was written") from None
    with _publish_lock(pointer, wait_seconds):
        _remove_abandoned_drafts(folder)
        draft = Draft(path=folder / f"{DRAFT_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}{pointer.suffix}",
                      pointer=pointer)
        try:
            source, state = _copy_current(pointer, draft.path)
            yield draft
            if draft.keep:
                if current_version(pointer) != source or _file_state(source) != state:
                    raise DatabaseBusy(f"{source} was written in place while this import worked on a copy; "
                                       "nothing was published: run the import again")
                draft.published = _publish(draft)
        finally:
            _remove_database_file(draft.path)
        remove_old_versions(pointer, keep, grace_seconds)


def publish_wanted(config, path: str | Path, force: bool = False) -> bool:
    """Imports publish when the config says so (`publish.enabled`), when asked (`--publish`), or
    when the database is already published (a published version is never written in place)."""
    return bool(force or config.publish.enabled or is_published(path))


def publishing_for(config, path: str | Path, wait_seconds: float | None = None):
    """`publishing(path)` with the config's `publish.keep_versions` and `publish.grace_seconds`."""
    return publishing(path, config.publish.keep_versions, config.publish.grace_seconds, wait_seconds)
