"""Districts and schools (being built)."""
import streamlit as st

st.title("Districts and schools")
