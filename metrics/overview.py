"""Headline figures of the Overview page, each with its n and interval, as one tidy table.

Each figure comes from an indicator of this package, so every number traces back to one
definition: half_life (its readings) and persistence. Retention is not here: programmes end on different dates
and differ in design, so the Overview shows it per programme (the `retention` indicator by
programme); the figures here span the selection, and their labels name the programmes they pool.
"""
from __future__ import annotations

from typing import Sequence

import duckdb
import numpy as np
import pandas as pd

from sustain.config import Config

from .base import TOO_FEW, query
from .decay import DECAYING, by_school, half_life_readings, school_persistence
from .filters import Filters
from .stats import wilson_interval

# the figures' labels when they pool programmes (short: the programmes' names follow)
POOLED_LABELS = {"teachers_followed": "Teachers followed", "median_half_life": "Median half-life, months",
                 "schools_decaying": "Schools decaying"}
COLUMNS = ["figure", "label", "value", "ci_low", "ci_high", "n", "months", "note", "suppressed"]


def headline(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
             config: Config) -> pd.DataFrame:
    """The Overview's headline figures (rows): teachers followed after the programme (suppressed
    when fewer than `thresholds.min_group_n`); the median half-life across practices
    (read from each practice's curve, those reaching one half); the share of schools decaying
    (class "decaying" of metrics.schools.school_trends: likely below their programme at the common
    round) with its Wilson interval over schools. `by` is not
    used: headlines are for the whole filtered selection. When it spans several programmes, each
    label is short and ends with them, e.g. "Schools decaying (CBM and CBT pooled)", and so does its
    note: a pooled figure always says so."""
    followed, programmes = _teachers_followed(con, filters, config)
    rows = [followed, _median_half_life(con, filters, config), _schools_decaying(con, filters, config)]
    if len(programmes) > 1:
        pooled = f"{', '.join(programmes[:-1])} and {programmes[-1]} pooled"
        for row in rows:
            row["label"] = f"{POOLED_LABELS[row['figure']]} ({pooled})"
            row["note"] = f"{pooled}: {row['note']}"
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(figure, label, value=np.nan, ci_low=np.nan, ci_high=np.nan, n=0, months=np.nan, note="",
         suppressed=False) -> dict:
    return dict(figure=figure, label=label, value=value, ci_low=ci_low, ci_high=ci_high, n=n, months=months,
                note=note, suppressed=suppressed)


def _teachers_followed(con, filters, config) -> tuple[dict, list[str]]:
    """The teachers-followed row, and the codes of the programmes the selection holds."""
    where, params = filters.where("practice", keyed=True)
    # one row per teacher and programme first: the distinct counts then run over ~1 row per
    # teacher, not over every practice score
    followed, rostered, programmes = query(con, config, f"""
filtered as (
    select * from observations r where {where}
),
teacher_programmes as (
    select teacher_key, programme, bool_or(months > 0) as followed
    from filtered
    group by all
)
select count(distinct teacher_key) filter (where followed),
       count(distinct teacher_key),
       coalesce(list_sort(list(distinct programme)), [])
from teacher_programmes
""", params).iloc[0]
    programmes = [str(p) for p in programmes if p is not None]
    if followed < config.thresholds.min_group_n:
        return _row("teachers_followed", "Teachers followed after the programme", suppressed=True,
                    note=TOO_FEW), programmes
    return _row("teachers_followed", "Teachers followed after the programme", value=int(followed),
                n=int(rostered), note=f"of {int(rostered):,} observed at any round"), programmes


def _median_half_life(con, filters, config) -> dict:
    """Median over practices of the half-life read from each practice's retention curve; a
    practice whose retention stays above one half through its horizon counts as longer than
    every reached one (the median is then "not reached" when they are half or more)."""
    # the readings only: the table's intervals and decay model are not shown here
    table = half_life_readings(con, filters, ["practice"], config)
    read = table[~table["suppressed"] & table["reached"].notna()]
    if read.empty:
        return _row("median_half_life", "Median half-life of practices", suppressed=True,
                    note="too few teachers followed to read a half-life")
    values = np.where(read["reached"].astype(bool), read["half_life_months"], np.inf)
    median = float(np.median(values))
    reached = read[read["reached"].astype(bool)]["half_life_months"]
    not_reached = len(read) - len(reached)
    horizon = int(read["horizon_months"].max())
    if not np.isfinite(median):
        return _row("median_half_life", "Median half-life of practices", suppressed=True, n=int(read["n"].sum()),
                    note=f"not reached by month {horizon}: {not_reached} of {len(read)} practices stay above one half")
    note = f"median of {len(read)} practices; the interval shown is the range of those reaching one half (months)"
    if not_reached:
        note += f"; {not_reached} stay above one half through month {horizon}"
    return _row("median_half_life", "Median half-life of practices (months)", value=median,
                ci_low=float(reached.min()), ci_high=float(reached.max()), n=int(read["n"].sum()), note=note)


def _schools_decaying(con, filters, config) -> dict:
    """Share of schools whose class (metrics.schools.school_trends, the Districts page's
    definition: `metrics.decay.persistence`) is decaying, among the schools observed at the round
    schools are compared at: those with evidence (probability >= thresholds.class_evidence) that
    they keep fewer practices than their programme does there."""
    # the class school_trends shows, read from persistence without building the Districts page's
    # table (every school's retention by round and hindrances: most of the Overview's cost)
    schools = by_school(school_persistence(con, filters, [], config))
    judged = schools[schools["persistence_class"] != TOO_FEW]
    if judged.empty:
        return _row("schools_decaying", "Schools decaying", suppressed=True, note=TOO_FEW)
    decaying = int((judged["persistence_class"] == DECAYING).sum())
    low, high = wilson_interval([decaying], [len(judged)])
    months = int(judged["round"].dropna().iloc[0]) if judged["round"].notna().any() else np.nan
    return _row("schools_decaying", "Schools decaying", value=decaying / len(judged), ci_low=low[0],
                ci_high=high[0], n=len(judged), months=months,
                note=f"{decaying} of {len(judged)} schools are at least {config.thresholds.class_evidence:.0%} "
                     f"likely to keep fewer of their practices at month {months} than their programme as a whole")
