"""Import files into DuckDB: one transaction per file, bulk validation, a summary per file.

Order: files are read and their kind detected first, then rosters are imported, then CoP logs,
then survey exports, so a visit is always checked against the roster given in the same command.
A dry run imports into a throw-away copy of the database, so it prints exactly the summary the
real run would print and writes nothing to the real database. The copy's folder is named after the
process (`sustain-dry-run-<pid>-*` in the temp folder); a run removes the copies of runs that were
killed (their process gone) or are older than `STALE_SCRATCH_HOURS`.

Every file's counts must balance: rows read (the file's data records) = inserted + updated +
unchanged + quarantined. A file whose counts do not is refused (rolled back), never half-counted.
When the database itself cannot be written (read-only, disk full) the command stops with
`DatabaseUnwritable`, the file being written rolled back.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from sustain.config import Config
from sustain.db import (MEMORY_LIMIT, READ_INSTANCE, DatabaseUnwritable, execute, limit_threads, open_for_writing, quiet,
                        storage_problem, wait_for_lock)
from sustain.fingerprints import config_digest, source_digest
from sustain.pseudonym import DEMO_SALT, resolve_salt, salt_fingerprint, shown_id

from . import survey, tables
from . import model as analysis_model
from .model import bring_model_up_to_date, refresh_model, refresh_model_in_batches
from .survey import date_shapes
from .kinds import KINDS, detect_kind
from .read import FileRefused, RawTable, drop_raw, load_raw, raw_column, read_table

SCRATCH_PREFIX = "sustain-dry-run-"
STEPS = 4  # per file: loaded, validated and written, model refreshed, committed (on_step's scale)
MODEL_STEP_NAME = "analysis model"  # the bar's name for a refresh in batches after the files
STALE_SCRATCH_HOURS = 24  # a copy whose process id is alive is still removed after this (pid reuse)


class CountsDoNotBalance(RuntimeError):
    """rows read != inserted + updated + unchanged + quarantined: a row was lost or counted twice."""


@dataclass
class FileSummary:
    file: str
    kind: str | None = None
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    refused: str | None = None  # the reason, when the whole file was refused
    problems: list[dict] = field(default_factory=list)  # row, column, value, rule, detail
    changes: list[str] = field(default_factory=list)  # assignments a roster changed, in words
    notes: list[str] = field(default_factory=list)  # what the import assumed, in words (e.g. a practice not in the file)
    seconds: float = 0.0

    def as_json(self) -> dict:
        data = asdict(self)
        data.pop("seconds")
        return data


@dataclass
class ImportResult:
    files: list[FileSummary]
    run_id: str
    demo_salt: bool
    dry_run: bool

    @property
    def ok(self) -> bool:
        return not any(f.refused for f in self.files)


def ingest_files(
    paths: list[str | Path],
    config: Config,
    db_path: str | Path | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
    tables: list[RawTable] = (),
    allow_reassign: bool = False,
    cap_key: str = "max_file_mb",
    on_step: Callable[[str, int, int], None] | None = None,
    reread: bool = False,
) -> ImportResult:
    """Import `paths` (and `tables` already read, e.g. by live sync); `allow_reassign` lets a roster
    change a teacher's programme (refused otherwise: it moves the teacher's month 0 and reinterprets
    every visit). `cap_key` names the size cap under `thresholds` (the command line has its own,
    higher one: its CSVs are read streaming; an XLSX is parsed in memory, so it keeps max_file_mb).
    `on_step(file name, step done, steps)` follows each file's progress (the CLI's bar).
    A survey export whose exact content was imported before, under the same configuration and code,
    whose reading would give the same outcome again, is not read again (`taken_before`); `reread`
    reads it all the same."""
    db_path = config.database_path(db_path)
    salt, demo_salt = resolve_salt(config)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
    max_bytes = int(getattr(config.thresholds, cap_key) * 1_000_000)
    xlsx_bytes = min(max_bytes, int(config.thresholds.max_file_mb * 1_000_000))

    summaries: list[FileSummary] = []
    loaded: list[tuple[FileSummary, RawTable]] = []
    for path in paths:
        summary = FileSummary(file=str(path))
        summaries.append(summary)
        try:
            is_zip = Path(path).is_file() and zipfile.is_zipfile(path)
            cap, cap_name = (xlsx_bytes, "thresholds.max_file_mb") if is_zip else (max_bytes, f"thresholds.{cap_key}")
            raw = read_table(path, cap, cap_name)
            summary.kind = detect_kind(raw.headers)
            summary.rows = raw.records or 0  # a CSV left for DuckDB to stream is counted as it loads
            loaded.append((summary, raw))
        except FileRefused as exc:
            summary.refused = str(exc) if str(exc).startswith(Path(path).name) else f"{Path(path).name}: {exc}"
        except (MemoryError, RecursionError, ValueError, OSError, UnicodeError) as exc:
            # a file the readers did not foresee refuses that file only, never the whole command
            summary.refused = f"{Path(path).name}: could not be read ({type(exc).__name__}: {str(exc)[:300]})"
    for raw in tables:
        summary = FileSummary(file=raw.path.name, rows=raw.records)
        summaries.append(summary)
        try:
            summary.kind = detect_kind(raw.headers)
            loaded.append((summary, raw))
        except FileRefused as exc:
            summary.refused = f"{raw.path.name}: {exc}"
    loaded.sort(key=lambda item: KINDS[item[0].kind].order)

    scratch = None
    target = db_path
    if dry_run:
        remove_stale_scratch()
        try:
            scratch = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        except OSError as exc:
            raise DatabaseUnwritable(f"cannot make the dry run's scratch folder in {tempfile.gettempdir()} "
                                     f"({exc.strerror}); nothing was written: set TMPDIR to a writable folder "
                                     "with space") from None
    try:
        if dry_run:
            target = scratch / "scratch.duckdb"
            _copy_database(db_path, target)
        if loaded:
            con = open_for_writing(target)
            try:
                _tune(con)
                bring_model_up_to_date(con, config)
                mismatch = _salt_mismatch(con, salt, demo_salt, config, db_path)
                due = ModelDue(con)
                reading = reading_fingerprint(config)
                for position, (summary, raw) in enumerate(loaded):
                    if mismatch:
                        summary.refused = f"{raw.path.name}: {mismatch}"
                        continue
                    started = time.perf_counter()
                    step = (lambda done, name=raw.path.name: on_step(name, done, STEPS)) if on_step else None
                    if step:
                        step(0)
                    earlier = None if reread else taken_before(con, raw, summary.kind, reading)
                    if earlier is not None:
                        try:
                            _record_taken_before(con, raw, summary, earlier, config, run_id, reading, target)
                        except DatabaseUnwritable as exc:
                            raise _with_files_before(exc, loaded) from None
                        summary.seconds = time.perf_counter() - started
                        if step:
                            step(STEPS)
                        continue
                    try:
                        load_raw(con, raw)
                        summary.rows = raw.records
                    except FileRefused as exc:
                        summary.refused = str(exc) if str(exc).startswith(raw.path.name) else f"{raw.path.name}: {exc}"
                        continue
                    except (MemoryError, ValueError, OSError, UnicodeError, duckdb.Error) as exc:
                        problem = storage_problem(exc)
                        if problem is not None:
                            raise DatabaseUnwritable(f"cannot write the database {target}: {problem[0]}; "
                                                     f"{problem[1]}, then run the same command again") from None
                        summary.refused = f"{raw.path.name}: could not be read ({type(exc).__name__}: {str(exc)[:300]})"
                        continue
                    if step:
                        step(1)
                    if progress:
                        progress(f"importing {raw.path.name} ({summary.rows} rows)")
                    try:
                        _ingest_one(con, raw, summary, config, salt, run_id, target, allow_reassign, step,
                                    due, last=position == len(loaded) - 1, reading=reading)
                    except DatabaseUnwritable as exc:
                        raise _with_files_before(exc, loaded) from None
                    summary.seconds = time.perf_counter() - started
                if due.pending:  # too many teachers for the last file's transaction, or that file was refused
                    _refresh_due(con, config, due, target,
                                 (lambda done, steps: on_step(MODEL_STEP_NAME, done, steps)) if on_step else None)
            finally:
                try:
                    con.close()
                except Exception:  # a connection DuckDB invalidated after a write failure
                    pass
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return ImportResult(files=summaries, run_id=run_id, demo_salt=demo_salt, dry_run=dry_run)


def _with_files_before(exc: DatabaseUnwritable, loaded: list) -> DatabaseUnwritable:
    """`exc` saying which of the command's files were imported before the one that failed."""
    done = [Path(f.file).name for f, _ in loaded if f.seconds and not f.refused]
    before = f"; {', '.join(done)} imported before it" if done else ""
    return DatabaseUnwritable(f"{exc}{before}")


