"""Plotly figures of the analysis pages (districts, practices, hindrances, communities).

As in app/charts.py: every value drawn is a column of a metric table; the only arithmetic is
what plotting needs (error-bar offsets from the interval columns). Suppressed rows are not drawn
and are named "too few to show" in hover text, tick labels or the legend. `label` maps a code
(practice, hindrance) to its config label; pages pass `config.practice_label` and so on.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from metrics.base import TOO_FEW
from sustain.dimensions import sort_key

PALETTE = qualitative.Plotly
CLASS_COLOURS = {"decaying": "#d62728", "uncertain": "#9e9e9e", "persisting": "#2ca02c", TOO_FEW: "#dddddd"}
MONTHS_AXIS = "months since programme end"


def _layout(figure: go.Figure, title: str, **extra) -> go.Figure:
    figure.update_layout(title=title, margin=dict(t=70, l=10, r=10, b=10), hovermode="closest", **extra)
    return figure


def _groups(table: pd.DataFrame, group: str | None):
    # in the catalogue's order (bands: 5-9 before 10-19), not as text
    return [(None, table)] if not group else list(
        table.sort_values(group, key=sort_key, kind="stable").groupby(group, sort=False, dropna=False))


def _count(table: pd.DataFrame, group: str | None) -> int:
    """How many groups share a category row (for the figure's height)."""
    return int(table[group].nunique()) if group else 1


def _error_y(shown: pd.DataFrame, value: str, low: str = "ci_low", high: str = "ci_high") -> dict:
    return dict(type="data", symmetric=False, array=shown[high] - shown[value],
                arrayminus=shown[value] - shown[low], thickness=1)


# -- Districts and schools ---------------------------------------------------------------------

def school_ranking(table: pd.DataFrame, evidence: float, title: str) -> go.Figure:
    """Each school's probability that it keeps fewer practices than its programme at the common
    round (school_trends `p_below_programme`) as a dot, strongest evidence first, coloured by
    class, with the class thresholds (`evidence`, 1 - `evidence`) as lines. Schools "too few to
    show" (not observed at that round) are not drawn (the caption counts them)."""
    figure = go.Figure()
    for kind in ("decaying", "uncertain", "persisting"):
        shown = table[(table["persistence_class"] == kind) & table["p_below_programme"].notna()]
        if shown.empty:
            continue
        figure.add_trace(go.Scatter(
            x=shown["school_id"], y=shown["p_below_programme"], mode="markers", name=kind,
            marker=dict(color=CLASS_COLOURS[kind], size=7 if len(table) > 100 else 10),
            customdata=shown[["school_name", "round", "programme", "programme_retention", "hindrances"]].to_numpy(),
            hovertemplate=("%{x} %{customdata[0]}<br>%{y:.0%} chance it keeps fewer practices at month "
                           "%{customdata[1]} than %{customdata[2]} as a whole (%{customdata[3]:.0%})"
                           "<br>%{customdata[4]}<extra>%{fullData.name}</extra>"),
        ))
    for level in (evidence, 1 - evidence):
        figure.add_hline(y=level, line_dash="dash", line_color="#555")
    return _layout(figure, title,
                   xaxis=dict(title="school (strongest evidence of decay first)", categoryorder="array",
                              categoryarray=table["school_id"].tolist(), showticklabels=len(table) <= 40),
                   yaxis=dict(title="chance of keeping fewer practices than the programme", tickformat=".0%",
                              range=[0, 1.05]),
                   legend_title="class")


# -- Practices ---------------------------------------------------------------------------------

def practice_decay(table: pd.DataFrame, group: str | None, label: Callable[[str], str], title: str) -> go.Figure:
    """Retention by months, one line per practice (colour), one panel per `group` value."""
    panels = _groups(table, group)
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    figure = make_subplots(rows=rows, cols=columns, shared_yaxes=True, vertical_spacing=0.12,
                           subplot_titles=[str(v) for v, _ in panels] if group else None)
    practices = sorted(table["practice"].dropna().unique())
    colours = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(practices)}
    for index, (value, rows_of_panel) in enumerate(panels):
        row, col = index // columns + 1, index % columns + 1
        for practice, shown in rows_of_panel.groupby("practice", sort=True):
            name = label(practice)
            hidden = shown[shown["suppressed"]]
            shown = shown[~shown["suppressed"]]
            if shown.empty:
                continue
            figure.add_trace(go.Scatter(
                x=shown["months"], y=shown["rate"], mode="lines+markers", name=name, legendgroup=practice,
                showlegend=index == 0, line_color=colours[practice], error_y=_error_y(shown, "rate"),
                customdata=shown[["n", "teachers", "ci_low", "ci_high"]].to_numpy(),
                hovertemplate=("month %{x}: %{y:.0%} retained<br>95% CI %{customdata[2]:.0%}–%{customdata[3]:.0%}"
                               "<br>n = %{customdata[0]} teacher-practices, %{customdata[1]} teachers"
                               f"{'<br>' + str(len(hidden)) + ' round(s) ' + TOO_FEW if len(hidden) else ''}"
                               f"<extra>{name}{' · ' + str(value) if group else ''}</extra>"),
            ), row=row, col=col)
        figure.update_xaxes(title_text=MONTHS_AXIS if row == rows else None, row=row, col=col)
    figure.update_yaxes(tickformat=".0%", range=[0, 1.05])
    figure.update_yaxes(title_text="share retained", col=1)
    return _layout(figure, title, height=max(450, 330 * rows), legend_title="practice")


