"""Small statistical helpers written out where the formula is short and fixed (tests cross-check
them against statsmodels)."""
from __future__ import annotations

import numpy as np
from scipy import stats

Z95 = stats.norm.ppf(0.975)


def wilson_interval(successes, totals, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for proportions; NaN where the total is 0."""
    k = np.asarray(successes, dtype="float64")
    n = np.asarray(totals, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
        low, high = centre - half, centre + half
    low = np.where(n > 0, np.clip(low, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(high, 0, 1), np.nan)
    return low, high


# -- intervals that respect clustering by school ------------------------------------------------
# The same teachers are seen at every round and contribute several practices, and teachers of one
# school share a head teacher, a cluster and its support: observations within a school are not
# independent. Two tools, each used where it fits:
# - `clustered_ratio_interval`: a ratio estimator's linearised (Taylor) variance over school totals,
#   for shares such as retention and prevalence (closed form, fast at national scale);
# - `school_bootstrap_weights`: resample schools with replacement (Poisson-free multinomial weights),
#   for quantities that are not a ratio of sums (survival products, a half-life read off a curve).
BOOTSTRAP_REPLICATES = 400
BOOTSTRAP_SEED = 20261125


def clustered_ratio_interval(y_by_school, n_by_school, z: float = Z95):
    """(rate, se, low, high) of R = sum(y) / sum(n) with the linearised variance over schools:
    var(R) = S / (S - 1) * sum((y_s - R n_s)^2) / (sum n)^2.

    The interval is built on the logit scale (so it stays inside [0, 1]) and falls back to Wilson's
    when every school agrees exactly (zero estimated variance at 0 or 1) or there is one school.
    """
    y = np.asarray(y_by_school, dtype="float64")
    n = np.asarray(n_by_school, dtype="float64")
    total = n.sum()
    if total <= 0:
        return np.nan, np.nan, np.nan, np.nan
    rate = y.sum() / total
    schools = int((n > 0).sum())
    residual = y - rate * n
    variance = schools / (schools - 1) * np.sum(residual**2) / total**2 if schools > 1 else np.nan
    se = float(np.sqrt(variance)) if np.isfinite(variance) else np.nan
    if not np.isfinite(se) or se == 0 or rate in (0.0, 1.0):
        # a design effect of at least 1: never narrower than the binomial interval
        low, high = wilson_interval([y.sum()], [total], z)
        return rate, se, float(low[0]), float(high[0])
    logit = np.log(rate / (1 - rate))
    logit_se = se / (rate * (1 - rate))
    low, high = logit - z * logit_se, logit + z * logit_se
    return rate, se, float(1 / (1 + np.exp(-low))), float(1 / (1 + np.exp(-high)))


def clustered_ratio_intervals(frame, group_columns, y: str, n: str, school: str = "school_id", z: float = Z95):
    """`clustered_ratio_interval` for every group of a frame holding one row per group and school
    (y and n summed per school); returns a DataFrame of the group columns, `se`, `ci_low`, `ci_high`.
    Vectorised over groups (the same figures as calling `clustered_ratio_interval` per group)."""
    import pandas as pd

    group_columns = list(group_columns)
    if frame.empty:
        return pd.DataFrame(columns=[*group_columns, "se", "ci_low", "ci_high"])
    ids = (frame.groupby(group_columns, sort=False, dropna=False).ngroup().to_numpy() if group_columns
           else np.zeros(len(frame), dtype="int64"))
    ys = frame[y].to_numpy(dtype="float64")
    ns = frame[n].to_numpy(dtype="float64")
    total_y, total = np.bincount(ids, weights=ys), np.bincount(ids, weights=ns)
    schools = np.bincount(ids, weights=(ns > 0).astype("float64"))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = total_y / total
        residual = np.bincount(ids, weights=(ys - rate[ids] * ns) ** 2)
        variance = np.where(schools > 1, schools / (schools - 1) * residual / total**2, np.nan)
        se = np.sqrt(variance)
        wilson_low, wilson_high = wilson_interval(total_y, total, z)
        logit = np.log(rate / (1 - rate))
        logit_se = se / (rate * (1 - rate))
        low = 1 / (1 + np.exp(-(logit - z * logit_se)))
        high = 1 / (1 + np.exp(-(logit + z * logit_se)))
    # a design effect of at least 1: never narrower than the binomial interval
    fallback = ~np.isfinite(se) | (se == 0) | (rate == 0) | (rate == 1)
    low, high = np.where(fallback, wilson_low, low), np.where(fallback, wilson_high, high)
    empty = ~(total > 0)
    se, low, high = (np.where(empty, np.nan, a) for a in (se, low, high))
    first = np.unique(ids, return_index=True)[1]
    result = frame[group_columns].iloc[first].reset_index(drop=True)
    return result.assign(se=se, ci_low=low, ci_high=high)


def school_bootstrap_weights(schools: int, replicates: int = BOOTSTRAP_REPLICATES,
                             seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(replicates x schools) counts of how often each school is drawn when `schools` schools are
    resampled with replacement; multiply per-school totals by them to get replicate totals.
    Seeded, so a figure is the same on every rerun of the page."""
    rng = np.random.default_rng(seed)
    if schools == 0:
        return np.zeros((replicates, 0))
    return rng.multinomial(schools, np.full(schools, 1.0 / schools), size=replicates).astype("float64")


def percentile_interval(replicates, alpha: float = 0.05):
    """The (alpha/2, 1 - alpha/2) percentiles of bootstrap replicates along axis 0, ignoring NaN."""
    values = np.asarray(replicates, dtype="float64")
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return (np.nanpercentile(values, 100 * alpha / 2, axis=0),
                    np.nanpercentile(values, 100 * (1 - alpha / 2), axis=0))