def remove_stale_scratch(folder: str | Path | None = None) -> list[Path]:
    """Remove dry-run copies left by runs that were killed: their process is gone, or they are
    older than STALE_SCRATCH_HOURS (a folder from before the process id was in the name counts
    by age only). Returns what was removed."""
    folder = Path(folder or tempfile.gettempdir())
    removed = []
    for path in folder.glob(f"{SCRATCH_PREFIX}*"):
        try:
            age_hours = (time.time() - path.stat().st_mtime) / 3600
        except OSError:
            continue
        match = re.match(rf"{re.escape(SCRATCH_PREFIX)}(\d+)-", path.name)
        if age_hours < STALE_SCRATCH_HOURS and (match is None or _process_alive(int(match.group(1)))):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user
        return True
    return True


def _copy_database(source: Path, target: Path) -> None:
    """Copy the real database into a scratch file (reading it, never writing it)."""
    if not source.exists():
        return
    try:
        con = duckdb.connect(str(target))
        try:
            quiet(con)
            limit_threads(con)
            # an import holding the real database is waited for, then reported as busy (no traceback)
            READ_INSTANCE.detach_idle(source)  # one file, one attachment per process
            wait_for_lock(lambda: con.execute("attach ? as source (read_only)", [str(source)]), source)
            con.execute("copy from database source to scratch")
            con.execute("detach source")
        finally:
            con.close()
    except Exception as exc:
        problem = storage_problem(exc)
        if problem is None:
            raise
        raise DatabaseUnwritable(
            f"cannot make the dry run's scratch copy of the database in {target.parent.parent}: {problem[0]}; "
            f"nothing was written: {problem[1]} (or set TMPDIR to a folder with space)"
        ) from None


