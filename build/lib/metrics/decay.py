"""Decay and persistence: half_life (from the retention curve) and persistence (per school)."""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd
import statsmodels.api as sm

from sustain.config import Config, load_config

from .base import filtered_rows, group_columns, order_rows, query, select_list, suppress
from .filters import BY_COLUMNS, Filters
from .indicators import retention_counts

HALF_LIFE_BY = [c for c in BY_COLUMNS if c != "months"]
MIN_ROUNDS = 3
MIN_CLUSTERS = 5
# a half-life beyond ten times the follow-up is "no decay" (the fit cannot tell it from none)
NO_DECAY_FACTOR = 10


def fit_decay(months, retained, n, clusters=None) -> dict:
    """Weighted fit of retention(t) = exp(-λ t) to rounds t > 0.

    Maximum likelihood of a binomial model with log link and no intercept (the curve passes
    through 1 at t = 0): each cell (a round, or a school's round) weighs by its n. With
    `clusters` (one code per cell, the school), the interval is robust to clustering: the same
    teachers are seen at every round and contribute several practices, so cells of one school
    are not independent. Half-life = ln 2 / λ, its 95% interval from λ's. λ <= 0, or a
    half-life over ten times the longest round, reads as no decay (half-life infinite).
    """
    months = np.asarray(months, dtype=float)
    retained = np.asarray(retained, dtype=float)
    n = np.asarray(n, dtype=float)
    endog = np.column_stack([retained, n - retained])
    exog = -months.reshape(-1, 1)
    family = sm.families.Binomial(link=sm.families.links.Log())
    fit_options = {"start_params": [_log_linear_start(months, retained, n)]}
    note = ""
    groups = pd.factorize(np.asarray(clusters))[0] if clusters is not None else None
    if groups is not None and groups.max() + 1 >= MIN_CLUSTERS:
        fit_options |= {"cov_type": "cluster", "cov_kwds": {"groups": groups}}
    elif groups is not None:
        note = f"interval not clustered by school (fewer than {MIN_CLUSTERS} schools)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = sm.GLM(endog, exog, family=family).fit(**fit_options)
            rate, se = float(result.params[0]), float(result.bse[0])
            if "cov_type" not in fit_options and result.df_resid > 0:
                # unclustered: widen by Pearson's dispersion when rounds scatter more than binomially
                se *= math.sqrt(max(1.0, result.pearson_chi2 / result.df_resid))
        except (ValueError, ZeroDivisionError, np.linalg.LinAlgError, sm.tools.sm_exceptions.PerfectSeparationError):
            rate, se = math.nan, math.nan
    if not math.isfinite(rate):
        return {"half_life_months": np.nan, "ci_low": np.nan, "ci_high": np.nan, "decay_rate": rate,
                "note": "cannot be fitted: the decay model did not converge"}
    if rate <= 0 or math.log(2) / rate > NO_DECAY_FACTOR * months.max():
        return {"half_life_months": math.inf, "ci_low": np.nan, "ci_high": np.nan, "decay_rate": rate,
                "note": "no decay: retention does not fall measurably over these rounds"}
    low_rate, high_rate = rate - 1.96 * se, rate + 1.96 * se
    return {
        "half_life_months": math.log(2) / rate,
        "ci_low": math.log(2) / high_rate,
        "ci_high": math.log(2) / low_rate if low_rate > 0 else math.inf,
        "decay_rate": rate,
        "note": note,
    }


def _log_linear_start(months, retained, n) -> float:
    """A start value for λ from a weighted regression of log retention on t through the origin."""
    share = np.clip(retained / np.maximum(n, 1), 1e-3, 1.0)
    rate = -np.sum(n * months * np.log(share)) / max(np.sum(n * months**2), 1e-9)
    return max(rate, 1e-4)


