"""Sustain dashboard: `streamlit run dashboard.py`.

On first start the database is built from sample_data/ through the same ingest code.
"""
import streamlit as st

from sustain import ui

st.set_page_config(page_title="Sustain", page_icon="🌱", layout="wide")
ui.ensure_database()
navigation = st.navigation([
    st.Page("pages/overview.py", title="Overview", icon="📈", default=True),
])
ui.demo_banner()
navigation.run()
