"""Access: an officer of one district cannot see another district's rows on any page, any
download or any URL; a user mapped to no district, or nobody logged in, sees nothing."""
import json

import duckdb
import pytest
import streamlit as st
import yaml
from streamlit.testing.v1 import AppTest

from metrics import Filters
from metrics.registry import TABLES
from app import access
from sustain.config import load_config
from support import ROOT_DIR, write_config

PAGES = ["overview", "districts", "practices", "hindrances", "communities", "planner", "data"]
OFFICER, ADMIN, NOBODY = "officer.quetta", "admin", "unassigned"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def secured(sample_db, tmp_path_factory):
    """A config with users (Quetta officer, admin, one mapped to nothing) and a user file."""
    tmp = tmp_path_factory.mktemp("access")
    path = write_config(tmp, **{"access.users": {OFFICER: ["Quetta"], ADMIN: ["*"], NOBODY: []},
                                "access.password_file": "users.yaml"})
    config = load_config(path)
    access.set_password(access.password_file(config), OFFICER, PASSWORD)
    con = duckdb.connect(str(sample_db), read_only=True)
    districts = dict(con.execute("select school_id, district from schools").fetchall())
    con.close()
    return path, config, districts


@pytest.fixture
def page(secured, sample_db, monkeypatch, page_caches):
    path, _, _ = secured
    monkeypatch.setenv("SUSTAIN_CONFIG", str(path))
    monkeypatch.setenv("SUSTAIN_DB", str(sample_db))

    def run(name, user=None, **query):
        page_caches()  # the cached tables are keyed on the viewer's scope: one user's never serve another
        at = AppTest.from_file(str(ROOT_DIR / "pages" / f"{name}.py"), default_timeout=90)
        if user:
            at.session_state["sustain_user"] = user
        for key, values in query.items():
            at.query_params[key] = values
        return at.run()
    yield run
    st.cache_resource.clear()


def shown_text(at) -> str:
    """Everything a page put on screen that could carry data: figures, tables, text."""
    parts = [at.get("plotly_chart")[i].proto.spec for i in range(len(at.get("plotly_chart")))]
    for frame in at.dataframe:
        parts.append(frame.value.to_csv(index=False))
    for kind in ("markdown", "caption", "text", "metric", "table", "info", "warning", "error", "success"):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "value", "")) + str(getattr(element, "label", "")))
    return "\n".join(parts)


OTHERS = ["Thatta", "Sanghar", "Mirpurkhas", "Pishin", "Lasbela"]


@pytest.mark.parametrize("name", PAGES)
def test_officer_sees_only_their_district_on_every_page(page, secured, name):
    _, _, districts = secured
    at = page(name, user=OFFICER)
    assert not at.exception, at.exception
    text = shown_text(at)
    for district in OTHERS:
        assert district not in text, (name, district)
    foreign_schools = [s for s, d in districts.items() if d != "Quetta"]
    assert not any(f'"{s}"' in text or f",{s}," in text or f"\n{s}," in text for s in foreign_schools), name


@pytest.mark.parametrize("name", ["overview", "districts", "planner"])
def test_url_cannot_widen_the_scope(page, name):
    at = page(name, user=OFFICER, district=["Thatta"], province=["Sindh"])
    assert not at.exception
    text = shown_text(at)
    assert "Thatta" not in text and "Sanghar" not in text


@pytest.mark.parametrize("user", [None, NOBODY])
def test_nobody_and_unassigned_users_see_nothing(page, user):
    at = page("overview", user=user)
    assert not at.exception
    text = shown_text(at)
    for district in OTHERS + ["Quetta"]:
        assert district not in text


def test_every_table_and_download_source_is_scoped(sample_db, secured):
    _, config, districts = secured
    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        for name, table in TABLES.items():
            if name in ("teacher_practices", "area_hindrances"):  # tables of one chosen school
                quetta_school = next(s for s, d in districts.items() if d == "Quetta")
                other_school = next(s for s, d in districts.items() if d == "Thatta")
                mine = table(con, Filters(school_id=(quetta_school,), scope=("Quetta",)), [], config)
                theirs = table(con, Filters(school_id=(other_school,), scope=("Quetta",)), [], config)
                assert len(mine) > 0 and theirs.empty
                continue
            frame = table(con, Filters(scope=("Quetta",)), [], config)
            if "district" in frame.columns:
                assert set(frame["district"].dropna()) <= {"Quetta"}, name
            if "school_id" in frame.columns:
                assert {districts.get(s, "Quetta") for s in frame["school_id"].dropna()} <= {"Quetta"}, name
            nothing = table(con, Filters(scope=()), [], config)
            if "n" in nothing.columns:
                assert nothing["n"].fillna(0).sum() == 0, name
            elif "school_id" in nothing.columns or "district" in nothing.columns:
                assert nothing.empty, name
    finally:
        con.close()


def test_scope_cannot_come_from_a_url_or_where_clause():
    with pytest.raises(Exception, match="cannot filter on 'scope'"):
        Filters.from_pairs([("scope", "Thatta")])


def test_passwords_are_argon2_hashes(secured):
    _, config, _ = secured
    stored = yaml.safe_load(access.password_file(config).read_text(encoding="utf-8"))
    assert stored[OFFICER].startswith("$argon2") and PASSWORD not in json.dumps(stored)
    assert access.verify_password(config, OFFICER, PASSWORD)
    assert not access.verify_password(config, OFFICER, "wrong password")
    assert not access.verify_password(config, "stranger", PASSWORD)
    assert access.scope_for(config, OFFICER) == ("Quetta",)
    assert access.scope_for(config, ADMIN) is None
    assert access.scope_for(config, NOBODY) == ()
    assert access.scope_for(config, None) == ()
    assert access.scope_for(load_config(), None) is None  # the open demo


def test_login_gate_asks_for_a_password(page, secured):
    path, _, _ = secured
    at = AppTest.from_file(str(ROOT_DIR / "dashboard.py"), default_timeout=90).run()
    assert not at.exception
    assert at.title[0].value == "Sustain: log in"
    at.text_input(key="login_user").input(OFFICER)
    at.text_input(key="login_password").input("wrong password")
    at.button[0].click().run()
    assert "wrong password" in at.error[0].value
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    assert at.session_state["sustain_user"] == OFFICER


def test_server_settings_keep_xsrf_on_and_cap_uploads():
    import tomllib

    settings = tomllib.loads((ROOT_DIR / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert settings["server"]["enableXsrfProtection"] is True
    assert settings["server"]["maxUploadSize"] == load_config().thresholds.max_file_mb
    requirement = next(line for line in (ROOT_DIR / "requirements.txt").read_text().splitlines()
                       if line.startswith("streamlit"))
    assert ">=1.54" in requirement


def test_admin_sees_every_district(page):
    """The check above can fail: the same page for a user of all districts shows the others."""
    text = shown_text(page("overview", user=ADMIN))
    assert all(district in text for district in OTHERS + ["Quetta"])


def test_donor_pack_is_scoped(sample_db, secured):
    from report import build_report

    _, config, _ = secured
    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        pack = build_report(con, config, "CBM", (), "en", scope=("Quetta",))
    finally:
        con.close()
    districts = pack.chart("districts")
    labels = {point.label for point in districts.points}
    assert labels == {"Quetta"}
