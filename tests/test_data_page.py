"""The Data page (imports, quarantine, coverage, upload, download) through AppTest on a database
built by the real ingest from sample_data/, plus one hostile file; the record tables and the
upload helpers on their own."""
import hashlib
import io
import json
import shutil
import zipfile

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from metrics import Filters
from metrics.records import (PREVIEW_ROWS, QUARANTINE_COLUMNS, ROWS_PER_BATCH, import_ledger, quarantine_rows,
                             tidy_batches, tidy_columns, tidy_observations, tidy_preview)
from support import ROOT_DIR, visit, write_kobo

SCRIPT = "<script>alert('x')</script>"
TABS = ["Imports", "Quarantine", "Coverage", "Upload", "Download"]


def hostile_file(path):
    """One visit of a sample teacher whose score is a script: quarantined as bad_score."""
    return write_kobo(path, [visit("hostile-1", "T-00001", "SCH-0001", 0, scores={"group_work": SCRIPT})])


def new_visit_file(path):
    """One valid month-3 visit of a sample teacher that the sample data does not hold."""
    return write_kobo(path, [visit("upload-new-1", "T-00001", "SCH-0001", 3, visit_date="2024-03-20",
                                   scores={"group_work": "3", "questioning": "2"}, hindrances="low_pay")])


@pytest.fixture(scope="module")
def data_db(sample_db, tmp_path_factory):
    """A copy of the session's sample database with one hostile file imported (demo salt, as the
    sample data)."""
    import os

    from ingest import ingest_files
    from sustain.config import load_config

    folder = tmp_path_factory.mktemp("data_page")
    path = folder / "sustain.duckdb"
    shutil.copy(sample_db, path)
    salt = os.environ.pop("SUSTAIN_SALT", None)
    try:
        result = ingest_files([hostile_file(folder / "hostile.csv")], load_config(), path)
    finally:
        if salt is not None:
            os.environ["SUSTAIN_SALT"] = salt
    assert result.ok and result.files[0].quarantined == 1
    return path


@pytest.fixture
def app(data_db, monkeypatch, page_caches):
    def run(db=data_db, **query):
        monkeypatch.setenv("SUSTAIN_DB", str(db))
        page_caches()
        at = AppTest.from_file(str(ROOT_DIR / "pages/data.py"), default_timeout=60)
        for key, values in query.items():
            at.query_params[key] = values
        return at.run()
    return run


@pytest.fixture(scope="module")
def rendered(data_db):
    """The page as it first opens, run once for the tests that only read it."""
    import streamlit as st

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SUSTAIN_DB", str(data_db))
        st.cache_data.clear()
        st.cache_resource.clear()
        return AppTest.from_file(str(ROOT_DIR / "pages/data.py"), default_timeout=60).run()


def tab(at, label):
    return next(t for t in at.tabs if t.label == label)


def count(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_data_page_renders_every_tab(rendered):
    at = rendered
    assert not at.exception
    assert at.title[0].value == "Data"
    assert [t.label for t in at.tabs] == TABS
    ledger = tab(at, "Imports").dataframe[0].value
    assert len(ledger) == 8 and "hostile.csv" in ledger["source_file"].tolist()
    assert len(tab(at, "Coverage").dataframe[0].value)
    assert "rests on" in tab(at, "Coverage").caption[-1].value.lower()
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download quarantined rows (CSV)", "Download CSV (zip with codebook)", "Download Excel (with codebook)",
                      "Download Parquet (zip with codebook)"]
    assert not any(b.proto.disabled for b in at.get("download_button"))


def test_download_tab_counts_in_duckdb(rendered, data_db):
    """The Download tab shows the tidy export's row count and its first rows without reading it
    (metrics "tidy_preview": count and limit in DuckDB); the files are built only on a click."""
    from sustain.config import load_config

    with duckdb.connect(str(data_db), read_only=True) as con:
        everyone = tidy_observations(con, Filters(), [], load_config())
    download = tab(rendered, "Download")
    assert download.caption[0].value.startswith(f"{len(everyone):,} observations (one row per teacher")
    preview = download.dataframe[0].value
    assert len(everyone) > PREVIEW_ROWS == len(preview)
    pd.testing.assert_frame_equal(preview.reset_index(drop=True), everyone.head(PREVIEW_ROWS), check_dtype=False)


