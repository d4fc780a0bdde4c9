"""The tables one dashboard server process holds for its sessions, bounded in bytes.

Why: at a million teachers one country table (the 166,667 schools of the Districts page) takes
about 60 MB in pandas, and officers' factor filters make new ones all day. Streamlit's resource
cache bounds only the number of entries (256 such tables would be 15 GB), so this cache keeps the
tables most recently used up to `budget_bytes` (README "Serving many users") and drops the least
recently used beyond it; a dropped table is read back from the result store when asked again.
A table larger than the whole budget is handed out and not kept.

Each table is loaded once however many sessions ask for it at the same moment (the others wait
for the first), as Streamlit's caches do.
"""
from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Callable, Hashable

import pandas as pd

from metrics.filters import Filters
from metrics.registry import pinned_columns, with_pinned_columns

# object cells (text, lists) measured on a sample of this many per column: deep=True on every cell
# of the country's schools table costs as much as reading it
SAMPLED_CELLS = 200


def table_bytes(frame: pd.DataFrame) -> int:
    """About the memory `frame` takes: its arrays, plus each object column's cells estimated from a
    sample of them."""
    total = int(frame.memory_usage(index=True, deep=False).sum())
    for name in frame.columns[frame.dtypes == object]:
        column = frame[name]
        sample = column.iloc[:SAMPLED_CELLS]
        if len(sample):
            total += int(sum(sys.getsizeof(v) for v in sample) / len(sample) * len(column))
    return total


class TableCache:
    """Least recently used tables up to `budget_bytes`; thread-safe."""

    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._tables: OrderedDict[Hashable, tuple[pd.DataFrame, int]] = OrderedDict()
        self._bytes = 0
        self._loading: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._tables)

    def get(self, key: Hashable, load: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """The table held for `key`, else `load()` (once, however many callers wait for it)."""
        while True:
            with self._lock:
                if key in self._tables:
                    self._tables.move_to_end(key)
                    return self._tables[key][0]
                waiting = self._loading.get(key)
                if waiting is None:
                    done = self._loading[key] = threading.Event()
            if waiting is None:
                break
            waiting.wait()  # then look again: kept, or the load failed and this caller tries
        try:
            frame = load()
            self._keep(key, frame)
            return frame
        finally:
            with self._lock:
                del self._loading[key]
            done.set()

    def _keep(self, key: Hashable, frame: pd.DataFrame) -> None:
        size = table_bytes(frame)
        if size > self.budget_bytes:
            return
        with self._lock:
            self._tables[key] = (frame, size)
            self._bytes += size
            while self._bytes > self.budget_bytes:
                _, (_, dropped) = self._tables.popitem(last=False)
                self._bytes -= dropped


def shared_table(cache: TableCache, name: str, filters: Filters, by: tuple[str, ...],
                 load: Callable[[str, Filters, tuple[str, ...]], pd.DataFrame], place: tuple = ()) -> pd.DataFrame:
    """The table `load(name, filters, by)` held in `cache` under (name, filters, by, *place) (`place`:
    the database and its version). A table grouped by a column the filters pin to one value
    (metrics/registry.py `pinned_columns`) is made from the table without that column, itself held
    here: a district officer's Overview computes retention by programme once for its two charts."""
    pinned = pinned_columns(name, filters, by)
    if not pinned:
        return cache.get((name, filters, by, *place), lambda: load(name, filters, by))
    narrower = tuple(c for c in by if c not in pinned)
    return cache.get((name, filters, by, *place), lambda: with_pinned_columns(
        shared_table(cache, name, filters, narrower, load, place), by, pinned))
