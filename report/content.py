"""What the donor pack says, computed once from the indicator functions of metrics/.

`build_report(con, config, programme, districts, language)` returns a `Report`: the title facts,
four `Chart`s (retention curve, districts compared, practices' half-lives, hindrance effects) and
the methodology entries. The deck (pptx_deck.py), the HTML report (html_report.py) and the PNGs
(png.py) only draw a `Report`; none of them reads the database.

No arithmetic on indicator values here: every number of a chart is a cell of an indicator's table
(`INDICATORS[name](con, filters, by, config)`), chosen by selecting rows. A suppressed group is
kept as a point with status "too_few" and no value, so every output can say "too few to show"
instead of drawing a 0.
"""
from __future__ import annotations

import datetime as dt
import inspect
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import duckdb
import pandas as pd

from metrics.definitions import DEFINITIONS
from metrics.lookups import programme_districts, visit_date_range
from metrics.filters import Filters
from metrics.registry import INDICATORS
from sustain.config import Config, Programme, PROJECT_ROOT

from . import answers
from sustain.messages import t as t_, using_language

from .labels import check_language, text

README = PROJECT_ROOT / "README.md"

SHOWN, TOO_FEW, NO_DECAY, NOT_ESTIMABLE = "shown", "too_few", "no_decay", "not_estimable"

# chart key -> (indicator, by) : the one metric call each chart rests on
CHART_SOURCES = {
    "retention": ("retention", []),
    "districts": ("retention", ["district"]),
    "half_life": ("half_life", ["practice"]),
    "hindrances": ("hindrance_effect", []),
}


class ReportError(ValueError):
    """The report cannot be built for this selection (unknown programme or district)."""


@dataclass(frozen=True)
class Point:
    """One value of a chart: a round, a district, a practice or a hindrance."""
    label: str                    # display label (config label in the report's language)
    code: str                     # the value of the grouping column (month, district, practice code, ...)
    value: float | None           # None when not shown (suppressed, no decay, not estimable)
    ci_low: float | None = None
    ci_high: float | None = None  # may be inf (half-life with an unbounded upper limit)
    n: int | None = None
    teachers: int | None = None
    status: str = SHOWN
    note: str = ""
    extra: dict = field(default_factory=dict)  # p_adj, events (hindrances)

    @property
    def shown(self) -> bool:
        return self.status == SHOWN


@dataclass
class Chart:
    key: str
    indicator: str
    by: list[str]
    title: str
    kind: str                     # "xy" (numeric x: months) or "bar" (categories)
    x_title: str
    y_title: str
    series_name: str
    value_format: str             # "percent", "months", "ratio"
    points: list[Point]
    method: str
    n_text: str
    table: pd.DataFrame           # the indicator's rows the points were selected from
    log_scale: bool = False
    reference: float | None = None  # a reference value drawn as a line (hazard ratio 1)
    empty_reason: str = ""

    @property
    def shown(self) -> list[Point]:
        return [p for p in self.points if p.shown]

    @property
    def hidden(self) -> list[Point]:
        return [p for p in self.points if not p.shown]


@dataclass(frozen=True)
class MethodEntry:
    indicator: str
    columns: str
    definition: str               # from the README "Indicators" table ("" when not found)
    docstring: str                # the indicator function's own documentation
    details: str                  # its module's documentation when the function refers to it
    used_for: list[str]           # chart titles that rest on it
    plain: str = ""               # the definition in plain words (metrics/definitions.py), what a donor reads


