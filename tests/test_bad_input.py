"""Bad input (issue 5): each input gets a clear message naming the file, row and column (a
quarantined row: row number, column, value, rule; a refused file: the reason), and nothing already
stored is lost. Every test starts from the same good baseline (roster, a Kobo and an ODK export),
imports the bad input through the real ingest, and compares every stored row before and after.
The last test writes the table "input | what happened | rows lost" (rows lost computed)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil

import duckdb
import openpyxl
import pytest

from fault_helpers import BILLION_LAUGHS, rows_changed, rows_lost, snapshot, write_xlsx
from support import (ROOT_DIR, kobo_header, kobo_row, teacher, visit, write_config, write_kobo, write_odk,
                     write_roster)
from sustain.config import load_config
from sustain.pseudonym import shown_id, teacher_key

TEACHERS = [teacher("T1", "S1"), teacher("T2", "S1"),
            teacher("T3", "S2", cluster="SAN-C1", district="Sanghar", programme="CBT")]
GOOD = {"group_work": "3", "questioning": "2", "teaching_aids": "na", "lesson_planning": "4"}
BASE_KOBO = [visit("b1", "T1", "S1", 0, scores=GOOD, hindrances="low_pay"),
             visit("b2", "T2", "S1", 0, scores=GOOD, comments="baseline"),
             visit("b3", "T1", "S1", 3, scores={"group_work": "2", "questioning": "3"})]
BASE_ODK = [visit("o1", "T3", "S2", 0, programme="CBT", scores=GOOD, district="Sanghar", cluster="SAN-C1")]
OBS = dict(scores=GOOD)

RESULTS: list[dict] = []  # filled by the tests, printed by the last one


@pytest.fixture(scope="module")
def baseline_db(tmp_path_factory):
    folder = tmp_path_factory.mktemp("baseline")
    config = load_config(write_config(folder, **{"thresholds.min_group_n": 1}))
    from ingest import ingest_files

    files = [write_roster(folder / "roster.csv", TEACHERS), write_kobo(folder / "base_kobo.csv", BASE_KOBO),
             write_odk(folder / "base_odk.csv", BASE_ODK)]
    result = ingest_files(files, config)
    assert result.ok and [f.inserted for f in result.files] == [3, 3, 1]
    return folder


@pytest.fixture(scope="module")
def baseline_rows(baseline_db):
    """Every stored row of the baseline (`snapshot`), read once: each test's database starts as a
    byte copy of it."""
    return snapshot(baseline_db / "sustain.duckdb")


@pytest.fixture
def base(tmp_path, baseline_db, baseline_rows):
    """The good baseline in this test's own database; `base.config(**changes)` for other settings."""
    class Base:
        folder = baseline_db
        kobo = baseline_db / "base_kobo.csv"

        @staticmethod
        def config(**changes):
            return load_config(write_config(tmp_path, **({"thresholds.min_group_n": 1} | changes)))

    shutil.copy(baseline_db / "sustain.duckdb", tmp_path / "sustain.duckdb")
    Base.db = tmp_path / "sustain.duckdb"
    Base.before = baseline_rows
    return Base


# English words of the two long refusals; names, keys, dates, settings and commands are kept as written
ENGLISH_OF_REFUSALS = re.compile(r"\b(the|teachers?|salt|roster|programme|nothing|written|visits?|moves|more|"
                                 r"deliberate|database|month|reinterpreted)\b", re.IGNORECASE)


def assert_read_in_urdu(message: str, file: str) -> None:
    """The Data page shows an import's refusal in Urdu (issue 13, item 14): read back through the
    catalogue's templates (sustain/messages.py import_words), no English word is left."""
    from sustain import messages

    with messages.using_language("ur"):
        shown = messages.import_words(message, file)
    assert not ENGLISH_OF_REFUSALS.search(shown.replace(file, "")), shown


def ingest(config, *files):
    from ingest import ingest_files

    return ingest_files(list(files), config)


def happened(summary) -> str:
    if summary.refused:
        return "refused: " + summary.refused.split(": ", 1)[-1]
    text = (f"{summary.rows} read: {summary.inserted} inserted, {summary.updated} updated, "
            f"{summary.unchanged} unchanged, {summary.quarantined} quarantined")
    if summary.changes:
        text += f" (changed: {'; '.join(summary.changes)})"
    shown = [f"row {p['row']} `{p['column']}`={p['value']!r} {p['rule']}" for p in summary.problems[:3]]
    more = f" (+{len(summary.problems) - 3} more)" if len(summary.problems) > 3 else ""
    return text + (f" ({'; '.join(shown)}{more})" if shown else "")


def record(label: str, base, *summaries, expect_changed: dict | None = None) -> int:
    """Compare every stored row with the baseline: rows lost (computed) and rows changed (only those
    the input is meant to change, e.g. an edit); then record the row of the closing table."""
    after = snapshot(base.db)
    lost = rows_lost(base.before, after)
    assert rows_changed(base.before, after) == (expect_changed or {}), "baseline rows changed"
    RESULTS.append({"input": label, "happened": " / ".join(happened(s) for s in summaries), "lost": lost})
    assert lost == 0
    return lost


def problems(summary) -> set[tuple]:
    return {(p["row"], p["column"], p["value"], p["rule"]) for p in summary.problems}


