"""Benchmark: the three role tasks of issue 13, done as a user does them, in a real browser.

    .venv/bin/python benchmarks/role_tasks.py

Starts a real dashboard server on a fresh database built from sample_data/ (the first start, as
tests/browser_helpers.py's `server` fixture does), drives Debian's chromium through Playwright,
and performs each task by clicking (the home page is the only URL opened), at 1440x900, plus the
officer's task again at 390x844 (a phone):

1. officer: Pishin -> Districts and schools (decaying schools) -> the top school (why: its
   hindrances) -> Follow-up planner -> the Excel visit plan
2. manager: Overview (12- and 24-month retention per programme, with n) -> donor pack -> PowerPoint
   and HTML downloads
3. researcher: female + science -> Hindrances -> "Abandonment with vs without" -> Data -> Download
   -> the tidy CSV zip (hindrance and teacher_status columns)

Each step counts the user's clicks and keystrokes and the wall seconds from its first action until
the app has settled (screenshots are not timed), checks that the step shows what the user needs,
and saves test-artifacts/screenshots/role_<task>_<step>.png. A step the user cannot do is recorded
as failed (with why) and the task stops there. The table goes to stdout and
test-artifacts/role_tasks.md.
"""
from __future__ import annotations

import io
import os
import re
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from browser_helpers import DESKTOP, PHONE, SCREENSHOTS, ARTIFACTS, require_chromium, screenshot, settle  # noqa: E402
from server_helpers import CHROMIUM_ARGS, error_count, streamlit_server  # noqa: E402
from report.answers import TOO_FEW  # noqa: E402
from metrics.records import HINDRANCE_PREFIX  # noqa: E402
from sustain.config import load_config  # noqa: E402

SIDEBAR_IN = "() => document.querySelector(\"[data-testid='stSidebar']\").getBoundingClientRect().left >= 0"
PACK_SECONDS = 300  # building the donor pack takes a while on a busy machine


class StepFailed(Exception):
    """The user cannot do this step (or it does not show what they need)."""


@dataclass
class Step:
    task: str
    name: str
    clicks: int = 0
    keys: int = 0
    seconds: float = 0.0
    seen: str = ""
    ok: bool = True
    notes: list[str] = field(default_factory=list)  # what got in the user's way, though the step was done


@dataclass
class Task:
    """One role task in one browser window: its steps, each timed and counted."""
    name: str
    page: object
    steps: list[Step] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    current: Step | None = None

    @property
    def phone(self) -> bool:
        return self.page.viewport_size["width"] < 600

    # -- what the user does (counted) -------------------------------------------------------------
    def click(self, locator, **kwargs) -> None:
        locator.click(**kwargs)
        self.current.clicks += 1

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.current.keys += 1

    def open_sidebar(self) -> None:
        """On a phone the sidebar is closed: the user opens it first."""
        if not self.page.get_by_test_id("stSidebarNav").is_visible():
            self.click(self.page.get_by_test_id("stExpandSidebarButton"))
            expect(self.page.get_by_test_id("stSidebarNav")).to_be_visible()
            # the sidebar slides in; a user's next tap comes after it has stopped (a tap on a box
            # while it moves focuses the box without opening its list)
            self.page.wait_for_function(SIDEBAR_IN)
            self.page.wait_for_timeout(500)

    def close_sidebar(self, note: str = "") -> None:
        """On a phone the open sidebar covers the page: the user closes it to read the page."""
        if self.phone and self.page.get_by_test_id("stSidebarNav").is_visible():
            if note:
                self.current.notes.append(note)
            self.click(self.page.get_by_test_id("stSidebar").get_by_test_id("stSidebarCollapseButton")
                       .get_by_role("button"))
            expect(self.page.get_by_test_id("stSidebarNav")).not_to_be_visible()

    def pick(self, filter_name: str, option: str) -> None:
        """A sidebar filter: click the box, click the option, Escape to close the list."""
        self.open_sidebar()
        self.click(self.page.locator(f".st-key-filter_{filter_name} input"))
        self.click(self.page.get_by_role("option", name=option, exact=True))
        self.press("Escape")
        expect(self.page.locator(f".st-key-filter_{filter_name}")).to_contain_text(option)

    def go_to(self, title: str, heading: str) -> None:
        self.open_sidebar()
        self.click(self.page.get_by_test_id("stSidebarNav").get_by_text(title, exact=True))
        settle(self.page)
        self.close_sidebar("after choosing a page the sidebar stays open over it: one more tap to close it")
        expect(self.page.get_by_role("heading", name=heading).first).to_be_visible()

    # -- a step -----------------------------------------------------------------------------------
    def step(self, name: str, action) -> bool:
        """Run `action` (the user's actions, then checks returning what was seen) as one step:
        timed to the settled app, screenshot, page errors checked. False when it failed."""
        self.current = Step(self.name, name)
        self.steps.append(self.current)
        started = time.perf_counter()
        try:
            seen = action()
            settle(self.page)
            self.current.seconds = time.perf_counter() - started
            if error_count(self.page):
                raise StepFailed("an error is shown on the page")
            if self.errors:
                raise StepFailed("browser error: " + "; ".join(self.errors))
            self.current.seen = seen
        except Exception as failure:  # noqa: BLE001 - any failure is a step the user cannot do: record it
            self.current.seconds = self.current.seconds or time.perf_counter() - started
            self.current.ok = False
            self.current.seen = f"FAILED: {type(failure).__name__}: {str(failure).splitlines()[0][:300]}"
        try:
            screenshot(self.page, SCREENSHOTS / f"role_{self.name}_{name}.png")
        except Exception:  # noqa: BLE001 - a missing screenshot must not hide the step's result
            pass
        return self.current.ok


