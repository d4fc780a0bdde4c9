"""Benchmark: ingest of the demo sample, then every indicator on it.

    .venv/bin/python benchmarks/indicators.py [--repeat 5]

Prints the sample's ingest time and, per indicator, the median wall time over --repeat runs and
its ratio to a baseline run in the same process (reading every visit-practice row with its
visit into pandas: the cost of merely touching the data). Target (issue 3): all indicators
together under 2 s on the demo sample.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb  # noqa: E402

from ingest import ingest_files  # noqa: E402
from metrics import Filters  # noqa: E402
from metrics.registry import INDICATORS  # noqa: E402
from sustain.config import load_config  # noqa: E402
from sustain.samples import sample_files  # noqa: E402


def median_seconds(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = load_config()
    os.environ.pop(config.pseudonymisation.salt_env, None)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "bench.duckdb"
        started = time.perf_counter()
        result = ingest_files(sample_files(), config, path)
        ingest_seconds = time.perf_counter() - started
        rows = sum(f.rows for f in result.files)
        print(f"ingest of the sample: {len(result.files)} files, {rows:,} rows in {ingest_seconds:.2f} s")
        con = duckdb.connect(str(path), read_only=True)
        baseline = median_seconds(lambda: con.execute(
            "select * from visits join visit_practices using (submission_id)").df(), args.repeat)
        print(f"baseline (read all visit-practice rows into pandas): {baseline * 1000:.1f} ms")
        total = 0.0
        for name, function in INDICATORS.items():
            function(con, Filters(), [], config)  # warm up (imports, first plan)
            seconds = median_seconds(lambda: function(con, Filters(), [], config), args.repeat)
            total += seconds
            print(f"{name:22s} {seconds * 1000:8.1f} ms   x{seconds / baseline:6.1f} baseline")
        print(f"{'all indicators':22s} {total * 1000:8.1f} ms   x{total / baseline:6.1f} baseline   "
              f"(target < 2000 ms: {'met' if total < 2 else 'NOT met'})")
        con.close()


if __name__ == "__main__":
    main()