def stored(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


# -- identity -------------------------------------------------------------------------------------
def test_same_file_twice(base):
    config = base.config()
    again = ingest(config, base.kobo).files[0]
    assert (again.rows, again.inserted, again.updated, again.unchanged, again.quarantined) == (3, 0, 0, 3, 0)
    copy = shutil.copy(base.kobo, base.db.parent / "kobo_renamed_copy.csv")
    twice = ingest(config, copy, copy).files
    assert [(f.inserted, f.unchanged, f.refused) for f in twice] == [(0, 3, None), (0, 3, None)]
    record("same file twice (again, as a renamed copy, twice in one command)", base, again, *twice)


def test_overlapping_exports(base, tmp_path):
    overlap = write_kobo(tmp_path / "overlap.csv", BASE_KOBO[1:] + [visit("n1", "T2", "S1", 3, **OBS)])
    summary = ingest(base.config(), overlap).files[0]
    assert (summary.inserted, summary.unchanged, summary.quarantined) == (1, 2, 0)
    assert stored(base.db, "select count(*) from visits") == [(5,)]
    record("overlapping exports (2 submissions shared)", base, summary)


def test_row_without_instance_id(base, tmp_path):
    path = write_kobo(tmp_path / "no_id.csv", [visit("n1", "T2", "S1", 3, **OBS), visit("", "T2", "S1", 6, **OBS)])
    summary = ingest(base.config(), path).files[0]
    assert problems(summary) == {(2, "instance_id", "", "missing_instance_id")}
    assert summary.inserted == 1
    assert stored(base.db, "select source_file, row_number, column_name, rule from quarantine") == [
        ("no_id.csv", 2, "instance_id", "missing_instance_id")]
    record("a row without an instance id", base, summary)


def test_edited_submission_replaces_the_earlier_version(base, tmp_path):
    edited = visit("b1-edit", "T1", "S1", 0, root="b1", scores=GOOD | {"group_work": "4"}, hindrances="low_pay",
                   end_time="2024-02-01T10:00:00.000+05:00")
    summary = ingest(base.config(), write_kobo(tmp_path / "edited.csv", [edited])).files[0]
    assert (summary.inserted, summary.updated, summary.quarantined) == (0, 1, 0)
    assert stored(base.db, "select instance_id from visits where submission_id = 'b1'") == [("b1-edit",)]
    assert stored(base.db, "select score from visit_practices where submission_id = 'b1' and practice = 'group_work'") == [(4,)]
    # the edit is the only change: the visit and that one score, nothing else touched or lost
    record("an edited submission (meta/rootUuid = earlier instance)", base, summary,
           expect_changed={"visits": [("b1",)], "visit_practices": [("b1", "group_work")]})


def test_same_id_different_content_without_edit_marker(base, tmp_path):
    clash = visit("b2", "T2", "S1", 0, scores=GOOD | {"group_work": "1"}, comments="baseline")
    summary = ingest(base.config(), write_kobo(tmp_path / "clash.csv", [clash])).files[0]
    assert problems(summary) == {(1, "instance_id", "b2", "conflict_no_edit_marker")}
    assert "base_kobo.csv row 2" in summary.problems[0]["detail"]
    assert summary.updated == 0
    record("same id, different content, no edit marker", base, summary)


# -- file-level refusals --------------------------------------------------------------------------
def _kobo_text(rows, header=None, drop: str | None = None) -> str:
    """A Kobo CSV export as text; `header` renames columns, `drop` leaves one column out."""
    header = header or kobo_header()
    keep = [i for i, h in enumerate(kobo_header()) if h != drop]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow([header[i] for i in keep])
    for index, v in enumerate(rows, start=1):
        cells = kobo_row(v, index)
        writer.writerow([cells[i] for i in keep])
    return out.getvalue()


def test_required_column_missing_or_renamed(base, tmp_path):
    rows = [visit("n1", "T2", "S1", 3, **OBS)]
    missing = tmp_path / "missing.csv"
    missing.write_text(_kobo_text(rows, drop="teacher/teacher_id"), encoding="utf-8")
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(_kobo_text(rows, [h.replace("teacher/teacher_id", "teacher/teacher_code") for h in kobo_header()]),
                       encoding="utf-8")
    refused = ingest(base.config(), missing, renamed).files
    for summary, name in zip(refused, ["missing.csv", "renamed.csv"]):
        assert summary.refused.startswith(f"{name}: required column(s) missing: teacher_id")
        assert "sources.kobo.columns" in summary.refused  # says how to map a renamed column
    mapped = ingest(base.config(**{"sources.kobo.columns": {"teacher/teacher_code": "teacher_id"}}), renamed).files[0]
    assert (mapped.inserted, mapped.refused) == (1, None)
    record("a required column missing / renamed (then mapped in config)", base, *refused, mapped)


def test_duplicate_headers(base, tmp_path):
    header = kobo_header()
    header[header.index("context/cop_active")] = "comments"
    path = tmp_path / "dup.csv"
    path.write_text(_kobo_text([visit("n1", "T2", "S1", 3, **OBS)], header), encoding="utf-8")
    summary = ingest(base.config(), path).files[0]
    first, second = header.index("comments") + 1, len(header) - header[::-1].index("comments")
    assert summary.refused == f"dup.csv: duplicate header 'comments' in columns {first} and {second}"
    record("duplicate headers", base, summary)


def test_utf8_byte_order_mark(base, tmp_path):
    plain = write_odk(tmp_path / "plain.csv", [visit("n1", "T3", "S2", 3, programme="CBT", district="Sanghar",
                                                     cluster="SAN-C1", comments="ٹیسٹ", **OBS)])
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    summary = ingest(base.config(), bom).files[0]
    assert (summary.kind, summary.inserted, summary.quarantined) == ("odk", 1, 0)
    # the first header (SubmissionDate) was read without the mark: its value reached the database
    assert stored(base.db, "select submitted_at, comments from visits where submission_id = 'n1'") == [
        ("2024-01-02T00:00:00.000Z", "ٹیسٹ")]
    record("a UTF-8 byte-order mark (ODK CSV)", base, summary)


def test_windows_1252_is_refused_with_how_to_fix(base, tmp_path):
    text = _kobo_text([visit("n1", "T2", "S1", 3, comments="Naïve café – “quoted”", **OBS)])
    path = tmp_path / "excel_ansi.csv"
    path.write_bytes(text.encode("cp1252"))
    summary = ingest(base.config(), path).files[0]
    assert summary.refused.startswith("excel_ansi.csv: not UTF-8 (byte 0xef on line 2)")
    assert "export it again as UTF-8" in summary.refused and "CSV UTF-8" in summary.refused
    every_text = " ".join(str(v) for table in snapshot(base.db).values() for row in table.values() for v in row)
    assert not any(mark in every_text for mark in ("Ã", "â€", "\ufffd", "Naïve", "Na\xefve"))
    record("a Windows-1252 file", base, summary)


URDU = "استاد نے گروپ ورک کروایا۔ بچّوں نے سوال پوچھے، ۱۲ میں سے ۹\u200c حاضر \u200fٹھیک ہے"


def test_urdu_text_is_byte_identical_after_load_and_export(base, tmp_path):
    from report.exports import to_csv_bytes

    path = write_kobo(tmp_path / "urdu.csv", [visit("u1", "T2", "S1", 3, comments=URDU, **OBS)])
    original = URDU.encode("utf-8")
    assert original in path.read_bytes()
    summary = ingest(base.config(), path).files[0]
    assert summary.inserted == 1
    (comment,) = stored(base.db, "select comments from visits where submission_id = 'u1'")[0]
    assert comment.encode("utf-8") == original
    con = duckdb.connect(str(base.db), read_only=True)
    try:
        frame = con.execute("select submission_id, comments from visits where submission_id = 'u1'").df()
    finally:
        con.close()
    exported = to_csv_bytes(frame)
    assert exported == b"submission_id,comments\r\nu1," + original + b"\r\n"
    record("Urdu text (stored and CSV-exported byte for byte)", base, summary)


# -- row-level problems ---------------------------------------------------------------------------
def test_ambiguous_and_impossible_dates(base, tmp_path):
    dates = ["2024-02-31", "31/02/2024", "03/04/2024", "45291", "2024-04-03"]
    rows = [visit(f"d{i}", "T2", "S1", 3, visit_date=d, **OBS) for i, d in enumerate(dates, start=1)]
    path = write_kobo(tmp_path / "dates.csv", rows)
    declared_iso = ingest(base.config(), path).files[0]
    assert problems(declared_iso) == {
        (1, "visit_date", "2024-02-31", "impossible_date"),  # the declared shape, a day that does not exist
        (2, "visit_date", "31/02/2024", "bad_date"),  # not in a declared format: never guessed
        (3, "visit_date", "03/04/2024", "bad_date"),
        (4, "visit_date", "45291", "bad_date"),  # an Excel serial number
    }
    assert "%Y-%m-%d" in declared_iso.problems[0]["detail"]
    assert stored(base.db, "select visit_date from visits where submission_id like 'd%'") == [(dt.date(2024, 4, 3),)]

    # with day/month/year declared, 03/04/2024 is 3 April; 31/02 is impossible; 45291 still no date
    dmy = base.config(**{"sources.kobo.date_formats": ["%Y-%m-%d", "%d/%m/%Y"]})
    declared_dmy = ingest(dmy, path).files[0]
    assert problems(declared_dmy) == {
        (1, "visit_date", "2024-02-31", "impossible_date"), (2, "visit_date", "31/02/2024", "impossible_date"),
        (4, "visit_date", "45291", "bad_date")}
    assert stored(base.db, "select visit_date from visits where submission_id = 'd3'") == [(dt.date(2024, 4, 3),)]

    # an XLSX: a real date cell is read by its value, a number in the date column is quarantined
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(kobo_header())
    date_column = kobo_header().index("visit/visit_date")
    for index, (uid, value) in enumerate([("x1", dt.datetime(2024, 4, 3)), ("x2", 45291)], start=1):
        row = kobo_row(visit(uid, "T2", "S1", 3, **OBS), index)
        row[date_column] = value
        sheet.append(row)
    xlsx = tmp_path / "dates.xlsx"
    workbook.save(xlsx)
    from_xlsx = ingest(base.config(), xlsx).files[0]
    assert problems(from_xlsx) == {(2, "visit_date", "45291", "bad_date")}
    assert stored(base.db, "select visit_date from visits where submission_id = 'x1'") == [(dt.date(2024, 4, 3),)]
    record("ambiguous / impossible dates: 31/02, 03/04/2024 under %Y-%m-%d, Excel serial 45291 (CSV, XLSX); "
           "then %d/%m/%Y declared", base, declared_iso, declared_dmy, from_xlsx)


def test_unknown_option_codes_and_out_of_range_scores(base, tmp_path):
    rows = [visit("q1", "T2", "S1", 3, hindrances="low_pay flood", **OBS),
            visit("q2", "T2", "S1", 3, cop_active="maybe", **OBS),
            visit("q3", "T2", "S1", 3, status="retired", **OBS),
            visit("q4", "T2", "S1", 3, scores={"group_work": "5"}),
            visit("q5", "T2", "S1", 3, scores={"questioning": "0"}),
            visit("q6", "T2", "S1", 3, scores={"teaching_aids": "-1"}),
            visit("q7", "T2", "S1", 3, scores={"lesson_planning": "3.5"}),
            visit("q8", "T2", "S1", 3, scores={"group_work": "1e1"}),  # DuckDB alone would read 10
            visit("q9", "T2", "S1", 3, cop_meetings="2.5"),
            visit("q10", "T2", "S1", 3, scores={"peer_feedback": "NA"})]  # `na` in any case is allowed
    summary = ingest(base.config(), write_kobo(tmp_path / "options.csv", rows)).files[0]
    assert problems(summary) == {
        (1, "hindrances", "low_pay flood", "unknown_option"), (2, "cop_active", "maybe", "unknown_option"),
        (3, "teacher_status", "retired", "bad_status"), (4, "group_work", "5", "bad_score"),
        (5, "questioning", "0", "bad_score"), (6, "teaching_aids", "-1", "bad_score"),
        (7, "lesson_planning", "3.5", "bad_score"), (8, "group_work", "1e1", "bad_score"),
        (9, "cop_meetings_3m", "2.5", "bad_integer")}
    assert "flood" in summary.problems[0]["detail"]
    assert summary.inserted == 1
    record("unknown option codes and out-of-range scores", base, summary)


def test_district_school_or_teacher_not_in_roster(base, tmp_path):
    rows = [visit("r1", "T2", "S1", 3, district="Atlantis", **OBS), visit("r2", "T2", "S404", 3, **OBS),
            visit("r3", "T404", "S1", 3, **OBS)]
    summary = ingest(base.config(), write_kobo(tmp_path / "roster_miss.csv", rows)).files[0]
    assert problems(summary) == {(1, "district", "Atlantis", "school_not_in_district"),
                                 (2, "school_id", "S404", "unknown_school"),
                                 (3, "teacher_id", shown_id("test-salt", "T404"), "unknown_teacher")}
    assert summary.inserted == 0
    assert stored(base.db, "select count(*) from schools where school_id = 'S404'") == [(0,)]  # never guessed
    record("a district, school or teacher not in the roster", base, summary)


def test_empty_file(base, tmp_path):
    zero = tmp_path / "zero.csv"
    zero.write_bytes(b"")
    header_only = write_kobo(tmp_path / "header_only.csv", [])
    files = ingest(base.config(), zero, header_only).files
    assert files[0].refused == "zero.csv: the file is empty"
    assert files[1].refused.startswith("header_only.csv: the file has a header row but no data rows")
    record("an empty file (0 bytes; header only)", base, *files)


def test_file_over_the_size_cap(base, tmp_path):
    path = write_kobo(tmp_path / "big.csv", [visit(f"s{i}", "T2", "S1", 3, **OBS) for i in range(10)])
    summary = ingest(base.config(**{"thresholds.max_file_mb": 0.002}), path).files[0]
    assert summary.refused.startswith("big.csv: ") and "over the size cap of 0.002 MB (thresholds.max_file_mb)" in summary.refused
    record("a file over the size cap", base, summary)


def test_xlsx_that_expands_past_the_cap_is_refused_before_parsing(base, tmp_path, monkeypatch):
    rows = [kobo_header(), kobo_row(visit("z1", "T2", "S1", 3, **OBS), 1)]
    bomb = write_xlsx(tmp_path / "bomb.xlsx", rows, filler_bytes=20_000_000)
    assert bomb.stat().st_size < 100_000  # 20 MB of sheet XML in a file of a few KB

    def no_parsing(*args, **kwargs):
        raise AssertionError("the XLSX was parsed")
    monkeypatch.setattr(openpyxl, "load_workbook", no_parsing)
    summary = ingest(base.config(**{"thresholds.max_file_mb": 0.1}), bomb).files[0]
    assert summary.refused.startswith("bomb.xlsx: unpacks to 20 MB, over the size cap of 0.1 MB")
    assert summary.refused.endswith("refused before parsing")
    record("an XLSX that unpacks past the cap (20 MB of XML in a few KB)", base, summary)


@pytest.mark.parametrize("part", ["sheet", "sharedStrings"])
def test_xlsx_with_xml_entity_declarations_is_refused(base, tmp_path, monkeypatch, part):
    import ingest.read as read

    rows = [kobo_header(), kobo_row(visit("e1", "T2", "S1", 3, **OBS), 1)]
    comment = kobo_header().index("comments")
    hostile = write_xlsx(tmp_path / f"laughs_{part}.xlsx", rows, raw_cells={(2, comment): "&lol9;"}, raw_part=part,
                         **{("sheet_prolog" if part == "sheet" else "strings_prolog"): BILLION_LAUGHS})
    summaries = [ingest(base.config(), hostile).files[0]]
    member = "xl/worksheets/sheet1.xml" if part == "sheet" else "xl/sharedStrings.xml"
    assert summaries[0].refused.startswith(f"{hostile.name}: {member} holds an XML DOCTYPE/ENTITY declaration")
    # second line of defence: openpyxl parses through defusedxml, and its refusal is named too
    assert openpyxl.DEFUSEDXML is True
    monkeypatch.setattr(read, "_xml_declarations", lambda path: None)
    summaries.append(ingest(base.config(), hostile).files[0])
    assert "holds an XML DOCTYPE/ENTITY declaration" in summaries[1].refused
    assert summaries[1].refused.endswith("(EntitiesForbidden)")
    record(f"an XLSX with an XML entity declaration (billion laughs in {member}; pre-scan, then defusedxml)",
           base, *summaries)


def test_comment_with_script_is_stored_as_text(base, tmp_path):
    hostile = '<script>alert("x")</script> <img src=x onerror=alert(1)> &amp; </textarea>'
    path = write_kobo(tmp_path / "script.csv", [visit("h1", "T2", "S1", 3, comments=hostile, **OBS)])
    summary = ingest(base.config(), path).files[0]
    assert summary.inserted == 1
    (comment,) = stored(base.db, "select comments from visits where submission_id = 'h1'")[0]
    assert comment.encode("utf-8") == hostile.encode("utf-8")
    record("a comment containing <script> (stored byte-identical, as text)", base, summary)


def test_filter_value_with_sql_is_a_literal(base):
    from metrics import Filters
    from metrics.registry import INDICATORS

    retention = INDICATORS["retention"]
    config = base.config()
    con = duckdb.connect(str(base.db), read_only=True)
    try:
        assert not retention(con, Filters(), [], config).empty
        assert not retention(con, Filters(district=("Thatta",)), [], config).empty
        injected = retention(con, Filters(district=("x' OR 1=1 --",)), [], config)
        also = retention(con, Filters(school_id=("S1' OR '1'='1",), cluster=("'; drop table visits; --",)), [], config)
    finally:
        con.close()
    assert injected.empty and also.empty
    after = snapshot(base.db)
    RESULTS.append({"input": "a filter value like `x' OR 1=1 --` (retention)",
                    "happened": f"a literal: {len(injected)} rows; tables intact ({len(after['visits'])} visits)",
                    "lost": rows_lost(base.before, after)})
    assert rows_lost(base.before, after) == 0


def test_names_starting_with_formula_characters_are_stored_as_given(base, tmp_path):
    schools = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+SUM(A1:A9)", "-2+3", "@cmd|' /C calc'!A0"]
    teachers = ["=Ayesha Bibi", "+Sana Memon", "-Bilal Khan", "@Zainab Baloch"]
    roster = write_roster(tmp_path / "roster_formulas.csv", TEACHERS + [
        teacher(f"F{i}", f"SF{i}", name=name, school_name=school) for i, (name, school) in enumerate(zip(teachers, schools))])
    summary = ingest(base.config(), roster).files[0]
    assert (summary.inserted, summary.unchanged, summary.quarantined) == (4, 3, 0)
    assert stored(base.db, "select school_name from schools where school_id like 'SF%' order by school_id") == [
        (name,) for name in schools]  # as given; the leading quote is added on export, never stored
    every_text = " ".join(str(v) for table in snapshot(base.db).values() for row in table.values() for v in row)
    assert not any(name in every_text for name in teachers)  # teacher names are never stored
    record("a school or teacher name starting with = + - @ (roster)", base, summary)


# -- trust, round 2 (issue 9): teacher ids, salt, whole rows, history ------------------------------
def cli(config, *args) -> tuple[int, str]:
    """`python -m ingest` in this process (its real argument parsing, summary and exit code)."""
    from contextlib import redirect_stdout

    from ingest.__main__ import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--config", str(config.source_path), *map(str, args)])
    return code, out.getvalue()


def every_stored_text(db) -> str:
    con = duckdb.connect(str(db), read_only=True)
    try:
        texts = []
        for (table,) in con.execute("select table_name from information_schema.tables").fetchall():
            texts += [str(v) for row in con.execute(f'select * from "{table}"').fetchall() for v in row]
        return " ".join(texts)
    finally:
        con.close()


def test_raw_teacher_ids_are_never_stored_or_shown(base, tmp_path):
    config = base.config()
    roster = write_roster(tmp_path / "roster_dup.csv", TEACHERS + [teacher("SECRET-ID-77", "S1"),
                                                                   teacher("SECRET-ID-77", "S1")])
    visits = write_kobo(tmp_path / "unknown.csv", [visit("x1", "UNKNOWN-ID-99", "S1", 3, **OBS)])
    code, plain = cli(config, roster, visits)
    json_code, as_json = cli(config, "--json", "--dry-run", roster, visits)
    assert code == json_code == 0
    summaries = ingest(config, roster, visits).files  # again: the same problems, nothing new stored
    assert [p["rule"] for s in summaries for p in s.problems] == ["duplicate_teacher", "unknown_teacher"]
    assert [p["value"] for s in summaries for p in s.problems] == [
        shown_id("test-salt", "SECRET-ID-77"), shown_id("test-salt", "UNKNOWN-ID-99")]
    quarantined = stored(base.db, "select value, detail, raw_row from quarantine where rule in "
                                  "('duplicate_teacher', 'unknown_teacher')")
    assert len(quarantined) == 2
    for text in (" ".join(map(str, quarantined)), plain, as_json, every_stored_text(base.db)):
        assert "SECRET-ID-77" not in text and "UNKNOWN-ID-99" not in text
    assert shown_id("test-salt", "UNKNOWN-ID-99") in plain
    record("a roster repeating a teacher and a visit of an unknown teacher: quarantine values, details, raw rows "
           "and CLI/JSON output hold the teacher's `key:...`, never the id", base, *summaries,
           expect_changed={})


def test_a_changed_salt_is_refused(base, tmp_path, monkeypatch):
    visits = write_kobo(tmp_path / "other_salt.csv", [visit("n1", "T2", "S1", 3, **OBS)])
    ledger = stored(base.db, "select count(*) from import_ledger")
    monkeypatch.setenv("SUSTAIN_SALT", "another-salt")
    other = ingest(base.config(), visits).files[0]
    assert other.refused.startswith("other_salt.csv: the database sustain.duckdb keys its teachers with a secret "
                                    "salt, but the salt in SUSTAIN_SALT is not the one it was built with")
    assert "Nothing was written" in other.refused and "Set SUSTAIN_SALT to the salt" in other.refused
    code, out = cli(base.config(), visits)
    assert code == 1 and "REFUSED other_salt.csv: the database" in out
    monkeypatch.delenv("SUSTAIN_SALT")
    demo = ingest(base.config(), visits).files[0]
    assert "SUSTAIN_SALT is not set, so the public demo salt would be used" in demo.refused
    for message in (other.refused, demo.refused):
        assert_read_in_urdu(message, "other_salt.csv")
    assert stored(base.db, "select count(*) from import_ledger") == ledger  # nothing written
    record("visits under another salt than the roster's (another secret salt; no salt: the demo salt)",
           base, other, demo)
    # and a database built under the demo salt refuses a real salt
    (tmp_path / "demo").mkdir()
    demo_db = write_config(tmp_path / "demo", **{"thresholds.min_group_n": 1})
    demo_config = load_config(demo_db)
    assert ingest(demo_config, write_roster(tmp_path / "demo" / "r.csv", TEACHERS)).ok
    monkeypatch.setenv("SUSTAIN_SALT", "a-real-secret")
    real = ingest(demo_config, visits).files[0]
    assert "keys its teachers with the public demo salt, but the salt in SUSTAIN_SALT" in real.refused
    assert stored(demo_config.database_path(), "select count(*) from visits") == [(0,)]


def test_quarantine_keeps_the_whole_row_to_fix_and_import_again(base, tmp_path):
    rows = [visit("w1", "T2", "S1", 3, scores={"group_work": "9"}, comments="كلاس"), visit("w2", "T2", "S1", 6, **OBS)]
    first = ingest(base.config(), write_kobo(tmp_path / "whole.csv", rows)).files[0]
    assert (first.inserted, first.quarantined) == (1, 1)
    (raw_row,) = stored(base.db, "select raw_row from quarantine where source_file = 'whole.csv'")[0]
    raw = json.loads(raw_row)
    expected = dict(zip(kobo_header(), kobo_row(rows[0], 1)))
    expected["teacher/teacher_id"] = shown_id("test-salt", "T2")  # pseudonymised, read back as that teacher
    assert list(raw.items()) == list(expected.items())  # every cell, in the file's column order
    # the data manager fixes the score and imports the row again, as downloaded
    raw["practices/group_work"] = "3"
    fixed = tmp_path / "fixed.csv"
    with fixed.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_ALL)
        writer.writerow(list(raw))
        writer.writerow(list(raw.values()))
    again = ingest(base.config(), fixed).files[0]
    assert (again.inserted, again.quarantined) == (1, 0)
    assert stored(base.db, "select teacher_key = (select teacher_key from visits where submission_id = 'b2'), "
                           "comments from visits where submission_id = 'w1'") == [(True, "كلاس")]
    # a roster row keeps every column but the teacher's name (never stored) and holds the key
    roster = write_roster(tmp_path / "roster_bad.csv", TEACHERS + [teacher("T9", "S1", programme="XYZ")])
    roster_summary = ingest(base.config(), roster).files[0]
    (roster_raw,) = stored(base.db, "select raw_row from quarantine where source_file = 'roster_bad.csv'")[0]
    assert json.loads(roster_raw) == {"teacher_id": shown_id("test-salt", "T9"), "gender": "female",
                                      "subject": "maths", "school_id": "S1", "school_name": "School S1",
                                      "school_type": "primary", "cluster": "THA-C1", "district": "Thatta",
                                      "province": "Sindh", "programme": "XYZ"}
    record("a quarantined row (bad score; roster row with an unknown programme): kept whole as JSON, teacher id "
           "as its key, no teacher name; fixed and imported again", base, first, again, roster_summary)


