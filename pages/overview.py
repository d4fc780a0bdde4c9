"""Overview (NGO manager): did the practices persist after the programme, and where?"""
import streamlit as st

from sustain import charts, ui

st.title("Retention of practices after the programme")
filters = ui.sidebar_filters()

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
