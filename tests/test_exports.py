"""report/exports.py: round trips, formula injection, Urdu bytes, codebook and bundles."""
import datetime as dt
import io
import zipfile

import openpyxl
import pandas as pd
import pytest

from metrics import Filters
from report import exports
from sustain.config import load_config

URDU = "اساتذہ نے گروپ ورک جاری رکھا"
HOSTILE = ["=HYPERLINK(\"http://x\",\"click\")", "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "plain", "a=b"]


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture
def frame():
    return pd.DataFrame({
        "teacher_key": ["k1", "k2", "k3"],
        "school_name": [URDU, "GBPS Dhabeji", "GGHS Mehran Colony"],
        "months": [0, 3, 12],
        "score": [3, 1, 4],
        "rate": [0.5, None, 1.0],
        "retained": [True, False, True],
        "visit_date": [dt.date(2024, 1, 2), dt.date(2024, 3, 9), dt.date(2024, 12, 1)],
    })


def test_csv_round_trip_and_urdu_bytes(frame):
    data = exports.to_csv_bytes(frame)
    assert URDU.encode("utf-8") in data  # byte for byte, no BOM, no escaping
    assert not data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8", keep_default_na=True)
    assert back["school_name"].tolist() == frame["school_name"].tolist()
    assert back["months"].tolist() == [0, 3, 12]
    assert back["retained"].tolist() == [True, False, True]
    assert back["rate"].isna().tolist() == [False, True, False]
    assert back["visit_date"].tolist() == ["2024-01-02", "2024-03-09", "2024-12-01"]


def test_csv_neutralises_formulas():
    data = exports.to_csv_bytes(pd.DataFrame({"value": HOSTILE, "n": range(len(HOSTILE))}))
    back = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    for written, original in zip(back["value"], HOSTILE):
        if original[0] in "=+-@\t\r":
            assert written == "'" + original
        else:
            assert written == original
    assert back["n"].tolist() == [str(i) for i in range(len(HOSTILE))]  # numbers untouched


def test_negative_numbers_stay_numbers():
    data = exports.to_csv_bytes(pd.DataFrame({"delta": [-1.5, 2.0]}))
    assert pd.read_csv(io.BytesIO(data))["delta"].tolist() == [-1.5, 2.0]


def test_xlsx_round_trip_and_no_formulas(frame):
    hostile = pd.DataFrame({"value": HOSTILE, "n": range(len(HOSTILE))})
    data = exports.to_xlsx_bytes({"Data": frame, "Hostile": hostile})
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["Data", "Hostile"]
    rows = list(workbook["Data"].iter_rows(values_only=True))
    assert rows[0] == tuple(frame.columns)
    assert [r[1] for r in rows[1:]] == frame["school_name"].tolist()
    assert [r[2] for r in rows[1:]] == [0, 3, 12]
    assert [r[4] for r in rows[1:]] == [0.5, None, 1.0]
    assert [r[5] for r in rows[1:]] == [True, False, True]
    assert [r[6].date() for r in rows[1:]] == frame["visit_date"].tolist()
    cells = [row[0] for row in workbook["Hostile"].iter_rows(min_row=2)]
    for cell, original in zip(cells, HOSTILE):
        assert cell.data_type == "s"  # a string, never a formula
        assert cell.value == ("'" + original if original[0] in "=+-@\t\r" else original)
    back = pd.read_excel(io.BytesIO(data), sheet_name="Data")
    assert back["school_name"].tolist() == frame["school_name"].tolist()


def test_parquet_round_trip(frame):
    back = pd.read_parquet(io.BytesIO(exports.to_parquet_bytes(frame)))
    pd.testing.assert_frame_equal(back, frame)


def test_zip_bytes():
    data = exports.zip_bytes({"a.csv": b"x\n1\n", "codebook.csv": "é".encode()})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["a.csv", "codebook.csv"]
        assert archive.read("codebook.csv") == "é".encode()


def test_codebook_documents_every_column(config):
    from metrics.records import tidy_columns

    frame = pd.DataFrame({c: ["x"] for c in tidy_columns(config)}).assign(source_sha256=["abc"])
    ledger = pd.DataFrame([
        {"run_id": "r1", "source_file": "kobo.csv", "source_sha256": "abc", "kind": "kobo",
         "finished_at": "2026-01-01 10:00:00", "rows_read": 3, "inserted": 3, "updated": 0, "unchanged": 0,
         "quarantined": 0, "config_version": "v1"},
        {"run_id": "r1", "source_file": "other.csv", "source_sha256": "zzz", "kind": "kobo",
         "finished_at": "2026-01-01 10:00:00", "rows_read": 1, "inserted": 1, "updated": 0, "unchanged": 0,
         "quarantined": 0, "config_version": "v1"},
    ])
    book = exports.codebook(frame, Filters(district=("Quetta",)), config, ledger)
    columns = book[book["section"] == "column"]
    assert columns["name"].tolist() == tidy_columns(config)
    assert "(not documented)" not in columns["meaning"].tolist()
    assert all(columns["unit"].str.len() > 0)
    described = columns.set_index("name")
    # row-level data: `retained` is a flag per observation (in an indicator's table it is a count)
    assert described.loc["retained", "unit"] == "true/false"
    assert "experience_band" in described.index and "teacher_status" in described.index
    for hindrance in config.hindrances:
        assert described.loc[f"hindrance_{hindrance.code}", "unit"] == "true/false"
        assert hindrance.label in described.loc[f"hindrance_{hindrance.code}", "meaning"]
    table_book = exports.codebook(pd.DataFrame({"rate": [0.5], "retained": [3], "n": [6]}), Filters(), config,
                                  ledger, privacy=exports.AS_SHOWN)
    assert table_book.set_index("name").loc["retained", "unit"] == "count"
    about = dict(book[book["section"] == "about"][["name", "meaning"]].itertuples(index=False))
    assert about["filters"] == "district=Quetta"
    assert about["config_version"] == config.version
    sources = book[book["section"] == "source"]
    assert sources["name"].tolist() == ["kobo.csv"]  # only the file the rows came from


def test_data_bundles(config, frame):
    frame = frame.assign(source_sha256="abc")
    ledger = pd.DataFrame(columns=["run_id", "source_file", "source_sha256", "kind", "finished_at", "rows_read",
                                   "inserted", "updated", "unchanged", "quarantined", "config_version"])
    for fmt in ("csv", "parquet"):
        with zipfile.ZipFile(io.BytesIO(exports.data_bundle(frame, Filters(), config, ledger, fmt))) as archive:
            assert sorted(archive.namelist()) == sorted([f"data.{fmt}", "codebook.csv"])
            book = pd.read_csv(io.BytesIO(archive.read("codebook.csv")))
            assert set(frame.columns) <= set(book["name"])
    workbook = openpyxl.load_workbook(io.BytesIO(exports.data_bundle(frame, Filters(), config, ledger, "xlsx")))
    assert workbook.sheetnames == ["Data", "Codebook"]
    assert set(exports.BUNDLES) == {"csv", "xlsx", "parquet"}


def test_visit_plan_workbook(config):
    plan = pd.DataFrame({"rank": [1], "school_id": ["S1"], "school_name": ["=cmd|' /C calc'!A0"], "cluster": ["C"],
                         "district": ["D"], "need_score": [0.6789], "reason": ["retention fell"], "n": [6],
                         "recent_visits": [2], "last_visit": [dt.date(2024, 12, 14)]})
    workbook = openpyxl.load_workbook(io.BytesIO(exports.visit_plan_workbook(plan, Filters(district=("D",)), config)))
    assert workbook.sheetnames == ["Visit plan", "About"]
    rows = list(workbook["Visit plan"].iter_rows(values_only=True))
    assert rows[0][-3:] == ("planned visit date", "visitor", "notes")
    assert rows[1][2] == "'=cmd|' /C calc'!A0" and rows[1][5] == 0.68
    about = dict(workbook["About"].iter_rows(min_row=2, values_only=True))
    assert about["Filters applied"] == "district=D"
    assert about["Config version"] == config.version
    assert "need_score" in about["What the score means"]
    dt.datetime.fromisoformat(about["Generated"])
