"""Overview (NGO manager): did the practices persist after the programme, and where?

Opens with its answer in one sentence (report/answers.py), then each programme side by side at
months 6, 12 and 24 (programmes end on different dates and differ in design: never pooled
silently), then the figures that span the selection, each naming the programmes it pools.
"""
import streamlit as st

from app import charts, ui

filters = ui.sidebar_filters()  # first: it stops here before login
st.title(ui.t("Retention of practices after the programme"))
cfg = ui.config()
names = ui.answers.programme_names(cfg)

by_programme = ui.indicator("retention", filters, by=("programme",))
effects = ui.indicator("hindrance_effect", filters)
if by_programme is not None:
    charts.show_answer(ui.answers.retention_answer(
        by_programme, effects, place=ui.answers.join_words(filters.district), programme_name=names.get,
        hindrance_label=ui.hindrance_label))
    st.caption(ui.t("Retention: of the practices in use when the programme ended (month 0), the share still in use "
                    "at a later visit. The fastest loss is the hindrance with the largest hazard ratio (how many "
                    "times as fast practices are dropped where it was reported) among those whose 95% interval lies "
                    "above 1."))
    rounds = ui.answers.programme_rounds(by_programme, programme_name=names.get)
    facts = ui.answers.programme_facts(cfg)
    for column, (code, rows) in zip(st.columns(max(rounds["programme"].nunique(), 1)),
                                    rounds.groupby("programme", sort=True)):
        with column.container(border=True, key=f"programme_{code}"):
            st.subheader(facts.get(code, code))
            for metric_column, row in zip(st.columns(len(rows)), rows.itertuples(index=False)):
                metric_column.metric(ui.t("Retention at month {months}", months=row.months), row.value)
                metric_column.caption(row.detail)

headline = ui.indicator("headline", filters)
if headline is not None:
    ui.headline_metrics(headline)

table = ui.indicator("retention", filters, by=("programme", "district"))
if table is not None and by_programme is not None:
    left, right = st.columns(2)
    left.plotly_chart(
        charts.retention_curve(by_programme, "programme", ui.answers.retention_title(by_programme, names.get),
                               label=names.get, rounds=cfg.schedule.months, legend=ui.t("Programme")),
        key="retention_chart",
    )
    right.plotly_chart(charts.districts_compared(table, ui.answers.districts_title(table, names.get), label=names.get),
                       key="districts_chart")
    st.caption(ui.n_caption(table, "teachers", group="district") + " "
               + ui.t("Bars: 95% intervals, robust to clustering by school."))
    with st.expander(ui.t("The numbers behind the charts")):
        st.dataframe(ui.answers.retention_table(table, names.get), hide_index=True, key="retention_table")
        ui.view_downloads(table, "retention", filters, key="retention_download")

# its open state kept by the server (a key, rerun on toggle): a browser-only state is lost when anything
# above it appears or goes (the first-start build's status), and the pack's downloads were hidden with it
with st.expander(ui.t("Donor pack: PowerPoint with native charts and a self-contained HTML report"), key="pack_open",
                 on_change="rerun"):
    config = ui.config()
    left, right = st.columns(2)
    programme = left.selectbox(ui.t("Programme"), config.programme_codes, key="pack_programme",
                               format_func=ui.programme_name)
    language = right.selectbox(ui.t("Language of the pack"), ui.LANGUAGES, key="pack_language",
                               index=ui.LANGUAGES.index(config.report_language), format_func=ui.LANGUAGE_NAMES.get)
    st.caption(ui.t("For the districts chosen in the sidebar (all when none is chosen); small groups are "
                    "suppressed exactly as on screen. The same pack comes from `python -m report`."))
    # the downloads stay (any number of them) until the filters, programme or language change
    if ui.pressed_for(ui.t("Build the donor pack"), key="pack_build", inputs=(programme, filters, language)):
        pack = ui.donor_pack(programme, filters, language)
        if pack is not None:
            stem = pack["stem"].decode()
            left.download_button(ui.t("Download PowerPoint"), pack["pptx"], f"{stem}.pptx", key="pack_pptx",
                                 mime="application/vnd.openxmlformats-officedocument.presentationml.presentation",
                                 on_click="ignore")
            right.download_button(ui.t("Download HTML report"), pack["html"], f"{stem}.html", key="pack_html",
                                  mime="text/html", on_click="ignore")
