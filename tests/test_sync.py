"""Live sync against local HTTP servers that answer as KoboToolbox (API v2) and ODK Central (OData
through pyodk) do: paginated, with an edit and a deleted submission. No test reaches the internet."""
from __future__ import annotations

import json
import threading
import urllib.parse
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import pytest
import yaml

from support import kobo_header, kobo_row, run_cli, teacher, visit, write_config, write_roster

pytestmark = pytest.mark.slow  # local HTTP servers, pyodk, a CLI process

TOKEN = "kobo-test-token"
ODK_USER, ODK_PASSWORD, ODK_TOKEN = "officer@example.org", "central-password", "central-session-token"
FORM, PROJECT = "aSustainFollowup", 7
SCORES = {"group_work": "3", "questioning": "4", "teaching_aids": "3"}


def kobo_record(v: dict, index: int) -> dict:
    """One result of GET /api/v2/assets/{uid}/data/?format=json: group paths as keys, `_id` an
    integer, `_tags`/`_notes` lists, `_validation_status` an object (as the server sends them)."""
    record = dict(zip(kobo_header(), kobo_row(v, index)))
    for option in [h for h in record if h.startswith("context/hindrances/")]:
        del record[option]  # the JSON API has no split 0/1 columns
    record.update(_id=1000 + index, _tags=[], _notes=[], _validation_status={})
    return {k: val for k, val in record.items() if val != ""}


def odk_record(v: dict, submitted: str, updated: str | None) -> dict:
    """One row of Central's OData Submissions table: groups as nested objects, `__system`."""
    return {
        "__id": f"uuid:{v['root']}",
        "visit": {"visit_date": v["visit_date"], "observer_id": "OBS-02"},
        "school": {"district": v["district"], "cluster": v["cluster"], "school_id": v["school_id"]},
        "teacher": {"teacher_id": v["teacher_id"], "teacher_status": v["status"]},
        "practices": {p: (int(s) if s.isdigit() else s) for p, s in v["scores"].items()},
        "context": {"hindrances": v["hindrances"] or None, "cop_active": v["cop_active"],
                    "cop_meetings_3m": int(v["cop_meetings"])},
        "comments": v["comments"] or None,
        "meta": {"instanceID": f"uuid:{v['uid']}"},
        "__system": {"submissionDate": submitted, "updatedAt": updated, "submitterId": "5",
                     "submitterName": "enumerator", "reviewState": "edited" if v["edits"] else None,
                     "edits": v["edits"], "formVersion": "2024010101", "deviceId": "collect:abc"},
    }


class FakeServers:
    """Kobo and Central in one local server; the tests change `kobo` / `odk` between syncs."""

    def __init__(self):
        self.kobo: list[dict] = []
        self.odk: list[dict] = []
        self.requests: list[str] = []
        servers = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                servers.requests.append(f"POST {self.path}")
                if self.path == "/v1/sessions":
                    if body == {"email": ODK_USER, "password": ODK_PASSWORD}:
                        return self._send(200, {"token": ODK_TOKEN, "expiresAt": "2099-01-01T00:00:00Z"})
                    return self._send(401, {"message": "Could not authenticate with the provided credentials."})
                self._send(404, {})

            def do_GET(self):
                servers.requests.append(f"GET {self.path}")
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == f"/api/v2/assets/{FORM}/data/":
                    if self.headers.get("Authorization") != f"Token {TOKEN}":
                        return self._send(401, {"detail": "Invalid token."})
                    return self._send(200, servers.kobo_page(query, self.headers["Host"]))
                if url.path == "/v1/users/current":
                    ok = self.headers.get("Authorization") == f"Bearer {ODK_TOKEN}"
                    return self._send(200 if ok else 401, {"email": ODK_USER} if ok else {})
                if url.path == f"/v1/projects/{PROJECT}/forms/{FORM}.svc/Submissions":
                    if self.headers.get("Authorization") != f"Bearer {ODK_TOKEN}":
                        return self._send(401, {})
                    return self._send(200, servers.odk_page(query))
                self._send(404, {"message": "not found"})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def kobo_page(self, query: dict, host: str) -> dict:
        rows = sorted(self.kobo, key=lambda r: r["_id"])
        if "query" in query:
            after = json.loads(query["query"])["_id"]["$gt"]
            rows = [r for r in rows if r["_id"] > after]
        limit, start = int(query.get("limit", 100)), int(query.get("start", 0))
        page = rows[start:start + limit]
        following = None
        if start + limit < len(rows):
            following = f"http://{host}/api/v2/assets/{FORM}/data/?" + urllib.parse.urlencode(
                {**query, "start": start + limit})
        return {"count": len(rows), "next": following, "previous": None, "results": page}

    def odk_page(self, query: dict) -> dict:
        rows = self.odk
        where = query.get("$filter")
        if where:
            # the only filter the client sends: submissionDate or updatedAt after a timestamp
            after = where.split(" gt ")[1].split(" or ")[0]
            rows = [r for r in rows if r["__system"]["submissionDate"] > after
                    or (r["__system"]["updatedAt"] or "") > after]
        top, skip = int(query.get("$top", 250)), int(query.get("$skip", 0))
        return {"@odata.context": "...", "value": rows[skip:skip + top]}

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def servers():
    fake = FakeServers()
    yield fake
    fake.close()


