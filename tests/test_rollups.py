"""The analysis model's rollups (ingest/model.py `rollup_cells`, `unscored_cells` and `pattern_cells`,
read through metrics/rollups.py): every indicator gives the same table from the rollups as from the
model's rows (the latent model's pattern counts, survival and half-life too, with factor filters);
retention from the cells (per hindrance group too) equals retention from the rows after an import,
an edit, a teacher leaving and a re-import, and the unit patterns and retention's cells per
hindrance stored at import are their definitions'; an import rewrites
the cells of the schools it touched only, and they equal a full rebuild; a visit's scores and
hindrances stay one row per pair without the primary keys migration 6 dropped."""
import datetime as dt

import duckdb
import pandas as pd
import pytest

from ingest.model import refresh_model
from metrics import Filters, latent, rollups, survival
from metrics.registry import INDICATORS, TABLES
from sustain.config import load_config
from sustain.db import execute, open_for_writing
from sustain.patterns import GONE, LEAVING_STATUSES, LEFT, unit_pattern_ctes
from support import END, rows, teacher, visit, write_kobo, write_roster

# views read from the rollups (a grain is chosen), and some read from the rows (hindrance, two
# practices pooled), each compared across both paths
VIEWS = [
    (Filters(), ["district"]),
    (Filters(), ["practice"]),
    (Filters(gender=("female",)), ["district"]),                              # a factor filter
    (Filters(programme=("CBM",), experience_band=("5-9",)), ["school_type"]),
    (Filters(district=("Thatta",), practice=("group_work",)), ["school_id"]),
    (Filters(scope=("Pishin", "Quetta"), months_min=3, months_max=12), ["province"]),
    (Filters(practice=("group_work", "questioning")), []),
    (Filters(hindrance=("low_pay",)), ["district"]),
]
# the tables that read the rollups directly, on every view; every other indicator (README
# "Indicators") and the tables built on retention's counts on one district's view (the model fits
# take tens of seconds on the whole sample)
READ_ROLLUPS = ["prevalence", "retention", "retention_by_cop"]
ONE_DISTRICT = Filters(district=("Pishin",))
OTHERS = sorted(set(INDICATORS) - set(READ_ROLLUPS) | {"school_trends", "headline"})


@pytest.fixture(scope="module")
def sample(sample_db):
    con = duckdb.connect(str(sample_db), read_only=True)
    yield con, load_config()
    con.close()


def both_paths(con, config, name, filters, by, monkeypatch):
    monkeypatch.setattr(rollups, "ENABLED", True)
    from_rollups = TABLES[name](con, filters, by, config)
    monkeypatch.setattr(rollups, "ENABLED", False)
    from_rows = TABLES[name](con, filters, by, config)
    return from_rollups, from_rows


@pytest.mark.parametrize("name", READ_ROLLUPS)
def test_tables_from_the_rollups_equal_those_from_the_rows(sample, name, monkeypatch):
    con, config = sample
    for filters, by in VIEWS:
        from_rollups, from_rows = both_paths(con, config, name, filters, by, monkeypatch)
        assert not from_rows.empty
        pd.testing.assert_frame_equal(from_rollups, from_rows, rtol=1e-9, obj=f"{name} {filters.describe()} by {by}")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in ("half_life", "persistence",
                                                                                      "hindrance_effect", "headline")
                                  else n for n in OTHERS])
def test_every_other_table_is_the_same_on_either_path(sample, name, monkeypatch):
    con, config = sample
    from_rollups, from_rows = both_paths(con, config, name, ONE_DISTRICT, [], monkeypatch)
    pd.testing.assert_frame_equal(from_rollups, from_rows, rtol=1e-9)


def test_the_views_that_can_read_a_rollup_do():
    grains = [rollups.rollup_grain([*by, "months"], filters) for filters, by in VIEWS]
    assert grains == ["core", "practice", "teacher", "teacher", "practice", "core", None, None]


