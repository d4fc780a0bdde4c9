"""Benchmark: every dashboard view at national scale, with pandas and raw-DuckDB baselines.

    nice -n 10 .venv/bin/python benchmarks/scale.py --teachers 100000 [--db PATH] [--repeat 5]

Builds (or reuses) a database of N generated teachers through the real ingest: the data comes from
`python -m sample_data.national` when it exists, else `python -m sample_data.generate --teachers N`;
the database is kept at --db (default /tmp/sustain-scale/teachers-N.duckdb) with the build's
figures beside it (`.json`), so a second run only times the views.

Then, as app/ui.py `indicator()` makes the calls (a short-lived read-only connection per call,
the page's filters and `by`), every page's view is timed for the country, one province, one
district and one school, each without and with a factor filter (a hindrance): the first call
(nothing warm) and the median of --repeat further calls (a filter change: Streamlit's cache
misses, the metric really runs). In the same run and on the same tables: a plain pandas
implementation of retention by district by round and of the survival life table (load into
pandas timed separately), and raw DuckDB SQL for the same aggregates.

Prints a markdown table and writes it to test-artifacts/scale.md; each size's figures go to
test-artifacts/scale-N.json, and the table ends with one line per view across every size
measured so far (10k, 100k, 1M: the cost per teacher shows whether it grows linearly).
`--compare FOLDER` prints, instead, a before/after table of the CPU and wall medians of the views
and the baselines at that size: FOLDER holds the "before" run's JSON, --out the "after" run's.
Targets (issue 12): each view <= 100 ms median at 100,000 teachers and <= 250 ms at 1,000,000;
>= 20x faster than pandas; within 3x of raw DuckDB.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from app import result_store, together  # noqa: E402
from app.table_cache import TableCache, shared_table  # noqa: E402
from app.warm import PAGE_VIEWS  # noqa: E402
from metrics import Filters  # noqa: E402
from metrics.indicators import retention_counts  # noqa: E402
from metrics.registry import TABLES, computed_by  # noqa: E402
from metrics.survival import life_table, survival_counts  # noqa: E402
from sustain.config import load_config  # noqa: E402
from sustain.db import read_only, version_id  # noqa: E402
from sustain.samples import sample_files  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"
# each page's indicator calls with its default widgets: app/warm.py PAGE_VIEWS (checked against the
# pages by tests/test_result_store.py), and the Districts page with a school chosen
PAGES = list(PAGE_VIEWS.items()) + [("districts: a school's teachers", (("teacher_practices", ()),))]
LIKE_FOR_LIKE = "survival life table, first-drop rule (the baselines' rule)"
COUNTS_LIKE_FOR_LIKE = "retention counts by district by round (the baselines' aggregate)"
SURVIVAL_COUNTS_LIKE_FOR_LIKE = "survival's at-risk and event counts by round, with S(t) (the baselines' aggregate)"
TARGET_MS = {100_000: 100, 1_000_000: 250}


def build(teachers: int, db: Path) -> dict:
    """Generate N teachers' exports and import them through the real CLI; the build's figures."""
    info_path = db.with_suffix(".json")
    if db.exists():
        return json.loads(info_path.read_text()) if info_path.exists() else {"teachers": teachers}
    data = db.parent / f"data-{teachers}"
    data.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    national = (ROOT / "sample_data" / "national.py").exists()
    generator = ["-m", "sample_data.national", "--teachers", str(teachers), "--out", str(data)] if national else \
        ["-m", "sample_data.generate", "--teachers", str(teachers), "--out", str(data)]
    started = time.perf_counter()
    subprocess.run([python, *generator], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    generate_seconds = time.perf_counter() - started
    # the CLI reads national exports larger than the browser upload's cap (thresholds.max_file_mb)
    settings = yaml.safe_load((ROOT / "config.yaml").read_text())
    settings["thresholds"]["max_file_mb"] = 2048
    settings_path = data / "config.yaml"
    settings_path.write_text(yaml.safe_dump(settings, allow_unicode=True))
    files = [str(p) for p in sample_files(data)]
    if not files:  # a national export that is not laid out as the sample
        files = sorted(str(p) for p in data.iterdir() if p.suffix in (".csv", ".xlsx"))
    started = time.perf_counter()
    subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", str(data / "ingest.rss"), python, "-m", "ingest",
                    "--config", str(settings_path), "--db", str(db), *files], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    ingest_seconds = time.perf_counter() - started
    peak_kb, user, system = (data / "ingest.rss").read_text().split()[-3:]
    info = {"teachers": teachers, "generator": generator[1], "generate_seconds": generate_seconds,
            "ingest_seconds": ingest_seconds, "ingest_cpu_seconds": float(user) + float(system),
            "ingest_peak_mb": int(peak_kb) / 1024}
    info_path.write_text(json.dumps(info))
    return info


def table_sizes(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    sizes = {t: con.execute(f"select count(*) from {t}").fetchone()[0]
             for t in ("teachers", "schools", "visits", "visit_practices", "model_observations", "person_period")}
    con.close()
    return sizes


def scopes(db: Path, config, levels=("country", "province", "district", "school")) -> list[tuple[str, Filters]]:
    """Country, the province and district with most teachers, that district's largest school;
    each without and with the most reported hindrance as a factor filter."""
    con = duckdb.connect(str(db), read_only=True)
    province, district = con.execute("""
