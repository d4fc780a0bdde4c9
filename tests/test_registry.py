"""metrics/registry.py: a table grouped by a column the filters pin to one value is shared with the
narrower table (`pinned_columns`, `with_pinned_columns`), so it must equal the table computed with
the column, for every table and column the rule covers, on the real sample."""
import duckdb
import pandas as pd
import pytest

from metrics import Filters
from metrics.registry import PINNING_FILTERS, SHARES_PINNED_GROUPS, TABLES, pinned_columns, with_pinned_columns
from sustain.config import load_config


@pytest.fixture(scope="module")
def sample(sample_db):
    con = duckdb.connect(str(sample_db), read_only=True)
    yield con, load_config()
    con.close()


def _one_value(con, column: str) -> str:
    """The value of `column` with the fewest teachers in the sample, so suppression comes into it."""
    return con.execute(f"""
select {column} from person_period where {column} is not null
group by all order by count(distinct teacher_key), {column} limit 1""").fetchone()[0]


def _assert_shared_equals_computed(con, config, name, filters, by):
    pinned = pinned_columns(name, filters, by)
    assert pinned, (name, filters, by)
    computed = TABLES[name](con, filters, list(by), config)
    narrower = [c for c in by if c not in pinned]
    shared = with_pinned_columns(TABLES[name](con, filters, narrower, config), by, pinned)
    pd.testing.assert_frame_equal(shared, computed, check_exact=False, rtol=1e-12, atol=1e-15)
    return computed


@pytest.mark.parametrize("name", sorted(SHARES_PINNED_GROUPS))
def test_a_pinned_column_shares_the_narrower_table(sample, name):
    con, config = sample
    suppressed_somewhere = False
    for column in PINNING_FILTERS:
        value = _one_value(con, column)
        other = "district" if column != "district" else "programme"
        for extra in ({}, {"gender": ("female",)} if column != "gender" else {"subject": ("maths",)}):
            filters = Filters(**{column: (value,)}, **extra)
            for by in ((other, column), (column, other, "months")):
                table = _assert_shared_equals_computed(con, config, name, filters, by)
                suppressed_somewhere |= bool(table["suppressed"].any()) if "suppressed" in table else False
    assert suppressed_somewhere, "no case reached suppression: the rule's hardest part went untested"


@pytest.mark.parametrize("name", sorted(SHARES_PINNED_GROUPS))
def test_an_officers_one_district_pins_the_district_column(sample, name):
    con, config = sample
    for filters in (Filters(scope=("Pishin",)), Filters(scope=("Pishin",), gender=("female",))):
        assert pinned_columns(name, filters, ("programme", "district")) == {"district": "Pishin"}
        _assert_shared_equals_computed(con, config, name, filters, ("programme", "district"))


def test_a_pinned_column_outside_the_viewers_districts_gives_the_same_empty_table(sample):
    con, config = sample
    filters = Filters(district=("Thatta",), scope=("Pishin",))
    table = _assert_shared_equals_computed(con, config, "retention", filters, ("programme", "district"))
    assert table.empty


def test_what_the_rule_leaves_alone():
    pinned = Filters(district=("Thatta",), hindrance=("low_pay",))
    assert pinned_columns("retention", pinned, ("programme", "district")) == {"district": "Thatta"}
    # a hindrance filter keeps a teacher's every visit; grouping by hindrance splits them
    assert pinned_columns("hindrance_prevalence", pinned, ("hindrance", "district")) == {"district": "Thatta"}
    assert pinned_columns("retention", Filters(district=("Pishin", "Thatta")), ("programme", "district")) == {}
    assert pinned_columns("retention", Filters(scope=("Pishin", "Thatta")), ("programme", "district")) == {}
    assert pinned_columns("retention", Filters(scope=("Pishin", "Thatta"), district=("Thatta",)),
                          ("programme", "district")) == {"district": "Thatta"}
    assert pinned_columns("half_life", pinned, ("programme", "district")) == {}  # not a table of the rule
    assert pinned_columns("retention", pinned, ("district",)) == {}  # every column pinned: computed as asked
