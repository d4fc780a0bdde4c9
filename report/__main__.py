"""python -m report --programme CODE [--district D ...] [--language en|ur] [--db PATH] [--config PATH]
--out DIR [--png] [--data csv|xlsx|parquet]

Writes the donor pack for one programme (optionally some districts) into DIR:
`sustain_<programme>[_<district>...].pptx` (native, editable PowerPoint charts) and `.html` (one
self-contained file, opens offline, charts interactive); with --png each chart as
`<stem>_<chart>.png` too (needs chromium); with --data the tidy observations behind the figures
with their codebook (report/exports.py: formula-safe CSV/XLSX, or Parquet).
Exit 0 on success, 1 when an optional part (PNG) could not be made, 2 on a usage,
configuration or data error.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from metrics.filters import FilterError
from sustain.config import ConfigError, load_config
from sustain.db import DatabaseMissing, DataRefreshing, SchemaMismatch, read_only

from .content import ReportError, build_report
from .exports import TooManyRowsForExcel
from .html_report import figures, write_html
from .labels import LANGUAGES
from .pptx_deck import write_deck

DATA_FORMATS = ("csv", "xlsx", "parquet")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m report", description="Write the donor pack (PPTX + HTML).")
    parser.add_argument("--programme", required=True, help="programme code from config (e.g. CBM)")
    parser.add_argument("--district", nargs="+", action="extend", default=[], metavar="D",
                        help="only these districts (repeat or list several)")
    parser.add_argument("--language", choices=LANGUAGES, default=None,
                        help="labels in English or Urdu (default: config report_language)")
    parser.add_argument("--db", help="DuckDB file (default: $SUSTAIN_DB or config 'database')")
    parser.add_argument("--config", help="config file (default: $SUSTAIN_CONFIG or config.yaml)")
    parser.add_argument("--out", required=True, help="directory to write into (created if missing)")
    parser.add_argument("--png", action="store_true", help="also write each chart as PNG (needs chromium)")
    parser.add_argument("--data", choices=DATA_FORMATS, action="append", default=[],
                        help="also write the tidy observations with a codebook in this format (repeatable); "
                             "row-level pseudonymous data, not suppressed: share under data-protection terms")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        config = load_config(args.config)
        with read_only(config.database_path(args.db)) as con:
            report = build_report(con, config, args.programme, args.district, args.language or config.report_language)
            data_files = _data_files(con, config, report, args.data) if args.data else {}
    except (ConfigError, FilterError, DatabaseMissing, DataRefreshing, SchemaMismatch, ReportError,
            TooManyRowsForExcel) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    written = [write_deck(report, out / f"{report.file_stem}.pptx"),
               write_html(report, out / f"{report.file_stem}.html")]
    for name, content in data_files.items():
        path = out / name
        path.write_bytes(content)
        written.append(path)
    status = 0
    if args.png:
        from .png import figures_png

        figs = figures(report)
        try:
            images = figures_png(list(figs.values()))
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
        else:
            for key, image in zip(figs, images):
                path = out / f"{report.file_stem}_{key}.png"
                path.write_bytes(image)
                written.append(path)
    for path in written:
        print(f"{path}\t{path.stat().st_size:,} bytes")
    return status


def _data_files(con, config, report, formats) -> dict[str, bytes]:
    """The tidy observations of the report's selection, with codebook, via report/exports.py:
    read from DuckDB in record batches and written batch by batch (the export is never a table
    in memory)."""
    import tempfile

    from metrics.records import tidy_batches
    from metrics.registry import DATASETS
    from report import exports

    ledger = DATASETS["import_ledger"](con, report.filters, [], config)
    files = {}
    for fmt in dict.fromkeys(formats):
        default_name = exports.BUNDLES[fmt][0]
        name = default_name.replace("sustain_observations", f"{report.file_stem}_observations", 1)
        if name == default_name:
            name = f"{report.file_stem}_{default_name}"
        with tempfile.TemporaryFile() as out:
            exports.write_tidy_bundle(tidy_batches(con, report.filters, config), out, report.filters, config,
                                      ledger, fmt)
            out.seek(0)
            files[name] = out.read()
    return files


if __name__ == "__main__":
    sys.exit(main())


def cli() -> None:
    """Console entry point (pyproject.toml [project.scripts])."""
    sys.exit(main())
