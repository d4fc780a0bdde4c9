"""Reading the analysis model's rollups (ingest/model.py `rollup_cells`) instead of its rows.

Retention's counts and prevalence need, per group and school, the retained and observed counts
and the distinct teachers. The rollups hold these per school cell at a few
grains (sustain/dimensions.py `rollup_grains`), so a country or district view sums thousands of
cells instead of the person-period rows. A view reads the coarsest grain that keeps every column it
groups or filters by, and only when the sums it needs add up across the cells it pools:
- no hindrance (a teacher belongs to several hindrance groups: not a column of any cell);
- `months` grouped (a teacher has one school per round, so the distinct teachers of a group and
  school are the sum of its cells' only within one round);
- practices pooled only over all practices, or one (a teacher counts in every practice's cell, so
  the cells of two practices would count them twice).
Otherwise (`rollup_grain` returns None) the indicator reads the model's rows, with the same result.

Retention's units not scored at a round (`unscored_cells`) are one row each, so their counts add up
over any pooling; a retention view reads them alongside `rollup_cells` under the same rule.

Retention's views grouped by hindrance or filtered by one read the same cells per hindrance group
(`rollup_hindrance_cells`, `unscored_hindrance_cells`, at HINDRANCE_GRAINS: a teacher's rows lie
in every group the teacher reported, so within one they add up as above); a filter of several
hindrances not grouped by hindrance reads the rows (a teacher who reported two is counted once).
"""
from __future__ import annotations

from typing import Sequence

from sustain.dimensions import HINDRANCE_GRAINS, rollup_grains

from .filters import DIMENSIONS, Filters

# False: every view reads the model's rows (the tests compare both paths; a rollup is never needed)
ENABLED = True


def rollup_grain(by: Sequence[str], filters: Filters, hindrance_cells: bool = False) -> str | None:
    """The coarsest rollup grain that answers a view grouped by `by` (holding `months`) under
    `filters`; None when the view must read the model's rows (see the module docstring).
    `hindrance_cells`: the reader can read retention's cells per hindrance group
    (`rollup_table`), so a view grouped by hindrance, or filtered by one, has a grain too (one of
    HINDRANCE_GRAINS)."""
    if not ENABLED or "months" not in by:
        return None
    per_hindrance = "hindrance" in by or bool(filters.hindrance)
    if per_hindrance and not (hindrance_cells and ("hindrance" in by or len(filters.hindrance) == 1)):
        return None
    needed = (set(by) | {name for name in DIMENSIONS if getattr(filters, name)}) - {"hindrance"}
    if filters.scope is not None:
        needed.add("district")
    if "practice" in needed and "practice" not in by and len(filters.practice) > 1:
        return None
    for grain, kept in rollup_grains().items():
        if per_hindrance and grain not in HINDRANCE_GRAINS:
            continue
        if needed <= set(kept):
            return grain
    return None


def per_hindrance(by: Sequence[str], filters: Filters) -> bool:
    """The view reads retention's cells per hindrance group (`rollup_hindrance_cells`,
    `unscored_hindrance_cells`): grouped by hindrance or filtered by one (`rollup_grain` with
    `hindrance_cells`)."""
    return "hindrance" in by or bool(filters.hindrance)


def rollup_table(by: Sequence[str], filters: Filters) -> str:
    """The stored cells of retention's scored counts a view reads at its grain."""
    return "rollup_hindrance_cells" if per_hindrance(by, filters) else "rollup_cells"


def school_cells_sql(measure: str, grain: str, by: Sequence[str], filters: Filters,
                     summed: bool = True) -> tuple[str, dict]:
    """`select <by>, school_id, school_retained, school_n, school_teachers` per group and school
    from the rollup of `measure` (retention | prevalence) at `grain`: the same per-school totals
    the indicators compute from the model's rows. `summed=False`: one row per cell, not summed (for
    a reader that sums them per group and school anyway, with other rows). A view grouped by
    hindrance or filtered by one reads retention's cells per hindrance (`rollup_table`): a hindrance
    filter keeps that hindrance's cells."""
    table = rollup_table(by, filters) if measure == "retention" else "rollup_cells"
    where, params = filters.where("practice", alias="r", hindrance_rows=table != "rollup_cells", keyed=True)
    keys = "".join(f"r.{c}, " for c in by)
    if not summed:
        sql = f"""
select {keys}r.school_id, r.retained as school_retained, r.n as school_n, r.teachers as school_teachers
from {table} r
where r.measure = $rollup_measure and r.grain = $rollup_grain and {where}
"""
        return sql, params | {"rollup_measure": measure, "rollup_grain": grain}
    sql = f"""
select {keys}r.school_id,
       sum(r.retained)::bigint as school_retained,
       sum(r.n)::bigint as school_n,
       sum(r.teachers)::bigint as school_teachers
from {table} r
where r.measure = $rollup_measure and r.grain = $rollup_grain and {where}
group by all
"""
    return sql, params | {"rollup_measure": measure, "rollup_grain": grain}


