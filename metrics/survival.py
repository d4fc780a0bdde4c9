"""`survival`: a life table, at the scheduled rounds, of the time until a practice in use at the
programme's end is abandoned; read from the person-period table (ingest/model.py).

Default (rule="latent", issue 10 validation): S(t) is the curve of the two-state hidden Markov model
of `metrics.latent` (in use -> abandoned, absorbing; scoring error and leaving modelled), the share
of teacher-practices truly in use at month 0 still in use at t; interval: percentiles of seeded
draws from its cluster-robust (by school) sandwich covariance, blank for a group of fewer than
`stats.MIN_SCHOOLS_INTERVAL` schools (`latent.fit_view`). `at_risk` and `events` are the
first-drop counts below (what was observed); the model's emissions are shared by the groups of a
view, so a group's curve can differ slightly between a grouped view and the same group filtered.
Under scoring error the first-drop life table counts every misscored visit as an abandonment (on
the simulator, accuracy 0.9: S(24) 0.07-0.14 too low; benchmarks/validation_after.md) and the
confirmed rule errs the other way; both stay as sensitivity rules.

Sensitivity rule="first_drop" (the default before the latent model):
- **Units**: teacher-practices in use at month 0 (retained at their month-0 observation), one row
  each per scheduled round t > 0 in `person_period`.
- **Risk set** r_t, at each scheduled round t > 0: the units with `at_risk`: observed at t (the
  teacher present and the practice scored at the visit placed on round t) and no event at an
  earlier round. A unit missed at a round (no visit, absent, on leave, `na`) is not in that
  round's risk set and comes back at its next observed round.
- **Event** d_t: the `event` rows: the first observed round at which the practice is not
  retained. The abandonment happened in the interval since the last retained visit; it is dated
  at the visit that found it (interval-censored, read at the scheduled rounds). A drop at the last
  round is an event: S may fall between the last two rounds.
- **Censoring** is implied by the person-period table: a unit contributes to a round's risk set
  only where it was observed, so it drops out after the last visit where the practice was seen
  (not at the round the teacher was recorded as having left or transferred).
- **S(t)** = prod over scheduled rounds u <= t of (1 - d_u / r_u); S(0) = 1. Rounds where no unit of
  the group is at risk give no row (the product skips them: a drop is dated at the next visit).

Sensitivity option rule="confirmed" (the rule used before issue 10): an event is a round not
retained *and* not retained at the next observed round too (`lead` over the observed rounds),
dated at the first of the two; only the first counts, and a unit stays in the risk set at its
observed rounds until then (an unconfirmed drop does not end follow-up). Censoring is as above
(the old implementation also kept a unit in the risk set at rounds it missed and until the round
its teacher left; the events it dated are the same).
Under "confirmed" the last round can hold no event (nothing can confirm it), so S(24) = S(18)
whenever 24 is the last round: this rule biases the curve upward, and is offered only to show
how much the definition matters. (The person-period column `confirmed_event` is the narrower
"first drop, confirmed"; this option reproduces the old rule on the same rows instead.)

Groups and filters: as every indicator over the analysis model, on each row's own columns
(`person_period`: where the unit was observed at t, else where it was at month 0; the month-0 row:
the month-0 visit). A hindrance filter keeps the teachers who reported the hindrance at any placed
visit; `--by hindrance` puts a teacher in every hindrance group they reported
(`base.filtered_rows` / `base.hindrance_join`, joined to `teacher_hindrances`).

Columns: the --by columns, `months, survival, ci_low, ci_high, at_risk, events, n, teachers,
suppressed`: one row per group for month 0 and for every scheduled round t > 0 with at least one
unit at risk. `at_risk` = r_t (month 0: the units in use at month 0), `events` = d_t, `n` = the
units of the group (any round), `teachers` = its distinct teachers (the same on every row of a
group: the curve at any time rests on the whole group).

Interval (cluster-robust by school): a percentile school bootstrap. The schools of the view are
resampled with replacement (`stats.school_bootstrap_weights`, seeded, `BOOTSTRAP_REPLICATES`
replicates), one draw shared by every group shown, as for a domain estimate in a survey (a group's
number of schools varies between replicates, and groups that share schools move together). Each
replicate's life table is computed from the per-school per-round (at_risk, events) counts (a
replicates x schools weight matrix times a schools x (group, round) count matrix), and
ci_low / ci_high are the 2.5% and 97.5% percentiles of the replicates' S(t) (replicates with no
unit at risk at a round the estimate uses are left out). The interval is never narrower than
Greenwood's (log(-log) scale, as lifelines), so a group resting on one school (whose bootstrap
cannot see between-school variation) keeps the binomial interval: a design effect of at least 1.

Decisions:
- `months` cannot be a --by column (time is the table's own axis): FilterError.
- `months_min` / `months_max` select the rows shown; the estimate always uses the whole follow-up,
  so a shown S(t) equals the unfiltered curve's S(t).
- A group resting on fewer than `thresholds.min_group_n` distinct teachers (with complementary
  suppression, `base.suppress`) gives one row with `suppressed` true and every value blank
  (months too).
- Aggregation is in DuckDB (one query: per group x school x round counts of the rows at risk, and
  per group n and teachers); the life table and the bootstrap are numpy over those counts. Under
  the latent rule the counts are per group x round only (the interval is the model's). A view
  with nothing by place (grouped or filtered: `units_whole`) reads the first-drop counts stored in
  retention's cells (ingest/model.py `rollup_cells`, `cells_grain`) instead of the person-period
  rows: thousands of cells, not millions of rows, with the same figures (tests/test_rollups.py).

"""
from __future__ import annotations

