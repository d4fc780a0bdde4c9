"""`hindrance_effect`: abandonment with vs without each hindrance, with intervals robust to
clustering by school and Benjamini-Hochberg adjustment across hindrances.

Definitions (shared with `survival`; see metrics/survival.py for the full text):
- **Units**: teacher-practices retained at month 0 (as in `retention`), grouped and filtered on
  the attributes of their month-0 visit.
- **Outcome**: the unit was abandoned during follow-up: not retained at two observed rounds in a
  row (missed rounds skipped), before any round at which the teacher `left` or `transferred`. A
  final non-retained round with nothing after it is not an abandonment (not confirmed).
- **Exposure** to hindrance h: h was reported at the teacher's month-0 visit, i.e. before any
  abandonment could be observed.
- **Cluster**: the school of the unit's month-0 visit.

Per hindrance of config (rows always by hindrance, in config order, after any --by columns):
- `risk_difference` = P(abandon | exposed) - P(abandon | not exposed), the slope of a linear
  probability model (OLS of outcome on exposure); `rd_ci_low`, `rd_ci_high` its 95% interval;
- `odds_ratio` = exp(slope) of a logistic regression of outcome on exposure (= ad/bc of the 2x2
  table); `ci_low`, `ci_high` its 95% interval; `p_value` its Wald test;
- both intervals use statsmodels' cluster-robust (sandwich) covariance with schools as clusters
  and its default small-sample factor G/(G-1) * (N-1)/(N-K), normal quantiles;
- `p_adj`: Benjamini-Hochberg (`multipletests(method="fdr_bh")`) of `p_value` across all the
  hindrances of config that could be tested in the same group (the same --by values);
- `n` units, `exposed_n` exposed units, `teachers` distinct teachers of the group, `note` why a
  row has no estimate (empty when fine).

Why month 0: exposure "reported at any visit" grows with the number of visits, and so does the
chance of a confirmed abandonment (it needs two follow-up visits), so a rarely reported
hindrance looked harmful by follow-up length alone (on the demo data the null `other` read OR
1.28 with any-visit exposure, 1.04 with month-0 exposure).

Decisions:
- A hindrance with no exposed or no unexposed units, fewer than 2 schools, or an empty cell of the
  2x2 table (no abandonment, or only abandonment, in one arm: perfect separation, the logistic
  estimate does not exist) gets NaN for what cannot be estimated and a `note`. With an empty cell
  the risk difference is still estimated (its interval is blank where its standard error is 0).
- A hindrance filter picks the hindrance rows shown (the table is always grouped by hindrance, as
  in `base.filtered_rows`); teachers are not selected by it. `p_adj` is still adjusted across all
  hindrances of config, so it does not change with what is shown. `hindrance` in --by is accepted
  and changes nothing.
- months_min / months_max limit the follow-up rounds used (abandonment must be confirmed by
  rounds within them). Grouped by `months`, each row t uses the rounds up to t: "abandoned by
  month t" (one row per scheduled round t > 0).
- Suppression: a row is suppressed when its exposed or its unexposed units number fewer than
  `thresholds.min_group_n` but more than 0 (with complementary suppression across the --by
  groups of each hindrance, `base.suppress`); every value is blank, the note says why. An empty
  arm has nothing to hide: the row keeps its n and the note "no units with(out) the hindrance".
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd

from sustain.config import Config

from .base import group_columns, order_rows, query, select_list, suppress
from .filters import BY_COLUMNS, Filters
from .stats import Z95
from .survival import followup_ctes

ESTIMATES = ["risk_difference", "odds_ratio", "ci_low", "ci_high", "p_value", "p_adj", "rd_ci_low", "rd_ci_high"]
COLUMNS = ["hindrance", "risk_difference", "odds_ratio", "ci_low", "ci_high", "p_adj", "p_value", "n",
           "rd_ci_low", "rd_ci_high", "exposed_n", "note", "teachers", "suppressed"]


def hindrance_effect(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str] = (),
                     config: Config | None = None) -> pd.DataFrame:
    """Risk difference and odds ratio of abandonment with vs without each hindrance (see the
    module docstring)."""
    config = config or _default_config()
    by = [c for c in group_columns(by, BY_COLUMNS) if c != "hindrance"]
    by_months = "months" in by
    unit_by = [c for c in by if c != "months"]
    ctes, params = followup_ctes(filters, window=True, by_months=by_months, hindrance_rows=True)
    params["hindrance_codes"] = config.hindrance_codes
    keys = [*unit_by, "horizon"] if by_months else unit_by
    units = query(con, config, f"""{ctes},