def test_quarantine_shows_a_script_as_text(rendered):
    at = rendered
    table = tab(at, "Quarantine").dataframe[0].value
    assert list(table.columns) == QUARANTINE_COLUMNS
    hostile = table[table["file"] == "hostile.csv"]
    assert hostile[["row", "column", "value", "rule"]].values.tolist() == [[1, "group_work", SCRIPT, "bad_score"]]
    assert not at.get("html")
    assert all(SCRIPT not in m.value for m in [*at.markdown, *at.caption])


def test_quarantine_download_holds_the_whole_row(rendered):
    """Issue 9, item 13: the quarantine keeps the whole row (teacher id as its key), in the Data
    page's table and in its download, so the row can be fixed and imported again."""
    from report import exports
    from sustain.pseudonym import DEMO_SALT, shown_id

    at = rendered
    table = tab(at, "Quarantine").dataframe[0].value
    assert "Download quarantined rows (CSV)" in [b.proto.label for b in tab(at, "Quarantine").get("download_button")]
    raw = json.loads(table.loc[table["file"] == "hostile.csv", "raw_row"].iloc[0])
    assert list(raw)[:3] == ["start", "end", "visit/visit_date"]  # the file's own headers, in its order
    assert raw["practices/group_work"] == SCRIPT and raw["_uuid"] == "hostile-1"
    assert raw["teacher/teacher_id"] == shown_id(DEMO_SALT, "T-00001") != "T-00001"
    download = pd.read_csv(io.BytesIO(exports.to_csv_bytes(table)))
    assert "raw_row" in download.columns
    assert json.loads(download.loc[download["file"] == "hostile.csv", "raw_row"].iloc[0]) == raw


def test_filter_changes_the_tables(app):
    at = app()
    coverage = tab(at, "Coverage").dataframe[0].value
    rows = tab(at, "Download").dataframe[0].value
    at.multiselect(key="filter_district").set_value(["Quetta"]).run()
    assert not at.exception
    quetta = tab(at, "Coverage").dataframe[0].value
    assert quetta["expected"].tolist() != coverage["expected"].tolist()
    assert set(tab(at, "Download").dataframe[0].value["district"]) == {"Quetta"}
    assert set(rows["district"]) != {"Quetta"}


def test_coverage_filtered_on_a_group_is_that_groups_row(data_db):
    """Coverage counts a teacher once per round without a distinct count where the rows allow it,
    and reads a hindrance filter from each teacher's visits: filtered on a hindrance or a practice,
    its rows are that group's rows of the table grouped by it (nothing suppressed)."""
    from metrics.context import coverage
    from sustain.config import load_config

    config = load_config()
    unsuppressed = config.model_copy(update={"thresholds": config.thresholds.model_copy(update={"min_group_n": 0})})
    quetta = Filters(district=("Quetta",))
    with duckdb.connect(str(data_db), read_only=True) as con:
        for column, value in [("hindrance", "low_pay"), ("practice", "questioning")]:
            grouped = coverage(con, quetta, [column, "months"], unsuppressed)
            group = grouped[grouped[column] == value].drop(columns=[column]).reset_index(drop=True)
            filtered = coverage(con, quetta.replace(**{column: (value,)}), ["months"], unsuppressed)
            assert len(filtered) > 1 and filtered["observed"].sum() > 0
            pd.testing.assert_frame_equal(filtered, group, obj=f"{column}={value}")
        # two practices: each expected teacher twice a round, counted once
        teachers = coverage(con, quetta, ["months"], unsuppressed)
        practices = coverage(con, quetta.replace(practice=("group_work", "questioning")), ["months"], unsuppressed)
    assert practices["teachers"].tolist() == teachers["teachers"].tolist()
    assert practices["expected"].tolist() == (2 * teachers["expected"]).tolist()


def test_upload_preview_then_import(app, data_db, tmp_path, monkeypatch):
    monkeypatch.delenv("SUSTAIN_SALT", raising=False)  # the sample data's demo salt
    db = tmp_path / "copy.duckdb"
    shutil.copy(data_db, db)
    before, visits = digest(db), count(db, "select count(*) from visits")
    data = new_visit_file(tmp_path / "new_visits.csv").read_bytes()
    at = app(db)
    at.file_uploader(key="upload_file").set_value(("new_visits.csv", data, "text/csv")).run()
    assert not at.exception
    upload = tab(at, "Upload")
    assert upload.subheader[0].value == "Preview (dry run: nothing written)"
    assert "public demo salt" in upload.warning[0].value  # as the CLI says (issue 9, item 3)
    summary = upload.dataframe[0].value
    assert summary[["file", "kind", "rows", "inserted", "quarantined"]].values.tolist() == [
        ["new_visits.csv", "kobo", 1, 1, 0]]
    assert digest(db) == before  # the dry run wrote nothing
    at.button(key="upload_import").click().run()
    assert not at.exception
    assert count(db, "select count(*) from visits") == visits + 1
    assert count(db, "select count(*) from import_ledger where source_file = 'new_visits.csv'") == 1
    assert tab(at, "Upload").subheader[0].value == "Imported"
    assert "new_visits.csv" in tab(at, "Imports").dataframe[0].value["source_file"].tolist()


