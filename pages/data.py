"""Data (being built)."""
import streamlit as st

st.title("Data")
