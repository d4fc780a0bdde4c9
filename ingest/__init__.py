"""Ingest survey exports, the roster and the CoP log into DuckDB (see ingest/core.py)."""
from .core import FileSummary, ImportResult, ingest_files
from .kinds import detect_kind
from .read import FileRefused

__all__ = ["FileSummary", "ImportResult", "ingest_files", "FileRefused", "detect_kind"]
