"""Suppression on distinct teachers, with complementary suppression within every parent group
(`metrics.base.suppress`), and the intervals clustered by school of retention and prevalence.

- the rule on small frames worked by hand;
- the recovery audit: for several filter sets on the bundled sample, every table the app shows for
  them (retention and prevalence overall, by province, district, cluster, school_id + district;
  the Overview's headline; the Districts page's school_trends) is read as an attacker would: each
  shown parent minus its shown children, at each round; no suppressed cell's teachers, n or
  retained may come out exactly, and no shown cell may rest on fewer than min_group_n teachers;
- the clustered standard error against statsmodels on the sample.
"""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import duckdb

from metrics import Filters
from metrics.base import HIERARCHY, school_hierarchy, suppress
from metrics.indicators import prevalence, retention
from metrics.overview import headline
from metrics.schools import school_trends
from metrics.stats import Z95, clustered_ratio_interval, clustered_ratio_intervals
from sustain.config import load_config

SCHOOLS = pd.DataFrame({
    "school_id": ["A1", "A2", "A3", "B1", "B2", "C1", "C2"],
    "cluster": ["CA", "CA", "CA", "CB", "CB", "CC", "CC"],
    "district": ["D1", "D1", "D1", "D1", "D1", "D2", "D2"],
    "province": ["P"] * 7,
})


def cells(teachers, n=None, retained=None):
    frame = SCHOOLS[["school_id"]].assign(months=12, teachers=teachers)
    frame["n"] = n if n is not None else [2 * t for t in teachers]
    frame["retained"] = retained if retained is not None else [t for t in teachers]
    return frame


def hidden(frame, **kwargs):
    table = suppress(frame, ["school_id", "months"], ["n", "retained", "teachers"], 5, hierarchy=SCHOOLS, **kwargs)
    return sorted(table.loc[table["suppressed"], "school_id"])


def test_one_suppressed_school_takes_the_smallest_of_its_cluster():
    # A1 rests on 3 teachers: alone in cluster CA, so the smaller of A2 (6) and A3 (9) goes with it;
    # then CA has two, D1 two, nothing else is touched
    assert hidden(cells([3, 6, 9, 7, 8, 20, 30])) == ["A1", "A2"]


def test_a_school_alone_in_its_cluster_is_protected_within_its_district():
    # B1 (2 teachers) and B2 (4) fill cluster CB: both suppressed, CB has no shown school, D1 has two
    assert hidden(cells([6, 7, 9, 2, 4, 20, 30])) == ["B1", "B2"]
    # C1 alone suppressed in CC: C2 goes with it (district D2 = cluster CC here)
    assert hidden(cells([6, 7, 9, 8, 8, 2, 30])) == ["C1", "C2"]


def test_suppressed_cells_each_on_one_teacher_take_one_more():
    # A1 and A2 rest on one teacher each: CA's teachers minus A3's would be 2 = 1 + 1, so A3 goes too
    assert hidden(cells([1, 1, 9, 8, 8, 20, 30])) == ["A1", "A2", "A3"]
    # 1 + 2 teachers: the pair cannot be told apart, nothing more
    assert hidden(cells([1, 2, 9, 8, 8, 20, 30])) == ["A1", "A2"]


def test_a_zero_total_over_suppressed_cells_takes_a_nonzero_one():
    # A1, A2 retained 0: CA's retained minus A3's would be 0, telling both; A3 (retained 4) goes too
    frame = cells([2, 3, 9, 8, 8, 20, 30], retained=[0, 0, 4, 1, 1, 1, 1])
    assert hidden(frame) == ["A1", "A2", "A3"]


def test_parents_come_from_the_frame_or_the_hierarchy_and_months_is_no_whole():
    frame = cells([3, 6, 9, 7, 8, 20, 30]).merge(SCHOOLS, on="school_id")
    table = suppress(frame, ["school_id", "months"], ["n"], 5)  # cluster, district, province in the frame
    assert sorted(table.loc[table["suppressed"], "school_id"]) == ["A1", "A2"]
    # without any parent: the whole table is the parent (A2 is the next smallest of all schools)
    bare = suppress(cells([3, 6, 9, 7, 8, 20, 30]), ["school_id", "months"], ["n"], 5)
    assert sorted(bare.loc[bare["suppressed"], "school_id"]) == ["A1", "A2"]
    rounds = pd.DataFrame({"months": [0, 3, 6], "teachers": [9, 2, 9], "n": [9, 2, 9]})
    assert suppress(rounds, ["months"], ["n"], 5)["suppressed"].tolist() == [False, True, False]


