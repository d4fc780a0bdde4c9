"""Communities of practice: do clusters keep meeting, and do their teachers keep the practices?

Opens with its answer (report/answers.py: retention with an active vs an inactive community at the
latest round both show, with n; a comparison, not an effect); pooled programmes are named.
"""
import streamlit as st

from app import charts, charts_analysis, ui

filters = ui.sidebar_filters()  # first: it stops here before login
st.title(ui.t("Communities of practice"))
programmes = ui.indicator("retention", filters, by=("programme",))
pooled = ui.answers.programmes_in(programmes) if programmes is not None else []
by_cop = ui.indicator("retention_by_cop", filters)
if by_cop is not None:
    charts.show_answer(ui.answers.cop_answer(by_cop, pooled=pooled))
meetings_tab, retention_tab = ui.url_tabs(["Meetings by cluster", "Retention: active vs inactive communities"])

with meetings_tab:
    table = ui.indicator("cop_activity", filters, by=("cluster",))
    if table is not None:
        st.plotly_chart(charts.readable(charts_analysis.meetings_bars(
            table, ui.ACTIVE_MEETINGS_PER_MONTH, ui.answers.meetings_title(table, ui.ACTIVE_MEETINGS_PER_MONTH))),
            key="meetings_chart")
        st.caption(ui.n_caption(table, "teachers", group="cluster") + " "
                   + ui.t("n on each bar: follow-up visits answering whether the community met in the last month."))

with retention_tab:
    table = by_cop
    if table is not None:
        st.plotly_chart(charts.retention_curve(
            table, "cop", ui.answers.cop_title(table) + ui.answers.pooled_words(pooled),
            label=ui.answers.cop_name, rounds=ui.config().schedule.months, legend=ui.t("Community of practice")),
            key="cop_retention_chart")
        st.caption(ui.n_caption(table, "teachers", group="cop") + " " + ui.t(
            "Active: the cluster's meeting log averages {meetings} meetings per month or more after the programme. "
            "A comparison of groups, not an effect: what keeps a community meeting may also keep the practices.",
            meetings=f"{ui.ACTIVE_MEETINGS_PER_MONTH:g}"))
