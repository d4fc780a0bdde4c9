"""Communities of practice: do clusters keep meeting, and do their teachers keep the practices?"""
import streamlit as st

from app import charts, charts_analysis, ui

filters = ui.sidebar_filters()  # first: it stops here before login
st.title("Communities of practice")
meetings_tab, retention_tab = ui.url_tabs(["Meetings by cluster", "Retention: active vs inactive communities"])

with meetings_tab:
    table = ui.indicator("cop_activity", filters, by=("cluster",))
    if table is not None:
        st.plotly_chart(charts_analysis.meetings_bars(
            table, ui.ACTIVE_MEETINGS_PER_MONTH, "Community meetings per month after the programme, by cluster"),
            key="meetings_chart")
        st.caption(ui.n_caption(table, "teachers", group="cluster")
                   + " n on each bar: follow-up visits answering whether the "
                   "community met in the last month.")

with retention_tab:
    table = ui.indicator("retention_by_cop", filters)
    if table is not None:
        st.plotly_chart(charts.retention_curve(
            table, "cop", "Retention of teachers in clusters with an active vs an inactive community"),
            key="cop_retention_chart")
        st.caption(ui.n_caption(table, "teachers", group="cop") + f" Active: the cluster's meeting log averages "
                   f"{ui.ACTIVE_MEETINGS_PER_MONTH:g} meetings per month or more after the programme. A comparison "
                   "of groups, not an effect: what keeps a community meeting may also keep the practices.")
