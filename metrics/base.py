"""The base relations every indicator starts from, and the shared post-processing.

Placement is done once, at import, by the analysis model (ingest/model.py documents its tables);
`BASE_CTES` names its relations for the indicators' SQL:
- `programmes`, `practice_cutoffs`, `schedule`: from config, bound as lists;
- `placed_visits`: `model_visits`, one row per teacher and scheduled round;
- `observations`: `model_observations`, one row per teacher, practice and round where the teacher
  was present and the practice was scored (`na` is missing, never 0), with `retained`;
- `teacher_hindrances`: each teacher with every hindrance any of their placed visits reported
  (`model_teacher_hindrances`, kept by the model: unnesting every visit's hindrances in the country
  cost 200-270 ms a statement at a million teachers);
- `observed_visit_practices`: placed visits with each practice scored at them, the visit-level
  relation used when a visit-level indicator is grouped or filtered by practice.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sustain.config import Config
from sustain.db import execute, relation, sibling_cursor
from sustain.dimensions import sort_key

from .filters import Filters, check_by

# what every output says in place of a suppressed value
TOO_FEW = "too few to show"

BASE_CTES = """
programmes as (
    select unnest($programme_codes) as programme, unnest($programme_ends)::date as end_date
),
practice_cutoffs as (
    select unnest($practice_codes) as practice, unnest($practice_cutoffs) as retained_at
),
schedule as (
    select unnest($schedule_months) as months
),
teacher_hindrances as (
    select teacher_key, hindrance from model_teacher_hindrances
),
placed_visits as (
    select * exclude (hindrances) from model_visits
),
observed_visit_practices as (
    select pv.*, vp.practice
    from placed_visits pv join visit_practices vp using (submission_id)
    where vp.score is not null
),
observations as (
    select * from model_observations
)
"""


def base_params(config: Config) -> dict:
    return config.schedule_params()


def database_state(con: duckdb.DuckDBPyConnection) -> tuple:
    """What a process may keep derived from the database between calls: the database file and the
    analysis model's build (every import and rebuild rewrites `model_info`, and a roster's schools
    change only through an import)."""
    path = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    built = con.execute("select config_fingerprint, built_at from model_info limit 1").fetchone()
    return (path[0] if path else None, *(built or (None, None)))


def query(con: duckdb.DuckDBPyConnection, config: Config, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run `with <BASE_CTES>, <sql>`; `sql` continues the WITH list (named CTEs, then a select)."""
    full = f"with {BASE_CTES},\n{sql}"
    return execute(con, full, base_params(config) | (params or {})).df()


def query_arrow(con: duckdb.DuckDBPyConnection, config: Config, sql: str, params: dict | None = None) -> pa.Table:
    """`query` as an Arrow table: text columns stay Arrow strings (a national view's 100,000s of
    school ids cost more as Python strings than to count). On a cursor of its own (a relation
    cannot start while `con` holds an unfinished result)."""
    cursor = sibling_cursor(con)
    try:
        return relation(cursor, f"with {BASE_CTES},\n{sql}", base_params(config) | (params or {})).to_arrow_table()
    finally:
        cursor.close()


def ascending_codes(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(codes, distinct values ascending): each value's number among the distinct values in
    ascending order, as `pd.factorize(sort=True)` numbers them (-1 for a missing value), through
    the column's dictionary: only the distinct values are sorted, in Arrow (byte order of UTF-8 is
    the order of Python's strings)."""
    encoded = pc.dictionary_encode(values).combine_chunks()
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order) + 1, dtype="int64")
    rank[order] = np.arange(len(order))
    rank[-1] = -1  # index -1: missing
    return rank[encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)], encoded.dictionary.take(order)


def group_columns(by: Sequence[str], allowed: Sequence[str], always: Sequence[str] = ()) -> list[str]:
    """Allow-listed --by columns, with `always` ones appended when missing (e.g. months)."""
    chosen = check_by(by, allowed)
    return chosen + [c for c in always if c not in chosen]


