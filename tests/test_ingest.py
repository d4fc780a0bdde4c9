"""Ingest through the real code into a temporary DuckDB file: both export dialects, XLSX,
idempotency, edits, conflicts, dry run, quarantine and refusals."""
import json

import duckdb
import pytest

from sustain.pseudonym import shown_id
from support import (rows, run_cli, teacher, visit, write_kobo, write_kobo_xlsx, write_odk, write_roster)

TEACHERS = [teacher("T1", "S1"), teacher("T2", "S1"),
            teacher("T3", "S2", cluster="SAN-C1", district="Sanghar", programme="CBT")]
GOOD = {"group_work": "3", "questioning": "2", "teaching_aids": "na"}


@pytest.fixture
def setup(tmp_path, config_factory, load):
    config = config_factory()
    roster = write_roster(tmp_path / "roster.csv", TEACHERS)
    load(config, roster)
    return config


def test_kobo_csv_loads_canonical_rows_with_provenance(tmp_path, setup, load):
    kobo = write_kobo(tmp_path / "kobo.csv", [
        visit("u1", "T1", "S1", 0, scores=GOOD, hindrances="low_pay  no_followup", comments="استاد نے گروپ ورک کروایا"),
        visit("u2", "T2", "S1", 3, status="absent"),
    ])
    result = load(setup, kobo)
    summary = result.files[0]
    assert (summary.kind, summary.rows, summary.inserted, summary.quarantined) == ("kobo", 2, 2, 0)
    visit_rows = rows(setup, "select submission_id, teacher_status, comments, source_file, source_row, "
                             "length(source_sha256), run_id from visits order by source_row")
    assert visit_rows[0][:6] == ("u1", "present", "استاد نے گروپ ورک کروایا", "kobo.csv", 1, 64)
    assert visit_rows[0][6] == result.run_id
    assert rows(setup, "select practice, score from visit_practices where submission_id='u1' order by practice") == [
        ("group_work", 3), ("questioning", 2)]  # `na` is missing, not stored as a score
    assert rows(setup, "select hindrance from visit_hindrances order by 1") == [("low_pay",), ("no_followup",)]


def test_odk_csv_and_xlsx_dialects(tmp_path, setup, load):
    odk = write_odk(tmp_path / "odk.csv", [visit("o1", "T3", "S2", 0, programme="CBT", scores=GOOD,
                                                 district="Sanghar", cluster="SAN-C1")])
    xlsx = write_kobo_xlsx(tmp_path / "kobo.xlsx", [visit("x1", "T1", "S1", 6, scores={"group_work": "4"})])
    result = load(setup, odk, xlsx)
    assert [(f.kind, f.inserted, f.refused) for f in result.files] == [("odk", 1, None), ("kobo", 1, None)]
    assert rows(setup, "select submission_id, source_kind from visits order by 1") == [("o1", "odk"), ("x1", "kobo")]
    assert rows(setup, "select score from visit_practices where submission_id = 'x1'") == [(4,)]


def test_reimport_changes_nothing(tmp_path, setup, load):
    kobo = write_kobo(tmp_path / "kobo.csv", [visit("u1", "T1", "S1", 0, scores=GOOD),
                                              visit("u2", "T9", "S1", 0, scores=GOOD)])
    first = load(setup, kobo).files[0]
    before = rows(setup, "select * from visits")
    second = load(setup, kobo).files[0]
    assert (first.inserted, first.quarantined) == (1, 1)
    assert (second.inserted, second.updated, second.unchanged, second.quarantined) == (0, 0, 1, 1)
    assert rows(setup, "select * from visits") == before
    assert rows(setup, "select count(*) from quarantine") == [(1,)]  # not quarantined twice
    assert rows(setup, "select count(*) from import_ledger where kind = 'kobo'") == [(2,)]


