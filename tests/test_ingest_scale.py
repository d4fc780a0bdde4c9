"""National scale, the ingest side: CSVs streamed by DuckDB read exactly as the Python reader reads
them, the CLI's own size cap and progress bar (none when piped), and the national generator."""
from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ingest.core import _tune
from ingest.read import load_raw, read_table
from sample_data import national
from sample_data.generate import ROSTER_HEADERS, kobo_headers, odk_headers
from support import run_cli, write_config

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
CAP = 50_000_000

# files only the Python reader takes as the rules say (DuckDB's strict reader refuses them, or
# they hold a record the rules skip), and files both read
TRICKY = {
    "crlf_multiline.csv": 'a,b,c\r\n1,"x\ny",3\r\n4,5, 6 \r\n"",,"q""r"\r\n',
    "blank_lines.csv": "a,b,c\n1,2,3\n\n,,\n4,5,6\n",
    "short_row.csv": "a,b,c\n1,2\n4,5,6\n",
    "empty_extra_cell.csv": "a,b,c\n1,2,3,\n",
    "unclosed_quote.csv": 'a;b;c\n1;"oops;3\n4;5;6\n',
    "bom_semicolon.csv": '\ufeff"a";"b";"c"\r\n"1";"2";"3"\r\n',
    "quote_inside.csv": 'a,b,c\n1,a"b,3\n',
    "mixed_newlines.csv": "a,b,c\r\n1,2,3\n4,5,6\r\n",
}


def rows_of(raw, con) -> tuple:
    load_raw(con, raw)
    width = len(raw.headers)
    cells = ", ".join(f"c{i}" for i in range(width))
    return (raw.records, raw.malformed,
            con.execute(f"select _row, {cells} from raw_rows order by _row").fetchall())


@pytest.mark.parametrize("name", sorted(TRICKY) + ["roster.csv", "cop_meetings.csv", "kobo_followup_sindh.csv",
                                                   "odk_followup_balochistan.csv"])
def test_streamed_read_equals_the_python_read(tmp_path, name):
    if name in TRICKY:
        path = tmp_path / name
        path.write_bytes(TRICKY[name].encode("utf-8"))
    else:
        path = SAMPLE / name
    con = duckdb.connect()
    streamed = rows_of(read_table(path, CAP), con)
    python = rows_of(read_table(path, CAP, streaming=False), con)
    assert streamed == python
    assert streamed[0] > 0


def test_a_clean_export_is_streamed_by_duckdb_not_parsed_in_python():
    con = duckdb.connect()
    for name in ("kobo_followup_sindh.csv", "odk_followup_balochistan.csv", "roster.csv"):
        raw = read_table(SAMPLE / name, CAP)
        assert raw.frame is None and raw.records is None  # only the header was read
        load_raw(con, raw)
        assert raw.frame is None and raw.records > 0  # DuckDB took it: no fallback to the Python reader


def test_ingest_connections_never_draw_duckdbs_progress_bar(tmp_path):
    from sustain.db import open_for_writing, read_only

    con = duckdb.connect()
    _tune(con)
    assert con.execute("select current_setting('enable_progress_bar')").fetchone()[0] is False
    # nor the other commands' (upgrade, metrics, report) and the dashboard's connections
    con = open_for_writing(tmp_path / "quiet.duckdb")
    assert con.execute("select current_setting('enable_progress_bar')").fetchone()[0] is False
    con.close()
    with read_only(tmp_path / "quiet.duckdb") as con:
        assert con.execute("select current_setting('enable_progress_bar')").fetchone()[0] is False


def _cli(tmp_path, *files, stderr=subprocess.PIPE):
    args = [sys.executable, "-m", "ingest", "--db", str(tmp_path / "cli.duckdb")]
    env = dict(os.environ)
    env.pop("SUSTAIN_SALT", None)
    return subprocess.run(args + [str(f) for f in files], cwd=ROOT, capture_output=stderr is subprocess.PIPE,
                          text=True, env=env, timeout=300)


