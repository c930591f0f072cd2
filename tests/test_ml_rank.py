"""rank/top_k equal a brute-force stable sort, including ties, NaN and exclusions."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.ml.ranking import rank, top_k

SEEDS = range(12)


def brute_force(scores: np.ndarray, k: int, exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = np.where(np.isnan(scores), -np.inf, scores)
    order = [int(i) for i in np.argsort(-keys, kind="stable") if i not in set(exclude.tolist())]
    idx = np.array(order[: max(k, 0)], dtype=np.intp)
    return idx, scores[idx]


def random_case(seed: int) -> tuple[np.ndarray, int, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    # Few distinct values -> many ties, also across the k-th boundary.
    scores = rng.integers(-5, 5, size=n).astype(np.float32) / 4
    if seed % 3 == 0:
        scores = rng.standard_normal(n).astype(np.float32)
    exclude = rng.integers(0, n, size=int(rng.integers(0, n + 1)))  # with repeats
    k = int(rng.integers(0, n + 20))
    return scores, k, exclude


@pytest.mark.parametrize("seed", SEEDS)
def test_top_k_matches_brute_force(seed: int) -> None:
    scores, k, exclude = random_case(seed)
    before = scores.copy()
    idx, vals = top_k(scores, k, exclude)
    want_idx, want_vals = brute_force(scores, k, exclude)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(vals, want_vals)
    np.testing.assert_array_equal(scores, before)  # input untouched


@pytest.mark.parametrize("seed", SEEDS)
def test_rank_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    films = rng.standard_normal((500, 16)).astype(np.float32)
    films /= np.linalg.norm(films, axis=1, keepdims=True)
    user = films[:5].sum(axis=0)
    user /= np.linalg.norm(user)
    exclude = rng.choice(500, size=40, replace=False)
    idx, vals = rank(user, films, exclude=exclude, k=25)
    want_idx, want_vals = brute_force(films @ user, 25, exclude)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(vals, want_vals)
    assert not set(idx.tolist()) & set(exclude.tolist())
    assert np.all(np.diff(vals) <= 0)


def test_ties_resolve_to_lower_index() -> None:
    idx, _ = top_k(np.array([1.0, 3.0, 3.0, 3.0, 2.0]), 2)
    assert idx.tolist() == [1, 2]


def test_nan_counts_as_minus_inf_and_k_larger_than_available() -> None:
    scores = np.array([0.5, -np.inf, np.nan, 2.0, -1.0])
    idx, vals = top_k(scores, 10, exclude=np.array([0]))
    assert idx.tolist() == [3, 4, 1, 2]
    assert vals[0] == 2.0


def test_degenerate_inputs() -> None:
    assert top_k(np.zeros(0), 5)[0].size == 0
    assert top_k(np.ones(4), 0)[0].size == 0
    assert top_k(np.ones(4), -3)[0].size == 0
    assert top_k(np.ones(4), 3, exclude=np.arange(4))[0].size == 0
    assert top_k(np.ones(4), 3, exclude=[])[0].tolist() == [0, 1, 2]
    with pytest.raises(ValueError):
        top_k(np.ones((2, 2)), 1)
