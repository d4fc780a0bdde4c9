"""A page's views computed together, on a few threads of the server process (issue 12).

Why: a page asks for two to five views, and a view computed for the first time (a filter no session
has chosen yet at this data version) spends about half its time in Python, which holds the
interpreter, and half in DuckDB, which does not. Computed one after the other, a page used one of
the machine's two cores for the Python parts; started together, one view's Python runs while
another's query does. At one district of a million teachers with a factor filter, the Overview's
four views took 15-20% less wall time and the Practices page's 20-25% less, for the same CPU.
A server busy with many sessions gains nothing (its cores are in use anyway), and loses nothing:
the threads are few and shared by the process.

`app/ui.py` starts a page's views here before the page draws (`start_page_views`); the page's own
calls then wait for them in the shared table cache (app/table_cache.py computes a key once,
however many callers ask). `benchmarks/scale.py` times the pages the same way (`run_all`).
"""
from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from threadpoolctl import threadpool_limits

# threads per server process: a page's views at most (the Data page asks for five, most pages for
# two to four); more would only queue on the interpreter
VIEW_THREADS = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
# jobs started in this process since it began (what a test or a benchmark can see of the threads)
_started = 0


def _threads() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            one_blas_thread()
            _pool = ThreadPoolExecutor(VIEW_THREADS, thread_name_prefix="sustain-view")
        return _pool


def one_blas_thread() -> None:
    """Limit numpy's and scipy's BLAS (OpenBLAS) to one thread in this process. Why: the views' own
    threads are the parallelism; a BLAS call's extra threads wait for work spinning on a core
    another view needs. At one district of a million teachers, started together, the Practices
    page took 15% less CPU and 5-12% less wall time with one BLAS thread, and the Overview 3-10%
    less (benchmarks/stop21.md)."""
    threadpool_limits(limits=1, user_api="blas")


def start(job: Callable, *args) -> Future:
    """`job(*args)` on the process's view threads."""
    global _started
    pool = _threads()
    with _pool_lock:
        _started += 1
    return pool.submit(job, *args)


def jobs_started() -> int:
    """How many jobs this process has started on its view threads."""
    return _started


def run_all(jobs: list[Callable]) -> list:
    """Each of `jobs` called with no arguments, all started together; their results in order (the
    first failure raised, after every job has ended)."""
    futures = [start(job) for job in jobs]
    for future in futures:
        future.exception()  # wait for every job, so none is left running when one fails
    return [future.result() for future in futures]