@pytest.mark.slow  # starts `python -m ingest`
def test_piped_cli_output_has_no_progress_bar(tmp_path):
    result = _cli(tmp_path, SAMPLE / "roster.csv", SAMPLE / "odk_followup_balochistan.csv")
    assert result.returncode == 0, result.stderr
    assert "2 of 2 file(s) taken" in result.stdout
    for text in (result.stdout, result.stderr):  # neither the CLI's bar nor DuckDB's (100% ▕███▏)
        assert "\r" not in text and "[#" not in text and "\u2588" not in text and "\u2595" not in text


@pytest.mark.slow  # starts `python -m ingest`
def test_cli_on_a_terminal_shows_one_bar_per_file(tmp_path):
    master, slave = pty.openpty()
    env = dict(os.environ)
    env.pop("SUSTAIN_SALT", None)
    process = subprocess.Popen([sys.executable, "-m", "ingest", "--db", str(tmp_path / "tty.duckdb"),
                                str(SAMPLE / "roster.csv"), str(SAMPLE / "odk_followup_balochistan_earlier.csv")],
                               cwd=ROOT, stderr=slave, stdout=subprocess.PIPE, env=env)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    stdout = process.communicate(timeout=300)[0].decode()
    os.close(master)
    text = shown.decode()
    assert process.returncode == 0
    finished = [line for line in text.replace("\r\n", "\n").split("\n") if "4/4" in line]
    assert len(finished) == 2
    assert finished[0].rsplit("\r", 1)[-1].startswith("roster.csv [####################] 4/4")
    assert "[#" not in stdout and "\r" not in stdout


def test_the_cli_has_its_own_size_cap(tmp_path, config_factory, load, monkeypatch):
    roster = SAMPLE / "roster.csv"  # about 0.1 MB
    config = write_config(tmp_path, **{"thresholds.max_file_mb": 0.01, "thresholds.cli_max_file_mb": 1})
    from sustain.config import load_config

    assert "over the size cap of 0.01 MB (thresholds.max_file_mb)" in load(load_config(config), roster).files[0].refused
    # the command line in this process (in a real interpreter: the two tests above)
    monkeypatch.delenv("SUSTAIN_SALT", raising=False)
    cli = ["--db", str(tmp_path / "cli.duckdb"), "--config"]
    code, out, _ = run_cli("ingest", cli + [str(config), str(roster)])
    assert code == 0 and "1 of 1 file(s) taken" in out
    small = write_config(tmp_path, **{"thresholds.cli_max_file_mb": 0.01})
    code, out, _ = run_cli("ingest", cli + [str(small), str(roster)])
    assert code == 1 and "over the size cap of 0.01 MB (thresholds.cli_max_file_mb)" in out


def test_national_generator_writes_the_export_formats_deterministically(tmp_path):
    first = national.generate_national(tmp_path / "a", 300, seed=7, split="district")
    again = national.generate_national(tmp_path / "b", 300, seed=7, split="district")
    assert first == again
    for name in first:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    kobo = sorted((tmp_path / "a").glob("kobo_*.csv"))
    odk = sorted((tmp_path / "a").glob("odk_*.csv"))
    assert kobo and odk and len(first) == 1 + 6  # one roster, one export per tool and district
    practices = ["group_work", "questioning", "teaching_aids", "lesson_planning", "learning_environment",
                 "peer_feedback"]
    hindrances = ["no_followup", "teacher_resistance", "management_resistance", "parent_resistance", "low_pay",
                  "political_interference", "no_resources", "other"]
    kobo_bytes = kobo[0].read_bytes()
    assert kobo_bytes.startswith(('"' + '";"'.join(kobo_headers(practices, hindrances)) + '"\r\n').encode())
    assert kobo_bytes.count(b"\r\n") >= first[kobo[0].name] + 1
    odk_text = odk[0].read_text(encoding="utf-8")
    assert odk_text.startswith(",".join(odk_headers(practices)) + "\n") and "\r" not in odk_text
    roster = (tmp_path / "a" / "roster.csv").read_text(encoding="utf-8")
    assert roster.startswith(",".join(ROSTER_HEADERS) + "\n") and first["roster.csv"] == 300
    by_month = national.generate_national(tmp_path / "m", 300, seed=7, split="month")
    assert sum(by_month.values()) == sum(first.values())
    assert {"kobo_followup_month00.csv", "odk_followup_month24.csv"} <= set(by_month)


