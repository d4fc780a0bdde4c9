"""Read an export file into a table of strings and tell what kind of file it is.

Everything is read as text ("" for empty), so validation can quote exactly what the file held.
Refusals (`FileRefused`) happen before anything is written: file too large (also an XLSX whose
unpacked parts exceed the cap, checked from the zip directory before any XML is parsed), not
UTF-8, duplicate headers, empty file (0 bytes, or a header row and no data rows), unknown kind.
An XLSX whose XML declares a DOCTYPE or entities is refused by a byte scan before parsing, and
XML is parsed through defusedxml (openpyxl uses it when installed) as a second line of defence.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

# the kinds of file and how each is detected: ingest/kinds.py


class FileRefused(Exception):
    """The whole file is refused; the message says why. Nothing is written."""


@dataclass
class RawTable:
    path: Path
    sha256: str
    headers: list[str]
    frame: pd.DataFrame  # all str, columns as in the file, plus `_row` (1-based data row)
    file_format: str  # csv | xlsx


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_table(path: str | Path, max_bytes: int) -> RawTable:
    path = Path(path)
    if not path.is_file():
        raise FileRefused(f"{path}: no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise FileRefused(f"{path.name}: {size / 1e6:.3g} MB is over the size cap of {max_bytes / 1e6:g} MB (thresholds.max_file_mb)")
    if size == 0:
        raise FileRefused(f"{path.name}: the file is empty")
    digest = sha256_of(path)
    if zipfile.is_zipfile(path):
        headers, rows = _read_xlsx(path, max_bytes)
        file_format = "xlsx"
    else:
        headers, rows = _read_csv(path)
        file_format = "csv"
    if not headers or all(not h.strip() for h in headers):
        raise FileRefused(f"{path.name}: the file has no header row")
    seen: dict[str, int] = {}
    for index, header in enumerate(headers, start=1):
        if header in seen:
            raise FileRefused(f"{path.name}: duplicate header {header!r} in columns {seen[header]} and {index}")
        seen[header] = index
    if not rows:
        raise FileRefused(f"{path.name}: the file has a header row but no data rows (an export with no submissions?)")
    width = len(headers)
    for number, row in enumerate(rows, start=1):
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            raise FileRefused(f"{path.name}: row {number} has {len(row)} cells but the header has {width}")
    rows = [(row + [""] * width)[:width] for row in rows]
    frame = pd.DataFrame(rows, columns=headers, dtype="string").fillna("")
    frame = frame.astype(object)
    frame["_row"] = range(1, len(frame) + 1)
    return RawTable(path=path, sha256=digest, headers=headers, frame=frame, file_format=file_format)


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
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
    first_line = text.splitlines()[0]
    delimiter = max([";", ",", "\t"], key=lambda d: len(next(csv.reader([first_line], delimiter=d))))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        rows = [row for row in reader]
    except csv.Error as exc:
        raise FileRefused(f"{path.name}: not a readable CSV file ({exc})") from None
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise FileRefused(f"{path.name}: the file is empty")
    return [h.strip() for h in rows[0]], rows[1:]


def _read_xlsx(path: Path, max_bytes: int) -> tuple[list[str], list[list[str]]]:
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except zipfile.BadZipFile as exc:
        raise FileRefused(f"{path.name}: not a readable XLSX file ({exc})") from None
    if unpacked > max_bytes:
        raise FileRefused(
            f"{path.name}: unpacks to {unpacked / 1e6:.3g} MB, over the size cap of "
            f"{max_bytes / 1e6:g} MB (thresholds.max_file_mb); refused before parsing"
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
