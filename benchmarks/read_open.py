"""Benchmark: what opening the database costs an indicator call (sustain/db.py `ReadInstance`).

    .venv/bin/python benchmarks/read_open.py [--db PATH] [--repeat 30]

Times, in one process on one database file, a small query (`select count(*) from model_info`)
through `sustain.db.read_only` (the shared read instance: attach, cursor, detach) against the
previous way, a new read-only DuckDB instance per call (`duckdb.connect(path, read_only=True)`),
and prints the medians (wall and CPU ms) and their ratio. Default database: the bundled sample,
built through the real ingest into a temporary folder.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from sustain.db import quiet, read_only  # noqa: E402

QUERY = "select count(*) from model_info"


def through_read_only(path: Path) -> None:
    with read_only(path) as con:
        con.execute(QUERY).fetchall()


def through_new_instance(path: Path) -> None:
    con = duckdb.connect(str(path), read_only=True)
    try:
        quiet(con)
        con.execute(QUERY).fetchall()
    finally:
        con.close()


def medians(action, path: Path, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        action(path)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls) * 1000, statistics.median(cpus) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="a database file (default: the sample, imported into a temporary folder)")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    if args.db:
        path = Path(args.db)
    else:
        from ingest import ingest_files
        from sustain.config import load_config
        from sustain.samples import sample_files
        path = Path(tempfile.mkdtemp()) / "sustain.duckdb"
        ingest_files(sample_files(), load_config(), path)
    through_read_only(path), through_new_instance(path)  # warm the file cache and the instance
    rows = []
    for label, action in (("new read-only instance per call (before)", through_new_instance),
                          ("read_only(): shared instance, attach per call", through_read_only)):
        rows.append((label, *medians(action, path, args.repeat)))
    print(f"{path}: median of {args.repeat} calls of `{QUERY}`\n")
    print("| how the call opens the database | wall (ms) | CPU (ms) |\n|---|---:|---:|")
    for label, wall, cpu in rows:
        print(f"| {label} | {wall:.1f} | {cpu:.1f} |")
    print(f"\nratio before / after: wall {rows[0][1] / rows[1][1]:.1f}x, CPU {rows[0][2] / rows[1][2]:.1f}x")


if __name__ == "__main__":
    main()
