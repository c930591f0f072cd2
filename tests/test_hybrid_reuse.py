"""A second hybrid fit on the same data with other content vectors reuses the first's vector-free
work (EASE's (λ, c) and temporal search, the low-rank factors) and ends exactly where a fresh
fit ends, with fewer EASE inverses and no low-rank factor computed again."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.ml import collab
from recommendations.ml.collab import carve_validation, stamp_matrix
from recommendations.ml.hybrid import HybridModel


def data() -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
    """Two tastes over 80 films; each user rates a run of neighbours (so time order matters), then random films."""
    rng = np.random.default_rng(1)
    n_users, n_items = 240, 80
    users, items = [], []
    for u in range(n_users):
        start = int(rng.integers(0, n_items // 2)) * 2 + u % 2
        picks = [(start + 2 * j) % n_items for j in range(int(rng.integers(4, 12)))]
        picks += [int(i) for i in rng.choice(n_items, 6, replace=False) if i not in picks]  # noise
        users += [u] * len(picks)
        items += picks
    users_a, items_a = np.array(users), np.array(items)
    x = collab.binarize(sp.csr_matrix((np.ones(len(users_a), np.float32), (users_a, items_a)), shape=(n_users, n_items)))
    stamps = stamp_matrix(users_a, items_a, np.arange(len(users_a), dtype=np.float64) + 1.0, x.shape)
    fit_x, val_x = carve_validation(x, seed=5)
    return fit_x, val_x, stamps


def vectors(seed: int, n_items: int = 80) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(2, 16))
    return (base[np.arange(n_items) % 2] + 0.8 * rng.normal(size=(n_items, 16))).astype(np.float32)


@pytest.fixture
def inverses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = collab._ease_inverse

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(collab, "_ease_inverse", counted)
    return calls


def test_reusing_a_fit_gives_the_fresh_fit(inverses: list[int]) -> None:
    fit_x, val_x, stamps = data()
    first = HybridModel(seed=3).fit(fit_x, vectors(0), val=val_x, timestamps=stamps)
    cached = dict(first.factors.entries)
    assert cached and first.reusable_seconds > 0

    del inverses[:]
    fresh = HybridModel(seed=3).fit(fit_x, vectors(1), val=val_x, timestamps=stamps)
    n_fresh = len(inverses)
    del inverses[:]
    reused = HybridModel(seed=3).fit(fit_x, vectors(1), val=val_x, timestamps=stamps, reuse=first)

    assert fresh.params["temporal_weight"] > 0 and fresh.params["lowrank_weight"] > 0 and fresh.weights[:, 1].any()
    assert reused.params == fresh.params
    np.testing.assert_array_equal(reused.collab.weights, fresh.collab.weights)
    np.testing.assert_array_equal(reused.weights, fresh.weights)
    np.testing.assert_array_equal(reused.score(fit_x), fresh.score(fit_x))
    # The search was skipped (the whole (λ, c) grid and the temporal candidates here), and every
    # low-rank factor came from the first fit.
    assert len(inverses) < n_fresh - 5
    assert reused.factors is first.factors and first.factors.entries.keys() == cached.keys()
    assert reused.reusable_seconds == 0.0


def test_the_vectors_still_matter_when_reusing() -> None:
    fit_x, val_x, stamps = data()
    first = HybridModel(seed=3).fit(fit_x, vectors(0), val=val_x, timestamps=stamps)
    without = HybridModel(seed=3).fit(fit_x, None, val=val_x, timestamps=stamps, reuse=first)
    assert without.params["prior_weight"] == 0.0 and not np.any(without.weights[:, 1])
    assert without.params["lam"] == first.params["lam"] and without.params["temporal_window"] == first.params["temporal_window"]