def test_n_column_and_blanking():
    frame = cells([3, 6, 9, 7, 8, 20, 30])
    table = suppress(frame, ["school_id", "months"], ["n", "teachers"], 5, hierarchy=SCHOOLS)
    assert table.loc[table["suppressed"], ["n", "teachers"]].isna().all().all()
    assert str(table["n"].dtype) == "Int64"
    # counting on n instead: A1 (n 6) is not under 5 then
    assert not suppress(frame, ["school_id", "months"], ["n"], 5, n_column="n", hierarchy=SCHOOLS)["suppressed"].any()


# -- the recovery audit on the bundled sample -----------------------------------------------------

FILTER_SETS = {
    "none": Filters(),
    "school_type=high": Filters(school_type=("high",)),
    "district=Thatta": Filters(district=("Thatta",)),
    "gender=female, subject=maths": Filters(gender=("female",), subject=("maths",)),
    "programme=CBT, school_type=middle": Filters(programme=("CBT",), school_type=("middle",)),
}
# each level's tables, and the levels above it (None: the overall table)
LEVEL_BY = {None: [], "province": ["province"], "district": ["district"], "cluster": ["cluster"],
            "school_id": ["district", "school_id"]}


def shown_tables(con, filters, config):
    """Every table the app shows for the filter set, as cells per indicator and level."""
    tables = {}
    for name, indicator in (("retention", retention), ("prevalence", prevalence)):
        for level, by in LEVEL_BY.items():
            tables[name, level] = indicator(con, filters, by, config)
    return tables


# parent groups whose every part is suppressed while the parent's teachers equal the number of parts
headcount_only: list = []


def recoveries(tables, hierarchy, columns) -> list[str]:
    """What an attacker recovers by subtracting shown children from a shown parent at one round:
    a suppressed child alone in its parent's group, or suppressed children whose total is their
    smallest possible (one teacher, one teacher-practice each; 0 retained while the parent's is
    not 0)."""
    found = []
    levels = [None, *HIERARCHY]
    headcount_only.clear()
    for child in HIERARCHY:
        for parent in levels[:levels.index(child)]:
            children = tables[child].copy()
            if parent is None:
                children["parent"] = "all"
            else:
                mapping = hierarchy[[child, parent]].drop_duplicates().set_index(child)[parent]
                children["parent"] = children[child].map(mapping)
            parents = tables[parent].copy()
            parents["parent"] = "all" if parent is None else parents[parent]
            parents = parents[~parents["suppressed"]].set_index(["parent", "months"])
            for (key, month), group in children.groupby(["parent", "months"]):
                if (key, month) not in parents.index:
                    continue
                hidden_cells = group[group["suppressed"]]
                if hidden_cells.empty:
                    continue
                total = parents.loc[(key, month)]
                for column in columns:
                    if column == "retained" and total[column] == 0:
                        # a parent at 0 retained says so of every part (a 0% cluster has 0% schools):
                        # shown by design, not a recovery by subtraction
                        continue
                    rest = float(total[column]) - float(group.loc[~group["suppressed"], column].sum())
                    floor = 0 if column == "retained" else len(hidden_cells)
                    if column == "teachers" and rest == floor and len(hidden_cells) == len(group) > 1:
                        # every part suppressed and the parent's head count equals their number: each
                        # has one teacher. Nothing is left to suppress with them; only the head count
                        # (not n, not retained) is told: counted apart (see headcount_only)
                        headcount_only.append((child, parent, key, month))
                        continue
                    if len(hidden_cells) == 1 or rest == floor:
                        found.append(f"{child} {list(hidden_cells[child])} {column} at month {month}: "
                                     f"{parent or 'overall'} {key} - shown = {rest:g}")
    return found


@pytest.fixture(scope="module")
def sample(sample_db):
    con = duckdb.connect(str(sample_db), read_only=True)
    yield con, load_config(), school_hierarchy(con)
    con.close()