def test_an_unchanged_export_is_not_read_again(tmp_path, setup, load, config_factory):
    """An export whose exact content was imported before under the same configuration and code,
    whose rows kept aside (if any) broke only rules of the row alone, is recognised by its
    checksum: its rows count as that import left them, its problems are those the quarantine
    holds, the ledger records the check, and nothing else changes."""
    kobo = write_kobo(tmp_path / "kobo.csv", [visit("u1", "T1", "S1", 0, scores=GOOD),
                                              visit("u2", "T2", "S1", 0, scores={"group_work": "9"})])
    first = load(setup, kobo).files[0]
    assert (first.rows, first.inserted, first.quarantined) == (2, 1, 1)
    visits, practices = rows(setup, "select * from visits"), rows(setup, "select * from visit_practices")
    # the same bytes under another name: the content is what is recognised
    copy = tmp_path / "kobo_downloaded_again.csv"
    copy.write_bytes(kobo.read_bytes())
    again = load(setup, copy).files[0]
    assert (again.rows, again.inserted, again.updated, again.unchanged, again.quarantined) == (2, 0, 0, 1, 1)
    first_run = rows(setup, "select run_id from import_ledger where kind = 'kobo' order by finished_at")[0][0]
    assert again.notes == [f"the same content as kobo.csv, imported in run {first_run}: not read again"]
    assert [(p["row"], p["column"], p["value"], p["rule"]) for p in again.problems] == [
        (2, "group_work", "9", "bad_score")]
    assert rows(setup, "select * from visits") == visits
    assert rows(setup, "select * from visit_practices") == practices
    ledger = rows(setup, "select source_file, rows_read, unchanged, quarantined, read_as is not null, notes "
                         "from import_ledger where kind = 'kobo' order by finished_at")
    assert [line[:5] for line in ledger] == [("kobo.csv", 2, 0, 1, True), ("kobo_downloaded_again.csv", 2, 1, 1, True)]
    assert ledger[1][5] == again.notes[0]
    # a dry run says the same; --reread (reread=True) reads it row by row, with the same counts
    newest_run = rows(setup, "select run_id from import_ledger where kind = 'kobo' order by finished_at desc")[0][0]
    assert load(setup, copy, dry_run=True).files[0].notes == [
        f"the same content as kobo_downloaded_again.csv, imported in run {newest_run}: not read again"]
    reread = load(setup, copy, reread=True).files[0]
    assert (reread.rows, reread.inserted, reread.unchanged, reread.quarantined, reread.notes) == (2, 0, 1, 1, [])

    # another configuration (any setting) reads it again
    other = config_factory(**{"thresholds.min_group_n": 7})
    assert load(other, copy).files[0].notes == []


def test_an_export_with_a_row_kept_aside_for_the_roster_is_read_again_once_the_roster_changes(tmp_path, setup, load):
    """A row kept aside for the roster (here a teacher it lacked) stays aside while the roster does
    not change (the file is not read again), and the file is read again after a roster import that
    changed a row: the row is taken then."""
    kobo = write_kobo(tmp_path / "kobo.csv", [visit("u1", "T1", "S1", 0, scores=GOOD),
                                              visit("u9", "T9", "S1", 0, scores=GOOD)])
    first = load(setup, kobo).files[0]
    assert (first.inserted, first.quarantined) == (1, 1) and first.problems[0]["rule"] == "unknown_teacher"
    roster = write_roster(tmp_path / "roster.csv", TEACHERS)
    assert load(setup, roster).files[0].inserted == 0  # the same roster: no row changed
    same = load(setup, kobo).files[0]
    assert (same.unchanged, same.quarantined, [p["rule"] for p in same.problems]) == (1, 1, ["unknown_teacher"])
    assert "not read again" in same.notes[0]
    load(setup, write_roster(tmp_path / "roster_with_t9.csv", [*TEACHERS, teacher("T9", "S1")]))
    again = load(setup, kobo).files[0]
    assert (again.inserted, again.unchanged, again.quarantined, again.notes) == (1, 1, 0, [])
    assert rows(setup, "select count(*) from visits") == [(2,)]
    # the quarantine still holds the row kept aside then: its rows are not this import's, so the
    # file is read again (and found unchanged), never summarised with a row it no longer keeps aside
    later = load(setup, kobo).files[0]
    assert (later.unchanged, later.quarantined, later.notes) == (2, 0, [])


