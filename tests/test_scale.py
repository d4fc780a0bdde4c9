"""National-scale building blocks (issue 12): the school bootstrap's weights in bounded memory and
products with them, equal to the plain computation; the Overview's figures read from the indicators
they summarise without building the pages' tables, and equal to them; a district's rows are stored
together, keyed so that DuckDB reads only that district's row groups."""
import re

import duckdb
import numpy as np
import pytest
from scipy import sparse

from metrics import Filters, stats
from metrics.base import TOO_FEW
from metrics import overview
from metrics.schools import DECAYING, school_trends
from ingest.model import CELL_TABLES, MODEL_TABLES
from sustain.config import load_config


def test_bootstrap_weights_are_the_single_draw_held_in_one_byte_and_kept(monkeypatch):
    monkeypatch.setattr(stats, "BOOTSTRAP_BLOCK_CELLS", 7_000)  # several blocks of replicates
    schools, replicates, seed = 3_001, 40, 11
    weights = stats.school_bootstrap_weights(schools, replicates, seed)
    expected = np.random.default_rng(seed).multinomial(schools, np.full(schools, 1.0 / schools), size=replicates)
    assert weights.dtype.itemsize == 1 and not weights.flags.writeable
    assert np.array_equal(weights, expected)
    assert stats.school_bootstrap_weights(schools, replicates, seed) is weights


def test_replicate_totals_equal_one_product_dense_and_sparse(monkeypatch):
    monkeypatch.setattr(stats, "BOOTSTRAP_BLOCK_CELLS", 1_000)
    rng = np.random.default_rng(3)
    weights = stats.school_bootstrap_weights(301, 30, 5)
    totals = rng.integers(0, 9, size=(301, 4)).astype("float64")
    expected = weights.astype("float64") @ totals
    assert np.array_equal(stats.replicate_totals(weights, totals), expected)
    assert np.array_equal(stats.replicate_totals(weights, sparse.csc_matrix(totals)), expected)


def test_replicate_totals_are_exact_beyond_float32s_whole_numbers():
    """Whole-number totals are multiplied in float32; a column whose sums reach 2**23 is multiplied
    again in float64 (float32 holds whole numbers exactly below 2**24 only), and fractional totals
    go straight to float64: the result equals the float64 product in every case."""
    rng = np.random.default_rng(8)
    weights = stats.school_bootstrap_weights(500, 40, 2)
    small = rng.integers(0, 50, size=(500, 3)).astype("float64")
    large = small.copy()
    large[:, 1] += 3_000_000  # replicate sums about 1.5e9: float32 would round them
    fractional = small + rng.random((500, 3))
    for totals in (small, large):
        expected = weights.astype("float64") @ totals
        assert np.array_equal(stats.replicate_totals(weights, totals), expected)
        assert np.array_equal(stats.replicate_totals(weights, sparse.csc_matrix(totals)), expected)
        assert np.array_equal(stats.replicate_totals(weights, totals[:, 1]), expected[:, 1])
    # fractions are summed in float64 (in another order by the sparse product: to rounding)
    expected = weights.astype("float64") @ fractional
    assert np.array_equal(stats.replicate_totals(weights, fractional), expected)
    np.testing.assert_allclose(stats.replicate_totals(weights, sparse.csc_matrix(fractional)), expected, rtol=1e-13)
    assert not np.array_equal((weights.astype("float32") @ large.astype("float32")).astype("float64"),
                              weights.astype("float64") @ large)  # the premise: float32 alone is wrong


# the Overview's share of schools decaying, read from persistence, is the Districts page's table's
OVERVIEW_VIEWS = [Filters(), Filters(programme=("CBT",), gender=("female",), hindrance=("low_pay",), months_min=6)]


@pytest.mark.parametrize("filters", OVERVIEW_VIEWS, ids=lambda f: f.describe())
def test_the_overviews_schools_decaying_are_the_districts_pages(sample_db, filters):
    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        config = load_config()
        row = overview._schools_decaying(con, filters, config)
        table = school_trends(con, filters, [], config)
    finally:
        con.close()
    judged = table[table["persistence_class"] != TOO_FEW]
    assert len(judged) > 0 and row["n"] == len(judged)
    assert row["value"] == pytest.approx((judged["persistence_class"] == DECAYING).mean(), rel=1e-12)
    assert row["months"] == judged["round"].dropna().iloc[0]


