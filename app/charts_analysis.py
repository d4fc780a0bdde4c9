"""Plotly figures of the analysis pages (districts, practices, hindrances, communities).

As in app/charts.py: every value drawn is a column of a metric table; the only arithmetic is
what plotting needs (error-bar offsets from the interval columns). Suppressed rows are not drawn
and are named "too few to show" in hover text, tick labels or the legend. `label` maps a code
(practice, hindrance) to its config label; pages pass `config.practice_label` and so on.
"""
from __future__ import annotations

import functools
import json
import math
import textwrap
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from app.charts import TITLE_WIDTH, interval_hover, legend_below, title_margin, titles_in_direction, wrap_title
from metrics.base import TOO_FEW
from metrics.planner import SCORE_LINES  # noqa: F401 (the planner page's explanation)
from report.answers import EVIDENCE_P, fastest_hindrance
from sustain.dimensions import BY_NAME, sort_key
from sustain.messages import current_language, data_words, t

PALETTE = qualitative.Plotly
CLASS_COLOURS = {"decaying": "#d62728", "uncertain": "#9e9e9e", "persisting": "#2ca02c", TOO_FEW: "#dddddd"}
MONTHS_AXIS = "months since programme end"


def _figure(traces: list[dict], layout: dict, title: str, **extra) -> go.Figure:
    """The figure of `traces` and `layout` (plain dicts) with the common look: a finding as the
    title, wrapped to fit a phone (`charts.TITLE_WIDTH`), with the top margin its lines need (and
    `extra_top` more, for subplot titles under it), and `extra` (layout settings, plotly's magic
    underscores allowed). Validated once, by plotly's constructor: through plotly's setters (an
    update per trace, line, name and title) a chart with many annotations cost 30-80 ms a render,
    most of a server's time under load."""
    extra_top = extra.pop("extra_top", 0)
    wrapped = title if not title or "<br>" in title else wrap_title(title)
    top = max(70, title_margin(wrapped)) + extra_top
    layout = _merged(layout, _expanded(dict(title=wrapped, margin=dict(t=top, l=10, r=10, b=10), hovermode="closest")
                                       | extra))
    legend = ((layout.get("legend") or {}).get("title") or {}).get("text")
    if legend in BY_NAME and current_language() != "en":  # a legend titled by a dimension: its name in words
        layout = _merged(layout, {"legend": {"title": {"text": t(BY_NAME[legend].label.lower())}}})
    return titles_in_direction(go.Figure(data=traces, layout=layout))


def _expanded(settings: dict) -> dict:
    """Plotly's "magic underscores" spelled out, as update_layout reads them: {"legend_traceorder":
    "reversed"} -> {"legend": {"traceorder": "reversed"}} (no plotly property name has one)."""
    out: dict = {}
    for key, value in settings.items():
        *path, last = key.split("_")
        for step in reversed(path):
            value, last = {last: value}, step
        out = _merged(out, {last: value})
    return out


def _merged(base: dict, update: dict) -> dict:
    """`update` merged into a copy of `base` as plotly's update_layout merges them: a dict into a
    dict key by key, anything else replaced."""
    out = dict(base)
    for key, value in update.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@functools.lru_cache(maxsize=32)
def _dashed_line_json(axis: str, at: float, words: str | None, position: str | None, layer: str | None) -> str:
    """The dashed line across the plot at `at` on `axis` ("x": upright, "y": level), with its note
    `words` at `position`, as plotly's add_vline / add_hline draws it: its shapes and annotations,
    from a scratch figure once per line."""
    scratch = go.Figure()
    draw = scratch.add_vline if axis == "x" else scratch.add_hline
    draw(at, line_dash="dash", line_color="#555", **({"layer": layer} if layer else {}),
         **({"annotation_text": words, "annotation_position": position} if words is not None else {}))
    layout = scratch.to_dict()["layout"]
    return json.dumps({"shapes": layout.get("shapes", []), "annotations": layout.get("annotations", [])})


def _dashed_line(axis: str, at: float, words: str | None = None, position: str | None = None,
                 layer: str | None = "below") -> dict:
    """`_dashed_line_json`, a fresh copy: {"shapes": [...], "annotations": [...]}."""
    return json.loads(_dashed_line_json(axis, at, words, position, layer))


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

# schools drawn in the ranking: the strongest evidence first (the table below lists every school)
TOP_SCHOOLS = 15
# the schools table lists at most this many, strongest evidence first: at a million teachers a
# country holds 166,667 schools, a second to send on every rerun and more than anyone reads on a
# screen; the rest are one district or cluster away (the page's drill-down)
SCHOOLS_LISTED = 2_000


def drill_values(values, current: str | None) -> tuple[list, str | None]:
    """The values a drill-down box (cluster, school) offers, sorted, and None; past
    SCHOOLS_LISTED values only the `current` choice (a link's), and a sentence saying to narrow
    first: a box of a country's 166,667 schools is megabytes sent to every browser on each rerun,
    and no one scrolls it."""
    if len(values) <= SCHOOLS_LISTED:
        return sorted(values), None
    return ([current] if current in set(values) else []), t(
        "{count} to choose from: choose a district (in the sidebar) or a cluster first.", count=f"{len(values):,}")


def listed_schools(schools: pd.DataFrame) -> pd.DataFrame:
    """The schools the table lists: the first SCHOOLS_LISTED of school_trends' order (strongest
    evidence first); `ranking_caption` says when some are left out. Arrow list columns (as the
    result store gives them) become lists of the listed rows only: Streamlit's table cannot convert a
    slice of an Arrow list column."""
    listed = schools.head(SCHOOLS_LISTED)
    arrow_lists = {name: listed[name].tolist() for name, dtype in listed.dtypes.items()
                   if isinstance(dtype, pd.ArrowDtype) and pa.types.is_list(dtype.pyarrow_dtype)}
    return listed.assign(**{name: pd.Series(values, index=listed.index, dtype=object)
                            for name, values in arrow_lists.items()})


def school_names(schools: pd.DataFrame, codes: list) -> dict:
    """school_id -> school_name of the schools `codes` (a box's choices), looked up for those only."""
    chosen = schools[schools["school_id"].isin(codes)]
    return dict(zip(chosen["school_id"], chosen["school_name"]))