@dataclass
class Report:
    programme: Programme
    districts: tuple[str, ...]
    language: str
    generated: dt.date
    config_version: str
    min_group_n: int
    filters: Filters
    visits_start: dt.date | None
    visits_end: dt.date | None
    charts: list[Chart]
    methodology: list[MethodEntry]
    summary: list[str] = field(default_factory=list)  # the executive summary (report/answers.py), English

    def t(self, key: str, **values) -> str:
        return text(key, self.language, **values)

    @property
    def title(self) -> str:
        return self.t("report_title", programme=self.programme.name_in(self.language))

    @property
    def date_range(self) -> str:
        if self.visits_start is None:
            return self.t("no_visits")
        return self.t("date_range", span=self.date_span)

    @property
    def date_span(self) -> str:
        if self.visits_start is None:
            return self.t("no_visits")
        return self.t("date_span", start=ltr(self.visits_start.isoformat(), self.language),
                      end=ltr(self.visits_end.isoformat(), self.language))

    @property
    def district_text(self) -> str:
        return ", ".join(self.districts) if self.districts else self.t("all_districts")

    @property
    def file_stem(self) -> str:
        return file_stem(self.programme.code, self.districts)

    def chart(self, key: str) -> Chart:
        return next(c for c in self.charts if c.key == key)


def ltr(value: str, language: str) -> str:
    """Numbers, dates and ranges kept left-to-right inside Urdu text (a left-to-right embedding,
    U+202A ... U+202C), so `2023-12-01` or `81%–84%` is not reordered by the bidi algorithm."""
    return f"\u202a{value}\u202c" if language == "ur" else value


def file_stem(programme: str, districts: Sequence[str] = ()) -> str:
    """`sustain_<programme>[_<district>...]`, with anything but letters, digits, `-` made `-`."""
    parts = [programme, *sorted(districts)]
    return "sustain_" + "_".join(re.sub(r"[^A-Za-z0-9-]+", "-", p).strip("-") or "x" for p in parts)


# -- building ----------------------------------------------------------------------------------
def build_report(con: duckdb.DuckDBPyConnection, config: Config, programme: str,
                 districts: Sequence[str] = (), language: str = "en",
                 generated: dt.date | None = None, scope: tuple[str, ...] | None = None) -> Report:
    """Everything the pack shows for one programme (and optionally some districts). `scope`: the
    viewer's districts (access control, see metrics.filters.Filters.scope); None for all."""
    language = check_language(language)
    chosen = next((p for p in config.programmes if p.code == programme), None)
    if chosen is None:
        raise ReportError(f"unknown programme {programme!r}; config has: {', '.join(config.programme_codes)}")
    districts = tuple(sorted(set(districts)))
    _check_districts(con, programme, districts, scope)
    filters = Filters(programme=(programme,), district=districts, scope=scope)
    start, end = _visit_dates(con, config, filters)

    def t(key, **values):
        return text(key, language, **values)

    def run(key):
        indicator, by = CHART_SOURCES[key]
        return INDICATORS[indicator](con, filters, by, config)

    tables = {key: run(key) for key in CHART_SOURCES}
    charts = [
        _retention_chart(tables["retention"], t, language),
        _districts_chart(tables["districts"], t, language),
        _half_life_chart(tables["half_life"], t, lambda code: config.practice_label(code, language),
                         order=config.practice_codes, language=language),
        _hindrance_chart(tables["hindrances"], t, lambda code: config.hindrance_label(code, language), language),
    ]
    with using_language(language):  # the pages' sentences, in the pack's language
        summary = answers.executive_summary(
            tables["retention"], tables["hindrances"], tables["half_life"], tables["districts"],
            place=answers.join_words(list(districts)), programme_name=lambda _: chosen.name_in(language),
            hindrance_label=lambda code: config.hindrance_label(code, language),
            practice_label=lambda code: config.practice_label(code, language))
        titles = _finding_titles(tables, config, language)
    for chart, title in zip(charts, titles):  # chart titles state the finding
        if chart.shown and title:
            chart.title = title
    return Report(programme=chosen, districts=districts, language=language,
                  generated=generated or dt.date.today(), config_version=config.version,
                  min_group_n=config.thresholds.min_group_n, filters=filters, visits_start=start,
                  visits_end=end, charts=charts, methodology=methodology(charts), summary=summary)