def answer(page) -> str:
    """The page's answer sentence: the bold paragraph under its title."""
    sentence = page.get_by_test_id("stMain").locator("[data-testid='stMarkdown'] strong").first
    expect(sentence).to_be_visible()
    return sentence.inner_text().strip()


def one_line(text: str, limit: int = 260) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def downloaded(page, task: Task, button) -> tuple[str, bytes]:
    with page.expect_download(timeout=120_000) as download:
        task.click(button)
    path = download.value.path()
    return download.value.suggested_filename, Path(path).read_bytes()


# -- the tasks ------------------------------------------------------------------------------------
def officer(task: Task, url: str) -> None:
    page = task.page

    def open_dashboard():
        page.goto(url)
        settle(page)
        expect(page.get_by_role("heading", name="Retention of practices after the programme")).to_be_visible()
        return "Overview: " + answer(page)

    def pishin():
        task.pick("district", "Pishin")
        task.close_sidebar()
        expect(page).to_have_url(re.compile(r"district=Pishin"))
        settle(page)
        return "URL and sidebar say Pishin; " + answer(page)

    def decaying_schools():
        task.go_to("Districts and schools", "Districts and schools")
        chart = page.locator(".st-key-schools_chart")
        expect(chart.locator(".main-svg").first).to_be_visible()
        return f"ranking chart drawn ({chart.locator('.scatterlayer .point').count()} schools); " + answer(page)

    def top_school():
        chart = page.locator(".st-key-schools_chart")
        chart.scroll_into_view_if_needed()
        points = chart.locator(".scatterlayer .point")
        boxes = [b for b in (points.nth(i).bounding_box() for i in range(points.count())) if b]
        if not boxes:
            raise StepFailed("no school drawn in the ranking chart")
        top = min(boxes, key=lambda b: b["y"])  # the first school is drawn on top
        page.mouse.click(top["x"] + top["width"] / 2, top["y"] + top["height"] / 2)
        task.current.clicks += 1
        settle(page)
        card = page.get_by_test_id("stTable").filter(has_text="Hindrances reported")
        expect(card).to_be_visible()
        expect(chart).to_contain_text("◀ chosen")
        rows = dict(card.locator("tbody tr").evaluate_all(
            "rows => rows.map(r => [r.querySelector('th').innerText.trim(), r.querySelector('td').innerText.trim()])"))
        if rows["Hindrances reported"] == TOO_FEW:
            task.current.notes.append("the top school's hindrances are hidden (too few to show): no why for it")
        return (f"hindrances reported: {rows['Hindrances reported']}; chosen: {rows['School']} ({rows['Class']}; "
                f"{rows['Evidence']})")

    def planner():
        task.go_to("Follow-up planner", "Follow-up planner")
        expect(page).to_have_url(re.compile(r"district=Pishin"))
        caption = page.get_by_text(re.compile(r"Showing \d+ of \d+ schools")).first
        expect(caption).to_be_visible()
        expect(page.get_by_test_id("stTable")).to_be_visible()
        shown = re.search(r"Showing \d+ of (\d+) schools[^.]*", caption.inner_text())
        if int(shown.group(1)) >= 600:  # the sample's 600 schools: the plan is not for Pishin
            raise StepFailed(shown.group(0))
        return shown.group(0) + "; " + answer(page)

    def excel():
        button = page.locator(".st-key-plan_download button")
        button.scroll_into_view_if_needed()
        name, data = downloaded(page, task, button)
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            if "xl/workbook.xml" not in book.namelist():
                raise StepFailed(f"{name} is not an xlsx")
        return f"{name}: xlsx, {len(data):,} bytes"

    for name, action in [("open", open_dashboard), ("pishin", pishin), ("decaying_schools", decaying_schools),
                         ("why_top_school", top_school), ("visit_plan", planner), ("download_excel", excel)]:
        if not task.step(name, action):
            return