def test_refused_upload_says_why(app, tmp_path):
    at = app()
    at.file_uploader(key="upload_file").set_value(("twice.csv", b"a,a\n1,2\n", "text/csv")).run()
    upload = tab(at, "Upload")
    assert "refused" in upload.error[0].value
    assert any("duplicate header" in t.value for t in upload.text)
    assert at.button(key="upload_import").disabled


# -- the helpers behind the page -------------------------------------------------------------
def test_preview_upload_is_a_dry_run(data_db, tmp_path, monkeypatch):
    from app import uploads
    from sustain.config import load_config

    monkeypatch.delenv("SUSTAIN_SALT", raising=False)  # the sample data's demo salt
    config = load_config()
    db = tmp_path / "copy.duckdb"
    shutil.copy(data_db, db)
    before = digest(db)
    data = hostile_file(tmp_path / "again.csv").read_bytes()
    result = uploads.preview_upload("folder/../again.csv", data, config, db)
    assert result.dry_run and result.ok
    summary = uploads.summary_frame(result)
    assert summary["file"].tolist() == ["again.csv"]
    # the sample database imported this content before: the preview says so, and lists the row kept aside then
    assert summary["notes"].str.endswith(": not read again").tolist() == [True]
    problems = uploads.problems_frame(result)
    assert problems[["row", "column", "value", "rule"]].values.tolist() == [[1, "group_work", SCRIPT, "bad_score"]]
    assert digest(db) == before
    too_big = uploads.preview_upload("big.csv", b"x" * (int(config.thresholds.max_file_mb * 1e6) + 1), config, db)
    assert "over the size cap" in uploads.refusals(too_big)[0]
    assert uploads.safe_file_name("..\\evil/../../x.xlsx") == "x.xlsx"
    assert uploads.upload_limit_mb(config) >= 1


def test_preview_is_the_first_rows_of_the_export_and_its_count(data_db):
    """tidy_preview reads only the teachers up to the PREVIEW_ROWS-th scored row's key, and counts
    without the export's joins: the export's first rows (unscored visits among them) and its row
    count, whatever the filters; an export with fewer scored rows than that is read whole."""
    from sustain.config import load_config

    config = load_config()
    views = [Filters(hindrance=("low_pay",)), Filters(district=("Quetta",), practice=("group_work",)),
             Filters(months_min=6), Filters(school_id=("SCH-0001",)), Filters(scope=("Pishin",)),
             Filters(district=("Nowhere",))]
    heads = []
    with duckdb.connect(str(data_db), read_only=True) as con:
        for filters in views:
            export = tidy_observations(con, filters, [], config)
            preview = tidy_preview(con, filters, [], config)
            assert preview.attrs["rows"] == len(export), filters.describe()
            # the types as DuckDB gives them for those rows (a flag without an empty cell among them is bool)
            pd.testing.assert_frame_equal(preview, export.head(PREVIEW_ROWS), check_dtype=False,
                                          obj=filters.describe())
            heads.append(export.head(PREVIEW_ROWS))
    # the views hold what the shortcut must get right: unscored rows among the first, a short export
    assert any(head["practice"].isna().any() for head in heads)
    assert any(0 < head["practice"].notna().sum() < PREVIEW_ROWS for head in heads)


@pytest.mark.parametrize("place", [{"district": ("Quetta",)}, {"province": ("Sindh",)}, {"scope": ("Thatta", "Pishin")}])
def test_a_place_with_a_hindrance_filter_exports_its_teachers_who_reported_it_anywhere(sample_db, place):
    """With a place, the export tests the hindrance among the teachers with a placed visit there
    (`view_teacher_hindrances`): the same rows as the place's export kept to the teachers who
    reported the hindrance at any placed visit of theirs, in the place or not (the filter's rule)."""
    from sustain.config import load_config

    config = load_config()
    with duckdb.connect(str(sample_db), read_only=True) as con:
        reported = set(con.execute("select distinct teacher_key from model_visits "
                                   "where list_contains(hindrances, 'no_resources')").df()["teacher_key"])
        whole = tidy_observations(con, Filters(**place), [], config)
        filtered = tidy_observations(con, Filters(**place, hindrance=("no_resources",)), [], config)
        preview = tidy_preview(con, Filters(**place, hindrance=("no_resources",)), [], config)
    expected = whole[whole["teacher_key"].isin(reported)].reset_index(drop=True)
    assert 0 < len(expected) < len(whole)
    pd.testing.assert_frame_equal(filtered, expected)
    assert preview.attrs["rows"] == len(expected)
    pd.testing.assert_frame_equal(preview, expected.head(PREVIEW_ROWS), check_dtype=False)


