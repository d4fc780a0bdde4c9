"""`hindrance_effect`: the hazard ratio of abandonment with vs without each hindrance, from a
discrete-time hazard model on the person-period table (ingest/model.py documents its columns).

Plain: "teachers who reported this hindrance at their last visit were X times as likely to drop a
practice before the next visit as comparable teachers who did not (same round, practice and
programme)".

Definition, per hindrance h of config (and per --by group):
- **Rows** (person-periods): `person_period` rows with `at_risk` (the practice was scored at a
  present visit at round t > 0 and no earlier round found it not retained), after the dimension
  filters (on the row's own columns: school, district, ... where the unit was observed at t) and
  the months filters (rounds t used). **Outcome**: `event` (the first visit at which the practice
  was not retained; abandonment happened in the interval since the previous visit).
- **Exposure** (time-varying): h was reported at the teacher's previous placed visit
  (`hindrances_prev`), so the report precedes the interval in which abandonment is counted; for
  round 3 that is the month-0 visit. `exposure="month0"` (`--exposure month0`) uses the month-0
  visit's report for every round instead (`hindrances_m0`, fixed).
- **Model**: binomial GLM with complementary log-log link,
  cloglog P(event at t) = alpha_t + beta * exposed + gamma_practice + delta_programme
  (+ district fixed effects with `adjust_district=True` / `--adjust district`). Under proportional
  hazards in continuous time this is the grouped-time (Prentice-Gloeckler) model, so
  `hazard_ratio` = exp(beta) is a hazard ratio. A factor with one level in the group drops out
  (e.g. programme when grouped by programme; round when grouped by months, so a row per round is
  the hazard ratio in that round's interval).
- **Fitted on sufficient statistics**: rows are aggregated in DuckDB to one line per (school,
  round, practice, programme[, district], exposed) with `events` and `trials`; the binomial GLM on
  (events, trials - events) has the same likelihood, score and Hessian as the row-level 0/1 fit,
  and since a school's rows stay within that school the clustered sandwich is the same too.
  `fit_cloglog` maximises it by Fisher scoring (IRLS, as statsmodels' GLM does) in numpy: k x k
  solves only, so no threaded LAPACK call on a tall matrix (statsmodels' GLM spends most of its
  time in SVDs of the design, and under load those dominate a page). tests/test_hindrance_effect.py
  checks it against statsmodels' `GLM(..., family=Binomial(link=CLogLog())).fit(cov_type="cluster")`
  on the row-level person-periods: coefficients and standard errors agree to 1e-6 on the sample
  (about 1e-9 in practice) and on a hand-built fixture.
- **Standard errors** clustered by school (the school of the row at t): the sandwich
  H^-1 (sum_g s_g s_g') H^-1, H the observed information, s_g the school's summed score (what
  statsmodels' GLM uses for cov_type="cluster"), with the small-sample factor
  G/(G-1) * (N-1)/(N-K), N the number of person-period rows, K the model's parameters, G schools:
  statsmodels' default on the row-level fit (on the aggregated lines it would count lines, not
  rows, so it is applied here by hand). `ci_low`, `ci_high`: exp(beta -+ Z95 * se); `p_value`:
  two-sided Wald test of beta = 0 against the normal, in full precision.
- `crude_hazard_ratio`: exp(beta) of the same cloglog model with exposure and round only (no
  practice, programme or district): how different the raw hazards are, for comparison with the
  adjusted one (no interval).
- `risk_difference_12`: the standardised difference in the cumulative incidence of abandonment
  by month 12, exposed vs not exposed at every round: for each (practice, programme[, district])
  pattern of the group, 1 - prod over the scheduled rounds 0 < t <= 12 of (1 - h_t) predicted
  from the adjusted model with exposure set to 1, minus the same with exposure 0, averaged with
  the weights of the observed mix (teacher-practices at risk at any round of the group, counted
  in each pattern they were at risk in). `rd_ci_low`, `rd_ci_high`: delta-method 95% interval
  with the clustered covariance (the mix taken as fixed). Blank when a round 0 < t <= 12 of the
  schedule has no rows in the group (a months filter, or grouped by months).
- `events`: events among exposed rows; `n` = `teachers`: distinct teachers with at least one
  exposed at-risk row (the people the estimate speaks about); `note`: why a row has no estimate.

Multiple testing: `p_adj` is Benjamini-Hochberg (`multipletests(method="fdr_bh")`) across EVERY
test in the returned table, all hindrances and all --by groups together (one family per figure),
counting the rows shown (suppressed rows and rows without an estimate are not tests shown). A
hindrance filter picks the hindrance rows, so it changes the family.

Decisions:
- A level of round, practice, programme or district whose rows have no event (or only events)
  has a fitted hazard of 0 (or 1) at the maximum-likelihood limit and adds nothing to beta's
  likelihood: those rows are left out of the fit (repeatedly, until none is left), and the
  prediction for `risk_difference_12` uses hazard 0 (or 1) there. Columns collinear with earlier
  ones (a district nested in a programme) are dropped.
- No estimate (NaN, with `note`): no exposed or no unexposed rows, no event or only events among
  exposed or unexposed rows after the step above, fewer than 2 schools, or a fit that fails.
- Suppression: a row whose exposed or whose unexposed arm rests on fewer than
  `thresholds.min_group_n` distinct teachers (but more than 0) is suppressed (`base.suppress`,
  with its complementary suppression across the --by groups of each hindrance); every value is
  blank and `note` says why. An empty arm hides nothing: the row keeps its counts and the note
  "no rows with (without) the hindrance".
- `hindrance` in --by is accepted and changes nothing (rows are always by hindrance, in config
  order, after any --by columns).
"""
from __future__ import annotations

