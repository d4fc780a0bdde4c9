"""The donor deck: a PowerPoint file whose charts are native, editable PowerPoint charts.

Charts are built with python-pptx (`shapes.add_chart` with `XyChartData` / `CategoryChartData`),
so the numbers live in the chart's embedded workbook and can be restyled or edited in PowerPoint.
Each chart slide carries a text box with its n, the date range of the visits and a one-line
method note; suppressed groups are named there as "too few to show" (and appear in bar charts
as an empty category labelled so), never drawn as 0.

95% intervals are drawn as custom error bars (DrawingML `c:errBars`, which python-pptx has no
API for); their lengths are the distance from the value to the interval's ends, drawing geometry
only.
"""
from __future__ import annotations

import io
import math
from pathlib import Path

from lxml import etree
from pptx import Presentation
from pptx.chart.data import CategoryChartData, XyChartData
from pptx.chart.datalabel import DataLabels
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LABEL_POSITION, XL_MARKER_STYLE, XL_TICK_LABEL_POSITION
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.oxml.ns import qn
from pptx.util import Emu, Inches, Pt

from .content import NUMBER_FORMATS, Chart, Report, describe_point, ltr

WIDTH, HEIGHT = Inches(13.333), Inches(7.5)
ACCENT = RGBColor(0x1F, 0x6F, 0xB2)
MUTED = RGBColor(0x55, 0x55, 0x55)
DARK = RGBColor(0x22, 0x22, 0x22)


def build_deck(report: Report) -> bytes:
    """The deck as .pptx bytes: title, one slide per chart, methodology."""
    deck = Presentation()
    deck.slide_width, deck.slide_height = WIDTH, HEIGHT
    blank = deck.slide_layouts[6]
    _title_slide(deck.slides.add_slide(blank), report)
    if report.summary:  # the executive summary (report/answers.py), in the report's language
        slide = deck.slides.add_slide(blank)
        _heading(slide, report.t("summary"), report)
        lines = [*(f"• {sentence}" for sentence in report.summary)]
        _text(slide, Inches(0.6), Inches(1.6), WIDTH - Inches(1.2), HEIGHT - Inches(2.0), lines, report,
              size=20 if sum(map(len, lines)) < 700 else 16)
    for chart in report.charts:
        _chart_slide(deck.slides.add_slide(blank), report, chart)
    for entry in report.methodology:  # each indicator once, in plain words; the chart slides carry the method
        slide = deck.slides.add_slide(blank)
        _heading(slide, f"{report.t('methodology')}: {report.t('indicator_' + entry.indicator)}", report)
        body = [entry.plain] if entry.plain else []
        body.append(f"{report.t('used_for')}: " + "; ".join(entry.used_for))
        _text(slide, Inches(0.6), Inches(1.3), WIDTH - Inches(1.2), HEIGHT - Inches(1.8), body, report,
              size=_body_size(body), rtl=False)
    slide = deck.slides.add_slide(blank)
    _heading(slide, report.t("slide_about"), report)
    _text(slide, Inches(0.6), Inches(1.3), WIDTH - Inches(1.2), Inches(4),
          [report.t("methodology_intro"), report.t("suppression", min_n=report.min_group_n), report.t("privacy"),
           f"{report.t('config_version')}: {ltr(report.config_version, report.language)} · "
           f"{report.t('generated')}: {ltr(report.generated.isoformat(), report.language)}"], report, size=16)
    buffer = io.BytesIO()
    deck.save(buffer)
    return buffer.getvalue()


