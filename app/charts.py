"""Plotly figures built from indicator tables. No arithmetic on the figures' numbers: every value
drawn is a column of the indicator's table; suppressed rows are left out of the lines and named
in the hover/caption as "too few to show"."""
from __future__ import annotations

import html
import re
import textwrap

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from report.answers import interval
from sustain.dimensions import sort_key  # groups in the catalogue's order (bands: 5-9 before 10-19)
from sustain.messages import RIGHT_TO_LEFT, current_language, t


# characters markdown would read as formatting inside a sentence (names come from the data)
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$])")


def interval_hover(rows: pd.DataFrame, before: str = "", after: str = "<br>") -> list[str]:
    """Each row's "95% CI 23–29%" (its ci_low, ci_high) between `before` and `after`, for its
    hover (`%{text}`), or "" where it has no interval (month 0, a group resting on too few
    schools): a hovertemplate's own `%{customdata:.0%}` prints "NaN%–NaN%" there."""
    return [f"{before}{words}{after}" if (words := interval(low, high)) else ""
            for low, high in zip(rows["ci_low"], rows["ci_high"])]


def show_answer(sentence: str) -> None:
    """A page's answer (a sentence of report/answers.py, reached as `ui.answers`) under its title,
    in bold; markdown characters in names are escaped, so data cannot format the page."""
    st.markdown("**" + MARKDOWN_SPECIAL.sub(r"\\\1", sentence) + "**")


# a figure whose drawn points number at most this many carries their values as labels
FEW_POINTS = 14
MONTHS_AXIS = "months since programme end"


# characters of a chart title's line: a bold Latin title runs about 7 px a character, and a chart
# on a 390 px phone is 358 px wide, so a longer line is cut at the right edge
TITLE_WIDTH = 44


def wrap_title(title: str, width: int = TITLE_WIDTH) -> str:
    """A finding as a chart title: escaped for plotly's HTML subset, wrapped onto lines of about
    `width` characters (plotly does not wrap titles)."""
    return "<br>".join(html.escape(line) for line in textwrap.wrap(title, width)) or html.escape(title)


def title_margin(wrapped: str) -> int:
    """Top margin (px) that keeps a wrapped title's lines clear of the plot under it."""
    return 48 + 22 * (wrapped.count("<br>") + 1)  # and room for value labels above the top row


# Unicode's right-to-left embedding: a chart keeps plotly's left-to-right layout, each title line
# inside it reads right to left (numbers and Latin names placed as Urdu readers expect)
RTL_EMBEDDING, POP_DIRECTION = "\u202b", "\u202c"
RTL_TITLE_WIDTH = 38  # characters of an Urdu title line (Naskh runs wider than Latin)


def titles_in_direction(figure: go.Figure) -> go.Figure:
    """In a right-to-left language, the figure's title and axis titles read right to left."""
    if current_language() not in RIGHT_TO_LEFT:
        return figure

    def embedded(text, width=None):
        if not text or text.startswith(RTL_EMBEDDING):
            return text
        lines = textwrap.wrap(text.replace("<br>", " "), width) if width else text.split("<br>")
        return "<br>".join(f"{RTL_EMBEDDING}{line}{POP_DIRECTION}" for line in lines)

    title = figure.layout.title.text
    if title and not title.startswith(RTL_EMBEDDING):
        # narrower lines: a line's start is its right end, which a too-long line loses on a phone;
        # Naskh lines stand taller than Latin ones (26 px, not 22)
        wrapped = embedded(title, RTL_TITLE_WIDTH)
        figure.update_layout(title=dict(text=wrapped, yref="container", y=1, yanchor="top", pad_t=12),
                             margin_t=max(figure.layout.margin.t or 0, 56 + 26 * (wrapped.count("<br>") + 1)))
    figure.for_each_xaxis(lambda axis: axis.update(title_text=embedded(axis.title.text)))
    figure.for_each_yaxis(lambda axis: axis.update(title_text=embedded(axis.title.text)))
    return figure


def _drawn(trace) -> bool:
    """A line or marker trace that shows values (not an interval band or a legend stand-in)."""
    return (trace.type == "scatter" and trace.hoverinfo != "skip" and not trace.fill
            and trace.x is not None and any(v is not None for v in trace.x))


def legend_below(title: str | None = None) -> dict:
    """A legend laid out in rows under the plot: at the right it left a 390 px phone's chart about
    a third of its width (the names and their n)."""
    legend = dict(orientation="h", yanchor="top", y=-0.18, x=0, xanchor="left")
    return legend | (dict(title=dict(text=title, side="top")) if title is not None else {})


