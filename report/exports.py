"""Files the dashboard hands out: CSV, XLSX, Parquet, zip bundles with a codebook, the visit plan.

Formula injection: a text cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is
written with a leading `'` in CSV and XLSX, so a spreadsheet shows it as text and never runs it;
XLSX cells are written as strings, never as formulas. Parquet keeps values as they are (it is
read by programs, not spreadsheets). CSV (RFC 4180, CRLF) is UTF-8 without a byte-order mark, so text in any
script (Urdu included) is written byte for byte; open it in Excel through Data > From Text/CSV,
or use the XLSX download.
"""
from __future__ import annotations

import datetime as dt
import io
import math
import re
import zipfile
from typing import BinaryIO, Iterable, Iterator, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.survey import TEACHER_STATUSES
from metrics.filters import Filters
from metrics.records import HINDRANCE_PREFIX
from sustain.config import Config
from sustain.dimensions import column_docs

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# characters XLSX (XML 1.0) cannot hold; replaced, never silently dropped
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")

CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP_MIME = "application/zip"
PARQUET_MIME = "application/vnd.apache.parquet"
# download format -> (file name, mime) of `data_bundle`
BUNDLES = {
    "csv": ("sustain_observations_csv.zip", ZIP_MIME),
    "xlsx": ("sustain_observations.xlsx", XLSX_MIME),
    "parquet": ("sustain_observations_parquet.zip", ZIP_MIME),
}

# rows of one worksheet, the header's included: Excel opens no more (XLSX allows no more)
XLSX_MAX_ROWS = 1_048_576


class TooManyRowsForExcel(ValueError):
    """The data holds more rows than one worksheet can: written as CSV or Parquet instead."""


# column -> (meaning, unit) for every column the dashboard exports
COLUMN_DOCS: dict[str, tuple[str, str]] = {
    **column_docs(),  # the dimensions (sustain/dimensions.py)
    "teacher_key": ("pseudonymous key of the teacher: salted sha256 of the roster id; names are never stored",
                    "text (hex)"),
    "school_name": ("school name, as in the roster", "text"),
    "visit_date": ("date of the classroom visit", "date (YYYY-MM-DD)"),
    "score": ("rubric score of the practice at the visit; a practice scored na has no row (missing, not 0); "
              "empty on the row of a visit at which no practice was scored",
              "points on the practice's scale (scale_min..scale_max, default 1..4)"),
    "teacher_status": (f"the teacher's status recorded at the visit, one of {', '.join(TEACHER_STATUSES)} "
                       "(practices are scored and hindrances asked only when present)", "category"),
    "source_file": ("file the visit was imported from", "file name"),
    "source_sha256": ("sha256 of that file: links the row to the import ledger", "text (hex)"),
    # indicator tables (definitions: README "Indicators"; the codebook's `indicator` row names it)
    "rate": ("the indicator's share (see the indicator's definition)", "share 0-1"),
    "n": ("observations the row rests on (teacher-practices, visits or units at risk)", "count"),
    "ci_low": ("lower end of the 95% interval", "as the estimate"),
    "ci_high": ("upper end of the 95% interval", "as the estimate"),
    "teachers": ("distinct teachers the row rests on", "count"),
    "half_life_months": ("months until half the practices in use at month 0 are dropped (fitted)", "months"),
    "rounds": ("follow-up rounds the fit used", "count"),
    "note": ("why a value is missing, when it is", "text"),
}

# A column whose meaning differs between row-level data (one row per observation) and an
# indicator's table (one row per group): the codebook picks by the kind of download.
ROW_LEVEL_DOCS: dict[str, tuple[str, str]] = {
    "retained": ("the score is at or above the practice's cut-off (retained_at in config); empty on the row of "
                 "a visit at which no practice was scored", "true/false"),
    "practice": ("practice observed (code from config practices); empty on the one row of a placed visit at "
                 "which no practice was scored (teacher not present, or every practice scored na)", "code"),
}
TABLE_DOCS: dict[str, tuple[str, str]] = {
    "retained": ("teacher-practices retained (scored at or above the cut-off)", "count"),
}

VISIT_PLAN_SHEET_COLUMNS = {
    "rank": "rank", "school_id": "school_id", "school_name": "school_name", "cluster": "cluster",
    "district": "district", "need_score": "need_score", "reason": "reason", "n": "n (teacher-practices at month 0)",
    "recent_visits": "recent visits", "last_visit": "last visit",
}
FILL_IN_COLUMNS = ["planned visit date", "visitor", "notes"]


# -- neutralising ------------------------------------------------------------------------------
def neutralise(value):
    """A text value that a spreadsheet would run as a formula gets a leading `'`."""
    if isinstance(value, str) and value.startswith(DANGEROUS_PREFIXES):
        return "'" + value
    return value


