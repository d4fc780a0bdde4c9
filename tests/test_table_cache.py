"""The tables a server process holds (app/table_cache.py): bounded in bytes, least recently used
dropped first, each table loaded once however many sessions ask at the same moment."""
from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest

from app.table_cache import TableCache, table_bytes

ROWS = 1_000  # a float64 column of 1,000 rows and its RangeIndex: 8,000 + 132 bytes


def numbers(value: float) -> pd.DataFrame:
    return pd.DataFrame({"x": np.full(ROWS, value)})


class Loads:
    """Counts the loads of each key."""

    def __init__(self):
        self.counts: dict[str, int] = {}

    def of(self, key: str, value: float):
        def load():
            self.counts[key] = self.counts.get(key, 0) + 1
            return numbers(value)
        return load


def test_the_least_recently_used_table_is_dropped_past_the_budget():
    size = table_bytes(numbers(0))
    assert size == 8 * ROWS + pd.RangeIndex(ROWS).memory_usage()
    cache, loads = TableCache(budget_bytes=2 * size), Loads()
    cache.get("a", loads.of("a", 1))
    cache.get("b", loads.of("b", 2))
    cache.get("a", loads.of("a", 1))  # a is now the more recent
    cache.get("c", loads.of("c", 3))  # over the budget: b goes
    assert len(cache) == 2 and cache.held_bytes == 2 * size
    assert cache.get("a", loads.of("a", 1))["x"].iloc[0] == 1
    cache.get("b", loads.of("b", 2))
    assert loads.counts == {"a": 1, "b": 2, "c": 1}


def test_a_table_larger_than_the_budget_is_handed_out_not_kept():
    cache, loads = TableCache(budget_bytes=table_bytes(numbers(0)) - 1), Loads()
    for _ in range(2):
        assert len(cache.get("big", loads.of("big", 5))) == ROWS
    assert loads.counts == {"big": 2} and len(cache) == 0 and cache.held_bytes == 0


def test_sessions_asking_at_once_load_the_table_once():
    cache, started, release, loads = TableCache(budget_bytes=10**9), threading.Event(), threading.Event(), []

    def slow_load():
        loads.append(1)
        started.set()
        release.wait(10)
        return numbers(7)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get("k", slow_load))) for _ in range(4)]
    for thread in threads:
        thread.start()
    started.wait(10)
    time.sleep(0.05)  # the other three are waiting on the first
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(loads) == 1 and len(results) == 4 and all(r is results[0] for r in results)


def test_a_failed_load_is_not_kept_and_the_next_caller_loads_again():
    cache, loads = TableCache(budget_bytes=10**9), Loads()

    def failing():
        raise RuntimeError("the database is refreshing")

    with pytest.raises(RuntimeError):
        cache.get("k", failing)
    assert cache.get("k", loads.of("k", 1))["x"].iloc[0] == 1 and loads.counts == {"k": 1}


def test_text_columns_are_estimated_near_their_real_size():
    frame = pd.DataFrame({"school": [f"GGHS school number {i}" for i in range(5_000)], "n": np.arange(5_000)})
    real = int(frame.memory_usage(index=True, deep=True).sum())
    assert 0.8 * real <= table_bytes(frame) <= 1.2 * real