select province, district from model_visits group by all order by count(distinct teacher_key) desc, district limit 1
""").fetchone()
    school = con.execute("""
select school_id from model_visits where district = $d group by all
order by count(distinct teacher_key) desc, school_id limit 1""", {"d": district}).fetchone()[0]
    hindrance = con.execute("""
select h from (select unnest(hindrances) as h from model_visits) group by all order by count(*) desc, h limit 1
""").fetchone()[0]
    con.close()
    places = [("country", Filters()), (f"province {province}", Filters(province=(province,))),
              (f"district {district}", Filters(district=(district,))),
              (f"school {school}", Filters(district=(district,), school_id=(school,)))]
    out = []
    for label, filters in places:
        if label.split(" ")[0] not in levels:
            continue
        out.append((label, filters))
        out.append((f"{label} + hindrance {hindrance}", filters.replace(hindrance=(hindrance,))))
    return out


def call(db: Path, config, name: str, filters: Filters, by) -> tuple[np.ndarray, pd.DataFrame]:
    """One indicator computed as app/result_store.py computes it (a read-only connection from the
    process's read instance): (wall, CPU) seconds and the table; CPU is this process's, DuckDB's
    threads included (steadier on a shared machine)."""
    started, cpu = time.perf_counter(), time.process_time()
    with read_only(db) as con:
        table = TABLES[name](con, filters, list(by), config)
    return np.array([time.perf_counter() - started, time.process_time() - cpu]), table


def page_together(db: Path, config, calls, filters: Filters) -> tuple[np.ndarray, list[pd.DataFrame]]:
    """A page's calls started together on the view threads, as the dashboard starts them
    (app/together.py, app/ui.py `start_page_views`), through a table cache of their own as the
    dashboard's (app/table_cache.py `shared_table`: a view grouped by a column the filters pin is
    made from the narrower one): (wall, CPU) seconds until the last has ended, and the tables in the
    calls' order."""
    started, cpu = time.perf_counter(), time.process_time()
    tables = together.run_all([functools.partial(shared_table, cache, name, filters, by, compute)
                               for cache, compute in [_computing_cache(db, config)] for name, by in calls])
    return np.array([time.perf_counter() - started, time.process_time() - cpu]), tables


def page_one_by_one(db: Path, config, calls, filters: Filters) -> np.ndarray:
    """The same calls one after the other, through one table cache: (wall, CPU) seconds."""
    return _one_after_another(calls, filters, _computing_cache(db, config)[1])


def _computing_cache(db: Path, config):
    """An empty table cache, and the load that computes a table into it (`call`)."""
    return TableCache(2**40), lambda name, filters, by: call(db, config, name, filters, by)[1]