def _salt_mismatch(con, salt: str, demo_salt: bool, config: Config, db_path: Path) -> str | None:
    """Why this import must be refused when the database's teachers were keyed under another salt
    (None when the salt is the same, or no salt is recorded yet: the first import records it)."""
    stored = con.execute("select value from settings where key = 'salt_fingerprint'").fetchone()
    if not stored or stored[0] == salt_fingerprint(salt):
        return None
    env = config.pseudonymisation.salt_env
    built = "the public demo salt" if stored[0] == salt_fingerprint(DEMO_SALT) else "a secret salt"
    now = (f"{env} is not set, so the public demo salt would be used" if demo_salt
           else f"the salt in {env} is not the one it was built with")
    return (f"the database {db_path.name} keys its teachers with {built}, but {now}: no teacher would match "
            "(every visit an unknown_teacher, every roster teacher stored twice). Nothing was written. "
            f"Set {env} to the salt this database was built with, or import into a new database (--db PATH).")


def _tune(con) -> None:
    """Memory stays bounded at national scale (DuckDB spills to its temp folder beyond this); no
    DuckDB progress bar (`quiet`)."""
    quiet(con)
    con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")


class ModelDue:
    """The analysis model's rows the files committed so far have made due: every teacher's (a roster
    that changed stored rows) or those in the temp table `model_due`. The model is refreshed once per
    command, for all the files' teachers together, instead of once per file (at national scale,
    files split by district, a refresh per file cost more than the files themselves): in the last
    file's transaction, or, when more than `model.MODEL_BATCH_TEACHERS` teachers are due, after it in
    batches of that many teachers, each a transaction (DuckDB's memory stays bounded). Until the
    refresh is done `model_info` is empty, so a command killed between files or batches leaves a
    model the next import (or `python -m ingest upgrade`) rebuilds whole, never a stale one marked
    current."""

    def __init__(self, con):
        self.full = False
        self.teachers = False
        con.execute("create or replace temp table model_due (teacher_key varchar)")

    @property
    def pending(self) -> bool:
        return self.full or self.teachers


def _due_teachers(con, full: bool) -> int:
    if full:
        return con.execute("select count(*) from teachers").fetchone()[0]
    return con.execute("select count(distinct teacher_key) from model_due").fetchone()[0]


def _refresh_model_due(con, config: Config, due: ModelDue, full: bool, touched: bool) -> bool:
    """Inside the last file's transaction: refresh the model rows `due` holds plus this file's
    (`full`: its roster changed stored rows; `touched`: its teachers are in `model_due`). False when
    too many teachers are due for one transaction: they are left to `_refresh_due` (in batches)."""
    full = due.full or full
    if not (full or due.teachers or touched):
        return True
    if _due_teachers(con, full) > analysis_model.MODEL_BATCH_TEACHERS:
        con.execute("delete from model_info")  # due until the batches are done (see ModelDue)
        return False
    refresh_model(con, config, None if full else "select teacher_key from model_due")
    return True


def _refresh_due(con, config: Config, due: ModelDue, db_path: Path,
                 on_batch: Callable[[int, int], None] | None = None) -> None:
    """The due model rows, in batches of teachers (by district and school, so a school's cells are
    rebuilt about once), a transaction each; `model_info` says current again after the last.
    `on_batch(batches done, batches)` follows it (the CLI's bar)."""
    scope = (analysis_model.ALL_MODEL_TEACHERS if due.full else "select teacher_key from model_due")
    try:
        refresh_model_in_batches(con, config, scope, on_batch)
    except Exception as exc:
        problem = storage_problem(exc)
        try:
            con.execute("rollback")
        except Exception:
            pass
        reason = problem[0] if problem else f"{type(exc).__name__}: {str(exc)[:300]}"
        raise DatabaseUnwritable(f"the files were imported into {db_path}, but the analysis model could not be "
                                 f"refreshed ({reason}); run `python -m ingest upgrade` to rebuild it") from None
    due.full = due.teachers = False
    con.execute("delete from model_due")