def _finding_titles(tables: dict, config: Config, language: str = "en") -> list[str]:
    """The charts' titles as findings (report/answers.py), in chart order and the current language;
    "" keeps the plain title."""
    districts = answers.districts_title(tables["districts"])
    fastest = answers.fastest_hindrance(tables["hindrances"])
    return [
        answers.retention_title(tables["retention"]),
        districts if districts != t_(answers.DISTRICTS_COMPARED) else "",
        answers.half_life_title(tables["half_life"], lambda code: config.practice_label(code, language)),
        t_("{hindrance} goes with the fastest loss of practices",
           hindrance=config.hindrance_label(fastest['hindrance'], language))
        if fastest is not None else t_("No hindrance clearly goes with faster loss of practices"),
    ]


def _check_districts(con, programme: str, districts: tuple[str, ...], scope: tuple[str, ...] | None) -> None:
    """Refuse districts without teachers of `programme`. The message names only districts the
    viewer may see (`scope`): never one outside it, not even the one asked for."""
    if not districts:
        return
    known = programme_districts(con, programme, scope)
    unknown = [d for d in districts if d not in known]
    if not unknown:
        return
    if scope is None:
        raise ReportError(f"no district {', '.join(map(repr, unknown))} in programme {programme}; "
                          f"known: {', '.join(known) or '(none)'}")
    raise ReportError(f"{len(unknown)} chosen district(s) have no teachers of programme {programme} among the "
                      f"districts you may see; yours with this programme: {', '.join(known) or '(none)'}")


def _visit_dates(con, config: Config, filters: Filters) -> tuple[dt.date | None, dt.date | None]:
    """First and last date of the visits the figures rest on (visits placed on a round)."""
    return visit_date_range(con, config, filters)


def _number(value) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def _count(value) -> int | None:
    if value is None or pd.isna(value):
        return None
    return int(value)


def _grouped_point(row, label: str, code: str, t) -> Point:
    """A point from an indicator row with `suppressed`, its value column renamed to `value`."""
    if bool(row["suppressed"]):
        return Point(label=label, code=code, value=None, status=TOO_FEW, note=t("too_few"),
                     n=_count(row.get("n")), teachers=_count(row.get("teachers")))
    return Point(label=label, code=code, value=_number(row["value"]), ci_low=_number(row["ci_low"]),
                 ci_high=_number(row["ci_high"]), n=_count(row["n"]), teachers=_count(row["teachers"]))


def _retention_chart(table: pd.DataFrame, t, language: str = "en") -> Chart:
    points = []
    for _, row in table.iterrows():
        months = int(row["months"])
        points.append(_grouped_point(row.rename({"rate": "value"}), f"{t('month')} {months}", str(months), t))
    n_parts = [f"{t('month')} {p.code}: {ltr(f'{p.n:,}', language)}" if p.shown else f"{t('month')} {p.code}: {t('too_few')}"
               for p in points]
    chart = Chart(key="retention", indicator="retention", by=[], title=t("retention_title"), kind="xy",
                  x_title=t("months_axis"), y_title=t("retained_axis"), series_name=t("series_retention"),
                  value_format="percent", points=points, method=t("method_retention"),
                  n_text=f"{t('n_per_round')}: " + "; ".join(n_parts), table=table)
    if not chart.shown:
        chart.empty_reason = t("no_data") if table.empty else t("too_few")
    return chart


def _districts_chart(table: pd.DataFrame, t, language: str = "en") -> Chart:
    """Retention at the latest round that has a shown value for some district."""
    shown_rounds = table[~table["suppressed"].astype(bool) & (table["months"] > 0)]["months"]
    if shown_rounds.empty:
        return Chart(key="districts", indicator="retention", by=["district"], title=t("districts_title_none"),
                     kind="bar", x_title="", y_title=t("retained_axis"), series_name=t("series_retention"),
                     value_format="percent", points=[], method=t("method_districts"), n_text="",
                     table=table.iloc[0:0], empty_reason=t("no_data") if table.empty else t("too_few"))
    latest = int(shown_rounds.max())
    rows = table[table["months"] == latest]
    points = [_grouped_point(row.rename({"rate": "value"}), str(row["district"]), str(row["district"]), t)
              for _, row in rows.iterrows()]
    n_text = "; ".join(f"{p.label}: {ltr(f'n = {p.n:,}', language)}" if p.shown else f"{p.label}: {t('too_few')}"
                       for p in points)
    return Chart(key="districts", indicator="retention", by=["district"],
                 title=t("districts_title", months=latest), kind="bar", x_title="", y_title=t("retained_axis"),
                 series_name=t("series_districts", months=latest), value_format="percent", points=points,
                 method=t("method_districts"), n_text=n_text, table=rows.reset_index(drop=True))


