"""Every table a page or command can ask for, by name.

INDICATORS are the indicators of DESIGN.md (`python -m metrics` answers these). DATASETS are
further tables the pages need (school trends, the visit plan, the import ledger, ...), with the
same signature `(connection, Filters, by, config) -> DataFrame`, so pages reach all data through
the one cached path in sustain/ui.py.
"""
from __future__ import annotations

from .context import cop_activity, coverage, hindrance_prevalence
from .decay import half_life, persistence
from .indicators import prevalence, retention

INDICATORS = {
    "prevalence": prevalence,
    "retention": retention,
    "half_life": half_life,
    "persistence": persistence,
    "hindrance_prevalence": hindrance_prevalence,
    "cop_activity": cop_activity,
    "coverage": coverage,
}

DATASETS: dict = {}

TABLES = INDICATORS | DATASETS
