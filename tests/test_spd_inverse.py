"""The in-place SPD inverse EASE uses (recommendations.ml.linalg)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.ml.collab import _ease_from_inverse, _prior_term, content_prior, fit_ease
from recommendations.ml.linalg import spd_inverse


def _spd(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = (rng.random((3 * n, n)) < 0.05).astype(np.float64)
    g = x.T @ x
    g[np.diag_indices(n)] += 10.0
    return g


@pytest.mark.parametrize("n", [1, 7, 1024, 1500])
def test_equals_numpy_inverse_in_place(n: int) -> None:
    g = _spd(n)
    expected = np.linalg.inv(g)
    a = g.copy()
    out = spd_inverse(a)
    assert out is a
    assert np.allclose(out, expected, rtol=1e-9, atol=1e-12)
    assert np.array_equal(out, out.T)


def test_fortran_ordered_input() -> None:
    g = _spd(300)
    a = np.asfortranarray(g)
    out = spd_inverse(a)
    assert np.shares_memory(out, a)
    assert np.allclose(out, np.linalg.inv(g))


def test_not_positive_definite_falls_back_to_lu() -> None:
    rng = np.random.default_rng(1)
    m = rng.normal(size=(1100, 1100))
    sym = m + m.T  # symmetric, indefinite
    out = spd_inverse(sym.copy())
    assert np.allclose(out @ sym, np.eye(1100), atol=1e-6)


def test_rejects_what_it_cannot_invert_in_place() -> None:
    with pytest.raises(ValueError, match="square float64"):
        spd_inverse(np.ones((3, 4)))
    with pytest.raises(ValueError, match="square float64"):
        spd_inverse(np.eye(3, dtype=np.float32))


def test_ease_with_prior_matches_the_closed_form() -> None:
    """B = P(G + μΛS) - P·diagMat(γ), diag(B) = 0, written without n² float64 temporaries."""
    n = 1300  # more than one row block
    rng = np.random.default_rng(2)
    x = sp.csr_matrix((rng.random((4000, n)) < 0.03).astype(np.float32))
    prior = content_prior(rng.normal(size=(n, 16)).astype(np.float32), k=10)
    lam, c, mu = 30.0, 1.0, 0.3
    g = (x.T @ x).toarray().astype(np.float64)
    reg = lam + c * np.diag(g)
    p = np.linalg.inv(g + np.diag(reg))
    b0 = p @ (g + mu * np.diag(reg) @ prior.toarray())
    expected = b0 - p * (np.diag(b0) / np.diag(p))[None, :]
    got = fit_ease(x, lam, c, prior, mu)
    assert got.dtype == np.float32
    assert np.allclose(got, expected, atol=1e-5)
    assert np.all(np.diag(got) == 0.0)
    # The precomputed term and the μ = 0 path agree with plain EASE.
    assert np.allclose(_prior_term(p, reg, prior), p @ np.diag(reg) @ prior.toarray())
    assert np.allclose(_ease_from_inverse(p, reg, None, 0.0), fit_ease(x, lam, c), atol=1e-6)


def test_fallback_leaves_the_input_matrix_intact() -> None:
    rng = np.random.default_rng(3)
    m = rng.normal(size=(1500, 1500))
    sym = m + m.T
    a = sym.copy()
    out = spd_inverse(a)
    assert out is not a
    assert np.array_equal(a, sym)
