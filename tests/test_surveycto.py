"""SurveyCTO CSV exports read as SurveyCTO writes them, through the real ingest into a temporary
DuckDB file: identity (KEY without `uuid:`), review corrections and duplicates, its default dates,
detection against ODK Central, re-import changing nothing, and the bundled sample file."""
import datetime as dt
import json

import pytest

from ingest import FileRefused, detect_kind
from support import (rows, run_cli, ODK_HEADER, ROOT_DIR, SURVEYCTO_HEADER, teacher, visit, write_odk, write_roster,
                     write_surveycto)

TEACHERS = [teacher("T1", "S1"), teacher("T2", "S1"),
            teacher("T3", "S2", cluster="SAN-C1", district="Sanghar", programme="CBT")]
GOOD = {"group_work": "3", "questioning": "2", "teaching_aids": "na"}


@pytest.fixture
def setup(tmp_path, config_factory, load):
    config = config_factory()
    load(config, write_roster(tmp_path / "roster.csv", TEACHERS))
    return config


def test_surveycto_export_reads_unchanged(tmp_path, setup, load):
    export = write_surveycto(tmp_path / "scto.csv", [
        visit("c1", "T1", "S1", 0, scores=GOOD, hindrances="low_pay no_followup", comments="بہت اچھا"),
        visit("c2", "T3", "S2", 3, programme="CBT", district="Sanghar", cluster="SAN-C1", status="absent"),
    ])
    text = export.read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("SubmissionDate,starttime,endtime,deviceid")
    assert "uuid:c1" in text and "Dec 15, 2023" in text  # as SurveyCTO writes them
    summary = load(setup, export).files[0]
    assert (summary.kind, summary.rows, summary.inserted, summary.quarantined, summary.refused) == (
        "surveycto", 2, 2, 0, None)
    assert summary.notes == []
    assert rows(setup, "select submission_id, instance_id, source_kind, visit_date, teacher_status, comments, "
                       "submitted_at from visits order by 1") == [
        ("c1", "c1", "surveycto", dt.date(2023, 12, 15), "present", "بہت اچھا", "2024-01-02T09:00:00"),
        ("c2", "c2", "surveycto", dt.date(2024, 9, 13), "absent", None, "2024-01-02T09:00:00")]
    assert rows(setup, "select practice, score from visit_practices where submission_id = 'c1' order by 1") == [
        ("group_work", 3), ("questioning", 2)]
    assert rows(setup, "select hindrance from visit_hindrances order by 1") == [("low_pay",), ("no_followup",)]


def test_reimport_changes_nothing(tmp_path, setup, load):
    export = write_surveycto(tmp_path / "scto.csv", [visit("c1", "T1", "S1", 0, scores=GOOD),
                                                     visit("c2", "T2", "S1", 6, scores=GOOD)])
    load(setup, export)
    before = rows(setup, "select * from visits order by submission_id")
    again = load(setup, export).files[0]
    assert (again.inserted, again.updated, again.unchanged, again.quarantined) == (0, 0, 2, 0)
    assert rows(setup, "select * from visits order by submission_id") == before


def test_review_correction_replaces_the_pending_version(tmp_path, setup, load):
    """A correction in SurveyCTO's review workflow keeps KEY and SubmissionDate: the reviewed
    (approved) export replaces the pending one; the pending export read again changes nothing."""
    pending = write_surveycto(tmp_path / "pending.csv", [visit("c1", "T1", "S1", 0, scores={"group_work": "2"})])
    approved = write_surveycto(tmp_path / "approved.csv",
                               [visit("c1", "T1", "S1", 0, scores={"group_work": "3"}) | {"review": "approved"}])
    assert load(setup, pending).files[0].inserted == 1
    corrected = load(setup, approved).files[0]
    assert (corrected.inserted, corrected.updated) == (0, 1)
    stale = load(setup, pending).files[0]
    assert (stale.inserted, stale.updated, stale.unchanged, stale.quarantined) == (0, 0, 1, 0)
    assert rows(setup, "select edit_rank, score from visits join visit_practices using (submission_id)") == [(1, 3)]


def test_same_key_twice_with_different_content_is_a_conflict(tmp_path, setup, load):
    same = write_surveycto(tmp_path / "dupes.csv", [visit("c1", "T1", "S1", 0, scores={"group_work": "2"}),
                                                    visit("c1", "T1", "S1", 0, scores={"group_work": "4"}),
                                                    visit("c2", "T2", "S1", 0, scores=GOOD),
                                                    visit("c2", "T2", "S1", 0, scores=GOOD)])
    summary = load(setup, same).files[0]
    assert {(p["row"], p["rule"]) for p in summary.problems} == {(1, "conflicting_duplicate"),
                                                                  (2, "conflicting_duplicate")}
    # an exact duplicate row is one submission, not two
    assert rows(setup, "select submission_id from visits order by 1") == [("c2",)]


