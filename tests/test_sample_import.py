"""The bundled sample through the real ingest: importing everything twice changes nothing the
second time, and quarantine holds exactly the sample's deliberately bad rows, each with its rule."""
import json

import duckdb

from ingest import ingest_files
from sustain.config import load_config
from sustain.samples import SAMPLE_DIR, sample_files


def test_sample_imported_twice(tmp_path, monkeypatch):
    monkeypatch.delenv("SUSTAIN_SALT", raising=False)  # the sample uses the demo salt
    config = load_config()
    path = tmp_path / "sustain.duckdb"
    first = ingest_files(sample_files(), config, path)
    second = ingest_files(sample_files(), config, path)
    assert first.ok and second.ok and first.demo_salt
    assert sum(f.inserted for f in first.files) > 7000
    assert [(f.inserted, f.updated) for f in second.files] == [(0, 0)] * len(second.files)
    # the edits of the sample (15 Kobo, 5 ODK) replaced their earlier versions on the first run
    assert sum(f.updated for f in first.files) == 20

    expected = {(row["file"], row["row"], row["column"], row["rule"])
                for row in json.loads((SAMPLE_DIR / "bad_rows.json").read_text(encoding="utf-8"))}
    con = duckdb.connect(str(path), read_only=True)
    try:
        stored = con.execute("select source_file, row_number, column_name, rule, detail from quarantine").fetchall()
    finally:
        con.close()
    assert {(f, r, c, rule) for f, r, c, rule, _ in stored} == expected
    assert len(stored) == len(expected) and all(detail for *_, detail in stored)
