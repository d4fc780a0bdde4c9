"""The bundled sample through the real ingest: importing everything twice changes nothing the
second time, and quarantine holds exactly the sample's deliberately bad rows, each with its rule."""
import json
import shutil

import duckdb
import pytest

from ingest import ingest_files
from sustain.config import load_config
from sustain.samples import SAMPLE_DIR, sample_files


@pytest.mark.slow  # imports the whole sample again
def test_sample_imported_twice(sample_db, tmp_path, monkeypatch):
    """The first import is the session's `sample_db` (conftest: the sample through the real ingest,
    demo salt), its counts read back from the import ledger; the second import runs here on a copy."""
    monkeypatch.delenv("SUSTAIN_SALT", raising=False)  # the sample uses the demo salt
    config = load_config()
    path = tmp_path / "sustain.duckdb"
    shutil.copy(sample_db, path)
    with duckdb.connect(str(path), read_only=True) as con:
        first = con.execute("select source_file, inserted, updated, refused from import_ledger").fetchall()
    assert sorted(f for f, *_ in first) == sorted(p.name for p in sample_files())
    assert not any(refused for *_, refused in first)
    second = ingest_files(sample_files(), config, path)
    assert second.ok and second.demo_salt
    assert sum(inserted for _, inserted, _, _ in first) > 7000
    assert [(f.inserted, f.updated) for f in second.files] == [(0, 0)] * len(second.files)
    # the edits of the sample (15 Kobo, 5 ODK) replaced their earlier versions on the first run
    assert sum(updated for _, _, updated, _ in first) == 20

    expected = {(row["file"], row["row"], row["column"], row["rule"])
                for row in json.loads((SAMPLE_DIR / "bad_rows.json").read_text(encoding="utf-8"))}
    con = duckdb.connect(str(path), read_only=True)
    try:
        stored = con.execute("select source_file, row_number, column_name, rule, detail from quarantine").fetchall()
    finally:
        con.close()
    assert {(f, r, c, rule) for f, r, c, rule, _ in stored} == expected
    assert len(stored) == len(expected) and all(detail for *_, detail in stored)
