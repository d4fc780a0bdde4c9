"""National-scale building blocks (issue 12): the school bootstrap's weights in bounded memory and
products with them, equal to the plain computation."""
import numpy as np
from scipy import sparse

from metrics import stats


def test_bootstrap_weights_are_the_single_draw_held_in_one_byte_and_kept(monkeypatch):
    monkeypatch.setattr(stats, "BOOTSTRAP_BLOCK_CELLS", 7_000)  # several blocks of replicates
    schools, replicates, seed = 3_001, 40, 11
    weights = stats.school_bootstrap_weights(schools, replicates, seed)
    expected = np.random.default_rng(seed).multinomial(schools, np.full(schools, 1.0 / schools), size=replicates)
    assert weights.dtype.itemsize == 1 and not weights.flags.writeable
    assert np.array_equal(weights, expected)
    assert stats.school_bootstrap_weights(schools, replicates, seed) is weights


def test_replicate_totals_equal_one_product_dense_and_sparse(monkeypatch):
    monkeypatch.setattr(stats, "BOOTSTRAP_BLOCK_CELLS", 1_000)
    rng = np.random.default_rng(3)
    weights = stats.school_bootstrap_weights(301, 30, 5)
    totals = rng.integers(0, 9, size=(301, 4)).astype("float64")
    expected = weights.astype("float64") @ totals
    assert np.array_equal(stats.replicate_totals(weights, totals), expected)
    assert np.array_equal(stats.replicate_totals(weights, sparse.csc_matrix(totals)), expected)
