"""Faults (issue 5): an ingest killed with SIGKILL mid-file leaves the database as it was before
that file and a re-run completes it; a dashboard open during an ingest never shows half a file
and never a traceback (it waits, then says "refreshing", then answers again); two ingests at once:
the second waits, or refuses with a clear message, and neither corrupts the database.

Everything runs the real `python -m ingest` in subprocesses on a large generated export (copies
of the sample export with new instance ids) against copies of one small base database; every
loop is bounded in count and time. The counts are printed and written to test-artifacts/."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from benchmarks.concurrency import build_inputs, markdown, run_scenario
from fault_helpers import ROOT, state, without_ledger
from sustain.config import load_config

pytestmark = pytest.mark.slow  # fault injection in subprocesses

COPIES = 8  # ~20,000 visits: a few seconds of ingest, more than a second inside the transaction
ODK = ROOT / "sample_data" / "odk_followup_balochistan.csv"
HELPER = Path(__file__).resolve().parent / "fault_helpers.py"
ARTIFACTS = ROOT / "test-artifacts"
FAULT_ROWS: list[dict] = []


@dataclass
class Inputs:
    base: Path  # roster, CoP log and the earlier sample exports
    big: Path  # the large export
    before: dict  # state of base
    after: dict  # state of base + big, imported cleanly
    after_both: dict  # state of base + big + ODK export, imported cleanly
    clean: dict  # the clean import's summary of big (inserted, updated, unchanged, quarantined)
    transaction_seconds: float


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Inputs:
    from ingest import ingest_files

    folder = tmp_path_factory.mktemp("faults")
    base, big = build_inputs(folder, COPIES)
    reference = folder / "reference.duckdb"
    shutil.copy(base, reference)
    summary = ingest_files([big], load_config(), reference).files[0]
    assert summary.refused is None and summary.inserted > 15_000
    after = state(reference)
    assert ingest_files([ODK], load_config(), reference).ok
    clean = {k: getattr(summary, k) for k in ("rows", "inserted", "updated", "unchanged", "quarantined")}
    return Inputs(base, big, state(base), after, state(reference), clean, summary.seconds)


def fresh_db(inputs: Inputs, tmp_path: Path, name: str) -> Path:
    db = tmp_path / f"{name}.duckdb"
    shutil.copy(inputs.base, db)
    return db


def cli(db: Path, *files, json_out=False, extra=()) -> list[str]:
    return [sys.executable, "-m", "ingest", "--db", str(db), *(["--json"] if json_out else []), *extra,
            *map(str, files)]


def paused(point: str, markers: Path, db: Path, *files) -> list[str]:
    return [sys.executable, str(HELPER), "pause", point, str(markers), "--", "--db", str(db), *map(str, files)]


def wait_for(condition, seconds: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the ingest ended (exit {proc.returncode}) before {what}: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL


def rerun(db: Path, inputs: Inputs) -> dict:
    done = subprocess.run(cli(db, inputs.big, json_out=True), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["files"][0]


# -- SIGKILL -----------------------------------------------------------------------------------------
def test_sigkill_mid_file_leaves_the_database_as_it_was_and_a_rerun_completes(inputs, tmp_path):
    from sustain.db import DataRefreshing, read_only

    db = fresh_db(inputs, tmp_path, "killed")
    assert state(db) == inputs.before
    kills = []

    # 1. the transaction is open, nothing written yet
    markers = tmp_path / "m1"
    markers.mkdir()
    proc = subprocess.Popen(paused("begin", markers, db, inputs.big), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (markers / "begin").exists(), 60, "the transaction to begin", proc)
    kill(proc)
    kills.append(("SIGKILL right after `begin transaction`", state(db)))

    # 2. killed while rows are being written inside the transaction (the file's visits are in,
    #    the analysis model is being rebuilt), before any commit: no .wal file yet
    markers = tmp_path / "m2"
    markers.mkdir()
    wal = Path(f"{db}.wal")
    proc = subprocess.Popen(paused("writing", markers, db, inputs.big), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (markers / "writing").exists(), 60, "rows to be written", proc)
    wal_at_kill = wal.exists()
    kill(proc)
    assert not wal_at_kill, "killed after the commit had begun: the kill point is not mid-transaction"
    kills.append(("SIGKILL while rows were being written (analysis model mid-rebuild)", state(db)))

    # 3. every write done, the commit not yet run; meanwhile the lock is held: readers hear "refreshing"
    markers = tmp_path / "m3"
    markers.mkdir()
    proc = subprocess.Popen(paused("commit", markers, db, inputs.big), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (markers / "commit").exists(), 60, "every write of the file", proc)
    with pytest.raises(DataRefreshing, match="refreshing"):
        with read_only(db, retry_seconds=0.3):
            pass
    kill(proc)
    kills.append(("SIGKILL after every write, before `commit`", state(db)))

    for label, seen in kills:
        FAULT_ROWS.append({"fault": label, "happened": _describe(seen, inputs), "lost": _lost(inputs.before, seen)})
        assert seen == inputs.before, label  # counts, visit and score checksums, and no ledger row

    # the database opens and the re-run completes, with the counts of a clean import
    summary = rerun(db, inputs)
    assert {k: summary[k] for k in inputs.clean} == inputs.clean
    final = state(db)
    assert without_ledger(final) == without_ledger(inputs.after)
    assert final["counts"]["import_ledger"] == inputs.before["counts"]["import_ledger"] + 1
    FAULT_ROWS.append({"fault": "re-run after the kills", "happened": f"completed: {summary['inserted']} inserted, "
                       f"{summary['updated']} updated, {summary['quarantined']} quarantined (= a clean import)",
                       "lost": _lost(inputs.after, final)})


def test_sigkill_after_commit_keeps_the_whole_file(inputs, tmp_path):
    db = fresh_db(inputs, tmp_path, "committed")
    markers = tmp_path / "m4"
    markers.mkdir()
    proc = subprocess.Popen(paused("checkpoint", markers, db, inputs.big), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: (markers / "checkpoint").exists(), 60, "the commit", proc)
    kill(proc)
    seen = state(db)  # opening replays the write-ahead log
    FAULT_ROWS.append({"fault": "SIGKILL after `commit`, before `checkpoint`", "happened": _describe(seen, inputs),
                       "lost": _lost(inputs.after, seen)})
    assert without_ledger(seen) == without_ledger(inputs.after)
    summary = rerun(db, inputs)
    assert (summary["inserted"], summary["updated"]) == (0, 0)
    assert summary["unchanged"] == inputs.clean["inserted"] + inputs.clean["updated"] + inputs.clean["unchanged"]
    assert without_ledger(state(db)) == without_ledger(inputs.after)


def _describe(seen: dict, inputs: Inputs) -> str:
    if seen == inputs.before:
        return f"database as before the file ({seen['counts']['visits']} visits, checksums equal)"
    if without_ledger(seen) == without_ledger(inputs.after):
        return f"the whole file kept ({seen['counts']['visits']} visits, checksums equal to a clean import)"
    return f"neither before nor after: {seen['counts']}"


def _lost(expected: dict, seen: dict) -> int:
    return sum(max(0, expected["counts"][t] - seen["counts"][t]) for t in expected["counts"])


# -- the dashboard open during an ingest ---------------------------------------------------------------
def test_readers_during_an_ingest_see_before_or_after_never_half_and_never_an_error(inputs, tmp_path):
    db = fresh_db(inputs, tmp_path, "readers")
    # readers go on 1.5 s after the ingest and until each has begun an answer after it (at most the
    # 60 s timeout): retention's first answer after an import fits its model (metrics/as_scored.py,
    # 0.5-1.5 s, more on a loaded machine), so a fixed tail could end inside it (CI: 0 answers after)
    report = run_scenario(db, inputs.big, tmp_path / "run", readers=3, retries=(3.0, 3.0, 0.25), tail=1.5,
                          timeout=60)
    table = markdown(report)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "concurrency.md").write_text(table, encoding="utf-8")
    print("\n" + table)
    assert report["ingest_exit"] == 0, report["ingest_stderr"]
    expected_after = (inputs.after["counts"]["visits"], inputs.after["counts"]["visit_practices"])
    assert tuple(report["after"]) == expected_after
    for reader in report["readers"]:
        assert reader["exit"] == 0
        assert reader["errors"] == [], reader["errors"]  # never a traceback
        assert reader["half_file"] == 0  # every answer: before the file or after it
        assert reader["answers"] > 0
        assert reader["answers_started_after_end"] > 0 and reader["stale_after_end"] == 0  # answers again
    totals = {k: sum(r[k] for r in report["readers"]) for k in ("answers", "refreshing", "half_file")}
    FAULT_ROWS.append({"fault": f"dashboard open during an ingest ({len(report['readers'])} reader processes)",
                       "happened": f"{totals['answers']} answers (each before or after the file), "
                                   f"{totals['refreshing']} \"refreshing\", 0 errors, {totals['half_file']} half files; "
                                   f"answers again after the ingest",
                       "lost": 0 if tuple(report["after"]) == expected_after else "?"})


# -- two ingests at once -----------------------------------------------------------------------------
def test_a_second_ingest_waits_for_the_first_and_both_complete(inputs, tmp_path):
    db = fresh_db(inputs, tmp_path, "waits")
    markers = tmp_path / "m6"
    markers.mkdir()
    first = subprocess.Popen(paused("begin", markers, db, inputs.big), cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (markers / "begin").exists(), 60, "the first ingest to hold the database", first)
        second = subprocess.Popen(cli(db, ODK), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # the second meets the lock and says it is waiting (readers step aside for it)
        wait_for(lambda: Path(f"{db}.importing").exists(), 30, "the second ingest to wait", second)
    finally:
        (markers / "release").write_text("go")
    ended = {}
    deadline = time.monotonic() + 120
    while len(ended) < 2 and time.monotonic() < deadline:
        for name, proc in (("first", first), ("second", second)):
            if name not in ended and proc.poll() is not None:
                ended[name] = time.monotonic()
        time.sleep(0.01)
    outputs = [p.communicate(timeout=10) for p in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), outputs
    assert ended["second"] >= ended["first"]  # it waited for the first to finish
    assert not Path(f"{db}.importing").exists()
    final = state(db)
    assert without_ledger(final) == without_ledger(inputs.after_both)
    assert final["counts"]["import_ledger"] == inputs.before["counts"]["import_ledger"] + 2
    FAULT_ROWS.append({"fault": "a second ingest started while the first holds the lock",
                       "happened": "the second waited for the lock, then completed; both exit 0; database equal "
                                   "to importing them one after the other", "lost": _lost(inputs.after_both, final)})


def test_a_second_ingest_that_cannot_get_the_lock_refuses_clearly_and_a_rerun_completes(inputs, tmp_path):
    from sustain.db import DataRefreshing, read_only

    db = fresh_db(inputs, tmp_path, "refused")
    markers = tmp_path / "m5"
    markers.mkdir()
    holder = subprocess.Popen(paused("begin", markers, db, inputs.big), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (markers / "begin").exists(), 60, "the first ingest to hold the database", holder)
        env = os.environ | {"SUSTAIN_LOCK_WAIT": "0.5"}
        second = subprocess.run(cli(db, ODK), cwd=ROOT, capture_output=True, text=True, env=env, timeout=60)
        dry = subprocess.run(cli(db, ODK, extra=["--dry-run"]), cwd=ROOT, capture_output=True, text=True, env=env,
                             timeout=60)
        with pytest.raises(DataRefreshing):
            with read_only(db, retry_seconds=0.2):
                pass
    finally:
        (markers / "release").write_text("go")
    out, err = holder.communicate(timeout=120)
    for refused in (second, dry):
        assert refused.returncode == 2
        assert refused.stdout == ""
        assert "Traceback" not in refused.stderr
        assert refused.stderr.startswith(f"error: {db} is in use by process {holder.pid} (another import, or a "
                                         "dashboard query) and stayed locked for 0.5 s; nothing was written"), refused.stderr
    assert holder.returncode == 0, err
    assert without_ledger(state(db)) == without_ledger(inputs.after)  # the first one, whole and uncorrupted
    again = subprocess.run(cli(db, ODK), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    final = state(db)
    assert without_ledger(final) == without_ledger(inputs.after_both)
    FAULT_ROWS.append({"fault": "a second ingest while the first holds the lock (SUSTAIN_LOCK_WAIT=0.5)",
                       "happened": f"refused, exit 2: `{second.stderr.strip()[:110]}...`; the first completed; "
                                   "the re-run completed", "lost": _lost(inputs.after_both, final)})


# -- issue 9: a read-only database, a full disk, a killed dry run ------------------------------------
def _small_setup(folder: Path) -> tuple[Path, Path, Path]:
    """A small database (roster and one Kobo export imported) and a new ODK export to import."""
    from ingest import ingest_files
    from support import teacher, visit, write_config, write_kobo, write_odk, write_roster

    config = write_config(folder, **{"thresholds.min_group_n": 1})
    scores = {"group_work": "3", "questioning": "2"}
    roster = write_roster(folder / "roster.csv", [teacher("T1", "S1"), teacher("T2", "S1")])
    kobo = write_kobo(folder / "kobo.csv", [visit("k1", "T1", "S1", 0, scores=scores)])
    odk = write_odk(folder / "odk.csv", [visit(f"o{i}", "T2", "S1", 3, scores=scores) for i in range(1, 4)])
    assert ingest_files([roster, kobo], load_config(config)).ok
    return folder / "sustain.duckdb", config, odk


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_clear_sentence(done: subprocess.CompletedProcess, db: Path, what: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot write the database {db}: {what}"), lines
    return lines[0]


@pytest.mark.slow
def test_a_read_only_database_exits_2_with_one_sentence_and_stays_untouched(tmp_path):
    """Read-only file and folder (as a read-only mount). Root ignores permission bits, so as root
    the command runs without CAP_DAC_OVERRIDE (setpriv), which makes them bind again."""
    folder = tmp_path / "ro"
    folder.mkdir()
    db, config, odk = _small_setup(folder)
    prefix: list[str] = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a file read-only for this test")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner,-linux_immutable", "--"]
    before, state_before = _sha(db), state(db)
    command = prefix + [sys.executable, "-m", "ingest", "--config", str(config), str(odk)]
    db.chmod(0o444)
    folder.chmod(0o555)
    try:
        file_ro = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        db.chmod(0o644)  # the file writable, its folder not: the write-ahead log cannot be made
        folder_ro = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
        dry = subprocess.run(command[:-1] + ["--dry-run", str(odk)], cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)
    first = _one_clear_sentence(file_ro, db, "it (or its folder) is read-only for this user; nothing was written")
    _one_clear_sentence(folder_ro, db, "it (or its folder) is read-only for this user; nothing of odk.csv was written")
    assert dry.returncode == 0 and "3 inserted" in dry.stdout, dry.stderr  # a dry run reads, so it still works
    assert _sha(db) == before and state(db) == state_before and not Path(f"{db}.wal").exists()
    again = subprocess.run(command[len(prefix):], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "3 inserted" in again.stdout, again.stderr
    FAULT_ROWS.append({"fault": "a read-only database (file, then only its folder)",
                       "happened": f"exit 2, `{first[:150]}...`; checksum unchanged; writable again: imported",
                       "lost": _lost(state_before, state(db))})


@pytest.mark.slow
def test_a_full_disk_exits_2_with_one_sentence_and_leaves_the_database_as_it_was(tmp_path):
    """A full disk, simulated by RLIMIT_FSIZE in the child (writes past 64 KB fail with EFBIG, as
    ENOSPC would; SIGXFSZ ignored so the write fails instead of killing the process). Before the
    fix the checkpoint's FatalException came out as a traceback."""
    import resource

    folder = tmp_path / "full"
    folder.mkdir()
    db, config, odk = _small_setup(folder)
    before, state_before = _sha(db), state(db)

    def full_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (65_536, 65_536))

    command = [sys.executable, "-m", "ingest", "--config", str(config), str(odk)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, preexec_fn=full_disk)
    sentence = _one_clear_sentence(done, db, "the disk is full; nothing of odk.csv was written")
    assert _sha(db) == before and not Path(f"{db}.wal").exists()
    assert state(db) == state_before  # no visit, no ledger row of the file
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "3 inserted" in again.stdout, again.stderr
    FAULT_ROWS.append({"fault": "a full disk during an import (RLIMIT_FSIZE 64 KB)",
                       "happened": f"exit 2, `{sentence[:150]}...`; checksum unchanged, no .wal; with space: imported",
                       "lost": _lost(state_before, state(db))})