import math
from typing import Sequence

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from sustain.config import Config

from .base import group_columns, query, select_list, suppress
from .filters import BY_COLUMNS, Filters
from .stats import Z95

# exposure option -> person_period column holding the hindrances that define it
EXPOSURES = {"previous": "hindrances_prev", "month0": "hindrances_m0"}
MISSING = "\x00missing"  # stands in for a missing --by value while grouping
RD_HORIZON = 12  # months: the horizon of risk_difference_12
ESTIMATES = ["hazard_ratio", "ci_low", "ci_high", "crude_hazard_ratio", "risk_difference_12", "rd_ci_low",
             "rd_ci_high", "p_value", "p_adj"]
COLUMNS = ["hindrance", *ESTIMATES, "events", "n", "teachers", "note", "suppressed"]
FIT_COLUMNS = ["hazard_ratio", "ci_low", "ci_high", "crude_hazard_ratio", "risk_difference_12", "rd_ci_low",
               "rd_ci_high", "p_value"]


def hindrance_effect(con: duckdb.DuckDBPyConnection, filters: Filters, by: Sequence[str],
                     config: Config, *, exposure: str = "previous",
                     adjust_district: bool = False) -> pd.DataFrame:
    """Hazard ratio of abandonment with vs without each hindrance (see the module docstring)."""
    if exposure not in EXPOSURES:
        raise ValueError(f"exposure must be one of {', '.join(EXPOSURES)}, got {exposure!r}")
    by = [c for c in group_columns(by, BY_COLUMNS) if c != "hindrance"]
    out_columns = [*by, *COLUMNS]
    codes = [c for c in config.hindrance_codes if not filters.hindrance or c in filters.hindrance]
    factors = ["months", "practice", "programme"] + (["district"] if adjust_district else [])
    lines, counts, mix = _aggregates(con, config, filters, by, codes, factors, EXPOSURES[exposure])
    if counts.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in out_columns})

    minimum = config.thresholds.min_group_n
    rd_rounds = [m for m in config.schedule.months if 0 < m <= RD_HORIZON]
    lines, counts, mix = (_fill_missing(f, by) for f in (lines, counts, mix))
    line_groups = dict(iter(lines.groupby([*by, "hindrance"], sort=False)))
    mix_groups = dict(iter(mix.groupby(by, sort=False))) if by else {(): mix}
    rows = []
    for record in counts.to_dict("records"):
        group = tuple(record[c] for c in by)
        row = {c: record[c] for c in [*by, "hindrance"]}
        exposed_t, unexposed_t = int(record["exposed_teachers"]), int(record["unexposed_teachers"])
        row.update(events=int(record["exposed_events"]), n=exposed_t, teachers=exposed_t)
        # an empty arm is a structural zero with nothing to hide: the row shows its note instead
        smaller, larger = sorted([exposed_t, unexposed_t])
        row["arm_teachers"] = smaller if smaller > 0 else larger
        if row["arm_teachers"] < minimum:
            row.update({c: math.nan for c in FIT_COLUMNS}, note="")  # suppressed below: not fitted
        else:
            row.update(hazard_fit(line_groups[(*group, record["hindrance"])], factors, mix_groups[group],
                                  rd_rounds))
        rows.append(row)
    frame = pd.DataFrame(rows)

    order = {code: i for i, code in enumerate(config.hindrance_codes)}
    parts = [suppress(part, by, [*FIT_COLUMNS, "events", "n", "teachers"], minimum, n_column="arm_teachers")
             for _, part in frame.groupby("hindrance", sort=False)]
    frame = pd.concat(parts)
    frame.loc[frame["suppressed"], "note"] = (
        f"too few to show: fewer than {minimum} teachers with or without the hindrance")
    frame["p_adj"] = benjamini_hochberg(frame["p_value"])
    frame["_order"] = frame["hindrance"].map(order)
    frame = frame.sort_values([*by, "_order"], kind="stable")
    for column in ("events", "n", "teachers"):
        frame[column] = frame[column].astype("Int64")
    if "months" in by:
        frame["months"] = frame["months"].astype("Int64")
    for column in by:
        if frame[column].dtype == object:
            frame[column] = frame[column].where(frame[column] != MISSING, None)
    return frame[out_columns].reset_index(drop=True)