def test_records(data_db):
    from report import exports
    from sustain.config import load_config

    config = load_config()
    with duckdb.connect(str(data_db), read_only=True) as con:
        ledger = import_ledger(con, Filters(), [], config)
        quarantine = quarantine_rows(con, Filters(), [], config)
        everyone = tidy_observations(con, Filters(), [], config)
        quetta = tidy_observations(con, Filters(district=("Quetta",), practice=("group_work",)), [], config)
        limited = (quarantine_rows(con, Filters(scope=("Quetta",)), [], config),
                   tidy_observations(con, Filters(scope=("Quetta",)), [], config))
        observations = con.execute("select count(*) from model_observations").fetchone()[0]
        visits = con.execute("select submission_id, teacher_status, hindrances from model_visits").df()
    assert len(ledger) == 8 and len(quarantine) == 22
    assert list(everyone.columns) == tidy_columns(config)
    assert limited[0].empty and set(limited[1]["district"]) == {"Quetta"}  # a viewer limited to Quetta
    scored = everyone[everyone["practice"].notna()]
    assert len(scored) == observations > 0
    assert set(quetta["district"]) == {"Quetta"} and set(quetta["practice"].dropna()) == {"group_work"}
    assert everyone["teacher_key"].str.fullmatch(r"[0-9a-f]{16,}").all()
    assert (scored["retained"] == (scored["score"] >= 3)).all()
    # every placed visit is in it: one row per scored practice, or one row (no practice) when none was
    # scored; with its teacher status, and its hindrances when the teacher was present (asked only then)
    unscored = everyone[everyone["practice"].isna()]
    assert unscored[["score", "retained"]].isna().all().all()
    assert set(unscored["teacher_status"]) >= {"absent", "left", "transferred"}
    assert (scored["teacher_status"] == "present").all()
    per_visit = everyone.drop_duplicates(["teacher_key", "months"]).set_index(["teacher_key", "months"])
    assert len(per_visit) == len(visits)
    flags = [f"hindrance_{h.code}" for h in config.hindrances]
    present = per_visit[per_visit["teacher_status"] == "present"]
    assert per_visit.loc[per_visit["teacher_status"] != "present", flags].isna().all().all()
    assert present[flags].notna().all().all()
    reported = {h: int(n) for h, n in present[flags].sum().items()}
    expected = visits[visits["teacher_status"] == "present"]["hindrances"].explode().value_counts()
    assert reported == {f"hindrance_{h.code}": int(expected.get(h.code, 0)) for h in config.hindrances}
    assert sum(reported.values()) > 0
    with zipfile.ZipFile(io.BytesIO(exports.data_bundle(quetta, Filters(district=("Quetta",)), config, ledger,
                                                        "csv"))) as archive:
        data = pd.read_csv(io.BytesIO(archive.read("data.csv")))
        book = pd.read_csv(io.BytesIO(archive.read("codebook.csv")))
    assert len(data) == len(quetta)
    assert set(book.loc[book["section"] == "source", "name"]) <= set(ledger["source_file"])
    assert "district=Quetta" in book["meaning"].tolist()


def test_imports_tab_says_no_source_is_synced(rendered):
    at = rendered
    imports = tab(at, "Imports")
    assert "Live sync: last run per source" in [h.value for h in imports.subheader]
    assert any("No source is configured for live sync" in c.value for c in imports.caption)
    assert len(imports.dataframe) == 1  # the ledger only


