"""Hindrances (being built)."""
import streamlit as st

st.title("Hindrances")