# the teachers of S1, whose rows a move of S1 rewrites (their school's place, and the source roster)
S1_TEACHERS = [(teacher_key("test-salt", "T1"),), (teacher_key("test-salt", "T2"),)]


def moved_roster(path, valid_from=None, **school):
    """The baseline roster with school S1 in Sanghar (cluster SAN-C2), optionally from `valid_from`."""
    place = {"cluster": "SAN-C2", "district": "Sanghar"} | school
    rows = [teacher("T1", "S1", **place), teacher("T2", "S1", **place), TEACHERS[2]]
    if valid_from:
        rows = [r | {"valid_from": valid_from} for r in rows]
    return write_roster(path, rows)


def observations_by_district(db, config, district):
    from metrics import Filters
    from metrics.records import tidy_observations

    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = tidy_observations(con, Filters(district=(district,)), [], config)
    finally:
        con.close()
    return sorted(set(zip(rows["school_id"], rows["visit_date"].astype(str))))


def test_a_school_moved_by_the_roster_keeps_its_visits_where_they_were_made(base, tmp_path):
    config = base.config()
    thatta = observations_by_district(base.db, config, "Thatta")
    sanghar = observations_by_district(base.db, config, "Sanghar")
    assert {school for school, _ in thatta} == {"S1"}
    summary = ingest(config, moved_roster(tmp_path / "roster_moved.csv")).files[0]
    today = dt.date.today().isoformat()
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 2, 1)  # never "3 unchanged"
    assert summary.changes == [f"school S1 moved Thatta -> Sanghar, cluster THA-C1 -> SAN-C2 from {today}"]
    assert stored(base.db, "select notes from import_ledger where source_file = 'roster_moved.csv'") == [
        (summary.changes[0],)]
    assert observations_by_district(base.db, config, "Thatta") == thatta  # the old district keeps them
    assert observations_by_district(base.db, config, "Sanghar") == sanghar  # the new one gains nothing
    assert stored(base.db, "select district, cluster, valid_to is null from school_history where school_id = 'S1' "
                           "order by valid_to nulls last") == [("Thatta", "THA-C1", False), ("Sanghar", "SAN-C2", True)]
    assert stored(base.db, "select district from schools where school_id = 'S1'") == [("Sanghar",)]  # current
    again = ingest(config, moved_roster(tmp_path / "roster_moved.csv")).files[0]
    assert (again.updated, again.unchanged, again.changes) == (0, 3, [])
    record("a roster re-import moving school S1 from Thatta to Sanghar (visits made before stay in Thatta)", base,
           summary, again, expect_changed={"schools": [("S1",)], "teachers": S1_TEACHERS})