def _ingest_one(con, raw: RawTable, summary: FileSummary, config: Config, salt: str, run_id: str,
                db_path: Path, allow_reassign: bool = False,
                step: Callable[[int], None] | None = None, due: ModelDue | None = None,
                last: bool = True, reading: str | None = None) -> None:
    """One file in one transaction. Its analysis-model rows are refreshed in this transaction when
    it is the command's `last` file (with those of the files before it, `due`), else left due.
    `reading` (`reading_fingerprint`) is recorded with it in the ledger (None: not recorded, so a
    later import reads the file again)."""
    due = due or ModelDue(con)
    kind = summary.kind
    wal = Path(f"{db_path}.wal")
    wal_before = wal.exists()
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    base = {"file": raw.path.name, "sha": raw.sha256, "run_id": run_id}
    con.execute("begin transaction")
    try:
        # the first import records the salt's fingerprint (an import under another one is refused)
        execute(con, "insert into settings values ('salt_fingerprint', $fingerprint) on conflict do nothing",
                {"fingerprint": salt_fingerprint(salt)})
        family = KINDS[kind].family
        full = touched = False
        if family == "survey":
            counts, summary.notes = _import_survey(con, raw, kind, config, salt, base)
            if step:
                step(2)
            # the analysis model is recomputed for the teachers this file touched only (none: a
            # re-import of an unchanged export leaves it as it is)
            touched = con.execute("insert into model_due select teacher_key from touched_teachers").fetchone()[0] > 0
        elif family == "roster":
            counts, summary.changes, written = _import_roster(con, raw, config, salt, base, allow_reassign)
            if step:
                step(2)
            full = written > 0  # a roster that changed no stored row leaves the model as it is
        else:
            counts = _import_table(con, raw, kind, config, salt, base)
            if step:
                step(2)
        if raw.malformed:  # records the reader could not split: never in `staged`, kept aside here
            con.executemany(
                "insert into bad (_row, column_name, value, rule, detail) values (?, '(record)', '', 'malformed_record', ?)",
                [[m["row"], m["detail"]] for m in raw.malformed],
            )
        problems = con.execute(
            "select _row, column_name, value, rule, detail from bad order by _row, column_name"
        ).fetchall()
        con.register("bad_raw", _raw_rows(con, raw, kind, config, salt))
        execute(
            con,
            """insert into quarantine (source_file, source_sha256, row_number, column_name, value, rule, detail,
                                       run_id, quarantined_at, raw_row)
               select $file, $sha, b._row, b.column_name, b.value, b.rule, b.detail, $run_id, now()::timestamp,
                      r.raw_row
               from bad b left join bad_raw r using (_row)
               on conflict do nothing""",
            base,
        )
        summary.problems = [
            {"row": r, "column": c, "value": v, "rule": rule, "detail": d} for r, c, v, rule, d in problems
        ]
        summary.quarantined = len({p["row"] for p in summary.problems})
        summary.inserted, summary.updated, summary.unchanged = counts
        _check_balance(con, raw, summary)
        # the file's staging leaves memory before the model is built (national models are large)
        _drop_file_tables(con)
        con.unregister("bad_raw")
        refreshed = last and _refresh_model_due(con, config, due, full, touched)
        if not refreshed and (full or touched) and not due.pending:
            con.execute("delete from model_info")  # due from here on (see ModelDue)
        if step:
            step(3)
        execute(
            con,
            LEDGER_INSERT,
            base | {"kind": kind, "started": started_at, "rows": summary.rows, "inserted": summary.inserted,
                    "updated": summary.updated, "unchanged": summary.unchanged,
                    "quarantined": summary.quarantined, "version": config.version,
                    "notes": "; ".join(summary.changes + summary.notes) or None,
                    # null: a row was kept aside for a reason a later import may find put right
                    "reading": reading if all(p["rule"] in RULES_READ_ALIKE for p in summary.problems) else None},
        )
        con.execute("commit")
        if refreshed:
            due.full = due.teachers = False
            con.execute("delete from model_due")
        else:
            due.full, due.teachers = due.full or full, due.teachers or touched
    except Exception as exc:
        problem = storage_problem(exc)
        try:
            con.execute("rollback")
        except Exception:  # the commit itself failed, or DuckDB invalidated the connection
            pass
        summary.inserted = summary.updated = summary.unchanged = summary.quarantined = 0
        summary.problems = []
        summary.changes = []
        summary.notes = []
        if problem is not None:
            raise _unwritable(con, wal, wal_before, db_path, raw, problem) from None
        reason = str(exc) if isinstance(exc, FileRefused) else f"{type(exc).__name__}: {exc}"
        summary.refused = reason if reason.startswith(raw.path.name) else f"{raw.path.name}: {reason}"
        return
    finally:
        for name in ("cfg_programmes", "bad_raw"):
            try:
                con.unregister(name)
            except Exception:
                pass
        try:  # the file's rows leave memory (temp tables live until dropped)
            _drop_file_tables(con)
        except Exception:  # a connection DuckDB invalidated after a write failure
            pass
    try:
        con.execute("checkpoint")
    except Exception as exc:
        problem = storage_problem(exc)
        if problem is None:
            raise
        summary.inserted = summary.updated = summary.unchanged = summary.quarantined = 0
        summary.problems = []
        raise _unwritable(con, wal, wal_before, db_path, raw, problem) from None
    if step:
        step(STEPS)