def test_dates_default_and_iso_are_read_others_quarantined(tmp_path, setup, load):
    export = write_surveycto(tmp_path / "dates.csv", [
        visit("c1", "T1", "S1", 0, visit_date="Jan 5, 2024"),
        visit("c2", "T2", "S1", 0, visit_date="2024-01-06"),
        visit("c3", "T1", "S1", 3, visit_date="Feb 30, 2024"),
        visit("c4", "T2", "S1", 3, visit_date="05/03/2024"),
    ])
    summary = load(setup, export).files[0]
    assert rows(setup, "select submission_id, visit_date from visits order by 1") == [
        ("c1", dt.date(2024, 1, 5)), ("c2", dt.date(2024, 1, 6))]
    assert {(p["row"], p["rule"]) for p in summary.problems} == {(3, "impossible_date"), (4, "bad_date")}


def test_detection_against_odk_central():
    assert detect_kind(SURVEYCTO_HEADER) == "surveycto"
    assert detect_kind(ODK_HEADER) == "odk"
    # an ODK form with questions named like SurveyCTO's meta columns stays ODK (its own system columns)
    assert detect_kind(ODK_HEADER + ["review_status", "formdef_version"]) == "odk"
    # a SurveyCTO export without the optional review columns is still SurveyCTO
    plain = [h for h in SURVEYCTO_HEADER if not h.startswith("review_")]
    assert detect_kind(plain) == "surveycto"
    # a SurveyCTO form with a question named ReviewState would read as ODK: say which headers decide
    with pytest.raises(FileRefused, match="SurveyCTO export \\(KEY, formdef_version\\)"):
        detect_kind(["a", "b"])


def test_odk_with_a_review_status_question_imports_as_odk(tmp_path, setup, load):
    export = write_odk(tmp_path / "odk.csv", [visit("o1", "T1", "S1", 0, scores=GOOD)])
    lines = export.read_text(encoding="utf-8").splitlines()
    export.write_text("\n".join([lines[0] + ",review_status"] + [line + ",approved" for line in lines[1:]]) + "\n",
                      encoding="utf-8")
    summary = load(setup, export).files[0]
    assert (summary.kind, summary.inserted) == ("odk", 1)


def test_missing_practice_column_is_not_scored_and_said(tmp_path, setup, load):
    """An earlier form version without peer_feedback: imported, that practice not scored (no
    score, never 0), and the summary says so; a missing required field still refuses the file."""
    header = [h for h in SURVEYCTO_HEADER if h != "peer_feedback"]
    export = write_surveycto(tmp_path / "earlier.csv",
                             [visit("c1", "T1", "S1", 0, scores=GOOD | {"peer_feedback": "4"})], header=header)
    summary = load(setup, export).files[0]
    assert (summary.refused, summary.inserted) == (None, 1)
    assert summary.notes == ["practice peer_feedback: no column in this file (an earlier form version?); "
                             "imported as not scored"]
    assert summary.as_json()["notes"] == summary.notes
    assert rows(setup, "select count(*) from visit_practices where practice = 'peer_feedback'") == [(0,)]
    assert rows(setup, "select notes from import_ledger where source_file = 'earlier.csv'") == [
        (summary.notes[0],)]
    no_teacher = write_surveycto(tmp_path / "broken.csv", [visit("c2", "T1", "S1", 0)],
                                 header=[h for h in header if h != "teacher_id"])
    refused = load(setup, no_teacher).files[0]
    assert refused.refused.startswith("broken.csv: required column(s) missing: teacher_id")


def test_cli_prints_the_note_and_json_carries_it(tmp_path, setup):
    header = [h for h in SURVEYCTO_HEADER if h != "questioning"]
    export = write_surveycto(tmp_path / "earlier.csv", [visit("c1", "T1", "S1", 0, scores=GOOD)], header=header)
    code, text, err = run_cli("ingest", ["--config", str(setup.source_path), "--dry-run", str(export)])
    assert code == 0, err
    assert "note: practice questioning: no column in this file" in text
    _, out, _ = run_cli("ingest", ["--config", str(setup.source_path), "--json", str(export)])
    assert json.loads(out)["files"][0]["notes"][0].startswith("practice questioning")


def test_bundled_sample_file_imports_cleanly(tmp_path, config_factory, load, monkeypatch):
    """sample_data/surveycto_followup_sample.csv on top of the sample roster: every row taken
    except the one deliberately bad row; a second import changes nothing."""
    monkeypatch.delenv("SUSTAIN_SALT", raising=False)  # the sample's teachers are keyed with the demo salt
    config = config_factory()
    sample = ROOT_DIR / "sample_data"
    load(config, sample / "roster.csv")
    first = load(config, sample / "surveycto_followup_sample.csv").files[0]
    assert (first.kind, first.refused) == ("surveycto", None)
    # 27 visits + one submission pending then approved (the approved row kept, the pending one
    # "unchanged") + one bad row
    assert (first.rows, first.inserted, first.updated, first.unchanged, first.quarantined) == (30, 28, 0, 1, 1)
    assert [(p["row"], p["column"], p["rule"]) for p in first.problems] == [(30, "visit_date", "bad_date")]
    second = load(config, sample / "surveycto_followup_sample.csv").files[0]
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 29)