def test_a_move_from_a_past_date_places_the_visits_made_since_then(base, tmp_path):
    config = base.config()
    summary = ingest(config, moved_roster(tmp_path / "roster_march.csv", "2024-03-01")).files[0]
    assert summary.changes == ["school S1 moved Thatta -> Sanghar, cluster THA-C1 -> SAN-C2 from 2024-03-01; "
                               "1 stored visit(s) from that date placed there"]
    assert stored(base.db, "select submission_id, district, cluster from visits where school_id = 'S1' "
                           "order by submission_id") == [("b1", "Thatta", "THA-C1"), ("b2", "Thatta", "THA-C1"),
                                                         ("b3", "Sanghar", "SAN-C2")]
    later = [visit("m1", "T2", "S1", 6, district="Sanghar", cluster="SAN-C2", **OBS),
             visit("m2", "T2", "S1", 6, root="m2", district="Thatta", **OBS),
             visit("m3", "T2", "S1", 0, district="Thatta", **OBS)]
    visits = ingest(config, write_kobo(tmp_path / "after_move.csv", later)).files[0]
    assert problems(visits) == {(2, "district", "Thatta", "school_not_in_district")}  # Sanghar by then
    assert stored(base.db, "select submission_id, province, district from visits where submission_id in ('m1', 'm3') "
                           "order by 1") == [("m1", "Sindh", "Sanghar"), ("m3", "Sindh", "Thatta")]
    early = ingest(config, moved_roster(tmp_path / "roster_early.csv", "2024-01-01", district="Thatta",
                                        cluster="THA-C1")).files[0]
    assert {p["rule"] for p in early.problems} == {"valid_from_before_current"}
    assert early.updated == 0
    record("a roster moving S1 from a past date (2024-03-01); visits after it; then a move back dated before "
           "the current place", base, summary, visits, early,
           expect_changed={"schools": [("S1",)], "visits": [("b3",)], "teachers": S1_TEACHERS})


