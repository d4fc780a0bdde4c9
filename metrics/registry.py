"""Every table a page or command can ask for, by name.

INDICATORS are the indicators of README "Indicators" (`python -m metrics` answers these). DATASETS are
further tables the pages need (school trends, the visit plan, the import ledger, ...), with the
same signature `(connection, Filters, by, config) -> DataFrame`, so pages reach all data through
the one cached path in app/ui.py.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from .context import cop_activity, coverage, hindrance_prevalence
from .decay import half_life, persistence
from .filters import BY_COLUMNS, DIMENSIONS, Filters
from .hindrance_effect import hindrance_effect
from .indicators import prevalence, retention
from .communities import retention_by_cop
from .schools import area_hindrances, school_trends, teacher_practices
from .overview import headline
from .survival import survival
from .planner import visit_plan, visit_plan_head
from .records import import_ledger, quarantine_rows, sync_log, tidy_observations, tidy_preview

INDICATORS = {
    "prevalence": prevalence,
    "retention": retention,
    "half_life": half_life,
    "survival": survival,
    "persistence": persistence,
    "hindrance_prevalence": hindrance_prevalence,
    "hindrance_effect": hindrance_effect,
    "cop_activity": cop_activity,
    "coverage": coverage,
}

DATASETS: dict = {
    "headline": headline,
    "school_trends": school_trends,
    "teacher_practices": teacher_practices,
    "area_hindrances": area_hindrances,
    "retention_by_cop": retention_by_cop,
    "visit_plan": visit_plan,
    "visit_plan_head": visit_plan_head,
    "import_ledger": import_ledger,
    "quarantine_rows": quarantine_rows,
    "sync_log": sync_log,
    "tidy_observations": tidy_observations,
    "tidy_preview": tidy_preview,
}

TABLES = INDICATORS | DATASETS

# Tables whose rows grouped by a --by column the filters pin to one value are their rows without
# that column, with the value in it (the same groups, estimates and suppression: nothing varies
# along it). `pinned_columns` finds such columns, so the dashboard computes the narrower table once
# and shares it (a district officer's Overview asks for retention by programme, and by programme
# and district: one computation, not two). tests/test_registry.py checks every table and column
# here against the table computed with the column.
SHARES_PINNED_GROUPS = frozenset({"retention", "prevalence", "hindrance_prevalence", "coverage"})
# the filters that pin a --by column of the same name: not `hindrance`, whose filter keeps a
# teacher's every visit while grouping by it puts a teacher in every group they reported
PINNING_FILTERS = tuple(c for c in BY_COLUMNS if c in DIMENSIONS and c != "hindrance")


def pinned_columns(name: str, filters: Filters, by: Sequence[str]) -> dict[str, str]:
    """The columns of `by` that `filters` pin to one value ({column: value}: a filter of one value,
    or a viewer's scope of one district), for a table of SHARES_PINNED_GROUPS; none when every
    column of `by` is pinned (a table keeps a group column)."""
    if name not in SHARES_PINNED_GROUPS:
        return {}
    by = list(dict.fromkeys(by))
    values = {c: _pinned_values(filters, c) for c in by if c in PINNING_FILTERS}
    pinned = {c: kept[0] for c, kept in values.items() if len(kept) == 1}
    return pinned if len(pinned) < len(by) else {}


def _pinned_values(filters: Filters, column: str) -> tuple[str, ...]:
    """The values `filters` keep of `column`: its filter's, else, for the district, the viewer's
    scope (an officer who sees one district)."""
    values = getattr(filters, column)
    if column == "district" and not values and filters.scope is not None:
        return filters.scope
    return values


def computed_by(name: str, filters: Filters, by: Sequence[str]) -> tuple[str, ...]:
    """The --by columns the table is computed with: `by` without its pinned columns."""
    pinned = pinned_columns(name, filters, by)
    return tuple(c for c in by if c not in pinned)


def with_pinned_columns(table: pd.DataFrame, by: Sequence[str], pinned: dict[str, str]) -> pd.DataFrame:
    """`table` (grouped by `by` without the pinned columns) as grouped by `by`: each pinned column
    holds its one value, in its place among the --by columns (object dtype, as computed)."""
    out = table.copy()
    for column in (c for c in by if c in pinned):
        out.insert(list(by).index(column), column, pd.Series([pinned[column]] * len(out), index=out.index, dtype=object))
    return out
