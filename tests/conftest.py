import fcntl
import functools
import gc
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

# Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE, as on the
# development machines): otherwise each worker compiles the code and rewrites the tests' asserts
# on every run (3-4 s of CPU per worker), and every server or command a test starts compiles the
# code again. It goes to __pycache__/, which git ignores.
sys.dont_write_bytecode = False

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

os.environ.pop("SUSTAIN_DB", None)
os.environ.pop("SUSTAIN_CONFIG", None)
os.environ.setdefault("SUSTAIN_SALT", "test-salt")
# one DuckDB thread per test process: two xdist workers on two cores, each on data of a few
# thousand rows, where the threads' hand-offs cost more CPU than they save (the fast tests: a fifth
# less CPU). Servers the tests start run with DuckDB's default, as deployed (server_helpers.py).
os.environ.setdefault("SUSTAIN_DUCKDB_THREADS", "1")

from sustain.config import load_config  # noqa: E402

from support import ROOT_DIR, write_config  # noqa: E402

# the browser tests' fixtures (chromium, dashboard servers), shared by every module of a worker
pytest_plugins = ["browser_helpers"]


@pytest.fixture
def config_factory(tmp_path):
    """Build a validated config in tmp_path (database inside it); keyword changes by dotted key."""
    def make(**changes):
        return load_config(write_config(tmp_path, **changes))
    return make


@pytest.fixture
def load(tmp_path):
    """Import files through the real ingest into the config's temporary DuckDB file."""
    from ingest import ingest_files

    def run(config, *files, dry_run=False, reread=False):
        return ingest_files(list(files), config, dry_run=dry_run, reread=reread)
    return run


# What the sample database is built from: a change to any of these builds it again.
SAMPLE_INPUTS = ("sample_data", "sustain", "ingest", "metrics", "config.yaml")


def _sample_key() -> str:
    import duckdb

    digest = hashlib.sha256(f"{sys.version}|{duckdb.__version__}".encode())
    for name in SAMPLE_INPUTS:
        top = ROOT / name
        for path in sorted(top.rglob("*") if top.is_dir() else [top]):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(f"{path.relative_to(ROOT)}\0".encode() + path.read_bytes())
    return digest.hexdigest()[:20]


def _built_sample() -> Path:
    """The bundled sample imported through the real ingest (with the demo salt, as the dashboard's
    first start does) into a cache shared by both xdist workers and by later runs, keyed by a hash
    of SAMPLE_INPUTS: it is built once (under a file lock) until one of them changes. Tests never
    get this file, only copies of it."""
    from ingest import ingest_files
    from sustain.samples import sample_files

    # CI builds its own in the clone (a fresh clone proves the build works, whatever a machine kept)
    default = (ROOT_DIR / ".test-cache" if os.environ.get("CI") == "true"
               else Path(tempfile.gettempdir()) / f"sustain-tests-{os.getuid()}")
    cache = Path(os.environ.get("SUSTAIN_TEST_CACHE") or default)
    cache.mkdir(parents=True, exist_ok=True)
    built = cache / f"sample-{_sample_key()}.duckdb"
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits here for the one build
        if not built.exists():
            for old in cache.glob("sample-*.duckdb"):  # earlier code's builds, unused for a day
                if time.time() - old.stat().st_mtime > 86400:
                    old.unlink(missing_ok=True)
            draft = cache / f"building-{os.getpid()}"
            shutil.rmtree(draft, ignore_errors=True)
            draft.mkdir()
            salt = os.environ.pop("SUSTAIN_SALT", None)
            try:
                result = ingest_files(sample_files(), load_config(), draft / "sustain.duckdb")
            finally:
                if salt is not None:
                    os.environ["SUSTAIN_SALT"] = salt
            assert result.ok, [f.refused for f in result.files]
            assert [p.name for p in draft.iterdir()] == ["sustain.duckdb"], list(draft.iterdir())
            os.replace(draft / "sustain.duckdb", built)
            draft.rmdir()
        os.utime(built)  # used today: kept
    return built


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory):
    """The bundled sample data imported through the real ingest (with the demo salt, as the
    dashboard's first start does): this session's own copy of the shared build (`_built_sample`).
    Tests open it read-only."""
    path = tmp_path_factory.mktemp("sample") / "sustain.duckdb"
    shutil.copyfile(_built_sample(), path)
    return path


