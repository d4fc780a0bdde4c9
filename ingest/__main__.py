"""python -m ingest [--db PATH] [--config PATH] [--dry-run] [--json] [--allow-reassign] [--reread] [--publish] FILE...

Exit 0 when every file was taken (quarantined rows included), 1 when any file was refused,
2 for a usage or configuration error, when another process kept the database locked
for longer than $SUSTAIN_LOCK_WAIT seconds (default 10; nothing is written then), or when the
database cannot be written (read-only, disk full; the file being written is rolled back).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import time

from sustain.config import ConfigError, load_config
from sustain.db import DatabaseUnwritable, DataRefreshing, SchemaMismatch, publish_wanted, publishing_for
from sustain.pseudonym import DEMO_SALT_NOTE, SaltMissing

from .core import ImportResult, ingest_files

MAX_PROBLEMS_SHOWN = 20


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sync"]:
        from .sync import sync_main

        return sync_main(argv[1:])
    if argv[:1] == ["upgrade"]:
        return upgrade_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m ingest", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE", help="KoboToolbox/ODK exports (CSV, XLSX), roster, CoP log")
    parser.add_argument("--db", help="DuckDB file (default: $SUSTAIN_DB or config 'database')")
    parser.add_argument("--config", help="config file (default: $SUSTAIN_CONFIG or config.yaml)")
    parser.add_argument("--dry-run", action="store_true", help="check and summarise; write nothing")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--allow-reassign", action="store_true",
                        help="let a roster change a teacher's programme (moves month 0, reinterprets visits)")
    parser.add_argument("--reread", action="store_true",
                        help="read every file, even an export whose exact content was imported before and whose "
                             "reading would change nothing (by default such a file is recognised by its checksum and "
                             "not read again)")
    parser.add_argument("--publish", action="store_true",
                        help="write a new version beside the database and publish it atomically "
                             "(always so with config publish.enabled, or once published)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        started = time.perf_counter()
        bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None  # none when piped
        options = dict(allow_reassign=args.allow_reassign, cap_key="cli_max_file_mb", reread=args.reread,
                       on_step=bar.step if bar else None)
        try:
            path = config.database_path(args.db)
            if args.dry_run or not publish_wanted(config, path, args.publish):
                result = ingest_files(args.files, config, path, dry_run=args.dry_run, **options)
            else:
                with publishing_for(config, path) as draft:
                    result = ingest_files(args.files, config, draft.path, **options)
                    draft.keep = any(f.kind for f in result.files)  # no new version when no file was read
        finally:
            if bar:
                bar.close()
        elapsed = time.perf_counter() - started
    except (ConfigError, SaltMissing, DataRefreshing, DatabaseUnwritable, SchemaMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"files": [f.as_json() for f in result.files], "run_id": result.run_id,
                          "dry_run": result.dry_run, "demo_salt": result.demo_salt}, ensure_ascii=False, indent=2))
    else:
        print_summary(result, elapsed)
    return 0 if result.ok else 1


def upgrade_main(argv: list[str]) -> int:
    """`python -m ingest upgrade [--db PATH] [--config PATH]`: apply pending schema migrations and
    rebuild the analysis model when it is out of date; exit 0, or 2 with a message."""
    from sustain.db import open_for_writing, schema_version

    from .core import _tune
    from .model import bring_model_up_to_date

    parser = argparse.ArgumentParser(prog="python -m ingest upgrade",
                                     description="Bring a database up to this version of Sustain.")
    parser.add_argument("--db", help="DuckDB file (default: $SUSTAIN_DB or config 'database')")
    parser.add_argument("--config", help="config file (default: $SUSTAIN_CONFIG or config.yaml)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        path = config.database_path(args.db)
        if not path.exists():
            print(f"error: no database at {path}", file=sys.stderr)
            return 2
        with contextlib.ExitStack() as publish:
            target = path
            if publish_wanted(config, path):  # upgraded in a new version, published when done
                target = publish.enter_context(publishing_for(config, path)).path
            con = open_for_writing(target)
            try:
                _tune(con)  # DuckDB's memory bounded as in an import: a national model is rebuilt here
                done = bring_model_up_to_date(con, config)
                version = schema_version(con)
            finally:
                con.close()
    except (ConfigError, DataRefreshing, SchemaMismatch, DatabaseUnwritable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: schema version {version}" + "".join(f"; {d}" for d in done) + ("" if done else "; up to date"))
    return 0


def print_summary(result: ImportResult, elapsed: float) -> None:
    if result.demo_salt:
        print(f"note: {DEMO_SALT_NOTE}")
    if result.dry_run:
        print("dry run: nothing was written")
    for f in result.files:
        if f.refused:
            print(f"REFUSED {f.refused}")
            continue
        # the counts balance (rows read = the rest), or the file would have been refused
        print(f"{f.file} [{f.kind}]: {f.rows} rows read, {f.inserted} inserted, {f.updated} updated, "
              f"{f.unchanged} unchanged, {f.quarantined} quarantined, every row accounted for ({f.seconds:.2f} s)")
        for change in f.changes:
            print(f"  changed: {change}")
        for note in f.notes:
            print(f"  note: {note}")
        for problem in f.problems[:MAX_PROBLEMS_SHOWN]:
            print(f"  row {problem['row']}, column {problem['column']}, value {problem['value']!r}: "
                  f"{problem['rule']} ({problem['detail']})")
        if len(f.problems) > MAX_PROBLEMS_SHOWN:
            print(f"  ... and {len(f.problems) - MAX_PROBLEMS_SHOWN} more (use --json for all)")
    taken = sum(1 for f in result.files if not f.refused)
    print(f"{taken} of {len(result.files)} file(s) taken in {elapsed:.2f} s (run {result.run_id})")


class ProgressBar:
    """One line per file on a terminal: `name [#####.....] 2/4`, redrawn in place."""

    WIDTH = 20

    def __init__(self, stream):
        self.stream, self.open, self.name = stream, False, None

    def step(self, name: str, done: int, steps: int) -> None:
        if self.open and name != self.name:
            self.close()  # the previous file was refused part way: its line stays
        self.name = name
        filled = self.WIDTH * done // steps
        self.stream.write(f"\r{name} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{steps}\x1b[K")
        self.open = done < steps
        if not self.open:
            self.stream.write("\n")
        self.stream.flush()

    def close(self) -> None:
        if self.open:  # a file refused part way: its line ends here
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


def _terminate(signum, frame):
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    # a terminated command unwinds like Ctrl-C: its transaction rolls back, a dry run's copy is removed
    # (only for the command itself: main() called in-process leaves the caller's handlers alone)
    signal.signal(signal.SIGTERM, _terminate)
    sys.exit(main())


def cli() -> None:
    """Console entry point (pyproject.toml [project.scripts])."""
    sys.exit(main())
