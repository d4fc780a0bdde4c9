"""The catalogue of dimensions: every factor a figure can be filtered or grouped by, declared once.

Each `Dimension` says where its values live and where it shows. Everything else derives from
`CATALOGUE`: `Filters` and its allow-list and `BY_COLUMNS` (metrics/filters.py), the sidebar's
fields and labels and the "Compare by" choices (app/ui.py), the look-up of filter choices
(metrics/lookups.py), the codebook's dimension rows (report/exports.py) and the README's `--by`
list (checked by tests/test_docs.py).

Order: the tuple below is the order of the filters (URL, sidebar, `Filters.describe`); `by_rank`
is the position in `--by`, whose order is a contract of the command line (README "Command lines").
A dimension appended later takes the next `by_rank`.

Fields:
  name        the filter field, `--by` column and column of the analysis relations (metrics/base.py)
  level       teacher | school | visit | practice: what one value describes; `practice` dimensions
              exist only on practice-level rows (a visit-level relation ignores their filter)
  label       English label (sidebar, codebook); `label_ur` the Urdu one
  doc, unit   the codebook's meaning and unit of the column
  roster_sql  the value read from the roster tables (`t` teachers, `sc` schools): the sidebar's
              choices, and for teacher-level dimensions the column the analysis model carries
              (ingest/model.py); None when the choices come from config (practice, hindrance) or
              there are none
  roster_column  a roster column beyond the core ones (ingest/tables.py) this dimension reads: the
              roster import keeps it in `teachers.attributes` (a MAP; read `t.attributes['name']`)
  values      the values in their display order, when text order is wrong (bands: 5-9 before
              10-19); sidebars, tables, charts and exports list them so (`value_order`); values not
              declared follow, as text. Empty: text (or number) order
  filter      in `Filters` (the CLI's --where, the URL); `sidebar` in the sidebar; `compare` in the
              pages' "Compare by"; `by_rank` position in `--by` (None: not a --by column)
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Dimension:
    name: str
    level: str
    label: str
    label_ur: str
    doc: str
    unit: str
    roster_sql: str | None = None
    roster_column: str | None = None
    filter: bool = True
    sidebar: bool = False
    compare: bool = False
    by_rank: int | None = None
    values: tuple[str, ...] = ()


LEVELS = ("teacher", "school", "visit", "practice")
EXPERIENCE_BANDS = ("0-4", "5-9", "10-19", "20+")  # the bands of experience_band's SQL below, in order

CATALOGUE: tuple[Dimension, ...] = (
    Dimension("programme", "teacher", "Programme", "پروگرام",
              "training programme the teacher finished (code from config programmes)", "code",
              roster_sql="t.programme", sidebar=True, compare=True, by_rank=7),
    Dimension("province", "school", "Province", "صوبہ", "province of the school, as in the roster", "name",
              roster_sql="sc.province", sidebar=True, compare=True, by_rank=1),
    Dimension("district", "school", "District", "ضلع", "district of the school, as in the roster", "name",
              roster_sql="sc.district", sidebar=True, compare=True, by_rank=2),
    Dimension("cluster", "school", "Cluster", "کلسٹر",
              "cluster of the school (e.g. an LTRC), as in the roster", "code", by_rank=3),
    Dimension("school_id", "school", "School", "اسکول", "school code, as in the roster", "code", by_rank=4),
    Dimension("school_type", "school", "School type", "اسکول کی قسم", "type of school, as in the roster",
              "category", roster_sql="sc.school_type", sidebar=True, compare=True, by_rank=8),
    Dimension("gender", "teacher", "Gender", "صنف", "teacher's gender, as in the roster", "category",
              roster_sql="t.gender", sidebar=True, compare=True, by_rank=9),
    Dimension("subject", "teacher", "Subject", "مضمون", "teacher's subject, as in the roster", "category",
              roster_sql="t.subject", sidebar=True, compare=True, by_rank=10),
    Dimension("practice", "practice", "Practice", "طریقہ", "practice observed (code from config practices)",
              "code", sidebar=True, compare=True, by_rank=5),
    Dimension("hindrance", "teacher", "Hindrance", "رکاوٹ", "hindrance (code from config hindrances)", "code",
              sidebar=True, by_rank=11),
    Dimension("months", "visit", "Months since programme end", "پروگرام کے اختتام سے مہینے",
              "follow-up round: months since the teacher's programme end (month 0 = end date) on which the "
              "visit was placed (nearest scheduled round within schedule.window_weeks)", "months",
              filter=False, by_rank=6),
    Dimension("experience_band", "teacher", "Years of teaching experience", "تدریس کے تجربے کے سال",
              f"teacher's years of teaching experience in bands ({', '.join(EXPERIENCE_BANDS)}), from the "
              "roster's years_experience (empty or not a whole number: missing)", "band of years",
              roster_column="years_experience",
              roster_sql="""case
                  when try_cast(t.attributes['years_experience'] as integer) between 0 and 4 then '0-4'
                  when try_cast(t.attributes['years_experience'] as integer) between 5 and 9 then '5-9'
                  when try_cast(t.attributes['years_experience'] as integer) between 10 and 19 then '10-19'
                  when try_cast(t.attributes['years_experience'] as integer) >= 20 then '20+'
              end""",
              sidebar=True, compare=True, by_rank=12, values=EXPERIENCE_BANDS),
)

BY_NAME: dict[str, Dimension] = {d.name: d for d in CATALOGUE}
# the analysis model's teacher columns of migration 2 (sustain/db.py); the others are added by the
# model build (ingest/model.py `ensure_dimension_columns`)
MODEL_CORE_TEACHER_COLUMNS = ("programme", "gender", "subject")

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
for _d in CATALOGUE:  # names and roster columns become SQL identifiers: code only, checked here
    if not _IDENTIFIER.fullmatch(_d.name) or (_d.roster_column and not _IDENTIFIER.fullmatch(_d.roster_column)):
        raise ValueError(f"dimension {_d.name!r}: names and roster columns are lower-case identifiers")
    if _d.level not in LEVELS:
        raise ValueError(f"dimension {_d.name!r}: level {_d.level!r} is not one of {LEVELS}")
    if _d.values and _d.roster_sql and not all(f"'{v}'" in _d.roster_sql for v in _d.values):
        raise ValueError(f"dimension {_d.name!r}: its SQL does not produce every declared value {_d.values}")


def value_order(name: str, values) -> list:
    """`values` of dimension `name` in display order: the catalogue's declared `values` first, in
    their order; the rest (and every value of a dimension without declared values) as sorted
    text; missing values (None) dropped."""
    declared = BY_NAME[name].values if name in BY_NAME else ()
    present = [v for v in dict.fromkeys(values) if v is not None and v == v]  # v == v: not NaN
    if not declared:
        return sorted(present)
    return [v for v in declared if v in present] + sorted((v for v in present if v not in declared), key=str)


def sort_key(column):
    """A pandas `sort_values(key=...)` key: a dimension with declared `values` sorts in their
    order (undeclared values after them, as text); any other column as it is."""
    declared = BY_NAME[column.name].values if column.name in BY_NAME else ()
    if not declared:
        return column
    rank = {v: i for i, v in enumerate(declared)}
    undeclared = sorted({str(v) for v in column.dropna() if v not in rank})
    rank |= {v: len(declared) + i for i, v in enumerate(undeclared)}
    return column.map(lambda v: rank.get(v if v in rank else str(v)) if v is not None and v == v else None)


def filter_dimensions() -> list[Dimension]:
    """The dimensions `Filters` takes, in filter order."""
    return [d for d in CATALOGUE if d.filter]


def by_columns() -> list[str]:
    """The `--by` columns in their canonical (contract) order."""
    return [d.name for d in sorted((d for d in CATALOGUE if d.by_rank is not None), key=lambda d: d.by_rank)]


def sidebar_dimensions() -> list[Dimension]:
    return [d for d in CATALOGUE if d.sidebar]


def compare_dimensions() -> list[str]:
    return [d.name for d in CATALOGUE if d.compare]


def roster_choice_dimensions() -> list[Dimension]:
    """Sidebar dimensions whose choices are read from the roster (the others come from config)."""
    return [d for d in CATALOGUE if d.sidebar and d.roster_sql]


def column_docs() -> dict[str, tuple[str, str]]:
    """The codebook's rows for the dimensions: column -> (meaning, unit)."""
    return {d.name: (d.doc, d.unit) for d in CATALOGUE}


