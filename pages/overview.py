"""Overview (NGO manager): did the practices persist after the programme, and where?"""
import streamlit as st

from app import charts, ui

filters = ui.sidebar_filters()  # first: it stops here before login
st.title("Retention of practices after the programme")

headline = ui.indicator("headline", filters)
if headline is not None:
    ui.headline_metrics(headline)

table = ui.indicator("retention", filters, by=("district",))
if table is not None:
    left, right = st.columns([3, 2])
    left.plotly_chart(
        charts.retention_curve(table, "district", "Retention by months since programme end, by district"),
        key="retention_chart",
    )
    right.plotly_chart(charts.districts_compared(table, "Districts compared"), key="districts_chart")
    st.caption(ui.n_caption(table, "teachers", group="district"))
    with st.expander("The numbers behind the charts"):
        st.dataframe(ui.display_table(table), hide_index=True, key="retention_table")
        ui.view_downloads(table, "retention", filters, key="retention_download")

with st.expander("Donor pack: PowerPoint with native charts and a self-contained HTML report"):
    config = ui.config()
    left, right = st.columns(2)
    programme = left.selectbox("Programme", config.programme_codes, key="pack_programme",
                               format_func=lambda code: next(p.name for p in config.programmes if p.code == code))
    language = right.selectbox("Language", ["en", "ur"], key="pack_language",
                               index=["en", "ur"].index(config.report_language),
                               format_func={"en": "English", "ur": "اردو (Urdu)"}.get)
    st.caption("For the districts chosen in the sidebar (all when none is chosen); small groups are "
               "suppressed exactly as on screen. The same pack comes from `python -m report`.")
    # the downloads stay (any number of them) until the filters, programme or language change
    if ui.pressed_for("Build the donor pack", key="pack_build", inputs=(programme, filters, language)):
        pack = ui.donor_pack(programme, filters, language)
        if pack is not None:
            stem = pack["stem"].decode()
            left.download_button("Download PowerPoint", pack["pptx"], f"{stem}.pptx", key="pack_pptx",
                                 mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
                                 on_click="ignore")
            right.download_button("Download HTML report", pack["html"], f"{stem}.html", key="pack_html",
                                  mime="text/html", on_click="ignore")