from typing import Sequence

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

from sustain.config import Config
from sustain.dimensions import place_columns

from . import latent, rollups
from .base import (ascending_codes, filtered_rows, group_columns, order_rows, query_arrow, school_hierarchy,
                   select_list, suppress)
from .filters import BY_COLUMNS, FilterError, Filters
from .stats import (BOOTSTRAP_REPLICATES, BOOTSTRAP_SEED, Z95, percentile_interval, replicate_totals,
                    school_bootstrap_weights)

# --by columns of survival: all but months (time is the table's own axis)
SURVIVAL_BY = [c for c in BY_COLUMNS if c != "months"]
# the grouping columns a person-period row carries (hindrance comes from teacher_hindrances)
# and the district key, which a district filter tests (sustain/dimensions.py `district_key_sql`)
ROW_COLUMNS = [*(c for c in BY_COLUMNS if c not in ("months", "hindrance")), "district_key"]
RULES = ("latent", "first_drop", "confirmed")
# the place columns: a person-period row's are where the unit was observed at t, so a unit's rows
# can lie in several place groups; every other column is the teacher's or the unit's own
PLACE_COLUMNS = list(place_columns())

VALUE_COLUMNS = ["months", "survival", "ci_low", "ci_high", "at_risk", "events", "n", "teachers"]
# (bootstrap replicates x group-round cells) computed at once, to bound memory with many groups
BOOTSTRAP_CELLS = 4_000_000
# a block's counts (schools x columns) up to this many cells are multiplied as a dense array
DENSE_CELLS = 4_000_000

# the risk set and events of each rule, one row per unit and round t > 0
RULE_CTES = {
    "first_drop": """
unit_periods as (
    select teacher_key, practice, months, at_risk, event, {row_columns}
    from person_period
)""",
    "confirmed": """
drops as (
    select *,
           coalesce(observed and not retained
                    and lead(retained ignore nulls) over unit is not distinct from false, false) as confirmed_drop
    from person_period
    window unit as (partition by teacher_key, practice order by months)
),
first_confirmed as (
    select *, min(months) filter (where confirmed_drop) over (partition by teacher_key, practice) as event_months
    from drops
),
unit_periods as (
    select teacher_key, practice, months,
           observed and (event_months is null or months <= event_months) as at_risk,
           coalesce(months = event_months, false) as event,
           {row_columns}
    from first_confirmed
)""",
}