def readme_by_list() -> str:
    """The README's `--by takes ...` list, as it must read."""
    return ", ".join(by_columns())


def teacher_dimensions() -> list[Dimension]:
    """Teacher-level dimensions read from the roster: the analysis model carries each as a column."""
    return [d for d in CATALOGUE if d.level == "teacher" and d.roster_sql]


def roster_attributes() -> list[str]:
    """Roster columns beyond the core ones, kept in `teachers.attributes`, in catalogue order."""
    return list(dict.fromkeys(d.roster_column for d in CATALOGUE if d.roster_column))


def teacher_select(alias: str = "t") -> str:
    """`<expr> as <name>, ...` for the teacher-level dimensions, reading teachers as `alias`."""
    return ", ".join(f"{_aliased(d.roster_sql, alias)} as {d.name}" for d in teacher_dimensions())


def _aliased(sql: str, alias: str) -> str:
    return sql if alias == "t" else re.sub(r"\bt\.", f"{alias}.", sql)


def model_fingerprint_basis() -> list[list[str]]:
    """What the analysis model takes from the catalogue (its teacher columns and their SQL)."""
    return [[d.name, d.roster_sql] for d in teacher_dimensions()]


def place_columns() -> tuple[str, ...]:
    """The place dimensions (level school): where a school is, so where each visit, and each row
    of the analysis model, took place."""
    return tuple(d.name for d in CATALOGUE if d.level == "school")