def _half_life_chart(table: pd.DataFrame, t, label, order: Sequence[str] = (), language: str = "en") -> Chart:
    points = []
    rank = {code: i for i, code in enumerate(order)}
    if not table.empty:  # shortest half-life first, then those without one in config order (selecting rows)
        values = table["half_life_months"].astype(float)

        def position(i):
            value = values.iloc[i]
            return (0 if math.isfinite(value) else 1, value if math.isfinite(value) else 0.0,
                    rank.get(table["practice"].iloc[i], len(rank)))
        table = table.iloc[sorted(range(len(table)), key=position)].reset_index(drop=True)
    for _, row in table.iterrows():
        code = str(row["practice"])
        value = _number(row["half_life_months"])
        note = "" if pd.isna(row.get("note")) else str(row.get("note") or "")
        if bool(row["suppressed"]):
            points.append(Point(label=label(code), code=code, value=None, status=TOO_FEW,
                                note="; ".join(filter(None, [t("too_few"), note])), n=_count(row["n"]),
                                teachers=_count(row["teachers"])))
        elif value is None:
            points.append(Point(label=label(code), code=code, value=None, status=NOT_ESTIMABLE,
                                note=note or t("not_estimable"), n=_count(row["n"]), teachers=_count(row["teachers"])))
        elif math.isinf(value):
            points.append(Point(label=label(code), code=code, value=None, status=NO_DECAY,
                                note=t("no_decay"), n=_count(row["n"]), teachers=_count(row["teachers"])))
        else:
            points.append(Point(label=label(code), code=code, value=value, ci_low=_number(row["ci_low"]),
                                ci_high=_number(row["ci_high"]), n=_count(row["n"]),
                                teachers=_count(row["teachers"]), note=note))
    n_text = "; ".join(f"{p.label}: {ltr(f'n = {p.n:,}', language)}" if p.n is not None and p.status != TOO_FEW
                       else f"{p.label}: {t('too_few')}" for p in points)
    chart = Chart(key="half_life", indicator="half_life", by=["practice"], title=t("half_life_title"), kind="bar",
                  x_title="", y_title=t("half_life_axis"), series_name=t("series_half_life"),
                  value_format="months", points=points, method=t("method_half_life"), n_text=n_text, table=table)
    if not points:
        chart.empty_reason = t("no_data")
    return chart


def _hindrance_chart(table: pd.DataFrame, t, label, language: str = "en") -> Chart:
    points = []
    for _, row in table.iterrows():
        code = str(row["hindrance"])
        note = "" if pd.isna(row.get("note")) else str(row.get("note") or "")
        extra = {"p_adj": _number(row.get("p_adj")), "events": _count(row.get("events"))}
        if bool(row["suppressed"]):
            points.append(Point(label=label(code), code=code, value=None, status=TOO_FEW,
                                note="; ".join(filter(None, [t("too_few"), note])), extra={}))
        elif _number(row["hazard_ratio"]) is None:
            points.append(Point(label=label(code), code=code, value=None, status=NOT_ESTIMABLE,
                                note=note or t("not_estimable"), n=_count(row["n"]),
                                teachers=_count(row["teachers"]), extra=extra))
        else:
            points.append(Point(label=label(code), code=code, value=_number(row["hazard_ratio"]),
                                ci_low=_number(row["ci_low"]), ci_high=_number(row["ci_high"]), n=_count(row["n"]),
                                teachers=_count(row["teachers"]), note=note, extra=extra))
    parts = []
    for p in points:
        parts.append(f"{p.label} {ltr(f'{p.n:,}', language)}" if p.n is not None and p.status != TOO_FEW
                     else f"{p.label} ({t('too_few')})")
    n_text = f"{t('exposed')} (n): " + ", ".join(parts) if parts else ""
    chart = Chart(key="hindrances", indicator="hindrance_effect", by=[], title=t("hindrances_title"), kind="bar",
                  x_title="", y_title=t("hazard_ratio_axis"), series_name=t("series_hazard_ratio"),
                  value_format="ratio", points=points, method=t("method_hindrances"), n_text=n_text, table=table,
                  log_scale=True, reference=1.0)
    if not chart.shown:
        chart.empty_reason = t("no_data") if table.empty else t("too_few")
    return chart


