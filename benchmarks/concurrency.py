"""Benchmark and proof: the dashboard open during an ingest (issue 5, faults).

    .venv/bin/python benchmarks/concurrency.py [--readers 3] [--copies 12] [--tail 1.5] [--out FILE]

Builds a database from the sample roster, CoP log and earlier exports, and a large KoboToolbox
export (copies of the sample export with new instance ids). Then reader processes loop read-only
queries the way a dashboard page does (`sustain.db.read_only`, which retries briefly and then
raises DataRefreshing; the retention indicator plus row counts) while `python -m ingest` imports
the large file in another process. Each reader counts answers, "refreshing" and other errors, and
checks that every answer shows the database either before or after the file, never in between.
DuckDB lets one process write or many read, so readers wait (then say "refreshing") while the
import holds the file; after it ends, they answer again. Prints the counts as a markdown table.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "sample_data"
BASE_FILES = ["roster.csv", "cop_meetings.csv", "kobo_followup_sindh_earlier.csv", "odk_followup_balochistan_earlier.csv"]
BIG_SOURCE = "kobo_followup_sindh.csv"


def big_kobo(source: Path, dest: Path, copies: int) -> int:
    """`copies` copies of a Kobo CSV export in one file; copy 0 keeps its ids (so its edits of the
    earlier export stay edits), the others get new instance ids. Returns the data rows written."""
    with source.open(encoding="utf-8", newline="") as handle:
        header, *body = list(csv.reader(handle, delimiter=";"))
    id_columns = [header.index(h) for h in ("meta/instanceID", "meta/rootUuid", "meta/deprecatedID", "_uuid")]
    with dest.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        for copy in range(copies):
            for row in body:
                if copy:
                    row = list(row)
                    for i in id_columns:
                        if row[i]:
                            row[i] = f"{row[i]}-copy{copy}"
                writer.writerow(row)
    return copies * len(body)


def build_inputs(folder: Path, copies: int = 12) -> tuple[Path, Path]:
    """(database holding the sample roster, CoP log and earlier exports; the large export)."""
    from ingest import ingest_files
    from sustain.config import load_config

    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "base.duckdb"
    result = ingest_files([SAMPLE / name for name in BASE_FILES], load_config(), db)
    if not result.ok:
        raise RuntimeError([f.refused for f in result.files if f.refused])
    big = folder / "big_kobo_export.csv"
    big_kobo(SAMPLE / BIG_SOURCE, big, copies)
    return db, big


def counts(db: Path) -> tuple[int, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select (select count(*) from visits), (select count(*) from visit_practices)").fetchone()
    finally:
        con.close()


# -- one reader process ----------------------------------------------------------------------------
def reader(db: str, folder: str, name: str, retry: float, indicator: bool, hard_seconds: float,
           tail: float) -> None:
    """Loop read-only queries until `tail` seconds after the ingest's end and an answer begun after it,
    or `hard_seconds` after the ingest's end (or after this reader's start while no ingest has
    ended: the others may take long to start on a loaded machine, and the ingest starts after)."""
    from metrics import Filters
    from metrics.registry import INDICATORS
    from sustain.config import load_config
    from sustain.db import DataRefreshing, read_only

    config = load_config()
    retention = INDICATORS["retention"]
    folder_path = Path(folder)
    outcomes = []  # (start, end, kind, visits, practices, detail)
    (folder_path / f"ready-{name}").write_text("1")
    looping_since = time.time()
    while True:
        done = folder_path / "ingest-done"
        if done.exists():
            # at least `tail` seconds after the end, and until one answer began after it: the first
            # retention answer after an import fits its model, seconds on a loaded machine
            end = float(done.read_text() or 0)
            if time.time() > end + tail and any(o[2] == "answer" and o[0] > end for o in outcomes):
                break
            if time.time() > end + hard_seconds:
                break
        elif time.time() > looping_since + 2 * hard_seconds:  # no ingest ended (the readers' start and
            break                                              # the ingest have hard_seconds each): failed
        started = time.time()
        try:
            with read_only(db, retry_seconds=retry) as con:
                visits, practices = con.execute(
                    "select (select count(*) from visits), (select count(*) from visit_practices)").fetchone()
                if indicator:
                    retention(con, Filters(), [], config)
            outcomes.append((started, time.time(), "answer", visits, practices, ""))
        except DataRefreshing as exc:
            outcomes.append((started, time.time(), "refreshing", None, None, str(exc)))
        except Exception as exc:  # noqa: BLE001 - every other failure is what we count
            outcomes.append((started, time.time(), "error", None, None, f"{type(exc).__name__}: {exc}"))
        time.sleep(0.03)
    (folder_path / f"reader-{name}.json").write_text(json.dumps(outcomes))


# -- the scenario ----------------------------------------------------------------------------------
def run_scenario(db: Path, big: Path, folder: Path, readers: int = 3, retries: tuple[float, ...] = (3.0, 3.0, 0.25),
                 tail: float = 1.5, timeout: float = 60.0, env: dict | None = None) -> dict:
    """Readers loop while `python -m ingest --db DB BIG` runs; returns the counts and checks."""
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ if env is None else env)
    before = counts(db)
    procs = []
    for i in range(readers):
        name = f"r{i + 1}"
        retry = retries[i % len(retries)]
        code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.concurrency import reader; "
                f"reader({str(db)!r}, {str(folder)!r}, {name!r}, {retry!r}, {i % 3 != 2}, {timeout!r}, {tail!r})")
        procs.append((name, retry, i % 3 != 2, subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)))
    deadline = time.time() + timeout
    while not all((folder / f"ready-{name}").exists() for name, *_ in procs):
        if time.time() > deadline or any(p.poll() is not None for *_, p in procs):
            for *_, p in procs:
                p.kill()
            raise RuntimeError("readers did not start")
        time.sleep(0.05)
    time.sleep(0.3)  # readers answer before the ingest starts
    ingest_start = time.time()
    ingest = subprocess.run([sys.executable, "-m", "ingest", "--db", str(db), str(big)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=timeout)
    ingest_end = time.time()
    (folder / "ingest-done").write_text(repr(ingest_end))
    for *_, p in procs:
        try:
            # a reader goes on for at most `timeout` after the ingest's end
            p.wait(timeout=max(1.0, ingest_end + timeout - time.time()) + 10)
        except subprocess.TimeoutExpired:
            p.kill()
    after = counts(db)
    report = {"before": before, "after": after, "ingest_exit": ingest.returncode, "ingest_stderr": ingest.stderr,
              "ingest_seconds": ingest_end - ingest_start, "readers": []}
    for name, retry, indicator, p in procs:
        path = folder / f"reader-{name}.json"
        outcomes = json.loads(path.read_text()) if path.exists() else []
        answers = [o for o in outcomes if o[2] == "answer"]
        states = {(o[3], o[4]) for o in answers}
        report["readers"].append({
            "reader": name, "query": "retention + counts" if indicator else "counts", "retry_seconds": retry,
            "exit": p.returncode, "queries": len(outcomes), "answers": len(answers),
            "answers_before": sum(1 for o in answers if (o[3], o[4]) == tuple(before)),
            "answers_after": sum(1 for o in answers if (o[3], o[4]) == tuple(after)),
            "half_file": sum(1 for o in answers if (o[3], o[4]) not in (tuple(before), tuple(after))),
            "refreshing": sum(1 for o in outcomes if o[2] == "refreshing"),
            "errors": [o[5] for o in outcomes if o[2] == "error"],
            "answered_during_ingest": sum(1 for o in answers if ingest_start < o[0] and o[1] < ingest_end),
            "answers_started_after_end": sum(1 for o in answers if o[0] > ingest_end),
            "stale_after_end": sum(1 for o in answers if o[0] > ingest_end and (o[3], o[4]) != tuple(after)),
            "first_answer_after_end_s": min((o[1] - ingest_end for o in answers if o[1] > ingest_end), default=None),
            "states": sorted(states),
        })
    return report


def markdown(report: dict) -> str:
    lines = [f"Ingest of the large export: exit {report['ingest_exit']}, {report['ingest_seconds']:.2f} s; "
             f"visits/visit-practices before {tuple(report['before'])}, after {tuple(report['after'])}.", "",
             "| reader | query | retry s | queries | answers (before / after) | refreshing | other errors "
             "| half a file shown | answers after the ingest ended | first answer after the end |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["readers"]:
        first = "-" if r["first_answer_after_end_s"] is None else f"{r['first_answer_after_end_s']:.2f} s"
        lines.append(f"| {r['reader']} | {r['query']} | {r['retry_seconds']:g} | {r['queries']} | {r['answers']} "
                     f"({r['answers_before']} / {r['answers_after']}) | {r['refreshing']} | {len(r['errors'])} "
                     f"| {r['half_file']} | {r['answers_started_after_end']} | {first} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=3)
    parser.add_argument("--copies", type=int, default=12, help="copies of the sample export in the large file")
    parser.add_argument("--tail", type=float, default=1.5, help="seconds readers go on after the ingest")
    parser.add_argument("--out", help="also write the markdown table here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sustain-concurrency-") as scratch:
        folder = Path(scratch)
        db, big = build_inputs(folder, args.copies)
        report = run_scenario(db, big, folder / "run", readers=args.readers, tail=args.tail)
    table = markdown(report)
    print(table)
    if args.out:
        Path(args.out).write_text(table, encoding="utf-8")
    if report["ingest_exit"] != 0:
        print(report["ingest_stderr"], file=sys.stderr)


if __name__ == "__main__":
    main()
