"""The result store (app/result_store.py) and its warming (app/warm.py): tables kept on disk per
data version, shared by server processes; each page's default views (`PAGE_VIEWS`) are the calls
the pages really make."""
from __future__ import annotations

import io
import os
import shutil
import time

import pandas as pd
import pytest

from app import result_store, ui, warm
from metrics import Filters
from metrics.lookups import config_choices, filter_choices
from metrics.registry import TABLES
from sustain.config import load_config
from sustain.db import read_only, version_id
from support import ROOT_DIR, write_config


@pytest.fixture
def db(sample_db, tmp_path):
    """A copy of the sample database of this test's own (its store starts empty)."""
    path = tmp_path / "sustain.duckdb"
    shutil.copyfile(sample_db, path)
    return path


def computed(db, name, filters, by, config):
    with read_only(db) as con:
        return TABLES[name](con, filters, list(by), config)


def test_page_views_are_the_calls_each_page_makes(db, monkeypatch, page_caches):
    """Each page, run with AppTest on its default widgets, asks for exactly PAGE_VIEWS[page] (every
    call of a page goes through the store, which records what it kept): the warm step and the
    benchmark time what the pages do."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SUSTAIN_DB", str(db))
    pages = sorted(p.stem for p in (ROOT_DIR / "pages").glob("*.py"))
    assert pages == sorted(warm.PAGE_VIEWS)
    for page in pages:
        page_caches()
        import streamlit as st
        st.cache_data.clear()
        st.cache_resource.clear()
        shutil.rmtree(result_store.store_folder(db), ignore_errors=True)
        at = AppTest.from_file(str(ROOT_DIR / "pages" / f"{page}.py"), default_timeout=120).run()
        assert not at.exception, (page, at.exception)
        keys = [k for k in result_store.stored_keys(db) if k["name"] != result_store.CHOICES]
        assert {(k["name"], tuple(k["by"])) for k in keys} == set(warm.PAGE_VIEWS[page]), page
        assert all(k["filters"] == result_store.table_key("x", Filters(), (), load_config())["filters"] for k in keys)
        # the tables this process's sessions share are still as kept: the page changed only its own copies
        for k in keys:
            shared = ui._cached_indicator(k["name"], Filters(), tuple(k["by"]), str(db), version_id(db))
            pd.testing.assert_frame_equal(shared, result_store.read_stored(db, version_id(db), k), obj=k["name"])


def test_a_page_starts_the_views_it_asked_for_last_together(db, monkeypatch, page_caches):
    """On a filter change a page starts, on the view threads, exactly the views it asked for on
    its last run (here with "Compare by" gender, not the first render's defaults), and asks for
    nothing else: every view it started is one it uses, each computed once."""
    from streamlit.testing.v1 import AppTest

    from app import together

    monkeypatch.setenv("SUSTAIN_DB", str(db))
    page_caches()
    shutil.rmtree(result_store.store_folder(db), ignore_errors=True)
    at = AppTest.from_file(str(ROOT_DIR / "pages" / "practices.py"), default_timeout=120).run()
    at.selectbox(key="compare_by").set_value("gender").run()
    assert not at.exception
    asked = {("retention", ("programme",)), ("half_life", ("practice",)), ("retention", ("practice", "gender")),
             ("half_life", ("practice", "gender")), ("survival", ("gender",))}
    assert set(at.session_state[ui._PAGE_VIEWS_ASKED]["practices"]) == asked

    started = together.jobs_started()
    at.multiselect(key="filter_district").set_value(["Pishin"]).run()
    assert not at.exception
    assert together.jobs_started() - started == len(asked)
    kept = {(k["name"], tuple(k["by"])) for k in result_store.stored_keys(db)
            if k["name"] != result_store.CHOICES and k["filters"]["district"] == ["Pishin"]}
    assert kept == asked


def test_a_district_officers_overview_computes_retention_by_programme_once(db, monkeypatch, page_caches):
    """With one district chosen, the Overview's retention by programme and district is the table by
    programme with the district in a column (metrics/registry.py `pinned_columns`): computed and
    kept once, by programme; the page shows the district's figures from it. The warm keeps the
    same narrower tables for a district."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SUSTAIN_DB", str(db))
    page_caches()
    shutil.rmtree(result_store.store_folder(db), ignore_errors=True)
    at = AppTest.from_file(str(ROOT_DIR / "pages" / "overview.py"), default_timeout=120)
    at.query_params["district"] = "Pishin"
    at.run()
    assert not at.exception
    assert ("retention", ("programme", "district")) in at.session_state[ui._PAGE_VIEWS_ASKED]["overview"]
    kept = {(k["name"], tuple(k["by"])) for k in result_store.stored_keys(db)
            if k["name"] == "retention" and k["filters"]["district"] == ["Pishin"]}
    assert kept == {("retention", ("programme",))}
    shown = [frame.value for frame in at.dataframe if "District" in frame.value.columns]
    assert len(shown) == 1 and len(shown[0]) and set(shown[0]["District"]) == {"Pishin"}, shown

    shutil.rmtree(result_store.store_folder(db), ignore_errors=True)
    config = load_config()
    places = [(label, filters) for label, filters in warm.places(db, config, ("district",)) if filters.district == ("Pishin",)]
    monkeypatch.setattr(warm, "places", lambda *args, **kwargs: places)
    assert warm.warm(db, config, ("district",), out=io.StringIO()) == 0
    kept = {(k["name"], tuple(k["by"])) for k in result_store.stored_keys(db) if k["name"] == "retention"}
    assert kept == {("retention", by) for by in [("programme",), ("practice",)]}