@pytest.fixture(scope="session")
def golden(tmp_path_factory):
    """The six-teacher fixture of tests/test_metrics_golden.py (described there) imported once per
    session with thresholds.min_group_n 1: (read-only connection, config). Tests only read it; a
    test needing another threshold copies the config (suppression is applied when reading)."""
    from ingest import ingest_files
    from test_metrics_golden import build

    folder = tmp_path_factory.mktemp("golden")
    config = load_config(write_config(folder, **{"thresholds.min_group_n": 1}))
    connection = build(folder, config, lambda config, *files: ingest_files(list(files), config))
    yield connection, config
    connection.close()



# What Streamlit's caches were filled under when the last test finished, if that test ran its pages
# through `page_caches` (None otherwise): the SUSTAIN_* variables, and the size and time of the
# database and config files they name.
_warm_caches: list = [None]


def _cache_key() -> tuple:
    def stamp(path):
        return (path.stat().st_size, path.stat().st_mtime_ns) if path.exists() else None
    variables = sorted((name, value) for name, value in os.environ.items() if name.startswith("SUSTAIN_"))
    files = [stamp(Path(os.environ[name])) for name in ("SUSTAIN_DB", "SUSTAIN_CONFIG") if os.environ.get(name)]
    return tuple(variables), tuple(files)


@pytest.fixture
def page_caches():
    """`page_caches()` before an AppTest run: clears Streamlit's caches (data and resources: the
    config) unless the previous test ran pages through this fixture with the same SUSTAIN_*
    variables, on the same database and config files, unchanged, and nothing else ran in between.
    Cold caches cost a page 1-2 s of metrics; the values a warm cache returns are those of the same
    calls on the same data and config (the cache keys carry the filters, the viewer's scope, the
    breakdown, the database and its version)."""
    import streamlit as st

    def prepare():
        key = _cache_key()
        if _warm_caches[0] != key:
            st.cache_data.clear()
            st.cache_resource.clear()
        _warm_caches[0] = key
    yield prepare
    key = _cache_key()
    _warm_caches[0] = key if _warm_caches[0] == key else None


def pytest_runtest_setup(item):
    if "page_caches" not in item.fixturenames and _warm_caches[0] is not None:
        # a test that does not take part finds the caches empty, as it would after a page test
        # that cleared them at its start (its config may differ: SUSTAIN_CONFIG is read once)
        import streamlit as st

        st.cache_data.clear()
        st.cache_resource.clear()
        _warm_caches[0] = None


def pytest_runtest_teardown(item):
    if "page_caches" not in item.fixturenames:
        _warm_caches[0] = None  # this test may have filled the caches with anything


@pytest.fixture
def open_page(sample_db, monkeypatch, page_caches):
    """Run a page of the dashboard with AppTest on the session's sample database (caches as in
    `page_caches`): `open_page(path, default_timeout, **url_parameters)` returns the AppTest after
    its first run."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SUSTAIN_DB", str(sample_db))

    def run(page, default_timeout, **query):
        page_caches()
        at = AppTest.from_file(str(ROOT_DIR / page), default_timeout=default_timeout)
        for key, values in query.items():
            at.query_params[key] = values
        return at.run()
    return run


def _starts_slow_process(args) -> bool:
    """A new Python interpreter running a module or a script (`python -m streamlit` for a server
    included; a one-line `python -c` is not) or Playwright's driver (a browser)."""
    argv = [str(a) for a in (args if isinstance(args, (list, tuple)) else [args])]
    return bool(argv) and ((argv[0] == sys.executable and argv[1:2] != ["-c"]) or "playwright" in argv[0])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """The checked part of the rule for `slow` (README, Tests): a test not marked slow that starts
    another Python (a CLI, a script, a server) or a browser, in its fixtures or its body, fails."""
    if item.get_closest_marker("slow"):
        yield
        return
    original = subprocess.Popen.__init__

    def guarded(self, args, *more, **options):
        if _starts_slow_process(args):
            raise AssertionError(f"{item.nodeid} starts {args[:3] if isinstance(args, (list, tuple)) else args}: "
                                 "a test that starts another Python or a browser is marked slow (README, Tests)")
        original(self, args, *more, **options)

    subprocess.Popen.__init__ = guarded
    try:
        yield
    finally:
        subprocess.Popen.__init__ = original