@pytest.fixture
def synced(tmp_path, servers, monkeypatch):
    """A config with one Kobo and one ODK source on the fake servers, the roster imported."""
    monkeypatch.setenv("KOBO_TOKEN", TOKEN)
    monkeypatch.setenv("CENTRAL_USER", ODK_USER)
    monkeypatch.setenv("CENTRAL_PASSWORD", ODK_PASSWORD)
    monkeypatch.setenv("SUSTAIN_PYODK_CACHE", str(tmp_path / "pyodk_cache.toml"))
    config_path = write_config(tmp_path, **{"sources.sync": {
        "thatta_kobo": {"kind": "kobo", "server": servers.url, "form": FORM, "token_env": "KOBO_TOKEN",
                        "page_size": 2},
        "quetta_central": {"kind": "odk", "server": servers.url, "form": FORM, "project": PROJECT,
                           "username_env": "CENTRAL_USER", "password_env": "CENTRAL_PASSWORD", "page_size": 2},
    }})
    roster = write_roster(tmp_path / "roster.csv", [
        teacher(f"T{i}", "S1") for i in range(1, 6)] + [
        teacher(f"Q{i}", "S9", cluster="QUE-C1", district="Quetta", province="Balochistan") for i in range(1, 4)])
    code, _, err = run_cli("ingest", ["--config", str(config_path), str(roster)])
    assert code == 0, err
    return config_path, tmp_path / "sustain.duckdb"


def sync(config_path, source, *extra, process=False):
    code, out, err = run_cli("ingest", ["sync", "--source", source, "--config", str(config_path), "--json", *extra],
                             process)
    return code, (json.loads(out) if out.strip().startswith("{") else None), err


def stored(db, sql):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_kobo_sync_pages_remembers_where_it_stopped_and_a_full_run_catches_edits_and_deletions(synced, servers):
    config_path, db = synced
    visits = [visit(f"k{i}", f"T{i}", "S1", month=0, scores=SCORES) for i in range(1, 6)]
    servers.kobo = [kobo_record(v, i) for i, v in enumerate(visits, start=1)]

    code, out, err = sync(config_path, "thatta_kobo", process=True)  # the command line itself, once
    assert code == 0, err
    assert out["fetched"] == 5 and out["files"][0]["inserted"] == 5
    pages = [r for r in servers.requests if r.startswith(f"GET /api/v2/assets/{FORM}/data/")]
    assert len(pages) == 3  # 5 results at 2 a page, followed through `next`

    # one new submission: only it is asked for and fetched
    servers.kobo.append(kobo_record(visit("k6", "T1", "S1", month=3, scores=SCORES), 6))
    servers.requests.clear()
    code, out, err = sync(config_path, "thatta_kobo")
    assert code == 0, err
    assert out["fetched"] == 1 and out["files"][0]["inserted"] == 1
    assert '"$gt": 1005' in urllib.parse.unquote_plus(servers.requests[0])

    # nothing new: nothing imported, exit 0
    code, out, _ = sync(config_path, "thatta_kobo")
    assert code == 0 and out["fetched"] == 0 and out["files"] == []

    # on the server: k2 edited (new instance, same root, same _id), k3 deleted
    edited = visit("k2-edit", "T2", "S1", month=0, scores={**SCORES, "group_work": "1"}, root="k2")
    servers.kobo[1] = kobo_record(edited, 2)
    del servers.kobo[2]
    code, out, _ = sync(config_path, "thatta_kobo")
    assert out["fetched"] == 0, "KoboToolbox serves no modified time: an incremental run cannot see edits"
    code, out, err = sync(config_path, "thatta_kobo", "--full")
    assert code == 0, err
    summary = out["files"][0]
    assert (summary["inserted"], summary["updated"], summary["unchanged"]) == (0, 1, 4)
    assert out["absent_on_server"] == 1
    assert stored(db, "select count(*) from visits") == [(6,)]  # the deleted one is kept (history)
    assert stored(db, "select score from visit_practices where submission_id = 'k2' and practice = 'group_work'") == [(1,)]
    assert stored(db, "select cursor, fetched, absent from sync_state where source = 'thatta_kobo'") == [("1006", 5, 1)]


