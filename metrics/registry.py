"""Every table a page or command can ask for, by name.

INDICATORS are the indicators of README "Indicators" (`python -m metrics` answers these). DATASETS are
further tables the pages need (school trends, the visit plan, the import ledger, ...), with the
same signature `(connection, Filters, by, config) -> DataFrame`, so pages reach all data through
the one cached path in app/ui.py.
"""
from __future__ import annotations

from .context import cop_activity, coverage, hindrance_prevalence
from .decay import half_life, persistence
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