def survival_cells_sql(grain: str, by: Sequence[str], filters: Filters, per_school: bool = True) -> tuple[str, dict]:
    """`select <by>, school_id, months, at_risk, events, n, teachers` from retention's cells at
    `grain` (a grain `rollup_grain` chose for the view grouped by `by` and months): survival's
    first-drop counts (ingest/model.py `rollup_cells`), and at month 0 the units in use (`n`, every
    one at risk) and their distinct teachers, null at later rounds. `per_school`: the stored cells
    as they are (a group, school and round can have several, from the grain's further columns: the
    reader sums them, as it sums per group and round anyway); False: summed per group and round
    (`school_id` null). The caller makes sure the group's units and teachers are its month-0
    rows' (metrics/survival.py `units_whole`); months bounds do not apply (the life table reads the
    whole follow-up)."""
    dims = filters.replace(months_min=None, months_max=None)
    table = rollup_table(by, dims)
    where, params = dims.where("practice", alias="r", hindrance_rows=table != "rollup_cells", keyed=True)
    keys = "".join(f"r.{c}, " for c in by)  # never the school: a view by place reads the rows
    params = params | {"rollup_grain": grain}
    if per_school:
        sql = f"""
select {keys}r.school_id, r.months, r.at_risk, r.events,
       case when r.months = 0 then r.n end as n, case when r.months = 0 then r.teachers end as teachers
from {table} r
where r.measure = 'retention' and r.grain = $rollup_grain and {where}
"""
        return sql, params
    sql = f"""
select {keys}null::varchar as school_id, r.months,
       sum(r.at_risk)::bigint as at_risk, sum(r.events)::bigint as events,
       sum(r.n) filter (where r.months = 0)::bigint as n,
       sum(r.teachers) filter (where r.months = 0)::bigint as teachers
from {table} r
where r.measure = 'retention' and r.grain = $rollup_grain and {where}
group by all
"""
    return sql, params


def unscored_cells_sql(grain: str, by: Sequence[str], filters: Filters) -> tuple[str, dict]:
    """`select <by>, school_id, model_programme, model_practice, pattern, school_units`: retention's
    units not scored at their round (ingest/model.py `unscored_cells`) under `filters`, one row per
    cell (not summed: the reader sums them with their values), at the unscored grain that keeps
    every column of rollup `grain` (the chosen rollup grain of the view, `rollup_grain`)."""
    kept = set(rollup_grains()[grain])
    hindrance = per_hindrance(by, filters)
    table = "unscored_hindrance_cells" if hindrance else "unscored_cells"
    unscored_grain = next(g for g, columns in rollup_grains().items() if "practice" in columns and kept <= set(columns)
                          and (not hindrance or g in HINDRANCE_GRAINS))
    where, params = filters.where("practice", alias="r", hindrance_rows=hindrance, keyed=True)
    keys = "".join(f"r.{c}, " for c in by) + ("" if "school_id" in by else "r.school_id, ")
    sql = f"""
select {keys}r.programme as model_programme, r.practice as model_practice, r.pattern,
       r.units as school_units
from {table} r
where r.grain = $unscored_grain and {where}
"""
    return sql, params | {"unscored_grain": unscored_grain}


# -- the latent model's pattern counts (metrics/latent.py `pattern_counts`) ------------------------
# One grain: a unit (teacher-practice scored at month 0) lies in exactly one cell (its month-0
# school, programme, practice and teacher-level factors), so its count adds up over any pooling.
# Per hindrance group (`pattern_hindrance_cells`) a unit lies in one cell of each hindrance its
# teacher reported: the counts add up within a hindrance, not across two.

def pattern_table(by: Sequence[str], filters: Filters) -> str | None:
    """The stored pattern counts a view grouped by `by` under `filters` can be summed from:
    `pattern_cells` without hindrance; `pattern_hindrance_cells` grouped by hindrance (a teacher in
    every group they reported, as the rows put them) or filtered by one hindrance; None (read the
    rows) for a filter of several hindrances not grouped by hindrance (a teacher who reported two
    of them is one unit, but lies in two hindrance groups)."""
    if not ENABLED:
        return None
    if "hindrance" not in by and not filters.hindrance:
        return "pattern_cells"
    if "hindrance" in by or len(filters.hindrance) == 1:
        return "pattern_hindrance_cells"
    return None


def patterns_readable(by: Sequence[str], filters: Filters) -> bool:
    """True when the pattern counts of a view grouped by `by` under `filters` can be summed from
    the stored cells (`pattern_table`)."""
    return pattern_table(by, filters) is not None


def pattern_cells_sql(by: Sequence[str], filters: Filters) -> tuple[str, dict]:
    """`select <by>, school_id, pattern, units` summed from the stored cells (`pattern_table`)
    under `filters` (months bounds do not apply: a unit is the whole follow-up; a hindrance filter
    keeps that hindrance's cells)."""
    table = pattern_table(by, filters)
    if table is None:
        raise ValueError("this view's pattern counts are not stored: read the rows")
    where, params = filters.replace(months_min=None, months_max=None).where("practice", alias="r",
                                                                            hindrance_rows=True, keyed=True)
    keys = "".join(f"r.{c}, " for c in by) + ("" if "school_id" in by else "r.school_id, ")
    sql = f"""
select {keys}r.pattern, sum(r.units)::bigint as units
from {table} r
where {where}
group by all
"""
    return sql, params
