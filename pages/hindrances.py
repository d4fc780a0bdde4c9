"""Hindrances: which factors go with abandonment?"""
import streamlit as st

from app import charts, charts_analysis, ui

COMPARE = ui.COMPARE_BY  # the catalogue's "Compare by" dimensions

filters = ui.sidebar_filters()  # first: it stops here before login
st.title(ui.t("Hindrances"))
cfg = ui.config()
overall = ui.indicator("hindrance_effect", filters)
if overall is not None:
    charts.show_answer(ui.answers.hindrance_answer(overall, ui.hindrance_label))
prevalence_tab, effect_tab = ui.url_tabs(["Reported, by district and round", "Abandonment with vs without"])

with prevalence_tab:
    table = ui.indicator("hindrance_prevalence", filters, by=("district", "months"))
    if table is not None:
        st.plotly_chart(charts_analysis.prevalence_heatmaps(
            table, "district", ui.hindrance_label, ui.t("Share of visits reporting each hindrance, by district and round")),
            key="prevalence_chart")
        st.caption(ui.n_caption(table, "teachers", group="district") + " "
                   + ui.t("Blank cells: too few to show or no visits."))

with effect_tab:
    group = ui.compare_by(COMPARE)
    table = ui.indicator("hindrance_effect", filters, by=(group,) if group else ())
    if table is not None:
        st.plotly_chart(charts_analysis.forest(table, group, ui.hindrance_label,
                                               charts_analysis.forest_title(table, ui.hindrance_label)),
                        key="forest_chart")
        st.caption(charts_analysis.forest_caption(table, cfg.thresholds.min_group_n))
        effects = charts_analysis.effect_table(table, group, ui.hindrance_label, ui.DIMENSION_NAMES.get(group))
        st.subheader(ui.t("Each hindrance in plain words"))
        for sentence in effects["in plain words"]:
            st.text(sentence)
        st.dataframe(ui.column_names(charts_analysis.effect_summary(effects)), hide_index=True, key="effect_table",
                     column_config={ui.t("adjusted p"): st.column_config.NumberColumn(format="%.3f"),
                                    ui.t("teachers"): st.column_config.NumberColumn(
                                        help=ui.t("teachers with the hindrance"))})
        st.download_button(ui.t("Download this table (CSV)"), lambda: effects.to_csv(index=False).encode("utf-8"),
                           file_name="hindrance_effects.csv", mime="text/csv", key="effect_download",
                           on_click="ignore")