def test_a_programme_change_needs_allow_reassign(base, tmp_path):
    config = base.config()
    reassigned = write_roster(tmp_path / "roster_cbm.csv", TEACHERS[:2] + [TEACHERS[2] | {"programme": "CBM"}])
    key = shown_id("test-salt", "T3")
    refused = ingest(config, reassigned).files[0]
    assert refused.refused.startswith(
        f"roster_cbm.csv: the roster changes the programme of 1 teacher(s), which moves their month 0 and "
        f"reinterprets their visits: teacher {key} programme CBT -> CBM from {dt.date.today()}: month 0 moves "
        f"from 2024-06-14 to 2023-12-15, 1 visit(s) reinterpreted. Nothing was written.")
    assert "--allow-reassign" in refused.refused
    assert_read_in_urdu(refused.refused, "roster_cbm.csv")
    code, out = cli(config, reassigned)
    assert code == 1 and "REFUSED roster_cbm.csv" in out
    assert stored(base.db, "select programme from teachers where school_id = 'S2'") == [("CBT",)]
    code, out = cli(config, "--allow-reassign", "--dry-run", reassigned)
    assert code == 0 and f"changed: teacher {key} programme CBT -> CBM" in out
    assert "0 inserted, 1 updated, 2 unchanged" in out
    from ingest import ingest_files

    allowed = ingest_files([reassigned], config, allow_reassign=True).files[0]
    assert (allowed.updated, allowed.changes) == (1, [refused.refused.split("their visits: ")[1].split(". Nothing")[0]])
    assert stored(base.db, "select notes from import_ledger where source_file = 'roster_cbm.csv'") == [
        (allowed.changes[0],)]
    assert stored(base.db, "select programme, valid_to is null from teacher_history where school_id = 'S2' "
                           "order by valid_to nulls last") == [("CBT", False), ("CBM", True)]
    record("a roster changing a teacher's programme (refused; then with --allow-reassign)", base, refused, allowed,
           expect_changed={"teachers": [(key.removeprefix("key:"),)]})