def test_views_run_together_give_each_result_in_order_and_the_first_failure():
    from app import together

    assert together.run_all([lambda: 1, lambda: "two", lambda: [3]]) == [1, "two", [3]]
    ended = []

    def slow():
        time.sleep(0.2)
        ended.append("slow")
        return "slow"

    with pytest.raises(ZeroDivisionError):
        together.run_all([lambda: 1 / 0, slow])
    assert ended == ["slow"]  # the failure was raised once every job had ended
    # the views' threads are the parallelism: numpy's and scipy's BLAS run one thread each
    from threadpoolctl import threadpool_info

    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    assert blas and all(info["num_threads"] == 1 for info in blas)


def test_a_kept_table_reads_back_exactly_as_computed(db):
    """Every default view, computed and kept, then read back: same columns, dtypes, values and
    attrs (lists stay lists, the preview's row count stays), under filters of every kind (the
    unfiltered views are read back in the page test above)."""
    config = load_config()
    filters = Filters(district=("Pishin", "Quetta"), hindrance=("no_followup",), scope=("Pishin", "Quetta", "Thatta"))
    for name, by in warm.default_views():
        expected = computed(db, name, filters, by, config)
        first = result_store.stored_table(name, filters, by, db, config)  # not kept yet: computed
        kept = result_store.read_stored(db, version_id(db), result_store.table_key(name, filters, by, config))
        assert kept is not None, name
        pd.testing.assert_frame_equal(kept, first, check_exact=True, obj=name)
        pd.testing.assert_frame_equal(with_python_lists(kept), expected, check_exact=True, obj=name)
        assert kept.attrs == first.attrs == expected.attrs, name


