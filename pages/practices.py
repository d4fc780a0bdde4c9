"""Practices: how fast does each practice decay, and does that differ between groups?

Opens with its answer (report/answers.py: the fastest-fading and the most lasting practice, with
n); programmes pooled in a figure are named.
"""
import streamlit as st

from app import charts, charts_analysis, ui

# the catalogue's "Compare by" dimensions; practice is this page's own axis
COMPARE = [c for c in ui.COMPARE_BY if c != "practice"]

filters = ui.sidebar_filters()  # first: it stops here before login
st.title(ui.t("Practices"))
cfg = ui.config()
programmes = ui.indicator("retention", filters, by=("programme",))
overall = ui.indicator("half_life", filters, by=("practice",))
if overall is not None:
    charts.show_answer(ui.answers.half_life_answer(
        overall, ui.practice_label, pooled=ui.answers.programmes_in(programmes) if programmes is not None else []))
    st.caption(ui.answers.gloss("half_life"))
group = ui.compare_by(COMPARE)
group_name = ui.dimension_name(group).capitalize()
by = tuple(c for c in ("practice", group) if c)
# a figure split by programme pools none; otherwise it names the programmes it pools
pooled = ui.answers.programmes_in(programmes) if programmes is not None and group != "programme" else []

decay_tab, half_life_tab, survival_tab = ui.url_tabs(["Decay curves", "Half-life", "Survival (life table)"])

with decay_tab:
    table = ui.indicator("retention", filters, by=by)
    if table is not None and overall is not None:
        figure = charts_analysis.practice_decay(
            table, group, ui.practice_label,
            ui.answers.half_life_title(overall, ui.practice_label) + ui.answers.pooled_words(pooled))
        st.plotly_chart(charts.readable(figure, cfg.schedule.months, ui.t("Practice")), key="decay_chart")
        st.caption(ui.n_caption(table, "teachers") + " " + ui.t("Bars: 95% intervals.") + " "
                   + ui.answers.gloss("interval"))

with half_life_tab:
    table = ui.indicator("half_life", filters, by=by)
    if table is not None:
        figure = charts_analysis.half_life_dots(
            table, group, ui.practice_label,
            ui.answers.half_life_range_title(overall if overall is not None else table, ui.practice_label)
            + ui.answers.pooled_words(pooled))
        st.plotly_chart(charts.by_value(charts.readable(figure, legend=group_name if group else "")),
                        key="half_life_chart")
        st.caption(ui.n_caption(table, "teachers") + " " + ui.answers.gloss("half_life") + " "
                   + ui.t("95% interval, allowing for teachers of one school being alike.") + " "
                   + ui.answers.gloss("lambda"))
        st.dataframe(ui.answers.half_life_table(table, ui.practice_label, group, group_name),
                     hide_index=True, key="half_life_table")

with survival_tab:
    table = ui.indicator("survival", filters, by=(group,) if group else ())
    if table is not None:
        figure = charts_analysis.survival_curves(
            table, group, ui.answers.survival_title(table, group) + ui.answers.pooled_words(pooled))
        st.plotly_chart(charts.readable(figure, cfg.schedule.months, group_name if group else ""),
                        key="survival_chart")
        st.caption(ui.n_caption(table, "teachers", group=group) + " "
                   + ui.t("Abandoned: no longer in use. One low score does not by itself count as a drop: it is "
                          "weighed against the visits before and after it, as observers sometimes misscore.") + " "
                   + ui.answers.gloss("kaplan_meier") + " " + ui.answers.gloss("censoring") + " "
                   + ui.t("Band: 95% interval, allowing for teachers of one school being alike."))
