"""What every Streamlit page shares: the config, the first-start build, the sidebar filters whose
state lives in the URL, and the one cached way to call an indicator.

Pages stay thin: they call `sidebar_filters()`, `indicator(...)` once, and draw one figure.
"""
from __future__ import annotations

import contextlib
import fcntl
import gc
import math
import os
import threading
from contextvars import ContextVar
from pathlib import Path

import pandas as pd
import streamlit as st

from metrics.base import TOO_FEW
from metrics.filters import BY_COLUMNS, Filters
from metrics.lookups import config_choices
from app import access, result_store, together
from app.table_cache import TableCache, shared_table
from app.warm import PAGE_VIEWS
# what the pages need from the layers below, so that a page imports the app layer only
from metrics.communities import ACTIVE_MEETINGS_PER_MONTH  # noqa: F401
from metrics.planner import PLAN_HEAD_ROWS, SCORE_EXPLANATION  # noqa: F401
from metrics.schools import within  # noqa: F401
from report import answers, exports  # noqa: F401
from sustain.config import Config, load_config
from sustain.samples import sample_files
from sustain.db import DataRefreshing, publish_wanted, publishing_for, read_only, version_id
from sustain.dimensions import CATALOGUE, compare_dimensions, sidebar_dimensions
from sustain.messages import LANGUAGE_NAMES, LANGUAGES, RIGHT_TO_LEFT, current_language, set_language, t, translate
from sustain import messages

# the sidebar's filters (also the URL's parameters), their labels, and the pages' "Compare by"
# choices: from the catalogue of dimensions (sustain/dimensions.py)
URL_FILTERS = [d.name for d in sidebar_dimensions()]
FILTER_LABELS = {d.name: d.label for d in sidebar_dimensions()}
COMPARE_BY = compare_dimensions()
# a dimension's name as the pages' selectors show it ("school type", "years of teaching experience")
DIMENSION_NAMES = {d.name: d.label.lower() for d in CATALOGUE}


@st.cache_resource
def config() -> Config:
    return load_config()


def database_path() -> Path:
    return config().database_path()


_BUILD_LOCK = threading.Lock()


@contextlib.contextmanager
def _build_lock(path: Path):
    """One first-start build at a time: a lock for this server's sessions, and a file lock for
    other processes (a second server on the same folder)."""
    with _BUILD_LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".build-lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_database() -> None:
    """On first start, build the database from sample_data/ through the same ingest, visibly.
    Sessions that arrive during the build wait for it (saying so) instead of building again; the
    build goes into a temporary file renamed into place when complete, so no reader ever opens a
    half-built database."""
    path = database_path()
    if path.exists():
        _upgrade_if_needed(path)
        return
    from ingest import ingest_files

    with st.status(t("First start: building the database from the bundled sample data…"), expanded=True) as status:
        if _BUILD_LOCK.locked():
            status.write(t("Another window is building it; this page shows the data when it is done."))
        with _build_lock(path):
            if path.exists():  # built by the session we waited for
                status.update(label=t("Database built"), state="complete", expanded=False)
                return
            if publish_wanted(config(), path):  # the first version, published when complete
                with publishing_for(config(), path) as draft:
                    result = ingest_files(sample_files(), config(), draft.path, progress=status.write)
                    refused = [f.refused for f in result.files if f.refused]
                    draft.keep = not refused
            else:
                result, refused = _build_single_file(path, status)
        if refused:
            status.update(label=t("The sample data could not be imported"), state="error")
            for reason in refused:
                st.error(reason)
            st.stop()
        taken = sum(f.inserted + f.updated for f in result.files)
        status.update(label=t("Database built: {records} records from {files} files", records=f"{taken:,}",
                                files=len(result.files)), state="complete", expanded=False)


def _build_single_file(path: Path, status):
    """The first-start build of a single database file: into a temporary file renamed into place."""
    from ingest import ingest_files

    building = path.with_name(f"{path.name}.building-{os.getpid()}")
    for leftover in (building, Path(f"{building}.wal")):
        leftover.unlink(missing_ok=True)  # from a build that was killed
    try:
        result = ingest_files(sample_files(), config(), building, progress=status.write)
        refused = [f.refused for f in result.files if f.refused]
        if not refused:
            if Path(f"{building}.wal").exists():  # ingest checkpoints; a WAL left means an unfinished file
                raise RuntimeError(f"the first-start build left {building}.wal behind")
            os.replace(building, path)
    finally:
        building.unlink(missing_ok=True)
        Path(f"{building}.wal").unlink(missing_ok=True)
    return result, refused


# (path, version) of databases this process has found up to date: the check opens a
# connection, and every rerun of every page would otherwise pay for it
_UP_TO_DATE: set[tuple[str, str]] = set()