def test_an_export_with_a_date_in_the_future_is_always_read_again(tmp_path, setup, load):
    """A row kept aside for a rule not of the row alone nor of the roster (a date in the future, which
    a later day may put right) makes the file read at every import."""
    kobo = write_kobo(tmp_path / "kobo.csv", [visit("u1", "T1", "S1", 0, scores=GOOD),
                                              visit("u2", "T2", "S1", 0, scores=GOOD, visit_date="2099-01-01")])
    first = load(setup, kobo).files[0]
    assert first.problems[0]["rule"] == "date_outside_programme"
    assert rows(setup, "select read_as from import_ledger where kind = 'kobo'") == [(None,)]
    assert load(setup, kobo).files[0].notes == []


def test_kobo_edit_replaces_earlier_version_in_either_order(tmp_path, setup, load):
    original = visit("v1", "T1", "S1", 0, scores={"group_work": "2"}, end_time="2024-01-01T10:00:00+05:00")
    edited = visit("v2", "T1", "S1", 0, root="v1", scores={"group_work": "3"}, end_time="2024-02-01T10:00:00+05:00")
    early = write_kobo(tmp_path / "early.csv", [original])
    late = write_kobo(tmp_path / "late.csv", [edited])
    assert load(setup, early).files[0].inserted == 1
    summary = load(setup, late).files[0]
    assert (summary.inserted, summary.updated) == (0, 1)
    assert rows(setup, "select submission_id, instance_id from visits") == [("v1", "v2")]
    assert rows(setup, "select score from visit_practices") == [(3,)]
    # the earlier export imported again afterwards does not bring the old version back: read again
    # row by row, and recognised by its content (not read again), the same outcome
    for reread in (True, False):
        again = load(setup, early, reread=reread).files[0]
        assert (again.updated, again.unchanged) == (0, 1)
        assert ("not read again" in " ".join(again.notes)) is not reread
        assert rows(setup, "select score from visit_practices") == [(3,)]


def test_odk_edit_counter(tmp_path, setup, load):
    base = dict(programme="CBT", district="Sanghar", cluster="SAN-C1")
    load(setup, write_odk(tmp_path / "a.csv", [visit("o1", "T3", "S2", 3, scores={"group_work": "1"}, **base)]))
    summary = load(setup, write_odk(tmp_path / "b.csv", [
        visit("o1", "T3", "S2", 3, scores={"group_work": "4"}, edits=1, **base)])).files[0]
    assert summary.updated == 1
    assert rows(setup, "select score from visit_practices") == [(4,)]


def test_same_id_different_content_without_edit_marker_is_a_conflict(tmp_path, setup, load):
    load(setup, write_kobo(tmp_path / "a.csv", [visit("c1", "T1", "S1", 0, scores={"group_work": "2"})]))
    summary = load(setup, write_kobo(tmp_path / "b.csv", [visit("c1", "T1", "S1", 0, scores={"group_work": "4"})])).files[0]
    assert (summary.updated, summary.quarantined) == (0, 1)
    assert summary.problems[0]["rule"] == "conflict_no_edit_marker"
    assert "a.csv row 1" in summary.problems[0]["detail"]
    assert rows(setup, "select score from visit_practices") == [(2,)]  # nothing overwritten silently


def test_duplicates_inside_one_file(tmp_path, setup, load):
    same = visit("d1", "T1", "S1", 0, scores=GOOD)
    clash = visit("d2", "T2", "S1", 0, scores={"group_work": "1"})
    clash_again = visit("d2", "T2", "S1", 0, scores={"group_work": "4"})
    summary = load(setup, write_kobo(tmp_path / "k.csv", [same, same, clash, clash_again])).files[0]
    assert (summary.rows, summary.inserted, summary.unchanged, summary.quarantined) == (4, 1, 1, 2)
    assert {p["rule"] for p in summary.problems} == {"conflicting_duplicate"}
    assert rows(setup, "select submission_id from visits") == [("d1",)]