def survival_counts(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str], config: Config,
                    rule: str = "first_drop", per_school: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells, groups) from one DuckDB query: `cells` has the group's columns, `school` (the
    school's number in ascending school id, as the bootstrap draws them), `months` (month 0
    included), `at_risk` and `events`, where a unit is at risk: one row per group, school and round
    from the rows, possibly several from retention's cells (`cells_grain`; their sum is the
    count); `groups` one row per group with `n` (units) and `teachers`. Unsuppressed: for
    estimators and tests, never shown as they are. `per_school` False: one cell per group and
    round (`school` -1), for a view whose interval does not need the schools (the latent model's;
    a national view has tens of thousands of schools)."""
    dims = filters.replace(months_min=None, months_max=None)
    grain = cells_grain(by, dims) if rule == "first_drop" else None
    if grain is not None:
        return _counts_from_cells(con, grain, by, dims, config, per_school)
    row_columns = ", ".join(ROW_COLUMNS)
    # filtered in each part: DuckDB pushed a filter on the union into the follow-up rows only, and
    # read every month-0 row of the country for one school's view (3.9M rows at a million teachers)
    month0_rows, params = filtered_rows(by, dims, relation="baseline")
    later_rows, _ = filtered_rows(by, dims, relation="unit_periods")
    keys = select_list(by)
    if units_whole(by, dims):
        # every row of a unit is in its month-0 row's group: the group's units are its month-0
        # rows (one per unit), so n and teachers need no pass over the follow-up rows
        group_totals = f"""group_totals as (
    select {keys}count(*) as n, count(distinct teacher_key) as teachers from shown where months = 0 group by all
)"""
    else:
        group_totals = f"""group_units as (
    select {keys}teacher_key, practice from shown group by all
),
group_totals as (
    select {keys}count(*) as n, count(distinct teacher_key) as teachers from group_units group by all
)"""
    # the school of each cell (a view grouped by school has it among its keys already)
    grouped_by_school = "school_id" in by
    school = "school_id, " if per_school and not grouped_by_school else ""
    cell_school = school or ("" if grouped_by_school else "null::varchar as school_id, ")
    counts = query_arrow(con, config, f"""{RULE_CTES[rule].format(row_columns=row_columns)},
baseline as (
    -- month 0: the units in use when the programme ended, where they were then
    select teacher_key, practice, months, true as at_risk, false as event, {row_columns}
    from observations
    where months = 0 and retained
),
shown as (
    {month0_rows}
    union all by name
    {later_rows}
),
cells as (
    select {keys}{school}months, count(*) as at_risk, count(*) filter (where event) as events
    from shown
    where at_risk
    group by all
),
{group_totals}
select {keys}{cell_school}months, at_risk, events, null::bigint as n, null::bigint as teachers, false as group_total
from cells
union all
select {keys}{"" if grouped_by_school else "null::varchar, "}null::integer, null::bigint, null::bigint, n, teachers, true
from group_totals
""", params)
    return _split_counts(counts, by)


def cells_grain(by: Sequence[str], filters: Filters) -> str | None:
    """The grain of retention's cells the first-drop counts of a view grouped by `by` are summed
    from, or None (read the person-period rows): a grain `rollups.rollup_grain` chooses for the
    view by round, when no unit's rows are split between groups (`units_whole`: a group's units and
    teachers are then its month-0 cells', which add up; a view by place counts a transferred
    teacher's unit in each place it was observed, which cells cannot tell)."""
    dims = filters.replace(months_min=None, months_max=None)
    if not units_whole(by, dims):
        return None
    return rollups.rollup_grain([*by, "months"], dims, hindrance_cells=True)