def test_odk_sync_through_pyodk_takes_new_and_edited_submissions(synced, servers):
    config_path, db = synced
    visits = [visit(f"q{i}", f"Q{i}", "S9", month=0, scores=SCORES, district="Quetta", cluster="QUE-C1")
              for i in range(1, 4)]
    servers.odk = [odk_record(v, f"2024-01-0{i}T08:00:00.000Z", None) for i, v in enumerate(visits, start=1)]
    code, out, err = sync(config_path, "quetta_central")
    assert code == 0, err
    assert out["fetched"] == 3 and out["files"][0]["kind"] == "odk" and out["files"][0]["inserted"] == 3

    # q1 edited on Central (new instanceID, same KEY, Edits 1, updatedAt moves)
    edited = visit("q1-edit", "Q1", "S9", month=0, scores={**SCORES, "questioning": "2"}, root="q1", edits=1,
                   district="Quetta", cluster="QUE-C1")
    servers.odk[0] = odk_record(edited, "2024-01-01T08:00:00.000Z", "2024-02-01T08:00:00.000Z")
    code, out, err = sync(config_path, "quetta_central")
    assert code == 0, err
    assert out["fetched"] == 1 and out["files"][0]["updated"] == 1
    assert stored(db, "select score from visit_practices where submission_id = 'q1' and practice = 'questioning'") == [(2,)]
    assert any(r.startswith("POST /v1/sessions") for r in servers.requests)


def test_bad_credentials_and_unreachable_servers_exit_2_with_a_sentence_and_write_nothing(synced, servers, monkeypatch):
    config_path, db = synced
    servers.kobo = [kobo_record(visit("k1", "T1", "S1", scores=SCORES), 1)]
    monkeypatch.setenv("KOBO_TOKEN", "wrong")
    code, out, err = sync(config_path, "thatta_kobo")
    assert code == 2 and "refused the token" in err and "Traceback" not in err
    monkeypatch.delenv("KOBO_TOKEN")
    code, _, err = sync(config_path, "thatta_kobo")
    assert code == 2 and "KOBO_TOKEN" in err
    code, _, err = sync(config_path, "nowhere")
    assert code == 2 and "thatta_kobo" in err
    data = yaml.safe_load(config_path.read_text())
    data["sources"]["sync"]["thatta_kobo"]["server"] = "http://127.0.0.1:9"  # nothing listens there
    config_path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("KOBO_TOKEN", TOKEN)
    code, _, err = sync(config_path, "thatta_kobo")
    assert code == 2 and "cannot reach" in err and "Traceback" not in err
    assert stored(db, "select count(*) from visits") == [(0,)]


def test_the_next_link_never_carries_the_token_to_another_host(synced, servers, monkeypatch):
    config_path, _ = synced
    servers.kobo = [kobo_record(visit(f"k{i}", f"T{i}", "S1", scores=SCORES), i) for i in range(1, 4)]
    original = servers.kobo_page
    servers.kobo_page = lambda query, host: {**original(query, host), "next": "http://evil.example/steal"}
    code, _, err = sync(config_path, "thatta_kobo")
    assert code == 2 and "not on" in err


def test_a_sync_into_a_published_database_publishes_a_new_version(synced, servers):
    """A published database is never written in place: the sync imports into a copy and publishes
    it (README "Serving many users"); a reader of the old version keeps it."""
    config_path, db = synced
    code, _, err = run_cli("ingest", ["--config", str(config_path), "--publish", str(db.parent / "roster.csv")])
    assert code == 0, err
    assert db.is_symlink()
    first = db.resolve()
    servers.kobo = [kobo_record(visit(f"k{i}", f"T{i}", "S1", month=0, scores=SCORES), i) for i in range(1, 4)]
    code, out, err = sync(config_path, "thatta_kobo")
    assert code == 0, err
    assert out["files"][0]["inserted"] == 3
    second = db.resolve()
    assert second != first and first.exists(), "a new version beside the old one"
    assert stored(first, "select count(*) from visits") == [(0,)]  # the old version untouched
    assert stored(db, "select count(*) from visits") == [(3,)]
    assert stored(db, "select cursor, fetched from sync_state where source = 'thatta_kobo'") == [("1003", 3)]
    assert not list(db.parent.glob("*.draft*")) and not Path(f"{second}.wal").exists()
