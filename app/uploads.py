"""Files uploaded on the Data page go through the same ingest as `python -m ingest`.

`preview_upload` saves the bytes under the original file name (the ledger and the quarantine
record it) in a private temporary folder and runs a dry run: the exact summary the real import
would give, with nothing written to the database. `import_upload` runs it for real. The size cap
is thresholds.max_file_mb, checked here before anything is saved, and again by the ingest. With
published versions (config `publish`) an import writes and publishes a new version, as the CLI does.
"""
from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

import pandas as pd

from ingest import ingest_files
from ingest.core import ImportResult
from ingest.kinds import KIND_LABELS
from sustain.config import Config
from sustain.db import PROCESS_LOCK, DataRefreshing, current_version, publish_wanted, publishing_for, write_wait_seconds
from sustain.messages import current_language, import_words, t
from sustain.pseudonym import DEMO_SALT_NOTE

UPLOAD_TYPES = ["csv", "xlsx"]
SUMMARY_COLUMNS = ["file", "kind", "rows", "inserted", "updated", "unchanged", "quarantined", "refused", "notes"]
PROBLEM_COLUMNS = ["row", "column", "value", "rule", "detail"]
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


def upload_limit_mb(config: Config) -> int:
    """The uploader's limit in whole MB (at least 1), from thresholds.max_file_mb."""
    return max(1, math.ceil(config.thresholds.max_file_mb))


def safe_file_name(name: str) -> str:
    """The uploaded file's own name without any folder part or characters a file system refuses."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")
    return base or "upload.csv"


def size_refusal(name: str, size: int, config: Config) -> str | None:
    limit = int(config.thresholds.max_file_mb * 1_000_000)
    if size > limit:
        return (f"{safe_file_name(name)}: {size / 1e6:.1f} MB is over the size cap of "
                f"{config.thresholds.max_file_mb:g} MB (thresholds.max_file_mb)")
    return None


def run_upload(name: str, data: bytes, config: Config, db_path: str | Path, dry_run: bool) -> ImportResult:
    """Save `data` as `name` in a temporary folder and ingest it (a dry run writes nothing).
    A file over the size cap, or a database locked by another import, comes back refused."""
    file_name = safe_file_name(name)
    refusal = size_refusal(name, len(data), config)
    if refusal:
        return _refused(file_name, refusal, dry_run)
    with tempfile.TemporaryDirectory(prefix="sustain-upload-") as folder:
        path = Path(folder) / file_name
        path.write_bytes(data)
        try:
            if dry_run:  # reads the database (to copy it): waits for an import of this server
                if not PROCESS_LOCK.acquire_read(timeout=write_wait_seconds()):
                    raise DataRefreshing("another import is running; preview the file again when it has finished")
                try:
                    return ingest_files([path], config, current_version(db_path), dry_run=True)
                finally:
                    PROCESS_LOCK.release_read()
            if publish_wanted(config, db_path):
                # into a new version beside the current one: pages keep reading the current
                # version meanwhile and see the new one from their next query
                with publishing_for(config, db_path) as draft:
                    result = ingest_files([path], config, draft.path, dry_run=False)
                    draft.keep = any(f.kind for f in result.files)  # no new version when the file was unreadable
                return result
            # the server's own queries hold the file read-only: the import waits for them, new ones
            # wait behind it (pages say "the data is refreshing"), and a second import queues
            with PROCESS_LOCK.writing():
                return ingest_files([path], config, db_path, dry_run=False)
        except DataRefreshing as exc:
            return _refused(file_name, f"{file_name}: {exc}", dry_run)


def preview_upload(name: str, data: bytes, config: Config, db_path: str | Path) -> ImportResult:
    return run_upload(name, data, config, db_path, dry_run=True)


def import_upload(name: str, data: bytes, config: Config, db_path: str | Path) -> ImportResult:
    return run_upload(name, data, config, db_path, dry_run=False)


def summary_frame(result: ImportResult) -> pd.DataFrame:
    """One row per file: kind, rows read, inserted, updated, unchanged, quarantined, refused and
    notes (the assignments a roster changed and what the import assumed or found, e.g. a file
    imported before and not read again: as the ledger's notes), the file name without the temporary
    folder; in the current language (`record_words`)."""
    rows = []
    for summary in result.files:
        data = summary.as_json()
        data["file"] = Path(summary.file).name
        data["refused"] = summary.refused or ""
        data["notes"] = "; ".join(summary.changes + summary.notes)
        rows.append({c: data[c] for c in SUMMARY_COLUMNS})
    return record_words(pd.DataFrame(rows, columns=SUMMARY_COLUMNS))


def problems_frame(result: ImportResult) -> pd.DataFrame:
    """The rows that would be (or were) quarantined: row, column, value, rule, detail (the detail
    in the current language; the rule is a code, as the README's table of rules names it)."""
    rows = [{"file": Path(s.file).name, **{c: p.get(c) for c in PROBLEM_COLUMNS}}
            for s in result.files for p in s.problems]
    return record_words(pd.DataFrame(rows, columns=["file", *PROBLEM_COLUMNS]))


def salt_note(result: ImportResult) -> str | None:
    """The CLI's note when teachers are keyed with the public demo salt (None otherwise)."""
    return t("Note: {note}.", note=t(DEMO_SALT_NOTE)) if result.demo_salt else None


def refusals(result: ImportResult) -> list[str]:
    """Why each refused file was refused, in the current language."""
    return [import_words(s.refused, Path(s.file).name) for s in result.files if s.refused]


def record_words(frame: pd.DataFrame) -> pd.DataFrame:
    """The import's records (an upload's summary and problems, the ledger, the quarantine) with
    the import's messages (ingest/ writes them in English: a refusal's reason, a row's detail, the
    notes) and the kind of each file in the current language; names, values and codes as they are."""
    if current_language() == "en" or frame.empty:
        return frame
    files = frame["file"] if "file" in frame else frame.get("source_file", pd.Series(None, index=frame.index))
    shown = frame.copy()
    for column in ("refused", "reason", "detail", "notes"):
        if column in shown and shown[column].dtype == object:
            shown[column] = [import_words(text, file) for text, file in zip(shown[column], files)]
    if "kind" in shown:
        shown["kind"] = shown["kind"].map(lambda kind: t(KIND_LABELS[kind]) if kind in KIND_LABELS else kind)
    return shown


def _refused(file_name: str, reason: str, dry_run: bool) -> ImportResult:
    from ingest.core import FileSummary

    return ImportResult(files=[FileSummary(file=file_name, refused=reason)], run_id="", demo_salt=False,
                        dry_run=dry_run)
