"""Indicators on the bundled sample data: every filter and --by column is accepted, the
generator's true half-lives are recovered, and the cross-checks that need real volume."""
import json

import duckdb
import pytest

from metrics import BY_COLUMNS, FilterError, Filters
from metrics.registry import INDICATORS
from sustain.config import load_config
from support import ROOT_DIR

TRUTH = json.loads((ROOT_DIR / "sample_data" / "truth.json").read_text(encoding="utf-8"))
# a value for every filter that exists in the sample
ONE_OF_EACH = dict(programme=("CBM",), province=("Sindh",), district=("Thatta",), cluster=("THA-C1",),
                   school_type=("primary",), gender=("female",), subject=("maths",), practice=("group_work",),
                   hindrance=("low_pay",), months_min=0, months_max=12)


@pytest.fixture(scope="module")
def sample(sample_db):
    con = duckdb.connect(str(sample_db), read_only=True)
    yield con, load_config()
    con.close()


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_every_indicator_accepts_every_by_column(sample, name):
    con, config = sample
    for column in BY_COLUMNS:
        try:
            table = INDICATORS[name](con, Filters(), [column], config)
        except FilterError as refused:  # only where the column cannot apply, with a reason
            assert column in str(refused)
            continue
        assert column in table.columns and "n" in table.columns and "suppressed" in table.columns, (name, column)
        assert len(table) > 0, (name, column)


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_every_indicator_accepts_every_filter(sample, name):
    con, config = sample
    everyone = INDICATORS[name](con, Filters(), [], config)
    for field, value in ONE_OF_EACH.items():
        narrowed = INDICATORS[name](con, Filters(**{field: value}), [], config)
        assert "n" in narrowed.columns, (name, field)
    nothing = INDICATORS[name](con, Filters(district=("x' OR 1=1 --",)), [], config)
    assert nothing["n"].fillna(0).sum() == 0 or nothing["suppressed"].all(), name
    assert len(everyone) > 0


def test_half_lives_recover_the_generator_truth(sample):
    con, config = sample
    table = half_life(con, Filters(), ["programme", "practice"], config)
    truth = TRUTH["half_life_months"]
    for row in table.itertuples():
        true_value = truth[row.programme][row.practice]
        assert abs(row.half_life_months - true_value) <= 0.25 * true_value, (row.programme, row.practice)
        assert row.ci_low < row.half_life_months < row.ci_high
    # coached practices last longer than training-only ones, as generated
    by_programme = half_life(con, Filters(), ["programme"], config).set_index("programme")["half_life_months"]
    assert by_programme["CBM"] > 1.5 * by_programme["CBT"]


def test_filter_values_are_literals(sample):
    con, config = sample
    for hostile in ("x' OR 1=1 --", "Thatta'; drop table visits; --", "%", "*"):
        table = INDICATORS["retention"](con, Filters(district=(hostile,)), [], config)
        assert table.empty
    assert con.execute("select count(*) from visits").fetchone()[0] > 5000


from metrics.decay import half_life  # noqa: E402