def _counts_from_cells(con: duckdb.DuckDBPyConnection, grain: str, by: Sequence[str], filters: Filters,
                       config: Config, per_school: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`survival_counts` summed from retention's cells at `grain` (`rollups.survival_cells_sql`)
    instead of the person-period rows: a life table at national scale reads thousands of cells.
    The same (cells, groups): cells only where a unit is at risk (the rows' cells are counts of
    the rows at risk), and a group's units and teachers are those of its month-0 cells (the
    caller's `units_whole`)."""
    cells_sql, params = rollups.survival_cells_sql(grain, by, filters, per_school)
    # one pass over the cells: a group's units and teachers are the sums of its month-0 cells'
    # (every unit is at risk at month 0), taken here rather than by a second read of the cells
    counts = query_arrow(con, config, f"""
cells as ({cells_sql})
select * from cells where at_risk > 0
""", params)
    # (without --by, one row; null sums when no cell is shown, left out below as n = 0 would be)
    totals = counts.filter(pc.equal(counts["months"], 0)).group_by(list(by)).aggregate(
        [("n", "sum"), ("teachers", "sum")])
    groups = totals.select([*by, "n_sum", "teachers_sum"]).rename_columns([*by, "n", "teachers"]).to_pandas()
    groups = groups[groups["n"] > 0].astype({"n": "int64", "teachers": "int64"})
    return _cells_frame(counts, by), groups.reset_index(drop=True)


def _cells_frame(cells: pa.Table, by: Sequence[str]) -> pd.DataFrame:
    """`survival_counts`' cells: the by-columns (Categoricals), the school numbered (`school`: ascending school
    id, as the bootstrap draws them; its id left in Arrow, not made Python strings), months,
    at_risk and events."""
    frame = cells.select(["months", "at_risk", "events"]).to_pandas()
    frame.insert(0, "school", ascending_codes(cells["school_id"])[0])
    for position, column in enumerate(by):
        # as Categoricals: one Python string per distinct value (`_group_of` matches their codes)
        frame.insert(position, column, pc.dictionary_encode(cells[column]).combine_chunks().to_pandas())
    return frame


def _split_counts(counts: pa.Table, by: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells, groups) of `survival_counts` from its one query's rows (`group_total` marks a group's
    totals)."""
    cells = _cells_frame(counts.filter(pc.invert(counts["group_total"])), by)
    groups = counts.filter(counts["group_total"]).select([*by, "n", "teachers"]).to_pandas()
    # (without --by, the totals give a row even when no row is shown: n = 0)
    return cells, groups[groups["n"] > 0].reset_index(drop=True)


def units_whole(by: Sequence[str], filters: Filters) -> bool:
    """True when no unit's rows are split between groups or by the filters: nothing grouped or
    filtered by place (a row's place is where the unit was observed at its round; the other
    columns are the teacher's or the unit's, the same on all its rows). Then a group's units are
    its month-0 rows: a unit's follow-up rows exist only for a unit in use at month 0 (one
    month-0 observation per teacher-practice, ingest/model.py)."""
    return (filters.scope is None and not any(c in PLACE_COLUMNS for c in by)
            and not any(getattr(filters, c) for c in PLACE_COLUMNS))


def life_table(at_risk: np.ndarray, events: np.ndarray) -> np.ndarray:
    """S(t) along the last axis: prod over rounds of (1 - d/r), rounds with r = 0 skipped; NaN from
    the first round where r is 0 although it is positive in the estimate (see `bootstrap_interval`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, events / at_risk, 0.0)
    return np.cumprod(1.0 - hazard, axis=-1)


