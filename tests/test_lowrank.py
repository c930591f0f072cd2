"""The low-rank terms added to EASE (recommendations.ml.lowrank: iALS, GF-CF low-pass) and their wiring in HybridModel."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.ml import lowrank
from recommendations.ml.collab import fit_ease
from recommendations.ml.hybrid import HybridModel
from recommendations.ml.lowrank import add_lowrank, ials_item_factors, lowpass_weights, lowrank_weights


def two_tastes(n_users: int = 120, n_items: int = 60, seed: int = 0) -> sp.csr_matrix:
    """Half the users like the first half of the films, half the second; a little noise."""
    rng = np.random.default_rng(seed)
    group = np.arange(n_users) % 2
    liked = (np.arange(n_items)[None, :] < n_items // 2) == (group[:, None] == 0)
    x = (rng.random((n_users, n_items)) < np.where(liked, 0.35, 0.03)).astype(np.float32)
    return sp.csr_matrix(x)


def reference_side(m: sp.csr_matrix, y: np.ndarray, w0: float, reg: float) -> np.ndarray:
    out = np.zeros((m.shape[0], y.shape[1]))
    for r in range(m.shape[0]):
        idx = m.indices[m.indptr[r] : m.indptr[r + 1]]
        if idx.size:
            a = w0 * y.T @ y + y[idx].T @ y[idx] + reg * (idx.size + w0 * y.shape[0]) * np.eye(y.shape[1])
            out[r] = np.linalg.solve(a, (1 + w0) * y[idx].sum(0))
    return out


@pytest.mark.parametrize("outer_bytes", [lowrank._OUTER_BYTES, 0])
def test_each_row_solves_its_own_system(monkeypatch, outer_bytes: int) -> None:
    """Batched solves (by one outer-product matmul, or row by row) equal a plain per-row solve,
    including an empty row, which gets a zero factor."""
    monkeypatch.setattr(lowrank, "_OUTER_BYTES", outer_bytes)
    x = two_tastes(40, 30).tolil()
    x[3, :] = 0
    x = sp.csr_matrix(x)
    y = np.random.default_rng(1).normal(size=(30, 8))
    got = lowrank._solve_side(x, y, 0.1, 0.03, block=7)
    np.testing.assert_allclose(got, reference_side(x, y, 0.1, 0.03), rtol=1e-8, atol=1e-10)
    assert not got[3].any()


def test_lowrank_term_ranks_the_users_own_taste_first() -> None:
    x = two_tastes()
    lr = lowrank_weights(x, ials_item_factors(x, 8, 0.1, 0.03), 0.1, 0.03)
    assert lr.shape == (60, 60) and lr.dtype == np.float32
    np.testing.assert_allclose(lr, lr.T, rtol=1e-4, atol=1e-6)  # V A⁻¹ Vᵀ with A symmetric
    scores = np.asarray(x @ lr)
    own = np.where((np.arange(120) % 2 == 0)[:, None], scores[:, :30].mean(1, keepdims=True), scores[:, 30:].mean(1, keepdims=True))
    other = np.where((np.arange(120) % 2 == 0)[:, None], scores[:, 30:].mean(1, keepdims=True), scores[:, :30].mean(1, keepdims=True))
    assert (own > other).all()


def test_linear_scores_follow_the_fold_in() -> None:
    """Replacing each user's system matrix by the average user's keeps the ranking close to iALS's own."""
    x = two_tastes(seed=3)
    w0, reg = 0.1, 0.03
    v = ials_item_factors(x, 8, w0, reg)
    fold_in = lowrank._solve_side(sp.csr_matrix(x, dtype=np.float64), v, w0, reg) @ v.T
    linear = np.asarray(x @ lowrank_weights(x, v, w0, reg))
    corr = [np.corrcoef(a, b)[0, 1] for a, b in zip(fold_in, linear) if a.std() > 0]
    assert np.median(corr) > 0.95


def test_add_lowrank_is_free_of_the_terms_scale() -> None:
    x = two_tastes()
    b = fit_ease(x, 50.0)
    lr = lowrank_weights(x, ials_item_factors(x, 8, 0.1, 0.03), 0.1, 0.03)
    assert np.array_equal(add_lowrank(b.copy(), x, lr, 0.0), b)
    once = add_lowrank(b.copy(), x, lr, 0.5)
    np.testing.assert_allclose(add_lowrank(b.copy(), x, 10.0 * lr, 0.5), once, rtol=1e-4, atol=1e-6)
    assert not np.allclose(once, b)


def test_hybrid_adds_the_validated_term_to_its_collaborative_weights() -> None:
    x = two_tastes(200, 60, seed=5)
    model = HybridModel(seed=3, cold_repeats=1).fit(x)
    p = model.collab.params
    assert {"lowrank_factors", "lowrank_w0", "lowrank_reg", "lowrank_weight"} <= set(p)
    assert model.params["val_ndcg_lowpass"] >= model.params["val_ndcg_lowrank"] >= model.params["val_ndcg_ease_fit"]
    expected = fit_ease(x, p["lam"], p["pop_reg"])
    if p["lowrank_weight"] > 0:
        cfg = (int(p["lowrank_factors"]), p["lowrank_w0"], p["lowrank_reg"])
        add_lowrank(expected, x, lowrank_weights(x, ials_item_factors(x, *cfg, seed=3), cfg[1], cfg[2]), p["lowrank_weight"])
    else:
        assert p["lowrank_factors"] == 0 and model.params["val_ndcg_lowrank"] == model.params["val_ndcg_ease_fit"]
    if p["lowpass_weight"] > 0:
        add_lowrank(expected, x, lowpass_weights(x, int(p["lowpass_k"])), p["lowpass_weight"])
    else:
        assert p["lowpass_k"] == 0 and model.params["val_ndcg_lowpass"] == model.params["val_ndcg_lowrank"]
    np.testing.assert_allclose(model.collab.weights, expected, rtol=1e-4, atol=1e-5)


def test_lowpass_term_matches_a_dense_svd_and_is_repeatable() -> None:
    x = two_tastes(80, 40, seed=2)
    a = np.asarray(x.todense(), dtype=np.float64)
    di = a.sum(0)
    _, _, vt = np.linalg.svd(a / np.sqrt(a.sum(1))[:, None] / np.sqrt(di)[None, :])
    u = vt[:6].T
    expected = (u / np.sqrt(di)[:, None]) @ (u.T * np.sqrt(di)[None, :])
    got = lowpass_weights(x, 6)
    assert got is not None and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.array_equal(got, lowpass_weights(x, 6))


def test_lowpass_term_ranks_the_users_own_taste_first() -> None:
    x = two_tastes()
    lp = lowpass_weights(x, 4)
    assert lp is not None
    scores = np.asarray(x @ lp)
    top = np.argsort(-np.where(x.toarray() > 0, -np.inf, scores), axis=1)[:, :5]
    first_half = top < 30
    assert first_half[0::2].mean() > 0.95 and first_half[1::2].mean() < 0.05


def test_lowpass_term_needs_room_for_its_vectors() -> None:
    assert lowpass_weights(sp.csr_matrix(np.eye(1, 5, dtype=np.float32)), 8) is None
    assert lowpass_weights(sp.csr_matrix((4, 6), dtype=np.float32), 2) is None
    small = lowpass_weights(sp.csr_matrix(np.eye(3, 5, dtype=np.float32)), 8)  # k capped at 2
    assert small is not None and small.shape == (5, 5)