# an import's line in the ledger (`import_ledger`), bound by name
LEDGER_INSERT = """insert into import_ledger (run_id, source_file, source_sha256, kind, started_at, finished_at,
                                   rows_read, inserted, updated, unchanged, quarantined, refused, reason,
                                   config_version, notes, read_as)
        values ($run_id, $file, $sha, $kind, $started, now()::timestamp,
                $rows, $inserted, $updated, $unchanged, $quarantined, false, null, $version, $notes, $reading)"""
# the packages whose code reads, validates and writes a file: part of `reading_fingerprint`
READING_PACKAGES = ("ingest", "sustain")
# the quarantine rules (README "Rules a row is quarantined for") a row breaks by its own cells under
# the configuration, whatever the database holds and whenever it is read: reading the same content
# again under the same configuration and code keeps the same rows aside
RULES_OF_THE_ROW_ALONE = ("missing_instance_id", "bad_date", "impossible_date", "bad_score", "bad_status",
                          "unknown_option", "bad_integer", "conflicting_duplicate", "malformed_record")
# the rules a row breaks against the roster: the same again until a roster import changes a row.
# The others (a date then in the future, a conflict with a stored submission, any rule not named
# here) may be put right by a later submission or by time passing: such a file is always read.
RULES_OF_THE_ROSTER = ("unknown_teacher", "unknown_school", "unknown_cluster", "school_not_in_district",
                       "school_mismatch")
# the rules of rows a file's next reading keeps aside again (with the roster's condition, `taken_before`)
RULES_READ_ALIKE = RULES_OF_THE_ROW_ALONE + RULES_OF_THE_ROSTER
# the kinds of file whose import changes the roster
ROSTER_KINDS = [name for name, kind in KINDS.items() if kind.family == "roster"]


def reading_fingerprint(config: Config) -> str:
    """What an import's outcome depends on besides the file's bytes and the database: the whole
    configuration's content (columns, formats, codes, rules) and the source of the code that reads,
    validates and writes it. Recorded with an import (`import_ledger.read_as`) whose rows kept
    aside, if any, broke only RULES_OF_THE_ROW_ALONE or RULES_OF_THE_ROSTER."""
    basis = f"{config_digest(config)}:{source_digest(READING_PACKAGES)}"
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


@dataclass
class EarlierImport:
    """An import of a file's exact content that `taken_before` found: its file name, run, rows read
    and rows kept aside, and those rows' problems as the quarantine holds them."""
    file: str
    run_id: str
    rows: int
    quarantined: int
    problems: list[dict]


def taken_before(con, raw: RawTable, kind: str, reading: str) -> EarlierImport | None:
    """The newest import of this file's exact content (its sha256) as this kind, not refused, when
    it was read (or found taken before) under `reading`, kept rows aside only for
    RULES_OF_THE_ROW_ALONE or RULES_OF_THE_ROSTER, and, if for the roster's, no roster import has
    changed a row since; else None. Reading the file again would change nothing: each row taken is
    stored as it is (or an edit of it has replaced it since, which an older version never undoes),
    and each row kept aside would be kept aside again, for the same rules. Its problems are read
    from the quarantine (the content's rows for those rules); when they are not exactly that
    import's rows kept aside (an earlier reading kept others, put right since) the file is read
    again. Survey exports only: rosters and CoP logs are always read (an assignment without a
    valid-from date holds from the day of its import)."""
    if KINDS[kind].family != "survey":
        return None
    newest = execute(con, """
with imports_of_this_content as (
    select source_file, run_id, rows_read, quarantined, read_as, finished_at
    from import_ledger
    where source_sha256 = $sha and kind = $kind and not refused
)
select source_file, run_id, rows_read, quarantined, read_as, finished_at from imports_of_this_content
order by finished_at desc limit 1
""", {"sha": raw.sha256, "kind": kind}).fetchone()
    if newest is None or newest[4] != reading:
        return None
    problems = execute(con, """
with kept_aside as (
    select row_number, column_name, value, rule, detail
    from quarantine
    where source_sha256 = $sha and list_contains($rules, rule)
)
select * from kept_aside order by row_number, column_name
""", {"sha": raw.sha256, "rules": list(RULES_READ_ALIKE)}).fetchall()
    if len({row for row, *_ in problems}) != newest[3]:
        return None
    if any(rule in RULES_OF_THE_ROSTER for *_, rule, _ in problems) and execute(con, """
select count(*) from import_ledger
where list_contains($roster_kinds, kind) and not refused and inserted + updated > 0 and finished_at > $since
""", {"roster_kinds": ROSTER_KINDS, "since": newest[5]}).fetchone()[0]:
        return None
    return EarlierImport(file=newest[0], run_id=newest[1], rows=int(newest[2]), quarantined=int(newest[3]),
                         problems=[{"row": r, "column": c, "value": v, "rule": rule, "detail": d}
                                   for r, c, v, rule, d in problems])


