"""A low-rank item x item term from implicit ALS, added to EASE's weights.

EASE is full-rank and learns pairwise item relations; a low-rank factor model captures the
broad taste directions it misses, and the two blend well (on ML-100K, validation nDCG@10
0.2695 -> 0.2771 for temporal EASE; ``docs/quality-experiments.md``).

iALS (Hu et al. 2008) with a frequency-scaled ridge (Rendle et al. 2022) learns item factors
V. Serving iALS itself needs a k x k solve per user (fold-in). Here the user's system matrix
is replaced by the average user's, which makes the score linear in the user's history:
``x · B_lr`` with ``B_lr = (1 + w0) V A⁻¹ Vᵀ``. ``B_lr`` is added to EASE's ``B`` with a
validated weight, so serving stays one item x item matrix product.

GF-CF's ideal low-pass filter (Shen et al. 2021) is a second, deterministic low-rank term:
``D^-1/2 U_k U_kᵀ D^1/2``, U_k the top k right singular vectors of the degree-normalised
``D_u^-1/2 X D^-1/2``. Added on top of the iALS term with a small validated weight, it was
chosen by validation on all nine ML-100K splits tried, raised test nDCG@10 on seven (by up to
0.0035) and left two unchanged (``docs/quality-experiments.md``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

__all__ = [
    "LOWPASS_GRID",
    "LOWPASS_WEIGHTS",
    "LOWRANK_GRID",
    "LOWRANK_WEIGHTS",
    "add_lowrank",
    "ials_item_factors",
    "lowpass_basis",
    "lowpass_from_basis",
    "lowpass_grid",
    "lowpass_weights",
    "lowrank_grid",
    "lowrank_weights",
    "spread_ratio",
]

# (factors, w0 = weight of every unobserved cell, ridge), validated like EASE's λ.
# 128 factors cost 6x the time of 64 on ML-100K and validated no better.
LOWRANK_GRID: tuple[tuple[int, float, float], ...] = ((64, 0.1, 0.01), (64, 0.1, 0.03), (64, 0.1, 0.1))
LOWRANK_GRID_LARGE: tuple[tuple[int, float, float], ...] = ((64, 0.1, 0.03),)
# Weight of B_lr relative to B, in units of their scores' spreads; 0 (EASE alone) is a candidate.
LOWRANK_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)
IALS_ITERS = 8
# Singular vectors kept by the low-pass term, and its weights (in spread units; 0 is a candidate).
LOWPASS_GRID: tuple[int, ...] = (32, 64)
LOWPASS_GRID_LARGE: tuple[int, ...] = (64,)
LOWPASS_WEIGHTS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
_OUTER_BYTES = 256 * 2**20  # above this, per-row Grams are summed row by row instead of by one product


def lowrank_grid(n_items: int) -> list[tuple[int, float, float]]:
    """Candidates; one above 5,000 items, where every fit costs tens of seconds (as ``default_grid``)."""
    return list(LOWRANK_GRID_LARGE if n_items > 5000 else LOWRANK_GRID)


def lowpass_grid(n_items: int) -> list[int]:
    """Candidate ranks, as ``lowrank_grid``: one above 5,000 items."""
    return list(LOWPASS_GRID_LARGE if n_items > 5000 else LOWPASS_GRID)


def lowpass_basis(x: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(U_kᵀ, D^1/2)``: the top k right singular vectors of the degree-normalised ``x`` and the
    root item degrees; ``None`` when ``x`` is too small for k singular vectors."""
    x = sp.csr_matrix(x, dtype=np.float64)
    k = min(k, min(x.shape) - 1)
    if k < 1 or x.nnz == 0:
        return None
    du = np.maximum(np.asarray(x.sum(axis=1)).ravel(), 1.0)
    di = np.maximum(np.asarray(x.sum(axis=0)).ravel(), 1.0)
    norm = sp.diags(1.0 / np.sqrt(du)) @ x @ sp.diags(1.0 / np.sqrt(di))
    # A fixed start vector makes ARPACK, and so the term, the same on every run.
    _, _, vt = svds(norm, k=k, v0=np.full(min(x.shape), 1.0 / np.sqrt(min(x.shape))))
    return vt, np.sqrt(di)


