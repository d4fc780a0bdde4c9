"""metrics/base.py's row helpers against pandas doing the same by itself: `order_rows` against
`sort_values(..., kind="stable", key=sort_key)` and `group_ids` against `groupby(...).ngroup()`,
on random frames with missing values, text, whole numbers, floats and a declared band."""
import numpy as np
import pandas as pd
import pytest

from metrics.base import group_ids, order_rows
from sustain.dimensions import BY_NAME, sort_key

COLUMNS = ["district", "months", "experience_band", "programme", "teachers", "share"]


def _random_frame(rng, rows: int) -> pd.DataFrame:
    bands = [*BY_NAME["experience_band"].values, None, "not a declared band"]
    return pd.DataFrame({
        "district": rng.choice(np.array(["Thatta", "Pishin", "Quetta", None], dtype=object), rows),
        "months": rng.choice([0, 3, 6, 12], rows),
        "experience_band": rng.choice(np.array(bands, dtype=object), rows),
        "programme": rng.choice(np.array(["CBM", "CBT"], dtype=object), rows),
        "teachers": pd.array(rng.choice(np.array([1, 2, None], dtype=object), rows), dtype="Int64"),
        "share": rng.choice([1.5, np.nan, 0.5], rows),
    }, index=rng.permutation(rows) + 5)  # an index out of order: the result must not depend on it


def test_the_band_is_declared():
    assert BY_NAME["experience_band"].values  # else the keyed sort below tests nothing of it


def _random_cases(seed: int, count: int = 80):
    """`count` random frames, each with one to three of COLUMNS to sort or group by."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        frame = _random_frame(rng, int(rng.integers(1, 60)))
        yield frame, list(rng.choice(COLUMNS, size=int(rng.integers(1, 4)), replace=False))


@pytest.mark.parametrize("seed", range(5))
def test_order_rows_sorts_as_pandas_does(seed):
    for frame, by in _random_cases(seed):
        expected = frame.sort_values(by, kind="stable", key=sort_key).reset_index(drop=True)
        pd.testing.assert_frame_equal(order_rows(frame, by), expected)


@pytest.mark.parametrize("seed", range(3))
def test_group_ids_number_groups_as_ngroup_does(seed):
    for frame, keys in _random_cases(seed):
        expected = frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
        np.testing.assert_array_equal(group_ids(frame, keys), expected)