def school_label(row) -> str:
    """A school as the ranking names it: "GGHS Saranan (SCH-0417)"."""
    return f"{row['school_name']} ({row['school_id']})"


def ranking_caption(schools: pd.DataFrame, min_n: int) -> str:
    """What the school ranking rests on, in words: how many schools are judged and drawn, and which
    figures are hidden (a school's chance is still shown, rounded, for a small school: it is weighed
    against its district's schools, so it cannot be read back into its teachers' scores)."""
    judged = int((schools["persistence_class"] != TOO_FEW).sum())
    shown = ~schools["suppressed"]
    text = (t("Each school's retention rests on up to {n} observations of {teachers} teachers; ",
              n=f"{int(schools.loc[shown, 'n'].max()):,}", teachers=f"{int(schools.loc[shown, 'teachers'].max()):,}")
            if shown.any() else "")
    counts = dict(judged=f"{judged:,}", schools=f"{len(schools):,}", drawn=min(TOP_SCHOOLS, len(schools)))
    if len(schools) <= SCHOOLS_LISTED:
        text += t("{judged} of {schools} schools judged; the {drawn} with the strongest evidence are drawn (hover or "
                  "click a school to see it; the table lists every school).", **counts)
    else:
        text += t("{judged} of {schools} schools judged; the {drawn} with the strongest evidence are drawn (hover or "
                  "click a school to see it). The table lists the {listed} with the strongest evidence: choose a "
                  "district or a cluster above to list all of theirs.", listed=f"{SCHOOLS_LISTED:,}", **counts)
    hidden = int(schools["suppressed"].sum())
    if hidden:
        text += " " + t("{hidden} schools have fewer than {min_n} teachers (or are hidden with them, so that no school "
                        "can be worked out from its cluster's or district's figures): their retention and hindrances "
                        "are too few to show and their chance is shown rounded.", hidden=f"{hidden:,}", min_n=min_n)
    return text + " " + t("Class too few to show: not visited at the round schools are compared at.")


def class_sentence(table: pd.DataFrame, evidence: float) -> str:
    """The classes in one plain sentence, at the round the schools are compared at."""
    rounds = table["round"].dropna()
    when = (t("{months} months after the programme", months=int(rounds.max())) if len(rounds)
            else t("the same time after the programme"))
    return t("A school is decaying when it is at least {evidence} likely to keep fewer practices than its "
             "programme's schools as a whole {when}, persisting when at most {low} likely, and uncertain in between; "
             "a small school's few visits are weighed against its district, so it does not lead by chance.",
             evidence=f"{evidence:.0%}", when=when, low=f"{1 - evidence:.0%}")


def school_ranking(table: pd.DataFrame, evidence: float, title: str, chosen: str | None = None,
                   top: int = TOP_SCHOOLS) -> go.Figure:
    """The `top` schools with the strongest evidence that they keep fewer practices than their
    programme (school_trends `p_below_programme`, already in that order), one row each, the first
    on top, each named above its dot (so the whole width stays for the scale, phones too); the dot
    at the school's probability, coloured by class; the class thresholds (`evidence`,
    1 - `evidence`) as dashed lines. The `chosen` school is drawn too (added when not among the
    top), bigger, outlined and named in bold. Hover names the school, its programme's retention at
    the round and its hindrances; each point carries its school_id first in customdata (a click
    chooses the school). Schools not observed at the round are not drawn."""
    # positions first, rows after: a country's table has 166,667 schools at 1M teachers
    ranked = np.flatnonzero(table["p_below_programme"].notna().to_numpy())
    shown = table.iloc[ranked[:top]]
    if chosen is not None and chosen not in set(shown["school_id"]):
        picked = ranked[table["school_id"].to_numpy()[ranked] == chosen]
        shown = pd.concat([shown, table.iloc[picked]])
    position = {code: len(shown) - 1 - i for i, code in enumerate(shown["school_id"])}  # first on top
    traces = []
    for kind in ("decaying", "uncertain", "persisting"):
        rows = shown[shown["persistence_class"] == kind]
        if rows.empty:
            continue
        picked = (rows["school_id"] == chosen).to_numpy()
        traces.append(dict(
            type="scatter", x=rows["p_below_programme"], y=[position[c] for c in rows["school_id"]], mode="markers",
            name=t(kind),
            marker=dict(color=CLASS_COLOURS[kind], size=np.where(picked, 16, 11),
                        line=dict(color="#111", width=np.where(picked, 2.5, 0))),
            customdata=np.column_stack([rows[["school_id", "round", "programme", "programme_retention"]]
                                        .astype(object).to_numpy(),
                                        [t(TOO_FEW) if hidden else (data_words(text) or t("none reported")) for hidden, text
                                         in zip(rows["suppressed"], rows["hindrances"].fillna(""))],
                                        [school_label(row) for _, row in rows.iterrows()]]),
            hovertemplate=("<b>%{customdata[5]}</b><br>" + t(
                "{chance} chance it keeps fewer practices at month {months} than {programme} schools as a whole "
                "({retention})", chance="%{x:.0%}", months="%{customdata[1]}", programme="%{customdata[2]}",
                retention="%{customdata[3]:.0%}") + "<br>" + t("hindrances: {hindrances}", hindrances="%{customdata[4]}")
                + "<extra>%{fullData.name}</extra>"),
        ))
    lines = [_dashed_line("x", level, words, f"top {side}")
             for level, words, side in ((evidence, t("decaying →"), "right"), (1 - evidence, t("← persisting"), "left"))]
    names = [dict(x=0, xref="paper", y=position[code] + 0.15, yref="y", showarrow=False,
                  xanchor="left", yanchor="bottom", bgcolor="rgba(255,255,255,0.8)",
                  text=f"<b>{school_label(row)} ◀ {t('chosen')}</b>" if code == chosen else school_label(row),
                  font=dict(size=12, color="#111" if code == chosen else "#333"))
             for code, (_, row) in zip(shown["school_id"], shown.iterrows())]
    layout = {"shapes": [shape for line in lines for shape in line["shapes"]],
              "annotations": [note for line in lines for note in line["annotations"]] + names}
    return _figure(traces, layout, _title_lines(title),
                   xaxis=dict(title=None, tickformat=".0%", range=[-0.02, 1.02], side="top"),
                   yaxis=dict(title=None, showticklabels=False, range=[-0.5, len(shown) - 0.2], zeroline=False,
                              tickvals=[r + 0.5 for r in range(-1, len(shown))]),
                   legend=dict(title=dict(text=t("class"), side="left"), orientation="h", yanchor="top", y=-0.01,
                               x=0, xanchor="left"),
                   height=len(shown) * 44 + 170, margin=dict(t=100, l=10, r=10, b=30))


