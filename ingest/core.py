"""Import files into DuckDB: one transaction per file, bulk validation, a summary per file.

Order: files are read and their kind detected first, then rosters are imported, then CoP logs,
then survey exports, so a visit is always checked against the roster given in the same command.
A dry run imports into a throw-away copy of the database, so it prints exactly the summary the
real run would print and writes nothing to the real database.
"""
from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pandas as pd

from sustain.config import Config
from sustain.db import execute, open_for_writing, wait_for_lock
from sustain.pseudonym import resolve_salt

from . import survey, tables
from .model import bring_model_up_to_date, refresh_model
from .survey import date_shapes
from .read import FileRefused, RawTable, detect_kind, read_table

KIND_ORDER = {"roster": 0, "cop_log": 1, "kobo": 2, "odk": 2}


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
) -> ImportResult:
    """Import files (and `tables` already read, e.g. by live sync) into the database."""
    db_path = config.database_path(db_path)
    salt, demo_salt = resolve_salt(config)
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]
    max_bytes = int(config.thresholds.max_file_mb * 1_000_000)

    summaries: list[FileSummary] = []
    loaded: list[tuple[FileSummary, RawTable]] = []
    for path in paths:
        summary = FileSummary(file=str(path))
        summaries.append(summary)
        try:
            raw = read_table(path, max_bytes)
            summary.kind = detect_kind(raw.headers)
            summary.rows = len(raw.frame)
            loaded.append((summary, raw))
        except FileRefused as exc:
            summary.refused = str(exc) if str(exc).startswith(Path(path).name) else f"{Path(path).name}: {exc}"
    for raw in tables:
        summary = FileSummary(file=raw.path.name, rows=len(raw.frame))
        summaries.append(summary)
        try:
            summary.kind = detect_kind(raw.headers)
            loaded.append((summary, raw))
        except FileRefused as exc:
            summary.refused = f"{raw.path.name}: {exc}"
    loaded.sort(key=lambda item: KIND_ORDER[item[0].kind])

    scratch = None
    target = db_path
    if dry_run:
        scratch = Path(tempfile.mkdtemp(prefix="sustain-dry-run-"))
        target = scratch / "scratch.duckdb"
        _copy_database(db_path, target)
    try:
        if loaded:
            con = open_for_writing(target)
            try:
                bring_model_up_to_date(con, config)
                for summary, raw in loaded:
                    if progress:
                        progress(f"importing {raw.path.name} ({summary.rows} rows)")
                    started = time.perf_counter()
                    _ingest_one(con, raw, summary, config, salt, run_id)
                    summary.seconds = time.perf_counter() - started
            finally:
                con.close()
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return ImportResult(files=summaries, run_id=run_id, demo_salt=demo_salt, dry_run=dry_run)


def _copy_database(source: Path, target: Path) -> None:
    """Copy the real database into a scratch file (reading it, never writing it)."""
    if not source.exists():
        return
    con = duckdb.connect(str(target))
    try:
        # an import holding the real database is waited for, then reported as busy (no traceback)
        wait_for_lock(lambda: con.execute("attach ? as source (read_only)", [str(source)]), source)
        con.execute("copy from database source to scratch")
        con.execute("detach source")
    finally:
        con.close()


