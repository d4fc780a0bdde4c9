"""Validation by simulation (issue 10, item 8): bias, RMSE, interval coverage, power and false
positives of the indicators against the known truth of `tests/simulator.py`.

    .venv/bin/python benchmarks/validation.py --seeds 50 [--teachers 1200] [--quick] [--jobs 2]
                                              [--accuracy 0.9] [--out test-artifacts/validation.md]

For each seed: simulate a population (tests/simulator.py), write its roster and KoboToolbox CSV
export into a temporary directory, import them through the real ingest (`ingest.ingest_files`,
a copy of config.yaml with its database in that directory, SUSTAIN_SALT set), call the indicator
functions as the dashboard does (`metrics.registry.TABLES[name](con, Filters(), by, config)` on a
read-only connection from `sustain.db.read_only`) and compare with the realised truth of that
seed (and with the superpopulation truth of the same DGP).

Judged:
- retention at 6, 12, 24 months, by programme (`rate, ci_low, ci_high`), against the complete
  score process's R_scores (retention's estimand is the share scored in use, had every unit been
  visited: README "Indicators"); R_state, the same estimand from the latent states and the scoring
  accuracy, is shown beside it; `bias/SE` and `cov. expected` say how much of a coverage
  shortfall the bias explains. Since AFTER 4 the indicator reads unseen units through the latent
  model (metrics/as_scored.py: scored units count their score, the others the model's chance of
  being scored in use given their pattern); `latent_as_scored_retention` reads the same estimand
  from the model's parameters alone, per programme (a diagnostic, not the indicator);
- survival S(12), S(24), by programme and practice and pooled by programme (the row of the
  survival table at the largest `months` <= t: a step function);
- half-life, by programme (`half_life_months, ci_low, ci_high`; infinite / "not reached" counted);
- hindrance effect of the real (`no_followup`, HR 1.8) and the confounded null
  (`political_interference`, HR 1.0): power / false-positive rate = share of seeds flagged
  (`p_adj < 0.05` and ratio > 1), the ratio's mean and its interval's coverage of the true HR.

Adapter: the columns are changing (issue 10; README "Indicators"). The harness reads the new
names when present and falls back to today's: the ratio is `hazard_ratio`, else `odds_ratio`
(today's odds ratio of "ever abandoned", a different quantity: its coverage of the HR is shown
but is not a like-for-like judgement); survival reads `months, survival, ci_low, ci_high` in both.

Hindrance hazard ratios: the truth stated is the DGP's CONDITIONAL hazard ratio (1.8, 1.0, given
the frailties). An estimator without frailty targets a population-averaged ratio, attenuated
toward 1 (and scoring error, which turns some visits into false events, attenuates it further).
A one-off reference check (2026-11-25, not part of the harness): a discrete-time cloglog with
round x programme and practice fixed effects, exposure reported at the previous visit and
school-clustered errors, fitted directly to the simulator's observed person-period data (first
visit scored < 3 = event), gave on 20 seeds of 1,200 teachers a mean HR of 1.30 for no_followup
(1.49 without scoring error), power 20/20 and 1/20 (0/20) nulls with unadjusted p < 0.05. So
power >= 0.80 and false positives <= 0.10 are attainable on this DGP; coverage of 1.8 is shown
for information, not as a target.

Truth (decision): bias and RMSE are against the REALISED truth of each seed (the share of
teacher-practices truly in use at month 0 still in use at t, from the latent state; the realised
median abandonment time for the half-life), which removes the school-sampling noise from the
comparison. Interval coverage is judged against the SUPERPOPULATION value (`coverage`), because
an interval that respects clustering by school treats schools as sampled: against the realised
truth the school frailties are part of the truth, and a correct cluster-robust interval would
cover it nearly always (the realised coverage is still shown, `cov. realised`). `SD/SE` (SD of
the estimate over seeds / the standard error implied by the interval) shows whether an
interval's width is right for the superpopulation. `bias_super` is the mean estimate minus the
superpopulation value. `bias_scores` (retention, survival) is the mean estimate minus the
complete-score diagnostic of the seed (what the estimator would target with the simulator's
scoring error but no missing visits and no attrition): it splits the bias into a part due to
scoring error (truth vs scores) and a part due to missingness, attrition and the estimator.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("SUSTAIN_SALT", "validation-salt")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import simulator  # noqa: E402
from simulator import PRACTICES, PROGRAMMES, SimParams  # noqa: E402

RETENTION_MONTHS = (6, 12, 24)
SURVIVAL_MONTHS = (12, 24)
ALPHA = 0.05


# ---------------------------------------------------------------------------------------------
# Adapter: today's columns and the new ones (README "Indicators")
# ---------------------------------------------------------------------------------------------

def first_column(frame: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in frame.columns), None)


def _value(row, column) -> float:
    if column is None or row is None:
        return math.nan
    value = row[column]
    try:
        return float(value) if value is not pd.NA and value is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    if "suppressed" in frame.columns:
        return frame[~frame["suppressed"].astype(bool)]
    return frame


def select(frame: pd.DataFrame, **keys) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in keys.items():
        mask &= (frame[column].astype(str) == str(value)).to_numpy()
    return frame[mask]


def retention_at(frame: pd.DataFrame, t: int, **keys) -> dict:
    rows = select(shown(frame), **keys)
    rows = rows[pd.to_numeric(rows["months"], errors="coerce") == t]
    row = rows.iloc[0] if len(rows) else None
    return {"estimate": _value(row, first_column(frame, "rate", "retention")),
            "ci_low": _value(row, "ci_low"), "ci_high": _value(row, "ci_high")}


def survival_at(frame: pd.DataFrame, t: int, **keys) -> dict:
    """S(t) from a survival table (Kaplan-Meier or life table): the row at the largest months <= t."""
    rows = select(shown(frame), **keys)
    months = pd.to_numeric(rows["months"], errors="coerce")
    rows = rows[months <= t]
    if rows.empty:
        return {"estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    row = rows.loc[pd.to_numeric(rows["months"]).idxmax()]
    value = first_column(frame, "survival")
    return {"estimate": _value(row, value), "ci_low": _value(row, "ci_low"), "ci_high": _value(row, "ci_high")}


def half_life_of(frame: pd.DataFrame, **keys) -> dict:
    rows = select(shown(frame), **keys)
    row = rows.iloc[0] if len(rows) else None
    return {"estimate": _value(row, "half_life_months"), "ci_low": _value(row, "ci_low"),
            "ci_high": _value(row, "ci_high")}


def hindrance_of(frame: pd.DataFrame, code: str) -> dict:
    ratio = first_column(frame, "hazard_ratio", "odds_ratio")
    rows = select(shown(frame), hindrance=code)
    row = rows.iloc[0] if len(rows) else None
    return {"estimate": _value(row, ratio), "ci_low": _value(row, "ci_low"), "ci_high": _value(row, "ci_high"),
            "p_adj": _value(row, "p_adj"), "ratio_column": ratio}


# ---------------------------------------------------------------------------------------------
# One seed
# ---------------------------------------------------------------------------------------------

def run_seed(seed: int, params: SimParams, diagnostics: bool = True) -> list[dict]:
    """Simulate, import, compute the indicators and return one record per judged quantity
    (`diagnostics`: also retention's R_state and the latent model's as-scored retention, one more
    model fit per seed)."""
    from ingest import ingest_files
    from metrics.filters import Filters
    from metrics.registry import TABLES
    from sustain.config import load_config
    from sustain.db import read_only
    from support import write_config

    started = time.perf_counter()
    pop = simulator.simulate(params, seed)
    true = simulator.truth(pop)
    superpop = simulator.superpopulation_truth(params)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        roster, export = simulator.write_files(pop, scratch)
        config = load_config(write_config(scratch))
        result = ingest_files([roster, export], config)
        if not result.ok:
            raise RuntimeError(f"seed {seed}: a file was refused: {[f.refused for f in result.files]}")
        quarantined = sum(f.quarantined for f in result.files)
        with read_only(config.database_path()) as con:
            tables = {
                "retention": TABLES["retention"](con, Filters(), ["programme"], config),
                "survival_programme": TABLES["survival"](con, Filters(), ["programme"], config),
                "survival_practice": TABLES["survival"](con, Filters(), ["programme", "practice"], config),
                "half_life": TABLES["half_life"](con, Filters(), ["programme"], config),
                "hindrance_effect": TABLES["hindrance_effect"](con, Filters(), [], config),
            }
            retention_model = latent_as_scored_retention(con, config) if diagnostics else None
    seconds = time.perf_counter() - started

    records = []

    def add(indicator, group, t, found, real, sup, scores=math.nan, **extra):
        records.append({"seed": seed, "indicator": indicator, "group": group, "months": t, **found,
                        "truth": real, "truth_super": sup, "truth_scores": scores,
                        "quarantined": quarantined, "seconds": seconds, **extra})

    for code in PROGRAMMES:
        curve, sup = true["programme"][code], superpop["programme"][code]
        for t in RETENTION_MONTHS:
            # retention's estimand is the share SCORED in use (README "Indicators"): its truth is
            # the complete score process's R_scores; the latent S(t) is kept as a diagnostic
            extra = ({"truth_state": curve["R_state"][t], "estimate_model": retention_model.get((code, t), math.nan)}
                     if retention_model is not None else {})
            add("retention", code, t, retention_at(tables["retention"], t, programme=code),
                curve["R_scores"][t], sup["R_scores"][str(t)], curve["S"][t], **extra)
        for t in SURVIVAL_MONTHS:
            add("survival", code, t, survival_at(tables["survival_programme"], t, programme=code),
                curve["S"][t], sup["S"][str(t)], curve["S_scores_first"][t])
        add("half_life", code, None, half_life_of(tables["half_life"], programme=code),
            curve["half_life"], sup["half_life"], curve["half_life_loglinear_rounds"])
        for practice in PRACTICES:
            key = f"{code}|{practice}"
            curve, sup = true["programme_practice"][key], superpop["programme_practice"][key]
            for t in SURVIVAL_MONTHS:
                add("survival_practice", key, t,
                    survival_at(tables["survival_practice"], t, programme=code, practice=practice),
                    curve["S"][t], sup["S"][str(t)], curve["S_scores_first"][t])
    for code, hr in true["hazard_ratio"].items():
        found = hindrance_of(tables["hindrance_effect"], code)
        add("hindrance_effect", code, None, found, hr, hr)
    return records


def latent_as_scored_retention(con, config) -> dict:
    """Diagnostic (not an indicator): retention's as-scored estimand read from the latent model
    that `survival` fits (metrics/latent.py), which lets leaving depend on the state at the round
    of leaving. With p = P(in use at month 0) among units scored at month 0, e_U, e_A = P(scored in
    use | in use, abandoned) and S(t) = P(in use at t | in use at month 0), of units scored in use
    at month 0 the share scored in use at t is
        R(t) = [p e_U (S(t) e_U + (1 - S(t)) e_A) + (1 - p) e_A^2] / [p e_U + (1 - p) e_A].
    {(programme, t): R(t)}."""
    from metrics.filters import Filters
    from metrics.latent import latent_survival

    fit = latent_survival(con, Filters(), ["programme"], config, replicates=0)
    if fit is None:
        return {}
    e_u, e_a = fit.params["e_in_use"], fit.params["e_abandoned"]
    p = np.asarray(fit.params["p_in_use_month0"], dtype=float).reshape(-1)
    out = {}
    for g, code in enumerate(fit.groups["programme"].astype(str)):
        scored_in_use_0 = p[g] * e_u + (1 - p[g]) * e_a
        for j, t in enumerate(fit.months):
            s = fit.survival[g, j]
            both = p[g] * e_u * (s * e_u + (1 - s) * e_a) + (1 - p[g]) * e_a * e_a
            out[(code, int(t))] = 1.0 if j == 0 else float(both / scored_in_use_0)
    return out


def _run_seed_safe(args):
    return run_seed(*args)


def run(seeds, params: SimParams, jobs: int = 1, progress=None, diagnostics: bool = True) -> pd.DataFrame:
    """Records of every seed (see run_seed), in a DataFrame."""
    simulator.superpopulation_truth(params)  # computed once here (cached in this process)
    tasks = [(s, params, diagnostics) for s in seeds]
    records = []
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for i, part in enumerate(pool.map(_run_seed_safe, tasks), start=1):
                records += part
                if progress:
                    progress(i)
    else:
        for i, task in enumerate(tasks, start=1):
            records += _run_seed_safe(task)
            if progress:
                progress(i)
    return pd.DataFrame.from_records(records)


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------

def summarise(records: pd.DataFrame) -> pd.DataFrame:
    """One row per indicator, group and t: bias, RMSE, coverage (and power / false positives)."""
    rows = []
    keys = ["indicator", "group", "months"]
    frame = records.copy()
    frame["months"] = frame["months"].astype("object").where(frame["months"].notna(), None)
    for key, part in frame.groupby(keys, sort=False, dropna=False):
        indicator, group, t = key
        est = part["estimate"].astype(float)
        finite = np.isfinite(est)
        e, real = est[finite], part.loc[finite, "truth"].astype(float)
        lo, hi = part["ci_low"].astype(float), part["ci_high"].astype(float)
        has_ci = np.isfinite(lo) & (np.isfinite(hi) | (hi == np.inf))
        truth_all = part["truth"].astype(float)
        covered = (lo <= truth_all) & (truth_all <= hi)
        sup_all = part["truth_super"].astype(float)
        covered_super = (lo <= sup_all) & (sup_all <= hi)
        se = ((hi - lo) / (2 * 1.959964))[has_ci & np.isfinite(hi)]
        row = {"indicator": indicator, "group": group, "months": "" if t is None or t != t else int(t),
               "seeds": len(part), "estimated": int(finite.sum()),
               "truth": float(part["truth"].astype(float).mean()),
               "truth_super": float(part["truth_super"].astype(float).mean()),
               "mean_estimate": float(e.mean()) if len(e) else math.nan,
               "bias": float((e - real).mean()) if len(e) else math.nan,
               "rmse": float(np.sqrt(((e - real) ** 2).mean())) if len(e) else math.nan,
               "bias_super": float(e.mean() - part["truth_super"].astype(float).mean()) if len(e) else math.nan,
               "coverage": float(covered[has_ci].mean()) if has_ci.any() else math.nan,
               "coverage_super": float(covered_super[has_ci].mean()) if has_ci.any() else math.nan,
               "sd_ratio": float(e.std(ddof=1) / se.mean()) if len(e) > 1 and len(se) else math.nan,
               "ci_width": float((hi - lo)[has_ci & np.isfinite(hi)].mean()) if has_ci.any() else math.nan}
        if indicator in ("retention", "survival", "survival_practice"):
            scores = part.loc[finite, "truth_scores"].astype(float)
            row["bias_scores"] = float((e - scores).mean()) if len(e) else math.nan
        if indicator == "retention" and "estimate_model" in part.columns:
            row["truth_state"] = float(part["truth_state"].astype(float).mean())
            model = part["estimate_model"].astype(float)
            row["bias_model_super"] = float(model.mean() - part["truth_super"].astype(float).mean())
            row["bias_model"] = float((model - part["truth"].astype(float)).mean())
            # how far the bias moves the estimate, in standard errors implied by the interval
            row["bias_in_se"] = row["bias_super"] / float(se.mean()) if len(se) else math.nan
            row["coverage_expected"] = expected_coverage(row["bias_in_se"], row["sd_ratio"])
        if indicator == "half_life":
            row["not_reached"] = int((est == np.inf).sum())
            row["truth_loglinear"] = float(part["truth_scores"].astype(float).mean())
        if indicator == "hindrance_effect":
            flagged = (part["p_adj"].astype(float) < ALPHA) & (est > 1)
            row["flagged"] = float(flagged.mean())
            row["ratio_column"] = ",".join(sorted(set(part["ratio_column"].dropna().astype(str))))
            # for ratios: bias on the log scale
            logs = np.log(e[e > 0])
            row["mean_estimate"] = float(np.exp(logs.mean())) if len(logs) else math.nan
            row["bias"] = float((logs - np.log(part.loc[finite, "truth"].astype(float)[e > 0])).mean()) if len(logs) else math.nan
            row["rmse"] = float(np.sqrt(((logs - np.log(part.loc[finite, "truth"].astype(float)[e > 0])) ** 2).mean())) if len(logs) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def expected_coverage(bias_in_se: float, sd_ratio: float, z: float = 1.959964) -> float:
    """Coverage of a normal interval estimate +- z SE when the estimate is normal with mean
    truth + bias_in_se SE and SD sd_ratio SE: the coverage the bias and the width explain, so a
    shortfall can be told apart from seed noise (with sd_ratio 1 and no bias, 0.95)."""
    from scipy.stats import norm

    if not (np.isfinite(bias_in_se) and np.isfinite(sd_ratio) and sd_ratio > 0):
        return math.nan
    return float(norm.cdf((z - bias_in_se) / sd_ratio) - norm.cdf((-z - bias_in_se) / sd_ratio))


def _fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        return f"{value:.{digits}f}"
    return str(value)


def _table(frame: pd.DataFrame, columns: list[tuple[str, str]]) -> str:
    lines = ["| " + " | ".join(label for _, label in columns) + " |",
             "|" + "|".join("---" for _ in columns) + "|"]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_fmt(row.get(c)) for c, _ in columns) + " |")
    return "\n".join(lines)


def report(summary: pd.DataFrame, records: pd.DataFrame, params: SimParams, seeds: list[int],
           seconds_per_seed: float, title: str = "Validation by simulation") -> str:
    ratio_columns = ", ".join(sorted(set(records.loc[records["indicator"] == "hindrance_effect", "ratio_column"]
                                         .dropna().astype(str))))
    head = [
        f"# {title}",
        "",
        f"Seeds {seeds[0]}..{seeds[-1]} ({len(seeds)} seeds), {params.teachers} teachers per seed, scoring accuracy "
        f"{params.accuracy}, missed rounds {params.missed_rate}, real hindrance {params.real_hindrance} "
        f"(HR {params.real_hr} in {params.real_school_share:.0%} of schools), null {params.null_hindrance} "
        f"(confounded by programme). Simulator: tests/simulator.py (assumptions A1-A13 in its docstring). "
        f"{seconds_per_seed:.1f} s per seed on average as measured in this run (simulate + write + ingest + "
        f"indicators, in one worker process; includes the first seed's imports and any load on the machine). "
        f"Rows quarantined by ingest over all seeds: {int(records.groupby('seed')['quarantined'].first().sum())}.",
        "",
        "Truth: `truth` = realised share of teacher-practices truly in use at month 0 still in use at t "
        "(latent state; all units, including those later missing or attrited), mean over seeds; "
        "`bias`, `rmse` and `cov. realised` are against it, seed by seed. `truth_super` = the DGP's superpopulation "
        "value (Monte Carlo, 200,000 teachers); `bias_super` = mean estimate - truth_super. `bias_scores` = "
        "mean estimate - the seed's complete-score value (scoring error, but no missing visits or attrition; "
        "retention: R_scores, survival: share never scored < 3 at a round up to t). Coverage: share of seeds "
        "whose 95% interval holds the truth. `coverage` (the judged column, target 0.90-0.98) is against the "
        "superpopulation value: an interval that respects clustering by school treats schools as sampled, so "
        "its target is the superpopulation quantity; against the realised truth (`cov. realised`) the school "
        "frailties are part of the truth, the error is smaller, and a correct cluster-robust interval would "
        "over-cover (close to 1). `SD/SE` = SD of the estimate over seeds / mean standard error implied by "
        "the interval (width / 3.92): above 1 the intervals are too narrow for the superpopulation (its "
        "square is the design effect the interval misses), about 1 they are right.",
        "",
    ]
    pick = lambda name: summary[summary["indicator"] == name]  # noqa: E731
    base_cols = [("group", "group"), ("months", "t"), ("truth", "truth"), ("truth_super", "truth_super"),
                 ("mean_estimate", "mean est."), ("bias", "bias"), ("rmse", "RMSE"),
                 ("coverage_super", "coverage"), ("coverage", "cov. realised"), ("sd_ratio", "SD/SE"),
                 ("ci_width", "CI width")]
    retention_cols = base_cols + [("bias_super", "bias_super"), ("bias_scores", "bias_latent")]
    if "bias_model" in summary.columns:
        retention_cols += [("truth_state", "truth_state"), ("bias_in_se", "bias/SE"),
                           ("coverage_expected", "cov. expected"), ("bias_model_super", "model bias_super")]
    body = ["## Retention at 6, 12, 24 months (by programme)", "",
            "Retention's estimand is the share of teacher-practices scored in use at month 0 that would be "
            "scored in use at t had every one been visited (scoring error included): `truth` = the seed's "
            "complete-score value R_scores, `truth_super` its superpopulation value; `truth_state` = the same "
            "estimand computed from the latent states and the scoring accuracy (R_state, mean over seeds); "
            "`bias_latent` = mean estimate - the latent share truly in use (what `survival` estimates), for "
            "information. `bias/SE` = bias_super over the mean standard error implied by the interval; "
            "`cov. expected` = the coverage that this bias and SD/SE imply for a normal estimate (0.95 with "
            "neither): when it matches `coverage`, the shortfall is the bias, not seed noise. "
            "`model bias_super` (a diagnostic, not the indicator): the bias of the same estimand read from "
            "the parameters alone of the latent model `survival` fits (`latent_as_scored_retention`: its S(t), "
            "scoring accuracies and share in use at month 0), which lets leaving depend on the state at the "
            "round of leaving. The indicator itself (since AFTER 4, metrics/as_scored.py) counts each unit "
            "scored at t by its score and each unit not scored by the model's chance that it would have been "
            "scored in use, given its own pattern.", "",
            _table(pick("retention"), retention_cols), "",
            "## Survival S(12), S(24) pooled by programme", "",
            _table(pick("survival"), base_cols + [("bias_super", "bias_super"), ("bias_scores", "bias_scores")]), "",
            "## Half-life by programme (months)", "",
            "truth = realised median latent abandonment time (where the continuous true curve crosses 0.5); "
            "`truth_loglin` = the same read from the true S at the rounds, log-linear between rounds. "
            "Bias and RMSE over seeds with a finite estimate; `inf` = estimates of no decay.", "",
            _table(pick("half_life"), base_cols + [("bias_super", "bias_super"), ("truth_loglinear", "truth_loglin"),
                                                   ("not_reached", "inf")]), "",
            "## Hindrance effect", "",
            f"Ratio column read: {ratio_columns or '–'} ({'today: odds ratio of confirmed abandonment, exposure at month 0; not a hazard ratio, so its bias and coverage against the HR are not like-for-like' if 'odds_ratio' in ratio_columns else 'hazard ratio'}). "
            "`flagged` = share of seeds with p_adj < 0.05 and ratio > 1: power for no_followup (target >= 0.80), "
            "false-positive rate for political_interference (target <= 0.10). Mean est. is the geometric mean; "
            "bias and RMSE on the log scale; coverage of the true conditional HR (1.8, 1.0), for information: "
            "an estimator without frailty targets an attenuated population-averaged ratio (see the module "
            "docstring of benchmarks/validation.py).", "",
            _table(pick("hindrance_effect"), [("group", "hindrance"), ("truth", "true HR"), ("mean_estimate", "mean ratio"),
                                               ("bias", "bias (log)"), ("rmse", "RMSE (log)"), ("coverage", "coverage"),
                                               ("estimated", "estimated"),
                                               ("flagged", "flagged")]), "",
            "## Survival S(12), S(24) by programme and practice", "",
            _table(pick("survival_practice"), base_cols + [("bias_super", "bias_super"), ("bias_scores", "bias_scores")]),
            ""]
    sp = pick("survival_practice")
    if len(sp):
        for t in SURVIVAL_MONTHS:
            part = sp[sp["months"] == t]
            body.append(f"Across the {len(part)} programme-practice cells at t={t}: mean bias {_fmt(part['bias'].mean())}, "
                        f"mean |bias| {_fmt(part['bias'].abs().mean())}, mean coverage {_fmt(part['coverage_super'].mean())}, "
                        f"min coverage {_fmt(part['coverage_super'].min())} "
                        f"(of the realised truth: mean {_fmt(part['coverage'].mean())}).")
        body.append("")
    return "\n".join(head + body)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--teachers", type=int, default=None)
    parser.add_argument("--accuracy", type=float, default=None, help="scoring accuracy (A13); 1 = no scoring error")
    parser.add_argument("--quick", action="store_true", help="400 teachers, at most 5 seeds")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", default=str(ROOT / "test-artifacts" / "validation.md"))
    parser.add_argument("--records", default=None, help="also write every seed's records (CSV)")
    parser.add_argument("--title", default="Validation by simulation")
    parser.add_argument("--from-records", default=None,
                        help="re-summarise saved records (CSV, may be .gz) instead of simulating; "
                             "the simulation options must match those of the run that wrote them")
    args = parser.parse_args(argv)

    params = SimParams()
    teachers = args.teachers or (400 if args.quick else params.teachers)
    params = params.replace(teachers=teachers)
    if args.accuracy is not None:
        params = params.replace(accuracy=args.accuracy)
    n_seeds = min(args.seeds, 5) if args.quick else args.seeds
    seeds = list(range(args.first_seed, args.first_seed + n_seeds))
    started = time.perf_counter()
    if args.from_records:
        records = pd.read_csv(args.from_records)
        seeds = sorted(records["seed"].unique().tolist())
    else:
        records = run(seeds, params, jobs=args.jobs,
                      progress=lambda i: print(f"  {i}/{len(seeds)} seeds ({time.perf_counter() - started:.0f} s)",
                                               file=sys.stderr, flush=True))
    per_seed = float(records.groupby("seed")["seconds"].first().mean())
    text = report(summarise(records), records, params, seeds, per_seed, title=args.title)
    if not args.from_records:
        text += f"\nWall time: {time.perf_counter() - started:.0f} s with {args.jobs} process(es).\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if args.records:
        records.to_csv(args.records, index=False)


if __name__ == "__main__":
    main()
