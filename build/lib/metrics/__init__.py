"""Indicators as pure functions over the DuckDB file: (connection, Filters, by, config) -> DataFrame."""
from .filters import BY_COLUMNS, DIMENSIONS, FilterError, Filters
from .registry import INDICATORS

__all__ = ["BY_COLUMNS", "DIMENSIONS", "FilterError", "Filters", "INDICATORS"]
