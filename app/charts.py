"""Plotly figures built from indicator tables. No arithmetic on the figures' numbers: every value
drawn is a column of the indicator's table; suppressed rows are left out of the lines and named
in the hover/caption as "too few to show"."""
from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go
import streamlit as st


# characters markdown would read as formatting inside a sentence (names come from the data)
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$])")


def show_answer(sentence: str) -> None:
    """A page's answer (a sentence of report/answers.py, reached as `ui.answers`) under its title,
    in bold; markdown characters in names are escaped, so data cannot format the page."""
    st.markdown("**" + MARKDOWN_SPECIAL.sub(r"\\\1", sentence) + "**")


def retention_curve(table: pd.DataFrame, group: str | None, title: str, label=str) -> go.Figure:
    """Retention by months since programme end, one line per `group` value, with Wilson bars."""
    figure = go.Figure()
    groups = [(None, table)] if not group else list(table.groupby(group, sort=True))
    for value, rows in groups:
        shown = rows[~rows["suppressed"]]
        if shown.empty:
            continue
        figure.add_trace(go.Scatter(
            x=shown["months"], y=shown["rate"], mode="lines+markers",
            name=label(value) if value is not None else "all teachers",
            error_y=dict(type="data", symmetric=False, array=shown["ci_high"] - shown["rate"],
                         arrayminus=shown["rate"] - shown["ci_low"], thickness=1),
            customdata=shown[["n", "teachers", "ci_low", "ci_high"]].to_numpy(),
            hovertemplate=("month %{x}: %{y:.0%} retained<br>95% CI %{customdata[2]:.0%}–%{customdata[3]:.0%}"
                           "<br>n = %{customdata[0]} teacher-practices, %{customdata[1]} teachers<extra>%{fullData.name}</extra>"),
        ))
    figure.update_layout(
        title=title, xaxis_title="months since programme end", yaxis_title="share retained",
        yaxis=dict(tickformat=".0%", range=[0, 1.05]), legend_title=group or "", showlegend=True, hovermode="closest",
        margin=dict(t=60, l=10, r=10, b=10),
    )
    return figure


def districts_compared(table: pd.DataFrame, title: str) -> go.Figure:
    """Retention at the latest round for each district, with its Wilson interval and n (districts
    with too few observations are named by `ui.n_caption`, not in the figure)."""
    shown = table[~table["suppressed"] & (table["months"] > 0)]
    figure = go.Figure()
    if not shown.empty:
        latest = shown[shown["months"] == shown["months"].max()].sort_values("rate")
        figure.add_trace(go.Scatter(
            x=latest["rate"], y=latest["district"], mode="markers",
            marker=dict(size=11),
            error_x=dict(type="data", symmetric=False, array=latest["ci_high"] - latest["rate"],
                         arrayminus=latest["rate"] - latest["ci_low"]),
            text=[f"n = {n}" for n in latest["n"]], name="retention",
            customdata=latest[["ci_low", "ci_high", "n", "teachers"]].to_numpy(),
            hovertemplate=("%{y}: %{x:.0%} (95% CI %{customdata[0]:.0%}–%{customdata[1]:.0%})"
                           "<br>n = %{customdata[2]} teacher-practices, %{customdata[3]} teachers<extra></extra>"),
        ))
        title = f"{title} (month {int(latest['months'].iloc[0])})"
    figure.update_layout(title=title, xaxis=dict(tickformat=".0%", range=[0, 1], title="share retained"),
                         yaxis_title="", margin=dict(t=70, l=10, r=10, b=10), showlegend=False)
    return figure
