import pytest
import yaml

from sustain.config import DEFAULT_CONFIG, ConfigError, load_config
from support import write_config


def test_bundled_config_loads():
    config = load_config(DEFAULT_CONFIG)
    assert config.practice_codes[0] == "group_work"
    assert config.schedule.months == [0, 3, 6, 12, 18, 24]
    assert config.practice_label("questioning") == "Higher-order questioning"
    assert config.practice_label("questioning", "ur") == "سوالات کی تکنیک"


@pytest.mark.parametrize("change, message", [
    ({"thresholds.min_group_n": 0}, "thresholds.min_group_n: Input should be greater than or equal to 1"),
    ({"thresholds.min_grup_n": 5}, "thresholds.min_grup_n: unknown key"),
    ({"schedule.months": [3, 0, 6]}, "schedule.months: must be increasing"),
    ({"database": None}, "database:"),
    ({"hindrances": [{"code": "low_pay", "label": "x", "level": "district"}]}, "hindrances[0].level: Input should be 'school' or 'teacher'"),
])
def test_wrong_key_or_value_names_key_and_file(tmp_path, change, message):
    path = write_config(tmp_path, **change)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)


def test_practice_cutoff_outside_scale(tmp_path):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    data["practices"][1]["retained_at"] = 9
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"practices\[1\]: retained_at 9 is outside the scale 1..4"):
        load_config(path)


def test_repeated_codes_refused(tmp_path):
    data = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    data["practices"].append(dict(data["practices"][0]))
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="practices: code\\(s\\) group_work appear more than once"):
        load_config(path)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("database: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(listed)


def test_database_path_resolution(tmp_path, monkeypatch):
    config = load_config(write_config(tmp_path, database="rel/x.duckdb"))
    assert config.database_path() == tmp_path / "rel" / "x.duckdb"
    monkeypatch.setenv("SUSTAIN_DB", str(tmp_path / "env.duckdb"))
    assert config.database_path() == tmp_path / "env.duckdb"
    assert config.database_path(tmp_path / "flag.duckdb") == tmp_path / "flag.duckdb"


def test_duckdb_thread_limit_from_the_environment(sample_db, monkeypatch):
    import duckdb

    from sustain.db import THREADS_ENV, limit_threads, read_only, thread_limit

    # the shared read instance takes the test processes' limit (one thread, tests/conftest.py,
    # unless the developer's environment sets another)
    with read_only(sample_db) as con:
        assert con.execute("select current_setting('threads')").fetchone()[0] == thread_limit()
    monkeypatch.setenv(THREADS_ENV, "3")
    fresh = duckdb.connect(":memory:")
    limit_threads(fresh)
    assert fresh.execute("select current_setting('threads')").fetchone()[0] == 3
    monkeypatch.delenv(THREADS_ENV)
    assert thread_limit() is None
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(ConfigError, match=f"{THREADS_ENV} must be a whole number of 1 or more.*not '{bad}'"):
            thread_limit()