# an area's level (metrics.schools.area_hindrances) as the card names it
AREA_WORDS = {"cluster": "too few to show at this school; in its cluster {area}",
              "district": "too few to show at this school; in its district {area}",
              "province": "too few to show at this school; in its province {area}"}


def area_hindrances_text(area: pd.DataFrame, label: Callable[[str], str]) -> str:
    """A suppressed school's hindrances said through its nearest area that can be shown, named as
    that area's: "too few to show at this school; in its cluster PIS-C1 (49 teachers, 240 visits):
    Teachers' low pay at 41% of visits; ...". """
    shown = area[~area["suppressed"]]
    if shown.empty:
        return t("too few to show, here or in any area around it")
    first = shown.iloc[0]
    # the school's own visits can rest on enough teachers when its retention does not
    where = (t("at this school") if first["level"] == "school_id"
             else t(AREA_WORDS[first["level"]], area=first["area"]))
    reported = t("; ").join(t("{hindrance} at {share} of visits", hindrance=label(r.hindrance), share=f"{r.rate:.0%}")
                            for r in shown.itertuples() if r.reported)
    return t("{where} ({teachers} teachers, {visits} visits): {reported}", where=where,
             teachers=f"{int(shown['teachers'].max()):,}", visits=f"{int(shown['n'].max()):,}",
             reported=reported or t("none reported"))


def school_card(row: pd.DataFrame, months: list[int], area_hindrances: str | None = None) -> pd.DataFrame:
    """The chosen school (its school_trends row) as a two-column table of plain words: name and
    place, class and chance, retention at each round of `months` (the schedule) shown, hindrances
    reported (for a school too small to show them, `area_hindrances`: its area's, named so).
    Shown with st.table, it wraps."""
    r = row.iloc[0]
    chance = (t("not visited at the month schools are compared at") if pd.isna(r["p_below_programme"]) else
              t("{chance} chance it keeps fewer practices than {programme} schools as a whole (at their visits {months} "
                "months after the programme, {retention} of the practices scored were in use)", chance=f"{r['p_below_programme']:.0%}",
                programme=r['programme'], retention=f"{r['programme_retention']:.0%}", months=int(r['round'])))
    trend = t(TOO_FEW) if r["suppressed"] else t(", ").join(
        t("month {months}: {share}", months=m, share=f"{v:.0%}") for m, v in zip(months, r["retention"])
        if v is not None) or t(TOO_FEW)
    return pd.DataFrame({"": [t("School"), t("Class"), t("Evidence"), t("Retention by round"), t("Hindrances reported")],
                         t("chosen school"): [t("{school} ({code}), cluster {cluster}, {district}", school=r['school_name'],
                                                code=r['school_id'], cluster=r['cluster'], district=r['district']),
                                              data_words(r["persistence_class"]), chance, trend,
                                              data_words(r["hindrances"]) or (t("none reported") if not r["suppressed"]
                                                                              else area_hindrances or t(TOO_FEW))]}
                        ).set_index("")


# -- Practices ---------------------------------------------------------------------------------

def practice_decay(table: pd.DataFrame, group: str | None, label: Callable[[str], str], title: str) -> go.Figure:
    """Retention by months, one line per practice (colour), one panel per `group` value (built as
    dicts: `_figure`)."""
    panels = _groups(table, group)
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    layout = _subplot_grid(rows, columns, len(panels) if group else 0, horizontal_spacing=None, vertical_spacing=0.12)
    for annotation, (value, _) in zip(layout.get("annotations", []), panels):
        annotation["text"] = str(value)
    practices = sorted(table["practice"].dropna().unique())
    colours = {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(practices)}
    traces = []
    for index, (value, rows_of_panel) in enumerate(panels):
        row = index // columns + 1
        for practice, shown in rows_of_panel.groupby("practice", sort=True):
            name = label(practice)
            hidden = shown[shown["suppressed"]]
            shown = shown[~shown["suppressed"]]
            if shown.empty:
                continue
            traces.append(dict(
                type="scatter", x=shown["months"], y=shown["rate"], mode="lines+markers", name=name,
                legendgroup=practice, showlegend=index == 0, line=dict(color=colours[practice]),
                error_y=_error_y(shown, "rate"),
                customdata=shown[["n", "teachers", "ci_low", "ci_high"]].to_numpy(), text=interval_hover(shown),
                hovertemplate=(t("month {months}: {share} retained", months="%{x}", share="%{y:.0%}") + "<br>"
                               + "%{text}"
                               + t("n = {n} teacher-practices ({teachers} teachers)", n="%{customdata[0]}",
                                   teachers="%{customdata[1]}")
                               + ("<br>" + t("{hidden} round(s) too few to show", hidden=len(hidden)) if len(hidden) else "")
                               + f"<extra>{name}{' · ' + str(value) if group else ''}</extra>"),
                xaxis=_axis_name("x", index + 1), yaxis=_axis_name("y", index + 1),
            ))
        layout.setdefault(_axis_name("xaxis", index + 1), {})["title"] = {"text": t(MONTHS_AXIS) if row == rows else None}
    for index in range(1, rows * columns + 1):
        axis = layout.setdefault(_axis_name("yaxis", index), {})
        axis.update(tickformat=".0%", range=[0, 1.05])
        if (index - 1) % columns == 0:
            axis["title"] = {"text": t("share retained")}
    return _figure(traces, layout, title, height=max(450, 330 * rows) + 40 * math.ceil(len(practices) / 2),
                   legend=legend_below(t("practice")))