def manager(task: Task, url: str) -> None:
    page = task.page
    programmes = load_config().programme_codes

    def overview():
        page.goto(url)
        settle(page)
        seen = []
        for code in programmes:
            box = page.locator(f".st-key-programme_{code}")
            expect(box).to_be_visible()
            labels = box.get_by_test_id("stMetricLabel").all_inner_texts()
            values = box.get_by_test_id("stMetricValue").all_inner_texts()
            captions = box.get_by_test_id("stCaptionContainer").all_inner_texts()  # interval and n per round
            rounds = {label.strip(): (value, caption) for label, value, caption in zip(labels, values, captions)}
            shown = []
            for months in (12, 24):
                value, caption = rounds[f"Retention at month {months}"]  # KeyError: the round is missing
                n = re.search(r"n = [\d,]+ teacher-practices", caption)
                if not n:
                    raise StepFailed(f"{code} month {months}: no n in {caption!r}")
                shown.append(f"m{months} {value} ({n.group(0)})")
            seen.append(f"{code}: " + ", ".join(shown))
        return "; ".join(seen)

    def build():
        task.click(page.get_by_text("Donor pack: PowerPoint"))
        task.click(page.locator(".st-key-pack_build button"))
        expect(page.locator(".st-key-pack_pptx button")).to_be_visible(timeout=PACK_SECONDS * 1000)
        expect(page.locator(".st-key-pack_html button")).to_be_visible()
        return "both download buttons shown"

    def pptx():
        name, data = downloaded(page, task, page.locator(".st-key-pack_pptx button"))
        with zipfile.ZipFile(io.BytesIO(data)) as deck:
            slides = [n for n in deck.namelist() if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)]
        if not slides:
            raise StepFailed(f"{name} has no slides")
        return f"{name}: {len(slides)} slides, {len(data):,} bytes"

    def html():
        settle(page)
        button = page.locator(".st-key-pack_html button")
        expect(button).to_be_visible()  # issue 13 item 3: it stays after the first download
        name, data = downloaded(page, task, button)
        if b"<html" not in data[:2000].lower():
            raise StepFailed(f"{name} is not HTML")
        return f"{name}: {len(data):,} bytes; PowerPoint button still there"

    for name, action in [("overview", overview), ("build_pack", build), ("download_pptx", pptx),
                         ("download_html", html)]:
        if not task.step(name, action):
            return


