"""Benchmark: how fast each dashboard page answers a filter change on the demo sample.

    .venv/bin/python benchmarks/pages.py [--repeat 3] [--db PATH]

Builds the sample database through the real ingest in a scratch folder (or reads --db, e.g. a
national one built by benchmarks/scale.py), then for every page runs
it in Streamlit's AppTest, changes the district filter to a value not seen before (a cache miss:
the metric really runs) and times that rerun. Prints each page's median time and its ratio to a
baseline run in the same process (a rerun of the same page with nothing changed, served from the
cache). Target (issue 4): under 1 s per filter change.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from ingest import ingest_files  # noqa: E402
from sustain.config import load_config  # noqa: E402
from sustain.samples import sample_files  # noqa: E402

PAGES = ["overview", "districts", "practices", "hindrances", "communities", "planner", "data"]
DISTRICTS = ["Thatta", "Sanghar", "Mirpurkhas", "Quetta", "Pishin", "Lasbela"]


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", help="an existing database to read instead of building the sample")
    args = parser.parse_args()
    config = load_config()
    os.environ.pop(config.pseudonymisation.salt_env, None)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(args.db) if args.db else Path(scratch) / "bench.duckdb"
        if not args.db:
            ingest_files(sample_files(), config, path)
        os.environ["SUSTAIN_DB"] = str(path)
        print(f"{'page':12s} {'filter change':>14s} {'cached rerun':>13s} {'ratio':>7s}")
        worst = 0.0
        for page in PAGES:
            st.cache_data.clear()
            at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=60).run()
            if at.exception:
                print(f"{page:12s} failed: {at.exception[0].message}")
                continue
            changes, baselines = [], []
            for attempt in range(args.repeat):
                district = DISTRICTS[attempt % len(DISTRICTS)]
                changes.append(timed(lambda: at.multiselect(key="filter_district").set_value([district]).run()))
                baselines.append(timed(lambda: at.run()))
            change, baseline = statistics.median(changes), statistics.median(baselines)
            worst = max(worst, change)
            print(f"{page:12s} {change * 1000:11.0f} ms {baseline * 1000:10.0f} ms {change / baseline:7.1f}")
        print(f"slowest filter change: {worst * 1000:.0f} ms (target < 1000 ms: {'met' if worst < 1 else 'NOT met'})")


if __name__ == "__main__":
    main()