def half_life_dots(table: pd.DataFrame, group: str | None, label: Callable[[str], str], title: str) -> go.Figure:
    """Half-life by practice with its 95% interval (half_life), one colour per `group` value.
    No-decay and unfittable rows are not drawn; the y label carries the reason."""
    traces = []
    for index, (value, rows) in enumerate(_groups(table, group)):
        finite = rows["half_life_months"].replace([np.inf, -np.inf], np.nan)
        shown = rows[~rows["suppressed"] & finite.notna()]
        if shown.empty:
            continue
        upper = shown["ci_high"].replace([np.inf], np.nan)
        traces.append(dict(
            type="scatter", x=shown["half_life_months"], y=[label(p) for p in shown["practice"]], mode="markers", orientation="h",
            name=str(value) if group else t("all teachers"), marker=dict(size=10, color=PALETTE[index % len(PALETTE)]),
            error_x=dict(type="data", symmetric=False, array=upper - shown["half_life_months"],
                         arrayminus=shown["half_life_months"] - shown["ci_low"], thickness=1.5),
            text=[t("95% CI {range}", range=f"{low:.1f} – {t('open') if pd.isna(high) else f'{high:.1f}'}") + "<br>"
                  + t("n = {n} teacher-practices ({teachers} teachers)", n=f"{n:,}", teachers=f"{teachers:,}")
                  + t("; ") + t("{rounds} rounds", rounds=rounds)
                  for low, high, n, teachers, rounds in shown[["ci_low", "ci_high", "n", "teachers", "rounds"]]
                  .assign(ci_high=upper).itertuples(index=False)],
            hovertemplate=t("half-life {months} months", months="%{x:.1f}") + "<br>%{text}<extra>%{fullData.name}</extra>",
        ))
    return _figure(traces, {}, title, scattermode="group", legend_traceorder="reversed",
                   xaxis=dict(title=t("half-life (months)"), rangemode="tozero"),
                   yaxis=dict(title=None, categoryorder="category descending"), legend=legend_below(group or ""),
                   height=max(460, table["practice"].nunique() * (30 + 16 * _count(table, group)) + 150))


def survival_curves(table: pd.DataFrame, group: str | None, title: str) -> go.Figure:
    """Life-table survival of retained practices (survival): a step line per group with its
    95% band. Suppressed groups appear in the legend as "too few to show", with nothing drawn."""
    traces = []
    for index, (value, rows) in enumerate(_groups(table, group)):
        colour = PALETTE[index % len(PALETTE)]
        name = str(value) if group else t("all practices")
        shown = rows[~rows["suppressed"]]
        if shown.empty:
            traces.append(dict(type="scatter", x=[None], y=[None], mode="lines", name=f"{name}: {t(TOO_FEW)}",
                               line=dict(color="#bbbbbb", dash="dot")))
            continue
        band = dict(mode="lines", line=dict(width=0, shape="hv", color=colour), hoverinfo="skip",
                    legendgroup=name, showlegend=False)
        traces.append(dict(type="scatter", x=shown["months"], y=shown["ci_high"], **band))
        traces.append(dict(type="scatter", x=shown["months"], y=shown["ci_low"], fill="tonexty", opacity=0.2, **band))
        traces.append(dict(
            type="scatter", x=shown["months"], y=shown["survival"], mode="lines+markers",
            name=f"{name} (n = {int(shown['n'].iloc[0]):,})",
            legendgroup=name, line=dict(shape="hv", color=colour),
            customdata=shown[["ci_low", "ci_high", "at_risk", "events", "n", "teachers"]].to_numpy(),
            text=interval_hover(shown),
            hovertemplate=(t("month {months}: {share} not abandoned", months="%{x}", share="%{y:.0%}") + "<br>"
                           + "%{text}"
                           + t("at risk {at_risk}, abandoned here {events}", at_risk="%{customdata[2]}",
                               events="%{customdata[3]}") + "<br>"
                           + t("n = {n} teacher-practices ({teachers} teachers)", n="%{customdata[4]}",
                               teachers="%{customdata[5]}") + "<extra>%{fullData.name}</extra>"),
        ))
    return _figure(traces, {}, title, xaxis_title=t(MONTHS_AXIS),
                   yaxis=dict(title=t("share of practices not yet abandoned"), tickformat=".0%", range=[0, 1.05]),
                   legend=legend_below(group or ""))


# -- Hindrances --------------------------------------------------------------------------------

def _wrapped(text: str, width: int = 16) -> str:
    """A subplot title on lines of about `width` characters (plotly does not wrap); a word longer
    than `width` keeps its line whole ("interference", not "interferen / ce")."""
    return "<br>".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)) or text