@pytest.mark.parametrize("name", list(FILTER_SETS))
def test_no_suppressed_cell_is_recovered_from_the_tables_shown(sample, name):
    con, config, hierarchy = sample
    filters = FILTER_SETS[name]
    minimum = config.thresholds.min_group_n
    tables = shown_tables(con, filters, config)
    # the Districts page's schools stand or fall with retention's month-0 school cells, figures equal
    schools = school_trends(con, filters, [], config).set_index("school_id").sort_index()
    month0 = tables["retention", "school_id"].query("months == 0").set_index("school_id").sort_index()
    assert schools["suppressed"].equals(month0["suppressed"].reindex(schools.index, fill_value=True))
    shown = schools[~schools["suppressed"]]
    assert shown["n"].tolist() == month0.loc[shown.index, "n"].tolist()
    assert shown["teachers"].tolist() == month0.loc[shown.index, "teachers"].tolist()
    # the Overview's headline holds counts of teachers, a half-life and a share of schools, and no
    # retention or prevalence cell (those are shown per programme from the tables checked here)
    head = headline(con, filters, [], config).set_index("figure")
    assert not {"retention_latest", "prevalence_latest", "prevalence_month0"} & set(head.index)
    if not head.loc["teachers_followed", "suppressed"]:
        assert head.loc["teachers_followed", "value"] >= minimum
    # no shown cell rests on fewer than min_group_n teachers
    for key, table in tables.items():
        assert (table.loc[~table["suppressed"], "teachers"] >= minimum).all(), key
    assert (shown["teachers"] >= minimum).all()
    # and no suppressed cell comes out of a subtraction
    found = recoveries({level: tables["retention", level] for level in LEVEL_BY}, hierarchy,
                       ["teachers", "n", "retained"])
    found += recoveries({level: tables["prevalence", level] for level in LEVEL_BY}, hierarchy, ["teachers", "n"])
    assert not found, found[:10]


def test_the_audit_finds_what_a_table_suppressed_alone_would_leak(sample):
    """The audit can fail: suppressing schools on their own (no complementary suppression) leaks."""
    con, config, hierarchy = sample
    tables = shown_tables(con, FILTER_SETS["school_type=high"], config)
    minimum = config.thresholds.min_group_n
    retention_tables = {level: tables["retention", level] for level in LEVEL_BY}
    naive = retention(con, FILTER_SETS["school_type=high"], ["cluster"],
                      config.model_copy(update={"thresholds": config.thresholds.model_copy(update={"min_group_n": 0})}))
    naive["suppressed"] = naive["teachers"] < minimum
    retention_tables["cluster"] = naive
    assert recoveries(retention_tables, hierarchy, ["teachers", "n", "retained"])


# -- intervals clustered by school -----------------------------------------------------------------

def test_vectorised_intervals_equal_the_one_group_formula():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"g": rng.integers(0, 40, 600), "school": rng.integers(0, 30, 600)})
    frame["n"] = rng.integers(0, 6, len(frame))
    frame["y"] = rng.binomial(frame["n"], 0.6)
    frame.loc[frame["g"] == 0, "y"] = frame.loc[frame["g"] == 0, "n"]  # a group at rate 1: Wilson
    per_school = frame.groupby(["g", "school"], as_index=False)[["y", "n"]].sum()
    per_school = pd.concat([per_school, pd.DataFrame({"g": [99], "school": [1], "y": [2], "n": [3]})])  # one school
    got = clustered_ratio_intervals(per_school, ["g"], "y", "n").set_index("g")
    for g, part in per_school.groupby("g"):
        _, se, low, high = clustered_ratio_interval(part["y"], part["n"])
        assert got.loc[g, ["se", "ci_low", "ci_high"]].tolist() == pytest.approx([se, low, high], nan_ok=True)


@pytest.fixture(scope="module")
def observed_rows(sample):
    """Every scored observation (teacher-practice at a placed visit), once for the module."""
    con, _, _ = sample
    return con.execute("select programme, months, school_id, retained from model_observations").df()


@pytest.mark.parametrize("programme", ["CBM", "CBT"])
@pytest.mark.parametrize("months", [12, 24])
def test_clustered_se_matches_statsmodels(sample, observed_rows, programme, months):
    """Least squares of the 0/1 outcome on a constant with cov_type="cluster" (groups = schools):
    its variance of the mean carries the factor G/(G-1) * (N-1)/(N-K), which with K = 1 is
    G/(G-1), the factor of metrics.stats: the two standard errors are equal. Checked on
    prevalence, whose interval is this clustered ratio interval (retention's is the delta method
    of metrics/as_scored.py, checked against refits in tests/test_as_scored.py)."""
    con, config, _ = sample
    rows = observed_rows[(observed_rows["months"] == months) & (observed_rows["programme"] == programme)]
    fit = sm.OLS(rows["retained"].to_numpy(float), np.ones(len(rows))).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(rows["school_id"])[0]})
    rate, se = float(fit.params[0]), float(fit.bse[0])
    table = prevalence(con, Filters(programme=(programme,)), [], config).set_index("months")
    assert table.loc[months, "rate"] == pytest.approx(rate, rel=1e-12)
    logit, logit_se = np.log(rate / (1 - rate)), se / (rate * (1 - rate))
    expected = 1 / (1 + np.exp(-np.array([logit - Z95 * logit_se, logit + Z95 * logit_se])))
    assert table.loc[months, ["ci_low", "ci_high"]].tolist() == pytest.approx(expected, rel=1e-9)
