"""Practices: how fast does each practice decay, and does that differ between groups?"""
import streamlit as st

from app import charts_analysis, ui

# the catalogue's "Compare by" dimensions; practice is this page's own axis
COMPARE = [c for c in ui.COMPARE_BY if c != "practice"]

filters = ui.sidebar_filters()  # first: it stops here before login
st.title("Practices")
cfg = ui.config()
group = ui.compare_by(COMPARE)
by = tuple(c for c in ("practice", group) if c)
decay_tab, half_life_tab, survival_tab = ui.url_tabs(["Decay curves", "Half-life", "Survival (life table)"])

with decay_tab:
    table = ui.indicator("retention", filters, by=by)
    if table is not None:
        st.plotly_chart(charts_analysis.practice_decay(
            table, group, cfg.practice_label,
            "Retention of each practice by months since programme end" + (f", by {ui.DIMENSION_NAMES[group]}" if group else "")),
            key="decay_chart")
        st.caption(ui.n_caption(table, "teachers") + " Bars: Wilson 95% intervals.")

with half_life_tab:
    table = ui.indicator("half_life", filters, by=by)
    if table is not None:
        st.plotly_chart(charts_analysis.half_life_dots(
            table, group, cfg.practice_label,
            "Half-life of each practice (months until half is no longer retained)"), key="half_life_chart")
        st.caption(ui.n_caption(table, "teachers")
                   + " Fit of retention = exp(-λ·months), 95% interval "
                   "robust to clustering by school; no decay or too few rounds: see the note.")
        st.dataframe(ui.display_table(table.assign(practice=table["practice"].map(cfg.practice_label))),
                     hide_index=True, key="half_life_table")

with survival_tab:
    table = ui.indicator("survival", filters, by=(group,) if group else ())
    if table is not None:
        st.plotly_chart(charts_analysis.survival_curves(
            table, group, "Practices not yet abandoned (life table at the visit rounds, 95% band)"),
            key="survival_chart")
        st.caption(ui.n_caption(table, "teachers", group=group)
                   + " Abandoned: the first visit at which the practice was not retained (it stopped since the "
                   "last visit where it was); followed until the last visit where the practice was seen. "
                   "Band: school bootstrap, robust to clustering by school.")
