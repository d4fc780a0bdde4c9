"""The read instance keeps a database attached a moment after its last query (sustain/db.py
`KEEP_ATTACHED_SECONDS`), and lets go of it whenever a writer needs the file."""
from __future__ import annotations

import os
import shutil
import time

import pytest

from sustain import db as sdb


@pytest.fixture
def database(sample_db, tmp_path):
    path = tmp_path / "sustain.duckdb"
    shutil.copyfile(sample_db, path)
    yield path
    sdb.READ_INSTANCE.detach_idle(path)


def _attached(path) -> bool:
    return str(path) in sdb.READ_INSTANCE._attached


def _read(path, **options) -> int:
    with sdb.read_only(path, **options) as con:
        return con.execute("select count(*) from teachers").fetchone()[0]


def test_a_database_stays_attached_after_its_last_query_then_is_let_go(database, monkeypatch):
    monkeypatch.setattr(sdb, "KEEP_ATTACHED_SECONDS", 0.3)
    teachers = _read(database)
    assert _attached(database)
    assert _read(database) == teachers  # the next query reuses it
    deadline = time.monotonic() + 5
    while _attached(database) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _attached(database)
    assert _read(database) == teachers  # attached again on demand


def test_this_process_can_write_a_database_it_has_just_read(database):
    _read(database)
    assert _attached(database)
    con = sdb.open_for_writing(database, wait_seconds=0)  # no wait: the idle attachment is dropped first
    try:
        con.execute("create table written_after_a_read (x integer)")
    finally:
        con.close()
    assert _read(database) > 0


def test_readers_let_go_when_a_writer_of_another_process_waits(database):
    _read(database)
    assert _attached(database)
    marker = sdb._intent_path(database)
    marker.write_text(str(os.getpid()), encoding="utf-8")  # a live writer announcing itself
    try:
        with pytest.raises(sdb.DataRefreshing):
            _read(database, retry_seconds=0.2)
        assert not _attached(database)  # dropped while the reader stepped aside
    finally:
        marker.unlink()
    assert _read(database) > 0