def _record_taken_before(con, raw: RawTable, summary: FileSummary, earlier: EarlierImport, config: Config,
                         run_id: str, reading: str, db_path: Path) -> None:
    """A file `taken_before` is not read: its rows count as that import left them (those taken
    unchanged, those kept aside quarantined, with their problems), a note says why, and the ledger
    records the check (one transaction)."""
    summary.rows, summary.quarantined = earlier.rows, earlier.quarantined
    summary.unchanged = summary.rows - summary.quarantined
    summary.problems = earlier.problems
    summary.notes = [f"the same content as {Path(earlier.file).name}, imported in run {earlier.run_id}: "
                     "not read again"]
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    wal = Path(f"{db_path}.wal")
    wal_before = wal.exists()
    con.execute("begin transaction")
    try:
        execute(con, LEDGER_INSERT, {
            "run_id": run_id, "file": raw.path.name, "sha": raw.sha256, "kind": summary.kind, "started": started_at,
            "rows": summary.rows, "inserted": 0, "updated": 0, "unchanged": summary.unchanged,
            "quarantined": summary.quarantined,
            "version": config.version, "notes": summary.notes[0], "reading": reading})
        con.execute("commit")
    except Exception as exc:
        try:
            con.execute("rollback")
        except Exception:  # the commit itself failed, or DuckDB invalidated the connection
            pass
        problem = storage_problem(exc)
        if problem is not None:
            raise _unwritable(con, wal, wal_before, db_path, raw, problem) from None
        raise


# a file's staging, validation and merge tables (the model's own temp tables are dropped by model.py)
FILE_TABLES = ("staged", "staged_keys", "clean", "actions", "bad", "touched_teachers", "cop_actions",
               "roster_valid", "roster_actions", "school_changes", "replaced_visits")


def _drop_file_tables(con) -> None:
    drop_raw(con)
    for name in FILE_TABLES:
        con.execute(f"drop table if exists {name}")


def _unwritable(con, wal: Path, wal_before: bool, db_path: Path, raw: RawTable,
                problem: tuple[str, str]) -> DatabaseUnwritable:
    """Close the connection and put the database back as it was before this file.

    A failed commit, or a commit whose checkpoint failed (disk full), leaves at most this file's
    transaction in the write-ahead log. DuckDB writes the database file's header last, so the
    file itself still holds the database as before this file; when no log was there before this
    file, dropping the log keeps the database exactly as it was (re-running the command imports
    the file whole) instead of replaying half an outcome on the next open."""
    try:
        con.close()
    except Exception:
        pass
    if not wal_before:
        try:
            wal.unlink(missing_ok=True)
        except OSError:
            pass
    return DatabaseUnwritable(
        f"cannot write the database {db_path}: {problem[0]}; nothing of {raw.path.name} was written and "
        f"the files after it were not imported: {problem[1]}, then run the same command again "
        "(files already imported are recognised and left unchanged)"
    )


def _check_balance(con, raw: RawTable, summary: FileSummary) -> None:
    """Every data record of the file is accounted for exactly once, or the file is refused."""
    staged, distinct, low, high = con.execute(
        "select count(*), count(distinct _row), min(_row), max(_row) from staged"
    ).fetchone()
    numbers = {m["row"] for m in raw.malformed}
    counts = (summary.inserted, summary.updated, summary.unchanged, summary.quarantined)
    balanced = (
        min(counts) >= 0
        and sum(counts) == summary.rows
        and staged == distinct == raw.loaded  # staging dropped, merged or repeated no record
        and staged + len(numbers) == summary.rows
        and (not staged or (low >= 1 and high <= summary.rows))
        and all(p["row"] is not None and 1 <= p["row"] <= summary.rows for p in summary.problems)
    )
    if not balanced:
        raise CountsDoNotBalance(
            f"the counts do not balance ({summary.rows} rows read, but {summary.inserted} inserted + "
            f"{summary.updated} updated + {summary.unchanged} unchanged + {summary.quarantined} quarantined "
            f"= {sum(counts)}; {staged} records staged of {raw.loaded} read); the file was refused and "
            "nothing of it written: please report this with the file"
        )


def _programmes_frame(config: Config) -> pd.DataFrame:
    return pd.DataFrame(
        {"code": [p.code for p in config.programmes], "end_date": [p.end_date for p in config.programmes]}
    )


