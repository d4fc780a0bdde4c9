"""Small statistical helpers written out where the formula is short and fixed (tests cross-check
them against statsmodels)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
from scipy import sparse, stats

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
    se, low, high = clustered_ratio_intervals_from_sums(total_y, total, schools, residual, z)
    first = np.unique(ids, return_index=True)[1]
    result = frame[group_columns].iloc[first].reset_index(drop=True)
    return result.assign(se=se, ci_low=low, ci_high=high)


def clustered_ratio_intervals_from_sums(total_y, total, schools, residual, z: float = Z95):
    """(se, low, high) of `clustered_ratio_interval` per group from its sufficient statistics: the
    group's sum(y), sum(n), number of schools with n > 0 and sum over schools of (y_s - R n_s)^2
    (R = sum(y) / sum(n)); DuckDB computes them where the rows are (metrics/indicators.py)."""
    total_y, total, schools, residual = (np.asarray(a, dtype="float64") for a in (total_y, total, schools, residual))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = total_y / total
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
    return tuple(np.where(empty, np.nan, a) for a in (se, low, high))


# an interval clustered by school (the school bootstrap, the latent model's sandwich) needs this many
# schools; with fewer it is left blank: a group of one school's sandwich is its score, zero at the
# estimate (a falsely narrow band), and a few schools' resamples barely vary
MIN_SCHOOLS_INTERVAL = 5

# the school bootstrap at national scale: draws are made this many replicate-cells (replicates x
# schools) at a time, and products with them are taken in blocks of that size, so a temporary
# float64 copy stays small; drawn weight matrices are kept (they depend only on the number of
# schools, replicates and seed) up to this many bytes: a page's second view reuses them
BOOTSTRAP_BLOCK_CELLS = 2_000_000
BOOTSTRAP_CACHE_BYTES = 256 * 2**20
_drawn_weights: "OrderedDict[tuple[int, int, int], np.ndarray]" = OrderedDict()


def school_bootstrap_weights(schools: int, replicates: int = BOOTSTRAP_REPLICATES,
                             seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(replicates x schools) counts of how often each school is drawn when `schools` schools are
    resampled with replacement; multiply per-school totals by them to get replicate totals
    (`replicate_totals` does it in bounded memory). Seeded, so a figure is the same on every rerun
    of the page. The counts are small integers, held in the narrowest unsigned type that fits them
    (one byte per replicate and school at 100,000 schools: 40 MB, not 320 MB of float64), drawn in
    blocks of replicates (the same stream as one draw of every replicate), read-only and kept for
    the next call with the same arguments."""
    key = (int(schools), int(replicates), int(seed))
    if key in _drawn_weights:
        _drawn_weights.move_to_end(key)
        return _drawn_weights[key]
    rng = np.random.default_rng(seed)
    weights = np.zeros((replicates, schools), dtype=np.uint8)
    if schools:
        block = max(1, BOOTSTRAP_BLOCK_CELLS // schools)
        probabilities = np.full(schools, 1.0 / schools)
        for first in range(0, replicates, block):
            draws = rng.multinomial(schools, probabilities, size=min(block, replicates - first))
            if draws.max() > np.iinfo(weights.dtype).max:
                weights = weights.astype(np.promote_types(weights.dtype, np.min_scalar_type(draws.max())))
            weights[first:first + len(draws)] = draws
    weights.setflags(write=False)
    _drawn_weights[key] = weights
    while sum(w.nbytes for w in _drawn_weights.values()) > BOOTSTRAP_CACHE_BYTES and len(_drawn_weights) > 1:
        _drawn_weights.popitem(last=False)
    return weights


# float32 holds every whole number below 2**24 exactly; a sum of whole numbers computed in float32
# that comes out below half of that had no partial sum beyond it (all terms are non-negative), so it
# is exact
FLOAT32_EXACT_BELOW = 2.0**23


def replicate_totals(weights: np.ndarray, totals) -> np.ndarray:
    """weights (replicates x schools) @ totals (schools x k, dense or scipy sparse), as float64
    (replicates x k), a block of replicates at a time so that no float copy of all the weights
    is made. The counts and totals are whole numbers, so every block's sums are exact and the
    result is the same as one float64 product. Whole-number totals are multiplied in float32 (half
    the memory traffic of converting the weights); a column whose float32 sums reach
    `FLOAT32_EXACT_BELOW` is multiplied again in float64, so the result is always exact."""
    replicates, schools = weights.shape
    columns = totals.shape[1] if len(totals.shape) > 1 else None
    values = totals.data if sparse.issparse(totals) else np.asarray(totals)
    whole = bool(np.all(np.isfinite(values)) and np.all(values >= 0) and np.all(values == np.round(values)))
    out = _replicate_products(weights, totals, "float32" if whole else "float64", columns).astype("float64")
    if whole:
        large = np.flatnonzero((out >= FLOAT32_EXACT_BELOW).reshape(replicates, -1).any(axis=0))
        if len(large):
            if columns is None:
                out = _replicate_products(weights, totals, "float64", None)
            else:
                chosen = totals[:, large]
                out[:, large] = _replicate_products(weights, chosen, "float64", len(large))
    return out


def _replicate_products(weights: np.ndarray, totals, dtype: str, columns: int | None) -> np.ndarray:
    """weights @ totals in `dtype`, a block of replicates at a time (`replicate_totals`)."""
    replicates, schools = weights.shape
    out = np.empty((replicates, columns) if columns is not None else replicates, dtype=dtype)
    block = max(1, BOOTSTRAP_BLOCK_CELLS // max(1, schools))
    if sparse.issparse(totals):
        transposed = totals.T.astype(dtype)
    else:
        totals = np.asarray(totals, dtype=dtype)
        transposed = None
    for first in range(0, replicates, block):
        part = weights[first:first + block].astype(dtype)
        if transposed is not None:
            out[first:first + block] = np.asarray(transposed @ part.T).T
        else:
            out[first:first + block] = part @ totals
    return out


def percentile_interval(replicates, alpha: float = 0.05):
    """The (alpha/2, 1 - alpha/2) percentiles of bootstrap replicates along axis 0, ignoring NaN.
    The columns without NaN go through one vectorised `np.percentile` (numpy's nanpercentile
    takes every column one at a time once any holds a NaN: seconds for a view of thousands of
    groups); only those with some NaN through `np.nanpercentile`; all-NaN columns are NaN."""
    values = np.asarray(replicates, dtype="float64")
    flat = values.reshape(len(values), int(np.prod(values.shape[1:])))
    missing = np.isnan(flat)
    some, every = missing.any(axis=0), missing.all(axis=0)
    low, high = np.full(flat.shape[1], np.nan), np.full(flat.shape[1], np.nan)
    percents = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    clean, mixed = ~some, some & ~every
    if clean.any() and len(flat):
        low[clean], high[clean] = np.percentile(flat[:, clean], percents, axis=0)
    if mixed.any():
        low[mixed], high[mixed] = np.nanpercentile(flat[:, mixed], percents, axis=0)
    return low.reshape(values.shape[1:])[()], high.reshape(values.shape[1:])[()]