def with_python_lists(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its Arrow list columns as the Python lists the metrics give."""
    return frame.assign(**{name: pd.Series(frame[name].tolist(), index=frame.index, dtype=object)
                           for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.ArrowDtype)})


def test_retention_by_round_reads_back_as_lists_and_the_districts_table_shows_them(db, tmp_path):
    """school_trends' retention lists, with values (a threshold of 1 shows every school's) and
    None for a round without one, read back from the store as Arrow list columns: a row's cell is
    the same list, and the Districts page's table gets them as lists (Streamlit cannot convert a
    slice of an Arrow list column; it aborted the process)."""
    from app.charts_analysis import listed_schools

    config = load_config(write_config(tmp_path, **{"thresholds.min_group_n": 1}))
    expected = computed(db, "school_trends", Filters(), (), config)
    assert any(v is not None for cell in expected["retention"] for v in cell), "no retention to carry"
    result_store.stored_table("school_trends", Filters(), (), db, config)
    kept = result_store.read_stored(db, version_id(db), result_store.table_key("school_trends", Filters(), (), config))
    assert isinstance(kept["retention_trend"].dtype, pd.ArrowDtype)
    for row in range(len(expected)):
        assert kept.iloc[row]["retention"] == expected.iloc[row]["retention"], row
    listed = listed_schools(kept[kept["district"] == "Pishin"])
    assert listed["retention_trend"].dtype == object
    assert listed["retention_trend"].tolist() == expected.loc[expected["district"] == "Pishin", "retention_trend"].tolist()


def test_new_data_config_or_filters_are_never_answered_from_an_older_table(db, tmp_path):
    config = load_config()
    key = result_store.table_key("retention", Filters(), ("programme",), config)
    result_store.stored_table("retention", Filters(), ("programme",), db, config)
    before = version_id(db)
    assert result_store.read_stored(db, before, key) is not None
    # another threshold (config) or another filter: another key
    stricter = load_config(write_config(tmp_path, **{"thresholds.min_group_n": 1000}))
    assert result_store.table_key("retention", Filters(), ("programme",), stricter) != key
    assert result_store.table_key("retention", Filters(district=("Quetta",)), ("programme",), config) != key
    suppressed = result_store.stored_table("retention", Filters(), ("programme",), db, stricter)
    assert suppressed["suppressed"].all()
    # new data (any write moves the version): computed again, not read from the older version
    os.utime(db, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert version_id(db) != before
    assert result_store.read_stored(db, version_id(db), key) is None
    assert result_store.stored_keys(db) == []


def test_a_damaged_or_planted_file_is_computed_again(db):
    config = load_config()
    name, filters, by = "retention", Filters(), ("programme",)
    expected = result_store.stored_table(name, filters, by, db, config)
    version = version_id(db)
    folder = result_store._version_folder(db, version)
    (path,) = folder.glob("*" + result_store.SUFFIX_TABLE)
    path.write_bytes(b"not an Arrow file")
    assert result_store.read_stored(db, version, result_store.table_key(name, filters, by, config)) is None
    pd.testing.assert_frame_equal(result_store.stored_table(name, filters, by, db, config), expected)
    # a file holding another table under this key's name is not served
    other = result_store.stored_table("coverage", filters, ("months",), db, config)
    shutil.copyfile(next(p for p in folder.glob("*" + result_store.SUFFIX_TABLE) if p != path), path)
    assert result_store.read_stored(db, version, result_store.table_key(name, filters, by, config)) is None
    assert len(other)


def test_a_store_that_cannot_be_written_leaves_the_tables_computed(db):
    result_store.store_folder(db).write_text("a file where the folder should be")
    config = load_config()
    table = result_store.stored_table("retention", Filters(), ("programme",), db, config)
    pd.testing.assert_frame_equal(table, computed(db, "retention", Filters(), ("programme",), config))


def test_folders_of_older_versions_are_removed_after_the_grace_period(db):
    config = load_config()
    old = result_store.store_folder(db) / "an-older-version"
    recent = result_store.store_folder(db) / "a-recent-version"
    old.mkdir(parents=True)
    recent.mkdir()
    long_ago = time.time() - config.publish.grace_seconds - 60
    os.utime(old, (long_ago, long_ago))
    result_store.stored_table("retention", Filters(), ("programme",), db, config)
    assert not old.exists() and recent.exists()


def test_warm_keeps_every_default_view_of_each_place_once(db):
    out = io.StringIO()
    assert warm.main(["--db", str(db), "--levels", "country"]) == 0
    keys = result_store.stored_keys(db)
    assert sorted((k["name"], tuple(k["by"])) for k in keys) == sorted(warm.default_views() + [(result_store.CHOICES, ())])
    assert warm.warm(db, load_config(), ("country",), out=out) == 0
    assert out.getvalue().splitlines()[-1].startswith("warmed 1 places x 17 views: 0 tables computed in")
    labels = [label for label, _ in warm.places(db, load_config(), warm.LEVELS)]
    assert labels[:3] == ["country", "province Balochistan", "province Sindh"] and len(labels) == 9
    by_factor = list(warm.places(db, load_config(), ("country",), factors=True))
    config = load_config()
    with read_only(db) as con:
        values = {**filter_choices(con, None), **config_choices(config)}
    assert len(by_factor) == 1 + sum(len(values[factor]) for factor in warm.FACTORS)
    assert len(config.hindrance_codes) == 8 and {"hindrance", "practice", "gender"} <= set(warm.FACTORS)
    assert ("country, hindrance no_followup", Filters(hindrance=("no_followup",))) in by_factor
    assert ("country, gender female", Filters(gender=("female",))) in by_factor


def test_warm_takes_each_configured_viewers_scope(db, tmp_path):
    config = load_config(write_config(tmp_path, **{"access.users": {"officer": ["Quetta"], "manager": ["*"]}}))
    assert warm.viewer_scopes(config) == [None, ("Quetta",)]
    labels = [label for label, _ in warm.places(db, config, ("country", "district"))]
    assert "country (as a viewer of Quetta)" in labels and "district Quetta (as a viewer of Quetta)" in labels
    assert not any("Thatta" in label and "viewer" in label for label in labels)


def test_warm_says_what_is_wrong(db, tmp_path, capsys):
    assert warm.main(["--db", str(db), "--levels", "city"]) == 2
    assert "--levels takes country, province, district, not city" in capsys.readouterr().err
    assert warm.main(["--db", str(tmp_path / "missing.duckdb")]) == 2
    assert "error:" in capsys.readouterr().err


def test_readme_states_the_stores_limit():
    text = (ROOT_DIR / "README.md").read_text(encoding="utf-8")
    assert f"holds at most {result_store.MAX_TABLES:,} tables" in text
    assert "python -m app.warm [--db PATH] [--config PATH] [--levels country,province,district] [--factors]" in text


@pytest.mark.parametrize("scope", [None, ("Quetta", "Thatta")])
def test_the_sidebars_choices_are_kept_as_computed(db, scope):
    config = load_config()
    with read_only(db) as con:
        expected = filter_choices(con, scope)
    assert result_store.stored_choices(db, scope, config) == expected
    kept = result_store.read_stored(db, version_id(db), result_store.table_key(result_store.CHOICES, Filters(scope=scope), (), config))
    assert kept is not None and list(kept.attrs["dimensions"]) == list(expected)
    assert result_store.stored_choices(db, scope, config) == expected
    if scope:
        assert expected["district"] == ["Quetta", "Thatta"]


def test_a_fitted_model_is_kept_once_and_read_by_the_next_process_with_the_same_figures(db, monkeypatch):
    """Retention's model (metrics/as_scored.py), fitted by the first view a process computes, is
    kept in the store's `models` folder of the data version; a process without it in memory (a
    restart, another server) reads it back instead of fitting it again, and its figures are those
    of a fitted model to the last digit. A damaged part is fitted again."""
    from metrics import as_scored

    config = load_config()
    fits = []
    real_fit = as_scored._fit
    monkeypatch.setattr(as_scored, "_fit", lambda con, cfg: fits.append(1) or real_fit(con, cfg))
    as_scored._fits.clear()
    result_store.stored_table("retention", Filters(district=("Thatta",)), ["programme"], db, config)
    models = result_store._version_folder(db, version_id(db)) / result_store.MODELS
    assert len(fits) == 1 and len(list(models.glob("*" + result_store.SUFFIX_TABLE))) == len(as_scored.MODEL_PARTS)

    as_scored._fits.clear()  # another process
    view = (Filters(gender=("female",)), ["district"])
    from_kept = result_store.stored_table("retention", *view, db, config)
    assert len(fits) == 1  # read, not fitted
    as_scored._fits.clear()
    pd.testing.assert_frame_equal(from_kept, computed(db, "retention", *view, config), check_dtype=False)
    assert len(fits) == 2  # `computed` has no keeper: it fitted

    for path in models.glob("*" + result_store.SUFFIX_TABLE):
        path.write_bytes(b"not an arrow file")
    as_scored._fits.clear()
    again = result_store.stored_table("retention", Filters(gender=("male",)), ["district"], db, config)
    assert len(fits) == 3 and not again.empty  # fitted again, and kept again
    as_scored._fits.clear()
    result_store.stored_table("retention", Filters(school_type=("primary",)), ["district"], db, config)
    assert len(fits) == 3
