"""Sustain dashboard: `streamlit run dashboard.py`.

On first start the database is built from sample_data/ through the same ingest code.
"""
from pathlib import Path

import streamlit as st

from app import ui

ui.freeze_imported_objects()  # once per process: the collection after each run then skips them
# a file of the repo, served by this server: a :material/...: icon is fetched from fonts.gstatic.com
FAVICON = Path(__file__).resolve().with_name("assets") / "favicon.png"
st.set_page_config(page_title="Sustain", page_icon=str(FAVICON), layout="wide")
ui.use_language()  # `?lang=ur`: every word from here on in Urdu, right to left
ui.login_gate()
# the page list before the first-start build: a session that opens a page while the build runs
# otherwise gets Streamlit's list of the pages/ files (lower-case file names) for good
navigation = st.navigation([
    st.Page("pages/overview.py", title=ui.t("Overview"), icon=":material/trending_down:", default=True),
    st.Page("pages/districts.py", title=ui.t("Districts and schools"), icon=":material/school:", url_path="districts"),
    st.Page("pages/practices.py", title=ui.t("Practices"), icon=":material/co_present:", url_path="practices"),
    st.Page("pages/hindrances.py", title=ui.t("Hindrances"), icon=":material/block:", url_path="hindrances"),
    st.Page("pages/communities.py", title=ui.t("Communities of practice"), icon=":material/groups:",
            url_path="communities"),
    st.Page("pages/planner.py", title=ui.t("Follow-up planner"), icon=":material/event:", url_path="planner"),
    st.Page("pages/data.py", title=ui.t("Data"), icon=":material/table_view:", url_path="data"),
])
ui.ensure_database()
ui.demo_banner()
ui.run_navigation(navigation)  # the sidebar's filters first, then the page
