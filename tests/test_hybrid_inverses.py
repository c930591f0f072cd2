"""A hybrid fit computes each EASE inverse once: one per (λ, c) candidate, one for the winner
(whose weights serve the content-prior stage and the low-rank selection), one per cold
simulation and one for the refit, as ``budget.estimate_hybrid_seconds`` counts them."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.ml import collab
from recommendations.ml.collab import default_grid
from recommendations.ml.hybrid import HybridModel


@pytest.fixture
def inverses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = collab._ease_inverse

    def counted(g: np.ndarray, *args: object, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
        calls.append(g.shape[0])
        return real(g, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(collab, "_ease_inverse", counted)
    return calls


def ratings(n_users: int = 200, n_items: int = 60) -> sp.csr_matrix:
    rng = np.random.default_rng(2)
    rows = [rng.choice(n_items, int(rng.integers(3, 15)), replace=False) for _ in range(n_users)]
    users = np.repeat(np.arange(n_users), [len(r) for r in rows])
    items = np.concatenate(rows)
    return sp.csr_matrix((np.ones(users.size, np.float32), (users, items)), shape=(n_users, n_items))


@pytest.mark.parametrize("with_vectors", [True, False])
def test_each_inverse_is_computed_once(inverses: list[int], with_vectors: bool) -> None:
    x = ratings()
    vectors = np.random.default_rng(0).normal(size=(60, 8)).astype(np.float32) if with_vectors else None
    model = HybridModel(seed=1, cold_repeats=2).fit(x, vectors)
    assert len(inverses) == len(default_grid(60)) + 1 + 2 + 1
    assert model.collab is not None and model.params["val_ndcg_ease_fit"] > 0

    del inverses[:]
    HybridModel(seed=1, cold_repeats=2).fit(x, vectors, reuse=model)
    assert len(inverses) == 1 + 2 + 1  # the search is skipped
