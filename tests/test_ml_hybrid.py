"""Hybrid ranker on synthetic data (no Django, no real data)."""

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from recommendations.ml.hybrid import (
    HybridModel,
    activity_bucket,
    genre_cap_rerank,
    mmr_rerank,
    simulate_cold,
    zscore_rows,
)
from recommendations.ml.metrics import ndcg_at_k, top_k


def synthetic(n_users: int = 400, n_items: int = 80, seed: int = 0):
    """3 taste groups; item vectors encode the group plus noise; 25% held out."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n_users)
    item_group = np.arange(n_items) % 3
    pop = rng.random(n_items) ** 2
    p = np.where(group[:, None] == item_group[None, :], 0.3, 0.02) * (0.5 + pop)
    x = (rng.random((n_users, n_items)) < p).astype(np.float32)
    hold = (rng.random(x.shape) < 0.25) & (x > 0)
    vectors = np.eye(3)[item_group] + 0.3 * rng.normal(size=(n_items, 3))
    return sp.csr_matrix(x * ~hold), sp.csr_matrix(x * hold), vectors.astype(np.float32)


def test_activity_buckets() -> None:
    assert activity_bucket(np.array([0, 5, 6, 20, 21])).tolist() == [0, 0, 1, 1, 2]


def test_zscore_rows_excludes_seen() -> None:
    z = zscore_rows(np.array([[1.0, 2.0, 3.0, 100.0]]), sp.csr_matrix(np.array([[0, 0, 0, 1]])))
    assert np.isneginf(z[0, 3])
    assert np.allclose(z[0, :3], [-1.2247449, 0.0, 1.2247449])


def test_simulate_cold_truncates_only_chosen_users() -> None:
    train, _, _ = synthetic()
    cold, chosen = simulate_cold(train, 0.5, np.random.default_rng(0))
    before, after = np.diff(train.indptr), np.diff(cold.indptr)
    others = np.setdiff1d(np.arange(train.shape[0]), chosen)
    assert np.array_equal(before[others], after[others])
    assert (after[chosen] <= 20).all() and (after <= before).all()
    assert (cold.multiply(train) != cold).nnz == 0  # a subset of train


def test_fit_score_and_buckets_use_own_weights(tmp_path: Path) -> None:
    train, test, vectors = synthetic()
    model = HybridModel(cold_repeats=1).fit(train, vectors)
    assert model.weights.shape == (3, 3)
    scores = model.score(train)
    assert np.isneginf(scores[train.nonzero()]).all()
    assert ndcg_at_k(top_k(scores, 10, exclude=train), test) > 0.3
    path = tmp_path / "hybrid.npz"
    model.save(path)
    loaded = HybridModel.load(path)
    assert np.allclose(loaded.score(train[:7]), scores[:7])
    assert np.array_equal(loaded.weights, model.weights)


def test_cold_user_gets_content_and_popularity_signal() -> None:
    train, _, vectors = synthetic()
    model = HybridModel(cold_repeats=1).fit(train, vectors)
    model.weights[0] = [0.0, 1.0, 0.0]  # content only for <=5
    one_item = sp.csr_matrix(([1.0], ([0], [0])), shape=(1, train.shape[1]))  # item 0 is group 0
    ranked = model.rank(one_item, k=10)[0]
    assert (np.arange(train.shape[1])[ranked] % 3 == 0).mean() >= 0.8


def test_fit_without_vectors_and_with_explicit_validation() -> None:
    train, _, _ = synthetic(seed=1)
    coo = train.tocoo()
    keep = np.random.default_rng(0).random(coo.nnz) < 0.75
    fit = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=train.shape)
    val = sp.csr_matrix((coo.data[~keep], (coo.row[~keep], coo.col[~keep])), shape=train.shape)
    model = HybridModel(cold_repeats=1).fit(fit, None, val)
    assert np.all(model.weights[:, 1] == 0.0)  # no content feature without vectors
    assert model.rank(train[:3], k=5).shape == (3, 5)


def test_mmr_diversifies_and_genre_cap_limits() -> None:
    vectors = np.array([[1, 0], [0.99, 0.1], [0.98, 0.2], [0, 1]], dtype=np.float32)
    scores = np.array([1.0, 0.95, 0.9, 0.5])
    assert mmr_rerank(scores, vectors, k=2, trade_off=1.0).tolist() == [0, 1]
    assert mmr_rerank(scores, vectors, k=2, trade_off=0.3).tolist() == [0, 3]
    genres = np.array([[1, 0], [1, 0], [1, 0], [0, 1]])
    assert genre_cap_rerank(np.array([0, 1, 2, 3]), genres, k=3, cap=2).tolist() == [0, 1, 3]
    assert genre_cap_rerank(np.array([0, 1, 2]), genres, k=3, cap=1).tolist() == [0, 1, 2]
