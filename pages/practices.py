"""Practices (being built)."""
import streamlit as st

st.title("Practices")