# survival's first-drop counts: summed from retention's cells when no unit's rows are split between
# groups (nothing by place), else read from the rows
SURVIVAL_VIEWS = [
    (Filters(), [], "core"),
    (Filters(months_min=6), ["practice"], "practice"),
    (Filters(gender=("female",)), ["programme"], "teacher"),
    (Filters(practice=("group_work",), experience_band=("5-9", "10-19")), ["gender"], "practice_teacher"),
    (Filters(), ["hindrance"], "core"),
    (Filters(hindrance=("low_pay",)), ["practice"], "practice"),
    (Filters(hindrance=("low_pay",)), ["gender"], None),                     # no hindrance cell keeps gender
    (Filters(hindrance=("low_pay", "no_followup")), [], None),              # a teacher with both is one
    (Filters(practice=("group_work", "questioning")), [], None),             # two practices pooled
    (Filters(), ["district"], None),                                         # by place
    (Filters(district=("Thatta",)), ["practice"], None),                     # filtered by place
]


@pytest.mark.parametrize("filters, by, grain", SURVIVAL_VIEWS)
@pytest.mark.parametrize("rule", ["first_drop", "latent"])
def test_survival_from_the_cells_equals_survival_from_the_rows(sample, filters, by, grain, rule, monkeypatch):
    con, config = sample
    assert survival.cells_grain(by, filters) == grain
    monkeypatch.setattr(rollups, "ENABLED", True)
    from_cells = survival.survival(con, filters, by, config, rule=rule)
    monkeypatch.setattr(rollups, "ENABLED", False)
    assert survival.cells_grain(by, filters) is None
    from_rows = survival.survival(con, filters, by, config, rule=rule)
    assert not from_rows["suppressed"].all() and from_rows["events"].sum() > 0
    pd.testing.assert_frame_equal(from_cells, from_rows, rtol=1e-9, obj=f"{rule} {filters.describe()} by {by}")


# the latent model's views: survival and half-life with factor filters and groups (a school shows
# nothing on the sample: its teachers are too few)
LATENT_VIEWS = [
    ("survival", Filters(gender=("female",)), ["practice"]),
    ("survival", Filters(district=("Thatta",), experience_band=("10-19", "20+")), ["cluster"]),
    ("survival", Filters(), ["programme"]),
    ("half_life", Filters(programme=("CBM",)), ["practice"]),
    ("half_life", Filters(subject=("science",)), ["district"]),
    ("survival", Filters(hindrance=("low_pay",)), ["practice"]),
    ("half_life", Filters(hindrance=("no_followup",)), ["programme"]),
]


# views with a hindrance filter or group, for the pattern counts per hindrance group
HINDRANCE_VIEWS = [
    (Filters(), ["hindrance"]),
    (Filters(hindrance=("low_pay", "no_followup")), ["hindrance", "practice"]),
    (Filters(hindrance=("no_followup",), district=("Thatta",)), ["school_id"]),
    (Filters(hindrance=("low_pay", "no_followup")), ["district"]),               # read from the rows
]


def test_the_latent_models_pattern_counts_from_the_rollups_equal_those_from_the_rows(sample, monkeypatch):
    con, config = sample
    for filters, by in [*VIEWS, *HINDRANCE_VIEWS, (Filters(), ["school_id", "practice"])]:
        monkeypatch.setattr(rollups, "ENABLED", True)
        # stored per hindrance group: grouped by hindrance or filtered by one (a teacher who
        # reported two of the hindrances filtered on is one unit, in two groups: the rows)
        assert rollups.patterns_readable(by, filters) == ("hindrance" in by or len(filters.hindrance) <= 1)
        from_rollups = latent.pattern_counts(con, filters, by, config)
        monkeypatch.setattr(rollups, "ENABLED", False)
        from_rows = latent.pattern_counts(con, filters, by, config)
        assert not from_rows.empty
        assert list(from_rollups.columns) == list(from_rows.columns)
        ordered = [frame.sort_values(list(frame.columns)).reset_index(drop=True) for frame in (from_rollups, from_rows)]
        # (the rows' codes are DuckDB sums, read as floats; the stored ones are integers)
        pd.testing.assert_frame_equal(*ordered, check_dtype=False, obj=f"{filters.describe()} by {by}")