def _upgrade_if_needed(path: Path) -> None:
    """A database of an earlier release is upgraded (migrations, then the analysis model) on the
    dashboard's start, visibly and once, as `python -m ingest upgrade` would; one written by a
    newer Sustain is left untouched and the page says so."""
    stamp = (str(path), _database_version())
    if stamp in _UP_TO_DATE:
        return
    import duckdb

    from ingest.model import bring_model_up_to_date
    from sustain.db import PROCESS_LOCK, SCHEMA_VERSION, SchemaMismatch, open_for_writing, schema_version

    try:
        with read_only(path):
            _UP_TO_DATE.add(stamp)
            return  # readable: up to date
    except SchemaMismatch as exc:
        with duckdb.connect(str(path), read_only=True) as probe:
            if schema_version(probe) > SCHEMA_VERSION:
                st.error(str(exc))
                st.stop()
    except DataRefreshing:
        return  # an import is running; it upgrades the database itself
    with st.status(t("Upgrading the database to this version of Sustain…"), expanded=True) as status:
        with _build_lock(path), contextlib.ExitStack() as writing:
            if publish_wanted(config(), path):  # upgraded in a new version: readers keep the old one meanwhile
                target = writing.enter_context(publishing_for(config(), path)).path
            else:
                target = path
                writing.enter_context(PROCESS_LOCK.writing())
            con = open_for_writing(target)
            try:
                for line in bring_model_up_to_date(con, config()):
                    status.write(line)
            finally:
                con.close()
        status.update(label=t("Database upgraded"), state="complete", expanded=False)


def _database_version() -> str:
    """Caches key on the data's version (README "Access": a new import shows at once): the published
    version's name, or a single file's modification time. Resolved before the cached call reads,
    which resolves again: a key never names a newer version than the data cached under it."""
    return version_id(database_path())


@st.cache_resource
def _table_cache() -> TableCache:
    """The tables this process's sessions share, up to `publish.table_cache_mb` (other server
    processes share the result store); emptied with Streamlit's resource caches."""
    return TableCache(config().publish.table_cache_mb * 2**20)


def _cached_indicator(name: str, filters: Filters, by: tuple[str, ...], db: str, version: str) -> pd.DataFrame:
    """The shared table, not a copy: `indicator` hands each caller its own copy (milliseconds), so
    no page can change the table another session reads. Not st.cache_data: that one keeps a pickle
    and unpickles it on every hit (0.9 s for the country's schools table at a million teachers)."""
    return _shared_table(_table_cache(), config(), name, filters, by, db, version)


def _shared_table(cache: TableCache, cfg: Config, name: str, filters: Filters, by: tuple[str, ...], db: str,
                  version: str) -> pd.DataFrame:
    """`_cached_indicator` with the process's cache and config resolved by the caller (a view thread
    has no Streamlit script context to resolve them in)."""
    return shared_table(cache, name, filters, by, lambda *view: result_store.stored_table(*view, db, cfg, version),
                        (db, version))


_FROZEN = threading.Lock()
_frozen = False


def freeze_imported_objects() -> None:
    """Move every object alive now (the imported libraries': about 170,000) out of the cyclic
    garbage collector's sight, once per server process; dashboard.py calls it after its imports.
    Why: Streamlit runs a full collection after every script run (`runner.postScriptGC`), and one
    walking those objects took about 50 ms, holding the interpreter, on every rerun of every
    session. They live as long as the process; what the runs create is still collected."""
    global _frozen
    with _FROZEN:
        if not _frozen:
            gc.collect()
            gc.freeze()
            _frozen = True


def current_user() -> str | None:
    """The logged-in user: Streamlit's OIDC user when configured, else the local login."""
    try:
        if getattr(st.user, "is_logged_in", False):
            return st.user.get("email") or st.user.get("name")
    except Exception:  # no [auth] in secrets: st.user has nothing to say
        pass
    return st.session_state.get("sustain_user")


def viewer_scope() -> tuple[str, ...] | None:
    """Districts the viewer may see, from server-side config only (None: all; (): none)."""
    return access.scope_for(config(), current_user())


def indicator(name: str, filters: Filters, by: tuple[str, ...] = ()) -> pd.DataFrame | None:
    """The one cached metric call of a page (any name of metrics.registry.TABLES). The viewer's
    district scope is applied here, on the one path every page's data takes, and is part of the
    cache key. None, with a message shown, while an import holds the database."""
    _record_page_view(name, tuple(by))
    scoped = filters.replace(scope=viewer_scope())
    try:
        return _cached_indicator(name, scoped, tuple(by), str(database_path()), _database_version()).copy()
    except DataRefreshing:
        st.info(t("The data is refreshing (an import is running). This page will show it in a moment."))
        return None


@st.cache_data(show_spinner=False)
def _choices(db: str, version: str, scope: tuple[str, ...] | None) -> dict[str, list[str]]:
    """Values offered in the sidebar, only from the districts the viewer may see."""
    return result_store.stored_choices(db, scope, config(), version)


