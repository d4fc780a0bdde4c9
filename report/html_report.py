"""The donor report as one self-contained HTML file: opens offline, charts interactive.

- plotly.js is inlined once (the first figure carries it, the others `include_plotlyjs=False`);
  nothing is loaded from the network: no CDN, no web fonts, no external links, and a
  Content-Security-Policy that forbids any request the page might still try.
- Every text put into the page goes through `html.escape` (district names, notes and labels are
  user input); text handed to plotly is escaped too, since plotly renders a small HTML subset in
  labels (`<b>`, `<a href>`), and its JSON is embedded with `<`, `>` and `/` as unicode escapes.
- Urdu (`language="ur"`) sets `<html lang="ur" dir="rtl">`; the charts keep a left-to-right axis,
  and so does plotly's text-measuring element (see STYLE), or labels are clipped.
- Suppressed groups are shown as "too few to show": named in the caption and in the table,
  present as empty categories in bar charts, never drawn as 0.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import plotly.graph_objects as go

from .content import Chart, Report, describe_point, fmt, fmt_p, ltr

LOG_TICKS = [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 10, 20]
PLOTLY_FORMATS = {"percent": ".0%", "months": ".1f", "ratio": ".2f"}
ACCENT = "#1f6fb2"
FONTS = ('system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Naskh Arabic", "Noto Nastaliq Urdu", '
         '"DejaVu Sans", Arial, sans-serif')
CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
       "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'")

STYLE = """
/* plotly measures labels in a hidden element appended to the body (#js-plotly-tester): in a
   right-to-left page it inherits rtl, mismeasures, and automargin then clips category labels and
   lays the y axis title over its ticks. Charts and the tester are left to right. */
