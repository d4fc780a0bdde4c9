"""Helpers for the bad-input and fault tests: database snapshots (to count rows lost), hand-made
XLSX files (a zip bomb, entity declarations), and the real `python -m ingest` made to pause at a
chosen point of its transaction, so a test can SIGKILL it exactly there or hold the lock.

    python tests/fault_helpers.py pause POINT MARKER_DIR -- [python -m ingest arguments]

POINT is `begin` (transaction open, nothing written), `commit` (every write done, not committed)
or `checkpoint` (committed, not yet checkpointed); the process touches MARKER_DIR/<point> at
every point it reaches, and at POINT waits until MARKER_DIR/release exists (at most 30 s), then
goes on as usual.
"""
from __future__ import annotations

import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# table -> key columns; the rest of the row (minus run and clock columns) is its content
KEYS = {
    "schools": ["school_id"],
    "teachers": ["teacher_key"],
    "visits": ["submission_id"],
    "visit_practices": ["submission_id", "practice"],
    "visit_hindrances": ["submission_id", "hindrance"],
    "cop_meetings": ["meeting_key"],
    "quarantine": ["source_sha256", "row_number", "column_name", "rule"],
}
VOLATILE = {"run_id", "quarantined_at"}


def snapshot(db_path) -> dict[str, dict[tuple, tuple]]:
    """Every stored row by table, as {key: content}; the ledger is left out (it only grows)."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        tables = {}
        for table, keys in KEYS.items():
            columns = [c for c, in con.execute(
                "select column_name from information_schema.columns where table_name = ? order by ordinal_position",
                [table]).fetchall() if c not in VOLATILE]
            rows = con.execute(f"select {', '.join(columns)} from {table}").fetchall()
            index = [columns.index(k) for k in keys]
            tables[table] = {tuple(row[i] for i in index): tuple(row) for row in rows}
        return tables
    finally:
        con.close()


def rows_lost(before: dict, after: dict, tables=None) -> int:
    """Stored rows (by key) of `before` that `after` no longer holds."""
    return sum(len(set(before[t]) - set(after[t])) for t in (tables or before))


def rows_changed(before: dict, after: dict, tables=None) -> dict[str, list[tuple]]:
    """Keys present in both snapshots whose stored content differs."""
    changed = {}
    for t in tables or before:
        keys = [k for k in before[t] if k in after[t] and before[t][k] != after[t][k]]
        if keys:
            changed[t] = keys
    return changed


def state(db_path) -> dict:
    """Row counts of every table and checksums of the visits and their scores (run ids excluded)."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0]
                  for t in list(KEYS) + ["import_ledger"]}
        visits_sum = con.execute(
            """select coalesce(md5(string_agg(submission_id || '|' || instance_id || '|' || content_hash
                                              || '|' || source_file || '|' || source_row, ',' order by submission_id)), '')
               from visits""").fetchone()[0]
        scores_sum = con.execute(
            """select coalesce(md5(string_agg(submission_id || '|' || practice || '|' || coalesce(score::varchar, 'na'),
                                              ',' order by submission_id, practice)), '')
               from visit_practices""").fetchone()[0]
        return {"counts": counts, "visits_md5": visits_sum, "scores_md5": scores_sum}
    finally:
        con.close()


def without_ledger(s: dict) -> dict:
    return {"counts": {k: v for k, v in s["counts"].items() if k != "import_ledger"},
            "visits_md5": s["visits_md5"], "scores_md5": s["scores_md5"]}


# -- files ---------------------------------------------------------------------------------------
def _cell_ref(col: int, row: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row}"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_xlsx(path: Path, rows: list[list[str]], sheet_prolog: str = "", strings_prolog: str = "",
               filler_bytes: int = 0, raw_cells: dict[tuple[int, int], str] | None = None,
               raw_part: str = "sharedStrings") -> Path:
    """A minimal XLSX written by hand (as Excel does: text in xl/sharedStrings.xml). `*_prolog` is
    put before the root element of that part (for DOCTYPE/ENTITY declarations); `filler_bytes`
    adds that much whitespace inside the sheet's XML (valid XML that compresses to almost nothing);
    `raw_cells` {(row, col): inner XML} replaces a cell's string with raw XML (e.g. `&lol9;`), in
    the shared strings or, with raw_part="sheet", as an inline string in the sheet."""
    raw_cells = raw_cells or {}
    strings: list[str] = []
    index: dict[str, int] = {}
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = _cell_ref(c, r)
            if (r, c) in raw_cells and raw_part == "sheet":
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{raw_cells[(r, c)]}</t></is></c>')
                continue
            if (r, c) in raw_cells:
                key = f"\0raw{r},{c}"
                index[key] = len(strings)
                strings.append(raw_cells[(r, c)])
                cells.append(f'<c r="{ref}" t="s"><v>{index[key]}</v></c>')
                continue
            if value not in index:
                index[value] = len(strings)
                strings.append(_escape(value))
            cells.append(f'<c r="{ref}" t="s"><v>{index[value]}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    padding = " " * filler_bytes
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
            '</Types>'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'),
        "xl/worksheets/sheet1.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{sheet_prolog}'
            f'<worksheet xmlns="{main}"><sheetData>{"".join(sheet_rows)}{padding}</sheetData></worksheet>'),
        "xl/sharedStrings.xml": (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{strings_prolog}'
            f'<sst xmlns="{main}" count="{len(strings)}" uniqueCount="{len(strings)}">'
            + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>"),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text.encode("utf-8"))
    return path


BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">' for i in range(1, 10))
    + "]>"
)


# -- an ingest that pauses inside its transaction --------------------------------------------------
def _paused_ingest(point: str, marker_dir: str, argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    import ingest.core as core
    from ingest.__main__ import main

    markers = Path(marker_dir)
    real_open = core.open_for_writing

    def reached(name: str) -> None:
        (markers / name).write_text(str(time.time()))
        if name == point:
            deadline = time.monotonic() + 30
            while not (markers / "release").exists() and time.monotonic() < deadline:
                time.sleep(0.02)

    class Connection:
        def __init__(self, con):
            self._con = con

        def __getattr__(self, name):
            return getattr(self._con, name)

        def execute(self, sql, *args, **kwargs):
            statement = sql.strip().lower() if isinstance(sql, str) else ""
            if statement == "commit":
                reached("commit")
            elif statement.startswith("insert into person_period"):
                # rows of the file are written, the analysis model is being rebuilt: mid-transaction
                reached("writing")
            result = self._con.execute(sql, *args, **kwargs)
            if statement == "begin transaction":
                reached("begin")
            elif statement == "commit":
                reached("checkpoint")
            return result

    core.open_for_writing = lambda *a, **k: Connection(real_open(*a, **k))
    return main(argv)


if __name__ == "__main__":
    if len(sys.argv) > 4 and sys.argv[1] == "pause" and sys.argv[4] == "--":
        sys.exit(_paused_ingest(sys.argv[2], sys.argv[3], sys.argv[5:]))
    sys.exit(__doc__)