def prevalence_heatmaps(table: pd.DataFrame, row: str, label: Callable[[str], str], title: str) -> go.Figure:
    """Share of visits reporting each hindrance (hindrance_prevalence by `row` and months): one
    heatmap per hindrance, `row` down, rounds across, on one colour scale. Suppressed cells are
    blank, their hover says "too few to show".
    Built as one dict and validated once (`_figure`): through plotly's setters (make_subplots, then
    an update per axis and title) it cost about 75 ms a render, a fifth of a server's time under load."""
    hindrances = list(dict.fromkeys(table["hindrance"]))
    columns = 2  # four side by side left each title 40 px on a phone: they ran into each other
    rows = max(1, math.ceil(len(hindrances) / columns))
    subplot_titles = [_wrapped(label(h)) for h in hindrances]
    layout = _subplot_grid(rows, columns, len(subplot_titles))
    for annotation, text in zip(layout["annotations"], subplot_titles):
        annotation.update(text=text, font={"size": 11})  # the subplot titles
    for name, axis in layout.items():
        if name.startswith("xaxis"):
            axis.update(type="category", title={"text": None})
    for index in range((rows - 1) * columns + 1, rows * columns + 1):  # the bottom row's axes
        layout.setdefault(_axis_name("xaxis", index), {})["title"] = {"text": t("month")}
    top = table.loc[~table["suppressed"], "rate"].max()
    top = float(top) if pd.notna(top) and top > 0 else 1.0
    traces = []
    for index, hindrance in enumerate(hindrances):
        cells = table[table["hindrance"] == hindrance]
        rate = cells.pivot(index=row, columns="months", values="rate")
        hover = cells.assign(text=[t(TOO_FEW) if hidden else t("n = {n} visits, {teachers} teachers", n=n, teachers=k)
                                   for hidden, n, k in zip(cells["suppressed"], cells["n"], cells["teachers"])])
        text = hover.pivot(index=row, columns="months", values="text").reindex_like(rate).fillna(t("no visits"))
        traces.append(dict(
            type="heatmap", z=rate.to_numpy(), x=[str(m) for m in rate.columns], y=[str(v) for v in rate.index],
            text=text.to_numpy(), zmin=0, zmax=top, coloraxis="coloraxis", name=label(hindrance),
            hovertemplate="%{y}, " + t("month {months}: {share}", months="%{x}", share="%{z:.0%}")
            + "<br>%{text}<extra>%{fullData.name}</extra>",
            hoverongaps=True, xaxis=_axis_name("x", index + 1), yaxis=_axis_name("y", index + 1),
        ))
    # the top row's titles stand above its plots, under the chart's title; the colour scale lies
    # under the heatmaps, where upright at their right it took a third of a phone's width
    title_lines = max((title.count("<br>") + 1 for title in subplot_titles), default=1)
    return _figure(traces, layout, title, height=260 * rows + 190, extra_top=14 * title_lines,
                   coloraxis=dict(colorscale="OrRd", cmin=0, cmax=top,
                                  colorbar=dict(title=dict(text=t("share of visits"), side="top"), tickformat=".0%",
                                                orientation="h", yanchor="top", y=-0.1, x=0.5, len=0.9,
                                                thickness=14)))


def _axis_name(prefix: str, index: int) -> str:
    """Plotly's name of the `index`-th subplot's axis (from 1): "xaxis", "xaxis2", ... ("x", "x2" in a trace)."""
    return prefix if index == 1 else f"{prefix}{index}"


@functools.lru_cache(maxsize=32)
def _subplot_grid_cached(rows: int, columns: int, titles: int, horizontal_spacing: float | None,
                         vertical_spacing: float) -> str:
    placeholder = make_subplots(rows=rows, cols=columns, subplot_titles=["-"] * titles if titles else None,
                                shared_yaxes=True, horizontal_spacing=horizontal_spacing,
                                vertical_spacing=vertical_spacing)
    return json.dumps(placeholder.to_dict()["layout"])


def _subplot_grid(rows: int, columns: int, titles: int, horizontal_spacing: float | None = 0.03,
                  vertical_spacing: float = 0.14) -> dict:
    """The layout of a grid of panels sharing their y axes (axis domains, a title annotation per
    panel when `titles`), from plotly's make_subplots once per shape: a fresh copy to fill in.
    A trace of panel k (from 1, row by row) names its axes `_axis_name("x", k)`, `_axis_name("y", k)`."""
    return json.loads(_subplot_grid_cached(rows, columns, titles, horizontal_spacing, vertical_spacing))


FOREST_METHOD = ("Exposure = the hindrance was reported at the teacher's previous visit; n = teachers with the "
                 "hindrance. Hazard ratios adjusted for round, practice and programme; Benjamini–Hochberg across "
                 "all hindrances shown")
FOREST_READING = ("How to read it: right of 1, practices were dropped faster where the hindrance was reported "
                  "(2 = twice as fast, 0.5 = half as fast); the bar is the 95% interval; * = clear evidence "
                  "(adjusted p below 0.05).")
# the forest plot's ratio axis: doubling steps either side of 1, so 0.5 and 2 sit equally far from it
RATIO_TICKS = [0.25, 0.5, 1, 2, 4]
# the vertical room of one hindrance's row (y units): compared groups are spread inside it
DODGE_SPAN = 0.45
# a point's value label sits this factor beyond the end of its interval (log axis: a fixed gap)
LABEL_GAP = 1.12
# evidence for the plain sentence to speak of a difference (as the page's answer does)
RATIO_WORDS = [(1.5, "one and a half times"), (2.0, "twice"), (3.0, "three times"), (4.0, "four times")]


def dodge_offsets(count: int) -> list[float]:
    """y offsets of `count` compared groups within one hindrance's row: evenly spread over
    DODGE_SPAN, first group on top (0 for a single group)."""
    if count <= 1:
        return [0.0]
    step = DODGE_SPAN / (count - 1)
    return [DODGE_SPAN / 2 - i * step for i in range(count)]


def ratio_ticks(low: float, high: float) -> list[float]:
    """RATIO_TICKS, extended by doubling steps when an interval reaches beyond 0.25 or 4."""
    ticks = list(RATIO_TICKS)
    while ticks[0] > low and ticks[0] > 1 / 64:
        ticks.insert(0, ticks[0] / 2)
    while ticks[-1] < high and ticks[-1] < 64:
        ticks.append(ticks[-1] * 2)
    return ticks


def _tick_text(value: float) -> str:
    return f"{value:g}"


def _value_label(hazard_ratio: float, p_adj: float) -> str:
    """A point's label: the ratio, and a star when the evidence is clear (adjusted p < EVIDENCE_P)."""
    return f"{hazard_ratio:.1f}×" + (" *" if p_adj < EVIDENCE_P else "")


def forest_title(table: pd.DataFrame, label: Callable[[str], str]) -> str:
    """The forest plot's title stating its finding: the hindrance with the largest ratio among
    those with clear evidence (interval clear of 1, adjusted p below 0.05), or that none has."""
    row = fastest_hindrance(table)  # the sentence builder's rule, so title and answer agree
    if row is None:
        return t("No hindrance clearly goes with faster loss of practices")
    return t("{hindrance} goes with the fastest loss: {ratio}", hindrance=label(row['hindrance']),
             ratio=_ratio_words(float(row['hazard_ratio'])))


def _title_lines(title: str, width: int = TITLE_WIDTH) -> str:
    """A title broken into lines of at most `width` characters (plotly titles do not wrap: phones)."""
    return "<br>".join(textwrap.wrap(title, width))