# the filters drawn by dashboard.py for this script run (see `run_navigation`); unset when a page
# runs on its own (AppTest, Streamlit's pages/ fallback)
_FILTERS_THIS_RUN: ContextVar[Filters | None] = ContextVar("sustain_filters_this_run", default=None)


def _run_through_dashboard() -> None:
    """A page of pages/ run on its own by the server, as a Streamlit "v1" page (no login, no
    first-start build, the pages/ files as the page list), runs again through dashboard.py.

    Why: until some session of a fresh server has called `st.navigation`, Streamlit treats an app
    with a pages/ folder as a v1 app (a class-wide flag, `PagesManager.uses_pages_directory`),
    so a tab opened on /districts at that moment ran pages/districts.py directly, and kept the
    list of file names for good. dashboard.py calls `st.navigation` on every run, which clears
    the flag; clearing it here and rerunning does the same for the early tab. The test is this
    run's, not the flag's: another tab's dashboard.py may have cleared the flag after this run
    began as v1 (seen once in CI, three tabs opened at once), and the early tab then kept the file
    names. A page under dashboard.py has its filters drawn already (`run_navigation`), so a page
    that gets here with dashboard.py as the main script was run as v1. (AppTest runs a page as its
    own main script: untouched.)"""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is None:
        return
    if Path(context.pages_manager.main_script_path).name == "dashboard.py":
        PagesManager.uses_pages_directory = False
        st.rerun()


def sidebar_filters() -> Filters:
    """The shared sidebar; its state is read from and written to the URL so a view can be sent.
    Under dashboard.py the sidebar is drawn once per run, before the page (`run_navigation`), and
    this returns the filters drawn there. Every page calls it first: it also starts computing the
    page's views together (`start_page_views`)."""
    drawn = _FILTERS_THIS_RUN.get()
    if drawn is None:
        _run_through_dashboard()
        drawn = _draw_filters()
    start_page_views(drawn)
    return drawn


# the (name, by) of each view a page asked for on its last run in this session, by page
_PAGE_VIEWS_ASKED = "_sustain_page_views"
# this run's page and the views it has asked for so far
_VIEWS_THIS_RUN: ContextVar[tuple[str, list] | None] = ContextVar("sustain_views_this_run", default=None)


