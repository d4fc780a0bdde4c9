"""Follow-up planner (being built)."""
import streamlit as st

st.title("Follow-up planner")
