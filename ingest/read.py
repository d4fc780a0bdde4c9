"""Read an export file into a table of strings and tell what kind of file it is.

Everything is read as text ("" for empty), so validation can quote exactly what the file held.
Refusals (`FileRefused`) happen before anything is written: file too large (also an XLSX whose
unpacked parts exceed the cap, checked from the zip directory before any XML is parsed), not
UTF-8, duplicate headers, a header cell longer than `MAX_HEADER_CHARS` (not a header row), empty
file (0 bytes, or a header row and no data rows), unknown kind.

A CSV is split into physical records line by line: a quoted field may span lines (a multi-line
comment) only when its quote closes cleanly and the record then has the header's number of cells.
A record that cannot be split so (an unclosed quote, text after a closing quote) is kept aside as
a `malformed_record` with its line number, and reading resumes on the next line, so it never
swallows the records after it: rows read = the file's data records. Free-text fields are read
whole up to the file-size cap (the csv module's own 131,072-character field limit is raised).
An XLSX whose XML declares a DOCTYPE or entities is refused by a byte scan before parsing, and
XML is parsed through defusedxml (openpyxl uses it when installed) as a second line of defence.

Streaming (national exports): a CSV whose header is its first line is not parsed in Python at
read time; only its header is, and the file is hashed and checked to be UTF-8 in one streaming
pass. `load_raw` then has DuckDB's strict CSV reader put its records into the temp table
`raw_rows` (one text column per header, `c0`.., and `_row`). Whatever that reader does not take
as the rules above would (a malformed or short record, a blank line of delimiters, a record
too long for its buffer) sends the file to the Python reader instead, so the outcome is the same
either way; only a clean file is read faster and in bounded memory.
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

# the kinds of file and how each is detected: ingest/kinds.py


# A header cell is a column name; one this long means the first line is not a header row (and a
# pathological header must not reach pandas or DuckDB as a column name).
MAX_HEADER_CHARS = 1_000


class FileRefused(Exception):
    """The whole file is refused; the message says why. Nothing is written."""


@dataclass
class RawTable:
    path: Path
    sha256: str
    headers: list[str]
    frame: pd.DataFrame | None  # all str, columns as in the file, plus `_row` (1-based data record); None: not read yet
    file_format: str  # csv | xlsx
    # records that could not be split into cells: {"row", "line", "detail"}; not in `frame`
    malformed: list[dict] = field(default_factory=list)
    delimiter: str | None = None  # a CSV left for DuckDB to read (frame None until `load_raw`)
    max_bytes: int = 0
    loaded: int | None = None  # records in `raw_rows` once loaded

    @property
    def records(self) -> int | None:
        """Data records in the file: the rows read, malformed ones included (None: not read yet)."""
        if self.frame is None:
            return self.loaded
        return len(self.frame) + len(self.malformed)


# the raw records' columns in DuckDB: c0, c1, .. in header order (names from code, never from a file)
def raw_column(index: int) -> str:
    return f"c{index}"


STREAM_HEAD_BYTES = 1 << 20  # how much of a CSV's start is looked at to plan the streaming read


def _digest(path: Path) -> tuple[str, bool]:
    """(sha256, whether the bytes are UTF-8), in one streaming pass."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8 = True
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return digest.hexdigest(), utf8