def read_kept(db: Path, config, calls, filters: Filters) -> np.ndarray:
    """A page's calls as a session of another server process makes them once the tables are kept
    (its table cache empty): app/result_store.py `stored_table`, which reads the kept files,
    through one table cache (`shared_table`: a view grouped by a column the filters pin is made
    from the narrower table, read once). (wall, CPU) seconds."""
    return _one_after_another(calls, filters, lambda *view: result_store.stored_table(*view, db, config))


def _one_after_another(calls, filters: Filters, load) -> np.ndarray:
    """A page's calls one after the other through one empty table cache loading with `load`, as
    the dashboard's `shared_table`: (wall, CPU) seconds."""
    started, cpu = time.perf_counter(), time.process_time()
    cache = TableCache(2**40)
    for name, by in calls:
        shared_table(cache, name, filters, by, load)
    return np.array([time.perf_counter() - started, time.process_time() - cpu])


def time_views(db: Path, config, repeat: int, levels, pages=None) -> list[dict]:
    """Each page's calls for each scope: computed (first call, then the median of `repeat` further
    calls: a filter change, nothing cached), then read back from the result store (the first
    computation kept there, as the dashboard keeps it), median of `repeat` reads."""
    shutil.rmtree(result_store.store_folder(db), ignore_errors=True)
    version = version_id(db)
    results = []
    for scope, filters in scopes(db, config, levels):
        for page, calls in PAGES:
            if pages and page not in pages:
                continue
            if page.startswith("districts: a school") and not filters.school_id:
                continue
            first, tables = page_together(db, config, calls, filters)
            for (name, by), table in zip(calls, tables):
                narrower = computed_by(name, filters, by)  # what the dashboard keeps (`shared_table`)
                result_store.write_stored(db, version, result_store.table_key(name, filters, narrower, config),
                                          table.drop(columns=[c for c in by if c not in narrower]),
                                          config.publish.grace_seconds)
            runs = [page_together(db, config, calls, filters)[0] for _ in range(repeat)]
            one_by_one = [page_one_by_one(db, config, calls, filters) for _ in range(repeat)]
            reads = [read_kept(db, config, calls, filters) for _ in range(repeat)]
            results.append({"scope": scope, "page": page, "first_ms": first[0] * 1000,
                            "median_ms": statistics.median(r[0] for r in runs) * 1000,
                            "cpu_ms": statistics.median(r[1] for r in runs) * 1000,
                            "one_by_one_ms": statistics.median(r[0] for r in one_by_one) * 1000,
                            "one_by_one_cpu_ms": statistics.median(r[1] for r in one_by_one) * 1000,
                            "kept_ms": statistics.median(r[0] for r in reads) * 1000,
                            "kept_cpu_ms": statistics.median(r[1] for r in reads) * 1000})
            print(f"  {scope:40s} {page:32s} first {first[0] * 1000:8.1f} ms  median {results[-1]['median_ms']:8.1f} ms"
                  f"  CPU {results[-1]['cpu_ms']:8.1f} ms  one by one {results[-1]['one_by_one_ms']:8.1f} ms"
                  f"  kept {results[-1]['kept_ms']:6.1f} ms", flush=True)
    return results