def test_bad_rows_are_quarantined_with_row_column_value_rule(tmp_path, setup, load):
    bad = [
        visit("", "T1", "S1", 0, scores=GOOD),
        visit("b2", "T9", "S1", 0, scores=GOOD),
        visit("b3", "T1", "S404", 0, scores=GOOD),
        visit("b4", "T1", "S1", 0, scores=GOOD, district="Quetta"),
        visit("b5", "T1", "S1", 0, scores=GOOD, visit_date="2024-02-31"),
        visit("b6", "T1", "S1", 0, scores=GOOD, visit_date="45291"),
        visit("b7", "T1", "S1", 0, scores={"group_work": "7"}),
        visit("b8", "T1", "S1", 0, scores={"questioning": "x"}),
        visit("b9", "T1", "S1", 0, scores=GOOD, status="retired"),
        visit("b10", "T1", "S1", 0, scores=GOOD, hindrances="low_pay flood"),
        visit("b11", "T1", "S1", 0, scores=GOOD, cop_meetings="-2"),
        visit("b12", "T1", "S1", 0, scores=GOOD, cop_meetings="three"),
        visit("b13", "T1", "S1", 0, scores=GOOD, visit_date="2022-01-10"),
        visit("b14", "T1", "S1", 0, scores=GOOD, cop_active="maybe"),
    ]
    summary = load(setup, write_kobo(tmp_path / "bad.csv", bad)).files[0]
    found = {(p["row"], p["column"], p["value"], p["rule"]) for p in summary.problems}
    assert found == {
        (1, "instance_id", "", "missing_instance_id"),
        (2, "teacher_id", shown_id("test-salt", "T9"), "unknown_teacher"),  # never the raw id
        (3, "school_id", "S404", "unknown_school"),
        (4, "district", "Quetta", "school_not_in_district"),
        (5, "visit_date", "2024-02-31", "impossible_date"),
        (6, "visit_date", "45291", "bad_date"),
        (7, "group_work", "7", "bad_score"),
        (8, "questioning", "x", "bad_score"),
        (9, "teacher_status", "retired", "bad_status"),
        (10, "hindrances", "low_pay flood", "unknown_option"),
        (11, "cop_meetings_3m", "-2", "bad_integer"),
        (12, "cop_meetings_3m", "three", "bad_integer"),
        (13, "visit_date", "2022-01-10", "date_outside_programme"),
        (14, "cop_active", "maybe", "unknown_option"),
    }
    assert (summary.quarantined, summary.inserted) == (14, 0)
    stored = rows(setup, "select source_file, row_number, column_name, value, rule from quarantine order by row_number")
    assert stored[0] == ("bad.csv", 1, "instance_id", "", "missing_instance_id")
    assert len(stored) == 14


def test_dry_run_prints_the_same_summary_and_writes_nothing(tmp_path, setup, load):
    files = [write_kobo(tmp_path / "k.csv", [visit("u1", "T1", "S1", 0, scores=GOOD), visit("u2", "T9", "S1", 0)])]
    before = rows(setup, "select (select count(*) from visits), (select count(*) from quarantine), "
                         "(select count(*) from import_ledger)")
    dry = load(setup, *files, dry_run=True).files[0]
    assert rows(setup, "select (select count(*) from visits), (select count(*) from quarantine), "
                       "(select count(*) from import_ledger)") == before
    real = load(setup, *files).files[0]
    assert dry.as_json() == real.as_json()