def researcher(task: Task, url: str) -> None:
    page = task.page
    config = load_config()

    def filters():
        page.goto(url)
        settle(page)
        task.pick("gender", "female")
        settle(page)
        task.pick("subject", "science")
        task.close_sidebar()
        expect(page).to_have_url(re.compile(r"gender=female"))
        expect(page).to_have_url(re.compile(r"subject=science"))
        settle(page)
        return "URL and sidebar say female + science; " + answer(page)

    def hindrances():
        task.go_to("Hindrances", "Hindrances")
        expect(page).to_have_url(re.compile(r"gender=female.*subject=science|subject=science.*gender=female"))
        return answer(page)

    def effects():
        task.click(page.get_by_role("tab", name="Abandonment with vs without"))
        settle(page)
        forest = page.locator(".st-key-forest_chart")
        expect(forest.locator(".main-svg").first).to_be_visible()
        title = " ".join(forest.locator(".gtitle").all_text_contents())  # SVG text: no innerText
        expect(page.get_by_role("heading", name="Each hindrance in plain words")).to_be_visible()
        sentences = page.get_by_test_id("stText").all_inner_texts()
        if not sentences:
            raise StepFailed("no plain-word sentence")
        return f"forest: {title}; {len(sentences)} sentences, e.g. {sentences[0]}"

    def data_page():
        task.go_to("Data", "Data")
        return answer(page)

    def download_tab():
        task.click(page.get_by_role("tab", name="Download"))
        settle(page)
        expect(page.locator(".st-key-download_csv button")).to_be_visible()
        return page.get_by_text(re.compile(r"observations \(one row per teacher")).first.inner_text()[:120]

    def tidy():
        name, data = downloaded(page, task, page.locator(".st-key-download_csv button"))
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            header = bundle.read("data.csv").decode("utf-8-sig").splitlines()[0].split(",")
            rows = bundle.read("data.csv").count(b"\n") - 1
            files = bundle.namelist()
        missing = [c for c in ["teacher_status", *(HINDRANCE_PREFIX + h for h in config.hindrance_codes)]
                   if c not in header]
        if missing:
            raise StepFailed(f"{name} lacks columns {missing}")
        return (f"{name} ({', '.join(files)}): {rows:,} rows, {len(data):,} bytes; has teacher_status and "
                f"{len(config.hindrance_codes)} hindrance columns")

    for name, action in [("filters", filters), ("hindrances", hindrances), ("with_vs_without", effects),
                         ("data_page", data_page), ("download_tab", download_tab), ("tidy_export", tidy)]:
        if not task.step(name, action):
            return


def table(tasks: list[Task]) -> str:
    lines = ["| task | step | clicks | keys | seconds | what was seen |", "|---|---|---:|---:|---:|---|"]
    for task in tasks:
        for s in task.steps:
            seen = one_line(s.seen) + "".join(f" **⚠ {note}**" for note in dict.fromkeys(s.notes))
            lines.append(f"| {s.task} | {s.name} | {s.clicks} | {s.keys} | {s.seconds:.1f} | {seen} |")
        done = all(s.ok for s in task.steps)
        lines.append(f"| **{task.name}** | **total{'' if done else ' (NOT DONE)'}** | "
                     f"**{sum(s.clicks for s in task.steps)}** | **{sum(s.keys for s in task.steps)}** | "
                     f"**{sum(s.seconds for s in task.steps):.1f}** | |")
    return "\n".join(lines)


def main() -> int:
    executable = require_chromium()
    tasks: list[Task] = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        os.environ.pop("SUSTAIN_SALT", None)  # the sample data uses the demo salt, as a first start does
        started = time.perf_counter()
        with streamlit_server(tmp, {"SUSTAIN_DB": str(tmp / "sustain.duckdb")}) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
            # the first start builds the database from sample_data/: wait for it, untimed
            warm = browser.new_page(viewport=DESKTOP)
            warm.goto(url)
            settle(warm, timeout=600_000)
            warm.close()
            print(f"server ready in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            for name, viewport, run in [("officer", DESKTOP, officer), ("manager", DESKTOP, manager),
                                        ("researcher", DESKTOP, researcher), ("officer_phone", PHONE, officer)]:
                context = browser.new_context(viewport=viewport, device_scale_factor=1, reduced_motion="reduce",
                                              accept_downloads=True)
                page = context.new_page()
                page.set_default_timeout(90_000)
                task = Task(name, page)
                page.on("pageerror", lambda error, task=task: task.errors.append(str(error)))
                run(task, url)
                tasks.append(task)
                print(table([task]), file=sys.stderr)
                context.close()
            browser.close()
    result = ("Role tasks of issue 13 on the bundled sample (benchmarks/role_tasks.py), desktop 1440x900, "
              "officer_phone 390x844; seconds from the step's first action until the app has settled.\n\n"
              + table(tasks) + "\n")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "role_tasks.md").write_text(result, encoding="utf-8")
    print(result)
    return 0 if all(s.ok for t in tasks for s in t.steps) else 1


if __name__ == "__main__":
    sys.exit(main())
