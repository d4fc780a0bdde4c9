"""Data: what was imported, what was kept aside, coverage of the rounds, uploads and downloads.

Tables come from metrics/records.py and the coverage indicator through `ui.indicator`; uploads go
through the real ingest (app/uploads.py); download files are built in report/exports.py, the
tidy export's only when a button is clicked, streamed from DuckDB (`ui.tidy_downloads`).
"""
import streamlit as st

from app import charts, ui, uploads

PREVIEW = "Preview (dry run: nothing written)"
IMPORTED = "Imported"  # headings, shown as ui.t(...)


def upload_section(config) -> None:
    """Upload -> dry-run preview -> "Import this file" (the same ingest, for real)."""
    st.caption(ui.t("Check a KoboToolbox, ODK Central or SurveyCTO export, a roster or a CoP log before importing it: "
                    "the preview is a dry run through the same import and writes nothing."))
    uploaded = st.file_uploader(ui.t("Export, roster or CoP log (CSV or XLSX)"), type=uploads.UPLOAD_TYPES,
                                max_upload_size=uploads.upload_limit_mb(config), key="upload_file")
    if uploaded is None:
        return
    imported = st.session_state.get("upload_imported")
    if imported and imported[0] == uploaded.file_id:
        result, heading = imported[1], IMPORTED
    else:
        if st.session_state.get("upload_preview", (None,))[0] != uploaded.file_id:
            st.session_state["upload_preview"] = (
                uploaded.file_id, uploads.preview_upload(uploaded.name, uploaded.getvalue(), config, ui.database_path()))
        result, heading = st.session_state["upload_preview"][1], PREVIEW
    st.subheader(ui.t(heading))
    if uploads.salt_note(result):
        st.warning(uploads.salt_note(result))
    refused = uploads.refusals(result)
    if refused:
        st.error(ui.t("This file is refused: nothing was or will be written. The reason:"))
        for reason in refused:
            st.text(reason)
    st.dataframe(ui.column_names(uploads.summary_frame(result)), hide_index=True, key="upload_summary")
    problems = uploads.problems_frame(result)
    if len(problems):
        st.caption(ui.t("Rows kept aside (quarantined), with the rule they break; the rest of the file is imported."))
        st.dataframe(ui.column_names(problems), hide_index=True, key="upload_problems",
                     column_config={ui.t("value"): st.column_config.TextColumn(ui.t("value"))})
    if heading == PREVIEW:
        if st.button(ui.t("Import this file"), key="upload_import", type="primary", disabled=bool(refused)):
            done = uploads.import_upload(uploaded.name, uploaded.getvalue(), config, ui.database_path())
            st.cache_data.clear()
            st.session_state["upload_imported"] = (uploaded.file_id, done)
            st.rerun()
    elif not refused:
        st.success(ui.t("Imported. Every page now shows the new data."))


filters = ui.sidebar_filters()  # first: it stops here before login
st.title(ui.t("Data"))
config = ui.config()
coverage = ui.indicator("coverage", filters, by=("months",))
if coverage is not None:
    charts.show_answer(ui.answers.coverage_answer(coverage))
imports_tab, quarantine_tab, coverage_tab, upload_tab, download_tab = ui.url_tabs(
    ["Imports", "Quarantine", "Coverage", "Upload", "Download"])

with imports_tab:
    ledger = ui.indicator("import_ledger", filters)
    if ledger is not None:
        st.caption(ui.t("Every file import, newest first (the whole database: a file spans districts)."))
        st.dataframe(ui.column_names(uploads.record_words(ledger)), hide_index=True, key="ledger_table")
    syncs = ui.indicator("sync_log", filters)
    if syncs is not None:
        st.subheader(ui.t("Live sync: last run per source"))
        if len(syncs):
            st.caption(ui.t("`python -m ingest sync --source NAME`: when each source last ran, submissions fetched, "
                            "and (full runs) stored submissions the server no longer lists. Empty `synced_at`: never "
                            "run."))
            st.dataframe(ui.column_names(uploads.record_words(syncs)), hide_index=True, key="sync_table")
        else:
            st.caption(ui.t("No source is configured for live sync (config `sources.sync`) and none has run."))

with quarantine_tab:
    quarantine = ui.indicator("quarantine_rows", filters)
    if quarantine is not None:
        st.caption(ui.t("Rows kept aside by the import, with the rule they broke; the rest of each file was "
                        "imported. `row` is the data row of the file (1 = first row under the header). Viewers limited "
                        "to some districts see none: a quarantined row cannot be placed in a district."))
        st.dataframe(ui.column_names(uploads.record_words(quarantine)), hide_index=True, key="quarantine_table",
                     column_config={ui.t(c): st.column_config.TextColumn(ui.t(c)) for c in ("value", "detail", "raw_row")})
        st.caption(ui.t("`raw_row` is the whole row as the file held it (teacher ids as `key:...`, which an import "
                        "reads back as that teacher): fix it and import it again."))
        st.download_button(ui.t("Download quarantined rows (CSV)"), lambda: ui.exports.to_csv_bytes(quarantine),
                           file_name="quarantine.csv", mime="text/csv", key="download_quarantine",
                           on_click="ignore")

with coverage_tab:
    coverage = ui.indicator("coverage", filters, by=("months",))
    if coverage is not None:
        st.caption(ui.t("Roster teachers visited per scheduled round: observed of expected (rounds that have come due)."))
        st.dataframe(ui.display_table(coverage), hide_index=True, key="coverage_table")
        st.caption(ui.n_caption(coverage, "teachers"))

with upload_tab:
    if ui.viewer_scope() is None:
        upload_section(config)
    else:
        st.info(ui.t("Uploads write data of every district: they are for data managers who see every district."))

with download_tab:
    preview = ui.indicator("tidy_preview", filters)  # counted in DuckDB: the export itself is read only on a click
    if preview is not None and ledger is not None:
        st.caption(ui.t("{rows} observations (one row per teacher, practice and round) with the sidebar's filters "
                        "applied. Row-level pseudonymous data for researchers: teachers appear only under their key and "
                        "no group is suppressed. Each download carries a codebook: every column with its meaning and "
                        "unit, the filters applied, the config version and the import ledger rows it came from.",
                        rows=f"{preview.attrs['rows']:,}"))
        ui.tidy_downloads(preview.attrs["rows"], filters, ledger)
        st.dataframe(ui.column_names(preview), hide_index=True, key="tidy_preview")