@pytest.fixture(scope="session", autouse=True)
def _light_password_hashes():
    """Argon2 with its lightest cost in this process: the default (64 MiB, 3 passes, 4 lanes) cost
    0.2-0.6 s per login checked or password set, and the login tests check dozens. The hashes are
    still argon2 ("$argon2id$..."), verified the same way (the cost is read from each hash);
    servers the tests start keep the default."""
    from argon2 import PasswordHasher

    from app import access

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(access, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        yield


@pytest.fixture(scope="session", autouse=True)
def _components_scanned_once():
    """Each AppTest run scans every installed package's metadata for Streamlit components (about
    0.3 s of CPU, seconds on a busy machine); the installed packages do not change during a
    session, so the real scan runs once and its result is reused."""
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:  # another Streamlit: nothing to share
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(manifest_scanner, "scan_component_manifests",
                      functools.cache(manifest_scanner.scan_component_manifests))
        yield


# Seconds each file's tests took (those not marked slow, those marked slow), from `--durations=0`
# of the whole suite on a busy shared machine (2026-11-26 22:00, main at c0f5017), less what the
# load test's one-after-the-other warm-up and the sidebar walk save (publish, server trust). Only the order they
# give matters: pytest.ini hands whole files to two workers in collection order (--dist loadfile,
# --no-loadscope-reorder), and a long file started last would leave one worker idle at the end, so
# the longest go first. A file not listed counts 0.2 s a test, 20 s a slow test.
FILE_SECONDS = {
    "test_browser.py": (0, 253),
    "test_server_trust.py": (2, 206),
    "test_visual.py": (0, 134),
    "test_faults.py": (0, 118),
    "test_publish.py": (15, 66),
    "test_indicators_sample.py": (1, 53),
    "test_urdu.py": (12, 39),
    "test_ingest_scale.py": (20, 14),
    "test_report.py": (0, 31),
    "test_rollups.py": (25, 2),
    "test_data_page.py": (26, 0),
    "test_bad_input.py": (24, 0),
    "test_validation.py": (3, 21),
    "test_decay.py": (19, 0),
    "test_suppression.py": (18, 0),
    "test_sync.py": (0, 16),
    "test_access.py": (14, 0),
    "test_result_store.py": (13, 0),
    "test_ingest.py": (11, 0),
    "test_schools.py": (10, 0),
    "test_metrics_golden.py": (4, 6),
    "test_pages.py": (4, 6),
    "test_survival.py": (9, 0),
    "test_hindrance_effect.py": (6, 3),
    "test_pages_analysis.py": (8, 0),
    "test_planner.py": (8, 0),
    "test_surveycto.py": (7, 0),
    "test_sample_data.py": (1, 5),
    "test_answers_pages.py": (6, 0),
    "test_as_scored.py": (5, 0),
    "test_latent.py": (4, 0),
    "test_sample_import.py": (0, 4),
    "test_migrations.py": (4, 0),
    "test_exports.py": (2, 0),
    "test_layers.py": (2, 0),
    "test_scale.py": (2, 0),
    "test_docs.py": (1, 0),
    "test_view_exports.py": (1, 0),
    "test_experience_dimension.py": (1, 0),
}


def pytest_collection_finish(session):
    """The test modules and what they import (streamlit, plotly, pandas, scipy) live for the whole
    session: frozen out of the collector's sight, and young objects collected less often, garbage
    collection costs the inner loop a fifth less CPU (measured on test_bad_input.py and
    test_pages_analysis.py: 51 s -> 40 s). Cycles are still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


@pytest.hookimpl(trylast=True)  # after `-m` and `-k` have deselected
def pytest_collection_modifyitems(config, items):
    slow = {}
    for item in items:
        slow.setdefault(item.path.name, []).append(item.get_closest_marker("slow") is not None)

    def seconds(name):
        marks = slow[name]
        if name not in FILE_SECONDS:
            return sum(20 if mark else 0.2 for mark in marks)
        fast_part, slow_part = FILE_SECONDS[name]
        return fast_part * (not all(marks)) + slow_part * any(marks)
    items.sort(key=lambda item: -seconds(item.path.name))  # stable: a file's own order is kept
