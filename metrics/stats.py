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