def _effect_hover(shown: pd.DataFrame, label: Callable[[str], str]) -> list[str]:
    """Each estimated hindrance's hover, built per point: a figure that is blank (the risk
    difference with a months filter, the crude ratio or an interval that could not be had) is left
    out, where a hovertemplate would print "NaN"."""
    def number(value, spec: str) -> str:
        return "–" if pd.isna(value) or not np.isfinite(value) else format(value, spec)

    texts = []
    for row in shown.itertuples(index=False):
        span = f"{number(row.ci_low, '.2f')}–{number(row.ci_high, '.2f')}"
        lines = [f"<b>{label(row.hindrance)}</b>", t(
            "hazard ratio {ratio} ({interval}), p_adj {p}; crude {crude}", ratio=number(row.hazard_ratio, ".2f"),
            interval=t("95% CI {range}", range=span), p=number(row.p_adj, ".3g"),
            crude=number(row.crude_hazard_ratio, ".2f"))]
        if pd.notna(row.risk_difference_12):
            lines.append(t("difference in abandonment by month 12: {difference} ({low} to {high})",
                           difference=number(row.risk_difference_12, "+.1%"), low=number(row.rd_ci_low, "+.1%"),
                           high=number(row.rd_ci_high, "+.1%")))
        lines.append(t("n = {n} teachers with the hindrance, {events} abandonments", n=row.n, events=row.events))
        texts.append("<br>".join(lines))
    return texts


def forest(table: pd.DataFrame, group: str | None, label: Callable[[str], str], title: str) -> go.Figure:
    """Hazard ratio of abandonment with vs without each hindrance (hindrance_effect), 95% interval
    robust to clustering by school, on a log axis ticked at 0.25, 0.5, 1, 2, 4 (plain numbers), a
    dashed line at 1 (no difference).

    Each hindrance is a row at an integer y (first hindrance on top), named above its points with
    n (teachers with the hindrance) and their abandonments when not compared; compared groups are
    dodged inside the row (`dodge_offsets`), one colour each, so they never overlap. Each point's
    label (the ratio, a star when the adjusted p is below 0.05) sits beyond the end of its
    interval on the side away from 1, so it covers neither a point nor the line at 1. Suppressed or
    unestimable rows say why at x = 1."""
    traces = []
    order = list(dict.fromkeys(table["hindrance"]))
    row_of = {h: len(order) - 1 - i for i, h in enumerate(order)}  # first hindrance on top
    groups = _groups(table, group)
    offsets = dict(zip([value for value, _ in groups], dodge_offsets(len(groups))))
    finite = table[~table["suppressed"] & table["hazard_ratio"].notna()]
    lows = finite["ci_low"].where(finite["ci_low"] > 0, finite["hazard_ratio"])
    highs = finite["ci_high"].replace([np.inf], np.nan).fillna(finite["hazard_ratio"])
    ticks = ratio_ticks(float(lows.min()) if len(lows) else 1.0, float(highs.max()) if len(highs) else 1.0)
    missing_x, missing_y, missing_text = [], [], []
    for index, (value, rows) in enumerate(groups):
        shown = rows[~rows["suppressed"] & rows["hazard_ratio"].notna()]
        for hindrance, suppressed, note in rows.loc[~rows.index.isin(shown.index), ["hindrance", "suppressed", "note"]] \
                .itertuples(index=False):
            missing_x.append(1)
            missing_y.append(row_of[hindrance] + offsets[value])
            missing_text.append((f"{value}: " if group else "") + (t(TOO_FEW) if suppressed else
                                                                   (data_words(note) or t("no estimate"))))
        if shown.empty:
            continue
        colour = PALETTE[index % len(PALETTE)]
        y = [row_of[h] + offsets[value] for h in shown["hindrance"]]
        traces.append(dict(
            type="scatter", x=shown["hazard_ratio"], y=y, mode="markers",
            name=str(value) if group else t("hazard ratio"), legendgroup=str(value),
            marker=dict(size=10, color=colour), error_x=_error_y(shown, "hazard_ratio") | {"thickness": 1.5},
            text=_effect_hover(shown, label), hovertemplate="%{text}<extra>%{fullData.name}</extra>",
        ))
        # labels beyond the interval's end away from 1: off the point, the bar and the line at 1
        above = shown["hazard_ratio"] >= 1
        high = shown["ci_high"].replace([np.inf], np.nan).fillna(shown["hazard_ratio"])
        low = shown["ci_low"].where(shown["ci_low"] > 0, shown["hazard_ratio"])
        traces.append(dict(
            type="scatter", x=np.where(above, high * LABEL_GAP, low / LABEL_GAP), y=y, mode="text", showlegend=False,
            legendgroup=str(value), hoverinfo="skip", cliponaxis=False,
            text=[_value_label(hr, p) for hr, p in zip(shown["hazard_ratio"], shown["p_adj"])],
            textposition=["middle right" if a else "middle left" for a in above],
            textfont=dict(size=11, color=colour),
        ))
    if missing_x:
        traces.append(dict(type="scatter", x=missing_x, y=missing_y, mode="text", showlegend=False, text=missing_text,
                           textposition="middle right", textfont=dict(color="#888"), hoverinfo="text"))
    layout = _dashed_line("x", 1)
    # each hindrance named above its row, left-aligned: the whole width stays for the axis (phones)
    for hindrance in order:
        rows = table[table["hindrance"] == hindrance]
        name = label(hindrance)
        if not group:
            row = rows.iloc[0]
            name += f" · {t(TOO_FEW)}" if row["suppressed"] or pd.isna(row["n"]) else \
                " · " + t("n = {n} teachers with the hindrance, {events} abandonments", n=f"{int(row['n']):,}",
                          events=f"{int(row['events']):,}")
        layout["annotations"].append(dict(x=0, xref="paper", y=row_of[hindrance] + DODGE_SPAN / 2 + 0.1, yref="y",
                                          text=name, showarrow=False, xanchor="left", yanchor="bottom",
                                          bgcolor="rgba(255,255,255,0.8)", font=dict(size=12, color="#333")))
    rows = len(order)
    return _figure(traces, layout, _title_lines(title),
                   xaxis=dict(type="log", title=t("times as fast with the hindrance (1 = no difference)"),
                              tickvals=ticks, ticktext=[_tick_text(t) for t in ticks],
                              # room beyond the outer ticks for the value labels
                              range=[math.log10(ticks[0]) - 0.12, math.log10(ticks[-1]) + 0.12]),
                   # grid lines between the rows (not through the points)
                   yaxis=dict(title=None, showticklabels=False, range=[-0.5, rows - 0.5], zeroline=False,
                              tickvals=[r + 0.5 for r in range(-1, rows)], showgrid=True),
                   legend=dict(title=dict(text=group or "", side="left"), orientation="h", yanchor="bottom",
                               y=1.0, x=0, xanchor="left"),
                   showlegend=bool(group),
                   height=max(420, rows * (56 + 20 * _count(table, group)) + 160),
                   margin=dict(t=(40 if group else 10) + 22 * (1 + len(_title_lines(title).split("<br>"))), l=10, r=10,
                               b=10))


