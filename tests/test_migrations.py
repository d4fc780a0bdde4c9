"""Schema migrations: a database written by the previous release (tests/data, built by that
release's ingest from a 9-teacher fixture) is upgraded on open for writing, nothing is lost, and
the indicators read it; a reader refuses a database newer than the code, and one not yet upgraded."""
from __future__ import annotations

import gzip
import shutil

import duckdb
import pytest

from sustain.db import MIGRATIONS, SCHEMA_VERSION, SchemaMismatch, open_for_writing, read_only, schema_version
from support import ROOT_DIR, run_cli, write_config

PREVIOUS_RELEASE = ROOT_DIR / "tests" / "data" / "release_2026.11-1.duckdb.gz"
CANONICAL = ["schools", "teachers", "visits", "visit_practices", "visit_hindrances", "cop_meetings",
             "quarantine", "import_ledger"]


@pytest.fixture
def old_db(tmp_path):
    path = tmp_path / "sustain.duckdb"
    with gzip.open(PREVIOUS_RELEASE) as source, path.open("wb") as target:
        shutil.copyfileobj(source, target)
    return path


def snapshot(path) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: sorted(map(repr, con.execute(f"select * from {t}").fetchall())) for t in CANONICAL}
    finally:
        con.close()


def test_migrations_are_numbered_in_order_from_one():
    assert [m[0] for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert SCHEMA_VERSION == MIGRATIONS[-1][0]


def test_the_previous_release_upgrades_with_nothing_lost(old_db, tmp_path):
    before = snapshot(old_db)
    assert sum(len(rows) for rows in before.values()) > 30  # the fixture holds real rows
    con = duckdb.connect(str(old_db), read_only=True)
    assert schema_version(con) == 1
    con.close()

    # a reader refuses it until it is upgraded, and says how
    with pytest.raises(SchemaMismatch, match="python -m ingest upgrade"):
        with read_only(old_db):
            pass

    config = write_config(tmp_path)
    code, out, err = run_cli("ingest", ["upgrade", "--db", str(old_db), "--config", str(config)])
    assert code == 0, err
    assert f"schema version {SCHEMA_VERSION}" in out and "analysis model rebuilt" in out

    after = snapshot(old_db)
    for table in CANONICAL:
        # every old row is still there (new columns may add values at the end of each row)
        assert len(after[table]) == len(before[table]), table
    with read_only(old_db) as con:
        assert schema_version(con) == SCHEMA_VERSION
        recorded = con.execute("select version, description from schema_info order by version").fetchall()
        assert [v for v, _ in recorded] == [m[0] for m in MIGRATIONS]
        units = con.execute("select count(*) from person_period").fetchone()[0]
    assert units > 0  # the analysis model was built from the old visits

    code, _, err = run_cli("metrics", ["retention", "--db", str(old_db), "--config", str(config), "--format", "json"])
    assert code == 0, err

    code, out, _ = run_cli("ingest", ["upgrade", "--db", str(old_db), "--config", str(config)])
    assert code == 0 and "up to date" in out


def test_a_database_from_a_newer_release_is_refused_by_readers_and_writers(old_db, tmp_path):
    con = open_for_writing(old_db)
    con.execute("insert into schema_info (version, description) values (?, 'from the future')", [SCHEMA_VERSION + 1])
    con.close()
    before = old_db.read_bytes()
    with pytest.raises(SchemaMismatch, match="newer Sustain"):
        with read_only(old_db):
            pass
    with pytest.raises(SchemaMismatch, match="newer Sustain"):
        open_for_writing(old_db)
    config = write_config(tmp_path)
    code, _, err = run_cli("metrics", ["retention", "--db", str(old_db), "--config", str(config)])
    assert code == 2 and "newer Sustain" in err and "Traceback" not in err
    assert old_db.read_bytes() == before


def test_the_dashboard_upgrades_a_database_of_the_previous_release_on_start(old_db, monkeypatch):
    """An office that installs the new release and starts the dashboard on its old database gets
    it upgraded (visibly), then its data, not an error."""
    from streamlit.testing.v1 import AppTest
    import streamlit as st

    monkeypatch.setenv("SUSTAIN_DB", str(old_db))
    monkeypatch.setenv("SUSTAIN_SALT", "upgrade-test-salt")
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT_DIR / "dashboard.py"), default_timeout=120).run()
    assert not at.exception, at.exception
    assert at.title and at.title[0].value  # the Overview rendered from the upgraded data
    with read_only(old_db) as con:
        assert schema_version(con) == SCHEMA_VERSION
        assert con.execute("select count(*) from person_period").fetchone()[0] > 0