def _import_survey(con, raw, kind, config, salt, base) -> tuple[tuple[int, int, int], list[str]]:
    notes = survey.stage(con, raw, KINDS[kind], config)
    con.register("cfg_programmes", _programmes_frame(config))
    params = survey.validation_params(config, salt)
    params["date_formats"] = KINDS[kind].source(config).date_formats
    params["date_shapes"] = date_shapes(params["date_formats"])
    execute(con, survey.keys_sql(), params)
    execute(con, f"create or replace temp table bad as {survey.validation_sql(config)}", params)
    execute(con, survey.clean_sql(config), params)
    # several versions of one identity in the file, equal rank and time, different content
    con.execute(
        """insert into bad
           select _row, 'instance_id', submission_id, 'conflicting_duplicate',
                  'the same submission appears with different content and no edit marker'
           from clean c
           where variants > 1 and (edit_rank, version_time) is not distinct from
                 (select (edit_rank, version_time) from clean t where t.submission_id = c.submission_id and t.pick = 1)"""
    )
    con.execute(
        """create or replace temp table actions as
           with candidates as (
               select c.*, v.content_hash as stored_hash, v.edit_rank as stored_rank,
                      v.version_time as stored_time, v.source_file as stored_file, v.source_row as stored_row,
                      v.submission_id is not null as stored
               from clean c left join visits v using (submission_id)
               where c.pick = 1 and c._row not in (select _row from bad)
           )
           select *,
                  case when not stored then 'insert'
                       when stored_hash = content_hash then 'unchanged'
                       when (edit_rank, coalesce(version_time, '-infinity'::timestamptz))
                            > (stored_rank, coalesce(stored_time, '-infinity'::timestamptz)) then 'update'
                       when (edit_rank, coalesce(version_time, '-infinity'::timestamptz))
                            < (stored_rank, coalesce(stored_time, '-infinity'::timestamptz)) then 'stale'
                       else 'conflict' end as action
           from candidates"""
    )
    con.execute(
        """insert into bad
           select _row, 'instance_id', submission_id, 'conflict_no_edit_marker',
                  'stored from ' || stored_file || ' row ' || stored_row
                  || ' with different content and the same version; the stored row is kept'
           from actions where action = 'conflict'"""
    )
    changed = "select submission_id from actions where action = 'update'"
    # an edit may move a visit to another teacher: both teachers' model rows change
    con.execute(
        f"""create or replace temp table touched_teachers as
            select teacher_key from visits where submission_id in ({changed})
            union select teacher_key from actions where action in ('insert', 'update')"""
    )
    con.execute(f"delete from visit_practices where submission_id in ({changed})")
    con.execute(f"delete from visit_hindrances where submission_id in ({changed})")
    con.execute(f"delete from visits where submission_id in ({changed})")
    execute(
        con,
        """insert into visits (submission_id, instance_id, edit_rank, version_time, content_hash, source_kind,
                               visit_date, observer_id, district, cluster, school_id, teacher_key, teacher_status,
                               cop_active, cop_meetings_3m, comments, submitted_at, source_file, source_sha256,
                               source_row, run_id, province)
           select submission_id, instance_id, edit_rank, version_time, content_hash, $kind,
                  visit_date, observer_id, district, cluster, school_id, teacher_key, teacher_status,
                  cop_active, cop_meetings_3m, comments, submitted_at, $file, $sha, _row, $run_id, province
           from actions where action in ('insert', 'update')""",
        base | {"kind": kind},
    )
    # one scan of the written rows: each row's (practice, score) pairs unnested, the unscored left out;
    # in key order (a visit's rows together: DuckDB's zone maps skip the rest when reading one)
    scores = ", ".join(f"practice__{code}" for code in config.practice_codes)
    execute(
        con,
        f"""insert into visit_practices
            with pairs as (
                select submission_id, unnest($practice_codes::varchar[]) as practice, unnest([{scores}]) as score
                from actions where action in ('insert', 'update')
            )
            select submission_id, practice, score from pairs where score is not null
            order by submission_id, practice""",
        {"practice_codes": config.practice_codes},
    )
    con.execute(
        """insert into visit_hindrances
           with pairs as (
               select distinct submission_id, unnest(hindrance_list) as hindrance from actions
               where action in ('insert', 'update')
           )
           select submission_id, hindrance from pairs order by submission_id, hindrance"""
    )
    inserted, updated = con.execute(
        "select count(*) filter (action = 'insert'), count(*) filter (action = 'update') from actions"
    ).fetchone()
    quarantined_rows = con.execute("select count(distinct _row) from bad").fetchone()[0]
    unchanged = _staged_count(con) - inserted - updated - quarantined_rows
    return (inserted, updated, unchanged), notes


def _raw_rows(con, raw: RawTable, kind: str, config: Config, salt: str) -> pd.DataFrame:
    """Each quarantined row whole, as JSON (header -> cell, in file order), so it can be fixed and
    imported again: a teacher id cell holds `key:<key>` (read back as that key), teacher names are
    left out (never stored)."""
    fields = {header: KINDS[kind].field_of(header, config) for header in raw.headers}
    kept = [(i, h) for i, h in enumerate(raw.headers) if fields[h] != "teacher_name"]
    id_headers = {h for _, h in kept if fields[h] == "teacher_id"}
    cells_sql = ", ".join(raw_column(i) for i, _ in kept)
    records = []
    for row, *cells in con.execute(
        f"select _row{', ' if cells_sql else ''}{cells_sql} from raw_rows "
        "where _row in (select _row from bad) order by _row"
    ).fetchall():
        values = {h: shown_id(salt, str(v)) if h in id_headers else v for (_, h), v in zip(kept, cells)}
        records.append({"_row": row, "raw_row": json.dumps(values, ensure_ascii=False)})
    frame = pd.DataFrame(records, columns=["_row", "raw_row"])
    return frame.astype({"_row": "int64", "raw_row": "object"})