def _fill_missing(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """A stand-in for missing --by values, so groups can be looked up by key (NaN != NaN)."""
    for column in by:
        if frame[column].dtype == object:
            frame[column] = frame[column].fillna(MISSING)
    return frame


def _aggregates(con, config, filters: Filters, by: list[str], codes: list[str], factors: list[str],
                exposure_column: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Three aggregates of the at-risk person-periods, computed in DuckDB:
    `lines`: one line per (--by, hindrance, school, factors, exposed) with `events`, `trials`;
    `counts`: per (--by, hindrance) distinct exposed / unexposed teachers and exposed events;
    `mix`: teacher-practices per (--by, practice, programme[, district]) for the standardisation.
    Each is sorted, so the floating-point sums of the fit run in the same order on every call
    (the same figure on every rerun, to the last digit)."""
    where, params = filters.replace(hindrance=()).where("practice", alias="pp")
    params["hindrance_codes"] = codes
    line_keys = list(dict.fromkeys([*by, "hindrance", "school_id", *factors]))
    mix_keys = list(dict.fromkeys([*by, *[f for f in factors if f != "months"]]))
    ctes = f"""
codes as (
    select unnest($hindrance_codes::varchar[]) as hindrance
),
risk_set as (
    select pp.* from person_period pp
    where pp.at_risk and pp.months > 0 and {where}
),
exposure_rows as (
    select r.*, c.hindrance, list_contains(r.{exposure_column}, c.hindrance) as exposed
    from risk_set r cross join codes c
)"""
    lines = query(con, config, f"""{ctes}
select {select_list(line_keys)}exposed::integer as exposed,
       sum(event::integer)::double as events, count(*)::double as trials
from exposure_rows
group by all
order by all
""", params)
    counts = query(con, config, f"""{ctes}
select {select_list([*by, "hindrance"])}
       count(distinct teacher_key) filter (where exposed) as exposed_teachers,
       count(distinct teacher_key) filter (where not exposed) as unexposed_teachers,
       count(*) filter (where exposed and event) as exposed_events
from exposure_rows
group by all
order by all
""", params)
    mix = query(con, config, f"""{ctes}
select {select_list(mix_keys)}count(distinct (teacher_key, practice))::double as units
from risk_set
group by all
order by all
""", params)
    return lines, counts, mix


def hazard_fit(lines: pd.DataFrame, factors: Sequence[str], mix: pd.DataFrame,
               rd_rounds: Sequence[int]) -> dict:
    """The adjusted and crude cloglog fits of one hindrance in one group, from its aggregated
    `lines` (columns school_id, *factors, exposed, events, trials); `mix` gives the patterns and
    weights of `risk_difference_12`. Returns the FIT_COLUMNS and `note`."""
    result = {c: math.nan for c in FIT_COLUMNS} | {"note": ""}
    exposed = lines["exposed"].to_numpy() == 1
    if not exposed.any():
        return result | {"note": "no rows with the hindrance"}
    if exposed.all():
        return result | {"note": "no rows without the hindrance"}
    keep, forced = _estimable_rows(lines, factors)
    data = lines[keep]
    arm = data["exposed"].to_numpy() == 1
    for name, mask in (("exposed", arm), ("unexposed", ~arm)):
        events, trials = data.loc[mask, "events"].sum(), data.loc[mask, "trials"].sum()
        if trials == 0 or events == 0 or events == trials:
            what = "no abandonment" if events == 0 else "only abandonment"
            return result | {"note": f"{what} among {name} rows: hazard ratio not estimable"}
    schools = pd.factorize(data["school_id"])[0]
    if schools.max() < 1:
        return result | {"note": "one school only: no interval robust to clustering"}

    levels = {f: sorted(data[f].unique()) for f in factors}
    design, names = _design(data, levels)
    design, names = _independent_columns(design, names)
    fit = fit_cloglog(data["events"].to_numpy(), data["trials"].to_numpy(), design, schools)
    if fit is None:
        return result | {"note": "the hazard model did not converge"}
    params, cov = fit
    beta, se = params[1], math.sqrt(cov[1, 1])
    if not (np.isfinite(beta) and np.isfinite(se) and se > 0):
        return result | {"note": "the hazard model did not converge"}
    result.update(hazard_ratio=math.exp(beta), ci_low=math.exp(beta - Z95 * se),
                  ci_high=math.exp(beta + Z95 * se), p_value=float(2 * stats.norm.sf(abs(beta) / se)))

    # crude: exposure and round only, on the lines collapsed to (round, exposed)
    collapsed = data.groupby(["months", "exposed"], as_index=False)[["events", "trials"]].sum()
    crude_design, _ = _design(collapsed, {"months": levels["months"]})
    crude = fit_cloglog(collapsed["events"].to_numpy(), collapsed["trials"].to_numpy(), crude_design)
    if crude is not None:
        result["crude_hazard_ratio"] = math.exp(crude[0][1])

    rd = _risk_difference(params, cov, names, levels, forced, factors, mix, rd_rounds)
    if rd is not None:
        result["risk_difference_12"], se_rd = rd
        if np.isfinite(se_rd):
            result["rd_ci_low"] = result["risk_difference_12"] - Z95 * se_rd
            result["rd_ci_high"] = result["risk_difference_12"] + Z95 * se_rd
    return result


def fit_cloglog(events, trials, design, schools=None, max_iter: int = 100, tol: float = 1e-10):
    """Maximum-likelihood fit of the binomial GLM with complementary log-log link on aggregated
    lines (`events` of `trials` per line, one row of `design` per line): Fisher scoring (IRLS, as
    statsmodels' GLM) with step halving, from the pooled hazard. Returns (params, covariance), the
    covariance clustered by `schools` (integer codes): the sandwich H^-1 (sum_g s_g s_g') H^-1 with
    H the observed information and s_g a school's summed score (statsmodels' GLM cov_type="cluster"
    bread and meat), times G/(G-1) * (N-1)/(N-K) with N = sum of trials (the person-period rows),
    K parameters, G schools: statsmodels' default factor on the row-level fit. Without `schools`
    the covariance is the inverse observed information. None if the fit does not converge."""
    y_line = np.asarray(events, dtype="float64")
    m_line = np.asarray(trials, dtype="float64")
    x_line = np.asarray(design, dtype="float64")
    # the likelihood depends on the lines only through each covariate pattern's summed events and
    # trials (the school is not in the design): fit on the patterns, a few hundred rows however
    # many schools; the lines come back for the clustered meat below
    x, pattern = _patterns(x_line)
    y = np.bincount(pattern, weights=y_line, minlength=len(x))
    m = np.bincount(pattern, weights=m_line, minlength=len(x))
    pooled = min(max(y.sum() / m.sum(), 1e-6), 1 - 1e-6)
    params = np.zeros(x.shape[1])
    params[0] = math.log(-math.log1p(-pooled))

    def loglik(b):
        u = np.exp(x @ b)
        with np.errstate(divide="ignore"):
            return float(np.sum(y * np.log(-np.expm1(-u))) - np.sum((m - y) * u))

    current = loglik(params)
    converged = False
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_iter):
            u = np.exp(x @ params)
            mu = -np.expm1(-u)
            gradient = x.T @ (u * (y / mu - m))
            information = x.T @ (x * (m * u * u * (1 - mu) / mu)[:, None])
            try:
                step = np.linalg.solve(information, gradient)
            except np.linalg.LinAlgError:
                return None
            for _halving in range(30):
                candidate = loglik(params + step)
                if np.isfinite(candidate) and candidate >= current - 1e-12 * abs(current):
                    break
                step = step / 2
            else:
                return None
            params, current = params + step, candidate
            if np.max(np.abs(step)) < tol:
                converged = True
                break
        if not converged or not np.all(np.isfinite(params)):
            return None
        u = np.exp(x @ params)
        mu = -np.expm1(-u)
        score_factor = u * (y / mu - m)
        # observed information: minus the second derivative of the log-likelihood in eta
        curvature = y * u * u * (1 - mu) / (mu * mu) - score_factor
    try:
        bread = np.linalg.inv(x.T @ (x * curvature[:, None]))
    except np.linalg.LinAlgError:
        return None
    if schools is None:
        return params, bread
    schools = np.asarray(schools)
    g, n, k = int(schools.max()) + 1, m_line.sum(), x.shape[1]
    # each line's score at the fitted pattern hazard, summed per school
    with np.errstate(over="ignore", invalid="ignore"):
        line_score = u[pattern] * (y_line / mu[pattern] - m_line)
    scores = x_line * line_score[:, None]
    by_school = np.column_stack([np.bincount(schools, weights=scores[:, j], minlength=g) for j in range(k)])
    cov = bread @ (by_school.T @ by_school) @ bread * g / (g - 1) * (n - 1) / (n - k)
    return params, cov


def _patterns(design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of a design matrix and each line's row among them. A design of 0/1
    columns (intercept, exposure, dummies) is keyed by one integer per line (its bits), which
    sorts far faster than whole rows."""
    columns = design.shape[1]
    if columns <= 62 and ((design == 0) | (design == 1)).all():
        codes = design.astype(np.int64) @ (np.int64(1) << np.arange(columns, dtype=np.int64))
        _, first, pattern = np.unique(codes, return_index=True, return_inverse=True)
        return design[first], pattern.reshape(-1)
    unique, pattern = np.unique(design, axis=0, return_inverse=True)
    return unique, pattern.reshape(-1)


def _estimable_rows(lines: pd.DataFrame, factors: Sequence[str]) -> tuple[np.ndarray, dict]:
    """Rows of levels (of any factor) with no event or only events leave the fit, repeatedly;
    returns the rows kept and {factor: {level: hazard 0.0 or 1.0}} for the prediction."""
    events = lines["events"].to_numpy(dtype="float64")
    trials = lines["trials"].to_numpy(dtype="float64")
    coded = {f: pd.factorize(lines[f]) for f in factors}
    keep = np.ones(len(lines), dtype=bool)
    forced: dict = {f: {} for f in factors}
    changed = True
    while changed:
        changed = False
        for factor, (codes, uniques) in coded.items():
            level_events = np.bincount(codes, weights=np.where(keep, events, 0.0), minlength=len(uniques))
            level_trials = np.bincount(codes, weights=np.where(keep, trials, 0.0), minlength=len(uniques))
            bad = (level_trials > 0) & ((level_events == 0) | (level_events == level_trials))
            if bad.any():
                for i in np.flatnonzero(bad):
                    forced[factor][uniques[i]] = 0.0 if level_events[i] == 0 else 1.0
                keep &= ~bad[codes]
                changed = True
    return keep, forced


def _design(frame: pd.DataFrame, levels: dict) -> tuple[np.ndarray, list]:
    """Intercept, `exposed`, then a 0/1 column per non-reference level of each factor."""
    columns = [np.ones(len(frame)), frame["exposed"].to_numpy(dtype="float64")]
    names: list = ["const", "exposed"]
    for factor, values in levels.items():
        column = frame[factor].to_numpy()
        for level in values[1:]:
            columns.append((column == level).astype("float64"))
            names.append((factor, level))
    return np.column_stack(columns), names


def _independent_columns(design: np.ndarray, names: list) -> tuple[np.ndarray, list]:
    """Drop columns that are linear combinations of earlier ones (read off the Gram matrix, k x k),
    so a nested factor (district within programme) does not make the model singular."""
    gram = design.T @ design
    keep = [0, 1]
    for j in range(2, design.shape[1]):
        inner = gram[np.ix_(keep, keep)]
        cross = gram[keep, j]
        residual = gram[j, j] - cross @ np.linalg.solve(inner, cross)
        if residual > 1e-9 * max(gram[j, j], 1.0):
            keep.append(j)
    return design[:, keep], [names[j] for j in keep]


def _risk_difference(params, cov, names, levels, forced, factors, mix, rd_rounds):
    """Standardised difference in cumulative incidence by month RD_HORIZON (exposure 1 vs 0 at
    every round) and its delta-method standard error; None when it cannot be computed."""
    if not rd_rounds or len(mix) == 0:
        return None
    pattern_factors = [f for f in factors if f != "months"]
    known = {f: set(levels[f]) | set(forced.get(f, {})) for f in factors}
    if not set(rd_rounds) <= known["months"] or any(not set(mix[f]) <= known[f] for f in pattern_factors):
        return None
    index = {name: i for i, name in enumerate(names)}
    weights = mix["units"].to_numpy(dtype="float64")
    difference = 0.0
    gradient = np.zeros(len(params))
    for x, sign in ((1.0, 1.0), (0.0, -1.0)):
        # per pattern: log S = -sum_t exp(eta_t); a level forced to hazard 0 adds nothing, to hazard 1 ends S
        log_survival = np.zeros(len(mix))
        ended = np.zeros(len(mix), dtype=bool)
        slope = np.zeros((len(mix), len(params)))
        for t in rd_rounds:
            rows = np.zeros((len(mix), len(params)))
            rows[:, index["const"]] = 1.0
            rows[:, index["exposed"]] = x
            zero = np.zeros(len(mix), dtype=bool)
            one = np.zeros(len(mix), dtype=bool)
            for factor in factors:
                values = np.full(len(mix), t) if factor == "months" else mix[factor].to_numpy()
                for level, hazard in forced.get(factor, {}).items():
                    (zero if hazard == 0.0 else one)[values == level] = True
                for level in levels[factor][1:]:
                    if (factor, level) in index:
                        rows[values == level, index[(factor, level)]] = 1.0
            live = ~(zero | one)
            rate = np.exp(rows @ params)  # -log(1 - h_t), the cumulative hazard of round t
            log_survival -= np.where(live, rate, 0.0)
            slope += np.where(live[:, None], rate[:, None] * rows, 0.0)
            ended |= one & ~zero
        survival = np.where(ended, 0.0, np.exp(log_survival))
        difference += sign * np.average(1.0 - survival, weights=weights)
        # d(1 - S)/d params = S * sum_t exp(eta_t) x_t
        gradient += sign * (weights[:, None] * survival[:, None] * slope).sum(axis=0) / weights.sum()
    variance = float(gradient @ cov @ gradient)
    return float(difference), math.sqrt(variance) if variance >= 0 else math.nan


def benjamini_hochberg(p_values: pd.Series) -> pd.Series:
    """BH-adjusted p-values across every non-missing p-value given (one family)."""
    from statsmodels.stats.multitest import multipletests

    adjusted = pd.Series(np.nan, index=p_values.index)
    p = p_values.dropna()
    if len(p):
        adjusted.loc[p.index] = multipletests(p.to_numpy(), method="fdr_bh")[1]
    return adjusted

