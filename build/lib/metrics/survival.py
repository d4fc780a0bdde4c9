"""`survival`: Kaplan-Meier of time to abandonment, and the follow-up derivation it shares with
`hindrance_effect`.

Shared definitions (metrics/hindrance_effect.py uses the same units and outcome):
- **Units at risk**: teacher-practices retained at month 0, exactly as in `retention`
  (`observations` rows with months = 0 and retained). A unit's groups (school, cluster, district,
  province, school type, programme, gender, subject) are those of its month-0 visit; the
  dimension filters select units on them. A hindrance filter keeps the teachers who reported it
  at any visit; grouped by hindrance (a teacher in every group they reported), it keeps those
  hindrance rows instead (as `base.filtered_rows`).
- **Follow-up**: the unit's later observed rounds (`observations`: teacher present and the
  practice scored; missed rounds, absent / on-leave visits and `na` scores are skipped). It ends
  at the first round whose placed visit says the teacher `left` or `transferred`: observations
  after that round are not used.
- **Abandonment**: not retained at two observed rounds in a row of the follow-up, dated at the
  first of the two (its `months`). Only the first abandonment counts.
- **Censoring**, when there is no abandonment: at the round of the `left` / `transferred` visit
  when the teacher left (whether or not it comes after the last observation), otherwise at the
  last observed round (month 0 for a unit never seen again). Decision: a final non-retained round
  with no observed round after it is *not* an abandonment (it is not confirmed); the unit is
  censored there (or at the later left/transferred round). So no abandonment is ever dated at
  the latest round observed so far: it needs a later visit to be confirmed.

`survival` columns: the --by columns, `months, survival, ci_low, ci_high, at_risk, events, n,
teachers, suppressed`: one row per group and per distinct time of the Kaplan-Meier table (event
or censoring times, 0 included). `survival` is the product-limit estimate (lifelines
`KaplanMeierFitter`), `ci_low`/`ci_high` its 95% interval (lifelines' default, Greenwood variance
on the log(-log) scale), `at_risk` the units with duration >= months, `events` the abandonments
dated at months; `n` the units of the group and `teachers` its distinct teachers (the same on
every row of the group: the estimate at any time rests on the whole group).

Decisions:
- `months` cannot be a --by column (time is the table's own axis): FilterError.
- `months_min` / `months_max` select the rows shown; the estimate always uses the whole follow-up,
  so a shown S(t) equals the unfiltered curve's S(t).
- A group whose n (units at risk) is below `thresholds.min_group_n` (with complementary
  suppression, `base.suppress`) gives one row with `suppressed` true and every value blank
  (months too: its event and censoring times are not shown either).
"""
from __future__ import annotations

from typing import Sequence

import duckdb
import numpy as np
import pandas as pd

from sustain.config import Config

from .base import group_columns, hindrance_join, order_rows, query, select_list, suppress
from .filters import BY_COLUMNS, FilterError, Filters

# --by columns of survival: all but months (time is the table's own axis)
SURVIVAL_BY = [c for c in BY_COLUMNS if c != "months"]
# unit attributes taken from the month-0 observation (everything a unit can be grouped by but hindrance)
UNIT_COLUMNS = ["province", "district", "cluster", "school_id", "practice", "programme", "school_type",
                "gender", "subject"]
NO_HORIZON = 10_000  # months: "no end to the follow-up"

VALUE_COLUMNS = ["months", "survival", "ci_low", "ci_high", "at_risk", "events", "n", "teachers"]


def followup_ctes(filters: Filters, *, window: bool = False, by_months: bool = False,
                  hindrance_rows: bool = False) -> tuple[str, dict]:
    """Named CTEs (continuing the base WITH list) ending in `units`: one row per unit at risk and
    follow-up horizon, with the UNIT_COLUMNS, `teacher_key`, `horizon`, `event` (confirmed
    abandonment), `event_months`, `exit_months` and `duration` (event or censoring round).

    window=False: the whole follow-up, one horizon (`NO_HORIZON`); the months filters are ignored
    (callers apply them to what they show). window=True: only follow-up rounds within
    [months_min, months_max] are used; with by_months, one horizon per scheduled round t > 0 in
    that range, using the rounds up to t ("abandoned by month t").
    hindrance_rows: the caller puts units in hindrance rows and applies the hindrance filter to
    those rows itself, so it does not select teachers here.
    """
    dims = filters.replace(months_min=None, months_max=None)
    if hindrance_rows:
        dims = dims.replace(hindrance=())
    where, params = dims.where("practice", alias="o")
    low = filters.months_min if (window and filters.months_min is not None) else 0
    high = filters.months_max if (window and filters.months_max is not None) else NO_HORIZON
    params |= {"fu_low": low, "fu_high": high}
    if by_months:
        horizons = "select months as horizon from schedule where months > 0 and months between $fu_low and $fu_high"
    else:
        horizons = "select $fu_high::integer as horizon"
    sql = f"""
baseline as (
    select o.teacher_key, {select_list(UNIT_COLUMNS, "o")}o.months
    from observations o
    where o.months = 0 and o.retained and {where}
),
exits as (
    select teacher_key, min(months) as exit_months
    from placed_visits
    where teacher_status in ('left', 'transferred') and months > 0
    group by teacher_key
),
horizons as (
    {horizons}
),
followed as (
    select h.horizon, o.teacher_key, o.practice, o.months, o.retained
    from observations o
    join baseline b using (teacher_key, practice)
    cross join horizons h
    left join exits e on e.teacher_key = o.teacher_key
    where o.months > 0 and o.months between $fu_low and h.horizon
      and (e.exit_months is null or o.months < e.exit_months)
),
sequenced as (
    select *, lead(retained) over (partition by teacher_key, practice, horizon order by months) as next_retained
    from followed
),
outcomes as (
    select teacher_key, practice, horizon,
           min(months) filter (where not retained and not next_retained) as event_months,
           max(months) as last_months
    from sequenced
    group by teacher_key, practice, horizon
),
units as (
    select b.teacher_key, {select_list(UNIT_COLUMNS, "b")}h.horizon,
           oc.event_months is not null as event,
           oc.event_months,
           e.exit_months,
           coalesce(oc.event_months,
                    case when e.exit_months <= h.horizon then e.exit_months end,
                    oc.last_months, 0) as duration
    from baseline b
    cross join horizons h
    left join outcomes oc on oc.teacher_key = b.teacher_key and oc.practice = b.practice and oc.horizon = h.horizon
    left join exits e on e.teacher_key = b.teacher_key
)"""
    return sql, params


