"""Benchmark: one full analysis-model build (ingest/model.py), every statement timed.

    .venv/bin/python benchmarks/model_build.py --db PATH [--work DIR] [--keep]

Copies the database at PATH into DIR (default /tmp; the source is only read), forgets the model's
fingerprint and rebuilds the model as an import or `python -m ingest upgrade` would
(`bring_model_up_to_date`: one transaction, or batches of `MODEL_BATCH_TEACHERS` teachers), with
the import's memory limit. Each SQL statement's CPU seconds (user + system of the process, all
DuckDB threads) and wall seconds are summed by what it writes (the table, and the grain for the
cells) and printed as a markdown table, the costliest first. Timed on a shared machine: read the
CPU column, and ratios more than absolutes.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.model import bring_model_up_to_date  # noqa: E402
from sustain.config import load_config  # noqa: E402
from sustain.db import MEMORY_LIMIT, limit_threads, quiet  # noqa: E402

_WRITES = re.compile(r"(?:insert into|create or replace temp table|delete from|drop table if exists)\s+(\w+)")


def label(sql: str, params) -> str:
    """What a statement does, briefly: its verb and table (and the grain of a cell statement)."""
    text = " ".join(sql.split()).lower()
    found = _WRITES.search(text)
    name = f"{text.split()[0]} {found.group(1)}" if found else text[:50]
    if isinstance(params, dict) and "grain" in params:
        name += f" ({params['grain']})"
    return name


class TimedConnection:
    """A DuckDB connection whose `execute` adds each statement's CPU and wall time to `spent`."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con
        self.spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])

    def execute(self, sql: str, params=None):
        cpu, wall = time.process_time(), time.perf_counter()
        result = self.con.execute(sql, params) if params is not None else self.con.execute(sql)
        row = self.spent[label(sql, params)]
        row[0] += time.process_time() - cpu
        row[1] += time.perf_counter() - wall
        row[2] += 1
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, type=Path, help="the database to copy (only read)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()), help="where the copy goes")
    parser.add_argument("--keep", action="store_true", help="keep the copy (its path is printed)")
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)
    config = load_config(args.config) if args.config else load_config()
    args.work.mkdir(parents=True, exist_ok=True)
    copy = args.work / f"model_build-{args.db.stem}.duckdb"
    shutil.copyfile(args.db, copy)
    con = duckdb.connect(str(copy))
    try:
        quiet(con)
        limit_threads(con)
        con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
        con.execute("delete from model_info")
        timed = TimedConnection(con)
        cpu, wall = time.process_time(), time.perf_counter()
        done = bring_model_up_to_date(timed, config)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        rows = con.execute("select count(*) from person_period").fetchone()[0]
    finally:
        con.close()
        if not args.keep:
            copy.unlink(missing_ok=True)
            Path(f"{copy}.wal").unlink(missing_ok=True)
    lines = [f"One full model build of {args.db} ({'; '.join(done)}; {rows:,} person-period rows): "
             f"{cpu:.1f} CPU s, {wall:.1f} wall s", "", "| statement | runs | CPU s | wall s |", "|---|---:|---:|---:|"]
    for name, (c, w, n) in sorted(timed.spent.items(), key=lambda kv: -kv[1][0]):
        if c >= 0.05 or w >= 0.05:
            lines.append(f"| {name} | {n} | {c:.1f} | {w:.1f} |")
    print("\n".join(lines))
    if args.keep:
        print(f"\nkept: {copy}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