def neutralised(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell neutralised (numbers, dates and booleans untouched)."""
    frame = frame.copy()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(object)
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].map(neutralise, na_action="ignore")
    frame.columns = [neutralise(str(c)) for c in frame.columns]
    return frame


# -- formats -------------------------------------------------------------------------------------
def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV (RFC 4180): UTF-8 without BOM, `,`-separated, CRLF line ends, fields holding a comma,
    quote or line break quoted; text cells neutralised."""
    return neutralised(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def to_xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """One worksheet per entry (name -> frame), header in the first row. Text cells are written
    as strings (neutralised), never formulas; numbers, dates and booleans as such; missing as blank."""
    buffer = io.BytesIO()
    write_xlsx(buffer, {name: [frame] for name, frame in sheets.items()})
    return buffer.getvalue()


def write_xlsx(target: BinaryIO, sheets: Mapping[str, Iterable[pd.DataFrame]],
               max_rows: int = XLSX_MAX_ROWS) -> None:
    """`to_xlsx_bytes` written into `target` from each sheet's frames in turn (chunks of one
    table, the first giving the header and column widths), so a sheet is never held whole:
    openpyxl's write-only workbook keeps rows in a temporary file. A sheet's iterable is read only
    when its sheet is written. TooManyRowsForExcel when a sheet would pass `max_rows` (header
    included), rather than a file Excel cuts short."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    used: set[str] = set()
    for name, frames in sheets.items():
        sheet = workbook.create_sheet(_sheet_title(name, used))
        written = 0
        for chunk, frame in enumerate(frames):
            if chunk == 0:
                for index, column in enumerate(frame.columns, start=1):
                    sheet.column_dimensions[_column_letter(index)].width = _width(frame[column], str(column))
                header = []
                for column in frame.columns:
                    cell = WriteOnlyCell(sheet, value=_xlsx_text(str(column)))
                    cell.font = Font(bold=True)
                    header.append(cell)
                sheet.append(header)
                written = 1
            written += len(frame)
            if written > max_rows:
                _discard(workbook)
                raise TooManyRowsForExcel(f"sheet {name!r} has more than {max_rows - 1:,} rows under its header: "
                                          "more than one Excel worksheet holds")
            for record in frame.itertuples(index=False, name=None):
                row = []
                for value in record:
                    value = _xlsx_value(value)
                    if isinstance(value, str):
                        cell = WriteOnlyCell(sheet, value=value)
                        cell.data_type = "s"  # a string, whatever it starts with
                        row.append(cell)
                    else:
                        row.append(value)
                sheet.append(row)
    workbook.save(target)


def _discard(workbook) -> None:
    """A write-only workbook given up: its sheets' temporary files closed and removed."""
    for sheet in workbook.worksheets:
        if not sheet.closed:
            sheet.close()
            sheet._writer.cleanup()


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip of name -> content (deflated)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


# -- codebook and bundles ------------------------------------------------------------------------
ROW_LEVEL = ("row-level pseudonymous data for researchers: teachers appear only under their salted key; no "
             "group is suppressed and nothing else is left out; share only under the programme's "
             "data-protection terms")
AS_SHOWN = ("the table as shown on screen: groups resting on fewer than thresholds.min_group_n distinct "
            "teachers (or hidden with them so that none can be worked out by subtraction) read "
            "\"too few to show\", exactly as on screen")


def codebook(frame: pd.DataFrame, filters: Filters, config: Config, ledger: pd.DataFrame,
             generated: dt.datetime | None = None, privacy: str = ROW_LEVEL,
             about: Mapping[str, str] | None = None) -> pd.DataFrame:
    """What a downloaded table means, as one table (`section, name, meaning, unit`):
    - `column`: every column of `frame` with its meaning and unit;
    - `about`: the filters applied, the config version, when it was made, rows, privacy;
    - `source`: the import ledger rows the data came from (files whose sha256 appears in the data)."""
    sources = set(frame["source_sha256"].dropna().unique()) if "source_sha256" in frame.columns else None
    return _codebook(list(frame.columns), len(frame), sources, filters, config, ledger, generated, privacy, about)


def _codebook(columns: list[str], n_rows: int, sources: set[str] | None, filters: Filters, config: Config,
              ledger: pd.DataFrame, generated: dt.datetime | None, privacy: str,
              about: Mapping[str, str] | None) -> pd.DataFrame:
    """`codebook` of a table known by its columns, row count and (row-level data) the sha256 of
    its rows' files; None: an aggregate table, resting on everything imported."""
    generated = generated or dt.datetime.now().replace(microsecond=0)
    rows = []
    docs = COLUMN_DOCS | (ROW_LEVEL_DOCS if privacy == ROW_LEVEL else TABLE_DOCS) | hindrance_docs(config)
    for column in columns:
        meaning, unit = docs.get(column, ("(not documented)", ""))
        rows.append(("column", column, meaning, unit))
    practices = "; ".join(f"{p.code} = {p.label} (scale {p.scale_min}-{p.scale_max}, retained at {p.retained_at})"
                          for p in config.practices)
    rows += [
        ("about", "filters", filters.describe(), ""),
        ("about", "config_version", config.version, ""),
        ("about", "generated", generated.isoformat(sep=" "), "local time"),
        ("about", "rows", str(n_rows), "rows"),
        ("about", "practices", practices, ""),
        ("about", "privacy", privacy, ""),
        *(("about", name, text, "") for name, text in (about or {}).items()),
    ]
    for entry in _source_ledger(sources, ledger).itertuples(index=False):
        rows.append(("source", entry.source_file,
                     f"imported {entry.finished_at} (run {entry.run_id}, config {entry.config_version}): "
                     f"{entry.rows_read} rows read, {entry.inserted} inserted, {entry.updated} updated, "
                     f"{entry.unchanged} unchanged, {entry.quarantined} quarantined; sha256 {entry.source_sha256}",
                     entry.kind or ""))
    return pd.DataFrame(rows, columns=["section", "name", "meaning", "unit"])


def hindrance_docs(config: Config) -> dict[str, tuple[str, str]]:
    """The row-level data's `hindrance_<code>` columns (metrics/records.py tidy_columns), one per
    hindrance of config."""
    return {f"{HINDRANCE_PREFIX}{h.code}": (
        f"the visit reported the hindrance {h.code} ({h.label}); empty when the teacher was not present "
        "(the question is asked only then); the same on every row of the visit", "true/false")
        for h in config.hindrances}


def _source_ledger(sources: set[str] | None, ledger: pd.DataFrame) -> pd.DataFrame:
    """Row-level data: the ledger rows of the files its rows came from (`sources`, their sha256).
    An aggregate table (None) rests on everything imported, so: every import that was taken,
    latest run of each file."""
    if ledger.empty:
        return ledger
    if sources is not None:
        return ledger[ledger["source_sha256"].isin(sources)]
    taken = ledger[~ledger["refused"].astype(bool)] if "refused" in ledger.columns else ledger
    return taken.drop_duplicates("source_sha256", keep="last")


def data_bundle(frame: pd.DataFrame, filters: Filters, config: Config, ledger: pd.DataFrame, fmt: str,
                privacy: str = ROW_LEVEL, about: Mapping[str, str] | None = None) -> bytes:
    """The tidy data with its codebook (file name and mime in BUNDLES[fmt]): `csv` and `parquet`
    as a zip of data.csv / data.parquet + codebook.csv, `xlsx` as a workbook with sheets "Data"
    and "Codebook"."""
    if fmt not in BUNDLES:
        raise ValueError(f"unknown format {fmt!r}: {', '.join(BUNDLES)}")
    book = codebook(frame, filters, config, ledger, privacy=privacy, about=about)
    if fmt == "xlsx":
        return to_xlsx_bytes({"Data": frame, "Codebook": book})
    data = {"data.csv": to_csv_bytes(frame)} if fmt == "csv" else {"data.parquet": to_parquet_bytes(frame)}
    return zip_bytes(data | {"codebook.csv": to_csv_bytes(book)})


def write_tidy_bundle(batches: pa.RecordBatchReader, target: BinaryIO, filters: Filters, config: Config,
                      ledger: pd.DataFrame, fmt: str, max_xlsx_rows: int = XLSX_MAX_ROWS,
                      generated: dt.datetime | None = None) -> int:
    """`data_bundle` of the row-level tidy export (metrics/records.py `tidy_batches`) written into
    `target` batch by batch, so memory does not grow with its rows: the same files, cells and
    codebook as `data_bundle` of the whole table. Returns the rows written. TooManyRowsForExcel
    (`xlsx`) when they pass one worksheet."""
    if fmt not in BUNDLES:
        raise ValueError(f"unknown format {fmt!r}: {', '.join(BUNDLES)}")
    tally = _Tally()

    def book() -> Iterator[pd.DataFrame]:  # read once the data is written: it counts the rows
        yield _codebook(batches.schema.names, tally.rows, tally.sources, filters, config, ledger, generated,
                        ROW_LEVEL, None)

    if fmt == "xlsx":
        write_xlsx(target, {"Data": _frames(tally.counted(batches), batches.schema), "Codebook": book()}, max_xlsx_rows)
        return tally.rows
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        if fmt == "csv":
            with archive.open("data.csv", "w", force_zip64=True) as entry:  # size unknown until written
                for chunk, frame in enumerate(_frames(tally.counted(batches), batches.schema)):
                    entry.write(neutralised(frame).to_csv(index=False, header=chunk == 0,
                                                          lineterminator="\r\n").encode("utf-8"))
        else:
            with archive.open("data.parquet", "w", force_zip64=True) as entry, \
                    pq.ParquetWriter(entry, batches.schema) as writer:
                for batch in tally.counted(batches):
                    writer.write_batch(batch)
        archive.writestr("codebook.csv", to_csv_bytes(next(book())))
    return tally.rows


class _Tally:
    """Rows and source files (sha256) of the batches passing through: the codebook's."""

    def __init__(self):
        self.rows, self.sources = 0, set()

    def counted(self, batches: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            self.rows += batch.num_rows
            self.sources.update(s for s in pc.unique(batch.column("source_sha256")).to_pylist() if s is not None)
            yield batch


# Arrow -> pandas as DuckDB's `.df()` gives the whole table (tidy_observations): integers and
# booleans nullable whatever a batch holds, dates as dates; so each chunk's cells are written as
# the whole table's would be
_PANDAS_TYPES = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                 pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}


def _frames(batches: Iterable[pa.RecordBatch], schema: pa.Schema | None = None) -> Iterator[pd.DataFrame]:
    """Each batch as a frame; one empty frame (the header) when there is none."""
    empty = True
    for batch in batches:
        empty = False
        yield batch.to_pandas(types_mapper=_PANDAS_TYPES.get)
    if empty and schema is not None:
        yield schema.empty_table().to_pandas(types_mapper=_PANDAS_TYPES.get)


def visit_plan_workbook(plan: pd.DataFrame, filters: Filters, config: Config,
                        generated: dt.datetime | None = None) -> bytes:
    """The visit plan as .xlsx: sheet "Visit plan" (the schools with their reasons, and empty
    columns for the visit date, the visitor and notes) and sheet "About" (filters, config version,
    generation date, what the score means)."""
    from metrics.planner import SCORE_EXPLANATION, WEIGHTS

    generated = generated or dt.datetime.now().replace(microsecond=0)
    sheet = plan[[c for c in VISIT_PLAN_SHEET_COLUMNS if c in plan.columns]].rename(columns=VISIT_PLAN_SHEET_COLUMNS)
    # to_numeric: an empty plan's column has object dtype, which round() refuses
    sheet = sheet.assign(need_score=pd.to_numeric(sheet["need_score"]).round(2)) if "need_score" in sheet else sheet
    for column in FILL_IN_COLUMNS:
        sheet[column] = ""
    about = pd.DataFrame([
        ("Follow-up visit plan", f"{len(plan)} school(s), highest need first"),
        ("Filters applied", filters.describe()),
        ("Config version", config.version),
        ("Generated", generated.isoformat(sep=" ")),
        ("What the score means", SCORE_EXPLANATION),
        ("Weights", ", ".join(f"{k} {v:.0%}" for k, v in WEIGHTS.items())),
        ("Too few to judge", f"decay is judged only from {config.thresholds.min_group_n} or more teacher-practices "
                             "retained at month 0 (thresholds.min_group_n)"),
        ("n", "teacher-practices retained at month 0 that the school's decay figure rests on"),
        ("Privacy", "the plan names schools, never teachers; it is for planning support visits, not for ranking people"),
    ], columns=["item", "value"])
    return to_xlsx_bytes({"Visit plan": sheet, "About": about})


# -- helpers -------------------------------------------------------------------------------------
def _xlsx_text(value: str) -> str:
    return _ILLEGAL_XML.sub("\ufffd", neutralise(value))


def _xlsx_value(value):
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, str):
        return _xlsx_text(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else (float(value) if math.isfinite(value) else str(value))
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    if isinstance(value, (dt.datetime, dt.date, int)):
        return value
    return _xlsx_text(str(value))


def _sheet_title(name: str, used: set[str]) -> str:
    title = _SHEET_NAME.sub("_", name)[:31] or "Sheet"
    base, counter = title, 2
    while title.lower() in used:
        suffix = f" ({counter})"
        title = base[: 31 - len(suffix)] + suffix
        counter += 1
    used.add(title.lower())
    return title


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def _width(series: pd.Series, header: str) -> float:
    sample = series.head(200).map(lambda v: len(str(v)) if v is not None else 0)
    longest = max([len(header), *sample.tolist()]) if len(sample) else len(header)
    return float(min(max(longest + 2, 8), 80))