def _ratio_words(hazard_ratio: float) -> str:
    """1.95 -> "about twice as fast"; 1.3 -> "1.3 times as fast"."""
    for value, words in RATIO_WORDS:
        if abs(hazard_ratio / value - 1) <= 0.1:
            return t("about {words} as fast", words=t(words))
    return t("{ratio} times as fast", ratio=f"{hazard_ratio:.1f}")


def _per_hundred(value: float) -> int:
    """A share as a whole number per 100, without a negative zero."""
    return int(round(value * 100)) + 0


def _in_hundred(value: float) -> str:
    count = _per_hundred(value)
    if count == 0:
        return t("about as many")
    return (t("{count} more in 100", count=abs(count)) if count > 0 else t("{count} fewer in 100", count=abs(count)))


def effect_sentence(row, label: Callable[[str], str], group: str | None = None) -> str:
    """One hindrance_effect row in plain words: how much faster practices are dropped where the
    hindrance was reported; whether the evidence is clear (95% interval clear of 1 and adjusted p
    below 0.05), may be chance (interval clear of 1, but not after adjusting for the number of
    tests) or shows no clear difference; and the difference in practices abandoned by month 12
    with its interval."""
    name = label(row["hindrance"])
    prefix = f"{row[group]}: " if group else ""
    if bool(row["suppressed"]):
        return f"{prefix}{name}: {t(TOO_FEW)}{t('.')}"
    if pd.isna(row["hazard_ratio"]):
        return prefix + t("{name}: no estimate ({note}).", name=name,
                          note=data_words(row['note']) or t("the model could not be fitted"))
    ratio, low, high = float(row["hazard_ratio"]), float(row["ci_low"]), float(row["ci_high"])
    where = t("where {name} was reported at the previous visit", name=name[:1].lower() + name[1:])
    apart = low > 1 or high < 1
    words = dict(where=where, ratio=f"{ratio:.1f}", low=f"{low:.1f}", high=f"{high:.1f}")
    if apart and float(row["p_adj"]) < EVIDENCE_P:
        text = (t("Teachers dropped practices {speed} {where}", speed=_ratio_words(ratio), where=where) if ratio > 1
                else t("Teachers dropped practices more slowly {where} ({ratio} times as fast)", **words))
    elif apart:
        text = t("Teachers dropped practices {ratio} times as fast {where} (95% CI {low}–{high}), but with this many "
                 "hindrances tested together that may be chance", **words)
    else:
        text = t("No clear difference {where}: {ratio} times as fast, anywhere from {low} to {high}", **words)
    difference = row["risk_difference_12"]
    if pd.notna(difference):
        text += t("; ") + t("by month 12, {difference} practices abandoned", difference=_in_hundred(float(difference)))
        if pd.notna(row["rd_ci_low"]) and pd.notna(row["rd_ci_high"]):
            text += " " + t("(95% CI {low} to {high})", low=f"{_per_hundred(float(row['rd_ci_low'])):+d}",
                            high=f"{_per_hundred(float(row['rd_ci_high'])):+d}")
    return f"{prefix}{text}{t('.')}"


EFFECT_TABLE_COLUMNS = {
    "hindrance": "hindrance", "hazard_ratio": "hazard ratio", "ci_low": "ratio, 95% CI from",
    "ci_high": "ratio, 95% CI to", "risk_difference_12": "more abandoned by month 12 (share)",
    "rd_ci_low": "difference, 95% CI from", "rd_ci_high": "difference, 95% CI to", "p_adj": "adjusted p",
    "n": "teachers with the hindrance", "events": "abandonments among them", "sentence": "in plain words"}


def effect_table(table: pd.DataFrame, group: str | None, label: Callable[[str], str],
                 group_name: str | None = None) -> pd.DataFrame:
    """The forest plot's numbers for people (on screen and as a download): one row per hindrance
    (and compared group, its column named `group_name`) with the hazard ratio and, beside it, the
    difference in practices abandoned by month 12, each with its 95% interval, the adjusted p, n,
    and the row's plain sentence (`effect_sentence`). Suppressed rows say "too few to show"."""
    frame = table.assign(sentence=[effect_sentence(row, label, group) for _, row in table.iterrows()])
    frame["hindrance"] = frame["hindrance"].map(label)
    names = EFFECT_TABLE_COLUMNS | ({group: group_name or group} if group else {})
    return frame[[*([group] if group else []), *EFFECT_TABLE_COLUMNS]].rename(columns=names).reset_index(drop=True)


DIFFERENCE_HEADER = "abandoned by month 12: difference per 100 (95% CI)"