@pytest.mark.parametrize("name, filters, by", LATENT_VIEWS)
def test_survival_and_half_life_from_the_pattern_rollup_equal_those_from_the_rows(sample, name, filters, by,
                                                                                 monkeypatch):
    con, config = sample
    from_rollups, from_rows = both_paths(con, config, name, filters, by, monkeypatch)
    assert not from_rows["suppressed"].all()
    pd.testing.assert_frame_equal(from_rollups, from_rows, rtol=1e-9)


# -- the refresh at import -------------------------------------------------------------------------
TEACHERS = [teacher("T1", "S1"), teacher("T2", "S1", gender="male"), teacher("T3", "S2"),
            teacher("T4", "S3", cluster="SAN-C1", district="Sanghar", programme="CBT", subject="science")]
SCORES = {"group_work": "3", "questioning": "2", "teaching_aids": "4"}
LOWER = {"group_work": "1", "questioning": "3", "teaching_aids": "na"}


def first_visits():
    out = []
    for t, school, district, cluster, programme in (("T1", "S1", "Thatta", "THA-C1", "CBM"),
                                                    ("T2", "S1", "Thatta", "THA-C1", "CBM"),
                                                    ("T3", "S2", "Thatta", "THA-C1", "CBM"),
                                                    ("T4", "S3", "Sanghar", "SAN-C1", "CBT")):
        for month, scores in ((0, SCORES), (3, SCORES if t != "T2" else LOWER), (6, LOWER)):
            out.append(visit(f"{t}-{month}", t, school, month, programme=programme, scores=scores,
                             district=district, cluster=cluster, hindrances="low_pay" if month == 3 else ""))
    return out


ROLLUP_CELLS = "select * from rollup_cells where school_id in ('S2', 'S3') order by all"
UNSCORED_CELLS = "select * from unscored_cells where school_id in ('S2', 'S3') order by all"
HINDRANCE_CELLS = [f"select * from {table} where school_id in ('S2', 'S3') order by all"
                   for table in ("rollup_hindrance_cells", "unscored_hindrance_cells")]
MARK = 999  # a value no cell holds, written into school S1's cells before the second import


def write(config, sql):
    con = open_for_writing(config.database_path())
    try:
        con.execute(sql)
    finally:
        con.close()


@pytest.fixture
def imported(tmp_path, config_factory, load):
    """A roster and three rounds of visits imported; school S1's rollup cells marked; then a second
    file touching school S2 only (T3's month-12 visit and an edit of its month-3 visit)."""
    config = config_factory(**{"thresholds.min_group_n": 1})
    load(config, write_roster(tmp_path / "roster.csv", TEACHERS))
    load(config, write_kobo(tmp_path / "first.csv", first_visits()))
    write(config, f"update rollup_cells set teachers = {MARK} where school_id = 'S1'")
    write(config, f"update pattern_cells set units = {MARK} where school_id = 'S1'")
    write(config, f"update unscored_cells set units = {MARK} where school_id = 'S1'")
    write(config, f"update pattern_hindrance_cells set units = {MARK} where school_id = 'S1'")
    write(config, f"update rollup_hindrance_cells set teachers = {MARK} where school_id = 'S1'")
    write(config, f"update unscored_hindrance_cells set units = {MARK} where school_id = 'S1'")
    later = [visit("T3-12", "T3", "S2", 12, scores=LOWER, hindrances="low_pay no_followup"),
             visit("T3-3b", "T3", "S2", 3, root="T3-3", scores=LOWER, end_time="2024-06-01T10:00:00+05:00")]
    summary = load(config, write_kobo(tmp_path / "second.csv", later)).files[0]
    assert (summary.inserted, summary.updated) == (1, 1)
    return config


