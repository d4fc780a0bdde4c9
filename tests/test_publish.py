"""Published database versions (README "Serving many users"): an import writes a new version beside
the current one and swaps the pointer atomically; readers keep the version they opened, never wait
for the writer, and see the new one from their next connection. Small databases through the real
ingest; the load test with two real servers is at the end (slow)."""
import contextlib
import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from ingest import ingest_files
from support import ROOT_DIR, teacher, visit, write_kobo, write_roster
from sustain.db import (DatabaseBusy, current_version, is_published, open_for_writing, published_versions,
                        publishing_for, read_only, remove_old_versions, version_id)

TEACHERS = [teacher(f"T-{i}", "SCH-1") for i in range(1, 7)]


def visits_file(folder: Path, name: str, first: int, count: int) -> Path:
    return write_kobo(folder / name, [visit(f"{name}-{i}", f"T-{1 + i % 6}", "SCH-1", 0)
                                      for i in range(first, first + count)])


def stored_visits(path) -> int:
    with read_only(path) as con:
        return con.execute("select count(*) from visits").fetchone()[0]


def cli(config_path: Path, *args: str) -> tuple[int, str]:
    """`python -m ingest ...` in this process (its main): the exit code and what it wrote to stderr."""
    from ingest.__main__ import main

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main([*map(str, args), "--config", str(config_path)])
    return code, err.getvalue()


@pytest.fixture
def published(tmp_path, config_factory):
    """A config with publishing on (no grace period) and a first version: the roster and 3 visits."""
    config = config_factory(**{"publish.enabled": True, "publish.grace_seconds": 0, "publish.keep_versions": 2})
    pointer = config.database_path()
    with publishing_for(config, pointer) as draft:
        result = ingest_files([write_roster(tmp_path / "roster.csv", TEACHERS), visits_file(tmp_path, "a.csv", 0, 3)],
                              config, draft.path)
    assert result.ok
    return config, pointer


def test_the_default_stays_one_file(tmp_path, config_factory, load):
    config = config_factory()
    assert load(config, write_roster(tmp_path / "roster.csv", TEACHERS)).ok
    path = config.database_path()
    assert path.is_file() and not path.is_symlink()
    assert not (path.parent / "versions").exists()
    assert current_version(path) == path


def test_an_import_publishes_a_sealed_version_and_the_pointer_moves_once(tmp_path, published):
    config, pointer = published
    first = current_version(pointer)
    assert is_published(pointer) and first.parent == pointer.parent / "versions"
    assert first.name.startswith("sustain-") and first.suffix == ".duckdb"
    assert stored_visits(pointer) == 3
    code, err = cli(config.source_path, visits_file(tmp_path, "b.csv", 100, 2))
    assert code == 0, err
    second = current_version(pointer)
    assert second != first and second.exists()
    assert stored_visits(pointer) == 5
    # sealed: checkpointed, no WAL, no draft left; the earlier version is untouched
    assert not list(pointer.parent.rglob("*.wal")) and not list(pointer.parent.rglob(".draft-*"))
    assert stored_visits(first) == 3


def test_a_reader_keeps_its_version_and_never_waits_for_the_writer(tmp_path, published):
    config, pointer = published
    before = version_id(pointer)
    with read_only(pointer) as held:  # a page's query in flight while the import runs and publishes
        with publishing_for(config, pointer) as draft:
            writer = open_for_writing(draft.path)  # the import holds its draft read-write
            started = time.monotonic()
            assert stored_visits(pointer) == 3  # other readers open at once, on the current version
            assert time.monotonic() - started < 1
            writer.close()
            ingest_files([visits_file(tmp_path, "b.csv", 100, 4)], config, draft.path)
        assert held.execute("select count(*) from visits").fetchone()[0] == 3
    assert version_id(pointer) != before
    assert stored_visits(pointer) == 7  # the next connection sees the new version


def test_a_failed_import_publishes_nothing(tmp_path, published):
    config, pointer = published
    before = current_version(pointer)
    with pytest.raises(RuntimeError, match="killed"):
        with publishing_for(config, pointer) as draft:
            ingest_files([visits_file(tmp_path, "b.csv", 100, 4)], config, draft.path)
            raise RuntimeError("killed half-way")
    assert current_version(pointer) == before and stored_visits(pointer) == 3
    assert published_versions(pointer) == [before]
    assert not list((pointer.parent / "versions").glob(".draft-*"))


def test_a_draft_left_by_a_killed_import_is_removed_by_the_next(tmp_path, published):
    config, pointer = published
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = pointer.parent / "versions" / f".draft-{dead.stdout.strip()}-abc.duckdb"
    leftover.write_bytes(b"half")
    with publishing_for(config, pointer):
        pass
    assert not leftover.exists()