def lowpass_from_basis(basis: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    vt, root = basis
    return ((vt.T / root[:, None]) @ (vt * root[None, :])).astype(np.float32)


def lowpass_weights(x: sp.csr_matrix, k: int) -> np.ndarray | None:
    """GF-CF's ideal low-pass term ``D^-1/2 U_k U_kᵀ D^1/2`` (float32), D the items' degrees;
    ``None`` when ``x`` is too small for k singular vectors."""
    basis = lowpass_basis(x, k)
    return lowpass_from_basis(basis) if basis is not None else None


def _solve_side(m: sp.csr_matrix, y: np.ndarray, w0: float, reg: float, block: int = 256) -> np.ndarray:
    """Each row's factor: ``(w0 YᵀY + Σ_{i∈row} y_i y_iᵀ + reg (n_row + w0 n) I)⁻¹ (1 + w0) Σ_{i∈row} y_i``."""
    n, k = y.shape
    g = w0 * (y.T @ y)
    rhs = (1.0 + w0) * np.asarray(m @ y)
    counts = np.diff(m.indptr)
    outer = None
    if n * k * k * 8 <= _OUTER_BYTES:
        outer = np.einsum("ni,nj->nij", y, y).reshape(n, k * k)
    out = np.zeros((m.shape[0], k))
    eye = np.eye(k)
    for start in range(0, m.shape[0], block):
        stop = min(start + block, m.shape[0])
        rows = np.arange(start, stop)
        rows = rows[counts[rows] > 0]
        if rows.size == 0:
            continue
        if outer is not None:
            grams = np.asarray(m[rows] @ outer).reshape(rows.size, k, k)
        else:
            grams = np.stack([y[m.indices[m.indptr[r] : m.indptr[r + 1]]].T @ y[m.indices[m.indptr[r] : m.indptr[r + 1]]] for r in rows])
        a = g[None] + grams + (reg * (counts[rows] + w0 * n))[:, None, None] * eye[None]
        out[rows] = np.linalg.solve(a, rhs[rows][:, :, None])[:, :, 0]
    return out


def ials_item_factors(x: sp.csr_matrix, k: int, w0: float, reg: float, iters: int = IALS_ITERS, seed: int = 0) -> np.ndarray:
    """Item factors (n_items, k) of implicit ALS on the binary user x item ``x``.

    Observed cells are pulled to 1 with weight 1 + w0, every cell to 0 with weight w0; each
    row's ridge grows with its number of observed cells plus w0 times the other side's size.
    """
    x = sp.csr_matrix(x, dtype=np.float64)
    xt = sp.csr_matrix(x.T)
    rng = np.random.default_rng(seed)
    v = rng.normal(0.0, 0.1 / np.sqrt(k), (x.shape[1], k))
    for _ in range(iters):
        u = _solve_side(x, v, w0, reg)
        v = _solve_side(xt, u, w0, reg)
    return v


def lowrank_weights(x: sp.csr_matrix, v: np.ndarray, w0: float, reg: float) -> np.ndarray:
    """``B_lr = (1 + w0) V A⁻¹ Vᵀ`` (float32), A the average user's iALS system matrix."""
    x = sp.csr_matrix(x)
    n_users, n_items = x.shape
    share = np.asarray(x.sum(axis=0)).ravel() / max(n_users, 1)  # how often each item is in a history
    mean_count = x.nnz / max(n_users, 1)
    a = w0 * (v.T @ v) + v.T @ (v * share[:, None]) + reg * (mean_count + w0 * n_items) * np.eye(v.shape[1])
    left = (1.0 + w0) * np.linalg.solve(a, v.T).T  # V A⁻¹ (A is symmetric)
    return (left @ v.T).astype(np.float32)


def spread_ratio(scores_b: np.ndarray, scores_lr: np.ndarray) -> float:
    """Standard deviation of ``x·B`` over that of ``x·B_lr`` (0 when the latter is flat): the
    factor that makes a blend weight free of the two scales."""
    spread_lr = float(scores_lr.std())
    return float(scores_b.std()) / spread_lr if spread_lr > 1e-12 else 0.0


def add_lowrank(b: np.ndarray, x: sp.csr_matrix, lr: np.ndarray, weight: float) -> np.ndarray:
    """``b += weight · spread_ratio · lr`` in place, the spreads taken over ``x``'s users."""
    if weight == 0.0:
        return b
    xs = sp.csr_matrix(x, dtype=np.float32)
    b += np.float32(weight * spread_ratio(np.asarray(xs @ b), np.asarray(xs @ lr))) * lr
    return b
