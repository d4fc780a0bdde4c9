"""The synthetic sample data: deterministic, in the servers' export formats, with known bad rows."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from sample_data import generate as gen

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
PRACTICES = ["group_work", "questioning", "teaching_aids", "lesson_planning",
             "learning_environment", "peer_feedback"]
HINDRANCES = ["no_followup", "teacher_resistance", "management_resistance", "parent_resistance",
              "low_pay", "political_interference", "no_resources", "other"]
KOBO_HEADERS = (
    ["start", "end", "visit/visit_date", "visit/observer_id", "school/district", "school/cluster",
     "school/school_id", "teacher/teacher_id", "teacher/teacher_status"]
    + [f"practices/{p}" for p in PRACTICES]
    + ["context/hindrances"] + [f"context/hindrances/{h}" for h in HINDRANCES]
    + ["context/cop_active", "context/cop_meetings_3m", "comments", "meta/instanceID",
       "meta/rootUuid", "meta/deprecatedID", "_id", "_uuid", "_submission_time",
       "_validation_status", "_notes", "_status", "_submitted_by", "__version__", "_tags", "_index"])
ODK_HEADERS = (
    ["SubmissionDate", "start", "end", "visit-visit_date", "visit-observer_id", "school-district",
     "school-cluster", "school-school_id", "teacher-teacher_id", "teacher-teacher_status"]
    + [f"practices-{p}" for p in PRACTICES]
    + ["context-hindrances", "context-cop_active", "context-cop_meetings_3m", "comments",
       "meta-instanceID", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
       "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion"])
RULES = {"missing_instance_id", "unknown_school", "unknown_teacher", "school_not_in_district",
         "bad_date", "impossible_date", "date_outside_programme", "bad_score", "unknown_option",
         "bad_status", "bad_integer"}
STATUSES = {"present", "absent", "transferred", "left", "on_leave"}
OUTPUTS = list(gen.FILES.values()) + ["truth.json", "bad_rows.json"]
FORM_FIELDS = ["visit_date", "observer_id", "district", "cluster", "school_id", "teacher_id",
               "teacher_status", *PRACTICES, "hindrances", "cop_active", "cop_meetings_3m",
               "comments"]


def kobo_col(field: str) -> str:
    return next(h for h in KOBO_HEADERS if h.split("/")[-1] == field and not h.startswith(
        "context/hindrances/"))


def odk_col(field: str) -> str:
    return next(h for h in ODK_HEADERS if h.split("-")[-1] == field)


def read_kobo(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def read_odk(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def read_xlsx(path: Path) -> list[dict]:
    ws = load_workbook(path, read_only=True).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    return [{h: ("" if v is None else str(v)) for h, v in zip(rows[0], r)} for r in rows[1:]]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("small")
    truth = gen.generate(out, teachers=120, seed=7)
    return out, truth


@pytest.mark.slow  # starts `python -m sample_data.generate`
def test_deterministic_and_cli(small, tmp_path):
    out, _ = small
    # second run through the command line
    subprocess.run([sys.executable, "-m", "sample_data.generate", "--teachers", "120", "--seed", "7",
                    "--out", str(tmp_path)], check=True, cwd=ROOT, capture_output=True)
    for name in OUTPUTS:
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_other_seed_differs(small, tmp_path):
    out, _ = small
    gen.generate(tmp_path, teachers=120, seed=8)
    assert (out / gen.FILES["kobo"]).read_bytes() != (tmp_path / gen.FILES["kobo"]).read_bytes()


def test_kobo_csv_format(small):
    out, truth = small
    for key in ("kobo", "kobo_earlier"):
        raw = (out / gen.FILES[key]).read_bytes().decode("utf-8")
        assert not raw.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(raw, newline=""), delimiter=";"))
        assert rows[0] == KOBO_HEADERS
        assert len(rows) - 1 == truth["rows"][gen.FILES[key]]
        # every field quoted: re-serialising with QUOTE_ALL gives back the file exactly
        buf = io.StringIO()
        csv.writer(buf, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
        assert buf.getvalue() == raw
    rows = read_kobo(out / gen.FILES["kobo"])
    good = [r for r in rows if r["meta/instanceID"]]
    assert all(r["meta/instanceID"] == "uuid:" + r["_uuid"] for r in good)
    assert all(r["meta/rootUuid"].startswith("uuid:") for r in good)
    assert [int(r["_index"]) for r in rows] == list(range(1, len(rows) + 1))
    assert len({r["_id"] for r in rows}) == len(rows)
    assert {r["school/district"] for r in rows} <= {"Thatta", "Sanghar", "Mirpurkhas"}
    present = [r for r in rows if r["teacher/teacher_status"] == "present"]
    assert all(r[f"context/hindrances/{h}"] in ("0", "1") for r in present for h in HINDRANCES)
    absent = [r for r in rows if r["teacher/teacher_status"] in ("absent", "on_leave")]
    assert all(r["practices/group_work"] == "" and r["context/hindrances/low_pay"] == ""
               for r in absent)
    assert all(r["start"].endswith("+05:00") and len(r["_submission_time"]) == 19 for r in rows)


def test_odk_csv_format(small):
    out, truth = small
    for key in ("odk", "odk_earlier"):
        with open(out / gen.FILES[key], encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ODK_HEADERS
        assert len(rows) - 1 == truth["rows"][gen.FILES[key]]
    rows = read_odk(out / gen.FILES["odk"])
    assert all(r["KEY"] == r["meta-instanceID"] for r in rows)
    assert all(r["SubmissionDate"].endswith("Z") and len(r["SubmissionDate"]) == 24 for r in rows)
    assert {r["school-district"] for r in rows} <= {"Quetta", "Pishin", "Lasbela"}


def test_xlsx_format(small):
    out, truth = small
    wb = load_workbook(out / gen.FILES["xlsx"])
    ws = wb.worksheets[0]
    assert [c.value for c in ws[1]] == KOBO_HEADERS
    assert ws.max_row - 1 == truth["rows"][gen.FILES["xlsx"]]
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)
    rows = read_xlsx(out / gen.FILES["xlsx"])
    assert {r["school/district"] for r in rows} >= {"Thatta", "Quetta"}


def test_bad_rows_point_at_the_bad_value(small):
    out, truth = small
    bad = json.loads((out / "bad_rows.json").read_text(encoding="utf-8"))
    assert 15 <= len(bad) <= 25 and len(bad) == truth["bad_rows"]
    assert {b["rule"] for b in bad} == RULES
    assert {b["file"] for b in bad} == {gen.FILES["kobo"], gen.FILES["odk"], gen.FILES["xlsx"]}
    files = {gen.FILES["kobo"]: (read_kobo(out / gen.FILES["kobo"]), kobo_col),
             gen.FILES["odk"]: (read_odk(out / gen.FILES["odk"]), odk_col),
             gen.FILES["xlsx"]: (read_xlsx(out / gen.FILES["xlsx"]), kobo_col)}
    roster = {r["teacher_id"]: r for r in read_odk(out / "roster.csv")}
    schools = {r["school_id"]: r["district"] for r in roster.values()}
    for b in bad:
        rows, col = files[b["file"]]
        row = rows[b["row"] - 1]
        if b["rule"] == "missing_instance_id":
            ids = (["meta/instanceID", "meta/rootUuid", "_uuid"] if "meta/rootUuid" in row
                   else ["meta-instanceID", "KEY"])
            assert all(row[c] == "" for c in ids), b
            continue
        assert row[col(b["column"])] == b["value"], b
        if b["rule"] == "school_not_in_district":
            assert schools[row[col("school_id")]] != b["value"]
        if b["rule"] == "unknown_teacher":
            assert b["value"] not in roster
        if b["rule"] == "unknown_school":
            assert b["value"] not in schools
    # the other rows hold none of the bad values
    bad_rows = {(b["file"], b["row"]) for b in bad}
    for name, (rows, col) in files.items():
        for i, row in enumerate(rows, 1):
            if (name, i) in bad_rows:
                continue
            assert row[col("teacher_status")] in STATUSES
            assert row[col("teacher_id")] in roster
            assert schools[row[col("school_id")]] == row[col("district")]
            assert all(row[col(p)] in ("", "1", "2", "3", "4", "na") for p in PRACTICES)
            assert set(row[col("hindrances")].split()) <= set(HINDRANCES)
            assert row[col("cop_meetings_3m")] in ("", "0", "1", "2", "3")


def test_kobo_edits_share_root(small):
    out, truth = small
    main = read_kobo(out / gen.FILES["kobo"])
    earlier = {r["meta/instanceID"]: r for r in read_kobo(out / gen.FILES["kobo_earlier"])}
    edited = [r for r in main if r["meta/deprecatedID"]]
    assert len(edited) == len(truth["kobo_edited_root_uuids"]) >= 3
    assert sorted(r["meta/rootUuid"] for r in edited) == truth["kobo_edited_root_uuids"]
    for new in edited:
        old = earlier[new["meta/deprecatedID"]]
        assert old["meta/rootUuid"] == new["meta/rootUuid"] == old["meta/instanceID"]
        assert old["meta/deprecatedID"] == ""
        assert new["meta/instanceID"] != old["meta/instanceID"] and new["_uuid"] != old["_uuid"]
        assert new["_id"] == old["_id"] and new["end"] > old["end"]
        diff = [f for f in FORM_FIELDS if old[kobo_col(f)] != new[kobo_col(f)]]
        assert len(diff) == 1, diff
    # the unchanged submissions of the earlier export are identical in the main one
    by_uuid = {r["_uuid"]: r for r in main}
    same = [r for r in earlier.values() if r["_uuid"] in by_uuid]
    assert same and all({k: v for k, v in r.items() if k != "_index"}
                        == {k: v for k, v in by_uuid[r["_uuid"]].items() if k != "_index"}
                        for r in same)


def test_odk_edits_same_key(small):
    out, truth = small
    main = {}
    for r in read_odk(out / gen.FILES["odk"]):
        main.setdefault(r["KEY"], r)
    earlier = read_odk(out / gen.FILES["odk_earlier"])
    originals = [r for r in earlier if main[r["KEY"]]["Edits"] == "1"]
    assert sorted(r["KEY"] for r in originals) == truth["odk_edited_keys"]
    for old in originals:
        new = main[old["KEY"]]
        assert old["Edits"] == "0" and new["ReviewState"] == "edited"
        assert len([f for f in FORM_FIELDS if old[odk_col(f)] != new[odk_col(f)]]) == 1


def test_duplicates(small):
    out, truth = small
    kobo = read_kobo(out / gen.FILES["kobo"])
    groups = {}
    for r in kobo:
        if r["_uuid"]:
            groups.setdefault(r["_uuid"], []).append(r)
    dups = sorted(u for u, g in groups.items() if len(g) > 1)
    assert dups == truth["kobo_duplicate_uuids"]
    for u in dups:
        a, b = groups[u]
        assert a["_id"] != b["_id"]
        strip = lambda r: {k: v for k, v in r.items() if k not in ("_id", "_index")}
        assert strip(a) == strip(b)
    with open(out / gen.FILES["odk"], encoding="utf-8", newline="") as fh:
        lines = [tuple(r) for r in csv.reader(fh)][1:]
    assert len(lines) - len(set(lines)) == len(truth["odk_duplicate_keys"]) >= 2


def test_roster_and_cop(small):
    out, truth = small
    roster = read_odk(out / "roster.csv")
    assert len(roster) == 120 and list(roster[0]) == gen.ROSTER_HEADERS
    assert len({r["district"] for r in roster}) == 6
    assert {r["programme"] for r in roster} == {"CBM", "CBT"}
    assert sum(r["teacher_name"][0] in "=+-@" for r in roster) == 2
    assert any("\u0600" <= r["teacher_name"][0] <= "\u06ff" for r in roster)
    cop = read_odk(out / "cop_meetings.csv")
    assert list(cop[0]) == gen.COP_HEADERS
    assert {r["cluster"] for r in cop} <= {r["cluster"] for r in roster}


def test_truth_parameters(small):
    _, truth = small
    for p in PRACTICES:
        assert 10 <= truth["half_life_months"]["CBM"][p] <= 14
        assert 5 <= truth["half_life_months"]["CBT"][p] <= 7
        assert 0.65 <= truth["p0"][p] <= 0.9
    assert all(h["assumption"] for h in truth["hindrances"].values())
    assert all(0.10 <= h["prevalence"] <= 0.45 for h in truth["hindrances"].values())


@pytest.mark.slow  # generates the whole sample
def test_committed_demo_is_a_fresh_generation(tmp_path):
    truth = gen.generate(tmp_path)
    for name in OUTPUTS:
        assert (SAMPLE / name).exists(), f"sample_data/{name} missing: run python -m sample_data.generate"
        assert (SAMPLE / name).read_bytes() == (tmp_path / name).read_bytes(), (
            f"sample_data/{name} is stale: run python -m sample_data.generate")
    assert 0.70 <= truth["score_model"]["implied_reliability"] <= 0.80
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    for name, n in truth["rows"].items():
        assert f"| {n:,} |" in readme, (name, n)
    assert f"SD {truth['score_model']['noise_sd']}" in readme


def test_form_builds_and_converts(tmp_path):
    sys.path.insert(0, str(ROOT / "forms"))
    try:
        import build_form
    finally:
        sys.path.pop(0)
    path = build_form.build(out=tmp_path / "form.xlsx")
    assert path.read_bytes() == (ROOT / "forms" / "sustain_followup.xlsx").read_bytes(), (
        "forms/sustain_followup.xlsx is stale: run python forms/build_form.py")
    wb = load_workbook(path)
    assert wb.sheetnames == ["survey", "choices", "settings"]
    survey = list(wb["survey"].iter_rows(values_only=True))
    names = [r[1] for r in survey[1:]]
    assert set(PRACTICES + ["hindrances", "cop_active", "cop_meetings_3m", "teacher_status"]) <= set(names)
    choices = list(wb["choices"].iter_rows(values_only=True))
    assert [r[1] for r in choices if r[0] == "hindrance"] == HINDRANCES
    assert [r[1] for r in choices if r[0] == "practice_score"] == ["1", "2", "3", "4", "na"]
    pyxform = pytest.importorskip("pyxform.xls2xform")
    warnings: list[str] = []
    xform = pyxform.convert(xlsform=str(path), warnings=warnings).xform
    assert 'id="sustain_followup"' in xform and "/data/practices/group_work" in xform
    assert not warnings, warnings
