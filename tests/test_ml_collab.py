"""EASE / RP3beta on synthetic data (no Django, no real data)."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.ml.collab import (
    CollabModel,
    content_prior,
    fit_collab,
    fit_ease,
    fit_rp3beta,
    select_ease_params,
)
from recommendations.ml.metrics import ndcg_at_k, top_k


def synthetic(n_users: int = 300, n_items: int = 60, seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Users from 3 latent groups, each liking its own block of items; 25% held out."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n_users)
    item_group = np.arange(n_items) % 3
    p = np.where(group[:, None] == item_group[None, :], 0.35, 0.03)
    x = (rng.random((n_users, n_items)) < p).astype(np.float32)
    hold = (rng.random(x.shape) < 0.25) & (x > 0)
    return sp.csr_matrix(x * ~hold), sp.csr_matrix(x * hold)


def test_ease_closed_form_matches_definition() -> None:
    train, _ = synthetic(50, 12)
    lam = 5.0
    b = fit_ease(train, lam)
    g = (train.T @ train).toarray() + lam * np.eye(12)
    p = np.linalg.inv(g)
    expected = -p / np.diag(p)
    np.fill_diagonal(expected, 0.0)
    assert np.allclose(b, expected, atol=1e-5)
    assert np.all(np.diag(b) == 0)


def test_prior_weight_zero_and_pop_reg_zero_is_plain_ease() -> None:
    train, _ = synthetic(50, 12)
    prior = content_prior(np.random.default_rng(0).normal(size=(12, 4)), k=3)
    assert np.allclose(fit_ease(train, 5.0, 0.0, prior, 0.0), fit_ease(train, 5.0), atol=1e-6)
    b = fit_ease(train, 5.0, 1.0, prior, 0.5)
    assert np.allclose(np.diag(b), 0.0)


def test_content_prior_rows_are_distributions_without_self() -> None:
    v = np.random.default_rng(0).normal(size=(20, 5))
    v[3] = 0.0  # an item without a vector gets no prior
    s = content_prior(v, k=4).toarray()
    assert np.allclose(np.diag(s), 0.0)
    sums = s.sum(axis=1)
    assert np.allclose(np.delete(sums, 3), 1.0) and sums[3] == 0.0
    assert (s > 0).sum(axis=1).max() <= 4


def test_ease_beats_popularity_on_block_structure() -> None:
    train, test = synthetic()
    model = fit_collab(train, train.shape[1], lam=10.0, pop_reg=0.0)
    ease = ndcg_at_k(top_k(model.scores(train), 10, exclude=train), test)
    pop = np.tile(np.asarray(train.sum(axis=0)).ravel(), (train.shape[0], 1))
    assert ease > ndcg_at_k(top_k(pop, 10, exclude=train), test) + 0.1


def test_lambda_selected_on_validation_from_grid() -> None:
    train, _ = synthetic()
    params, curve = select_ease_params(train, [(1.0, 0.0), (10.0, 0.0), (100.0, 1.0)])
    assert (params["lam"], params["pop_reg"], params["prior_weight"]) in curve
    assert params["val_ndcg"] == max(curve.values())
    model = fit_collab(train, train.shape[1])
    assert model.kind == "ease" and model.params["lam"] > 0


def test_triples_input_and_save_load_roundtrip(tmp_path: Path) -> None:
    train, _ = synthetic(40, 10)
    coo = train.tocoo()
    model = fit_collab((coo.row, coo.col, coo.data), 10, lam=3.0, pop_reg=0.5)
    path = tmp_path / "ease.npz"
    model.save(path)
    loaded = CollabModel.load(path)
    assert loaded.kind == "ease" and loaded.params["lam"] == 3.0
    assert loaded.weights.dtype == np.float32
    assert np.allclose(loaded.scores(train[:5]), model.scores(train[:5]))


def test_rp3beta_used_above_threshold_and_roundtrips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import recommendations.ml.collab as collab

    train, test = synthetic()
    monkeypatch.setattr(collab, "EASE_MAX_ITEMS", 30)
    model = collab.fit_collab(train, train.shape[1], rp3_topk=20)
    assert model.kind == "rp3beta" and sp.issparse(model.weights)
    assert (model.weights.getnnz(axis=1) <= 20).all()
    assert ndcg_at_k(top_k(model.scores(train), 10, exclude=train), test) > 0.3
    path = tmp_path / "rp3.npz"
    model.save(path)
    loaded = CollabModel.load(path)
    assert np.allclose(loaded.scores(train[:5]), model.scores(train[:5]))


def test_rp3beta_has_no_self_similarity() -> None:
    train, _ = synthetic(80, 20)
    w = fit_rp3beta(train, topk=5, block=7)
    assert np.allclose(w.diagonal(), 0.0)