codes as (
    select unnest($hindrance_codes) as hindrance
),
baseline_hindrances as (
    select distinct pv.teacher_key, vh.hindrance
    from placed_visits pv join visit_hindrances vh using (submission_id)
    where pv.months = 0
),
exposure as (
    select u.*, c.hindrance, th.teacher_key is not null as exposed
    from units u
    cross join codes c
    left join baseline_hindrances th on th.teacher_key = u.teacher_key and th.hindrance = c.hindrance
)
select {select_list(keys)}hindrance, teacher_key, school_id, event::integer as event, exposed::integer as exposed
from exposure
""", params)
    if by_months:
        units = units.rename(columns={"horizon": "months"})
    out_columns = [*by, *COLUMNS]
    if units.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in out_columns})

    order = {code: i for i, code in enumerate(config.hindrance_codes)}
    rows = []
    for key, group in units.groupby([*by, "hindrance"], sort=False, dropna=False):
        row = dict(zip([*by, "hindrance"], key if isinstance(key, tuple) else (key,)))
        row.update(effect_estimates(group["event"].to_numpy(), group["exposed"].to_numpy(),
                                    group["school_id"].to_numpy()))
        exposed = group["exposed"].to_numpy() == 1
        row["teachers"] = group["teacher_key"].nunique()
        arms = sorted([int(exposed.sum()), int((~exposed).sum())])
        # an empty arm is a structural zero with nothing to hide: the row shows its note instead
        row["smaller_arm"] = arms[0] if arms[0] > 0 else arms[1]
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["p_adj"] = benjamini_hochberg(frame, by)
    if filters.hindrance:
        frame = frame[frame["hindrance"].isin(filters.hindrance)]
    frame["_order"] = frame["hindrance"].map(order)
    frame = frame.sort_values([*by, "_order"], kind="stable").drop(columns="_order")

    minimum = config.thresholds.min_group_n
    parts = []
    for _, part in frame.groupby("hindrance", sort=False):
        parts.append(suppress(part, by, [*ESTIMATES, "n", "exposed_n", "teachers"], minimum,
                              n_column="smaller_arm"))
    frame = pd.concat(parts) if parts else frame.assign(suppressed=False)
    frame.loc[frame["suppressed"], "note"] = (
        f"too few to show: fewer than {minimum} units with or without the hindrance")
    frame["_order"] = frame["hindrance"].map(order)
    frame = frame.sort_values([*by, "_order"], kind="stable")
    for column in ("n", "exposed_n", "teachers"):
        frame[column] = frame[column].astype("Int64")
    if by_months:
        frame["months"] = frame["months"].astype("Int64")
    return frame[out_columns].reset_index(drop=True)


def effect_estimates(event, exposed, schools) -> dict:
    """Risk difference (OLS) and odds ratio (logit) of `event` on `exposed` (0/1 arrays), with
    cluster-robust intervals by `schools`; NaN and a `note` where they cannot be estimated."""
    import statsmodels.api as sm

    event = np.asarray(event, dtype="float64")
    exposed = np.asarray(exposed, dtype="float64")
    n, exposed_n = len(event), int(exposed.sum())
    result = {name: math.nan for name in ESTIMATES} | {"n": n, "exposed_n": exposed_n, "note": ""}
    if exposed_n == 0:
        return result | {"note": "no units with the hindrance"}
    if exposed_n == n:
        return result | {"note": "no units without the hindrance"}
    groups = pd.factorize(np.asarray(schools))[0]
    if groups.max() < 1:
        return result | {"note": "one school only: no interval robust to clustering"}
    cluster = {"cov_type": "cluster", "cov_kwds": {"groups": groups}, "use_t": False}
    design = np.column_stack([np.ones(n), exposed])

    linear = sm.OLS(event, design).fit(**cluster)
    rd, rd_se = float(linear.params[1]), float(linear.bse[1])
    result["risk_difference"] = rd
    if np.isfinite(rd_se) and rd_se > 0:
        result["rd_ci_low"], result["rd_ci_high"] = rd - Z95 * rd_se, rd + Z95 * rd_se

    a = event[exposed == 1].sum()            # exposed, abandoned
    b = exposed_n - a                        # exposed, kept
    c = event[exposed == 0].sum()            # unexposed, abandoned
    d = (n - exposed_n) - c                  # unexposed, kept
    if a + c == 0 or b + d == 0:
        return result | {"note": "no confirmed abandonment in this group" if a + c == 0 else
                         "every unit of this group was abandoned"}
    if min(a, b, c, d) == 0:
        return result | {"note": "an arm has no abandonment or only abandonment (perfect separation): "
                                 "odds ratio not estimable"}
    # the MLE is closed-form (log odds of each arm); starting there, Newton confirms it at once
    start = [math.log(c / d), math.log(a * d / (b * c))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            logistic = sm.Logit(event, design).fit(start_params=start, method="newton", disp=0, **cluster)
            log_or, se = float(logistic.params[1]), float(logistic.bse[1])
            p_value = float(logistic.pvalues[1])
            converged = bool(logistic.mle_retvals.get("converged", True))
        except (ValueError, np.linalg.LinAlgError) as exc:
            return result | {"note": f"logistic fit failed: {exc}"}
    if not (converged and np.isfinite(log_or) and np.isfinite(se) and se > 0):
        return result | {"note": "logistic fit failed to converge"}
    result.update(odds_ratio=math.exp(log_or), ci_low=math.exp(log_or - Z95 * se),
                  ci_high=math.exp(log_or + Z95 * se), p_value=p_value)
    return result


def benjamini_hochberg(frame: pd.DataFrame, by: Sequence[str]) -> pd.Series:
    """BH-adjusted p-values across hindrances within each group of `by` (NaN p-values skipped)."""
    from statsmodels.stats.multitest import multipletests

    adjusted = pd.Series(np.nan, index=frame.index)
    groups = frame.groupby(list(by), sort=False, dropna=False) if by else [((), frame)]
    for _, group in groups:
        p = group["p_value"].dropna()
        if len(p):
            adjusted.loc[p.index] = multipletests(p.to_numpy(), method="fdr_bh")[1]
    return adjusted


def _default_config() -> Config:
    from sustain.config import load_config

    return load_config()
