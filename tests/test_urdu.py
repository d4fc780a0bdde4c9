"""The dashboard in Urdu (`?lang=ur`): every page's words from the one catalogue
(sustain/messages.py), none left in English, and the page right to left in a browser.

The English words looked for are those of the catalogue's English texts that its Urdu does not
keep (a product name such as PowerPoint stays Latin in both); names from the data (schools,
districts, clusters, programmes), pseudonymous keys and numbers may stay Latin and are taken out
of a text before it is read.
"""
import ast
import json
import re
import string
from pathlib import Path

import duckdb
import pytest

from support import ROOT_DIR
from ingest.kinds import KIND_LABELS
from report.labels import TEXT
from sustain import messages
from sustain.config import load_config

PAGES = ["pages/overview.py", "pages/districts.py", "pages/practices.py", "pages/hindrances.py",
         "pages/communities.py", "pages/planner.py", "pages/data.py"]
WORD = re.compile(r"[A-Za-z][A-Za-z'-]*[a-z]")


def _words(text: str) -> set[str]:
    text = re.sub(r"\{\w+\}", " ", text)
    return {w.lower() for w in WORD.findall(text) if len(w) >= 3}


# English words of the catalogue that its Urdu does not keep: one of them on an Urdu page is a
# message left untranslated
ENGLISH_WORDS = set().union(*map(_words, messages.URDU)) - set().union(*map(_words, messages.URDU.values()))