def km_table(durations, events) -> pd.DataFrame:
    """Kaplan-Meier table of (durations, event flags) with lifelines: columns `time, survival,
    ci_low, ci_high, at_risk, events`, one row per distinct time (0 included)."""
    from lifelines import KaplanMeierFitter

    durations = np.asarray(durations, dtype="float64")
    events = np.asarray(events, dtype=bool)
    fitter = KaplanMeierFitter().fit(durations, events, alpha=0.05)
    survival = fitter.survival_function_.iloc[:, 0]
    interval = fitter.confidence_interval_survival_function_
    table = fitter.event_table.reindex(survival.index, fill_value=0)
    at_risk = (durations[None, :] >= survival.index.to_numpy()[:, None]).sum(axis=1)
    return pd.DataFrame({
        "time": survival.index.to_numpy(),
        "survival": survival.to_numpy(),
        "ci_low": interval.iloc[:, 0].to_numpy(),
        "ci_high": interval.iloc[:, 1].to_numpy(),
        "at_risk": at_risk.astype("int64"),
        "events": table["observed"].to_numpy().astype("int64"),
    })


def survival(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str] = (),
             config: Config | None = None) -> pd.DataFrame:
    """Kaplan-Meier survival of practices retained at month 0 (see the module docstring)."""
    config = config or _default_config()
    if any(str(c).strip() == "months" for c in by):
        raise FilterError("survival cannot be grouped by months: months is its time axis "
                          "(use months_min / months_max to choose the rows shown)")
    by = group_columns(by, SURVIVAL_BY)
    grouped_by_hindrance = "hindrance" in by
    ctes, params = followup_ctes(filters, hindrance_rows=grouped_by_hindrance)
    where = "true"
    if grouped_by_hindrance and filters.hindrance:
        where, hindrance_params = Filters(hindrance=filters.hindrance).where(alias="u", hindrance_rows=True)
        params |= hindrance_params
    units = query(con, config, f"""{ctes}
select {select_list(by)}teacher_key, duration, event
from {hindrance_join(by, "units")} u
where {where}
""", params)
    columns = [*by, *VALUE_COLUMNS, "suppressed"]
    if units.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})

    units["group"] = units.groupby(by, sort=False, dropna=False).ngroup() if by else 0
    summary = units.groupby("group", sort=True).agg(
        **{c: (c, "first") for c in by}, n=("teacher_key", "size"), teachers=("teacher_key", "nunique"))
    summary = suppress(summary, by, ["n", "teachers"], config.thresholds.min_group_n, n_column="n")

    parts = []
    for group_id, group in units.groupby("group", sort=True):
        row = summary.loc[group_id]
        keys = {c: row[c] for c in by}
        if row["suppressed"]:
            parts.append(pd.DataFrame([{**keys, "suppressed": True}]))
            continue
        table = km_table(group["duration"], group["event"]).rename(columns={"time": "months"})
        if filters.months_min is not None:
            table = table[table["months"] >= filters.months_min]
        if filters.months_max is not None:
            table = table[table["months"] <= filters.months_max]
        table = table.assign(**keys, n=row["n"], teachers=row["teachers"], suppressed=False)
        parts.append(table)
    frame = pd.concat(parts, ignore_index=True).reindex(columns=columns)
    for column in ("months", "at_risk", "events", "n", "teachers"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
    for column in ("survival", "ci_low", "ci_high"):
        frame[column] = frame[column].astype("float64")
    frame["suppressed"] = frame["suppressed"].astype(bool)
    return order_rows(frame[columns], by)


def _default_config() -> Config:
    from sustain.config import load_config

    return load_config()
