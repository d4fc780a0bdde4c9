"""python -m metrics INDICATOR [--db PATH] [--config PATH] [--by COL,...] [--where COL=VALUE ...]
[--format csv|json] [--rule latent|first_drop|confirmed] [--exposure previous|month0] [--adjust district]

`--rule` (survival only): the event rule; "confirmed" is the sensitivity option (a drop counts only
when the next visit confirms it, so the last round can hold no event; see metrics/survival.py).
`--exposure`, `--adjust` (hindrance_effect only): the hindrance reported at the previous visit
(default) or at month 0; `--adjust district` adds district fixed effects (see
metrics/hindrance_effect.py).

Prints the indicator's tidy table: the --by columns, then the indicator's own, always with n.
Suppressed groups (fewer teachers than thresholds.min_group_n) print with empty values and
suppressed=true. Numbers print in full precision in both formats (a p-value of 6.7e-13 is not 0);
missing and non-finite values print empty (csv) or null (json). Exit 0 on success, 2 on a usage, configuration or data error.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys

import duckdb
import numpy as np
import pandas as pd

from sustain.config import ConfigError, load_config
from sustain.db import DatabaseMissing, DataRefreshing, SchemaMismatch, read_only

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
    parser.add_argument("--rule", choices=["latent", "first_drop", "confirmed"],
                        help="survival only: the estimator (default latent: the hidden Markov model; first_drop, confirmed = "
                             "life tables of the scores as they are, sensitivity options)")
    parser.add_argument("--exposure", choices=["previous", "month0"],
                        help="hindrance_effect only: hindrance reported at the previous visit (default) or at month 0")
    parser.add_argument("--adjust", choices=["district"],
                        help="hindrance_effect only: also adjust for district (fixed effects)")
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
        options = {}
        if args.rule is not None:
            if args.indicator != "survival":
                raise FilterError("--rule applies to survival only")
            options["rule"] = args.rule
        if args.exposure is not None or args.adjust is not None:
            if args.indicator != "hindrance_effect":
                raise FilterError("--exposure and --adjust apply to hindrance_effect only")
            if args.exposure is not None:
                options["exposure"] = args.exposure
            if args.adjust == "district":
                options["adjust_district"] = True
        with read_only(config.database_path(args.db)) as con:
            table = INDICATORS[args.indicator](con, filters, by, config, **options)
    except (ConfigError, FilterError, DatabaseMissing, DataRefreshing, SchemaMismatch) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except duckdb.Error as exc:  # values are checked first; this is the net for what slips through
        first = str(exc).splitlines()[0][:300]
        print(f"error: could not compute {args.indicator} with these filters ({type(exc).__name__}: {first}); "
              "check the --where values", file=sys.stderr)
        return 2
    if args.format == "json":
        records = json_records(table)
        print(json.dumps({"indicator": args.indicator, "filters": filters.describe(), "rows": records},
                         ensure_ascii=False, indent=2))
    else:
        table.to_csv(sys.stdout, index=False)
    return 0


def json_records(table: pd.DataFrame) -> list[dict]:
    """The table's rows as JSON-ready dicts with every float in full precision (json's repr,
    not pandas' 10 decimal places, which print 6.7e-13 as 0.0); NaN, NA and infinities -> None,
    dates as ISO text."""
    def plain(value):
        if value is None or value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, (pd.Timestamp, dt.date, dt.datetime)):
            return value.isoformat()
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, (list, tuple, np.ndarray)):
            return [plain(v) for v in value]
        return value

    columns = list(table.columns)
    return [{c: plain(v) for c, v in zip(columns, row)} for row in table.itertuples(index=False, name=None)]


if __name__ == "__main__":
    sys.exit(main())


def cli() -> None:
    """Console entry point (pyproject.toml [project.scripts])."""
    sys.exit(main())
