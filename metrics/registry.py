"""Every indicator by name: what `python -m metrics`, the pages and the docs test go through."""
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