def test_imports_tab_shows_the_last_sync_per_source(app, data_db, tmp_path, monkeypatch):
    """A database a sync has written to (its sync_state row as ingest/sync.py saves it) and a
    config naming a second source that never ran: both listed, the one never run with no time."""
    from metrics.records import SYNC_COLUMNS
    from support import write_config

    db = tmp_path / "synced.duckdb"
    shutil.copy(data_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("insert into sync_state values ('thatta_kobo', 'kobo', '1006', "
                    "timestamp '2026-11-20 08:30:00', 5, 'run-1', 1)")
    config = write_config(tmp_path, **{"sources.sync": {
        "pishin_odk": {"kind": "odk", "server": "https://central.example.org", "form": "followup", "project": 2,
                       "username_env": "ODK_USER", "password_env": "ODK_PASSWORD"}}})
    monkeypatch.setenv("SUSTAIN_CONFIG", str(config))
    at = app(db=db)
    assert not at.exception
    table = tab(at, "Imports").dataframe[1].value
    assert list(table.columns) == SYNC_COLUMNS
    assert table["source"].tolist() == ["pishin_odk", "thatta_kobo"]
    assert table["kind"].tolist() == ["odk", "kobo"]
    assert pd.isna(table["synced_at"].iloc[0]) and str(table["synced_at"].iloc[1]).startswith("2026-11-20 08:30")
    assert table.loc[1, ["fetched", "absent"]].tolist() == [5, 1]


# -- the tidy export streamed from DuckDB (issue 12: memory bounded at national scale) -------------
def _without_generated(book: pd.DataFrame) -> pd.DataFrame:
    return book[book["name"] != "generated"].reset_index(drop=True)


@pytest.mark.parametrize("filters, rows_per_batch", [
    (Filters(), 4099), (Filters(district=("Quetta",), practice=("group_work",)), 97),
    (Filters(district=("Nowhere",)), 97)],
    ids=["everyone", "quetta", "empty"])
def test_streamed_bundles_hold_what_data_bundle_holds(data_db, filters, rows_per_batch):
    """Written batch by batch (small batches, so the export spans many), each bundle holds what
    `data_bundle` of the whole table holds: the same CSV bytes, the same Parquet table (values
    and types), the same Excel sheets, the same codebook (but its time of generation). Excel is
    compared on the smaller exports only (34,000 rows cost a minute in openpyxl)."""
    import pyarrow.parquet as pq

    from report import exports
    from sustain.config import load_config

    config = load_config()
    with duckdb.connect(str(data_db), read_only=True) as con:
        frame = tidy_observations(con, filters, [], config)
        ledger = import_ledger(con, filters, [], config)
        summary = tidy_preview(con, filters, [], config)
        streamed = {}
        for fmt in [f for f in exports.BUNDLES if f != "xlsx" or len(frame) < 5000]:
            out = io.BytesIO()
            rows = exports.write_tidy_bundle(tidy_batches(con, filters, config, rows_per_batch), out, filters,
                                             config, ledger, fmt)
            assert rows == len(frame) == summary.attrs["rows"]
            streamed[fmt] = out.getvalue()
    for fmt in ("csv", "parquet"):
        with zipfile.ZipFile(io.BytesIO(exports.data_bundle(frame, filters, config, ledger, fmt))) as today, \
                zipfile.ZipFile(io.BytesIO(streamed[fmt])) as now:
            assert now.namelist() == today.namelist()
            books = [_without_generated(pd.read_csv(io.BytesIO(z.read("codebook.csv")), dtype=str))
                     for z in (today, now)]
            pd.testing.assert_frame_equal(books[1], books[0])
            if fmt == "csv":
                assert now.read("data.csv") == today.read("data.csv")
            elif len(frame):  # an empty table from pandas has no column types to compare with
                tables = [pq.read_table(io.BytesIO(z.read("data.parquet"))).replace_schema_metadata(None)
                          for z in (today, now)]
                assert tables[1].equals(tables[0])
    if "xlsx" not in streamed:
        return
    sheets = [pd.read_excel(io.BytesIO(b), sheet_name=None, dtype=str)
              for b in (exports.data_bundle(frame, filters, config, ledger, "xlsx"), streamed["xlsx"])]
    assert list(sheets[1]) == list(sheets[0]) == ["Data", "Codebook"]
    pd.testing.assert_frame_equal(sheets[1]["Data"], sheets[0]["Data"])
    pd.testing.assert_frame_equal(_without_generated(sheets[1]["Codebook"]), _without_generated(sheets[0]["Codebook"]))


def test_excel_refuses_more_rows_than_a_sheet_holds(data_db):
    """More rows than one worksheet holds (a small limit given, Excel's is 1,048,576 with the
    header): no Excel file cut short, an error saying so; at the limit the file is written."""
    from report import exports
    from sustain.config import load_config

    config, quetta = load_config(), Filters(district=("Quetta",), practice=("group_work",))
    with duckdb.connect(str(data_db), read_only=True) as con:
        rows = tidy_preview(con, quetta, [], config).attrs["rows"]
        ledger = import_ledger(con, quetta, [], config)
        with pytest.raises(exports.TooManyRowsForExcel, match="more than one Excel worksheet holds"):
            exports.write_tidy_bundle(tidy_batches(con, quetta, config, 100), io.BytesIO(), quetta, config, ledger,
                                      "xlsx", max_xlsx_rows=rows)
        out = io.BytesIO()
        assert exports.write_tidy_bundle(tidy_batches(con, quetta, config, 100), out, quetta, config, ledger, "xlsx",
                                         max_xlsx_rows=rows + 1) == rows
    assert len(pd.read_excel(out, sheet_name="Data")) == rows


def test_download_buttons_say_when_excel_cannot_hold_the_export(data_db, monkeypatch, page_caches):
    """The Data page's download buttons (ui.tidy_downloads) for an export larger than the Excel
    limit given: the Excel button is disabled and a sentence says why and what to download instead;
    CSV and Parquet stay offered. Within the limit, all three are offered and nothing is said."""
    monkeypatch.setenv("SUSTAIN_DB", str(data_db))
    page_caches()

    def buttons(limit):
        import pandas as pd

        from app import ui
        from metrics import Filters

        ui.tidy_downloads(500, Filters(), pd.DataFrame(), xlsx_max_rows=limit)

    over = AppTest.from_function(buttons, args=(500,), default_timeout=30).run()
    assert not over.exception
    states = {b.proto.label: b.proto.disabled for b in over.get("download_button")}
    assert states == {"Download CSV (zip with codebook)": False, "Download Excel (with codebook)": True,
                      "Download Parquet (zip with codebook)": False}
    assert [c.value for c in over.caption] == [
        "An Excel sheet holds at most 499 rows of data and these filters give 500: download CSV or Parquet, or "
        "narrow the filters (a district, a practice) for an Excel file."]
    within = AppTest.from_function(buttons, args=(501,), default_timeout=30).run()
    assert not any(b.proto.disabled for b in within.get("download_button")) and not within.caption


def test_python_m_report_data_files_are_streamed_bundles(data_db):
    """`python -m report --data` (report/__main__.py `_data_files`) writes the same streamed
    bundles: the report's selection, its rows counted in the codebook."""
    from types import SimpleNamespace

    from report.__main__ import _data_files
    from sustain.config import load_config

    config, quetta = load_config(), Filters(district=("Quetta",))
    with duckdb.connect(str(data_db), read_only=True) as con:
        files = _data_files(con, config, SimpleNamespace(filters=quetta, file_stem="sustain_CBM_Quetta"),
                            ["csv", "parquet", "csv"])
        rows = len(tidy_observations(con, quetta, [], config))
    assert list(files) == ["sustain_CBM_Quetta_observations_csv.zip", "sustain_CBM_Quetta_observations_parquet.zip"]
    with zipfile.ZipFile(io.BytesIO(files["sustain_CBM_Quetta_observations_csv.zip"])) as archive:
        data = pd.read_csv(io.BytesIO(archive.read("data.csv")))
        book = pd.read_csv(io.BytesIO(archive.read("codebook.csv")))
    assert len(data) == rows > 0 and set(data["district"]) == {"Quetta"}
    assert book.loc[book["name"] == "rows", "meaning"].tolist() == [str(rows)]


def test_a_click_builds_the_file_on_the_dashboards_connection(data_db, monkeypatch, page_caches):
    """What a click on the CSV button runs (ui.tidy_bundle: the dashboard's read-only connection,
    the export in more than one batch) gives the same data.csv as `data_bundle` of the table."""
    from app import ui
    from report import exports
    from sustain.config import load_config

    monkeypatch.setenv("SUSTAIN_DB", str(data_db))
    page_caches()
    config = load_config()
    with duckdb.connect(str(data_db), read_only=True) as con:
        frame = tidy_observations(con, Filters(), [], config)
        ledger = import_ledger(con, Filters(), [], config)
    assert len(frame) > ROWS_PER_BATCH
    with zipfile.ZipFile(io.BytesIO(ui.tidy_bundle(Filters(), ledger, "csv"))) as now, \
            zipfile.ZipFile(io.BytesIO(exports.data_bundle(frame, Filters(), config, ledger, "csv"))) as today:
        assert now.read("data.csv") == today.read("data.csv")
