"""Load test: several dashboard servers on one published database, an import published mid-run.

    .venv/bin/python benchmarks/load.py [--servers 2] [--sessions 50] [--seconds 60] [--think 1.0]
                                        [--out test-artifacts/load.md] [--json]

README "Serving many users". Builds a published database (config `publish.enabled`) from the bundled
sample data through the real CLI, holding back the newest round (kobo_followup_month24.xlsx); starts
`--servers` real `streamlit run dashboard.py` processes on localhost, all on that database; then
`--sessions` simulated sessions, spread over the servers, switch pages for `--seconds`. Each session
is one websocket speaking Streamlit's own protocol (the BackMsg a browser sends when a page is
opened, the ForwardMsgs it receives until the script has finished), so the servers do all they
do for a browser but no browser has to render on the two cores. Half-way, `python -m ingest`
imports the held-back round, which publishes a new version.

A page view is timed from the request to the server's "script finished". An error is an
exception shown on the page, a "data is refreshing" message (readers must never wait for the
writer), a script that did not finish successfully, a lost connection or a view slower than
`--timeout`. Every Data page view that starts after the publish must show the new import in its
ledger (a stale view is an error), and each session opens the Data page once more at the end:
`sessions_seeing_new_version` counts those that see it. Prints a markdown table (written to
`--out`); with `--json` the figures as JSON on the last line.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import websockets  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from sustain.samples import sample_files  # noqa: E402

# url paths of dashboard.py's pages ("" is the default page, the Overview)
PAGES = ["", "districts", "practices", "hindrances", "communities", "planner", "data"]
DATA_PAGE = "data"
HELD_BACK = "kobo_followup_month24.xlsx"   # imported mid-run: the Data page's ledger then lists it
REFRESHING = "data is refreshing"


@dataclass
class Session:
    number: int
    url: str
    views: list[tuple[float, float, str]] = field(default_factory=list)   # (started, seconds, page)
    errors: list[str] = field(default_factory=list)
    saw_new_version: bool = False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(command: list[str], env: dict) -> None:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def write_config(folder: Path) -> Path:
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["database"] = str(folder / "sustain.duckdb")
    data["publish"] = {"enabled": True, "keep_versions": 3, "grace_seconds": 600}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def start_server(folder: Path, env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = (folder / f"streamlit-{port}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.headless=true",
         f"--server.port={port}", "--server.address=127.0.0.1", "--browser.gatherUsageStats=false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, f"127.0.0.1:{port}"


def wait_healthy(address: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if urllib.request.urlopen(f"http://{address}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"the server at {address} did not start") from None
            time.sleep(0.3)


async def view(ws, page: str, timeout: float) -> tuple[float, list[str], bool]:
    """Open `page` in this session; (seconds, problems, whether the page shows the held-back file)."""
    request = BackMsg()
    request.rerun_script.query_string = ""
    request.rerun_script.page_name = page
    started = time.perf_counter()
    await ws.send(request.SerializeToString())
    problems: list[str] = []
    marker = False
    while True:
        raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, timeout - (time.perf_counter() - started)))
        marker = marker or HELD_BACK.encode() in raw
        message = ForwardMsg()
        message.ParseFromString(raw)
        kind = message.WhichOneof("type")
        if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            shown = element.WhichOneof("type")
            if shown == "exception":
                problems.append(f"exception on {page or 'overview'}: {element.exception.message[:200]}")
            elif shown == "alert" and REFRESHING in element.alert.body:
                problems.append(f"'{REFRESHING}' on {page or 'overview'}")
        elif kind == "script_finished":
            if message.script_finished != ForwardMsg.FINISHED_SUCCESSFULLY:
                problems.append(f"{page or 'overview'} finished with status {message.script_finished}")
            return time.perf_counter() - started, problems, marker


async def session_loop(session: Session, stop_at: float, published: dict, think: float, timeout: float) -> None:
    try:
        async with websockets.connect(f"ws://{session.url}/_stcore/stream", subprotocols=["streamlit"],
                                      max_size=None, open_timeout=timeout, ping_interval=None) as ws:
            step = session.number  # sessions start on different pages
            # on until the time is up and the publish has finished (the closing view must follow it)
            while time.monotonic() < stop_at or "done_at" not in published:
                page = PAGES[step % len(PAGES)]
                step += 1
                await _timed_view(ws, session, page, published, timeout)
                await asyncio.sleep(think)
            await _timed_view(ws, session, DATA_PAGE, published, timeout, closing=True)
    except (OSError, asyncio.TimeoutError, websockets.ConnectionClosed) as exc:
        session.errors.append(f"session {session.number}: {type(exc).__name__}: {exc}")


async def _timed_view(ws, session: Session, page: str, published: dict, timeout: float, closing: bool = False):
    started = time.monotonic()
    seconds, problems, marker = await view(ws, page, timeout)
    session.views.append((started, seconds, page))
    session.errors.extend(problems)
    if page != DATA_PAGE:
        return
    done_at = published.get("done_at")
    if done_at is not None and started > done_at:
        if not marker:
            session.errors.append(f"session {session.number}: a Data page opened after the publish shows the old version")
        elif closing:
            session.saw_new_version = True
    elif marker and published.get("started_at") is None:
        session.errors.append(f"session {session.number}: the new version showed before it was published")


async def publisher(config: Path, env: dict, at: float, published: dict) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    published["started_at"] = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ingest", "--config", str(config), str(ROOT / "sample_data" / HELD_BACK),
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    published["done_at"] = time.monotonic()
    published["seconds"] = published["done_at"] - published["started_at"]
    published["returncode"] = process.returncode
    if process.returncode != 0:
        published["error"] = (out + err).decode()[-2000:]


async def drive(addresses: list[str], config: Path, env: dict, args) -> tuple[list[Session], dict, float]:
    # warm each server's caches as its first visitor would, so the figures are of the shared cache;
    # one server after the other: the first computes each view and keeps it in the result store
    # beside the database, the others read it back (as servers behind one load balancer do)
    async def warm(address: str):
        async with websockets.connect(f"ws://{address}/_stcore/stream", subprotocols=["streamlit"],
                                      max_size=None) as ws:
            for page in PAGES:
                await view(ws, page, 600)
    for address in addresses:
        await warm(address)
    sessions = [Session(n, addresses[n % len(addresses)]) for n in range(args.sessions)]
    started = time.monotonic()
    stop_at = started + args.seconds
    published: dict = {}
    tasks = [publisher(config, env, started + args.seconds * args.publish_at, published)]
    for session in sessions:
        tasks.append(session_loop(session, stop_at, published, args.think, args.timeout))
        await asyncio.sleep(args.ramp / max(1, args.sessions))  # officers arrive over --ramp seconds
    await asyncio.gather(*tasks)
    return sessions, published, time.monotonic() - started


def figures_of(sessions: list[Session], published: dict, elapsed: float, args) -> dict:
    views = [v for s in sessions for v in s.views]
    seconds = sorted(v[1] for v in views)
    errors = [e for s in sessions for e in s.errors]
    if published.get("returncode") != 0:
        errors.append(f"the publish failed: {published.get('error', 'did not run')}")

    def percentile(p: float) -> int | None:
        return round(1000 * seconds[min(len(seconds) - 1, int(p * len(seconds)))]) if seconds else None

    after = [v[1] for v in views if published.get("done_at") and v[0] > published["done_at"]]
    return {
        "servers": args.servers, "sessions": len(sessions), "seconds": round(elapsed, 1), "think_seconds": args.think,
        "page_views": len(views), "page_views_per_second": round(len(views) / elapsed, 2) if elapsed else 0.0,
        "p50_ms": percentile(0.50), "p95_ms": percentile(0.95),
        "max_ms": round(1000 * seconds[-1]) if seconds else None,
        "p50_after_publish_ms": round(1000 * statistics.median(after)) if after else None,
        "p50_by_page_ms": {page or "overview": round(1000 * statistics.median(v[1] for v in views if v[2] == page))
                           for page in PAGES if any(v[2] == page for v in views)},
        "errors": len(errors), "error_examples": errors[:5],
        "publishes": 1 if published.get("returncode") == 0 else 0,
        "publish_seconds": round(published.get("seconds", float("nan")), 1),
        "sessions_seeing_new_version": sum(s.saw_new_version for s in sessions),
        "load_average": os.getloadavg()[0],   # other work on the machine slows every figure above
    }


def markdown(f: dict) -> str:
    rows = [
        ("dashboard servers (processes)", f["servers"]),
        ("simulated sessions", f"{f['sessions']} (think time {f['think_seconds']:g} s between pages)"),
        ("duration", f"{f['seconds']} s"),
        ("page views", f["page_views"]),
        ("page views per second", f["page_views_per_second"]),
        ("latency p50 / p95 / max", f"{f['p50_ms']} / {f['p95_ms']} / {f['max_ms']} ms"),
        ("latency p50 after the publish", f"{f['p50_after_publish_ms']} ms"),
        ("publishes mid-run (import of one round)", f"{f['publishes']} ({f['publish_seconds']} s)"),
        ("sessions seeing the new version at the end", f"{f['sessions_seeing_new_version']} of {f['sessions']}"),
        ("errors", f["errors"]),
        ("machine load average (1 min) at the end", f"{f['load_average']:.1f} on {os.cpu_count()} cores"),
    ]
    return "| measure | value |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=1.0, help="seconds a session waits between pages")
    parser.add_argument("--ramp", type=float, default=5.0, help="seconds over which the sessions arrive")
    parser.add_argument("--publish-at", type=float, default=0.4, help="when to publish, as a fraction of --seconds")
    parser.add_argument("--timeout", type=float, default=120, help="a page view slower than this is an error")
    parser.add_argument("--out", default=str(ROOT / "test-artifacts" / "load.md"))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="sustain-load-"))
    env = os.environ | {"PYTHONUNBUFFERED": "1", "SUSTAIN_CONFIG": str(write_config(folder))}
    env.pop("SUSTAIN_DB", None)
    config = Path(env["SUSTAIN_CONFIG"])
    servers: list[subprocess.Popen] = []
    try:
        first = [str(p) for p in sample_files() if p.name != HELD_BACK]
        run([sys.executable, "-m", "ingest", "--config", str(config), *first], env)
        addresses = []
        for _ in range(args.servers):
            process, address = start_server(folder, env)
            servers.append(process)
            addresses.append(address)
        for process, address in zip(servers, addresses):
            wait_healthy(address, process)
        sessions, published, elapsed = asyncio.run(drive(addresses, config, env, args))
        figures = figures_of(sessions, published, elapsed, args)
    finally:
        for process in servers:
            process.terminate()
        for process in servers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(folder, ignore_errors=True)
    table = markdown(figures)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("# Load test (benchmarks/load.py)\n\n" + table, encoding="utf-8")
    print(table)
    for example in figures["error_examples"]:
        print(f"error: {example}")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