def test_an_import_rewrites_the_rollups_of_the_schools_it_touched_equal_to_a_full_rebuild(imported):
    config = imported
    # school S1 was not touched: its cells were not rewritten (still marked)
    assert rows(config, "select distinct teachers from rollup_cells where school_id = 'S1'") == [(MARK,)]
    assert rows(config, "select distinct units from unscored_cells where school_id = 'S1'") == [(MARK,)]
    assert rows(config, "select distinct teachers from rollup_hindrance_cells where school_id = 'S1'") == [(MARK,)]
    assert rows(config, "select distinct units from unscored_hindrance_cells where school_id = 'S1'") == [(MARK,)]
    incremental = rows(config, ROLLUP_CELLS)
    unscored = rows(config, UNSCORED_CELLS)
    per_hindrance = [rows(config, sql) for sql in HINDRANCE_CELLS]
    # T3 (S2) reported no_followup in the second file: its rows are in that group now
    assert rows(config, "select distinct hindrance from rollup_hindrance_cells where school_id = 'S2' "
                        "order by all") == [("low_pay",), ("no_followup",)]
    patterns = rows(config, "select * from model_unit_patterns order by all")
    assert unscored and patterns
    # each teacher's hindrances, kept for the hindrance filter: as their placed visits report them
    teacher_hindrances = rows(config, "select * from model_teacher_hindrances order by all")
    assert ("low_pay",) in {(h,) for _, h in teacher_hindrances}
    assert teacher_hindrances == rows(config, TEACHER_HINDRANCES)
    assert rows(config, "select sum(n) from rollup_cells where measure = 'retention' and grain = 'core' "
                        "and school_id = 'S2' and months = 12") == [(1,)]  # group_work (teaching_aids: na)
    con = open_for_writing(config.database_path())
    try:
        refresh_model(con, config)  # every teacher, every school
    finally:
        con.close()
    assert rows(config, ROLLUP_CELLS) == incremental
    assert rows(config, UNSCORED_CELLS) == unscored
    assert [rows(config, sql) for sql in HINDRANCE_CELLS] == per_hindrance
    assert rows(config, "select * from model_unit_patterns order by all") == patterns
    assert rows(config, "select * from model_teacher_hindrances order by all") == teacher_hindrances
    assert MARK not in {r[0] for r in rows(config, "select teachers from rollup_cells where school_id = 'S1'")}


PATTERN_CELLS = "select * from pattern_cells where school_id in ('S2', 'S3') order by all"
# `model_teacher_hindrances` by its definition: every hindrance of each teacher's placed visits, once
TEACHER_HINDRANCES = "select distinct teacher_key, unnest(hindrances) from model_visits order by all"


def test_an_import_rewrites_the_pattern_counts_of_the_schools_it_touched_equal_to_a_full_rebuild(
        imported, tmp_path, load):
    config = imported
    # after the second file's new round and edit (school S2): T4 (school S3) leaves at month 12, and
    # the first file is imported again unchanged
    load(config, write_kobo(tmp_path / "third.csv", [
        visit("T4-12", "T4", "S3", 12, programme="CBT", status="left", district="Sanghar", cluster="SAN-C1")]))
    load(config, write_kobo(tmp_path / "first.csv", first_visits()))
    assert rows(config, "select distinct units from pattern_cells where school_id = 'S1'") == [(MARK,)]
    incremental = rows(config, PATTERN_CELLS)
    followup = [m for m in config.schedule.months if m > 0]
    left_at = 1 + followup.index(12)
    s3 = rows(config, "select pattern, units from pattern_cells where school_id = 'S3'")
    symbols = latent.decode([pattern for pattern, _ in s3], len(followup))
    assert sum(units for _, units in s3) == 3  # T4's three practices scored at month 0
    assert (symbols[:, left_at] == LEFT).all() and (symbols[:, left_at + 1:] == GONE).all()
    con = open_for_writing(config.database_path())
    try:
        refresh_model(con, config)
    finally:
        con.close()
    assert rows(config, PATTERN_CELLS) == incremental
    assert MARK not in {r[0] for r in rows(config, "select units from pattern_cells where school_id = 'S1'")}