def _import_table(con, raw, kind, config, salt, base) -> tuple[int, int, int]:
    tables.stage_plain(con, raw, KINDS[kind], config)
    formats = config.sources.cop_log.date_formats
    params = {"date_formats": formats, "date_shapes": date_shapes(formats)}
    execute(con, f"create or replace temp table bad as {tables.COP_VALIDATION}", params)
    execute(con, tables.COP_MERGE, {"date_formats": formats})
    for statement in tables.COP_WRITE:
        execute(con, statement, base)
    inserted, updated = con.execute(
        "select count(*) filter (action = 'insert'), count(*) filter (action = 'update') from cop_actions"
    ).fetchone()
    quarantined_rows = con.execute("select count(distinct _row) from bad").fetchone()[0]
    return inserted, updated, _staged_count(con) - inserted - updated - quarantined_rows


def _import_roster(con, raw, config, salt, base, allow_reassign) -> tuple[tuple[int, int, int], list[str], int]:
    """The roster: current schools and teachers, and their history (see tables.py). A programme
    change is refused unless `allow_reassign`; every change of assignment is returned in words,
    with the number of stored rows the writes changed (0: the roster changed nothing)."""
    tables.stage_plain(con, raw, KINDS["roster"], config)
    formats = config.sources.roster.date_formats
    params = {"programmes": config.programme_codes, "salt": salt, "date_formats": formats,
              "date_shapes": date_shapes(formats), "today": dt.date.today()}
    execute(con, f"create or replace temp table bad as {tables.ROSTER_VALIDATION}", params)
    for statement in tables.ROSTER_MERGE:
        execute(con, statement, params)
    ends = {p.code: p.end_date for p in config.programmes}
    reassigned = con.execute(
        """select 'key:' || a.teacher_key, a.old_programme, a.programme, a.starts,
                  (select count(*) from visits v where v.teacher_key = a.teacher_key) as visits
           from roster_actions a where a.reassigned order by a._row"""
    ).fetchall()
    said = [f"teacher {key} programme {old} -> {new} from {starts}: month 0 moves from {ends.get(old)} to "
            f"{ends.get(new)}, {visits} visit(s) reinterpreted" for key, old, new, starts, visits in reassigned]
    if reassigned and not allow_reassign:
        shown = "; ".join(said[:10]) + (f"; and {len(said) - 10} more" if len(said) > 10 else "")
        raise FileRefused(
            f"{raw.path.name}: the roster changes the programme of {len(said)} teacher(s), which moves their "
            f"month 0 and reinterprets their visits: {shown}. Nothing was written. If this is deliberate, import "
            "it again with --allow-reassign (python -m ingest); if not, correct the programme in the roster."
        )
    written = 0
    for statement in tables.ROSTER_WRITE:
        changed = execute(con, statement, base).fetchone()
        written += changed[0] if changed else 0
    changes = []
    for school, old_d, new_d, old_c, new_c, old_p, new_p, starts, replaced in con.execute(
        """select c.school_id, c.old_district, c.district, c.old_cluster, c.cluster, c.old_province, c.province,
                  c.starts, (select count(*) from replaced_visits r where r.school_id = c.school_id)
           from school_changes c where c.change = 'moved' order by c.school_id"""
    ).fetchall():
        if (old_d, old_p) != (new_d, new_p):
            text = f"school {school} moved {old_d} -> {new_d}"
            text += f" ({old_p} -> {new_p})" if old_p != new_p else ""
            text += f", cluster {old_c} -> {new_c}" if old_c != new_c else ""
        else:
            text = f"school {school} moved cluster {old_c} -> {new_c}"
        text += f" from {starts}"
        changes.append(text + (f"; {replaced} stored visit(s) from that date placed there" if replaced else ""))
    for key, old, new, starts in con.execute(
        """select 'key:' || teacher_key, old_school, school_id, starts from roster_actions
           where moved order by _row"""
    ).fetchall():
        changes.append(f"teacher {key} moved school {old} -> {new} from {starts}")
    changes += said
    inserted, updated = con.execute(
        "select count(*) filter (action = 'insert'), count(*) filter (action = 'update') from roster_actions"
    ).fetchone()
    quarantined_rows = con.execute("select count(distinct _row) from bad").fetchone()[0]
    return (inserted, updated, _staged_count(con) - inserted - updated - quarantined_rows), changes, written


def _staged_count(con) -> int:
    return con.execute("select count(*) from staged").fetchone()[0]