# -- methodology -------------------------------------------------------------------------------
def readme_indicators(path: Path | None = None) -> dict[str, tuple[str, str]]:
    """Every indicator as {indicator: (columns, definition)}, from metrics/definitions.py (the
    README's "Indicators" table is that module rendered, and checked against it by a test)."""
    return {name: (", ".join(d.columns), f"{d.plain} {d.precise}") for name, d in DEFINITIONS.items()}


def methodology(charts: Sequence[Chart]) -> list[MethodEntry]:
    """One entry per indicator the charts rest on, in chart order, from the README table and the
    function's docstring, so the appendix never drifts from the code."""
    documented = readme_indicators()
    entries: dict[str, MethodEntry] = {}
    for chart in charts:
        if chart.indicator not in entries:
            columns, definition = documented.get(chart.indicator, ("", ""))
            function = INDICATORS[chart.indicator]
            docstring = inspect.getdoc(function) or ""
            details = (inspect.getdoc(inspect.getmodule(function)) or "") if "module docstring" in docstring else ""
            plain = DEFINITIONS[chart.indicator].plain if chart.indicator in DEFINITIONS else ""
            entries[chart.indicator] = MethodEntry(
                indicator=chart.indicator, columns=columns, definition=definition,
                docstring=docstring, details=details, used_for=[], plain=plain)
        entries[chart.indicator].used_for.append(chart.title)
    return list(entries.values())


def paragraphs(doc: str) -> list[str]:
    """A hard-wrapped docstring as paragraphs: blank lines and `- ` bullets start a new one."""
    result: list[str] = []
    current: list[str] = []
    for line in doc.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("- ", "* ")):
            if current:
                result.append(" ".join(current))
            current = [stripped] if stripped else []
        else:
            current.append(stripped)
    if current:
        result.append(" ".join(current))
    return result


# -- formatting (display only) -------------------------------------------------------------------
NUMBER_FORMATS = {"percent": "0%", "months": "0.0", "ratio": "0.00"}


def fmt(value: float | None, kind: str) -> str:
    """A value as shown in captions and tables (`percent`, `months`, `ratio`)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if math.isinf(value):
        return "∞"
    if kind == "percent":
        return f"{value:.0%}"
    if kind == "months":
        return f"{value:.1f}"
    if kind == "ratio":
        return f"{value:.2f}"
    return f"{value:g}"


def fmt_p(value: float | None) -> str:
    if value is None:
        return ""
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def describe_point(point: Point, kind: str, language: str = "en") -> str:
    """`83% (95% CI 81%–84%), n = 1,944`, or why the point is not shown."""
    if not point.shown:
        return point.note or text("too_few", language)
    words = ltr(fmt(point.value, kind), language)
    if point.ci_low is not None and point.ci_high is not None:
        words += f" ({text('ci', language)} {ltr(f'{fmt(point.ci_low, kind)}–{fmt(point.ci_high, kind)}', language)})"
    if point.n is not None:
        words += ", " + ltr(f"n = {point.n:,}", language)
    if point.extra.get("p_adj") is not None:
        words += f", {text('p_adj', language)} {ltr(fmt_p(point.extra['p_adj']), language)}"
    return words