# retention's views read from the cells (a grain is chosen for each), compared with the rows
RETENTION_VIEWS = [
    (Filters(), ["district"]),
    (Filters(), ["school_id"]),
    (Filters(gender=("female",)), ["programme"]),
    (Filters(months_min=6, practice=("group_work",)), ["cluster", "subject"]),
]
# retention's views read from the cells per hindrance group (grouped by hindrance or filtered by one)
RETENTION_HINDRANCE_VIEWS = [
    (Filters(hindrance=("low_pay",)), ["district"]),
    (Filters(hindrance=("low_pay",)), ["practice"]),
    (Filters(), ["hindrance", "programme"]),
]
# retention's cells per hindrance group as ingest/model.py defines them, computed from the model's
# rows now: each row of `followed` (metrics/indicators.py) and each unscored unit-round, once per
# hindrance its teacher reported at any placed visit
DEFINED_HINDRANCE_CELLS = """
with followed as (
    select teacher_key, school_id, programme, months, practice, retained from model_observations
    where months = 0 and retained
    union all
    select teacher_key, school_id, programme, months, practice, retained from person_period where observed
),
reported as (
    select distinct teacher_key, unnest(hindrances) as hindrance from model_visits
)
select r.hindrance, f.school_id, f.programme, f.months, {practice}
       count(*) filter (where f.retained), count(*), count(distinct f.teacher_key)
from followed f join reported r using (teacher_key)
group by all order by all
"""
STORED_HINDRANCE_CELLS = """
select hindrance, school_id, programme, months, {practice} retained, n, teachers
from rollup_hindrance_cells where grain = $grain order by all
"""
DEFINED_UNSCORED_HINDRANCE_CELLS = """
with reported as (
    select distinct teacher_key, unnest(hindrances) as hindrance from model_visits
)
select r.hindrance, pp.school_id, pp.programme, pp.months, pp.practice, p.pattern, count(*)
from person_period pp
join model_unit_patterns p using (teacher_key, practice)
join reported r using (teacher_key)
where not pp.observed
group by all order by all
"""
STORED_UNSCORED_HINDRANCE_CELLS = """
select hindrance, school_id, programme, months, practice, pattern, units
from unscored_hindrance_cells where grain = 'practice' order by all
"""
# each unit's pattern as sustain/patterns.py defines it, computed from the model's rows now
DEFINED_PATTERNS = f"""
with month0_units as (
    select teacher_key, practice, retained from model_observations where months = 0
),
{unit_pattern_ctes("month0_units", "model_observations", "model_visits")}
select teacher_key, practice, pattern::bigint from unit_patterns order by all
"""


def assert_retention_cells_equal_rows(config, monkeypatch):
    """Retention on every view of RETENTION_VIEWS is the same from the cells and from the rows, some
    unit of each is unscored at a reported round, and the stored patterns are their definition's."""
    con = duckdb.connect(str(config.database_path()), read_only=True)
    try:
        for filters, by in RETENTION_VIEWS:
            monkeypatch.setattr(rollups, "ENABLED", True)
            assert rollups.rollup_grain([*by, "months"], filters) is not None
            from_cells, from_rows = both_paths(con, config, "retention", filters, by, monkeypatch)
            assert len(from_rows) > 1
            pd.testing.assert_frame_equal(from_cells, from_rows, rtol=1e-9, obj=f"{filters.describe()} by {by}")
        for filters, by in RETENTION_HINDRANCE_VIEWS:
            monkeypatch.setattr(rollups, "ENABLED", True)
            assert rollups.rollup_grain([*by, "months"], filters, hindrance_cells=True) is not None
            assert rollups.rollup_grain([*by, "months"], filters) is None  # other readers: the rows
            from_cells, from_rows = both_paths(con, config, "retention", filters, by, monkeypatch)
            assert len(from_rows) > 1
            pd.testing.assert_frame_equal(from_cells, from_rows, rtol=1e-9, obj=f"{filters.describe()} by {by}")
        for grain, practice in (("core", ""), ("practice", "practice,")):
            stored = execute(con, STORED_HINDRANCE_CELLS.format(practice=practice), {"grain": grain}).fetchall()
            assert stored and stored == con.execute(DEFINED_HINDRANCE_CELLS.format(practice=practice and "f.practice,")).fetchall()
        assert con.execute(STORED_UNSCORED_HINDRANCE_CELLS).fetchall() == \
            con.execute(DEFINED_UNSCORED_HINDRANCE_CELLS).fetchall()
        followup = sorted(m for m in config.schedule.months if m > 0)
        defined = execute(con, DEFINED_PATTERNS, {"followup_months": followup,
                                                  "leaving_statuses": LEAVING_STATUSES}).fetchall()
        assert con.execute("select * from model_unit_patterns order by all").fetchall() == defined
        assert con.execute("select * from model_teacher_hindrances order by all").fetchall() == \
            con.execute(TEACHER_HINDRANCES).fetchall()
        assert con.execute("select sum(units) from unscored_cells where months in "
                           "(select months from model_observations)").fetchone()[0] > 0
    finally:
        con.close()


