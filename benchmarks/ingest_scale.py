"""Benchmark: the real ingest CLI on national-scale exports (issue 12, the ingest side).

    .venv/bin/python benchmarks/ingest_scale.py --teachers N [--teachers M ...] [--cache DIR]
                                                [--split district|month|none] [--out FILE]

Per size: generates the national files with `python -m sample_data.national` (or reuses them from
`<cache>/<N>/`, default /tmp/sustain-scale), imports them into a new database with
`python -m ingest --db X roster.csv exports...` in a subprocess, then imports the same files again
(every row unchanged: an export whose content was imported before is not read again, README "Load
your own KoboToolbox / ODK exports"; the table says how many were read). Rows read and practice scores come from the database; peak RSS is the
child's maximum resident set size (resource.getrusage of the children). Prints a markdown table
and writes it to test-artifacts/ingest_scale.md. Timed on a shared machine: read ratios more than
absolutes, and the CPU seconds (user + system of the child) beside the wall clock.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DEFAULT_CACHE = Path("/tmp/sustain-scale")
DEFAULT_OUT = ROOT / "test-artifacts" / "ingest_scale.md"


def national_files(teachers: int, cache: Path, split: str) -> list[Path]:
    """The roster first, then the exports; generated once per size and split."""
    folder = cache / (str(teachers) if split == "district" else f"{teachers}-{split}")
    done = folder / ".complete"
    if not done.exists():
        subprocess.run([PYTHON, "-m", "sample_data.national", "--teachers", str(teachers), "--out", str(folder),
                        "--split", split], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        done.write_text("ok\n")
    exports = sorted(p for p in folder.glob("*.csv") if p.name != "roster.csv")
    return [folder / "roster.csv", *exports]


def run_child(args: list[str]) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in MB, exit code) of one child process. The peak is
    measured by a fresh wrapper process, so one run's figure is not another's maximum."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "wall = time.perf_counter() - t\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(wall, u.ru_utime + u.ru_stime, u.ru_maxrss / 1024, code)\n"
    )
    out = subprocess.run([PYTHON, "-c", wrapper, *args], cwd=ROOT, check=True, capture_output=True, text=True)
    wall, cpu, peak, code = out.stdout.split()
    return float(wall), float(cpu), float(peak), int(code)


def files_not_read_again(db: Path) -> int:
    """The files the newest import recognised as imported before (ingest/core.py `taken_before`)."""
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("""
with newest_run as (
    select run_id from import_ledger order by finished_at desc limit 1
)
select count(*) from import_ledger
where run_id = (select run_id from newest_run) and notes like '%: not read again'
""").fetchone()[0]
    finally:
        con.close()


def counts(db: Path) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("select coalesce(sum(rows_read), 0) from import_ledger").fetchone()[0]
        scores = con.execute("select count(*) from visit_practices where score is not null").fetchone()[0]
    finally:
        con.close()
    return int(rows), int(scores)


def measure(teachers: int, cache: Path, split: str) -> dict:
    files = national_files(teachers, cache, split)
    db = cache / f"ingest-{teachers}-{split}.duckdb"
    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    command = [PYTHON, "-m", "ingest", "--db", str(db), *map(str, files)]
    wall, cpu, peak, code = run_child(command)
    rows, scores = counts(db)
    again_wall, again_cpu, again_peak, again_code = run_child(command)
    skipped = files_not_read_again(db)
    size_mb = sum(f.stat().st_size for f in files) / 1e6
    return {"teachers": teachers, "files": len(files), "mb": size_mb, "rows": rows, "scores": scores,
            "seconds": wall, "cpu": cpu, "peak": peak, "code": code, "again": again_wall,
            "again_peak": again_peak, "again_code": again_code, "read_again": len(files) - skipped}


def table(results: list[dict]) -> str:
    lines = [
        "| teachers | files (MB) | rows read | practice scores | seconds (CPU s) | scores/s (per CPU s) | peak RSS | "
        "re-import, unchanged (files read) | exit codes |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['teachers']:,} | {r['files']} ({r['mb']:,.0f}) | {r['rows']:,} | {r['scores']:,} | "
            f"{r['seconds']:,.1f} ({r['cpu']:,.1f}) | {r['scores'] / r['seconds']:,.0f} "
            f"({r['scores'] / max(r['cpu'], 1e-9):,.0f}) | {r['peak']:,.0f} MB | "
            f"{r['again']:,.1f} s ({r['again'] / r['seconds']:.0%}), {r['again_peak']:,.0f} MB "
            f"({r['read_again']} of {r['files']} read) | "
            f"{r['code']}, {r['again_code']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teachers", type=int, action="append", required=True)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--split", choices=["district", "month", "none"], default="district")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    results = []
    for teachers in args.teachers:
        started = time.perf_counter()
        results.append(measure(teachers, args.cache, args.split))
        print(f"{teachers:,} teachers measured in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    text = (f"## Ingest at national scale (`benchmarks/ingest_scale.py`, split by {args.split}, "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end)\n\n{table(results)}\n")
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