def half_life_dots(table: pd.DataFrame, group: str | None, label: Callable[[str], str], title: str) -> go.Figure:
    """Half-life by practice with its 95% interval (half_life), one colour per `group` value.
    No-decay and unfittable rows are not drawn; the y label carries the reason."""
    figure = go.Figure()
    for index, (value, rows) in enumerate(_groups(table, group)):
        finite = rows["half_life_months"].replace([np.inf, -np.inf], np.nan)
        shown = rows[~rows["suppressed"] & finite.notna()]
        if shown.empty:
            continue
        upper = shown["ci_high"].replace([np.inf], np.nan)
        figure.add_trace(go.Scatter(
            x=shown["half_life_months"], y=[label(p) for p in shown["practice"]], mode="markers", orientation="h",
            name=str(value) if group else "all teachers", marker=dict(size=10, color=PALETTE[index % len(PALETTE)]),
            error_x=dict(type="data", symmetric=False, array=upper - shown["half_life_months"],
                         arrayminus=shown["half_life_months"] - shown["ci_low"], thickness=1.5),
            text=[f"95% CI {low:.1f} – {'open' if pd.isna(high) else f'{high:.1f}'}<br>n = {n:,} teacher-practices, "
                  f"{teachers:,} teachers, {rounds} rounds"
                  for low, high, n, teachers, rounds in shown[["ci_low", "ci_high", "n", "teachers", "rounds"]]
                  .assign(ci_high=upper).itertuples(index=False)],
            hovertemplate="half-life %{x:.1f} months<br>%{text}<extra>%{fullData.name}</extra>",
        ))
    return _layout(figure, title, scattermode="group", legend_traceorder="reversed",
                   xaxis=dict(title="half-life (months)", rangemode="tozero"),
                   yaxis=dict(title=None, categoryorder="category descending"), legend_title=group or "",
                   height=max(460, table["practice"].nunique() * (30 + 16 * _count(table, group)) + 150))


def survival_curves(table: pd.DataFrame, group: str | None, title: str) -> go.Figure:
    """Life-table survival of retained practices (survival): a step line per group with its
    95% band. Suppressed groups appear in the legend as "too few to show", with nothing drawn."""
    figure = go.Figure()
    for index, (value, rows) in enumerate(_groups(table, group)):
        colour = PALETTE[index % len(PALETTE)]
        name = str(value) if group else "all practices"
        shown = rows[~rows["suppressed"]]
        if shown.empty:
            figure.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"{name}: {TOO_FEW}",
                                        line=dict(color="#bbbbbb", dash="dot")))
            continue
        band = dict(mode="lines", line=dict(width=0, shape="hv", color=colour), hoverinfo="skip",
                    legendgroup=name, showlegend=False)
        figure.add_trace(go.Scatter(x=shown["months"], y=shown["ci_high"], **band))
        figure.add_trace(go.Scatter(x=shown["months"], y=shown["ci_low"], fill="tonexty", opacity=0.2, **band))
        figure.add_trace(go.Scatter(
            x=shown["months"], y=shown["survival"], mode="lines+markers",
            name=f"{name} (n = {int(shown['n'].iloc[0]):,})",
            legendgroup=name, line=dict(shape="hv", color=colour),
            customdata=shown[["ci_low", "ci_high", "at_risk", "events", "n", "teachers"]].to_numpy(),
            hovertemplate=("month %{x}: %{y:.0%} not abandoned<br>95% CI %{customdata[0]:.0%}–%{customdata[1]:.0%}"
                           "<br>at risk %{customdata[2]}, abandoned here %{customdata[3]}"
                           "<br>n = %{customdata[4]} teacher-practices, %{customdata[5]} teachers"
                           "<extra>%{fullData.name}</extra>"),
        ))
    return _layout(figure, title, xaxis_title=MONTHS_AXIS,
                   yaxis=dict(title="share of practices not yet abandoned", tickformat=".0%", range=[0, 1.05]),
                   legend_title=group or "")