def test_retention_from_the_cells_equals_retention_from_the_rows_after_each_import(tmp_path, config_factory, load,
                                                                                   monkeypatch):
    config = config_factory(**{"thresholds.min_group_n": 1})
    load(config, write_roster(tmp_path / "roster.csv", TEACHERS))
    load(config, write_kobo(tmp_path / "first.csv", first_visits()))
    assert_retention_cells_equal_rows(config, monkeypatch)
    # a new round and an edit (school S2): T3's month-12 units become scored, its pattern changes
    load(config, write_kobo(tmp_path / "second.csv", [
        visit("T3-12", "T3", "S2", 12, scores=LOWER, hindrances="low_pay no_followup"),
        visit("T3-3b", "T3", "S2", 3, root="T3-3", scores=LOWER, end_time="2024-06-01T10:00:00+05:00")]))
    assert_retention_cells_equal_rows(config, monkeypatch)
    # a teacher leaving (school S3): T4's later rounds become LEFT, then GONE
    load(config, write_kobo(tmp_path / "third.csv", [
        visit("T4-12", "T4", "S3", 12, programme="CBT", status="left", district="Sanghar", cluster="SAN-C1")]))
    assert_retention_cells_equal_rows(config, monkeypatch)
    # the first file again: its visits are unchanged, T3's edit stays
    load(config, write_kobo(tmp_path / "first.csv", first_visits()))
    assert_retention_cells_equal_rows(config, monkeypatch)


PATTERN_HINDRANCE_CELLS = "select * from pattern_hindrance_cells where school_id in ('S2', 'S3') order by all"


def test_an_import_rewrites_the_pattern_counts_per_hindrance_of_the_schools_it_touched_equal_to_a_full_rebuild(
        imported, tmp_path, load):
    config = imported
    # T3 (school S2) reported low_pay at month 3 and, in the second file, no_followup at month 12:
    # its three units are in both groups; T4 (S3) leaves at month 12, the first file comes again
    # (S1 untouched), then T1 (S1) reports no_followup at month 12: S1's cells are rewritten
    hindrances = "select hindrance, sum(units) from pattern_hindrance_cells where school_id = 'S2' group by all order by all"
    assert rows(config, hindrances) == [("low_pay", 3), ("no_followup", 3)]
    load(config, write_kobo(tmp_path / "third.csv", [
        visit("T4-12", "T4", "S3", 12, programme="CBT", status="left", district="Sanghar", cluster="SAN-C1")]))
    load(config, write_kobo(tmp_path / "first.csv", first_visits()))
    assert rows(config, "select distinct units from pattern_hindrance_cells where school_id = 'S1'") == [(MARK,)]
    load(config, write_kobo(tmp_path / "fourth.csv", [
        visit("T1-12", "T1", "S1", 12, scores=SCORES, hindrances="no_followup")]))
    assert MARK not in {r[0] for r in rows(config, "select units from pattern_hindrance_cells where school_id = 'S1'")}
    assert rows(config, "select hindrance, sum(units) from pattern_hindrance_cells where school_id = 'S1' "
                        "group by all order by all") == [("low_pay", 6), ("no_followup", 3)]
    incremental = rows(config, "select * from pattern_hindrance_cells order by all")
    con = open_for_writing(config.database_path())
    try:
        refresh_model(con, config)
    finally:
        con.close()
    assert rows(config, "select * from pattern_hindrance_cells order by all") == incremental


