"""Years of teaching experience, a roster column and a dimension declared once in the catalogue
(sustain/dimensions.py): it flows through the roster import, the analysis model, Filters, --by,
the sidebar's choices and the codebook with no other change."""
import duckdb
import pytest

from metrics import BY_COLUMNS, Filters
from metrics.indicators import retention
from metrics.lookups import filter_choices
from report.exports import COLUMN_DOCS
from sustain.config import load_config

BANDS = {"0-4", "5-9", "10-19", "20+"}


@pytest.fixture(scope="module")
def sample(sample_db):
    con = duckdb.connect(str(sample_db), read_only=True)
    yield con, load_config()
    con.close()


def test_the_roster_column_is_kept_and_banded(sample):
    con, _ = sample
    stored = con.execute("select count(*) from teachers where attributes['years_experience'] is not null").fetchone()[0]
    assert stored == con.execute("select count(*) from teachers").fetchone()[0] > 0
    bands = {row[0] for row in con.execute("select distinct experience_band from person_period").fetchall()}
    assert bands <= BANDS and len(bands) >= 3


def test_retention_by_and_filtered_on_experience(sample):
    con, config = sample
    assert "experience_band" in BY_COLUMNS and BY_COLUMNS[-1] == "experience_band"
    table = retention(con, Filters(), by=["experience_band"], config=config)
    assert set(table["experience_band"].dropna()) <= BANDS and len(table) > 0
    narrowed = retention(con, Filters(experience_band=("20+",)), by=["experience_band"], config=config)
    assert set(narrowed["experience_band"]) == {"20+"}
    assert Filters.from_pairs([("experience_band", "5-9")]).experience_band == ("5-9",)


def test_sidebar_choices_and_codebook(sample):
    con, _ = sample
    assert set(filter_choices(con, None)["experience_band"]) <= BANDS
    assert "years_experience" in COLUMN_DOCS["experience_band"][0]


def test_bands_are_listed_in_the_catalogues_order_not_as_text(sample):
    """Sidebar choices, indicator tables, chart groups and the donor pack's labels follow the
    catalogue (sustain/dimensions.py): 5-9 before 10-19, though "10-19" < "5-9" as text."""
    from app.charts import retention_curve
    from report.labels import text
    from sustain.dimensions import BY_NAME, EXPERIENCE_BANDS

    con, config = sample
    choices = filter_choices(con, None)["experience_band"]
    assert choices == [b for b in EXPERIENCE_BANDS if b in choices] and {"5-9", "10-19"} <= set(choices)
    table = retention(con, Filters(), by=["experience_band"], config=config)
    listed = list(dict.fromkeys(table["experience_band"].dropna()))
    assert listed == [b for b in EXPERIENCE_BANDS if b in listed] and {"5-9", "10-19"} <= set(listed)
    figure = retention_curve(table, "experience_band", "retention")
    drawn = [trace.name for trace in figure.data]
    assert [b for b in EXPERIENCE_BANDS if b in drawn] == [d for d in drawn if d in EXPERIENCE_BANDS]
    assert {"5-9", "10-19"} <= set(drawn)
    for key, name in (("programme", "programme"), ("months_axis", "months")):
        assert text(key, "ur") == BY_NAME[name].label_ur
        assert text(key, "en").lower() == BY_NAME[name].label.lower()