def test_a_visit_at_another_school_than_the_teachers(base, tmp_path):
    config = base.config()
    elsewhere = [visit("t1", "T3", "S1", 3, programme="CBT", **OBS)]  # T3 teaches at S2 (Sanghar)
    before = ingest(config, write_kobo(tmp_path / "elsewhere.csv", elsewhere)).files[0]
    assert problems(before) == {(1, "school_id", "S1", "school_mismatch")}
    assert "the roster places this teacher at S2" in before.problems[0]["detail"]
    # the roster records the transfer to S1 from 1 July 2024: visits at S1 since then are accepted
    transfer = write_roster(tmp_path / "roster_transfer.csv", TEACHERS[:2] + [
        teacher("T3", "S1", programme="CBT", valid_from="2024-07-01") if False else
        TEACHERS[2] | {"school_id": "S1", "school_name": "School S1", "cluster": "THA-C1", "district": "Thatta",
                       "valid_from": "2024-07-01"}])
    moved = ingest(config, transfer).files[0]
    assert moved.changes == [f"teacher {shown_id('test-salt', 'T3')} moved school S2 -> S1 from 2024-07-01"]
    assert (moved.updated, moved.unchanged) == (1, 2)
    after = [visit("t2", "T3", "S1", 3, programme="CBT", **OBS),
             visit("t3", "T3", "S1", 0, programme="CBT", visit_date="2024-06-20", **OBS),
             visit("t4", "T3", "S2", 3, programme="CBT", district="Sanghar", cluster="SAN-C1", **OBS)]
    visits = ingest(config, write_kobo(tmp_path / "after_transfer.csv", after)).files[0]
    assert problems(visits) == {(2, "school_id", "S1", "school_mismatch"), (3, "school_id", "S2", "school_mismatch")}
    assert stored(base.db, "select school_id, district from visits where submission_id = 't2'") == [("S1", "Thatta")]
    record("a visit at another school than the teacher's (then a roster transfer from 2024-07-01)", base, before,
           moved, visits, expect_changed={"teachers": [(shown_id("test-salt", "T3").removeprefix("key:"),)]})