# -- Hindrances --------------------------------------------------------------------------------

def prevalence_heatmaps(table: pd.DataFrame, row: str, label: Callable[[str], str], title: str) -> go.Figure:
    """Share of visits reporting each hindrance (hindrance_prevalence by `row` and months): one
    heatmap per hindrance, `row` down, rounds across, on one colour scale. Suppressed cells are
    blank, their hover says "too few to show"."""
    hindrances = list(dict.fromkeys(table["hindrance"]))
    columns = 4
    rows = max(1, math.ceil(len(hindrances) / columns))
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=[label(h) for h in hindrances],
                           shared_yaxes=True, horizontal_spacing=0.03, vertical_spacing=0.14)
    top = table.loc[~table["suppressed"], "rate"].max()
    top = float(top) if pd.notna(top) and top > 0 else 1.0
    for index, hindrance in enumerate(hindrances):
        cells = table[table["hindrance"] == hindrance]
        rate = cells.pivot(index=row, columns="months", values="rate")
        hover = cells.assign(text=np.where(cells["suppressed"], TOO_FEW,
                                           "n = " + cells["n"].astype(str) + " visits, "
                                           + cells["teachers"].astype(str) + " teachers"))
        text = hover.pivot(index=row, columns="months", values="text").reindex_like(rate).fillna("no visits")
        figure.add_trace(go.Heatmap(
            z=rate.to_numpy(), x=[str(m) for m in rate.columns], y=[str(v) for v in rate.index],
            text=text.to_numpy(), zmin=0, zmax=top, coloraxis="coloraxis", name=label(hindrance),
            hovertemplate="%{y}, month %{x}: %{z:.0%}<br>%{text}<extra>%{fullData.name}</extra>",
            hoverongaps=True,
        ), row=index // columns + 1, col=index % columns + 1)
    figure.update_xaxes(type="category", title_text=None)
    figure.update_xaxes(title_text="month", row=rows)
    return _layout(figure, title, height=260 * rows + 120,
                   coloraxis=dict(colorscale="OrRd", cmin=0, cmax=top,
                                  colorbar=dict(title="share of visits", tickformat=".0%")))


FOREST_METHOD = ("Exposure = the hindrance was reported at the teacher's previous visit; n = teachers with the "
                 "hindrance. Hazard ratios adjusted for round, practice and programme; Benjamini–Hochberg across "
                 "all hindrances shown")


def forest(table: pd.DataFrame, group: str | None, label: Callable[[str], str], title: str) -> go.Figure:
    """Hazard ratio of abandonment with vs without each hindrance (hindrance_effect), 95% interval
    robust to clustering by school, log x axis, a line at 1 (no difference). Tick labels carry
    n (teachers with the hindrance) and their abandonments; the marker text p_adj
    (Benjamini-Hochberg across the whole table). Suppressed or unestimable rows say why at x = 1."""
    figure = go.Figure()
    order = list(dict.fromkeys(table["hindrance"]))
    ticks = {h: label(h) for h in order}
    if not group:
        for hindrance, rows in table.groupby("hindrance", sort=False):
            row = rows.iloc[0]
            if row["suppressed"] or pd.isna(row["n"]):
                ticks[hindrance] = f"{label(hindrance)}<br>{TOO_FEW}"
            else:
                ticks[hindrance] = (f"{label(hindrance)}<br>n = {int(row['n']):,} teachers, "
                                    f"{int(row['events']):,} abandonments")
    missing = []
    for index, (value, rows) in enumerate(_groups(table, group)):
        shown = rows[~rows["suppressed"] & rows["hazard_ratio"].notna()]
        missing += [(h, TOO_FEW if s else (note or "no estimate"), value)
                    for h, s, note in rows.loc[~rows.index.isin(shown.index), ["hindrance", "suppressed", "note"]]
                    .itertuples(index=False)]
        if shown.empty:
            continue
        figure.add_trace(go.Scatter(
            x=shown["hazard_ratio"], y=[ticks[h] for h in shown["hindrance"]], mode="markers+text", orientation="h",
            name=str(value) if group else "hazard ratio", marker=dict(size=10, color=PALETTE[index % len(PALETTE)]),
            error_x=_error_y(shown, "hazard_ratio") | {"thickness": 1.5},
            text=[(f"n {int(n):,} · " if group else "") + "p_adj " + (f"{p:.3f}" if p >= 0.001 else "< 0.001")
                  for n, p in zip(shown["n"], shown["p_adj"])],
            textposition="top center" if not group else "middle right", textfont=dict(size=10),
            customdata=shown[["ci_low", "ci_high", "p_adj", "risk_difference_12", "rd_ci_low", "rd_ci_high", "n",
                              "events", "crude_hazard_ratio"]].to_numpy(),
            hovertemplate=("hazard ratio %{x:.2f} (95% CI %{customdata[0]:.2f}–%{customdata[1]:.2f}), "
                           "p_adj %{customdata[2]:.3g}; crude %{customdata[8]:.2f}<br>difference in abandonment "
                           "by month 12: %{customdata[3]:+.1%} (%{customdata[4]:+.1%} to %{customdata[5]:+.1%})"
                           "<br>n = %{customdata[6]} teachers with the hindrance, %{customdata[7]} abandonments"
                           "<extra>%{fullData.name}</extra>"),
        ))
    if missing:
        figure.add_trace(go.Scatter(
            x=[1] * len(missing), y=[ticks[h] for h, _, _ in missing], mode="text", showlegend=False,
            text=[(f"{v}: " if group else "") + reason for _, reason, v in missing], textfont=dict(color="#888"),
            hoverinfo="text",
        ))
    figure.add_vline(x=1, line_dash="dash", line_color="#555")
    return _layout(figure, title, scattermode="group", legend_traceorder="reversed",
                   xaxis=dict(type="log", title="hazard ratio of abandonment, exposed vs not (log scale)"),
                   yaxis=dict(title=None, categoryorder="array", categoryarray=[ticks[h] for h in reversed(order)]),
                   legend_title=group or "", height=max(450, len(order) * (40 + 24 * _count(table, group)) + 150))


def forest_caption(table: pd.DataFrame, min_n: int) -> str:
    """The forest plot's caption: the method, how many tests share the Benjamini-Hochberg
    family, and how many points are too few to show."""
    tests = int(table["p_adj"].notna().sum())
    hidden = int(table["suppressed"].sum())
    text = f"{FOREST_METHOD} ({tests} tests, one family); 95% intervals robust to clustering by school."
    if hidden:
        text += (f" {hidden} point(s) {TOO_FEW} (fewer than {min_n} teachers with or without the "
                 f"hindrance).")
    return text + " An association, not a proven cause."


# -- Communities of practice ---------------------------------------------------------------------

def meetings_bars(table: pd.DataFrame, threshold: float, title: str) -> go.Figure:
    """CoP meetings per month after the programme by cluster (cop_activity), n (visits answering
    the CoP question) on each bar; the line marks the active-CoP threshold. Suppressed clusters
    get no bar and a "too few to show" label."""
    shown = table[~table["suppressed"]]
    hidden = table[table["suppressed"]]
    figure = go.Figure(go.Bar(
        x=shown["cluster"], y=shown["meetings_per_month"], name="meetings per month",
        text=["n = " + str(n) for n in shown["n"]], textposition="outside",
        customdata=shown[["meetings", "active_share", "n", "teachers"]].to_numpy(),
        hovertemplate=("%{x}: %{y:.2f} meetings per month (%{customdata[0]} logged)<br>"
                       "%{customdata[1]:.0%} of visits heard the CoP met last month"
                       "<br>n = %{customdata[2]} visits, %{customdata[3]} teachers<extra></extra>"),
    ))
    if len(hidden):
        figure.add_trace(go.Scatter(x=hidden["cluster"], y=[0] * len(hidden), mode="text", text=[TOO_FEW] * len(hidden),
                                    textposition="top center", showlegend=False, hoverinfo="skip"))
    figure.add_hline(y=threshold, line_dash="dash", line_color="#555",
                     annotation_text=f"active: {threshold:g} meetings per month or more",
                     annotation_position="top left")
    return _layout(figure, title, xaxis=dict(title="cluster", categoryorder="array",
                                             categoryarray=table["cluster"].tolist()),
                   yaxis=dict(title="meetings per month after the programme", rangemode="tozero"), showlegend=False)
