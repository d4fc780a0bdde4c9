"""Overview: do practices persist after the programme, and where?"""
import streamlit as st

from sustain import charts, ui

st.title("Retention of practices after the programme")
filters = ui.sidebar_filters()
table = ui.indicator("retention", filters, by=("district",))
if table is not None:
    st.plotly_chart(
        charts.retention_curve(table, "district", "Retention by months since programme end, by district"),
        key="retention_chart",
    )
    st.caption(ui.n_caption(table, "teachers"))
    st.dataframe(ui.display_table(table), hide_index=True, key="retention_table")