def _literal_messages() -> set[str]:
    """Every literal text the code passes to t() / ui.t() / translate()."""
    found = set()
    for path in [ROOT_DIR / "dashboard.py", *ROOT_DIR.glob("app/*.py"), *ROOT_DIR.glob("pages/*.py"),
                 *ROOT_DIR.glob("report/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in ("t", "t_", "translate"):
                    found.add(node.args[0].value)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "url_tabs":  # English labels
                found.update(e.value for e in node.args[0].elts if isinstance(e, ast.Constant))
    return found - set(TEXT)  # the donor pack's keys (report/labels.py): their English is checked below


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_message_has_urdu_with_the_same_fields():
    literal = _literal_messages()
    assert len(literal) > 200  # the scan finds the code's messages
    missing = sorted(m for m in literal | set(messages.DATA_TEMPLATES) | set(TEXT.values()) | set(KIND_LABELS.values())
                     if m and m not in messages.URDU)
    assert not missing, missing
    changed = {e: u for e, u in messages.URDU.items() if _fields(e) != _fields(u)}
    assert not changed, changed


def test_data_words_read_back_the_planner_and_headline_sentences():
    """metrics/ writes these in English; in Urdu they are read back part by part."""
    reason = ("3 of 10 practices in use when the programme ended were still in use 24 months after it (30%); "
              "80% chance it keeps fewer practices than CBM schools as a whole (at their visits 24 months after "
              "the programme, 45% of the practices scored were in use); Low motivation reported at 2 of 3 recent "
              "visits, Lack of materials at 1 of 3; "
              "last visited 2 months ago; community of practice active")
    with messages.using_language("ur"):
        urdu = messages.data_words(reason, {"Low motivation": "کم حوصلہ", "Lack of materials": "سامان کی کمی"})
    assert not _words(urdu) - {"cbm"}, urdu
    assert "کم حوصلہ" in urdu and "30%" in urdu
    assert messages.data_words(reason) == reason  # English: as written


def _proper_names(db: Path) -> list[str]:
    """Names of the data that may stay Latin: schools, places, clusters, keys (a programme has its
    Urdu name in config, `name_ur`)."""
    with duckdb.connect(str(db), read_only=True) as con:
        names = [r[0] for r in con.execute("""
            select school_name from schools union select district from schools union select province from schools
            union select cluster from schools union select school_id from schools
            union select teacher_key from teachers""").fetchall() if r[0]]
    return sorted(set(names), key=len, reverse=True)


def _chart_texts(spec: dict) -> list[str]:
    layout = spec.get("layout", {})
    texts = [layout.get("title", {}).get("text", ""), layout.get("legend", {}).get("title", {}).get("text", "")]
    for key, axis in layout.items():
        if re.fullmatch(r"[xy]axis\d*", key):
            texts.append((axis.get("title") or {}).get("text", ""))
    texts += [a.get("text", "") for a in layout.get("annotations", [])]
    texts += [str(trace.get("name", "")) for trace in spec.get("data", [])]
    # a line break and the right-to-left embedding of each line (app/charts.py) are not words
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>|[\u202a-\u202e]", " ", text or "")) for text in texts]


def visible_texts(at, cells: bool = True) -> list[str]:
    """What a reader sees of an AppTest run: titles, headers, captions, markdown, text, alerts,
    metrics, widget labels, tabs, expanders, table headers (and cells of words, unless not
    `cells`), chart titles, axis titles, legends, annotations and series names."""
    texts = []
    for kind in ("title", "header", "subheader", "caption", "markdown", "text", "info", "warning", "error",
                 "success"):
        texts += [e.value for e in getattr(at, kind) if not e.value.startswith("<style>")]  # ui.RTL_STYLE
    texts += [f"{m.label} {m.value}" for m in at.metric]
    for kind in ("selectbox", "multiselect", "radio", "number_input", "button", "text_input"):
        texts += [e.label for e in getattr(at, kind)]
    texts += [e.placeholder for e in at.multiselect]
    texts += [e.label for e in at.tabs] + [e.label for e in at.expander]
    texts += [e.proto.label for e in at.get("download_button")]
    for table in [*at.dataframe, *at.table]:
        config = json.loads(getattr(table.proto, "columns", "") or "{}")
        shown = list(getattr(table.proto, "column_order", [])) or list(table.value.columns)
        headers = [config.get(f"name:{c}", config.get(str(c), {})).get("label") or str(c) for c in shown]
        texts += headers + [str(table.value.index.name or "")]
        texts += [] if not cells else [v for v in table.value.select_dtypes(include="object").head(20).to_numpy().ravel()
                  if isinstance(v, str)]
    for chart in at.get("plotly_chart"):
        texts += _chart_texts(json.loads(chart.proto.spec))
    return [t for t in texts if t]


@pytest.mark.parametrize("page", PAGES)
def test_page_in_urdu_shows_no_english(open_page, sample_db, page):
    messages.MISSING.clear()
    at = open_page(page, 60, lang="ur")
    assert not at.exception, at.exception
    names = _proper_names(sample_db)
    left = {}
    # the Data page's tables are the records as imported (file names, raw rows, form codes) and
    # the import's rule messages (ingest/): their headers are read, not their cells
    shown = visible_texts(at, cells=page != "pages/data.py")
    for text in shown:
        for name in names:
            text = text.replace(name, " ")
        text = re.sub(r"`[^`]*`", " ", text)  # code: a command, a config key
        english = _words(text) & ENGLISH_WORDS
        if english:
            left[text[:120]] = sorted(english)
    assert not left, left
    assert not messages.MISSING, sorted(messages.MISSING)
    assert any(re.search("[\u0600-\u06ff]", text) for text in (e.value for e in at.title))
    programme_names = [p.name for p in load_config().programmes]
    english_programmes = [text for text in shown for name in programme_names if name in text]
    assert not english_programmes, english_programmes


CODE = re.compile(r"\b\w+_\w+\b")  # a rule, a form's field, a config key: codes, not words


def _english_left(texts, names) -> dict[str, list[str]]:
    left = {}
    for text in texts:
        for name in names:
            text = text.replace(name, " ")
        text = CODE.sub(" ", re.sub(r"`[^`]*`", " ", text))
        english = _words(text) & ENGLISH_WORDS
        if english:
            left[text[:160]] = sorted(english)
    return left


def _import_texts(container) -> list[str]:
    """What a tab of the Data page shows in words: its texts, table headers, and the cells of its
    tables but those shown as the file held them (ui.AS_WRITTEN: a raw row, a value, a file's name,
    a form's column) and the rule codes."""
    from app.ui import AS_WRITTEN, COLUMN_WORDS

    with messages.using_language("ur"):
        as_written = {messages.t(COLUMN_WORDS[c]) for c in AS_WRITTEN} | {messages.t("rule")}
    texts = visible_texts(container, cells=False)
    for table in container.dataframe:
        words = table.value.drop(columns=[c for c in table.value.columns if c in as_written])
        texts += [v for v in words.select_dtypes(include="object").to_numpy().ravel() if isinstance(v, str)]
    return texts


def test_the_data_pages_import_messages_in_urdu(open_page, sample_db, tmp_path, monkeypatch):
    """Item 14 on the Data page: an upload's preview (its summary, the rows kept aside and why, the
    demo salt's note) and a refused file's reason come out in Urdu, as do the sample's quarantined
    rows' details and the import ledger's notes: names, values and rule codes as written."""
    from support import visit, write_kobo

    monkeypatch.delenv("SUSTAIN_SALT", raising=False)  # the sample data's demo salt: the preview notes it
    export = write_kobo(tmp_path / "followup.csv", [
        visit("urdu-1", "T-00001", "SCH-0001", 3, visit_date="2024-03-20", scores={"group_work": "3"}),
        visit("urdu-2", "T-00001", "SCH-9999", 3, visit_date="2024-03-21", scores={"group_work": "9"},
              status="retired", hindrances="weather", cop_active="maybe", cop_meetings="-1"),
        visit("urdu-3", "T-99999", "SCH-0001", 3, visit_date="31/02/2024")]).read_bytes()
    from ingest.survey import TEACHER_STATUSES

    # and what the form accepts, named in a row's detail ("expected one of present, absent, ...")
    names = _proper_names(sample_db) + ["followup.csv", "twice.csv", *TEACHER_STATUSES]
    with messages.using_language("ur"):
        upload, quarantine, imports = messages.t("Upload"), messages.t("Quarantine"), messages.t("Imports")
    at = open_page("pages/data.py", 60, lang="ur")
    at.file_uploader(key="upload_file").set_value(("followup.csv", export, "text/csv")).run()
    assert not at.exception, at.exception
    shown = next(e for e in at.tabs if e.label == upload)
    assert len(shown.dataframe[1].value) >= 8 and shown.warning  # many rules broken; the demo salt's note
    left = _english_left(_import_texts(shown), names)
    for name in (quarantine, imports):  # the sample's own quarantined rows and import notes
        left |= _english_left(_import_texts(next(e for e in at.tabs if e.label == name)), names)
    assert not left, left
    at.file_uploader(key="upload_file").set_value(("twice.csv", b"a,a\n1,2\n", "text/csv")).run()
    shown = next(e for e in at.tabs if e.label == upload)
    assert shown.error and shown.text and at.button(key="upload_import").disabled
    assert not _english_left(_import_texts(shown), names), _import_texts(shown)
    assert not messages.MISSING, sorted(messages.MISSING)


def test_a_link_opens_the_same_tab_and_compare_by_in_either_language(open_page):
    """Item 1's leftover: the URL keeps a page's tab and "Compare by" by language-independent keys
    (the English label, the dimension's name), so a link made in English opens the same view in
    Urdu and one made in Urdu the same view in English; switching the language keeps the view."""
    def view(at, language):
        with messages.using_language(language):
            tab = messages.t("Half-life")
        assert not at.exception, at.exception
        assert at.session_state["tab"] == tab and [e.label for e in at.tabs][1] == tab
        assert at.selectbox(key="compare_by").value == "gender"
        assert (at.query_params["tab"], at.query_params["compare_by"]) == ("Half-life", "gender")

    at = open_page("pages/practices.py", 60, tab="Half-life", compare_by="gender", lang="ur")  # an English link
    view(at, "ur")
    with messages.using_language("ur"):  # AppTest formats the selectors' options in the test's thread
        at.radio(key="ui_language").set_value("en").run()
    view(at, "en")
    at.radio(key="ui_language").set_value("ur").run()
    view(at, "ur")
    # the Urdu view's URL, opened in English
    at = open_page("pages/practices.py", 60, **{k: v for k, v in at.query_params.items() if k != "lang"})
    view(at, "en")


def test_the_login_page_in_urdu(sample_db, tmp_path, monkeypatch, page_caches):
    """With users configured, `?lang=ur` shows the login form in Urdu, right to left, with the
    language switch; a wrong password is refused in Urdu."""
    from streamlit.testing.v1 import AppTest

    from app import access
    from support import write_config

    path = write_config(tmp_path, **{"access.users": {"officer": ["Quetta"]}, "access.password_file": "users.yaml"})
    access.set_password(access.password_file(load_config(path)), "officer", "correct horse battery")
    monkeypatch.setenv("SUSTAIN_CONFIG", str(path))
    monkeypatch.setenv("SUSTAIN_DB", str(sample_db))
    page_caches()
    at = AppTest.from_file(str(ROOT_DIR / "dashboard.py"), default_timeout=60)
    at.query_params["lang"] = "ur"
    at.run()
    assert not at.exception, at.exception
    with messages.using_language("ur"):
        assert at.title[0].value == messages.t("Sustain: log in")
    assert any("direction: rtl" in e.value for e in at.markdown)
    assert at.radio(key="ui_language").value == "ur"
    at.text_input(key="login_user").input("officer")
    at.text_input(key="login_password").input("wrong password")
    at.button[0].click().run()
    shown = visible_texts(at)
    assert at.error and all(re.search("[\u0600-\u06ff]", text) for text in shown), shown
    assert not {w for text in shown for w in _words(text)} & ENGLISH_WORDS, shown


@pytest.mark.slow  # a real server and chromium
def test_the_switch_turns_a_phone_page_urdu_and_right_to_left(sample_server, browser):
    """390x844: the sidebar's switch puts `lang=ur` in the URL; the page then reads right to left
    in Urdu, and the next page keeps it."""
    from playwright.sync_api import expect

    from browser_helpers import PHONE, SCREENSHOTS, go_to, new_page, screenshot, settle

    page = new_page(browser, PHONE)
    page.goto(sample_server)
    settle(page)
    page.get_by_test_id("stExpandSidebarButton").click()
    page.get_by_test_id("stSidebar").get_by_text(messages.LANGUAGE_NAMES["ur"], exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]lang=ur"))
    settle(page)
    with messages.using_language("ur"):
        heading, practices = messages.t("Retention of practices after the programme"), messages.t("Practices")
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name=heading)).to_be_visible()
    assert main.evaluate("e => getComputedStyle(e).direction") == "rtl"
    screenshot(page, SCREENSHOTS / "urdu_overview_sidebar_phone.png")
    page.keyboard.press("Escape")
    go_to(page, practices)
    expect(page).to_have_url(re.compile(r"/practices\?(.*&)?lang=ur"))
    settle(page)
    expect(main.get_by_role("heading", name=practices, exact=True)).to_be_visible()
    answer = main.get_by_test_id("stMarkdownContainer").filter(has_text="نصف").first.inner_text()
    assert re.search("[\u0600-\u06ff]", answer) and not _words(answer) & ENGLISH_WORDS, answer
    page.context.close()
    page = new_page(browser, PHONE)  # a link in Urdu opens in Urdu, the sidebar closed
    page.goto(sample_server + "/?lang=ur")
    settle(page)
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name=heading)).to_be_visible()
    assert main.evaluate("e => getComputedStyle(e).direction") == "rtl"
    screenshot(page, SCREENSHOTS / "urdu_overview_phone.png")
    page.context.close()


def test_the_donor_packs_summary_and_chart_titles_come_out_in_urdu(sample_db):
    """The pages' answer sentences, as the Urdu donor pack's executive summary, and its charts'
    finding titles: Urdu, no English word left."""
    from report import build_report
    from sustain.config import load_config
    from sustain.db import read_only

    names = _proper_names(sample_db)
    with read_only(sample_db) as con:
        urdu = build_report(con, load_config(), "CBM", language="ur")
    assert len(urdu.summary) >= 2
    for text in [*urdu.summary, *(chart.title for chart in urdu.charts)]:
        for name in names:
            text = text.replace(name, " ")
        assert re.search("[\u0600-\u06ff]", text) and not _words(text) & ENGLISH_WORDS, text