@pytest.mark.slow
def test_a_killed_dry_run_leaves_no_scratch_copy_behind(tmp_path):
    """A dry run SIGKILLed inside its transaction leaves its scratch copy; the next dry run removes
    it (its process is gone), as it does an old copy from before process ids were in the name,
    and keeps the copy of a dry run still running."""
    folder = tmp_path / "dry"
    folder.mkdir()
    db, config, odk = _small_setup(folder)
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    env = os.environ | {"TMPDIR": str(scratch_root)}
    markers = tmp_path / "m7"
    markers.mkdir()
    proc = subprocess.Popen([sys.executable, str(HELPER), "pause", "begin", str(markers), "--", "--config",
                             str(config), "--dry-run", str(odk)], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            env=env)
    wait_for(lambda: (markers / "begin").exists(), 60, "the dry run's transaction", proc)
    kill(proc)
    left = list(scratch_root.glob("sustain-dry-run-*"))
    assert len(left) == 1 and (left[0] / "scratch.duckdb").stat().st_size > 0  # what a killed run leaves
    legacy = scratch_root / "sustain-dry-run-abc123"  # today's name, no process id: removed by age
    legacy.mkdir()
    old = time.time() - 25 * 3600
    os.utime(legacy, (old, old))
    alive = scratch_root / f"sustain-dry-run-{os.getpid()}-live"  # a dry run still running: kept
    alive.mkdir()
    done = subprocess.run([sys.executable, "-m", "ingest", "--config", str(config), "--dry-run", str(odk)],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in scratch_root.iterdir()) == [alive.name]
    FAULT_ROWS.append({"fault": "a dry run killed with SIGKILL (its scratch copy of the database left in TMPDIR)",
                       "happened": "the next dry run removed it (and a 25-hour-old copy); a live run's copy kept",
                       "lost": 0})


def test_zz_fault_table(capsys):
    if not FAULT_ROWS:
        pytest.skip("no fault test ran in this session")
    lines = ["| fault | what happened | rows lost |", "|---|---|---|"]
    lines += [f"| {r['fault']} | {str(r['happened']).replace('|', '/')} | {r['lost']} |" for r in FAULT_ROWS]
    table = "\n".join(lines) + "\n"
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "fault_table.md").write_text(table, encoding="utf-8")
    with capsys.disabled():
        print("\n" + table)
    assert all(r["lost"] == 0 for r in FAULT_ROWS)
