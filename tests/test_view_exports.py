"""Downloads of a view (what a page shows): suppressed exactly as on screen, with a codebook that
names the indicator, the filters and the config version; re-read equals what was shown."""
import io
import zipfile

import duckdb
import pandas as pd

from metrics import Filters
from metrics.indicators import retention
from report import exports
from app.ui import TOO_FEW, display_table
from support import with_min_group_n


def test_view_export_is_suppressed_as_on_screen(golden):
    con, config = golden
    config = with_min_group_n(config, 3)
    table = retention(con, Filters(months_max=0), ["district"], config)
    ledger = con.execute("select * from import_ledger").df()
    shown = display_table(table)
    bundle = exports.data_bundle(shown, Filters(months_max=0), config, ledger, "csv",
                                 privacy=exports.AS_SHOWN, about={"indicator": "retention: of practices ..."})
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        data = pd.read_csv(io.BytesIO(archive.read("data.csv")), dtype=str, keep_default_na=False)
        book = pd.read_csv(io.BytesIO(archive.read("codebook.csv")), dtype=str, keep_default_na=False)
    # both districts are suppressed on screen (one too small, the other to protect it): same here
    assert set(data["rate"]) == {TOO_FEW} and set(data["n"]) == {TOO_FEW}
    assert data["district"].tolist() == shown["district"].tolist()
    about = dict(zip(book.loc[book["section"] == "about", "name"], book.loc[book["section"] == "about", "meaning"]))
    assert about["indicator"].startswith("retention") and about["config_version"] == config.version
    assert "too few to show" in about["privacy"] and about["filters"] == "months_max=0"
    assert set(book.loc[book["section"] == "column", "name"]) == set(shown.columns)
    assert (book.loc[book["section"] == "source", "name"] == "k.csv").any()


def test_overview_offers_the_view_downloads(sample_db, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from support import ROOT_DIR

    monkeypatch.setenv("SUSTAIN_DB", str(sample_db))
    st.cache_data.clear()
    st.cache_resource.clear()  # the config too: an earlier test on this worker may have read another
    at = AppTest.from_file(str(ROOT_DIR / "pages" / "overview.py"), default_timeout=60).run()
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels == ["Download CSV", "Download XLSX", "Download PARQUET"]