def test_percentile_interval_is_nanpercentile_column_by_column():
    """Columns without NaN go through one vectorised percentile, those with some through
    nanpercentile, all-NaN ones are NaN: the same numbers as nanpercentile over the whole array."""
    import warnings

    rng = np.random.default_rng(2)
    values = rng.random((300, 40, 6))
    values[:, 3, :] = np.nan                      # a group without an interval
    values[rng.random(values.shape) < 0.002] = np.nan  # a few replicates with nobody at risk
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = (np.nanpercentile(values, 2.5, axis=0), np.nanpercentile(values, 97.5, axis=0))
    low, high = stats.percentile_interval(values)
    assert np.isnan(low[3]).all() and np.isfinite(low[0]).all()
    np.testing.assert_array_equal(low, expected[0])
    np.testing.assert_array_equal(high, expected[1])
    assert float(stats.percentile_interval(np.array([1.0, 2.0, 3.0]))[0]) == np.percentile([1.0, 2.0, 3.0], 2.5)


def test_every_model_row_carries_its_districts_key_and_a_districts_rows_are_stored_together(sample_db):
    """Every row and cell's `district_key` is the key of its own district (a district filter tests
    it: a wrong key would drop rows), and the rows of the model's tables are stored district by
    district (the order the row groups' min and max skip the others by)."""
    con = duckdb.connect(str(sample_db), read_only=True)
    try:
        for table in (*MODEL_TABLES, *CELL_TABLES):
            wrong, rows = con.execute(f"select count(*) filter (where district_key is distinct from "
                                      f"md5_number_upper(district)), count(*) from {table}").fetchone()
            assert rows and wrong == 0, table
        for table in MODEL_TABLES:
            scattered = con.execute(f"""select district from {table} group by district
                                        having max(rowid) - min(rowid) + 1 <> count(*)""").fetchall()
            assert scattered == [], table
    finally:
        con.close()


def test_a_district_filter_reads_only_that_districts_row_groups_when_names_share_their_start(tmp_path):
    """DuckDB keeps only the first bytes of a text's min and max per row group: with districts
    named alike, a filter on the name alone reads every row group; with the key (`keyed`) it reads
    the district's own, and the same rows pass."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{tmp_path / 'alike.duckdb'}' as alike (row_group_size 2048, storage_version 'v1.2.0')")
        con.execute("""create table alike.rows as
                       select 'Karachi District ' || lpad((i // 5000)::varchar, 3, '0') as district, i
                       from range(100000) t(i)""")
        con.execute("""create table alike.stored as
                       select *, md5_number_upper(district) as district_key from alike.rows
                       order by district_key, i""")
        filters = Filters(district=("Karachi District 007",))
        scanned = {}
        for keyed in (False, True):
            where, params = filters.where("visit", keyed=keyed)
            assert con.execute(f"select count(*) from alike.stored where {where}", params).fetchone() == (5000,)
            plan = con.execute(f"explain analyze select count(*) from alike.stored where {where}", params).fetchall()
            scanned[keyed] = int(re.search(r"Row Groups Scanned: (\d+) /", plan[0][1]).group(1))
        assert scanned[False] == 49 and scanned[True] <= 5000 // 2048 + 2
        # a viewer's scope of two districts, tested by their keys too
        where, params = Filters(scope=("Karachi District 003", "Karachi District 011")).where("visit", keyed=True)
        assert con.execute(f"select count(*) from alike.stored where {where}", params).fetchone() == (10000,)
    finally:
        con.close()


def test_the_model_relations_filters_test_the_district_key():
    """The readers of the analysis model's rows and cells ask for the key with a district or a
    viewer's scope (`keyed`), so DuckDB skips the other districts' row groups: the rows'
    relation (`filtered_rows`, every indicator reading rows), the visits' place a hindrance
    filter narrows to, and the rollups' cells."""
    from metrics.base import filtered_rows, view_hindrance_teachers
    from metrics.rollups import school_cells_sql

    for filters in (Filters(district=("Thatta",)), Filters(scope=("Thatta", "Quetta"))):
        assert "district_key" in filtered_rows([], filters)[0]
        assert "district_key" in filtered_rows(["practice"], filters, "placed_visits")[0]
        assert "district_key" in view_hindrance_teachers(filters.replace(hindrance=("low_pay",)))
        assert "district_key" in school_cells_sql("retention", "core", ["programme", "months"], filters)[0]
    assert "district_key" not in filtered_rows([], Filters(province=("Sindh",)))[0]
