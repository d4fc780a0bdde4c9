"""Communities of practice (being built)."""
import streamlit as st

st.title("Communities of practice")