def greenwood_interval(at_risk: np.ndarray, events: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Greenwood's 95% interval of the life table on the log(-log) scale (lifelines' default), per
    (group, round) of (groups x rounds) counts; NaN where S is 1 (no event yet) or 0."""
    r = np.asarray(at_risk, dtype="float64")
    d = np.asarray(events, dtype="float64")
    survival = life_table(r, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where((r > 0) & (r > d), d / (r * (r - d)), np.where(r > 0, np.inf, 0.0))
        log_s = np.log(survival)
        se = np.sqrt(np.cumsum(terms, axis=-1) / log_s**2)
        low = survival ** np.exp(z * se)
        high = survival ** np.exp(-z * se)
    valid = (survival > 0) & (survival < 1) & np.isfinite(se)
    return np.where(valid, low, np.nan), np.where(valid, high, np.nan)


def bootstrap_interval(cells_group: np.ndarray, cells_school: np.ndarray, cells_round: np.ndarray,
                       at_risk: np.ndarray, events: np.ndarray, groups: int, rounds: int,
                       replicates: int = BOOTSTRAP_REPLICATES, seed: int = BOOTSTRAP_SEED):
    """Percentile school-bootstrap interval of S(t), (groups x rounds) arrays (low, high).

    Input: one entry per (group, school, round) cell with its at_risk and events counts. The
    schools are resampled once for all groups (`school_bootstrap_weights`); replicate counts are
    W (replicates x schools) @ C (schools x group-rounds), computed in blocks of groups."""
    schools = int(cells_school.max()) + 1 if len(cells_school) else 0
    weights = school_bootstrap_weights(schools, replicates, seed)
    column = cells_group * rounds + cells_round
    shape = (schools, groups * rounds)
    whole_dense = schools * 2 * groups * rounds <= DENSE_CELLS
    if whole_dense:
        # few enough cells: at risk and events of every school as one dense array, built directly
        counts = np.zeros((2, schools * groups * rounds))
        np.add.at(counts, (0, cells_school * groups * rounds + column), at_risk.astype("float64"))
        np.add.at(counts, (1, cells_school * groups * rounds + column), events.astype("float64"))
        counts = counts.reshape(2, schools, groups * rounds)
        observed = counts[0].sum(axis=0).reshape(groups, rounds) > 0
    else:
        risk = sparse.csc_matrix((at_risk.astype("float64"), (cells_school, column)), shape=shape)
        drop = sparse.csc_matrix((events.astype("float64"), (cells_school, column)), shape=shape)
        observed = np.asarray(risk.sum(axis=0)).reshape(groups, rounds) > 0
    low = np.full((groups, rounds), np.nan)
    high = np.full((groups, rounds), np.nan)
    block = max(1, BOOTSTRAP_CELLS // max(1, replicates * rounds))
    for first in range(0, groups, block):
        last = min(groups, first + block)
        columns = slice(first * rounds, last * rounds)
        width = (last - first) * rounds
        # at risk and events in one product: the weights are converted once per block
        if whole_dense:
            both = np.hstack([counts[0][:, columns], counts[1][:, columns]])
            present = np.flatnonzero(both.any(axis=1))
        else:
            both = sparse.hstack([risk[:, columns], drop[:, columns]], format="csc")
            present = np.unique(both.indices)  # the schools with a count in these groups
        if whole_dense or len(present) * both.shape[1] <= DENSE_CELLS:
            # as a dense array of those schools (BLAS): several times faster than the sparse
            # product when most of them have a count in most columns (one group: every school);
            # the sums are of whole numbers, so exactly the same
            chosen = slice(None) if len(present) == schools else present  # a slice: no copy
            totals = replicate_totals(weights[:, chosen], both[chosen] if whole_dense else both[chosen].toarray())
        else:
            totals = replicate_totals(weights, both)
        r = totals[:, :width].reshape(replicates, last - first, rounds)
        d = totals[:, width:].reshape(replicates, last - first, rounds)
        with np.errstate(divide="ignore", invalid="ignore"):
            hazard = np.where(observed[first:last], d / r, 0.0)  # NaN where the replicate has nobody at risk
        low[first:last], high[first:last] = percentile_interval(np.cumprod(1.0 - hazard, axis=-1))
    return low, high


def survival(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
             config: Config, rule: str = "latent") -> pd.DataFrame:
    """Survival of practices in use at month 0, at the scheduled rounds (the module docstring has
    the full definition). rule="latent" (default): S(t) of the hidden Markov model that separates
    abandonment from scoring error (`metrics.latent`), interval cluster-robust by school;
    `at_risk` and `events` are the first-drop counts. Sensitivity rules, life tables of the scores
    as they are, with a school-bootstrap interval: rule="first_drop": the first visit not retained
    is the event; rule="confirmed": only a drop confirmed at the next observed visit (the last
    round can hold no event)."""
    if rule not in RULES:
        raise FilterError(f"survival rule must be one of {', '.join(RULES)}, got {rule!r}")
    if any(str(c).strip() == "months" for c in by):
        raise FilterError("survival cannot be grouped by months: months is its time axis "
                          "(use months_min / months_max to choose the rows shown)")
    by = group_columns(by, SURVIVAL_BY)
    columns = [*by, *VALUE_COLUMNS, "suppressed"]
    # under the latent rule the curve and its interval are the model's: the first-drop counts give
    # at_risk and events only, so they need no school bootstrap (nor the schools)
    latent_rule = rule == "latent"
    cells, groups = survival_counts(con, filters, by, config, "first_drop" if latent_rule else rule,
                                    per_school=not latent_rule)
    if groups.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})

    # ordered first: the complementary rule breaks ties by row order, which must not be DuckDB's
    # (it varies between runs, and two renders hiding different cells would tell both)
    groups = suppress(order_rows(groups, by), by, ["n"], config.thresholds.min_group_n, n_column="teachers",
                      hierarchy=school_hierarchy(con))
    shown = groups[~groups["suppressed"]].reset_index(drop=True)
    parts = [groups[groups["suppressed"]][by].assign(suppressed=True)]
    if not shown.empty:
        curves = _curves(cells, shown, by, config, interval=not latent_rule)
        if latent_rule:
            curves = latent.with_latent_survival(curves, latent.latent_survival(con, filters, by, config), by)
        parts.append(curves)
    frame = pd.concat([p for p in parts if not p.empty], ignore_index=True).reindex(columns=columns)
    if filters.months_min is not None:
        frame = frame[frame["suppressed"] | (frame["months"] >= filters.months_min)]
    if filters.months_max is not None:
        frame = frame[frame["suppressed"] | (frame["months"] <= filters.months_max)]
    for column in ("months", "at_risk", "events", "n", "teachers"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
    for column in ("survival", "ci_low", "ci_high"):
        frame[column] = frame[column].astype("float64")
    frame["suppressed"] = frame["suppressed"].astype(bool)
    return order_rows(frame[columns], [*by, "months"])


def _group_of(cells: pd.DataFrame, groups: pd.DataFrame, by: Sequence[str]) -> np.ndarray:
    """Each cell's row of `groups` (-1: its group is not among them), matched on the by-columns'
    codes (the cells' Categoricals, `_cells_frame`) rather than by a merge on text: a national
    view by practice has hundreds of thousands of cells."""
    cell_key = np.zeros(len(cells), dtype="int64")
    group_key = np.zeros(len(groups), dtype="int64")
    for column in by:
        values = pd.Categorical(cells[column])
        categories = values.categories
        missing, absent = len(categories), len(categories) + 1
        cell_code = np.where(values.codes < 0, missing, values.codes).astype("int64")
        found = categories.get_indexer(groups[column])
        group_code = np.where(groups[column].isna(), missing, np.where(found < 0, absent, found)).astype("int64")
        cell_key = cell_key * (absent + 1) + cell_code
        group_key = group_key * (absent + 1) + group_code
    return pd.Index(group_key).get_indexer(cell_key)


def _curves(cells: pd.DataFrame, groups: pd.DataFrame, by: Sequence[str], config: Config,
            interval: bool = True) -> pd.DataFrame:
    """The life table of every group of `groups` (rows 0..G-1) from the cells' counts, vectorised:
    (groups x rounds) arrays, then one long frame. `interval` False: ci_low and ci_high are NaN
    (the caller takes the latent model's)."""
    rounds = np.array(sorted({0, *config.schedule.months}), dtype="int64")
    group = _group_of(cells, groups, by)
    cells = cells[group >= 0]  # the cells of groups shown
    g = group[group >= 0]
    t = np.searchsorted(rounds, cells["months"].to_numpy())
    n_groups, n_rounds = len(groups), len(rounds)
    at_risk = np.zeros((n_groups, n_rounds))
    events = np.zeros((n_groups, n_rounds))
    np.add.at(at_risk, (g, t), cells["at_risk"].to_numpy(dtype="float64"))
    np.add.at(events, (g, t), cells["events"].to_numpy(dtype="float64"))
    estimate = life_table(at_risk, events)
    if interval:
        boot_low, boot_high = bootstrap_interval(g, cells["school"].to_numpy(), t, cells["at_risk"].to_numpy(),
                                                 cells["events"].to_numpy(), n_groups, n_rounds)
        gw_low, gw_high = greenwood_interval(at_risk, events)
        low = np.fmin(boot_low, gw_low)
        high = np.fmax(boot_high, gw_high)
    else:
        low = high = np.full_like(estimate, np.nan)
    keep = at_risk > 0
    keep[:, 0] = True
    group_of, round_of = np.nonzero(keep)
    frame = groups.iloc[group_of][[*by, "n", "teachers"]].reset_index(drop=True)
    return frame.assign(months=rounds[round_of], survival=estimate[keep], ci_low=low[keep], ci_high=high[keep],
                        at_risk=at_risk[keep], events=events[keep], suppressed=False)

