"""Live sync: pull new and edited submissions from a KoboToolbox or ODK Central server.

`python -m ingest sync --source NAME [--full]` reads `sources.sync.NAME` from config (server,
form, and the NAMES of the environment variables holding the token or login: no secret is ever
in config), fetches the submissions as the server's API serves them, turns them into a table in
that server's export dialect (KoboToolbox: `/` group paths; ODK Central: `-` group paths, `KEY`,
`SubmissionDate`, `Edits`), and imports it through the same validation, quarantine, ledger and
edit rules as a file (`ingest.core.ingest_files`). Where it stopped is kept in the `sync_state`
table, so the next run asks only for what is new.

What "new" means, by server (decision):
- **KoboToolbox** (API v2, `GET {server}/api/v2/assets/{form}/data/?format=json`, header
  `Authorization: Token ...`, paginated by `limit`/`start` and followed through `next`): the API
  serves no last-modified time (`_submission_time` never moves when a submission is edited), so
  an incremental run asks for `_id` greater than the last one seen. An edit made on the server
  after a submission was synced is caught by a full run (`--full`), which fetches everything;
  unchanged submissions are then "unchanged" (content hash), edits "updated".
- **ODK Central** (pyodk, the official client; OData `Submissions` table): an incremental run
  filters on `__system/submissionDate` or `__system/updatedAt` after the last one seen, which
  catches new submissions and edits (an edit keeps the instance id chain: `KEY` is the root).
- A submission deleted on the server is not deleted here (history is kept): a full run reports
  how many stored submissions of this source the server no longer lists.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sustain.config import Config, SyncSource
from sustain.db import DatabaseMissing, open_for_writing, publish_wanted, publishing_for, read_only

from .core import ImportResult, ingest_files
from .read import RawTable

HTTP_TIMEOUT_SECONDS = 60



class SyncError(RuntimeError):
    """The sync could not run (unknown source, missing credentials, server refused or unreachable).
    Nothing was written."""


@dataclass
class SyncResult:
    source: str
    kind: str
    fetched: int
    cursor: str | None
    full: bool
    absent: int | None
    imported: ImportResult | None  # None when nothing new was fetched


def sync_source(name: str, config: Config, db_path: str | Path | None = None, full: bool = False,
                dry_run: bool = False) -> SyncResult:
    if name not in config.sources.sync:
        known = ", ".join(sorted(config.sources.sync)) or "none configured"
        raise SyncError(f"no source {name!r} in config sources.sync (known: {known})")
    source = config.sources.sync[name]
    db_path = config.database_path(db_path)
    state = None if full else last_cursor(db_path, name)
    if source.kind == "kobo":
        records = fetch_kobo(source, None if state is None else int(state))
        table = kobo_table(name, records, config)
        cursor = max((int(r["_id"]) for r in records if str(r.get("_id", "")).isdigit()), default=None)
        identities = {_kobo_identity(r) for r in records}
    else:
        records = fetch_odk(source, state)
        table = odk_table(name, records, config)
        stamps = [r.get("__system", {}).get(k) for r in records for k in ("submissionDate", "updatedAt")]
        cursor = max((s for s in stamps if s), default=None)
        identities = {_strip_uuid(r.get("__id", "")) for r in records}
    cursor = str(cursor) if cursor is not None else state
    absent = _absent_count(db_path, name, identities) if full else None
    if not dry_run and publish_wanted(config, db_path):
        # a published database is never written in place (README "Serving many users"): the sync
        # imports into a copy and publishes it with its sync state, as a file import does
        with publishing_for(config, db_path) as draft:
            imported = _import_and_save(config, draft.path, name, source.kind, table, cursor, len(records), absent,
                                        dry_run)
            draft.keep = imported is None or imported.ok
    else:
        imported = _import_and_save(config, db_path, name, source.kind, table, cursor, len(records), absent, dry_run)
    return SyncResult(name, source.kind, len(records), cursor, full, absent, imported)


def _import_and_save(config: Config, db_path, name: str, kind: str, table, cursor, fetched: int, absent,
                     dry_run: bool):
    """Import the fetched submissions (when any) and remember where this sync stopped."""
    imported = None
    if table is not None:
        imported = ingest_files([], config, db_path, dry_run=dry_run, tables=[table])
    if not dry_run and (imported is None or imported.ok):
        _save_state(db_path, name, kind, cursor, fetched, imported, absent)
    return imported


# -- KoboToolbox -----------------------------------------------------------------------------------
def fetch_kobo(source: SyncSource, after_id: int | None) -> list[dict]:
    token = _secret(source.token_env, "the KoboToolbox API token")
    base = source.server.rstrip("/")
    params = {"format": "json", "limit": str(source.page_size), "sort": json.dumps({"_id": 1})}
    if after_id is not None:
        params["query"] = json.dumps({"_id": {"$gt": after_id}})
    url = f"{base}/api/v2/assets/{urllib.parse.quote(source.form)}/data/?{urllib.parse.urlencode(params)}"
    records: list[dict] = []
    while url:
        page = _get_json(url, {"Authorization": f"Token {token}", "Accept": "application/json"}, base)
        records.extend(page.get("results", []))
        url = page.get("next")
    return records


def kobo_table(name: str, records: list[dict], config: Config) -> RawTable | None:
    """The API's records as the KoboToolbox CSV export writes them: keys are already group paths
    joined by `/`; lists and objects (`_tags`, `_notes`, `_validation_status`) become JSON text."""
    return _table(name, [{k: _text(v) for k, v in r.items()} for r in records], practice_headers(config, "/"))


def _kobo_identity(record: dict) -> str:
    return _strip_uuid(record.get("meta/rootUuid") or record.get("_uuid") or record.get("meta/instanceID") or "")


# -- ODK Central -----------------------------------------------------------------------------------
def fetch_odk(source: SyncSource, after: str | None) -> list[dict]:
    from pyodk.client import Client
    from pyodk._utils.config import CentralConfig, Config as PyodkConfig
    from pyodk.errors import PyODKError

    login = PyodkConfig(central=CentralConfig(
        base_url=source.server.rstrip("/"),
        username=_secret(source.username_env, "the ODK Central user"),
        password=_secret(source.password_env, "the ODK Central password"),
        default_project_id=source.project,
    ))
    cache = Path(os.environ.get("SUSTAIN_PYODK_CACHE", Path.home() / ".sustain_pyodk_cache.toml"))
    where = None
    if after:
        # OData literal of a timestamp the server itself returned (never user input)
        where = f"__system/submissionDate gt {after} or __system/updatedAt gt {after}"
    records: list[dict] = []
    try:
        with Client(config=login, cache_path=cache, project_id=source.project) as client:
            skip = 0
            while True:
                page = client.submissions.get_table(form_id=source.form, project_id=source.project,
                                                    filter=where, top=source.page_size, skip=skip)
                rows = page.get("value", [])
                records.extend(rows)
                if len(rows) < source.page_size:
                    break
                skip += len(rows)
    except PyODKError as exc:
        raise SyncError(f"ODK Central at {source.server} refused or failed: {exc}") from None
    except OSError as exc:
        raise SyncError(f"cannot reach ODK Central at {source.server}: {exc}") from None
    return records


ODK_SYSTEM = {"submissionDate": "SubmissionDate", "updatedAt": "UpdatedAt", "submitterId": "SubmitterID",
              "submitterName": "SubmitterName", "reviewState": "ReviewState", "edits": "Edits",
              "formVersion": "FormVersion", "deviceId": "DeviceID"}


def odk_table(name: str, records: list[dict], config: Config) -> RawTable | None:
    """OData rows as ODK Central's CSV export writes them: nested groups joined by `-`,
    `__id` as `KEY`, `__system` fields under their CSV names."""
    rows = []
    for record in records:
        row: dict[str, str] = {}
        for key, value in record.items():
            if key == "__id":
                row["KEY"] = _text(value)
            elif key == "__system":
                for field, header in ODK_SYSTEM.items():
                    if field in (value or {}):
                        row[header] = _text(value[field])
            elif not key.startswith("@"):
                _flatten(row, key, value, "-")
        rows.append(row)
    return _table(name, rows, practice_headers(config, "-"))


# the default form's group of practice questions (forms/build_form.py)
PRACTICE_GROUP = "practices"


def practice_headers(config: Config, separator: str) -> list[str]:
    """Every configured practice's header in a server's dialect."""
    return [f"{PRACTICE_GROUP}{separator}{code}" for code in config.practice_codes]


def _flatten(row: dict, prefix: str, value, separator: str) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(row, f"{prefix}{separator}{key}", inner, separator)
    else:
        row[prefix] = _text(value)


# -- shared ------------------------------------------------------------------------------------------
def _table(name: str, rows: list[dict[str, str]], always: list[str] = ()) -> RawTable | None:
    """`always`: headers every export of the form has; the JSON APIs leave unanswered questions
    out of a record, so a practice nobody scored in this batch would otherwise look like a
    missing column rather than "not scored"."""
    if not rows:
        return None
    headers: list[str] = []
    for row in rows:
        headers.extend(k for k in row if k not in headers)
    headers.extend(h for h in always if h not in headers)
    frame = pd.DataFrame([[row.get(h, "") for h in headers] for row in rows], columns=headers, dtype="object")
    frame["_row"] = range(1, len(frame) + 1)
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return RawTable(path=Path(f"sync-{name}.json"), sha256=digest, headers=headers, frame=frame, file_format="json")


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strip_uuid(value: str) -> str:
    return value[5:] if value.startswith("uuid:") else value


def _secret(variable: str | None, what: str) -> str:
    value = os.environ.get(variable or "", "")
    if not value:
        raise SyncError(f"set the environment variable {variable} to {what} (config sources.sync names it; "
                        "secrets never go in config)")
    return value


def _get_json(url: str, headers: dict, base: str) -> dict:
    # never send the token anywhere but the configured server (a `next` link could point elsewhere)
    if not url.startswith(base + "/"):
        raise SyncError(f"the server's next page {url!r} is not on {base}; stopped")
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise SyncError(f"{base} refused the token (HTTP {exc.code}): check the token's variable and "
                            "that its account can view the form's submissions") from None
        raise SyncError(f"{base} answered HTTP {exc.code} for {url.split('?')[0]}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise SyncError(f"cannot reach {base}: {exc}") from None
    except ValueError:
        raise SyncError(f"{base} did not answer with JSON (is server the KoboToolbox address?)") from None


def last_cursor(db_path: Path, name: str) -> str | None:
    try:
        with read_only(db_path) as con:
            row = con.execute("select cursor from sync_state where source = ?", [name]).fetchone()
    except DatabaseMissing:
        return None
    return row[0] if row else None


def _absent_count(db_path: Path, name: str, identities: set[str]) -> int | None:
    try:
        with read_only(db_path) as con:
            stored = con.execute("select submission_id from visits where source_file = ?",
                                 [f"sync-{name}.json"]).fetchall()
    except DatabaseMissing:
        return 0
    return sum(1 for (sid,) in stored if sid not in identities)


def _save_state(db_path: Path, name: str, kind: str, cursor, fetched: int, imported, absent) -> None:
    con = open_for_writing(db_path)
    try:
        con.execute(
            """insert or replace into sync_state values (?, ?, ?, ?, ?, ?, ?)""",
            [name, kind, cursor, dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), fetched,
             imported.run_id if imported else None, absent],
        )
        con.execute("checkpoint")
    finally:
        con.close()


def sync_main(argv: list[str]) -> int:
    """`python -m ingest sync --source NAME [--full] [--dry-run] [--db PATH] [--config PATH] [--json]`:
    exit 0 when the pulled submissions were taken (quarantined rows included), 1 when refused,
    2 for a configuration, credential or server problem (nothing written)."""
    import argparse
    import sys

    from sustain.config import ConfigError, load_config
    from sustain.db import DataRefreshing

    from .__main__ import print_summary

    parser = argparse.ArgumentParser(prog="python -m ingest sync",
                                     description="Pull new and edited submissions from a configured server.")
    parser.add_argument("--source", required=True, help="a name under config sources.sync")
    parser.add_argument("--full", action="store_true", help="fetch everything (catches KoboToolbox edits)")
    parser.add_argument("--dry-run", action="store_true", help="check and summarise; write nothing")
    parser.add_argument("--db", help="DuckDB file (default: $SUSTAIN_DB or config 'database')")
    parser.add_argument("--config", help="config file (default: $SUSTAIN_CONFIG or config.yaml)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        started = dt.datetime.now()
        result = sync_source(args.source, config, args.db, full=args.full, dry_run=args.dry_run)
    except (ConfigError, SyncError, DataRefreshing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    files = result.imported.files if result.imported else []
    if args.json:
        print(json.dumps({"source": result.source, "kind": result.kind, "fetched": result.fetched,
                          "full": result.full, "absent_on_server": result.absent,
                          "files": [f.as_json() for f in files]}, ensure_ascii=False, indent=2))
    else:
        print(f"{result.source} [{result.kind}]: {result.fetched} submission(s) fetched"
              f"{' (full)' if result.full else ' (new since the last sync)'}")
        if result.absent:
            print(f"  {result.absent} stored submission(s) of this source are no longer on the server "
                  "(deleted there?); they are kept here")
        if result.imported:
            print_summary(result.imported, (dt.datetime.now() - started).total_seconds())
    return 0 if result.imported is None or result.imported.ok else 1