def test_refused_files_write_nothing_and_say_why(tmp_path, setup, load):
    header_missing = tmp_path / "renamed.csv"
    write_kobo(header_missing, [visit("u1", "T1", "S1", 0, scores=GOOD)])
    header_missing.write_text(header_missing.read_text(encoding="utf-8").replace("school/school_id", "school/schl"),
                              encoding="utf-8")
    duplicate = tmp_path / "dup.csv"
    duplicate.write_text("teacher_id,school_id,programme,teacher_id\nT1,S1,CBM,T1\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    cp1252 = tmp_path / "cp1252.csv"
    cp1252.write_bytes("teacher_id,school_id,programme,cluster,district,province\nT7,S1,CBM,THA-C1,Thatta,Sindh,caf\xe9\n"
                       .encode("utf-8").replace(b"\xc3\xa9", b"\xe9"))
    unknown = tmp_path / "what.csv"
    unknown.write_text("a,b\n1,2\n", encoding="utf-8")
    result = load(setup, header_missing, duplicate, empty, cp1252, unknown)
    reasons = [f.refused for f in result.files]
    assert "renamed.csv: required column(s) missing: school_id" in reasons[0]
    assert "dup.csv: duplicate header 'teacher_id' in columns 1 and 4" in reasons[1]
    assert reasons[2] == "empty.csv: the file is empty"
    assert "cp1252.csv: not UTF-8 (byte 0xe9 on line 2)" in reasons[3]
    assert "what.csv: could not tell the kind of file" in reasons[4]
    assert not result.ok
    assert rows(setup, "select count(*) from visits") == [(0,)]


def test_size_cap_and_bom(tmp_path, config_factory, load):
    config = config_factory(**{"thresholds.max_file_mb": 0.001})
    big = write_roster(tmp_path / "big.csv", [teacher(f"T{i}", "S1") for i in range(40)])
    assert "over the size cap" in load(config, big).files[0].refused
    config = config_factory()
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufeff".encode() + write_roster(tmp_path / "r.csv", TEACHERS).read_bytes())
    summary = load(config, bom).files[0]
    assert (summary.kind, summary.inserted) == ("roster", 3)


def test_teacher_names_are_never_stored(tmp_path, setup, load):
    con = duckdb.connect(str(setup.database_path()), read_only=True)
    try:
        everything = " ".join(str(v) for table, in con.execute("show tables").fetchall()
                              for row in con.execute(f"select * from {table}").fetchall() for v in row)
    finally:
        con.close()
    assert "Name of T1" not in everything and "T1" not in everything.split()
    assert rows(setup, "select count(*) from teachers") == [(3,)]


def test_roster_problems_quarantined(tmp_path, config_factory, load):
    config = config_factory()
    roster = write_roster(tmp_path / "roster.csv", [
        teacher("T1", "S1"), teacher("T1", "S1"), teacher("T2", "S1", programme="XYZ"),
        teacher("", "S1"), teacher("T4", "S1", district="Quetta")])
    summary = load(config, roster).files[0]
    assert {(p["row"], p["rule"]) for p in summary.problems} == {
        (2, "duplicate_teacher"), (3, "unknown_programme"), (4, "missing_value"), (5, "school_conflict")}
    assert (summary.inserted, summary.quarantined) == (1, 4)


def test_cli_json_and_exit_codes(tmp_path, setup):
    # in this process (the command line in a real interpreter: tests/test_ingest_scale.py)
    kobo = write_kobo(tmp_path / "k.csv", [visit("u1", "T1", "S1", 0, scores=GOOD)])
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    command = ["--config", str(setup.source_path), "--json"]
    code, out, err = run_cli("ingest", command + [str(kobo)])
    assert code == 0, err
    report = json.loads(out)["files"][0]
    assert {k: report[k] for k in ("kind", "rows", "inserted", "updated", "unchanged", "quarantined", "refused")} == {
        "kind": "kobo", "rows": 1, "inserted": 1, "updated": 0, "unchanged": 0, "quarantined": 0, "refused": None}
    code, out, _ = run_cli("ingest", command + [str(kobo), str(empty)])
    assert code == 1
    assert json.loads(out)["files"][1]["refused"] == "empty.csv: the file is empty"
    _, plain, _ = run_cli("ingest", ["--config", str(setup.source_path), "--dry-run", str(kobo)])
    assert "dry run: nothing was written" in plain
    assert "1 rows read, 0 inserted, 0 updated, 1 unchanged, 0 quarantined" in plain
    assert "not read again" in plain  # k.csv was imported with every row taken
    _, plain, _ = run_cli("ingest", ["--config", str(setup.source_path), "--dry-run", "--reread", str(kobo)])
    assert "1 rows read, 0 inserted, 0 updated, 1 unchanged, 0 quarantined" in plain and "not read again" not in plain
