"""Diagnosis of retention's coverage (issue 10, item 8; benchmarks/validation_after3_diagnosis.md).

A numpy replica of the `retention` indicator (metrics/indicators.py `retention`, weights of
metrics/latent.py `RESPONSE_WEIGHTED_PERIODS`, interval of metrics/stats.py
`clustered_ratio_intervals_from_sums`, called here) applied to the simulator's observed data
directly, without writing files or importing them: about 0.3 s per seed instead of 10-40 s, so
hundreds of seeds fit in minutes. It is a diagnostic, never an indicator: `--check SEED` runs the
real pipeline (benchmarks/validation.py `run_seed`) on one seed and compares (largest difference on
seed 2: 4.4e-16, 2026-11-26).

    .venv/bin/python benchmarks/validation_after3_replica.py --seeds 400 [--accuracy 0.9]
                     [--random-attrition]   # leaving at random, same share of teachers leaving
    .venv/bin/python benchmarks/validation_after3_replica.py --check 2

Printed per programme and month: mean estimate, realised truth (R_scores), superpopulation truth,
SD of the estimate, mean SE implied by the interval, SD/SE, coverage of the superpopulation and
of the realised truth, and the bias against the superpopulation.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import simulator  # noqa: E402
from metrics.stats import clustered_ratio_intervals_from_sums  # noqa: E402
from simulator import PROGRAMMES, ROUNDS, SimParams  # noqa: E402

MONTHS = (6, 12, 24)


def retention_replica(pop) -> dict:
    """{(programme, t): (rate, ci_low, ci_high)} as `retention` computes them from the import of
    `pop`: units = teacher-practices scored >= 3 at a present month-0 visit; at round t, the
    units scored at a present visit, weighted by 1 / the share observed among the units of the
    same programme, round, state at their last observation and round of it; the interval is the
    linearised ratio variance over the schools' weighted totals (logit scale)."""
    observed = (pop.visit_kind == 1)[:, :, None] & (pop.scores > 0)      # (teachers, rounds, practices)
    retained = pop.scores >= 3
    teacher, practice = np.nonzero(observed[:, 0, :] & retained[:, 0, :])
    seen, kept = observed[teacher, :, practice], retained[teacher, :, practice]
    programme, school = pop.teacher_programme[teacher], pop.teacher_school[teacher]
    last_retained, last_month = np.ones(len(teacher), bool), np.zeros(len(teacher), int)
    out = {}
    for j in range(1, len(ROUNDS)):
        cell = pd.factorize(pd.Series(programme * 10_000 + last_retained * 1_000 + last_month))[0]
        share = np.bincount(cell, weights=seen[:, j]) / np.bincount(cell)
        weight = np.where(share[cell] > 0, 1 / np.where(share[cell] > 0, share[cell], 1), 0.0)
        for p, code in enumerate(PROGRAMMES):
            rows = (programme == p) & seen[:, j]
            y = np.bincount(school[rows], weights=weight[rows] * kept[rows, j], minlength=school.max() + 1)
            n = np.bincount(school[rows], weights=weight[rows], minlength=school.max() + 1)
            rate = y.sum() / n.sum()
            residual = ((y - rate * n) ** 2)[n > 0].sum()
            _, low, high = clustered_ratio_intervals_from_sums([y.sum()], [n.sum()], [(n > 0).sum()], [residual])
            out[(code, int(ROUNDS[j]))] = (float(rate), float(low[0]), float(high[0]))
        last_retained = np.where(seen[:, j], kept[:, j], last_retained)
        last_month = np.where(seen[:, j], int(ROUNDS[j]), last_month)
    return out


def run(params: SimParams, seeds) -> pd.DataFrame:
    superpop = simulator.superpopulation_truth(params)
    records = []
    for seed in seeds:
        pop = simulator.simulate(params, seed)
        true = simulator.truth(pop)
        found = retention_replica(pop)
        for code in PROGRAMMES:
            for t in MONTHS:
                rate, low, high = found[(code, t)]
                records.append({"programme": code, "t": t, "estimate": rate, "ci_low": low, "ci_high": high,
                                "truth": true["programme"][code]["R_scores"][t],
                                "truth_super": superpop["programme"][code]["R_scores"][str(t)]})
    return pd.DataFrame(records)


def summary(records: pd.DataFrame) -> pd.DataFrame:
    frame = records.assign(
        se=(records["ci_high"] - records["ci_low"]) / 3.919928,
        covered=(records["ci_low"] <= records["truth_super"]) & (records["truth_super"] <= records["ci_high"]),
        covered_realised=(records["ci_low"] <= records["truth"]) & (records["truth"] <= records["ci_high"]))
    out = frame.groupby(["programme", "t"]).agg(
        estimate=("estimate", "mean"), truth=("truth", "mean"), truth_super=("truth_super", "first"),
        sd=("estimate", "std"), se=("se", "mean"), coverage=("covered", "mean"),
        coverage_realised=("covered_realised", "mean"))
    out["sd_over_se"] = out["sd"] / out["se"]
    out["bias_super"] = out["estimate"] - out["truth_super"]
    return out


def check(seed: int, params: SimParams) -> float:
    """Largest difference between the replica and the real pipeline on one seed."""
    import validation

    real = [r for r in validation.run_seed(seed, params) if r["indicator"] == "retention"]
    mine = retention_replica(simulator.simulate(params, seed))
    return max(abs(r[k] - v) for r in real
               for k, v in zip(("estimate", "ci_low", "ci_high"), mine[(r["group"], r["months"])]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=400)
    parser.add_argument("--accuracy", type=float, default=SimParams.accuracy)
    parser.add_argument("--random-attrition", action="store_true",
                        help="leaving at random (attrition_slope 0, attrition_base 0.075: as many leave, 32%% within 24 months)")
    parser.add_argument("--check", type=int, default=None, help="compare with the real pipeline on this seed")
    args = parser.parse_args(argv)
    params = SimParams(accuracy=args.accuracy)
    if args.random_attrition:
        params = params.replace(attrition_slope=0.0, attrition_base=0.075)
    if args.check is not None:
        print(f"seed {args.check}: largest |replica - indicator| = {check(args.check, params):.2e}")
        return
    table = summary(run(params, range(1, args.seeds + 1)))
    print(f"{args.seeds} seeds, accuracy {args.accuracy}, "
          f"{'random' if args.random_attrition else 'informative'} attrition")
    print(table.round(4).to_string())


if __name__ == "__main__":
    main()