def select_list(columns: Sequence[str], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return "".join(f"{prefix}{c}, " for c in columns)


def hindrance_join(by: Sequence[str], relation: str) -> str:
    """Grouping by hindrance joins each teacher to every hindrance group they belong to."""
    if "hindrance" not in by:
        return relation
    return f"(select r.*, th.hindrance from {relation} r join teacher_hindrances th using (teacher_key))"


def filtered_rows(by: Sequence[str], filters: Filters, relation: str = "observations") -> tuple[str, dict]:
    """`select * from <relation, joined to hindrance groups when grouped by them> where <filters>`.
    A visit-level relation (`placed_visits`) becomes `observed_visit_practices` when practice is
    grouped on or filtered, so "by practice" means visits at which that practice was scored.
    `relation` is the analysis model's (a placed visit, or a row placed at one of its teacher's
    placed visits): a hindrance filter with a place tests the teachers with a placed visit there
    only (`view_hindrance_teachers`), not the hundreds of thousands who reported it in the country."""
    level = "practice"
    if relation == "placed_visits":
        if "practice" in by or filters.practice:
            relation = "observed_visit_practices"
        else:
            level = "visit"
    where, params = filters.where(level, hindrance_rows="hindrance" in by,
                                  hindrance_teachers=view_hindrance_teachers(filters), keyed=True)
    return f"select * from {hindrance_join(by, relation)} r where {where}", params


def view_hindrance_teachers(filters: Filters) -> str:
    """The relation (teacher_key, hindrance) a hindrance filter tests the rows' teachers in:
    `teacher_hindrances` (each teacher with every hindrance they reported at any placed visit),
    kept to the teachers with a placed visit in the filters' place when there is one. The same
    rows pass: a row of the analysis model is placed at one of its teacher's placed visits, so a
    row in the place is a teacher with a visit there. The place's clause binds the same
    parameters as the filters' own (`Filters.where`)."""
    place, _ = filters.place_only().where("visit", keyed=True)
    if not filters.hindrance or place == "true":
        return "teacher_hindrances"
    return (f"(select teacher_key, hindrance from teacher_hindrances "
            f"where teacher_key in (select teacher_key from placed_visits where {place}))")


# the school hierarchy, parent first: a level's groups are parts of every level above it
HIERARCHY = ["province", "district", "cluster", "school_id"]
# `schools_of`: the most schools looked up by code (more: the whole table is read), and the
# columns it may read
SCHOOLS_LISTED = 20_000
SCHOOL_COLUMNS = (*HIERARCHY, "school_name")


class SchoolHierarchy:
    """Every school with its cluster, district and province (the `schools` table): the parents
    `suppress` protects a school, cluster or district within. Read on demand: most tables need
    no parent from it (their frame has the parent, or no hierarchy level), and a national
    table by district needs the few distinct (district, province) pairs, not every school."""

    columns = HIERARCHY

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con

    def __getitem__(self, columns: Sequence[str]) -> pd.DataFrame:
        """The schools' rows of these hierarchy columns (one row per school)."""
        chosen = [c for c in columns if c in HIERARCHY]
        if len(chosen) != len(columns):
            raise KeyError(f"not a hierarchy column: {columns}")
        return self._con.execute(f"select {', '.join(chosen)} from schools").df()

    def level_codes(self, school_ids: Sequence[str], levels: Sequence[str]) -> np.ndarray:
        """Per school of `school_ids` (in order) and level of `levels` (hierarchy columns), an
        integer code of the school's value there: equal values, equal codes; -1 for a missing
        value or a school not in the table. Looked up among every school's codes, which the
        process keeps per database state (`_hierarchy_codes`): a district's view looks up its
        1,600 schools instead of joining them to the country's schools at every call."""
        if any(level not in HIERARCHY for level in levels):
            raise KeyError(f"not a hierarchy column: {levels}")
        codes = np.full((len(school_ids), len(levels)), -1, dtype="int64")
        if not len(school_ids) or not len(levels):
            return codes
        ids, level_codes = _hierarchy_codes(self._con)
        row = ids.get_indexer(pd.Index([str(s) for s in school_ids], dtype=object))
        found = row >= 0
        for j, level in enumerate(levels):
            codes[found, j] = level_codes[level][row[found]]
        return codes

    def pairs(self, child: str, parent: str) -> pd.DataFrame:
        """The distinct (child, parent) pairs, computed by DuckDB."""
        if child not in HIERARCHY or parent not in HIERARCHY:
            raise KeyError(f"not a hierarchy column: {child}, {parent}")
        return self._con.execute(f"select distinct {child}, {parent} from schools").df()


# every school's id and code at each level above it, per database state (`SchoolHierarchy.level_codes`);
# the newest few states (a server reads one published version at a time, and briefly its successor)
_HIERARCHY_CODES: OrderedDict = OrderedDict()
_HIERARCHY_CODES_KEPT = 2
_HIERARCHY_CODES_LOCK = threading.Lock()


def _hierarchy_codes(con: duckdb.DuckDBPyConnection) -> tuple[pd.Index, dict[str, np.ndarray]]:
    """(every school's id, {level: each school's code there}) for the levels above the school,
    read once per database state: the codes are `ascending_codes` of the level's values (-1:
    missing)."""
    state = database_state(con)
    with _HIERARCHY_CODES_LOCK:
        kept = _HIERARCHY_CODES.get(state)
        if kept is not None:
            _HIERARCHY_CODES.move_to_end(state)
            return kept
    cursor = sibling_cursor(con)
    try:
        table = relation(cursor, f"select {', '.join(HIERARCHY)} from schools").to_arrow_table()
    finally:
        cursor.close()
    kept = (pd.Index(table.column("school_id").to_pandas(), dtype=object),
            {level: ascending_codes(table.column(level))[0] for level in HIERARCHY[:-1]})
    if state[2] is None:  # no model built (an import stopped before its refresh): nothing to key on
        return kept
    with _HIERARCHY_CODES_LOCK:
        _HIERARCHY_CODES[state] = kept
        while len(_HIERARCHY_CODES) > _HIERARCHY_CODES_KEPT:
            _HIERARCHY_CODES.popitem(last=False)
    return kept


def schools_of(con: duckdb.DuckDBPyConnection, school_ids: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """`columns` of the `schools` table (allow-listed: SCHOOL_COLUMNS) for these schools only: a
    district's or a school's table reads its own schools' rows, not the country's (at a million
    teachers the whole table cost 40 ms, and the lookups in it 100 ms more, per call); past
    SCHOOLS_LISTED schools, every school's rows (a list that long costs more to bind than the scan)."""
    unknown = [c for c in columns if c not in SCHOOL_COLUMNS]
    if unknown:
        raise KeyError(f"not a column of schools: {unknown}")
    chosen = ", ".join(columns)
    if len(school_ids) > SCHOOLS_LISTED:
        return con.execute(f"select {chosen} from schools").df()
    return execute(con, f"select {chosen} from schools where school_id in (select unnest($school_ids::varchar[]))",
                   {"school_ids": [str(s) for s in school_ids]}).df()


def school_hierarchy(con: duckdb.DuckDBPyConnection) -> SchoolHierarchy:
    """The schools' hierarchy for `suppress` (`SchoolHierarchy`, read on demand)."""
    return SchoolHierarchy(con)


def suppress(frame: pd.DataFrame, by: Sequence[str], value_columns: Sequence[str], min_n: int,
             n_column: str = "teachers", hierarchy: "pd.DataFrame | SchoolHierarchy | None" = None) -> pd.DataFrame:
    """Mark cells resting on fewer than `min_n` distinct teachers (`n_column`) as suppressed and
    blank their values.

    A cell is shown only when it rests on at least `min_n` distinct teachers. Then, within every
    parent group shown with the same filters (the cells that differ in one --by column only, taken
    within each level above it in province > district > cluster > school_id and within the whole
    table; programme and the other columns are parents in the same way, `months` never) where the
    suppressed cells could be told from the parent's total (exactly one is suppressed, each rests on
    one teacher, or a count column sums to 0 over them but not over the shown ones), the next
    smallest shown cell is suppressed too, until no such group is left.

    The parent levels of a level in `by` come from the frame's own columns, else from `hierarchy`
    (`school_hierarchy(con)`); a level whose parent is not unique there is protected within the
    whole table only. Rows resting on no teacher are part of no total and protect nothing.
    Left as they are, since suppressing more parts cannot help: a parent whose every part is
    suppressed and whose teachers equal their number tells that each rests on one teacher (a head
    count, not an outcome); a parent with 0 retained says so of every part.
    """
    frame = frame.copy()
    teachers = _numbers(frame[n_column])
    suppressed = teachers < min_n
    present = teachers > 0
    keyed = _with_parents(frame, by, hierarchy)
    counts = [_numbers(frame[c]) for c in value_columns if c in frame.columns and c != n_column
              and pd.api.types.is_integer_dtype(frame[c])]
    codes = {column: pd.factorize(keyed[column])[0] for column in keyed.columns}  # each column once
    groupings = [_combined_ids([codes[c] for c in keys], len(keyed)) for keys in _parent_groups(by, keyed.columns)]
    changed = len(frame) > 1
    while changed:
        changed = False
        for ids in groupings:
            changed |= _protect(ids, suppressed, present, teachers, counts)
    frame["suppressed"] = suppressed
    for column in (c for c in value_columns if c in frame.columns):
        frame[column] = _blanked(frame[column], suppressed)
    return frame


def _numbers(column: pd.Series) -> np.ndarray:
    """A column as float64, anything missing or not a number 0."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        return np.where(np.isnan(values), 0.0, values)
    return pd.to_numeric(column, errors="coerce").fillna(0).to_numpy(dtype="float64")


def _blanked(column: pd.Series, hidden: np.ndarray) -> pd.api.extensions.ExtensionArray | np.ndarray:
    """A value column as shown: Int64 when it holds integers, else float64, missing where `hidden`
    (built in numpy: a masked assignment per column cost about 0.3 ms, on every table of every view)."""
    if pd.api.types.is_integer_dtype(column.dtype):
        return pd.arrays.IntegerArray(column.to_numpy(dtype="int64", na_value=0),
                                      column.isna().to_numpy() | hidden)
    values = column.to_numpy(dtype="float64", na_value=np.nan, copy=True)
    values[hidden] = np.nan
    return values


def suppress_by_school(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, by: Sequence[str],
                       value_columns: Sequence[str], min_n: int, n_column: str = "teachers") -> pd.DataFrame:
    """`suppress(frame, by, ..., hierarchy=school_hierarchy(con))` for a `by` with school_id, on
    integer codes: every --by column factorised (missing values a code of their own), the school's
    cluster, district and province (those not in the frame) from the `schools` table through
    school_id. The same groups as the values make, without grouping a row per school by text;
    the same result, column for column."""
    if "school_id" not in by:
        return suppress(frame, by, value_columns, min_n, n_column=n_column, hierarchy=school_hierarchy(con))
    levels = [level for level in HIERARCHY[:-1] if level not in by and level not in frame.columns]
    coded = pd.DataFrame({c: pd.factorize(frame[c])[0] for c in by}, index=frame.index)
    for level in (level for level in HIERARCHY[:-1] if level not in by and level in frame.columns):
        coded[level] = pd.factorize(frame[level])[0]
    if levels:
        school, ids = pd.factorize(frame["school_id"])
        level_codes = school_hierarchy(con).level_codes(ids, levels)
        for j, level in enumerate(levels):
            coded[level] = level_codes[school, j] if len(ids) else np.zeros(0, dtype="int64")
    values = [c for c in dict.fromkeys([*value_columns, n_column]) if c in frame.columns]
    shown = suppress(pd.concat([coded, frame[values]], axis=1), by, value_columns, min_n, n_column=n_column)
    frame = frame.copy()
    for column in [*values, "suppressed"]:
        frame[column] = shown[column]
    return frame


def _with_parents(frame: pd.DataFrame, by: Sequence[str], hierarchy) -> pd.DataFrame:
    """The frame's --by columns and, for each hierarchy level among them, the levels above it
    (from the frame, else mapped through `hierarchy` where the level has one parent there)."""
    keyed = frame[[c for c in by if c in frame.columns]].copy()
    levels = [level for level in HIERARCHY if level in by]
    if not levels:
        return keyed
    lowest = levels[-1]
    for parent in HIERARCHY[:HIERARCHY.index(lowest)]:
        if parent in keyed.columns:
            continue
        if parent in frame.columns:
            keyed[parent] = frame[parent]
        elif hierarchy is not None and lowest in hierarchy.columns and parent in hierarchy.columns:
            pairs = (hierarchy.pairs(lowest, parent) if isinstance(hierarchy, SchoolHierarchy)
                     else hierarchy[[lowest, parent]].drop_duplicates())
            if not pairs[lowest].duplicated().any():
                keyed[parent] = frame[lowest].map(pairs.set_index(lowest)[parent]).to_numpy()
    return keyed


def _parent_groups(by: Sequence[str], available) -> list[list[str]]:
    """The key columns of every parent group: per --by column (but months), the other --by columns
    with each available hierarchy level above it as the parent, nearest first (so a cell's
    complement is found in its own cluster before its district), then the whole table. For a
    hierarchy level, the levels between it and the parent are dropped from the keys (they vary
    within the parent: a district's schools lie in several clusters)."""
    groups: list[list[str]] = []
    for dim in (c for c in by if c != "months"):
        others = [c for c in by if c != dim]
        if dim not in HIERARCHY:
            parents: list[str | None] = [None]
        else:
            parents = [level for level in reversed(HIERARCHY[:HIERARCHY.index(dim)]) if level in available]
            parents.append(None)
        for parent in parents:
            depth = HIERARCHY.index(parent) if parent is not None else -1
            keys = [c for c in others if not _between(c, depth, dim)]
            if parent is not None and parent not in keys:
                keys.append(parent)
            if keys not in groups:
                groups.append(keys)
    return groups


def _between(column: str, depth: int, dim: str) -> bool:
    """`column` is a hierarchy level strictly between the parent (at `depth`; -1: the whole table)
    and the child level `dim`."""
    if column not in HIERARCHY or dim not in HIERARCHY:
        return False
    return depth < HIERARCHY.index(column) < HIERARCHY.index(dim)


def group_ids(frame: pd.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """The group of each row of `frame` by `keys` (missing values a group of their own), as
    integers from 0 in order of first appearance (a `groupby(sort=False, dropna=False).ngroup()`);
    one group when there is no key."""
    # each column factorised once, the codes combined as integers (a groupby of text columns costs
    # several times more); factorize numbers in order of first appearance, as ngroup does
    return _combined_ids([pd.factorize(frame[column])[0] for column in keys], len(frame))


def _combined_ids(codes: Sequence[np.ndarray], rows: int) -> np.ndarray:
    """`group_ids` from each key column's factorize codes (-1: missing, a value of its own)."""
    group = np.zeros(rows, dtype="int64")
    for column_codes in codes:
        group = pd.factorize(group * (int(column_codes.max(initial=-1)) + 2) + (column_codes + 1))[0]
    return group.astype("int64")


def _protect(ids: np.ndarray, suppressed: np.ndarray, present: np.ndarray, teachers: np.ndarray,
             counts: list[np.ndarray]) -> bool:
    """One pass of the complementary rule over the parent groups `ids`; marks at most one more
    cell per group in `suppressed` (in place). True when it marked any."""
    hidden = suppressed & present
    shown = ~suppressed & present
    size = ids.max() + 1 if len(ids) else 0
    k = np.bincount(ids, weights=hidden, minlength=size)
    visible = np.bincount(ids, weights=shown, minlength=size)
    hidden_teachers = np.bincount(ids, weights=np.where(hidden, teachers, 0), minlength=size)
    need = (k == 1) | ((k > 0) & (hidden_teachers == k))
    penalty = np.zeros(len(ids))
    for values in counts:
        hidden_sum = np.bincount(ids, weights=np.where(hidden, values, 0), minlength=size)
        shown_sum = np.bincount(ids, weights=np.where(shown, values, 0), minlength=size)
        zero = (k > 0) & (hidden_sum == 0) & (shown_sum > 0)
        need |= zero
        # a shown cell that is 0 too would not break the zero total: choose another first
        penalty += zero[ids] & (values == 0)
    need &= visible > 0
    candidates = np.flatnonzero(shown & need[ids])
    if not len(candidates):
        return False
    order = np.lexsort((candidates, teachers[candidates], penalty[candidates], ids[candidates]))
    ordered = candidates[order]
    first = np.unique(ids[ordered], return_index=True)[1]
    suppressed[ordered[first]] = True
    return True


def order_rows(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """`frame` sorted by the `by` columns, stably, missing values last in each; a dimension with
    declared values (bands) in the catalogue's order, not as text (`sort_key`). The order of
    `frame.sort_values(by, kind="stable", key=sort_key)`, computed as one `np.lexsort` of each
    column's rank among its sorted distinct values (pandas' sort by several keyed columns cost
    about 1 ms a column, on every view)."""
    if frame.empty or not by:
        return frame.reset_index(drop=True)
    ranks = []
    for column in by:
        codes, uniques = pd.factorize(sort_key(frame[column]), sort=True)
        ranks.append(np.where(codes < 0, len(uniques), codes))  # missing: after every value
    return frame.take(np.lexsort(ranks[::-1])).reset_index(drop=True)