#js-plotly-tester, .chart { direction: ltr; }
body { font-family: %(fonts)s; color: #222; margin: 0; background: #fafafa; line-height: 1.5; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 2rem 3rem; background: #fff; }
h1 { color: %(accent)s; font-size: 1.9rem; margin: 0.5rem 0; }
h2 { color: %(accent)s; border-bottom: 2px solid #e3ecf5; padding-bottom: 0.2rem; margin-top: 2.5rem; }
.subtitle { color: #555; font-size: 1.1rem; margin-top: 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
.chart { min-height: 440px; }
figure { margin: 0; }
figcaption { font-size: 0.95rem; color: #333; background: #f4f7fb; padding: 0.6rem 0.9rem; border-radius: 4px; }
figcaption p { margin: 0.2rem 0; }
.hidden-groups { color: #8a4b00; }
.empty { color: #8a4b00; font-size: 1.1rem; padding: 2rem 0; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #d9dee4; padding: 0.25rem 0.6rem; text-align: start; vertical-align: top; }
th { background: #eef2f7; }
td.num { font-variant-numeric: tabular-nums; }
html[dir=rtl] td.num { text-align: right; }
code { background: #f1f1f1; padding: 0 0.2rem; border-radius: 3px; font-size: 0.9em; }
.method-entry { margin-bottom: 1.5rem; }
.summary ul { font-size: 1.1rem; background: #f4f7fb; padding: 0.8rem 1rem 0.8rem 2rem; border-radius: 4px; }
.summary li { margin: 0.3rem 0; }
footer { color: #555; font-size: 0.9rem; margin-top: 3rem; border-top: 1px solid #ddd; padding-top: 0.8rem; }
nav ol { margin: 0.3rem 0; }
""" % {"fonts": FONTS, "accent": ACCENT}


def esc(value) -> str:
    """Text for HTML (element content or attribute), whatever it contains."""
    return html.escape("" if value is None else str(value), quote=True)


# -- figures ------------------------------------------------------------------------------------
def figures(report: Report) -> dict[str, go.Figure]:
    """One plotly figure per chart that has something to show (key -> figure). Text is escaped
    for plotly's HTML-subset labels."""
    result = {}
    for chart in report.charts:
        if not chart.shown:
            continue
        if chart.kind == "xy":
            figure = _xy_figure(chart)
        elif chart.log_scale:
            figure = _forest_figure(chart, report)
        else:
            figure = _bar_figure(chart, report)
        figure.update_layout(
            title=dict(text=esc(chart.title), x=0.01), template="plotly_white", font=dict(family=FONTS, size=14),
            margin=dict(t=60, l=10, r=20, b=10), showlegend=False, height=460,
        )
        result[chart.key] = figure
    return result


def _offsets(points):
    """Error-bar lengths (drawing geometry): value to each end of the interval."""
    plus = [None if p.ci_high is None or p.value is None else p.ci_high - p.value for p in points]
    minus = [None if p.ci_low is None or p.value is None else p.value - p.ci_low for p in points]
    return plus, minus


def _xy_figure(chart: Chart) -> go.Figure:
    shown = chart.shown
    plus, minus = _offsets(shown)
    value_format = PLOTLY_FORMATS[chart.value_format]
    figure = go.Figure(go.Scatter(
        x=[float(p.code) for p in shown], y=[p.value for p in shown], mode="lines+markers+text",
        name=esc(chart.series_name), line=dict(color=ACCENT, width=3), marker=dict(size=9, color=ACCENT),
        error_y=dict(type="data", symmetric=False, array=plus, arrayminus=minus, thickness=1.2, color="#333"),
        text=[fmt(p.value, chart.value_format) for p in shown], textposition="top right",
        customdata=[[p.n, p.teachers, p.ci_low, p.ci_high] for p in shown],
        hovertemplate=(f"%{{x}}: %{{y:{value_format}}}<br>95% CI %{{customdata[2]:{value_format}}}–"
                       f"%{{customdata[3]:{value_format}}}<br>n = %{{customdata[0]:,}} (%{{customdata[1]:,}} teachers)"
                       "<extra></extra>"),
    ))
    figure.update_xaxes(title=esc(chart.x_title), tickvals=[float(p.code) for p in chart.points], rangemode="tozero")
    figure.update_yaxes(title=dict(text=esc(chart.y_title), standoff=12), tickformat=value_format,
                        range=[0, 1.08], automargin=True)
    return figure


def _labels(chart: Chart, report: Report) -> list[str]:
    return [esc(p.label if p.shown else f"{p.label} ({(p.note or report.t('too_few')).split(';')[0]})")
            for p in chart.points]


def _bar_figure(chart: Chart, report: Report) -> go.Figure:
    points = chart.points
    plus, minus = _offsets(points)
    value_format = PLOTLY_FORMATS[chart.value_format]
    figure = go.Figure(go.Bar(
        y=_labels(chart, report), x=[p.value for p in points], orientation="h", marker_color=ACCENT,
        name=esc(chart.series_name),
        error_x=dict(type="data", symmetric=False, array=plus, arrayminus=minus, thickness=1.2, color="#333"),
        text=[fmt(p.value, chart.value_format) for p in points], textposition="inside", insidetextanchor="start",
        textfont=dict(color="white"),
        customdata=[[p.n, p.teachers, p.ci_low, p.ci_high] for p in points],
        hovertemplate=(f"%{{y}}: %{{x:{value_format}}}<br>95% CI %{{customdata[2]:{value_format}}}–"
                       f"%{{customdata[3]:{value_format}}}<br>n = %{{customdata[0]:,}} (%{{customdata[1]:,}} teachers)"
                       "<extra></extra>"),
    ))
    figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_xaxes(title=esc(chart.y_title), tickformat=value_format, rangemode="tozero",
                        **({"range": [0, 1]} if chart.value_format == "percent" else {}))
    return figure


def _forest_figure(chart: Chart, report: Report) -> go.Figure:
    """Hazard ratios with their intervals on a log axis, a line at the reference (1)."""
    points = chart.points
    plus, minus = _offsets(points)
    value_format = PLOTLY_FORMATS[chart.value_format]
    figure = go.Figure(go.Scatter(
        y=_labels(chart, report), x=[p.value for p in points], mode="markers+text", name=esc(chart.series_name),
        marker=dict(size=12, color=ACCENT, symbol="square"),
        error_x=dict(type="data", symmetric=False, array=plus, arrayminus=minus, thickness=1.5, color="#333"),
        text=[fmt(p.value, chart.value_format) for p in points], textposition="top center",
        customdata=[[p.n, p.extra.get("events"), p.ci_low, p.ci_high, fmt_p(p.extra.get("p_adj"))]
                    for p in points],
        hovertemplate=(f"%{{y}}: HR %{{x:{value_format}}}<br>95% CI %{{customdata[2]:{value_format}}}–"
                       f"%{{customdata[3]:{value_format}}}<br>{esc(report.t('p_adj'))} %{{customdata[4]}}"
                       f"<br>n = %{{customdata[0]:,}} {esc(report.t('exposed'))}, %{{customdata[1]:,}} "
                       f"{esc(report.t('events'))}<extra></extra>"),
    ))
    if chart.reference is not None:
        figure.add_vline(x=chart.reference, line_dash="dash", line_color="#888")
    figure.update_yaxes(autorange="reversed", automargin=True)
    figure.update_xaxes(title=esc(chart.y_title), type="log", tickvals=LOG_TICKS)
    return figure


# -- page ---------------------------------------------------------------------------------------
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def build_html(report: Report) -> str:
    """The whole report as one HTML string."""
    t = report.t
    lang = "ur" if report.language == "ur" else "en"
    direction = "rtl" if report.language == "ur" else "ltr"
    figs = figures(report)
    sections, js_done = [], False
    for number, chart in enumerate(report.charts, start=1):
        figure_html = ""
        if chart.key in figs:
            figure_html = figs[chart.key].to_html(
                full_html=False, include_plotlyjs=not js_done, div_id=f"chart-{chart.key}",
                config=PLOTLY_CONFIG | {"toImageButtonOptions": {"filename": f"{report.file_stem}_{chart.key}"}},
            )
            js_done = True
        sections.append(_section(report, chart, number, figure_html))
    facts = [
        (t("programme"), f"{report.programme.name_in(report.language)} ({report.programme.code})"),
        (t("funder"), report.programme.funder or "—"),
        (t("districts"), report.district_text),
        (t("visits"), report.date_span),
        (t("generated"), ltr(report.generated.isoformat(), report.language)),
        (t("config_version"), ltr(report.config_version, report.language)),
    ]
    contents = f'<li><a href="#summary">{esc(t("summary"))}</a></li>' if report.summary else ""
    contents += "".join(f'<li><a href="#section-{esc(c.key)}">{esc(c.title)}</a></li>' for c in report.charts)
    contents += f'<li><a href="#methodology">{esc(t("methodology"))}</a></li>'
    return f"""<!DOCTYPE html>
<html lang="{lang}" dir="{direction}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Sustain report (config {esc(report.config_version)})">
<title>{esc(report.title)}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<header>
<h1>{esc(report.title)}</h1>
<p class="subtitle">{esc(t("subtitle"))}</p>
{_summary(report)}
<dl class="facts">{"".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)}</dl>
<nav><h2 style="border:0;margin-top:1.5rem">{esc(t("contents"))}</h2><ol>{contents}</ol></nav>
</header>
{"".join(sections)}
{_methodology(report)}
<footer><p>{esc(t("privacy"))}</p><p>{esc(t("suppression", min_n=report.min_group_n))}</p></footer>
</main>
</body>
</html>
"""


def _section(report: Report, chart: Chart, number: int, figure_html: str) -> str:
    t = report.t
    if figure_html:
        body = f'<div class="chart" dir="ltr">{figure_html}</div>'
    else:
        body = f'<p class="empty">{esc(t("empty_chart", reason=chart.empty_reason))}</p>'
    caption = [f"<p>{esc(chart.n_text)}</p>", f"<p>{esc(report.date_range)}</p>",
               f"<p><strong>{esc(t('method'))}:</strong> {esc(chart.method)}</p>"]
    if chart.hidden:
        caption.append('<p class="hidden-groups">' + "; ".join(
            f"{esc(p.label)}: {esc(describe_point(p, chart.value_format, report.language))}" for p in chart.hidden)
            + "</p>")
    return f"""
<section id="section-{esc(chart.key)}" data-chart="{esc(chart.key)}">
<h2>{number}. {esc(chart.title)}</h2>
<figure>{body}<figcaption>{"".join(caption)}</figcaption></figure>
{_table(report, chart)}
</section>"""


def _table(report: Report, chart: Chart) -> str:
    t = report.t
    hindrances = chart.key == "hindrances"
    head = [t("table_group"), chart.series_name, t("ci"), "n"]
    head += [t("events"), t("p_adj")] if hindrances else [t("teachers")]
    head.append(t("note"))
    rows = []
    for p in chart.points:
        if p.shown:
            cells = [fmt(p.value, chart.value_format),
                     f"{fmt(p.ci_low, chart.value_format)}–{fmt(p.ci_high, chart.value_format)}"
                     if p.ci_low is not None and p.ci_high is not None else ""]
        else:
            cells = [p.note.split(";")[0] if p.note else t("too_few"), ""]
        cells.append(f"{p.n:,}" if p.n is not None and p.status != "too_few" else "")
        if hindrances:
            cells += [f"{p.extra['events']:,}" if p.extra.get("events") is not None else "",
                      fmt_p(p.extra.get("p_adj"))]
        else:
            cells.append(f"{p.teachers:,}" if p.teachers is not None and p.status != "too_few" else "")
        cells.append(p.note if p.shown else "; ".join(p.note.split(";")[1:]).strip())
        rows.append(f"<tr><th scope=\"row\">{esc(p.label)}</th>"
                    + "".join(f'<td class="num" dir="ltr">{esc(c)}</td>' for c in cells) + "</tr>")
    return (f'<table class="numbers" data-chart="{esc(chart.key)}"><thead><tr>'
            + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def _summary(report: Report) -> str:
    """The executive summary: the pages' sentences (report/answers.py) for this programme, in the
    report's language (the page's direction)."""
    if not report.summary:
        return ""
    items = "".join(f"<li>{esc(sentence)}</li>" for sentence in report.summary)
    return f'<section id="summary" class="summary"><h2>{esc(report.t("summary"))}</h2><ul>{items}</ul></section>'


def _methodology(report: Report) -> str:
    """How each figure was computed, for a donor: each indicator once, by its name in words, with
    its definition in plain words and the charts it serves; the method of each chart is in its
    caption, the rules on small groups and privacy once at the end. No code or column names."""
    t = report.t
    parts = [f'<section id="methodology"><h2>{esc(t("methodology"))}</h2>',
             f"<p>{esc(t('methodology_intro'))}</p>"]
    for entry in report.methodology:
        parts.append(f'<div class="method-entry" data-indicator="{esc(entry.indicator)}">'
                     f'<h3>{esc(t("indicator_" + entry.indicator))}</h3>')
        if entry.plain:
            parts.append(f'<p><em>{esc(t("in_plain_words"))}:</em> <span dir="ltr" lang="en">{esc(entry.plain)}</span></p>'
                         if report.language == "ur" else f"<p>{esc(entry.plain)}</p>")
        parts.append(f"<p><em>{esc(t('used_for'))}:</em> {esc('; '.join(entry.used_for))}</p>")
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


def write_html(report: Report, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(build_html(report), encoding="utf-8")
    return path