def test_scores_and_hindrances_stay_one_row_per_pair_without_primary_keys(imported, tmp_path, load):
    config = imported
    # the unchanged file again, then the edit again: nothing is written twice
    load(config, write_kobo(tmp_path / "first.csv", first_visits()))
    assert rows(config, "select count(*) from duckdb_constraints() where table_name in "
                        "('visit_practices', 'visit_hindrances') and constraint_type = 'PRIMARY KEY'") == [(0,)]
    assert rows(config, "select count(*) from visit_practices") > [(0,)]
    assert rows(config, "select count(*) from visit_hindrances") > [(0,)]
    assert rows(config, """select submission_id, practice from visit_practices
                           group by all having count(*) > 1""") == []
    assert rows(config, """select submission_id, hindrance from visit_hindrances
                           group by all having count(*) > 1""") == []
    assert rows(config, "select score from visit_practices where submission_id = 'T3-3' order by practice") == [
        (1,), (3,)]  # the edit's scores replaced the first version's


# the cells' counts per place and round, and the same counts from the model's rows: every row is in
# a cell of its own place (the place, not the school: a school moved by the roster has two)
PLACE = "province, district, cluster, school_id, school_type"
CELLS_BY_PLACE = {
    "prevalence": f"select {PLACE}, months, sum(n) from rollup_cells where measure = 'prevalence' "
                  f"and grain = 'practice_teacher' group by all order by all",
    "retention": f"select {PLACE}, months, sum(n) from rollup_cells where measure = 'retention' "
                 f"and grain = 'core' group by all order by all",
    "unscored": f"select {PLACE}, months, sum(units) from unscored_cells where grain = 'practice' "
                f"group by all order by all",
    "units": f"select {PLACE}, sum(units) from pattern_cells group by all order by all",
}
ROWS_BY_PLACE = {
    "prevalence": f"select {PLACE}, months, count(*) from model_observations group by all order by all",
    "retention": f"""select {PLACE}, months, count(*) from (
                         select {PLACE}, months from model_observations where months = 0 and retained
                         union all select {PLACE}, months from person_period where observed)
                     group by all order by all""",
    "unscored": f"select {PLACE}, months, count(*) from person_period where not observed group by all order by all",
    "units": f"select {PLACE}, count(*) from model_observations where months = 0 group by all order by all",
}


def test_the_cells_hold_every_row_at_its_place_when_a_school_moves_and_a_place_column_is_empty(
        tmp_path, config_factory, load):
    """The cells are grouped by a number standing for the place (ingest/model.py `rollup_places`):
    a school moved by the roster from a past date, and a school without a school type, keep every
    row in the right cell."""
    config = config_factory(**{"thresholds.min_group_n": 1})
    roster = [teacher("T1", "S1", school_type=""), teacher("T2", "S2"), teacher("T3", "S2", gender="male")]
    load(config, write_roster(tmp_path / "roster.csv", roster))
    load(config, write_kobo(tmp_path / "visits.csv", [
        visit(f"{t}-{month}", t, school, month, scores=SCORES if month < 6 else LOWER)
        for t, school in (("T1", "S1"), ("T2", "S2"), ("T3", "S2")) for month in (0, 3, 6, 12)]))
    moved_from = (END["CBM"] + dt.timedelta(days=150)).isoformat()  # after month 3, before month 6
    load(config, write_roster(tmp_path / "moved.csv", [
        r | {"valid_from": moved_from} | ({"district": "Sanghar", "cluster": "SAN-C1"} if r["school_id"] == "S2" else {})
        for r in roster]))
    places = rows(config, "select distinct school_id, district, school_type from model_observations order by all")
    assert places == [("S1", "Thatta", None), ("S2", "Sanghar", "primary"), ("S2", "Thatta", "primary")]
    for name, sql in CELLS_BY_PLACE.items():
        assert rows(config, sql) == rows(config, ROWS_BY_PLACE[name]), name