def effect_summary(effects: pd.DataFrame) -> pd.DataFrame:
    """`effect_table` for the screen: the ratio and the difference by month 12 each as one text
    cell with its interval ("1.95 (1.47–2.59)", "+18 (+11 to +25)"), so the table fits a phone."""
    def ratio(value, low, high):
        return t(TOO_FEW) if pd.isna(value) else f"{value:.2f} ({low:.2f}–{high:.2f})"

    def difference(value, low, high):
        if pd.isna(value):
            return "–"
        return f"{_per_hundred(value):+d}" + ("" if pd.isna(low) or pd.isna(high) else " " + t(
            "({low} to {high})", low=f"{_per_hundred(low):+d}", high=f"{_per_hundred(high):+d}"))

    c = EFFECT_TABLE_COLUMNS
    kept = [col for col in effects.columns if col not in c.values()]  # the compared group's column
    return pd.DataFrame({
        **{col: effects[col] for col in kept},
        "hindrance": effects[c["hindrance"]],
        "times as fast (95% CI)": [ratio(*v) for v in effects[[c["hazard_ratio"], c["ci_low"], c["ci_high"]]]
                                   .itertuples(index=False)],
        DIFFERENCE_HEADER: [
            difference(*v) for v in effects[[c["risk_difference_12"], c["rd_ci_low"], c["rd_ci_high"]]]
            .itertuples(index=False)],
        "adjusted p": effects[c["p_adj"]],
        "teachers": effects[c["n"]],
    })


def forest_caption(table: pd.DataFrame, min_n: int) -> str:
    """The forest plot's caption: the method, how many tests share the Benjamini-Hochberg
    family, and how many points are too few to show."""
    tests = int(table["p_adj"].notna().sum())
    hidden = int(table["suppressed"].sum())
    text = (t(FOREST_READING) + " " + t(FOREST_METHOD) + " "
            + t("({tests} tests, one family); 95% intervals robust to clustering by school.", tests=tests))
    if hidden:
        text += " " + t("{hidden} point(s) too few to show (fewer than {min_n} teachers with or without the hindrance).",
                        hidden=hidden, min_n=min_n)
    return text + " " + t("An association, not a proven cause.")


# -- Follow-up planner ---------------------------------------------------------------------------

PLAN_TABLE_COLUMNS = ["Rank", "School", "Need (0 to 1)", "Why this school"]


def plan_table(plan: pd.DataFrame) -> pd.DataFrame:
    """The visit plan (metrics.planner `visit_plan` rows) for people: the rank as the index, the
    school with its code, cluster and district in one cell, the need score to 2 decimals (as the
    ties are broken), and the reason in full with, for a tie, why the school comes after the one
    above it. Four columns, so that a wrapped table fits a phone."""
    def score(value):
        return t("not scored") if pd.isna(value) else f"{value:.2f}"

    def sentence(text):
        return f"{text[:1].upper()}{text[1:]}{t('.')}" if text else ""

    def why(reason, note):
        return " ".join(filter(None, [sentence(reason), sentence(note)]))

    rank, school, need, reason = map(t, PLAN_TABLE_COLUMNS)
    return pd.DataFrame({
        rank: plan["rank"].astype(int),
        school: [t("{school} ({code}), cluster {cluster}, {district}", school=name, code=code, cluster=cluster,
                   district=district) for name, code, cluster, district
                 in plan[["school_name", "school_id", "cluster", "district"]].itertuples(index=False)],
        need: [score(v) for v in plan["need_score"]],
        reason: [why(r, n) for r, n in zip(plan["reason"], plan["order_note"])],
    }).set_index(rank)


def plan_caption(plan: pd.DataFrame, shown: int, min_n: int) -> str:
    """What the plan's decay figures compare, and how many schools are shown (`plan`: the
    visit_plan_head table, which counts the whole plan in its attrs)."""
    latest = plan.attrs["latest_round"]
    at = (t("{months} months after the programme (the latest round every programme reached)", months=latest)
          if latest is not None else t("the latest round every programme reached"))
    return t("Every school is compared with its programme's schools at the same time: {at}. A school with fewer than "
             "{min_n} teachers seen then is judged on its chance only (its counts are not shown). Showing {shown} of "
             "{schools} schools.", at=at, min_n=min_n, shown=shown, schools=plan.attrs["schools"])


# -- Communities of practice ---------------------------------------------------------------------

def _meetings_hover(shown: pd.DataFrame) -> list[str]:
    """Each cluster's hover, built per bar: a figure it does not have (no visit answered the CoP
    question, no meeting logged) is left out, where a hovertemplate would print "NaN"."""
    texts = []
    for row in shown.itertuples(index=False):
        lines = []
        if pd.notna(row.meetings_per_month):
            lines.append(t("{meetings} meetings per month ({logged} logged)", meetings=f"{row.meetings_per_month:.2f}",
                           logged="–" if pd.isna(row.meetings) else f"{row.meetings:g}"))
        if pd.notna(row.active_share):
            lines.append(t("{share} of visits heard the CoP met last month", share=f"{row.active_share:.0%}"))
        lines.append(t("n = {n} visits, {teachers} teachers", n=row.n, teachers=row.teachers))
        texts.append("<br>".join(lines))
    return texts


def meetings_bars(table: pd.DataFrame, threshold: float, title: str) -> go.Figure:
    """CoP meetings per month after the programme by cluster (cop_activity), n (visits answering
    the CoP question) on each bar; the line marks the active-CoP threshold. Suppressed clusters
    get no bar and a "too few to show" label."""
    shown = table[~table["suppressed"]]
    hidden = table[table["suppressed"]]
    traces = [dict(
        type="bar", x=shown["cluster"], y=shown["meetings_per_month"], name=t("meetings per month"),
        text=["n = " + str(n) for n in shown["n"]], textposition="outside",
        hovertext=_meetings_hover(shown), hovertemplate="%{x}: %{hovertext}<extra></extra>",
    )]
    if len(hidden):
        traces.append(dict(type="scatter", x=hidden["cluster"], y=[0] * len(hidden), mode="text",
                           text=[t(TOO_FEW)] * len(hidden), textposition="top center", showlegend=False,
                           hoverinfo="skip"))
    line = _dashed_line("y", threshold, t("active: {meetings} meetings per month or more", meetings=f"{threshold:g}"),
                        "top left", layer=None)
    return _figure(traces, line, title, xaxis=dict(title=t("cluster"), categoryorder="array",
                                                   categoryarray=table["cluster"].tolist()),
                   yaxis=dict(title=t("meetings per month after the programme"), rangemode="tozero"), showlegend=False)