def readable(figure: go.Figure, rounds=None, legend: str | None = None, few: int = FEW_POINTS) -> go.Figure:
    """Make a figure read as its findings: time axes tick on the scheduled `rounds` (config
    schedule.months) instead of 0, 5, 10; the legend titled in words (`legend`); when the figure
    draws at most `few` points, each carries its value as a label, in its axis's format (the
    labels are a text template: hover text stays as it was); a long title wraps."""
    if rounds is not None:
        figure.for_each_xaxis(lambda axis: axis.update(tickmode="array", tickvals=list(rounds))
                              if axis.type in (None, "-", "linear") else None)
    if legend is not None:
        figure.update_layout(legend_title_text=legend)
    title = figure.layout.title.text
    if title and "<br>" not in title and len(title) > TITLE_WIDTH:
        wrapped = wrap_title(title)
        figure.update_layout(title_text=wrapped, margin_t=max(figure.layout.margin.t or 0, title_margin(wrapped)))
    titles_in_direction(figure)
    drawn = [trace for trace in figure.data if _drawn(trace)]
    if sum(len(trace.x) for trace in drawn) > few:
        return figure
    # room at the right for the last point's label (it was cut at "26" on a phone), and the labels
    # drawn there: plotly clips a trace's text at its axes unless told not to ("11%" showed "11")
    figure.update_layout(margin_r=max(figure.layout.margin.r or 0, 28))
    for trace in drawn:
        values = [] if trace.y is None else list(trace.y)
        horizontal = trace.orientation == "h" or any(isinstance(v, str) for v in values)
        axis = figure.layout.xaxis if horizontal else figure.layout.yaxis
        fmt = ".0%" if (axis.tickformat or "").endswith("%") else ".1f"
        trace.update(mode=(trace.mode or "markers").replace("+text", "") + "+text",
                     texttemplate=f"%{{{'x' if horizontal else 'y'}:{fmt}}}",
                     textposition="top center" if horizontal else "top right", textfont=dict(size=11),
                     cliponaxis=False)
    return figure


def by_value(figure: go.Figure) -> go.Figure:
    """A dot chart of categories on the y axis, sorted by value: smallest on top (for half-lives,
    the practice that fades fastest first)."""
    return figure.update_yaxes(categoryorder="total descending")


def retention_curve(table: pd.DataFrame, group: str | None, title: str, label=str, rounds=None,
                    legend: str | None = None) -> go.Figure:
    """Retention by months since programme end, one line per `group` value (named by `label`),
    with its interval bars; ticks on `rounds`, values labelled, legend titled `legend`."""
    traces = []  # plain dicts, validated once by the figure (an add per trace cost more than drawing)
    ordered = table.sort_values(group, key=sort_key, kind="stable") if group else table
    groups = [(None, table)] if not group else list(ordered.groupby(group, sort=False))
    for value, rows in groups:
        shown = rows[~rows["suppressed"]]
        if shown.empty:
            continue
        traces.append(dict(
            type="scatter", x=shown["months"], y=shown["rate"], mode="lines+markers",
            name=label(value) if value is not None else t("all teachers"),
            error_y=dict(type="data", symmetric=False, array=shown["ci_high"] - shown["rate"],
                         arrayminus=shown["rate"] - shown["ci_low"], thickness=1),
            customdata=shown[["n", "teachers", "ci_low", "ci_high"]].to_numpy(), text=interval_hover(shown),
            hovertemplate=(t("month {months}: {share} retained", months="%{x}", share="%{y:.0%}") + "<br>"
                           + "%{text}"
                           + t("n = {n} teacher-practices ({teachers} teachers)", n="%{customdata[0]}",
                               teachers="%{customdata[1]}") + "<extra>%{fullData.name}</extra>"),
        ))
    figure = go.Figure(data=traces, layout=dict(
        title=title, xaxis=dict(title=dict(text=t(MONTHS_AXIS))),
        yaxis=dict(title=dict(text=t("share retained")), tickformat=".0%", range=[0, 1.08]), showlegend=True,
        hovermode="closest", legend=legend_below(), margin=dict(t=60, l=10, r=10, b=10),
    ))
    return readable(figure, rounds if rounds is not None else sorted(table["months"].unique()),
                    legend if legend is not None else (group or ""))


def districts_compared(table: pd.DataFrame, title: str, label=str) -> go.Figure:
    """Retention at each programme's latest round for each district, one marker series per
    programme (named by `label`: never pooled), with its interval and value labels (districts
    with too few observations are named by `ui.n_caption`, not in the figure)."""
    traces = []  # plain dicts, validated once by the figure
    groups = list(table.groupby("programme", sort=True)) if "programme" in table else [(None, table)]
    for code, rows in groups:
        shown = rows[~rows["suppressed"] & (rows["months"] > 0)]
        if shown.empty:
            continue
        latest = shown[shown["months"] == shown["months"].max()].sort_values("district")
        months = int(latest["months"].iloc[0])
        traces.append(dict(
            type="scatter", x=latest["rate"], y=latest["district"], mode="markers+text", marker=dict(size=11),
            name=(f"{label(code)} ({t('month {months}', months=months)})" if code is not None
                  else t("month {months}", months=months)),
            error_x=dict(type="data", symmetric=False, array=latest["ci_high"] - latest["rate"],
                         arrayminus=latest["rate"] - latest["ci_low"]),
            texttemplate="%{x:.0%}", textposition="top center",
            customdata=latest[["ci_low", "ci_high", "n", "teachers"]].to_numpy(),
            text=interval_hover(latest, before=" (", after=")"),
            hovertemplate=("%{y}: %{x:.0%}%{text}<br>" + t("n = {n} teacher-practices ({teachers} teachers)", n="%{customdata[2]}",
                                         teachers="%{customdata[3]}") + "<extra>%{fullData.name}</extra>"),
        ))
    wrapped = wrap_title(title)
    figure = go.Figure(data=traces, layout=dict(
        title=wrapped, xaxis=dict(tickformat=".0%", range=[0, 1], title=dict(text=t("share retained"))),
        yaxis=dict(title=dict(text=""), categoryorder="category descending"),
        margin=dict(t=title_margin(wrapped), l=10, r=10, b=10), showlegend=True, legend=legend_below(t("Programme"))))
    return titles_in_direction(figure)
