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