def district_key_sql(district: str) -> str:
    """The SQL of the integer key of the district named by the SQL expression `district`: the
    analysis model's tables (ingest/model.py) carry it as `district_key` beside `district` and are
    stored in its order, and a filter on districts also tests it (metrics/filters.py `Filters.where`
    with `keyed`). DuckDB's per-row-group min and max of a text keep only its first bytes, so
    districts named alike ("Karachi East", "Karachi West", the national sample's "Balochistan
    District 008") could not be told apart by their names and a district's view read every row
    group of its namesakes; an integer key it can skip row groups by. A hash of the name, computed
    in SQL both when rows are written and when a filter's names are (never bound from Python), so
    it needs no table of its own; a filter tests the name too, so two names with one key would
    only read more row groups."""
    return f"md5_number_upper({district})"


def rollup_grains() -> dict[str, tuple[str, ...]]:
    """The grains of the analysis model's rollups (ingest/model.py builds them, metrics/rollups.py
    reads them), coarsest first: name -> the dimension columns a grain keeps. Every grain keeps the
    school's place (the clustered intervals need per-school totals), the programme and the round
    (retention's response weights are per programme and round); the finer ones add the practice,
    the other teacher-level dimensions, or both."""
    place = place_columns()
    factors = tuple(d.name for d in teacher_dimensions() if d.name != "programme")
    core = (*place, "programme", "months")
    return {"core": core, "practice": (*core, "practice"), "teacher": (*core, *factors),
            "practice_teacher": (*core, "practice", *factors)}


# the grains of retention's cells per hindrance group (ingest/model.py `rollup_hindrance_cells`):
# those without the teacher-level factors (a view with a hindrance and a factor filter reads rows)
HINDRANCE_GRAINS = ("core", "practice")