def median_seconds(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# the rows retention counts (metrics/indicators.py `_followed_rows`), read as plainly as possible
FOLLOWED_SQL = """
select teacher_key, practice, months, retained, district from model_observations where months = 0 and retained
union all
select teacher_key, practice, months, retained, district from person_period where observed
"""
RETENTION_SQL = f"""
select district, months, count(*) filter (where retained) as retained, count(*) as n,
       count(distinct teacher_key) as teachers
from ({FOLLOWED_SQL}) group by all
"""
LIFE_TABLE_SQL = """
with unit_rounds as (
    select months, true as at_risk, false as event from model_observations where months = 0 and retained
    union all
    select months, at_risk, event from person_period
)
select months, count(*) filter (where at_risk) as at_risk, count(*) filter (where at_risk and event) as events
from unit_rounds group by all order by months
"""


def pandas_retention(followed: pd.DataFrame) -> pd.DataFrame:
    return followed.groupby(["district", "months"]).agg(
        retained=("retained", "sum"), n=("retained", "size"), teachers=("teacher_key", "nunique")).reset_index()


def pandas_life_table(units: pd.DataFrame) -> pd.DataFrame:
    at_risk = units[units["at_risk"]]
    table = at_risk.groupby("months").agg(at_risk=("event", "size"), events=("event", "sum")).reset_index()
    table["survival"] = np.cumprod(1 - table["events"] / table["at_risk"])
    return table


def survival_life_table(view, config) -> np.ndarray:
    """The country's first-drop life table from the indicator layer's counts (one cell per round)."""
    cells, _ = survival_counts(view, Filters(), [], config, per_school=False)
    rounds = cells.sort_values("months")
    return life_table(rounds["at_risk"].to_numpy(float), rounds["events"].to_numpy(float))


def baselines(db: Path, config, repeat: int) -> dict:
    """The same aggregates three ways on the same tables: the indicator, raw DuckDB, plain pandas."""
    con = duckdb.connect(str(db), read_only=True)
    started = time.perf_counter()
    followed = con.execute(FOLLOWED_SQL).df()
    units = con.execute("""
select months, true as at_risk, false as event from model_observations where months = 0 and retained
union all
select months, at_risk, event from person_period""").df()
    load = time.perf_counter() - started
    out = {"pandas_load_ms": load * 1000}
    with read_only(db) as view:
        figures = {
            "retention by district by round": (
                lambda: TABLES["retention"](view, Filters(), ["district"], config),
                lambda: con.execute(RETENTION_SQL).fetchall(),
                lambda: pandas_retention(followed)),
            "survival life table": (
                lambda: TABLES["survival"](view, Filters(), [], config),
                lambda: con.execute(LIFE_TABLE_SQL).fetchall(),
                lambda: pandas_life_table(units)),
            # like for like: the baselines compute the observed counts (retained, n, distinct teachers
            # per district and round); the indicator layer's function for them is retention_counts,
            # which the retention indicator's as-scored estimate and interval are built on
            COUNTS_LIKE_FOR_LIKE: (
                lambda: retention_counts(view, Filters(), ["district", "months"], config),
                lambda: con.execute(RETENTION_SQL).fetchall(),
                lambda: pandas_retention(followed)),
            # like for like: the baselines' life table is the first-drop rule's; the default
            # (latent) rule also fits the latent model, which neither baseline does
            LIKE_FOR_LIKE: (
                lambda: TABLES["survival"](view, Filters(), [], config, rule="first_drop"),
                lambda: con.execute(LIFE_TABLE_SQL).fetchall(),
                lambda: pandas_life_table(units)),
        }
        # like for like: the baselines count the units at risk and the events per round and take the
        # product; the indicator layer's function for the counts is survival_counts (the latent
        # rule's at_risk and events), with its life_table
        figures[SURVIVAL_COUNTS_LIKE_FOR_LIKE] = (
            lambda: survival_life_table(view, config),
            lambda: con.execute(LIFE_TABLE_SQL).fetchall(),
            lambda: pandas_life_table(units))
        for label, (indicator, raw, plain) in figures.items():
            indicator()
            raw()
            seconds = [median_seconds(f, repeat) for f in (indicator, raw, plain)]
            out[label] = dict(zip(("indicator_ms", "duckdb_ms", "pandas_ms"), (s * 1000 for s in seconds)))
    con.close()
    return out


def markdown(result: dict, everything: dict[int, dict]) -> str:
    n = result["teachers"]
    sizes, build_info = result["sizes"], result["build"]
    lines = [f"## {n:,} teachers", ""]
    scores = sizes["visit_practices"]
    line = f"{sizes['teachers']:,} teachers, {sizes['schools']:,} schools, {sizes['visits']:,} visits, " \
           f"{scores:,} practice scores; person_period {sizes['person_period']:,} rows."
    if "ingest_seconds" in build_info:
        line += (f" Ingest ({build_info.get('generator', '')} data): {build_info['ingest_seconds']:.0f} s, "
                 f"{scores / build_info['ingest_seconds']:,.0f} scores/s, peak {build_info['ingest_peak_mb']:,.0f} MB.")
    if "ingest_cpu_seconds" in build_info:
        line += (f" Ingest CPU (user + system): {build_info['ingest_cpu_seconds']:.1f} s, "
                 f"{scores / build_info['ingest_cpu_seconds']:,.0f} scores per CPU s.")
    lines += [line, ""]
    target = TARGET_MS.get(n)
    lines += ["Computed: the page's calls run (a first render or filter change no server has seen at this data "
              "version), started together on the view threads as the dashboard starts them (app/together.py); "
              "one by one: the same calls one after the other, as the dashboard made them before. From the store: "
              "the same calls read back from the result store (any other session or server process once one has "
              "computed them, or after `python -m app.warm`).", "",
              "| scope | page | first call (ms) | computed, median (ms) | CPU, median (ms) | one by one, median (ms) "
              "| from the store, median (ms) |",
              "|---|---|---:|---:|---:|---:|---:|"]

    def flagged(ms):
        return f"{ms:.0f}" + (" **over**" if target and ms > target else "")
    for row in result["views"]:
        kept = flagged(row["kept_ms"]) if "kept_ms" in row else "not run"
        lines.append(f"| {row['scope']} | {row['page']} | {row['first_ms']:.0f} | {flagged(row['median_ms'])} | "
                     f"{row.get('cpu_ms', float('nan')):.0f} | {row.get('one_by_one_ms', float('nan')):.0f} | {kept} |")
    slowest = max(result["views"], key=lambda r: r["median_ms"])
    lines += ["", f"Slowest view computed: {slowest['page']} ({slowest['scope']}), {slowest['median_ms']:.0f} ms"
              + (f" (target {target} ms)" if target else "")]
    if all("kept_ms" in r for r in result["views"]):
        slowest = max(result["views"], key=lambda r: r["kept_ms"])
        over = sum(target is not None and r["kept_ms"] > target for r in result["views"])
        lines += [f"Slowest view from the store: {slowest['page']} ({slowest['scope']}), {slowest['kept_ms']:.0f} ms; "
                  f"{over} of {len(result['views'])} over the target"]
    lines += [""]
    base = result["baselines"]
    if base:
        lines += _baseline_lines(base)
    if len(everything) > 1:
        lines += _linearity_lines(everything)
    return "\n".join(lines) + "\n"


def _baseline_lines(base: dict) -> list[str]:
    lines = [f"Baselines, same run, same tables (pandas load into memory: {base['pandas_load_ms']:.0f} ms, "
              "not counted):", "",
              "| aggregate | indicator (ms) | raw DuckDB (ms) | pandas (ms) | x faster than pandas | x raw DuckDB |",
              "|---|---:|---:|---:|---:|---:|"]
    for label in [k for k in base if k != "pandas_load_ms"]:
        b = base[label]
        lines.append(f"| {label} | {b['indicator_ms']:.1f} | {b['duckdb_ms']:.1f} | {b['pandas_ms']:.1f} | "
                     f"{b['pandas_ms'] / b['indicator_ms']:.1f} | {b['indicator_ms'] / b['duckdb_ms']:.1f} |")
    return lines


def _linearity_lines(everything: dict[int, dict]) -> list[str]:
    """Each view's median at every size measured (the sizes' JSON figures in the --out folder),
    with or without baselines."""
    ns = sorted(everything)
    lines = ["", "Linearity: each view's median (ms) at every size measured; the last column is the cost "
              "per 1,000 teachers at the largest size over that at the smallest (1 or less: linear or better).", "",
              "| scope | page | " + " | ".join(f"{k:,}" for k in ns) + " | per-teacher ratio |",
              "|---|---|" + "---:|" * (len(ns) + 1)]
    keyed = {k: {(r["scope"].split(" ")[0] + (" +factor" if "+" in r["scope"] else ""), r["page"]): r["median_ms"]
                 for r in everything[k]["views"]} for k in ns}
    for key in keyed[ns[-1]]:
        values = [keyed[k].get(key) for k in ns]
        if None in values:
            continue
        ratio = (values[-1] / ns[-1]) / (values[0] / ns[0])
        lines.append(f"| {key[0]} | {key[1]} | " + " | ".join(f"{v:.0f}" for v in values) + f" | {ratio:.2f} |")
    return lines


def comparison(before: dict, after: dict) -> str:
    """A markdown table of each view's CPU and wall medians in two runs at the same size (e.g. main
    and a branch, each on its own database from the same files), and the two runs' baselines."""
    lines = ["| scope | page | before: CPU ms | after: CPU ms | before: wall ms | after: wall ms | CPU ratio |",
             "|---|---|---:|---:|---:|---:|---:|"]
    earlier = {(r["scope"], r["page"]): r for r in before["views"]}
    for row in after["views"]:
        old = earlier.get((row["scope"], row["page"]))
        if old is None:
            continue
        lines.append(f"| {row['scope']} | {row['page']} | {old['cpu_ms']:.0f} | {row['cpu_ms']:.0f} | "
                     f"{old['median_ms']:.0f} | {row['median_ms']:.0f} | {old['cpu_ms'] / row['cpu_ms']:.1f}x |")
    lines += ["", "| aggregate | run | indicator (ms) | raw DuckDB (ms) | pandas (ms) | x faster than pandas | x raw DuckDB |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for label in [k for k in after["baselines"] if k != "pandas_load_ms" and k in before["baselines"]]:
        for run, result in (("before", before), ("after", after)):
            b = result["baselines"][label]
            lines.append(f"| {label} | {run} | {b['indicator_ms']:.0f} | {b['duckdb_ms']:.0f} | {b['pandas_ms']:.0f} | "
                         f"{b['pandas_ms'] / b['indicator_ms']:.1f} | {b['indicator_ms'] / b['duckdb_ms']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--teachers", type=int, required=True)
    parser.add_argument("--db", help="database to build or reuse (default /tmp/sustain-scale/teachers-N.duckdb)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scopes", default="country,province,district,school",
                        help="which of country, province, district, school to time (comma-separated)")
    parser.add_argument("--pages", default="", help="time only these pages (comma-separated names of PAGES)")
    parser.add_argument("--out", default=str(ARTIFACTS), help="folder of the markdown table and JSON figures")
    parser.add_argument("--no-baselines", action="store_true",
                        help="time only the views (a focused rerun; the table then has no baselines)")
    parser.add_argument("--compare", metavar="FOLDER",
                        help="only print a before/after table: this size's figures in FOLDER (before) and in --out")
    args = parser.parse_args()
    if args.compare:
        runs = [json.loads((Path(folder) / f"scale-{args.teachers}.json").read_text())
                for folder in (args.compare, args.out)]
        print(comparison(*runs))
        return
    artifacts = Path(args.out)
    config = load_config()
    os.environ.pop(config.pseudonymisation.salt_env, None)
    db = Path(args.db) if args.db else Path("/tmp/sustain-scale") / f"teachers-{args.teachers}.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    build_info = build(args.teachers, db)
    sizes = table_sizes(db)
    print(f"{args.teachers:,} teachers: {sizes}", flush=True)
    result = {"teachers": args.teachers, "build": build_info, "sizes": sizes,
              "baselines": {} if args.no_baselines else baselines(db, config, args.repeat), "views": time_views(db, config, args.repeat, args.scopes.split(","),
                                  [p for p in args.pages.split(",") if p]),
              "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / f"scale-{args.teachers}.json").write_text(json.dumps(result, indent=1))
    everything = {int(p.stem.split("-")[1]): json.loads(p.read_text()) for p in artifacts.glob("scale-*.json")}
    text = markdown(result, everything)
    (artifacts / "scale.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
