"""Peak memory of the Data page's tidy download, and CPU of the Download tab's data call, per database.

    python benchmarks/download_memory.py DB [DB ...] [--formats csv parquet] [--tracemalloc] [--old]
        [--out benchmarks/download_memory.md]

Each measurement runs in a child process (so peaks do not mix): it opens the database read-only,
times the tab's one data call (metrics "tidy_preview": count, sources and 100 rows in DuckDB),
then writes the bundle as a click does (metrics/records.py `tidy_batches` ->
report/exports.py `write_tidy_bundle`) into a file on disk, and reports the process's peak RSS
before and after the write (`ru_maxrss`) and, with --tracemalloc, Python's peak allocations during
the write. --old also times the call the tab made before (metrics "tidy_observations": the whole
export as a pandas frame) and its peak RSS, in a child of its own. Flat in rows is the point:
compare the sample with a national-size database (copy one; never measure on the original).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(db: str, fmt: str, traced: bool, old: bool) -> dict:
    import duckdb

    from metrics import Filters
    from metrics.records import import_ledger, tidy_batches, tidy_observations, tidy_preview
    from report import exports
    from sustain.config import load_config

    config, filters = load_config(), Filters()
    con = duckdb.connect(db, read_only=True)
    if old:
        cpu, wall = time.process_time(), time.perf_counter()
        frame = tidy_observations(con, filters, [], config)
        return {"db": db, "call": "tidy_observations (before)", "rows": len(frame),
                "cpu_s": round(time.process_time() - cpu, 2), "wall_s": round(time.perf_counter() - wall, 2),
                "peak_rss_mb": round(_rss_mb())}
    cpu, wall = time.process_time(), time.perf_counter()
    preview = tidy_preview(con, filters, [], config)
    result = {"db": db, "call": "tidy_preview (after)", "rows": preview.attrs["rows"],
              "cpu_s": round(time.process_time() - cpu, 2), "wall_s": round(time.perf_counter() - wall, 2)}
    ledger = import_ledger(con, filters, [], config)
    result["rss_before_write_mb"] = round(_rss_mb())
    if traced:
        import tracemalloc

        tracemalloc.start()
    with tempfile.TemporaryFile() as out:
        cpu, wall = time.process_time(), time.perf_counter()
        exports.write_tidy_bundle(tidy_batches(con, filters, config), out, filters, config, ledger, fmt)
        result |= {"format": fmt, "write_cpu_s": round(time.process_time() - cpu, 1),
                   "write_wall_s": round(time.perf_counter() - wall, 1), "file_mb": round(out.tell() / 1e6, 1)}
    if traced:
        result["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 1e6, 1)
    result["peak_rss_mb"] = round(_rss_mb())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dbs", nargs="*")
    parser.add_argument("--formats", nargs="+", default=["csv"])
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--old", action="store_true")
    parser.add_argument("--out")
    parser.add_argument("--child", nargs=2, metavar=("DB", "FMT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.tracemalloc, args.old)))
        return
    rows = []
    for db in args.dbs:
        runs = [(fmt, []) for fmt in args.formats] + ([("csv", ["--old"])] if args.old else [])
        for fmt, extra in runs:
            command = [sys.executable, __file__, "--child", db, fmt, *extra]
            command += ["--tracemalloc"] if args.tracemalloc else []
            done = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    columns = ["db", "call", "rows", "cpu_s", "wall_s", "format", "file_mb", "write_cpu_s", "write_wall_s",
               "rss_before_write_mb", "peak_rss_mb", "tracemalloc_peak_mb"]
    table = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    table += ["| " + " | ".join(str(r.get(c, "")) if c != "db" else Path(r[c]).name for c in columns) + " |"
              for r in rows]
    text = "\n".join(table) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