@pytest.mark.slow  # imports a national-size export
def test_national_exports_import_with_every_row_accounted_for(tmp_path, config_factory, load):
    counts = national.generate_national(tmp_path / "n", 600, seed=11, split="none")
    files = [tmp_path / "n" / "roster.csv"] + sorted((tmp_path / "n").glob("*_all.csv"))
    result = load(config_factory(), *files)
    assert result.ok
    by_name = {Path(f.file).name: f for f in result.files}
    for name, rows in counts.items():
        assert by_name[name].rows == rows
    exports = [f for f in result.files if f.kind in ("kobo", "odk")]
    assert {f.kind for f in exports} == {"kobo", "odk"}
    assert sum(f.quarantined for f in exports) > 0  # the spoilt rows
    assert sum(f.unchanged for f in exports) > 0  # the double-sent ones
    assert {p["rule"] for f in exports for p in f.problems} <= {"bad_score", "unknown_school", "impossible_date"}
    again = load(config_factory(), *files)
    assert all(f.inserted == f.updated == 0 for f in again.files)


MODEL_TABLES = ("model_visits", "model_observations", "person_period", "model_unit_patterns", "rollup_cells",
                "unscored_cells", "pattern_cells", "pattern_hindrance_cells")


def _model_rows(path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"select * from {t} order by all").fetchall() for t in MODEL_TABLES}
    finally:
        con.close()


def test_a_national_import_refreshes_the_model_once_in_batches_equal_to_a_full_rebuild(
        tmp_path, config_factory, load, monkeypatch):
    """Files split by district: the model is refreshed after the last file, in batches of teachers
    (a transaction each) when more are due than one transaction holds; the rows are those of one
    full rebuild. A command killed before the batches leaves `model_info` empty, so the next import
    rebuilds the model whole."""
    import ingest.core as core
    import ingest.model as model
    from sustain.db import open_for_writing

    national.generate_national(tmp_path / "n", 120, seed=5, split="district")
    files = [tmp_path / "n" / "roster.csv"] + sorted((tmp_path / "n").glob("*_followup_*.csv"))
    config = config_factory()
    monkeypatch.setattr(model, "MODEL_BATCH_TEACHERS", 50)  # 3 batches
    batches = []
    real = model.refresh_model
    for module in (core, model):  # a refresh per file (core) or per batch (model)
        monkeypatch.setattr(module, "refresh_model", lambda *a, **k: batches.append(a[2:]) or real(*a, **k))
    assert load(config, *files).ok
    # the new database's empty model is built once at the start (no teachers: `()`), then 3 batches,
    # no refresh per file
    assert batches[0] == () and len(batches) == 4 and all(b and "batch" in b[0] for b in batches[1:])
    batched = _model_rows(config.database_path())
    con = open_for_writing(config.database_path())
    try:
        real(con, config)
    finally:
        con.close()
    assert _model_rows(config.database_path()) == batched and batched["person_period"]

    # a model of another version (an upgrade, or a changed configuration) is rebuilt in batches too
    con = open_for_writing(config.database_path())
    try:
        con.execute("update model_info set config_fingerprint = 'an earlier release'")
        batches.clear()
        done = model.bring_model_up_to_date(con, config)
    finally:
        con.close()
    assert len(batches) == 3 and "in 3 batches" in done[0]
    assert _model_rows(config.database_path()) == batched

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # the command stops between the last file and the model refresh

    other = config_factory(database=str(tmp_path / "killed.duckdb"))
    monkeypatch.setattr(core, "_refresh_due", killed)
    with pytest.raises(KeyboardInterrupt):
        load(other, *files)
    con = duckdb.connect(str(other.database_path()), read_only=True)
    assert con.execute("select count(*) from model_info").fetchone()[0] == 0
    con.close()
    monkeypatch.undo()
    assert load(other, files[0]).ok  # an unchanged roster: the model is rebuilt whole first
    assert _model_rows(other.database_path()) == batched