def _page_name() -> str:
    """The running page's file name without `.py` (the keys of app/warm.py PAGE_VIEWS), under
    dashboard.py's navigation or run on its own (AppTest); "" outside a script run."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is None:
        return ""
    page = context.pages_manager.get_pages().get(context.page_script_hash) or {}
    return Path(page.get("script_path") or "").stem


def start_page_views(filters: Filters) -> None:
    """Start computing, together on the process's view threads (app/together.py), the views this
    page will ask for with `filters`: those it asked for on its last run in this session (a filter
    changed: a page's own selectors, "Compare by", usually did not), else its first render's
    (`PAGE_VIEWS`). The page's own `indicator` calls then wait for them in the shared table cache
    instead of computing one after the other. A view already kept costs a look-up; a failure is
    left for the page's own call to meet and show."""
    page = _page_name()
    views = st.session_state.get(_PAGE_VIEWS_ASKED, {}).get(page) or PAGE_VIEWS.get(page, ())
    _VIEWS_THIS_RUN.set((page, []))
    if len(views) < 2:
        return  # nothing to overlap
    try:
        scoped, db, version = filters.replace(scope=viewer_scope()), str(database_path()), _database_version()
    except DataRefreshing:
        return
    cache, cfg = _table_cache(), config()
    for name, by in views:
        together.start(_quietly, _shared_table, cache, cfg, name, scoped, by, db, version)


def _quietly(job, *args) -> None:
    """A view started ahead of its page: an error is the page's own call's to show (it computes
    the view again and meets the error in the session it can show it to)."""
    try:
        job(*args)
    except Exception:  # noqa: BLE001
        pass


def _record_page_view(name: str, by: tuple[str, ...]) -> None:
    """Note that this run's page asked for (name, by), for `start_page_views` on its next run."""
    this_run = _VIEWS_THIS_RUN.get()
    if this_run is None:
        return  # not on a page (e.g. the donor pack's build)
    page, asked = this_run
    if (name, by) not in asked:
        asked.append((name, by))
        st.session_state[_PAGE_VIEWS_ASKED] = {**st.session_state.get(_PAGE_VIEWS_ASKED, {}), page: tuple(asked)}


def _draw_filters() -> Filters:
    """`sidebar_filters`' widgets, drawn: by `run_navigation` once per run under dashboard.py, or
    by a page run as its own script (AppTest)."""
    use_language()
    require_login()
    cfg = config()
    try:
        choices = _choices(str(database_path()), _database_version(), viewer_scope())
    except DataRefreshing:
        choices = {}
    choices.update(config_choices(cfg))
    labels = {"practice": practice_label, "hindrance": hindrance_label}
    selected: dict[str, tuple[str, ...]] = {}
    url_says = _history_navigation()
    with st.sidebar:
        st.header(t("Filters"))
        for name in URL_FILTERS:
            options = choices.get(name, [])
            key = f"filter_{name}"
            if key not in st.session_state or url_says:
                # a new session (a link, a reload) or the browser's back/forward: the URL says, and a
                # filter the URL does not carry is "all" (Streamlit's own rule for URL-bound widgets)
                st.session_state[key] = [v for v in st.query_params.get_all(name) if v in options]
            elif any(v not in options for v in st.session_state[key]):  # e.g. the viewer's scope changed
                st.session_state[key] = [v for v in st.session_state[key] if v in options]
            chosen = st.multiselect(t(FILTER_LABELS[name]), options, key=key,
                                    format_func=labels.get(name, str), placeholder=t("all"))
            selected[name] = tuple(chosen)
        language_switch()  # under the filters: the pages' look in English stays as it was
    filters = Filters(**selected)
    sync_url(filters)
    return filters


def _history_navigation() -> bool:
    """True when this run comes from the browser's back or forward button: the browser then sends
    the widgets' state it had before, and the URL of the entry it went back to."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(getattr(ctx, "is_history_navigation", False))


# On a phone Streamlit closes the sidebar after a page is chosen, but it knows a phone by its user
# agent only: a narrow window of another browser (a tablet on its desktop site, a small laptop
# window) kept the sidebar open over the page, one more tap each time. Where the sidebar overlays
# the page (at most Streamlit's "md" breakpoint, 768 px) a chosen page closes it the same way, with
# Streamlit's own collapse button; on a wider window nothing changes.
_CLOSE_SIDEBAR_AFTER_A_PAGE_IS_CHOSEN = """<script>
if (!window.sustainClosesSidebar) {
  window.sustainClosesSidebar = true;
  document.addEventListener("click", (event) => {
    if (!event.target.closest("[data-testid='stSidebarNavLink']") || window.innerWidth > 768) return;
    setTimeout(() => {  // after Streamlit's own handling, which closes it on a phone already
      const sidebar = document.querySelector("[data-testid='stSidebar']");
      const close = document.querySelector("[data-testid='stSidebarCollapseButton'] button");
      if (sidebar && close && sidebar.dataset.collapsed === "false") close.click();
    }, 0);
  });
}
</script>"""


# -- language ------------------------------------------------------------------------------------
LANGUAGE_KEY = "ui_language"  # the switch's state; the URL's `?lang=` (none for English)
# Urdu right to left in a Naskh face; a chart keeps plotly's own (left-to-right) layout inside
# it, its titles in Urdu. A fixed style, never built from input.
RTL_STYLE = """<style>
[data-testid="stMain"], [data-testid="stSidebar"] {direction: rtl; text-align: right;
  font-family: "Noto Naskh Arabic", "Noto Nastaliq Urdu", "Source Sans Pro", sans-serif;}
[data-testid="stMain"] [data-testid="stPlotlyChart"], [data-testid="stMain"] [data-testid="stDataFrame"] {direction: ltr;}
</style>"""


def use_language() -> str:
    """The language of this run, from the switch (or, before it is drawn, the URL's `?lang=`),
    set for every word shown (sustain/messages.py `t`)."""
    chosen = st.session_state.get(LANGUAGE_KEY) or st.query_params.get("lang") or LANGUAGES[0]
    language = chosen if chosen in LANGUAGES else LANGUAGES[0]
    cfg = config()
    set_language(language, {cfg.practice_label(code): cfg.practice_label(code, language) for code in cfg.practice_codes}
                 | {cfg.hindrance_label(code): cfg.hindrance_label(code, language) for code in cfg.hindrance_codes}
                 | {p.name: p.name_in(language) for p in cfg.programmes})
    return language


def language_switch() -> None:
    """The sidebar's language switch, kept in the URL (`?lang=ur`) as the filters are; drawn once
    a run, it sets the page's direction too."""
    if current_language() in RIGHT_TO_LEFT:
        st.markdown(RTL_STYLE, unsafe_allow_html=True)
    if LANGUAGE_KEY not in st.session_state:
        st.session_state[LANGUAGE_KEY] = current_language()
    st.radio(t("Language"), LANGUAGES, key=LANGUAGE_KEY, format_func=LANGUAGE_NAMES.get, horizontal=True)
    if st.session_state[LANGUAGE_KEY] == LANGUAGES[0]:
        if "lang" in st.query_params:  # written only when it changes: a write is a new URL
            del st.query_params["lang"]
    elif st.query_params.get("lang") != st.session_state[LANGUAGE_KEY]:
        st.query_params["lang"] = st.session_state[LANGUAGE_KEY]


def practice_label(code: str) -> str:
    return config().practice_label(code, current_language())


def programme_name(code: str) -> str:
    return config().programme_name(code, current_language())


def hindrance_label(code: str) -> str:
    return config().hindrance_label(code, current_language())


def dimension_name(name: str | None) -> str:
    """A dimension's name as the pages' selectors and legends show it, in the current language."""
    return t(DIMENSION_NAMES[name]) if name in DIMENSION_NAMES else (name or "")


def data_words(text):
    """A text metrics/ wrote in English (a class, a reason, a note) in the current language
    (sustain/messages.py `data_words`), practices and hindrances named by their labels in it."""
    return messages.data_words(text)


# A page change could make two or three history entries: the new page's first run writes the URL
# (the filters; the previous page's tab removed) while the browser still shows the previous page's
# path, which Streamlit pushes as an entry of the previous page; then it pushes the new page's path,
# with the filters or bare, and a bare path gets the filters as one more entry. One Back press then
# reached an in-between URL (the previous page without its tab, a page without its filters). Here,
# from a click on a page's link until no more than the new page's own writes: a write on the old
# path is left out (the new page's path carries it), and one on the new path replaces that entry.
# Any other click or key ends it: a user's own change is an entry of its own.
_ONE_HISTORY_ENTRY_PER_PAGE = """<script>
if (!window.sustainOneEntryPerPage) {
  window.sustainOneEntryPerPage = true;
  let step = "none";  // "chosen": a page's link was clicked; "opened": its path was pushed
  const push = window.history.pushState.bind(window.history);
  window.history.pushState = (state, title, url) => {
    const samePath = new URL(url, window.location.href).pathname === window.location.pathname;
    if (step === "chosen" && samePath) return;  // the previous page's path: the new page's entry follows
    if (step === "opened" && samePath) return window.history.replaceState(state, title, url);
    step = step === "chosen" ? "opened" : "none";
    return push(state, title, url);
  };
  for (const kind of ["pointerdown", "keydown"]) {
    window.addEventListener(kind, (event) => {
      const link = event.target.closest && event.target.closest("[data-testid='stSidebarNavLink']");
      step = link ? "chosen" : "none";
    }, true);
  }
}
</script>"""


def run_navigation(navigation) -> None:
    """dashboard.py's last step: draw the sidebar's filters, then run the chosen page. Streamlit
    ties a widget's identity to the script that draws it, so filters drawn by each page were new
    widgets on every page change (the state, and the URL with it, was lost); drawn here by the
    entry script they are the same widgets on every page, and the URL is written on every run."""
    token = _FILTERS_THIS_RUN.set(_draw_filters())
    kept = _KEPT_THIS_RUN.set(set())
    st.sidebar.html(_CLOSE_SIDEBAR_AFTER_A_PAGE_IS_CHOSEN + _ONE_HISTORY_ENTRY_PER_PAGE, unsafe_allow_javascript=True)
    try:
        navigation.run()
    finally:
        # a page's own selectors (its tab, "Compare by") leave the URL on a page without them
        for key in (PAGE_URL_KEYS - _KEPT_THIS_RUN.get()) & set(st.query_params):
            del st.query_params[key]
        _KEPT_THIS_RUN.reset(kept)
        _FILTERS_THIS_RUN.reset(token)


def sync_url(filters: Filters) -> None:
    """Write the filters into the URL (every run: a page change may have dropped them)."""
    for name in URL_FILTERS:
        values = list(getattr(filters, name))
        if st.query_params.get_all(name) != values:
            if values:
                st.query_params[name] = values
            elif name in st.query_params:
                del st.query_params[name]


def pressed_for(label: str, key: str, inputs) -> bool:
    """A button whose press is remembered for these inputs: True from the press on, through any
    rerun (a download, a tab), until the inputs change. What it shows stays as long as it is true."""
    if st.button(label, key=key):
        st.session_state[f"{key}_pressed_for"] = inputs
    return st.session_state.get(f"{key}_pressed_for") == inputs


# the URL keys of the pages' own selectors (`_kept_in_url`), and those drawn in this script run
PAGE_URL_KEYS: set[str] = set()
_KEPT_THIS_RUN: ContextVar[set[str]] = ContextVar("sustain_kept_in_url_this_run", default=set())


def _kept_in_url(key: str, options: list[str], widget_value, option_of, draw):
    """Draw a page's selector (`draw()`) whose choice, one of `options` (language-independent:
    codes, English labels), is kept in the URL (`?<key>=<option>`; none for the first), so that a
    link opens the same view in either language. Streamlit's own URL binding writes the shown
    label, which a link made in the other language does not match. The URL decides when it
    changed without this session (a link, back or forward, a page change); otherwise the widget
    (a click, or a language switch: its state is then the other language's label).
    `widget_value(option)`: the widget's state for an option; `option_of(state)`: the reverse."""
    PAGE_URL_KEYS.add(key)
    _KEPT_THIS_RUN.get().add(key)
    from_url = st.query_params.get(key)
    url_says = from_url if from_url in options else options[0]
    written = f"{key}_in_url"  # what this session last wrote into the URL
    if st.session_state.get(written) != url_says or key not in st.session_state or _history_navigation():
        chosen = url_says
    else:
        chosen = option_of(st.session_state[key])
    st.session_state[key] = widget_value(chosen)
    drawn = draw()
    chosen = option_of(st.session_state[key])
    st.session_state[written] = chosen
    if chosen == options[0]:
        if key in st.query_params:
            del st.query_params[key]
    elif from_url != chosen:
        st.query_params[key] = chosen
    return drawn


def url_tabs(labels: list[str], key: str = "tab"):
    """A page's tabs (`labels` in English, shown in the current language), the open one kept in the
    URL by its English label (`?tab=Half-life`; none for the first). Each page's own: another page
    drops it from the URL (`run_navigation`)."""
    english = {translate(label, language): label for label in labels for language in LANGUAGES}
    return _kept_in_url(key, labels, t, lambda shown: english.get(shown, labels[0]),
                        lambda: st.tabs([t(label) for label in labels], key=key, on_change="rerun"))


def url_selectbox(label: str, options: list, key: str, **kwargs):
    """A page's selector kept in the URL by its option (`?<key>=<option>`; none for the first
    option), e.g. the pages' "Compare by" (`compare_by=gender`)."""
    by_text = {str(option): option for option in options}
    _kept_in_url(key, list(by_text), by_text.get, lambda value: str(value) if str(value) in by_text else
                 str(options[0]), lambda: st.selectbox(label, options, key=key, **kwargs))
    return st.session_state[key]


def compare_by(options: list[str], key: str = "compare_by") -> str | None:
    """The pages' "Compare by" selector (kept in the URL): the chosen dimension, None for none."""
    chosen = url_selectbox(t("Compare by"), ["none", *options], key=key,
                           format_func=lambda c: t("none") if c == "none" else dimension_name(c))
    return None if chosen == "none" else chosen


def demo_banner() -> None:
    if not access.access_configured(config()):
        st.caption(t("Open demo on sample data: no login is configured, everyone sees every district."))


def login_needed() -> bool:
    return access.access_configured(config()) and not current_user()


def login_gate() -> None:
    """When access is configured, nothing is shown before login (OIDC or the local user file).
    Before login Streamlit is still handed a navigation, holding only the login page: a script that
    stops before `st.navigation` makes Streamlit fall back to running pages/*.py for a typed URL."""
    if not login_needed():
        _signed_in_box()
        return
    st.navigation([st.Page(login_page, title=t("Log in"), url_path="login", default=True)], position="hidden").run()
    st.stop()


def require_login() -> None:
    """Every page's first call (through sidebar_filters): a page Streamlit runs directly, without
    dashboard.py (its pages/ fallback on a fresh server), shows the login form and stops too."""
    if login_needed():
        login_page()
        st.stop()
    # such a page has not been through dashboard.py's first-start build either: a shared link
    # (/districts?district=Pishin) as the first visit to a fresh demo server found no database
    if not database_path().exists():
        ensure_database()


def client_id() -> str:
    """Who is trying to log in, for the throttle: the client's address when Streamlit knows it,
    else this browser session."""
    try:
        address = st.context.ip_address
    except Exception:  # no request context (AppTest, bare mode)
        address = None
    if address:
        return f"ip:{address}"
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return f"session:{ctx.session_id if ctx else 'unknown'}"


def login_page() -> None:
    """The login form, in the URL's language (right to left in Urdu), with the language switch."""
    cfg = config()
    st.title(t("Sustain: log in"))
    oidc = _oidc_configured()
    if oidc:
        st.button(t("Log in"), on_click=st.login, key="oidc_login")
    if access.password_file(cfg) is not None:
        with st.form("local_login"):
            user = st.text_input(t("User name"), key="login_user")
            password = st.text_input(t("Password"), type="password", key="login_password")
            submitted = st.form_submit_button(t("Log in"))
        if submitted:
            accepted, locked = access.check_login(cfg, user, password, client_id())
            if accepted:
                st.session_state["sustain_user"] = user
                st.rerun()
            if locked:
                st.error(t("Too many failed log-ins: wait {seconds} s, then try again.", seconds=math.ceil(locked)))
            else:
                st.error(t("Unknown user name or wrong password."))
    elif not oidc:
        st.error(t("Access is configured (access.users) but no login is: set [auth] in .streamlit/secrets.toml "
                   "or access.password_file in the config."))
    language_switch()  # also sets the page right to left


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _signed_in_box() -> None:
    user = current_user()
    if not user:
        return
    scope = viewer_scope()
    with st.sidebar:
        st.caption(t("Signed in as {user}; districts: {districts}", user=user,
                     districts=t("all") if scope is None else (t(", ").join(scope) or t("none assigned"))))
        if st.button(t("Log out"), key="logout"):
            st.session_state.pop("sustain_user", None)
            if getattr(st.user, "is_logged_in", False):
                st.logout()
            st.rerun()


def n_caption(frame: pd.DataFrame, what: str = "teachers", group: str | None = None) -> str:
    """What a chart rests on, and which groups are too few to show."""
    shown = frame.loc[~frame["suppressed"]]
    text = (t("Each point rests on up to {n} observations of {teachers} {what}", n=f"{int(shown['n'].max()):,}",
              teachers=f"{int(shown['teachers'].max()):,}", what=t(what))
            if len(shown) else t("Nothing to show: too few to show"))
    hidden = frame.loc[frame["suppressed"]]
    if len(hidden):
        names = sorted(set(hidden[group].astype(str))) if group and group in hidden else []
        text += t("; ") + t("{hidden} point(s) too few to show (fewer than {min_n} teachers, or hidden with them)",
                            hidden=len(hidden), min_n=config().thresholds.min_group_n)
        text += (": " + t(", ").join(str(data_words(name)) for name in names)) if names else ""
    return text + t(".")


def _percent(value) -> str:
    return "–" if pd.isna(value) else f"{value:.0%}"


def headline_metrics(headline: pd.DataFrame) -> None:
    """The headline figures as metrics, each with its interval and n in words."""
    per_row = 3
    columns = [c for _ in range(0, len(headline), per_row) for c in st.columns(per_row)]
    for column, row in zip(columns, headline.itertuples(index=False)):
        label, note = data_words(row.label), data_words(row.note)
        if row.suppressed:
            column.metric(label, t(TOO_FEW), help=note)
            continue
        if row.figure == "teachers_followed":
            value, detail = f"{int(row.value):,}", note
        elif row.figure == "median_half_life":
            value = f"{row.value:.1f}"
            detail = t("range {range}; n = {n}", range=f"{row.ci_low:.1f}–{row.ci_high:.1f}", n=f"{int(row.n):,}")
        else:
            value = _percent(row.value)
            detail = t("95% CI {range}", range=f"{_percent(row.ci_low)}–{_percent(row.ci_high)}") + t("; ") + \
                f"n = {int(row.n):,}"
        column.metric(label, value, help=note)
        column.caption(detail)


def view_downloads(table: pd.DataFrame, name: str, filters: Filters, key: str) -> None:
    """Download buttons for the table a page shows (CSV or Parquet zipped with a codebook, XLSX
    with a Codebook sheet), suppressed exactly as on screen, formula-like text neutralised."""
    from report.content import readme_indicators
    from report import exports

    scoped = filters.replace(scope=viewer_scope())
    ledger = indicator("import_ledger", filters)
    definition = readme_indicators().get(name, ("", ""))[1]
    about = {"indicator": f"{name}: {definition}" if definition else name}
    shown = display_table(table)
    columns = st.columns(len(exports.BUNDLES))
    for column, fmt in zip(columns, exports.BUNDLES):
        _, mime = exports.BUNDLES[fmt]
        file_name = f"sustain_{name}.{'xlsx' if fmt == 'xlsx' else fmt + '.zip'}"
        column.download_button(
            t("Download {format}", format=fmt.upper()),
            lambda fmt=fmt: exports.data_bundle(shown, scoped, config(), ledger if ledger is not None else pd.DataFrame(),
                                                fmt, privacy=exports.AS_SHOWN, about=about),
            file_name=file_name, mime=mime, key=f"{key}_{fmt}", on_click="ignore")


# the tidy export's downloads: format -> button label (file name and mime: exports.BUNDLES)
TIDY_DOWNLOADS = {"csv": "Download CSV (zip with codebook)", "xlsx": "Download Excel (with codebook)",
                  "parquet": "Download Parquet (zip with codebook)"}


def tidy_downloads(rows: int, filters: Filters, ledger: pd.DataFrame, xlsx_max_rows: int | None = None) -> None:
    """The Data page's download buttons for the tidy export of `rows` rows (metrics "tidy_preview"
    counts them), within the viewer's scope. A file is built only when its button is clicked,
    streamed from DuckDB (`tidy_bundle`). An export larger than one Excel worksheet gets no Excel
    file but a sentence saying so (`xlsx_max_rows`: Excel's limit unless given)."""
    scoped = filters.replace(scope=viewer_scope())
    limit = exports.XLSX_MAX_ROWS if xlsx_max_rows is None else xlsx_max_rows
    for fmt, label in TIDY_DOWNLOADS.items():
        file_name, mime = exports.BUNDLES[fmt]
        too_many = fmt == "xlsx" and rows >= limit  # the header takes a row
        st.download_button(t(label), lambda fmt=fmt: tidy_bundle(scoped, ledger, fmt), file_name=file_name,
                           mime=mime, key=f"download_{fmt}", on_click="ignore", disabled=too_many)
        if too_many:
            st.caption(t("An Excel sheet holds at most {limit} rows of data and these filters give {rows}: "
                         "download CSV or Parquet, or narrow the filters (a district, a practice) for an Excel file.",
                         limit=f"{limit - 1:,}", rows=f"{rows:,}"))


def tidy_bundle(scoped: Filters, ledger: pd.DataFrame, fmt: str) -> bytes:
    """The tidy export of `scoped` (the viewer's scope applied) with its codebook, in `fmt`: read
    from DuckDB in record batches and written batch by batch into a temporary file, so memory
    holds the finished file and one batch, never the export as a table. Runs on a click."""
    import tempfile

    from metrics.records import tidy_batches

    with read_only(database_path()) as con, tempfile.TemporaryFile() as out:
        exports.write_tidy_bundle(tidy_batches(con, scoped, config()), out, scoped, config(), ledger, fmt)
        out.seek(0)
        return out.read()


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The indicator table as shown: suppressed rows say "too few to show" instead of numbers."""
    shown = table.drop(columns=["suppressed"]).astype(object)
    value_columns = [c for c in shown.columns if c not in BY_COLUMNS]
    shown.loc[table["suppressed"].to_numpy(), value_columns] = t(TOO_FEW)
    return column_names(shown)


def column_names(frame: pd.DataFrame) -> pd.DataFrame:
    """A table of the data as shown: its columns named in the current language (the catalogue's
    words for them; a download keeps the data's own names), values that are Sustain's words
    (a school's class, "too few to show") in it too."""
    if current_language() == LANGUAGES[0]:
        return frame
    words = [c for c in frame.columns if frame[c].dtype == object and c not in AS_WRITTEN]
    shown = frame.assign(**{c: frame[c].map(data_words) for c in words}) if words else frame
    return shown.rename(columns=lambda c: column_word(c) if isinstance(c, str) else c)


def column_word(column: str) -> str:
    """A column of the data in words, in the current language."""
    cfg = config()
    code = column.removeprefix("hindrance_")
    if column.startswith("hindrance_") and code in cfg.hindrance_codes:  # the tidy export's hindrance flags
        return f"{t('hindrance')}: {hindrance_label(code)}"
    return t(COLUMN_WORDS.get(column, column))


# columns of the import's records shown as the file held them (a raw row is copied, fixed and imported again)
AS_WRITTEN = {"raw_row", "value", "file", "source_file", "column"}
# the data's column names in words (the indicators' tables and the Data page's records)
COLUMN_WORDS = {d.name: d.label.lower() for d in CATALOGUE} | {
    "teacher_key": "teacher (pseudonymous key)", "n": "n", "rate": "share", "ci_low": "95% CI low",
    "ci_high": "95% CI high", "teachers": "teachers", "observed": "observed", "expected": "expected",
    "run_id": "import run", "file": "file", "source_file": "source file", "kind": "kind of file", "rows_read": "rows read", "rows": "rows read",
    "inserted": "inserted", "updated": "updated", "unchanged": "unchanged", "quarantined": "quarantined",
    "refused": "refused", "reason": "reason", "started_at": "started", "finished_at": "finished",
    "config_version": "config version", "source_sha256": "file fingerprint (SHA-256)", "notes": "notes",
    "row": "row", "column": "column", "rule": "rule", "quarantined_at": "quarantined on", "school_name": "school name",
    "score": "score", "teacher_status": "teacher present?", "visit_date": "visit date", "value": "value",
    "detail": "detail", "raw_row": "raw_row", "retained": "retained", "months": "months since programme end",
    "synced_at": "synced", "source": "source", "fetched": "submissions fetched",
}


# the spinner's words are fixed when the function is defined: English (issue 13 item 14 leaves it)
@st.cache_data(show_spinner="Building the donor pack…", max_entries=16)
def _donor_pack(programme: str, districts: tuple[str, ...], language: str, scope: tuple[str, ...] | None,
                db: str, version: str) -> dict[str, bytes]:
    from report import build_deck, build_html, build_report

    with read_only(db) as con:
        pack = build_report(con, config(), programme, districts, language, scope=scope)
    return {"pptx": build_deck(pack), "html": build_html(pack).encode("utf-8"), "stem": pack.file_stem.encode()}


def donor_pack(programme: str, filters: Filters, language: str) -> dict[str, bytes] | None:
    """The PowerPoint deck and HTML report of `python -m report` for the sidebar's districts,
    within the viewer's scope. None, with the reason shown, when it cannot be built."""
    from report import ReportError

    try:
        return _donor_pack(programme, filters.district, language, viewer_scope(), str(database_path()),
                           _database_version())
    except DataRefreshing:
        st.info(t("The data is refreshing (an import is running). Try again in a moment."))
    except ReportError as exc:
        st.warning(str(exc))
    return None