def write_deck(report: Report, path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(build_deck(report))
    return path


# -- slides -------------------------------------------------------------------------------------
def _title_slide(slide, report: Report) -> None:
    _text(slide, Inches(0.8), Inches(0.8), WIDTH - Inches(1.6), Inches(2.2), [report.title], report,
          size=36 if len(report.title) < 70 else 30, bold=True, color=ACCENT)
    _text(slide, Inches(0.8), Inches(3.0), WIDTH - Inches(1.6), Inches(0.8), [report.t("subtitle")], report,
          size=20, color=MUTED)
    t = report.t
    facts = [
        f"{t('programme')}: {report.programme.name_in(report.language)} ({report.programme.code})",
        f"{t('funder')}: {report.programme.funder or '—'}",
        f"{t('districts')}: {report.district_text}",
        f"{t('visits')}: {report.date_span}",
        f"{t('generated')}: {ltr(report.generated.isoformat(), report.language)}",
        f"{t('config_version')}: {ltr(report.config_version, report.language)}",
    ]
    _text(slide, Inches(0.8), Inches(3.9), WIDTH - Inches(1.6), Inches(3), facts, report, size=18)


def _chart_slide(slide, report: Report, chart: Chart) -> None:
    _heading(slide, chart.title, report)
    left, top, width, height = Inches(0.4), Inches(1.2), Inches(8.4), Inches(6.0)
    if chart.shown:
        if chart.kind == "xy":
            _xy_chart(slide, chart, left, top, width, height)
        else:
            _bar_chart(slide, chart, left, top, width, height)
    else:
        _text(slide, left, top, width, Inches(1), [report.t("empty_chart", reason=chart.empty_reason)], report,
              size=20, color=MUTED)
    lines = [chart.n_text, report.date_range, f"{report.t('method')}: {chart.method}"]
    if chart.key == "hindrances":  # bars from 1 on a log axis are too short to carry labels: list them
        lines += [f"{p.label}: {describe_point(p, chart.value_format, report.language)}" for p in chart.points]
    else:
        lines += [f"{p.label}: {describe_point(p, chart.value_format, report.language)}" for p in chart.hidden]
        lines += [f"{p.label}: {p.note}" for p in chart.shown if p.note]
    _text(slide, Inches(9.0), top, WIDTH - Inches(9.3), height, lines, report, size=_box_size(lines), color=DARK)


def _heading(slide, title: str, report: Report) -> None:
    _text(slide, Inches(0.4), Inches(0.3), WIDTH - Inches(0.8), Inches(0.8), [title], report, size=28, bold=True,
          color=ACCENT)


def _text(slide, left, top, width, height, lines, report: Report, size=14, bold=False, color=None, rtl=None):
    box = slide.shapes.add_textbox(left, top, width, height)
    frame = box.text_frame
    frame.word_wrap = True
    frame.vertical_anchor = MSO_ANCHOR.TOP
    rtl = report.language == "ur" if rtl is None else rtl
    for index, line in enumerate(lines):
        paragraph = frame.paragraphs[0] if index == 0 else frame.add_paragraph()
        run = paragraph.add_run()
        run.text = _clean(line)
        run.font.size = Pt(size)
        run.font.bold = bold
        if color is not None:
            run.font.color.rgb = color
        paragraph.space_after = Pt(size * 0.5)
        if rtl:
            paragraph._p.get_or_add_pPr().set("rtl", "1")
            paragraph.alignment = PP_ALIGN.RIGHT
    return box


def _clean(value: str) -> str:
    """Text a PowerPoint XML part can hold (control characters of user data replaced)."""
    return "".join(c if c in "\t\n" or ord(c) >= 32 else "\ufffd" for c in str(value))


def _body_size(lines) -> int:
    length = sum(len(line) for line in lines)
    return 16 if length < 900 else 14 if length < 1400 else 12 if length < 2000 else 10


def _box_size(lines) -> int:
    length = sum(len(line) for line in lines)
    return 14 if length < 500 else 12 if length < 800 else 10 if length < 1200 else 9


# -- charts -------------------------------------------------------------------------------------
def _xy_chart(slide, chart: Chart, left, top, width, height):
    data = XyChartData()
    series = data.add_series(_clean(chart.series_name), number_format=NUMBER_FORMATS[chart.value_format])
    shown = chart.shown
    for point in shown:
        series.add_data_point(float(point.code), point.value)
    frame = slide.shapes.add_chart(XL_CHART_TYPE.XY_SCATTER_LINES, left, top, width, height, data)
    native = frame.chart
    _common(native, chart)
    x_axis = native.category_axis
    x_axis.minimum_scale = 0
    x_axis.maximum_scale = max(float(p.code) for p in shown) or 1
    x_axis.major_unit = 3 if x_axis.maximum_scale <= 12 else 6
    _axis_title(x_axis, chart.x_title)
    y_axis = native.value_axis
    y_axis.minimum_scale, y_axis.maximum_scale = 0, 1
    plot = native.plots[0]
    ser = plot.series[0]
    ser.marker.style = XL_MARKER_STYLE.CIRCLE
    ser.marker.size = 8
    ser.marker.format.fill.solid()
    ser.marker.format.fill.fore_color.rgb = ACCENT
    ser.format.line.color.rgb = ACCENT
    ser.format.line.width = Pt(2.25)
    ser.smooth = False
    _data_labels(DataLabels(ser._element.get_or_add_dLbls()), chart, XL_LABEL_POSITION.ABOVE)
    _error_bars(ser, [(p.value, p.ci_low, p.ci_high) for p in shown], direction="y")
    return native


def _bar_chart(slide, chart: Chart, left, top, width, height):
    """Horizontal bars, first category on top; hidden groups as empty categories named so."""
    data = CategoryChartData(number_format=NUMBER_FORMATS[chart.value_format])
    labels = [_clean(p.label if p.shown else f"{p.label} ({p.note.split(';')[0]})") for p in chart.points]
    data.categories = labels
    data.add_series(_clean(chart.series_name), [p.value if p.shown else None for p in chart.points])
    frame = slide.shapes.add_chart(XL_CHART_TYPE.BAR_CLUSTERED, left, top, width, height, data)
    native = frame.chart
    _common(native, chart)
    native.category_axis.reverse_order = True
    native.category_axis.tick_label_position = XL_TICK_LABEL_POSITION.LOW  # at the edge, not at the crossing
    native.category_axis.tick_labels.font.size = Pt(12)
    value_axis = native.value_axis
    _axis_title(value_axis, chart.y_title)
    if chart.value_format == "percent":
        value_axis.minimum_scale, value_axis.maximum_scale = 0, 1
    elif not chart.log_scale:  # months: whole quarters, wide enough for the intervals
        highs = [v for p in chart.shown for v in (p.value, p.ci_high) if v is not None and math.isfinite(v)]
        value_axis.minimum_scale = 0
        value_axis.maximum_scale = max(3, math.ceil(max(highs) / 3) * 3)
        value_axis.major_unit = 3
    if chart.log_scale:
        _log_scale(value_axis, chart)
    plot = native.plots[0]
    plot.gap_width = 60
    ser = plot.series[0]
    ser.format.fill.solid()
    ser.format.fill.fore_color.rgb = ACCENT
    ser.invert_if_negative = False
    if not chart.log_scale:
        plot.has_data_labels = True
        _data_labels(plot.data_labels, chart, XL_LABEL_POSITION.INSIDE_BASE)
        plot.data_labels.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
        plot.data_labels.font.bold = True
    _error_bars(ser, [(p.value, p.ci_low, p.ci_high) if p.shown else None for p in chart.points], direction=None)
    return native


def _common(native, chart: Chart) -> None:
    native.has_title = False  # the slide's heading is the title
    native.has_legend = False
    native.font.size = Pt(12)
    value_axis = native.value_axis
    value_axis.has_major_gridlines = True
    value_axis.tick_labels.number_format = NUMBER_FORMATS[chart.value_format]
    value_axis.tick_labels.number_format_is_linked = False
    if chart.kind == "xy":
        _axis_title(value_axis, chart.y_title)


def _axis_title(axis, title: str) -> None:
    if not title:
        return
    axis.has_title = True
    axis.axis_title.text_frame.text = _clean(title)
    axis.axis_title.text_frame.paragraphs[0].runs[0].font.size = Pt(12)
    axis.axis_title.text_frame.paragraphs[0].runs[0].font.bold = False


def _data_labels(labels, chart: Chart, position) -> None:
    labels.number_format = NUMBER_FORMATS[chart.value_format]
    labels.number_format_is_linked = False
    labels.show_value = True
    labels.font.size = Pt(11)
    labels.position = position


def _log_scale(axis, chart: Chart) -> None:
    """Log-10 value axis crossed at the reference (hazard ratio 1), so bars grow from "no difference"."""
    scaling = axis._element.find(qn("c:scaling"))
    log_base = etree.SubElement(scaling, qn("c:logBase"))
    log_base.set("val", "10")
    scaling.remove(log_base)
    scaling.insert(0, log_base)  # CT_Scaling: logBase, orientation, max, min
    if scaling.find(qn("c:orientation")) is None:
        log_base.addnext(etree.Element(qn("c:orientation"), val="minMax"))
    shown = chart.shown
    lows = [p.ci_low for p in shown if p.ci_low is not None] + [p.value for p in shown]
    highs = [p.ci_high for p in shown if p.ci_high is not None and math.isfinite(p.ci_high)] + [p.value for p in shown]
    axis.minimum_scale = 10.0 ** math.floor(math.log10(min(min(lows), 0.5)))
    axis.maximum_scale = 10.0 ** math.ceil(math.log10(max(max(highs), 2.0)))
    axis.crosses_at = chart.reference or 1.0
    axis.tick_labels.number_format = "0.0#"


def _error_bars(ser, values, direction: str | None) -> None:
    """Custom +/- error bars from (value, low, high) per point (None: no bar for that point)."""
    count = len(values)
    plus, minus = [], []
    for index, item in enumerate(values):
        if item is None:
            continue
        value, low, high = item
        if value is None or low is None or high is None:
            continue
        plus.append((index, high - value if math.isfinite(high) else 0.0))  # drawing geometry only
        minus.append((index, value - low))
    if not plus:
        return
    err = etree.Element(qn("c:errBars"))
    if direction:
        etree.SubElement(err, qn("c:errDir")).set("val", direction)
    etree.SubElement(err, qn("c:errBarType")).set("val", "both")
    etree.SubElement(err, qn("c:errValType")).set("val", "cust")
    etree.SubElement(err, qn("c:noEndCap")).set("val", "0")
    for tag, points in (("c:plus", plus), ("c:minus", minus)):
        literal = etree.SubElement(etree.SubElement(err, qn(tag)), qn("c:numLit"))
        etree.SubElement(literal, qn("c:formatCode")).text = "General"
        etree.SubElement(literal, qn("c:ptCount")).set("val", str(count))
        for index, length in points:
            pt = etree.SubElement(literal, qn("c:pt"))
            pt.set("idx", str(index))
            etree.SubElement(pt, qn("c:v")).text = repr(float(length))
    sp = etree.SubElement(err, qn("c:spPr"))
    line = etree.SubElement(sp, qn("a:ln"))
    line.set("w", str(Emu(Pt(1.25))))
    etree.SubElement(etree.SubElement(line, qn("a:solidFill")), qn("a:srgbClr")).set("val", "333333")
    element = ser._element
    anchor = element.find(qn("c:xVal"))
    if anchor is None:
        anchor = element.find(qn("c:cat"))
    if anchor is None:
        anchor = element.find(qn("c:val"))
    anchor.addprevious(err)
