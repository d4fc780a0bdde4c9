"""python -m metrics INDICATOR [--db PATH] [--config PATH] [--by COL,...] [--where COL=VALUE ...]
[--format csv|json]

Prints the indicator's tidy table: the --by columns, then the indicator's own, always with n.
Suppressed groups (fewer teachers than thresholds.min_group_n) print with empty values and
suppressed=true. Exit 0 on success, 2 on a usage, configuration or data error.
"""
from __future__ import annotations

import argparse
import json
import sys

import duckdb

from sustain.config import ConfigError, load_config
from sustain.db import DatabaseMissing, DataRefreshing, read_only

from .filters import FilterError, Filters
from .registry import INDICATORS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m metrics", description="Print an indicator's tidy table.")
    parser.add_argument("indicator", choices=sorted(INDICATORS))
    parser.add_argument("--db", help="DuckDB file (default: $SUSTAIN_DB or config 'database')")
    parser.add_argument("--config", help="config file (default: $SUSTAIN_CONFIG or config.yaml)")
    parser.add_argument("--by", default="", help="comma-separated grouping columns")
    parser.add_argument("--where", action="append", default=[], metavar="COL=VALUE",
                        help="keep rows where COL equals VALUE (repeat; same COL twice means either)")
    parser.add_argument("--format", choices=["csv", "json"], default="csv")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        pairs = []
        for item in args.where:
            column, sep, value = item.partition("=")
            if not sep:
                raise FilterError(f"--where takes COL=VALUE, got {item!r}")
            pairs.append((column.strip(), value))
        filters = Filters.from_pairs(pairs)
        by = [c for c in args.by.split(",") if c.strip()]
        with read_only(config.database_path(args.db)) as con:
            table = INDICATORS[args.indicator](con, filters, by, config)
    except (ConfigError, FilterError, DatabaseMissing, DataRefreshing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except duckdb.Error as exc:  # values are checked first; this is the net for what slips through
        first = str(exc).splitlines()[0][:300]
        print(f"error: could not compute {args.indicator} with these filters ({type(exc).__name__}: {first}); "
              "check the --where values", file=sys.stderr)
        return 2
    if args.format == "json":
        records = json.loads(table.to_json(orient="records", date_format="iso"))
        print(json.dumps({"indicator": args.indicator, "filters": filters.describe(), "rows": records},
                         ensure_ascii=False, indent=2))
    else:
        table.to_csv(sys.stdout, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