def test_old_versions_go_after_the_grace_period_keeping_the_newest(tmp_path, published):
    config, pointer = published
    for n in range(3):
        with publishing_for(config, pointer) as draft:
            ingest_files([visits_file(tmp_path, f"v{n}.csv", 100 * (n + 1), 1)], config, draft.path)
    versions = published_versions(pointer)
    assert len(versions) == 2 and current_version(pointer) == versions[-1]  # keep_versions 2, grace 0
    # within the grace period nothing is removed; after it, all but the newest `keep`
    with publishing_for(config.model_copy(update={"publish": config.publish.model_copy(
            update={"grace_seconds": 3600})}), pointer):
        pass
    assert len(published_versions(pointer)) == 3
    assert remove_old_versions(pointer, keep=1, grace_seconds=3600) == []
    removed = remove_old_versions(pointer, keep=1, grace_seconds=3600, now=time.time() + 7200)
    assert len(removed) == 2 and published_versions(pointer) == [current_version(pointer)]


def test_publishing_a_single_file_database_keeps_its_data(tmp_path, config_factory, load):
    config = config_factory()
    assert load(config, write_roster(tmp_path / "roster.csv", TEACHERS), visits_file(tmp_path, "a.csv", 0, 3)).ok
    pointer = config.database_path()
    code, err = cli(config.source_path, "--publish", visits_file(tmp_path, "b.csv", 100, 2))
    assert code == 0, err
    assert is_published(pointer) and stored_visits(pointer) == 5
    # once published, an import without --publish (and publish.enabled false) publishes too
    code, err = cli(config.source_path, visits_file(tmp_path, "c.csv", 200, 1))
    assert code == 0, err
    assert len(published_versions(pointer)) == 2 and stored_visits(pointer) == 6


def test_an_unreadable_file_publishes_no_new_version(tmp_path, published):
    config, pointer = published
    before = published_versions(pointer)
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\x01 not an export")
    code, _ = cli(config.source_path, junk)
    assert code == 1 and published_versions(pointer) == before


@pytest.mark.slow  # starts `python -m ingest`
def test_a_second_publisher_waits_then_is_refused(tmp_path, published, monkeypatch):
    config, pointer = published
    monkeypatch.setenv("SUSTAIN_LOCK_WAIT", "0.5")
    holding, release = threading.Event(), threading.Event()

    def first():
        with publishing_for(config, pointer):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(10)
    try:
        # another process (in this one, a second upload queues behind the first, as before)
        run = subprocess.run([sys.executable, "-m", "ingest", "--config", str(config.source_path),
                              str(visits_file(tmp_path, "b.csv", 100, 2))],
                             cwd=ROOT_DIR, capture_output=True, text=True, timeout=120)
        assert run.returncode == 2 and "nothing was written" in run.stderr
    finally:
        release.set()
        thread.join(10)
    assert stored_visits(pointer) == 3


def test_a_version_written_in_place_meanwhile_is_not_overwritten(tmp_path, published):
    config, pointer = published
    with pytest.raises(DatabaseBusy, match="written in place"):
        with publishing_for(config, pointer) as draft:
            ingest_files([visits_file(tmp_path, "b.csv", 100, 2)], config, draft.path)
            # a writer in place (live sync) on the current version while the import worked on a copy
            ingest_files([visits_file(tmp_path, "c.csv", 200, 1)], config, pointer)
    assert stored_visits(pointer) == 4  # the in-place write stays; the import's copy was dropped


def test_an_upload_on_the_data_page_publishes(tmp_path, published):
    from app.uploads import import_upload

    config, pointer = published
    before = current_version(pointer)
    data = visits_file(tmp_path, "upload.csv", 100, 2).read_bytes()
    with read_only(pointer) as held:  # the server's queries do not hold the upload back
        result = import_upload("upload.csv", data, config, pointer)
        assert held.execute("select count(*) from visits").fetchone()[0] == 3
    assert result.ok and current_version(pointer) != before and stored_visits(pointer) == 5


def test_ingest_upgrade_publishes_an_upgraded_version(tmp_path, published):
    config, pointer = published
    before = current_version(pointer)
    with duckdb.connect(str(before)) as con:  # as if written by the release before the last migration
        con.execute("delete from schema_info where version = (select max(version) from schema_info)")
    with pytest.raises(Exception, match="earlier Sustain"):
        stored_visits(pointer)
    code, err = cli(config.source_path, "upgrade")
    assert code == 0, err
    assert current_version(pointer) != before and stored_visits(pointer) == 3


@pytest.mark.slow
def test_two_servers_serve_sessions_through_a_publish_without_errors(tmp_path):
    """benchmarks/load.py, short: 2 real servers, a few sessions, one publish mid-run."""
    out = tmp_path / "load.md"
    run = subprocess.run([sys.executable, "benchmarks/load.py", "--servers", "2", "--sessions", "4",
                          "--seconds", "10", "--out", str(out), "--json"],
                         cwd=ROOT_DIR, capture_output=True, text=True, timeout=600,
                         env=os.environ | {"SUSTAIN_SALT": "load-test-salt"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    import json

    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["errors"] == 0, figures
    assert figures["page_views"] > 0 and figures["publishes"] == 1
    assert figures["sessions_seeing_new_version"] == figures["sessions"], figures
    assert "| page views per second |" in out.read_text()