def read_table(path: str | Path, max_bytes: int, cap_name: str = "thresholds.max_file_mb",
               streaming: bool = True) -> RawTable:
    """Read a file's header (and, unless it is left for DuckDB to stream, its records). `cap_name`
    names the setting of `max_bytes` in the refusal."""
    path = Path(path)
    if not path.is_file():
        raise FileRefused(f"{path}: no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise FileRefused(f"{path.name}: {size / 1e6:.3g} MB is over the size cap of {max_bytes / 1e6:g} MB ({cap_name})")
    if size == 0:
        raise FileRefused(f"{path.name}: the file is empty")
    digest, utf8 = _digest(path)
    malformed: list[dict] = []
    delimiter = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    if zipfile.is_zipfile(path):
        headers, rows = _read_xlsx(path, max_bytes, cap_name)
        numbers = list(range(1, len(rows) + 1))
        file_format = "xlsx"
    else:
        file_format = "csv"
        plan = _stream_plan(path) if streaming and utf8 else None
        if plan:
            headers, delimiter = plan
        else:
            headers, numbers, rows, malformed = _read_csv(path, max_bytes)
    _check_headers(path, headers)
    if delimiter:
        return RawTable(path=path, sha256=digest, headers=headers, frame=None, file_format=file_format,
                        delimiter=delimiter, max_bytes=max_bytes)
    frame = _frame(path, headers, numbers, rows, malformed)
    return RawTable(path=path, sha256=digest, headers=headers, frame=frame, file_format=file_format,
                    malformed=malformed, max_bytes=max_bytes)


def _check_headers(path: Path, headers: list[str]) -> None:
    if not headers or all(not h.strip() for h in headers):
        raise FileRefused(f"{path.name}: the file has no header row")
    for index, header in enumerate(headers, start=1):
        if len(header) > MAX_HEADER_CHARS:
            raise FileRefused(
                f"{path.name}: the header of column {index} is {len(header):,} characters long (at most "
                f"{MAX_HEADER_CHARS:,}); the first row is not a header row: export the file again"
            )
    seen: dict[str, int] = {}
    for index, header in enumerate(headers, start=1):
        if header in seen:
            raise FileRefused(f"{path.name}: duplicate header {header!r} in columns {seen[header]} and {index}")
        seen[header] = index


def _frame(path: Path, headers: list[str], numbers: list[int], rows: list[list[str]],
           malformed: list[dict]) -> pd.DataFrame:
    if not rows and not malformed:
        raise FileRefused(f"{path.name}: the file has a header row but no data rows (an export with no submissions?)")
    width = len(headers)
    for number, row in zip(numbers, rows):
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            raise FileRefused(f"{path.name}: row {number} has {len(row)} cells but the header has {width}")
    rows = [(row + [""] * width)[:width] for row in rows]
    frame = pd.DataFrame(rows, columns=headers, dtype="string").fillna("")
    frame = frame.astype(object)
    frame["_row"] = numbers
    return frame


def _stream_plan(path: Path) -> tuple[list[str], str] | None:
    """(headers, delimiter) when the CSV can be left for DuckDB to stream: its header is its whole
    first line (ended by \n or \r\n) and a data line follows; None sends it to the Python reader."""
    with path.open("rb") as handle:
        head = handle.read(STREAM_HEAD_BYTES)
    text = head.decode("utf-8-sig", errors="ignore")
    lines = io.StringIO(text, newline="").readlines()
    if len(lines) < 2 or not lines[0].strip() or not lines[0].endswith("\n"):
        return None
    delimiter = max([";", ",", "\t"], key=lambda d: len(_first_cells(lines[0], d)))
    feed = _LineFeed(lines, 0)
    try:
        headers = [h.strip() for h in next(csv.reader(feed, delimiter=delimiter, strict=True))]
    except (csv.Error, StopIteration):
        return None
    if feed.taken != 1:
        return None
    blank = set(delimiter + '" \t\r\n')
    if not any(set(line) - blank for line in lines[1:]):
        return None
    return headers, delimiter


def load_raw(con: duckdb.DuckDBPyConnection, raw: RawTable) -> None:
    """Put the file's records into the temp table (or view) `raw_rows`: `c0`.. text ('' for
    empty) in header order, and `_row`. Run outside a transaction: a file DuckDB's reader refuses
    goes to the Python reader (which may refuse it: FileRefused)."""
    drop_raw(con)
    width = len(raw.headers)
    if raw.frame is None:
        columns = "{" + ", ".join(f"'{raw_column(i)}': 'varchar'" for i in range(width)) + "}"
        cells = ", ".join(f"coalesce({raw_column(i)}, '') as {raw_column(i)}" for i in range(width))
        blank = " and ".join(f"regexp_full_match(coalesce({raw_column(i)}, ''), '{_BLANK}')" for i in range(width))
        try:
            con.execute(
                f"""create temp table raw_file as
                    select {cells} from read_csv($path, delim = $delimiter, quote = '"', escape = '"',
                        header = false, skip = 1, auto_detect = false, strict_mode = true,
                        null_padding = false, columns = {columns})""",
                {"path": str(raw.path), "delimiter": raw.delimiter},
            )
            blank_rows, records = con.execute(f"select count(*) filter ({blank}), count(*) from raw_file").fetchone()
            if blank_rows == 0 and records > 0:
                con.execute("create temp view raw_rows as select *, rowid + 1 as _row from raw_file")
                raw.loaded = records
                return
        except duckdb.Error:
            pass
        drop_raw(con)
        headers, numbers, rows, malformed = _read_csv(raw.path, raw.max_bytes)
        raw.frame = _frame(raw.path, raw.headers, numbers, rows, malformed)
        raw.malformed = malformed
    frame = raw.frame.set_axis([raw_column(i) for i in range(width)] + ["_row"], axis=1)
    con.register("raw_frame", frame)
    try:
        con.execute("create temp table raw_file as select * from raw_frame")
    finally:
        con.unregister("raw_frame")
    con.execute("create temp view raw_rows as select * from raw_file")
    raw.loaded = len(raw.frame)


def drop_raw(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("drop view if exists raw_rows")
    con.execute("drop table if exists raw_file")


def py_strip(column: str) -> str:
    """SQL for Python's str.strip() of `column` (an identifier from code): whitespace and Unicode
    separators off both ends (DuckDB's trim() takes spaces only)."""
    return f"regexp_replace({column}, '{STRIP}', '', 'g')"


STRIP = r"^[\s\pZ\x{1c}-\x{1f}\x{85}]+|[\s\pZ\x{1c}-\x{1f}\x{85}]+$"


# what Python's str.strip() takes away (whitespace, Unicode separators): a cell of only these is blank
_BLANK = r"[\s\pZ\x{1c}-\x{1f}\x{85}]*"


def _read_csv(path: Path, max_bytes: int) -> tuple[list[str], list[int], list[list[str]], list[dict]]:
    """(headers, record numbers, rows, malformed records) of a CSV file."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a UTF-8 byte-order mark is dropped, not kept in a header
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRefused(
            f"{path.name}: not UTF-8 (byte 0x{data[exc.start]:02x} on line {line}); "
            "export it again as UTF-8 (KoboToolbox and ODK Central always write UTF-8; "
            "in Excel use 'CSV UTF-8')"
        ) from None
    if not text.strip():
        raise FileRefused(f"{path.name}: the file is empty")
    # a field can be as long as the file (which is under the size cap): long comments import whole
    if csv.field_size_limit() < max_bytes:
        csv.field_size_limit(max_bytes)
    lines = io.StringIO(text, newline="").readlines()  # splits on \n, \r\n, \r only
    start = next(i for i, line in enumerate(lines) if line.strip())
    delimiter = max([";", ",", "\t"], key=lambda d: len(_first_cells(lines[start], d)))
    feed = _LineFeed(lines, start)
    try:
        headers = [h.strip() for h in next(csv.reader(feed, delimiter=delimiter, strict=True))]
    except csv.Error as exc:
        raise FileRefused(f"{path.name}: the header row cannot be read as CSV ({exc})") from None
    numbers, rows, malformed = [], [], []
    for line, row, reason in _records(lines, delimiter, feed.taken, len(headers)):
        if row is not None and not any(cell.strip() for cell in row):
            continue  # a blank line is not a record
        number = len(numbers) + len(malformed) + 1
        if row is None:
            malformed.append({"row": number, "line": line, "detail": reason})
        else:
            numbers.append(number)
            rows.append(row)
    return headers, numbers, rows, malformed


def _first_cells(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter))
    except (csv.Error, StopIteration):
        return []


class _LineFeed:
    """The file's lines from `start`, counting how many the csv reader has taken."""

    def __init__(self, lines: list[str], start: int):
        self.lines, self.taken = lines, start

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self.taken >= len(self.lines):
            raise StopIteration
        self.taken += 1
        return self.lines[self.taken - 1]


def _records(lines: list[str], delimiter: str, start: int, width: int):
    """Yield (line number, cells, reason) per physical record from line index `start`; cells None
    when the record starting on that line cannot be split cleanly: strict parsing stops at an
    unclosed quote (end of file inside quotes) or at text after a closing quote, and a record
    spanning lines must come out with the header's `width` cells (a closed multi-line comment
    does; a stray quote that swallowed the next lines usually does not). The bad record's first
    line is then given up and reading resumes on the next line, so one bad quote costs one
    record, never the records after it."""
    while start < len(lines):
        feed = _LineFeed(lines, start)
        reader = csv.reader(feed, delimiter=delimiter, strict=True)
        while True:
            first = feed.taken
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield first + 1, None, f"line {first + 1} cannot be split into cells ({exc}; an unclosed quote?)"
                break
            if feed.taken - first > 1 and not _fits(row, width):
                yield first + 1, None, (
                    f"line {first + 1} starts a quoted field that runs over {feed.taken - first} lines and "
                    f"leaves {len(row)} cells where the header has {width} (an unclosed quote?)")
                break
            yield first + 1, row, ""
        start = first + 1


def _fits(row: list[str], width: int) -> bool:
    """The record has the header's cells (extra cells only if empty)."""
    return len(row) == width or (len(row) > width and not any(c.strip() for c in row[width:]))


def _read_xlsx(path: Path, max_bytes: int, cap_name: str) -> tuple[list[str], list[list[str]]]:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise FileRefused(f"{path.name}: not a readable XLSX file ({exc})") from None
    if unpacked > max_bytes:
        raise FileRefused(
            f"{path.name}: unpacks to {unpacked / 1e6:.3g} MB, over the size cap of "
            f"{max_bytes / 1e6:g} MB ({cap_name}); refused before parsing"
        )
    if "xl/workbook.xml" not in names:
        raise FileRefused(f"{path.name}: a zip file but not an XLSX workbook")
    try:
        declared = _xml_declarations(path)
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:  # damaged or encrypted parts
        raise FileRefused(f"{path.name}: not a readable XLSX file ({exc})") from None
    if declared:
        raise FileRefused(f"{path.name}: {declared}")
    import openpyxl  # local: only XLSX paths pay for it

    try:
        import defusedxml  # noqa: F401  (openpyxl parses through it when present)
    except ImportError:  # pragma: no cover - it is in requirements.txt
        raise FileRefused("defusedxml is not installed; XLSX files are refused without it") from None
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged or hostile files
        raise FileRefused(f"{path.name}: {_xlsx_problem(exc)}") from None
    try:
        sheet = workbook.worksheets[0]
        rows = [[_cell_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    except Exception as exc:  # read-only sheets are parsed lazily, so hostile XML surfaces here
        raise FileRefused(f"{path.name}: {_xlsx_problem(exc)}") from None
    finally:
        workbook.close()
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise FileRefused(f"{path.name}: the first sheet is empty")
    headers = [h.strip() for h in rows[0]]
    while headers and not headers[-1]:
        headers.pop()
    return headers, rows[1:]


_DECLARATIONS = [marker.encode(encoding) for marker in ("<!DOCTYPE", "<!ENTITY")
                 for encoding in ("utf-8", "utf-16-le", "utf-16-be")]
ENTITY_REFUSAL = ("{part} holds an XML DOCTYPE/ENTITY declaration; spreadsheets from KoboToolbox, ODK "
                  "and Excel never do, and entity expansion can exhaust memory, so the file is refused "
                  "unparsed (save it again from Excel, or export it again from the server)")


def _xml_declarations(path: Path) -> str | None:
    """Scan every XML part (its unpacked size already checked against the cap) for a DOCTYPE or
    ENTITY declaration, before any XML is parsed. defusedxml (through openpyxl) is the second line."""
    overlap = max(len(marker) for marker in _DECLARATIONS)
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith((".xml", ".rels", ".vml")):
                continue
            tail = b""
            with archive.open(info) as part:
                for block in iter(lambda: part.read(1 << 20), b""):
                    window = tail + block
                    if any(marker in window.upper() for marker in _DECLARATIONS):
                        return ENTITY_REFUSAL.format(part=info.filename)
                    tail = window[-overlap:]
    return None


def _xlsx_problem(exc: BaseException) -> str:
    """A clear reason for a workbook openpyxl could not read (defusedxml's refusals named)."""
    chain, seen = exc, set()
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        if type(chain).__module__.startswith("defusedxml"):
            return ENTITY_REFUSAL.format(part="a part of the workbook") + f" ({type(chain).__name__})"
        chain = chain.__cause__ or chain.__context__
    return f"not a readable XLSX file ({type(exc).__name__}: {exc})"


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