def half_life(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str] = (),
              config: Config | None = None) -> pd.DataFrame:
    """Half-life of retention per group, fitted on the rounds after month 0 whose n reaches
    thresholds.min_group_n, from each school's counts per round (interval clustered by school).
    Needs at least 3 such rounds, else the row is empty with the reason in `note`."""
    config = config or load_config()
    by = group_columns(by, HALF_LIFE_BY)
    cells = retention_counts(con, filters, [*by, "school_id", "months"], config)
    cells = cells[cells["months"] > 0]
    # distinct teachers per group over all rounds (not summable from the school-round cells)
    totals = retention_counts(con, filters, by, config)
    teachers = {tuple(r[:-1]): int(r[-1]) for r in totals[[*by, "teachers"]].itertuples(index=False)}
    minimum = config.thresholds.min_group_n
    columns = [*by, "half_life_months", "ci_low", "ci_high", "rounds", "n", "teachers", "suppressed", "note"]
    rows = []
    groups = cells.groupby(by, sort=True, dropna=False) if by else [((), cells)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        per_round = group.groupby("months")["n"].sum()
        usable_rounds = per_round[per_round >= minimum].index
        usable = group[group["months"].isin(usable_rounds)]
        row = dict(zip(by, key))
        row.update(rounds=len(usable_rounds), n=int(usable["n"].sum()), teachers=teachers.get(key, 0))
        if len(usable_rounds) < MIN_ROUNDS:
            row.update(half_life_months=np.nan, ci_low=np.nan, ci_high=np.nan, suppressed=True,
                       note=f"cannot be fitted: needs at least {MIN_ROUNDS} rounds after month 0 with "
                            f"n >= {minimum}, has {len(usable_rounds)}")
        else:
            fit = fit_decay(usable["months"], usable["retained"], usable["n"], clusters=usable["school_id"])
            row.update({k: fit[k] for k in ("half_life_months", "ci_low", "ci_high", "note")}, suppressed=False)
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame(rows)[columns]


PERSISTENCE_BY = [c for c in BY_COLUMNS if c not in ("months", "school_id")]


def persistence(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str] = (),
                config: Config | None = None) -> pd.DataFrame:
    """Per school: of the teacher-practices retained at month 0, the share still retained at the
    school's latest follow-up round, among those observed at that round (n).

    Only teacher-practices observed at both count, as in `retention`: a teacher who was absent,
    transferred or left at the latest round is not read as having dropped their practices
    (otherwise a transfer looks like decay). `retained_base` is the month-0 count for reference.
    `index_shrunk` pulls each school toward the overall index in proportion to how little it
    rests on: (retained_latest + m * overall) / (n + m), with m the median n of the schools
    shown — for display, so a school of a few teacher-practices does not look best or worst by
    chance. The raw index stays the indicator."""
    config = config or load_config()
    by = ["school_id"] + group_columns(by, PERSISTENCE_BY)
    rows, params = filtered_rows(by, filters)
    keys = ", ".join(by)
    frame = query(con, config, f"""
filtered as (
    {rows}
),
baseline as (
    select teacher_key, practice from observations where months = 0 and retained
),
followed as (
    select f.* from filtered f join baseline b using (teacher_key, practice) where f.months > 0
),
latest as (
    select {select_list(by)} max(months) as latest_months from followed group by all
),
base_counts as (
    select {select_list(by)}
           count(*) filter (where months = 0 and retained) as retained_base,
           count(distinct teacher_key) as teachers
    from filtered group by all
),
at_latest as (
    select {select_list(by, "f")}
           count(*) as observed_latest,
           count(*) filter (where f.retained) as retained_latest
    from followed f join latest l using ({keys})
    where f.months = l.latest_months
    group by all
)
select {select_list(by, "b")} l.latest_months, b.retained_base,
       coalesce(a.observed_latest, 0) as n, coalesce(a.retained_latest, 0) as retained_latest, b.teachers
from base_counts b
left join latest l using ({keys})
left join at_latest a using ({keys})
""", params)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["index"] = np.where(frame["n"] > 0, frame["retained_latest"] / frame["n"], np.nan)
    frame = suppress(order_rows(frame, by), by, ["index", "n", "retained_base", "retained_latest", "teachers"],
                     config.thresholds.min_group_n)
    shown = frame[~frame["suppressed"] & frame["index"].notna()]
    if len(shown):
        overall = shown["retained_latest"].sum() / shown["n"].sum()
        prior = float(shown["n"].median())
        frame["index_shrunk"] = (frame["retained_latest"] + prior * overall) / (frame["n"] + prior)
    else:
        frame["index_shrunk"] = np.nan
    frame.loc[frame["suppressed"] | frame["index"].isna(), "index_shrunk"] = np.nan
    return frame[[*by, "index", "n", "index_shrunk", "latest_months", "retained_base", "retained_latest",
                  "teachers", "suppressed"]]