def test_a_database_of_the_previous_release_is_upgraded(base, tmp_path):
    con = duckdb.connect(str(base.db))
    try:  # the schema of the previous release: no history, no settings, no new columns
        for statement in ["drop table school_history", "drop table teacher_history", "drop table settings",
                          "alter table visits drop column province", "alter table quarantine drop column raw_row",
                          "alter table import_ledger drop column notes", "delete from schema_info where version > 1"]:
            con.execute(statement)
    finally:
        con.close()
    summary = ingest(base.config(), moved_roster(tmp_path / "roster_moved.csv")).files[0]
    assert summary.updated == 2 and summary.changes[0].startswith("school S1 moved Thatta -> Sanghar")
    assert stored(base.db, "select count(*) from visits where province is null") == [(0,)]
    assert observations_by_district(base.db, base.config(), "Sanghar") == [("S2", "2024-06-14")]
    RESULTS.append({"input": "a database of the previous release (no history tables, no new columns), then a "
                             "roster moving a school", "happened": happened(summary),
                    "lost": rows_lost(base.before, snapshot(base.db))})


# -- issue 9: every row accounted for, huge fields, impossible CLI values -------------------------------
def _balanced(db) -> None:
    """Every ledger row satisfies rows read = inserted + updated + unchanged + quarantined."""
    assert stored(db, """select count(*) from import_ledger
                         where not refused and rows_read <> inserted + updated + unchanged + quarantined""") == [(0,)]


def test_unclosed_quote_costs_one_record_not_the_rows_after_it(base, tmp_path):
    """ODK (`,`, quoted only when needed): a comment cell starting `"he said hi` with no closing
    quote used to swallow the rows after it (4 rows read as 2, two valid visits gone, exit 0)."""
    odk_rows = [visit(f"q{i}", "T3", "S2", 3, programme="CBT", district="Sanghar", cluster="SAN-C1",
                      comments=comment, **OBS)
                for i, comment in enumerate(["fine", "BROKEN", "ok", "two lines\nof comment", "last"], start=1)]
    odk = write_odk(tmp_path / "odk_unclosed.csv", odk_rows)
    odk.write_text(odk.read_text(encoding="utf-8").replace("BROKEN", '"he said hi'), encoding="utf-8")
    # Kobo (`;`, every field quoted): the closing quote of one cell is missing
    kobo = write_kobo(tmp_path / "kobo_unclosed.csv", [visit(f"k{i}", "T2", "S1", 3, comments=c, **OBS)
                                                        for i, c in enumerate(["a", "BROKEN", "c"], start=1)])
    kobo.write_text(kobo.read_text(encoding="utf-8").replace('"BROKEN"', '"he said hi'), encoding="utf-8")
    from_odk, from_kobo = ingest(base.config(), odk, kobo).files
    # rows read = the file's data records; the closed multi-line comment is one record
    assert (from_odk.rows, from_odk.inserted, from_odk.quarantined) == (5, 4, 1)
    assert problems(from_odk) == {(2, "(record)", "", "malformed_record")}
    assert "line 3 " in from_odk.problems[0]["detail"]  # header = line 1, first record = line 2
    assert (from_kobo.rows, from_kobo.inserted, from_kobo.quarantined) == (3, 2, 1)
    assert problems(from_kobo) == {(2, "(record)", "", "malformed_record")}
    assert stored(base.db, "select comments from visits where submission_id = 'q4'") == [("two lines\nof comment",)]
    assert stored(base.db, "select count(*) from visits where submission_id in ('q1', 'q3', 'q5', 'k1', 'k3')") == [(5,)]
    assert stored(base.db, "select source_file, row_number, rule from quarantine where rule = 'malformed_record' "
                           "order by source_file") == [("kobo_unclosed.csv", 2, "malformed_record"),
                                                       ("odk_unclosed.csv", 2, "malformed_record")]
    _balanced(base.db)
    record("an unclosed quote in a comment (ODK `,` with a closed multi-line comment too; Kobo `;`)", base,
           from_odk, from_kobo)


