"""python -m app.warm [--db PATH] [--config PATH] [--levels country,province,district] [--factors]

Fills the result store (app/result_store.py) with every page's default views at the data's
current version, for each place an officer or a manager opens first: the whole country, each
province and each district, as each configured viewer sees them (their district scope is part of
what is kept). Run it after an import (README "Serving many users"); the dashboard computes and
keeps anything not warmed on first use, so warming is never needed for correct figures, only so
that nobody waits for the first computation of a view. `--factors` also warms each place with each
single value of each factor of the sidebar (programme, school type, gender, subject, years of
experience, practice, hindrance: the sidebar's dimensions other than the places), for
researchers filtering by factor; it multiplies the work by the number of those values (about 30).

Prints one line per place (tables computed, tables already kept, seconds) and a total. Exit 0 when
done, 2 on a configuration or database error (with the sentence), 1 if a view failed to compute.
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Iterator

import duckdb

from metrics import Filters
from metrics.lookups import config_choices
from metrics.registry import computed_by
from sustain.config import Config, ConfigError, load_config
from sustain.db import DatabaseMissing, DataRefreshing, SchemaMismatch, version_id
from sustain.dimensions import sidebar_dimensions

from app import access, result_store

# Each page's indicator calls with its default widgets, as (name, by): the calls a page makes on
# its first render, whatever the sidebar's filters. tests/test_result_store.py checks this against
# the pages themselves (run with AppTest), and benchmarks/scale.py times the pages from it.
PAGE_VIEWS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "overview": (("retention", ("programme",)), ("hindrance_effect", ()), ("headline", ()),
                 ("retention", ("programme", "district")), ("import_ledger", ())),
    "practices": (("retention", ("programme",)), ("half_life", ("practice",)), ("retention", ("practice",)),
                  ("survival", ())),
    "hindrances": (("hindrance_effect", ()), ("hindrance_prevalence", ("district", "months"))),
    "districts": (("school_trends", ()),),
    "communities": (("retention", ("programme",)), ("retention_by_cop", ()), ("cop_activity", ("cluster",))),
    "planner": (("visit_plan_head", ()),),
    "data": (("coverage", ("months",)), ("import_ledger", ()), ("sync_log", ()), ("quarantine_rows", ()),
             ("tidy_preview", ())),
}
LEVELS = ("country", "province", "district")
# the sidebar's dimensions other than the places of LEVELS: what `--factors` filters by, one value at a time
FACTORS = tuple(d.name for d in sidebar_dimensions() if d.name not in LEVELS)


def default_views() -> list[tuple[str, tuple[str, ...]]]:
    """Every distinct (name, by) of PAGE_VIEWS, in page order."""
    return list(dict.fromkeys(view for views in PAGE_VIEWS.values() for view in views))


def viewer_scopes(config: Config) -> list[tuple[str, ...] | None]:
    """The district scopes the configured viewers see (None: every district), each once."""
    scopes = {access.scope_for(config, user) for user in config.access.users} or {None}
    return sorted((s for s in scopes if s != ()), key=lambda s: (s is not None, s or ()))


def places(db, config: Config, levels: tuple[str, ...], factors: bool = False,
           version: str | None = None) -> Iterator[tuple[str, Filters]]:
    """(label, filters) of each place to warm: per viewer scope, the country, then each province,
    then each district that scope can see (the sidebar's choices, kept in the store as the pages
    read them); with `factors`, each place also with each single value of each of FACTORS."""
    for scope in viewer_scopes(config):
        seen_as = "" if scope is None else f" (as a viewer of {', '.join(scope)})"
        choices = {**result_store.stored_choices(db, scope, config, version), **config_choices(config)}
        chosen = []
        if "country" in levels:
            chosen.append(("country", Filters(scope=scope)))
        for level in ("province", "district"):
            if level in levels:
                chosen += [(f"{level} {value}", Filters(scope=scope, **{level: (value,)})) for value in choices[level]]
        for label, filters in chosen:
            yield label + seen_as, filters
            if factors:
                for factor in FACTORS:
                    for value in choices.get(factor, []):
                        yield f"{label}, {factor} {value}{seen_as}", filters.replace(**{factor: (value,)})


def warm(db, config: Config, levels: tuple[str, ...] = LEVELS, factors: bool = False, out=sys.stdout) -> int:
    """Compute and keep the default views of every place; returns the number of failed views."""
    version = version_id(db)
    to_warm = list(places(db, config, levels, factors, version))
    failed, total_started, total_computed = 0, time.perf_counter(), 0
    for label, filters in to_warm:
        started, computed = time.perf_counter(), 0
        # a view grouped by a column the place pins is made from the narrower table (app/table_cache.py
        # `shared_table`): that one is kept
        views = list(dict.fromkeys((name, computed_by(name, filters, by)) for name, by in default_views()))
        for name, by in views:
            if result_store.is_kept(db, version, result_store.table_key(name, filters, by, config)):
                continue
            try:
                result_store.stored_table(name, filters, by, db, config, version)
                computed += 1
            except (duckdb.Error, ValueError) as exc:
                failed += 1
                print(f"  {label}: {name} failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})", file=out)
        total_computed += computed
        print(f"{label}: {computed} tables computed, {len(views) - computed} already kept, "
              f"{time.perf_counter() - started:.1f} s", file=out, flush=True)
    print(f"warmed {len(to_warm)} places x {len(default_views())} views: {total_computed} tables computed in "
          f"{time.perf_counter() - total_started:.1f} s; kept in {result_store.store_folder(db)}", file=out)
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.warm",
                                     description="Compute and keep every page's default views after an import.")
    parser.add_argument("--db", help="DuckDB file (default: $SUSTAIN_DB or config 'database')")
    parser.add_argument("--config", help="config file (default: $SUSTAIN_CONFIG or config.yaml)")
    parser.add_argument("--levels", default=",".join(LEVELS),
                        help=f"places to warm, comma-separated, of {', '.join(LEVELS)} (default: all)")
    parser.add_argument("--factors", action="store_true",
                        help=f"also each place filtered by each single value of {', '.join(FACTORS)}")
    args = parser.parse_args(argv)
    levels = tuple(level.strip() for level in args.levels.split(",") if level.strip())
    unknown = sorted(set(levels) - set(LEVELS))
    if unknown or not levels:
        print(f"error: --levels takes {', '.join(LEVELS)}, not {', '.join(unknown) or 'nothing'}", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config)
        return 1 if warm(config.database_path(args.db), config, levels, args.factors) else 0
    except (ConfigError, DatabaseMissing, DataRefreshing, SchemaMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