def _ingest_one(con, raw: RawTable, summary: FileSummary, config: Config, salt: str, run_id: str) -> None:
    kind = summary.kind
    started_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    base = {"file": raw.path.name, "sha": raw.sha256, "run_id": run_id}
    con.execute("begin transaction")
    try:
        if kind in ("kobo", "odk"):
            counts = _import_survey(con, raw, kind, config, salt, base)
            # the analysis model is recomputed for the teachers this file touched only
            refresh_model(con, config, "select teacher_key from touched_teachers")
        else:
            counts = _import_table(con, raw, kind, config, salt, base)
            if kind == "roster":
                refresh_model(con, config)
        problems = con.execute(
            "select _row, column_name, value, rule, detail from bad order by _row, column_name"
        ).fetchall()
        execute(
            con,
            """insert into quarantine
               select $file, $sha, _row, column_name, value, rule, detail, $run_id, now()::timestamp from bad
               on conflict do nothing""",
            base,
        )
        summary.problems = [
            {"row": r, "column": c, "value": v, "rule": rule, "detail": d} for r, c, v, rule, d in problems
        ]
        summary.quarantined = len({p["row"] for p in summary.problems})
        summary.inserted, summary.updated, summary.unchanged = counts
        execute(
            con,
            """insert into import_ledger values ($run_id, $file, $sha, $kind, $started, now()::timestamp,
               $rows, $inserted, $updated, $unchanged, $quarantined, false, null, $version)""",
            base | {"kind": kind, "started": started_at, "rows": summary.rows, "inserted": summary.inserted,
                    "updated": summary.updated, "unchanged": summary.unchanged,
                    "quarantined": summary.quarantined, "version": config.version},
        )
        con.execute("commit")
    except Exception as exc:
        con.execute("rollback")
        summary.inserted = summary.updated = summary.unchanged = summary.quarantined = 0
        summary.problems = []
        reason = str(exc) if isinstance(exc, FileRefused) else f"{type(exc).__name__}: {exc}"
        summary.refused = reason if reason.startswith(raw.path.name) else f"{raw.path.name}: {reason}"
        return
    finally:
        for name in ("staged", "cfg_programmes"):
            try:
                con.unregister(name)
            except Exception:
                pass
    con.execute("checkpoint")


def _programmes_frame(config: Config) -> pd.DataFrame:
    return pd.DataFrame(
        {"code": [p.code for p in config.programmes], "end_date": [p.end_date for p in config.programmes]}
    )


def _import_survey(con, raw, kind, config, salt, base) -> tuple[int, int, int]:
    staged = survey.stage(raw, kind, config)
    con.register("staged", staged)
    con.register("cfg_programmes", _programmes_frame(config))
    params = survey.validation_params(config, salt)
    params["date_formats"] = getattr(config.sources, kind).date_formats
    params["date_shapes"] = date_shapes(params["date_formats"])
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
        """insert into visits
           select submission_id, instance_id, edit_rank, version_time, content_hash, $kind,
                  visit_date, observer_id, district, cluster, school_id, teacher_key, teacher_status,
                  cop_active, cop_meetings_3m, comments, submitted_at, $file, $sha, _row, $run_id
           from actions where action in ('insert', 'update')""",
        base | {"kind": kind},
    )
    unpivot = "\nunion all\n".join(
        f"select submission_id, '{code}' as practice, practice__{code} as score from actions "
        f"where action in ('insert', 'update') and practice__{code} is not null"
        for code in config.practice_codes
    )
    con.execute(f"insert into visit_practices {unpivot}")
    con.execute(
        """insert into visit_hindrances
           select distinct submission_id, unnest(hindrance_list) from actions
           where action in ('insert', 'update')"""
    )
    inserted, updated = con.execute(
        "select count(*) filter (action = 'insert'), count(*) filter (action = 'update') from actions"
    ).fetchone()
    quarantined_rows = con.execute("select count(distinct _row) from bad").fetchone()[0]
    unchanged = len(staged) - inserted - updated - quarantined_rows
    return inserted, updated, unchanged


def _import_table(con, raw, kind, config, salt, base) -> tuple[int, int, int]:
    staged = tables.stage_plain(raw, kind, config)
    con.register("staged", staged)
    if kind == "roster":
        params = {"programmes": config.programme_codes}
        validation, merge, writes, actions = tables.ROSTER_VALIDATION, tables.ROSTER_MERGE, tables.ROSTER_WRITE, "roster_actions"
        merge_params = {"salt": salt}
    else:
        formats = config.sources.cop_log.date_formats
        params = {"date_formats": formats, "date_shapes": date_shapes(formats)}
        validation, merge, writes, actions = tables.COP_VALIDATION, tables.COP_MERGE, tables.COP_WRITE, "cop_actions"
        merge_params = {"date_formats": formats}
    execute(con, f"create or replace temp table bad as {validation}", params)
    execute(con, merge, merge_params)
    for statement in writes:
        execute(con, statement, base)
    inserted, updated = con.execute(
        f"select count(*) filter (action = 'insert'), count(*) filter (action = 'update') from {actions}"
    ).fetchone()
    quarantined_rows = con.execute("select count(distinct _row) from bad").fetchone()[0]
    return inserted, updated, len(staged) - inserted - updated - quarantined_rows