def test_counts_that_do_not_balance_refuse_the_file(base, tmp_path, monkeypatch):
    """rows read = inserted + updated + unchanged + quarantined is checked on every import: an
    import whose counts do not balance (here: a row counted twice) is refused, nothing written."""
    import ingest.core as core

    real = core._import_survey
    def double_counting(*args):
        (inserted, updated, unchanged), notes = real(*args)
        return (inserted, updated, unchanged + 1), notes

    monkeypatch.setattr(core, "_import_survey", double_counting)
    path = write_kobo(tmp_path / "double_count.csv", [visit("dc1", "T2", "S1", 3, **OBS)])
    summary = ingest(base.config(), path).files[0]
    assert summary.refused.startswith("double_count.csv: CountsDoNotBalance: the counts do not balance "
                                      "(1 rows read, but 1 inserted + 0 updated + 1 unchanged + 0 quarantined = 2")
    assert stored(base.db, "select count(*) from visits where submission_id = 'dc1'") == [(0,)]
    assert stored(base.db, "select count(*) from import_ledger where source_file = 'double_count.csv'") == [(0,)]
    monkeypatch.setattr(core, "_import_survey", real)
    again = ingest(base.config(), path).files[0]
    assert (again.rows, again.inserted, again.refused) == (1, 1, None)
    _balanced(base.db)
    record("counts that do not balance (a row counted twice, injected)", base, summary, again)


def test_huge_header_refuses_that_file_only_and_huge_comments_import_whole(base, tmp_path, capsys):
    from ingest.__main__ import main

    header = kobo_header()
    header[header.index("_tags")] = "x" * 140_000  # over the csv module's 131,072-character field limit
    huge_header = tmp_path / "huge_header.csv"
    huge_header.write_text(_kobo_text([visit("hh1", "T2", "S1", 3, **OBS)], header), encoding="utf-8")
    long_comment = "ٹھیک ہے " * 25_000  # 200,000 characters
    long = write_kobo(tmp_path / "long_comment.csv", [visit("lc1", "T2", "S1", 3, comments=long_comment, **OBS)])
    odk_long = write_odk(tmp_path / "long_comment_odk.csv", [visit("lc2", "T3", "S2", 3, programme="CBT",
                                                                   district="Sanghar", cluster="SAN-C1",
                                                                   comments="a" * 300_000, **OBS)])
    code = main(["--config", str(base.config().source_path), "--json", str(huge_header), str(long), str(odk_long)])
    out = capsys.readouterr()
    assert code == 1 and "Traceback" not in out.err
    files = json.loads(out.out)["files"]
    column = header.index("x" * 140_000) + 1
    assert files[0]["refused"] == (f"huge_header.csv: the header of column {column} is 140,000 characters long (at most "
                                   "1,000); the first row is not a header row: export the file again")
    assert [(f["rows"], f["inserted"], f["refused"]) for f in files[1:]] == [(1, 1, None), (1, 1, None)]
    assert stored(base.db, "select length(comments) from visits where submission_id in ('lc1', 'lc2') "
                           "order by submission_id") == [(len(long_comment),), (300_000,)]
    (comment,) = stored(base.db, "select comments from visits where submission_id = 'lc1'")[0]
    assert comment == long_comment  # stored whole, byte for byte
    from ingest.core import FileSummary
    shown = [FileSummary(file=f["file"], **{k: f[k] for k in ("kind", "rows", "inserted", "updated", "unchanged",
                                                                "quarantined", "refused")}) for f in files]
    record("a 140,000-character header cell; 200,000- and 300,000-character comments (Kobo, ODK) in the same "
           "command", base, *shown)


FIFTY_NINES = "9" * 60
METRICS_CASES = [
    ["retention", "--where", f"months_min={FIFTY_NINES}"],
    ["retention", "--where", f"months_max=-{FIFTY_NINES}"],
    ["retention", "--where", "months=abc"],
    ["prevalence", "--where", "months=1e3"],
    ["coverage", "--where", "months=٣"],  # an Arabic-Indic digit: int() takes it, SQL must not see it
    ["survival", "--where", "months_min=99999999999999999999"],
    ["half_life", "--where", "months=1_000"],
    ["retention", "--where", "months_min="],
    ["retention", "--where", "nope=1"],
    ["retention", "--where", "=Thatta"],
    ["retention", "--where", "district"],
    ["retention", "--by", "nope"],
    ["retention", "--by", "district,nope"],
    ["retention", "--by", "x" * 10_000],
    ["retention", "--format", "xml"],
    ["no_such_indicator"],
]


@pytest.mark.parametrize("argv", METRICS_CASES, ids=lambda a: " ".join(a)[:40])
def test_impossible_metrics_cli_values_exit_2_with_a_message(base, argv, capsys):
    from metrics.__main__ import main

    try:
        code = main(argv + ["--config", str(base.config().source_path)])
    except SystemExit as exit_:  # argparse's own usage errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    message = err.strip().splitlines()[-1]
    assert message.startswith(("error:", "python -m metrics: error:")) and len(message) < 1_500, message
    RESULTS.append({"input": f"`python -m metrics {' '.join(argv)[:70]}`",
                    "happened": f"exit 2: {message[:160]}", "lost": rows_lost(base.before, snapshot(base.db))})


# -- the closing table ------------------------------------------------------------------------------
def test_zz_bad_input_table(capsys):
    """Print and keep the table of this module's results (rows lost computed by each test)."""
    if not RESULTS:
        pytest.skip("no bad-input test ran in this session")
    lines = ["| input | what happened | rows lost |", "|---|---|---|"]
    for row in RESULTS:
        cells = [str(row[k]).replace("|", "\\|").replace("\n", " ") for k in ("input", "happened", "lost")]
        lines.append(f"| {cells[0]} | {cells[1]} | {cells[2]} |")
    table = "\n".join(lines) + "\n"
    out = ROOT_DIR / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "bad_input_table.md").write_text(table, encoding="utf-8")
    with capsys.disabled():
        print("\n" + table)
    assert all(row["lost"] == 0 for row in RESULTS)
