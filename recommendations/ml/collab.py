"""Collaborative item-item models on implicit feedback: EASE and sparse RP3beta.

EASE (Steck, "Embarrassingly Shallow Autoencoders", WWW 2019) solves
``min_B ||X - XB||² + λ||B||²  s.t. diag(B) = 0`` in closed form:
``P = (XᵀX + λI)⁻¹``, ``B = -P / diag(P)`` (column-wise), ``diag(B) = 0``.
It needs a dense ``n_items²`` Gram matrix and an O(n_items³) inverse.

Above ``EASE_MAX_ITEMS`` (20,000) items we switch to RP3beta (Paudel et al., 2017;
Dacrema et al., 2019): a sparse, pruned item-item random-walk similarity. Why 20k: the dense
float32 B then takes ≥1.6 GB and the float64 inverse needs ≥3.2 GB and ~8·10¹² flops
(tens of minutes on 2 cores), whereas RP3beta is a sparse product whose cost grows with the
number of co-occurrences, keeps only ``topk`` neighbours per item, and is within a few
points of EASE on MovieLens-type data (ml-100k nDCG@10: 0.44 vs 0.48).

Two well-known EASE extensions are available and validated: a popularity-proportional ridge
``Λ = λ + c·diag(G)`` (the emphasised-denoising form of EDLAE, Steck 2020) and a content
prior ``S`` (content-regularised EASE: ``+ ||Λ^½(B - μS)||²``).

A third, optional term uses *when* films were rated: films rated within a few positions of
each other in a user's time-ordered history (``temporal_cooccurrence``) get extra weight in
the Gram matrix, ``G + α·C_w``. Evaluation splits are random within each user, so held-out
films were rated in the same sessions as the user's training films, and films that other
users rate next to each other (same browsing page, same release wave) are what is missing.
Only the fitted B changes; serving still computes ``x_u @ B``. ``(w, α)`` are validated,
and α = 0 (plain EASE) always stays in the running.

Hyper-parameters left unset are chosen on a validation split carved from the *training*
interactions only (per user, 75/25, mirroring the evaluation protocol) and then used as is
on the full training data (see ``select_ease_params``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from .linalg import spd_inverse
from .metrics import per_user_ndcg, python_stratified_split, top_k_fast

__all__ = [
    "EASE_MAX_ITEMS",
    "LAMBDA_GRID",
    "POP_REG_GRID",
    "PRIOR_WEIGHT_GRID",
    "CollabModel",
    "EaseSelection",
    "as_csr",
    "carve_validation",
    "content_prior",
    "fit_collab",
    "fit_ease",
    "fit_rp3beta",
    "mask_stamps",
    "select_ease",
    "select_ease_params",
    "stamp_matrix",
    "temporal_cooccurrence",
    "temporal_grid",
]

EASE_MAX_ITEMS = 20_000
LAMBDA_GRID: tuple[float, ...] = (200.0, 400.0, 800.0)
# c in Λ = λ + c·diag(G); c > 0 is EDLAE's popularity-proportional ridge.
POP_REG_GRID: tuple[float, ...] = (0.0, 1.0, 2.0)
# μ of the content prior (content-regularised EASE); 0 keeps plain EASE in the running.
PRIOR_WEIGHT_GRID: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4)
# (window in positions, α) of the temporal co-occurrence term; one candidate for big catalogues.
TEMPORAL_GRID: tuple[tuple[int, float], ...] = ((3, 0.5), (3, 1.0), (3, 2.0), (10, 0.5), (10, 1.0), (10, 2.0))
TEMPORAL_GRID_LARGE: tuple[tuple[int, float], ...] = ((3, 1.0),)
# With the temporal term on, the validated ridge moves up (ml-100k: c = 4 to 8), so (λ, c) is
# re-searched with these c once a temporal setting wins.
TEMPORAL_POP_REG_GRID: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)

Interactions = sp.spmatrix | sp.sparray | tuple[np.ndarray, np.ndarray, np.ndarray]


def as_csr(interactions: Interactions, n_items: int, n_users: int | None = None) -> sp.csr_matrix:
    """Coerce ``CSR`` or ``(user_idx, item_idx, values)`` to a float32 CSR, summing duplicates."""
    if isinstance(interactions, tuple):
        u, i, v = (np.asarray(a) for a in interactions)
        n_u = int(u.max()) + 1 if n_users is None and u.size else (n_users or 0)
        m = sp.csr_matrix((v.astype(np.float32), (u, i)), shape=(n_u, n_items))
    else:
        m = sp.csr_matrix(interactions, dtype=np.float32)
        if m.shape[1] != n_items:
            raise ValueError(f"matrix has {m.shape[1]} columns, expected n_items={n_items}")
    m.sum_duplicates()
    m.eliminate_zeros()
    return m


def binarize(x: sp.csr_matrix) -> sp.csr_matrix:
    out = x.copy()
    out.data = np.ones_like(out.data, dtype=np.float32)
    return out


@dataclass
class CollabModel:
    """Item-item model: ``scores = X_user @ W``; W is dense (EASE) or sparse (RP3beta)."""

    kind: Literal["ease", "rp3beta"]
    n_items: int
    weights: np.ndarray | sp.csr_matrix
    params: dict[str, float] = field(default_factory=dict)

    def scores(self, user_rows: sp.spmatrix | np.ndarray) -> np.ndarray:
        """Scores for each row of a (binary) user×item history matrix; shape (n_rows, n_items).

        Seen items are *not* masked here: callers decide (the ranker removes them).
        """
        x = sp.csr_matrix(user_rows, dtype=np.float32)
        if x.shape[1] != self.n_items:
            raise ValueError(f"user rows have {x.shape[1]} columns, expected {self.n_items}")
        if self.params.get("binary", 1.0):
            x = binarize(x)
        out = x @ self.weights
        out = out.toarray() if sp.issparse(out) else np.asarray(out)
        return out.astype(np.float32, copy=False)

    def save(self, path: str | os.PathLike[str]) -> None:
        meta = {
            "kind": np.array(self.kind),
            "n_items": np.array(self.n_items),
            "param_names": np.array(list(self.params.keys()), dtype=str),
            "param_values": np.array(list(self.params.values()), dtype=np.float64),
        }
        if sp.issparse(self.weights):
            w = sp.csr_matrix(self.weights)
            np.savez_compressed(
                path,
                w_data=w.data.astype(np.float32),
                w_indices=w.indices,
                w_indptr=w.indptr,
                **meta,
            )
        else:
            np.savez(path, w_dense=np.asarray(self.weights, dtype=np.float32), **meta)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CollabModel:
        with np.load(path, allow_pickle=False) as z:
            n_items = int(z["n_items"])
            kind = str(z["kind"])
            params = dict(
                zip(
                    (str(n) for n in z["param_names"]),
                    (float(v) for v in z["param_values"]),
                    strict=True,
                )
            )
            if "w_dense" in z.files:
                weights: np.ndarray | sp.csr_matrix = z["w_dense"]
            else:
                weights = sp.csr_matrix((z["w_data"], z["w_indices"], z["w_indptr"]), shape=(n_items, n_items))
        if kind not in ("ease", "rp3beta"):
            raise ValueError(f"unknown collaborative model kind {kind!r}")
        return cls(kind=kind, n_items=n_items, weights=weights, params=params)  # type: ignore[arg-type]


def _gram(x: sp.csr_matrix, temporal: tuple[sp.spmatrix, float] | None = None) -> np.ndarray:
    """``XᵀX``, plus ``α·C`` when ``temporal = (C, α)`` is given (``temporal_cooccurrence``)."""
    g = (x.T @ x).toarray().astype(np.float64)
    if temporal is not None and temporal[1] != 0.0:
        _add_sparse(g, temporal[0], temporal[1])
    return g


def _add_sparse(g: np.ndarray, c: sp.spmatrix, alpha: float) -> np.ndarray:
    """``g += alpha·c`` in place without densifying ``c`` (a dense copy is n² floats)."""
    coo = sp.coo_matrix(c)
    coo.sum_duplicates()
    g[coo.row, coo.col] += alpha * coo.data
    return g


def stamp_matrix(users: np.ndarray, items: np.ndarray, stamps: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """User x item CSR whose values are rating times shifted to ≥ 1 (so no stored value is 0
    and masking by multiplication keeps every cell); a repeated (user, item) keeps its
    earliest time. Only the order of times within a user matters downstream."""
    u = np.asarray(users, dtype=np.int64)
    i = np.asarray(items, dtype=np.int64)
    t = np.asarray(stamps, dtype=np.float64)
    if u.size == 0:
        return sp.csr_matrix(shape, dtype=np.float64)
    t = t - t.min() + 1.0
    order = np.lexsort((t, i, u))
    u, i, t = u[order], i[order], t[order]
    first = np.ones(u.size, dtype=bool)
    first[1:] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
    return sp.csr_matrix((t[first], (u[first], i[first])), shape=shape, dtype=np.float64)


def mask_stamps(stamps: sp.csr_matrix, x: sp.spmatrix) -> sp.csr_matrix:
    """The entries of ``stamps`` on the stored cells of ``x`` (e.g. a validation fit part)."""
    out = sp.csr_matrix(sp.csr_matrix(stamps).multiply(sp.csr_matrix(x) != 0), dtype=np.float64)
    out.eliminate_zeros()
    return out


def temporal_cooccurrence(stamps: sp.csr_matrix, window: int) -> sp.csr_matrix:
    """Symmetric item x item counts: how often two films were rated within ``window``
    positions of each other in one user's time-ordered history (ties by item index).

    ``stamps`` is a user x item CSR of rating times (``stamp_matrix``). The diagonal is 0.
    """
    s = sp.csr_matrix(stamps)
    n = s.shape[1]
    coo = s.tocoo()
    order = np.lexsort((coo.col, coo.data, coo.row))
    u, i = coo.row[order], coo.col[order]
    rows, cols = [], []
    for d in range(1, max(int(window), 0) + 1):
        if d >= u.size:
            break
        same = u[d:] == u[:-d]
        a, b = i[:-d][same], i[d:][same]
        rows += [a, b]
        cols += [b, a]
    if not rows:
        return sp.csr_matrix((n, n), dtype=np.float64)
    r, c = np.concatenate(rows), np.concatenate(cols)
    out = sp.csr_matrix((np.ones(r.size), (r, c)), shape=(n, n), dtype=np.float64)
    out.setdiag(0.0)
    out.eliminate_zeros()
    return out


def content_prior(item_vectors: np.ndarray, k: int = 50, block: int = 2048) -> sp.csr_matrix:
    """Row-normalised top-k cosine neighbours of the item vectors (non-negative, no self).

    Used as the prior ``S`` of content-regularised EASE: each item's weights are pulled
    towards a distribution over its k most similar films. Computed in blocks so memory is
    O(block · n_items).
    """
    v = np.asarray(item_vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.maximum(norms, 1e-12)
    n = v.shape[0]
    k = min(k, n - 1)
    rows, cols, vals = [], [], []
    for start in range(0, n, block):
        stop = min(start + block, n)
        s = v[start:stop] @ v.T
        s[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        idx = np.argpartition(-s, k - 1, axis=1)[:, :k]
        val = np.maximum(np.take_along_axis(s, idx, axis=1), 0.0)
        # Items without a usable vector (zero rows) get no prior at all.
        val[norms[start:stop, 0] < 1e-12] = 0.0
        val /= np.maximum(val.sum(axis=1, keepdims=True), 1e-12)
        rows.append(np.repeat(np.arange(start, stop), k))
        cols.append(idx.ravel())
        vals.append(val.ravel())
    out = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    out.eliminate_zeros()
    return out.astype(np.float32)


def _ease_inverse(g: np.ndarray, lam: float, pop_reg: float, *, overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``P = (G + Λ)⁻¹`` and the diagonal ``Λ = λ + c·diag(G)``; with ``overwrite`` the
    inverse is computed in ``g``'s memory (one n² float64 array less)."""
    reg = lam + pop_reg * np.diag(g)
    a = g if overwrite else g.copy()
    a[np.diag_indices_from(a)] += reg
    return spd_inverse(a), reg


_ROW_BLOCK = 1024


def _ease_from_inverse(
    p: np.ndarray, reg: np.ndarray, prior_term: np.ndarray | None = None, prior_weight: float = 0.0
) -> np.ndarray:
    """B (float32) from P; ``prior_term`` is ``PΛS`` (precomputed so several μ cost no extra
    product). Written straight into the float32 result, block by block, so no n² float64
    temporary is made."""
    n = p.shape[0]
    dp = np.diag(p).copy()
    b = np.empty((n, n), dtype=np.float32)
    if prior_term is None or prior_weight == 0.0:
        np.divide(p, -dp[None, :], out=b)
    else:
        # B₀ = P(G + μΛS) = I - PΛ + μPΛS; subtracting P·diagMat(γ), γ = diag(B₀)/diag(P),
        # zeroes the diagonal: B = I + μPΛS - P·diagMat(Λ + γ).
        scale = reg + (1.0 - dp * reg + prior_weight * np.diag(prior_term)) / dp
        for start in range(0, n, _ROW_BLOCK):
            stop = min(start + _ROW_BLOCK, n)
            block = p[start:stop] * -scale[None, :]
            block += prior_weight * prior_term[start:stop]
            block[np.arange(stop - start), np.arange(start, stop)] += 1.0
            b[start:stop] = block
    b[np.diag_indices_from(b)] = 0.0
    return b


def _prior_term(p: np.ndarray, reg: np.ndarray, prior: sp.csr_matrix | np.ndarray) -> np.ndarray:
    """``PΛS`` as ``(SᵀΛP)ᵀ`` (P is symmetric): sparse on the left for scipy, and the
    only n² array made is the result. (Row blocks in threads were 1.6x faster but raised a
    9.7k-film hybrid fit's peak memory by ~640 MB, so the product stays single-threaded.)"""
    s = sp.csr_matrix(prior, dtype=np.float64)
    return np.asarray((s.T @ sp.diags(reg)) @ p).T


def _ease_solve(
    g: np.ndarray,
    lam: float,
    pop_reg: float = 0.0,
    prior: sp.csr_matrix | np.ndarray | None = None,
    prior_weight: float = 0.0,
) -> np.ndarray:
    """EASE with a per-item ridge ``Λ = λ + c·diag(G)`` and an optional prior ``S``; ``g``
    is overwritten (callers pass a Gram matrix they do not need again).

    Solves ``min ||X - XB||² + ||Λ^½ (B - μS)||²`` s.t. ``diag(B) = 0``:
    ``B = P(G + μΛS) - P·diagMat(γ)`` with ``P = (G + Λ)⁻¹`` and γ chosen to zero the
    diagonal. ``c > 0`` is the emphasised-denoising (EDLAE, Steck 2020) regulariser, which
    shrinks popular items harder; ``μ > 0`` is content-regularised EASE. With c = μ = 0 this
    is plain EASE: ``B = -P / diag(P)``.
    """
    p, reg = _ease_inverse(g, lam, pop_reg, overwrite=True)
    term = _prior_term(p, reg, prior) if prior is not None and prior_weight != 0.0 else None
    return _ease_from_inverse(p, reg, term, prior_weight)


def fit_ease(
    x: sp.csr_matrix,
    lam: float,
    pop_reg: float = 0.0,
    prior: sp.csr_matrix | None = None,
    prior_weight: float = 0.0,
    temporal: tuple[sp.spmatrix, float] | None = None,
) -> np.ndarray:
    """Dense EASE weights for a user×item CSR (see ``_ease_solve``); ``temporal = (C, α)``
    adds ``α·C`` to the Gram matrix (``temporal_cooccurrence``, built from ``x``'s ratings)."""
    return _ease_solve(_gram(x, temporal), lam, pop_reg, prior, prior_weight)


def fit_rp3beta(
    x: sp.csr_matrix,
    alpha: float = 1.0,
    beta: float = 0.5,
    topk: int = 200,
    block: int = 2048,
) -> sp.csr_matrix:
    """Sparse RP3beta item-item weights, keeping the ``topk`` largest per item (row).

    W_ij = (Σ_u X_ui X_uj / (deg_i · deg_u))^α / deg_j^β: a 3-step random walk
    item→user→item, with popular targets damped by β. Computed in item blocks so memory stays
    O(block · n_items).
    """
    x = binarize(x)
    deg_u = np.asarray(x.sum(axis=1)).ravel()
    deg_i = np.asarray(x.sum(axis=0)).ravel()
    p_ui = sp.diags(1.0 / np.maximum(deg_u, 1.0)) @ x  # user -> item transition
    p_iu = (sp.diags(1.0 / np.maximum(deg_i, 1.0)) @ x.T).tocsr()  # item -> user transition
    damp = np.power(np.maximum(deg_i, 1.0), -beta).astype(np.float32)
    n = x.shape[1]
    rows, cols, vals = [], [], []
    p_ui = p_ui.tocsc()
    for start in range(0, n, block):
        stop = min(start + block, n)
        w = (p_iu[start:stop] @ p_ui).toarray().astype(np.float32)
        if alpha != 1.0:
            np.power(w, alpha, out=w)
        w *= damp[None, :]
        w[np.arange(stop - start), np.arange(start, stop)] = 0.0
        k = min(topk, n - 1)
        idx = np.argpartition(-w, k - 1, axis=1)[:, :k]
        v = np.take_along_axis(w, idx, axis=1)
        keep = v > 0
        rows.append(np.repeat(np.arange(start, stop), k)[keep.ravel()])
        cols.append(idx[keep])
        vals.append(v[keep])
    w_all = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    return w_all.astype(np.float32)


def carve_validation(
    x: sp.csr_matrix, ratio: float = 0.75, seed: int = 7, filter_by: str = "user"
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Split *training* interactions into (fit, validation) CSRs, per user by default.

    Per-user holdout mirrors the evaluation protocol (each user keeps ``ratio`` of their
    history); the seed differs from the test split's so the two are not aligned.
    """
    coo = sp.coo_matrix(x)
    mask = python_stratified_split(coo.row, coo.col, ratio=ratio, filter_by=filter_by, seed=seed)
    fit = sp.csr_matrix((coo.data[mask], (coo.row[mask], coo.col[mask])), shape=x.shape)
    val = sp.csr_matrix((coo.data[~mask], (coo.row[~mask], coo.col[~mask])), shape=x.shape)
    return fit, val


def default_grid(n_items: int) -> list[tuple[float, float]]:
    """(λ, c) candidates; a single default for big catalogues, where each inverse costs O(n³).

    On a 2-core machine one EASE fit (Gram, in-place Cholesky inverse, weights) takes ~0.1 s at
    1.7k items but ~10 s at 9.7k (``benchmarks/ease_fit.py``), and a grid point costs about
    one fit, so above 5,000 items the grid would dominate training time; (400, 1) is
    mid-grid, and validation on ml-100k picked λ = 400 with c of 1 or 2.
    """
    if n_items > 5000:
        return [(400.0, 1.0)]
    return [(lam, c) for lam in LAMBDA_GRID for c in POP_REG_GRID]


def _val_ndcg(xf: sp.csr_matrix, truth: sp.csr_matrix, b: np.ndarray, k: int) -> float:
    return scores_ndcg(xf, truth, np.asarray(xf @ b), k)


def scores_ndcg(xf: sp.csr_matrix, truth: sp.csr_matrix, scores: np.ndarray, k: int) -> float:
    """Mean nDCG@k of ``scores`` (one row per row of ``xf``) against ``truth``, ``xf``'s films excluded."""
    s = np.array(scores, dtype=np.float64)
    rows = np.repeat(np.arange(xf.shape[0]), np.diff(xf.indptr))
    s[rows, xf.indices] = -np.inf
    return float(per_user_ndcg(top_k_fast(s, k), truth, k).mean())


def temporal_grid(n_items: int) -> tuple[list[tuple[int, float]], list[tuple[float, float]]]:
    """Temporal candidates ``(window, α)`` and the (λ, c) re-search used when one wins.

    Like ``default_grid``: a single candidate and no re-search above 5,000 items, where each
    inverse costs minutes.
    """
    if n_items > 5000:
        return list(TEMPORAL_GRID_LARGE), []
    return list(TEMPORAL_GRID), [(lam, c) for lam in LAMBDA_GRID for c in TEMPORAL_POP_REG_GRID]


@dataclass
class EaseSelection:
    """What ``select_ease`` chose: ``params`` and ``curve`` as ``select_ease_params`` returns
    them, and (when asked for) the chosen EASE weights fitted on the fit part."""

    params: dict[str, float]
    curve: dict[tuple[float, ...], float]
    fit_weights: np.ndarray | None = None


def select_ease_params(
    x: sp.csr_matrix, grid: list[tuple[float, float]] | None = None, **options: Any
) -> tuple[dict[str, float], dict[tuple[float, ...], float]]:
    """``select_ease``'s chosen parameters and validation curve (its options are the same)."""
    chosen = select_ease(x, grid, **options)
    return chosen.params, chosen.curve


def select_ease(
    x: sp.csr_matrix,
    grid: list[tuple[float, float]] | None = None,
    *,
    prior: sp.csr_matrix | None = None,
    prior_weights: tuple[float, ...] = PRIOR_WEIGHT_GRID,
    k: int = 10,
    seed: int = 7,
    fit_val: tuple[sp.csr_matrix, sp.csr_matrix] | None = None,
    stamps: sp.csr_matrix | None = None,
    fixed: tuple[float, float, int, float] | None = None,
    keep_weights: bool = False,
) -> EaseSelection:
    """Pick (λ, c), then the temporal term, then μ, by validation nDCG@k on a split carved
    from ``x`` (train only).

    Staged to keep it cheap: the (λ, c) grid costs one inverse each; with ``stamps`` (a user
    x item CSR of rating times covering at least the fit part, see ``stamp_matrix``), each
    ``(window, α)`` of ``temporal_grid`` is tried at the chosen (λ, c), its co-occurrences
    counted on the *fit* part only, and if one wins, (λ, c) is searched again with it; the
    prior weights then reuse the winner's inverse. Returns the chosen parameters
    (``temporal_window`` and ``temporal_weight`` are 0 when the temporal term lost) and the
    validation curve keyed by (λ, c, μ) or (λ, c, μ, window, α). λ is used as validated on
    the full data, not rescaled by the data size: in ridge terms the optimal λ is a
    noise-to-prior variance ratio, which does not grow with the number of users (rescaling
    by nnz was tried and lost on ml-100k).

    ``fixed``: ``(λ, c, window, α)`` already chosen on this same split (by an earlier call, e.g.
    with other content vectors): the (λ, c) and temporal search is skipped and only μ is
    validated, from one inverse. ``search_seconds`` in the result is the time the search took
    (0 when skipped): what such a later call saves.

    ``keep_weights``: also return the chosen weights fitted on the fit part (what
    ``fit_ease`` on it would give), made from the inverse this search computes anyway, so a
    caller that needs them saves an n³ inverse.
    """
    started = time.perf_counter()
    x = sp.csr_matrix(x, dtype=np.float32)
    fit, val = fit_val if fit_val is not None else carve_validation(x, seed=seed)
    grid = grid or default_grid(x.shape[1])
    g = _gram(fit)
    users = np.flatnonzero((np.diff(val.indptr) > 0) & (np.diff(fit.indptr) > 0))
    xf = sp.csr_matrix(fit[users])
    truth = binarize(sp.csr_matrix(val[users]))
    curve: dict[tuple[float, ...], float] = {}
    best_key: tuple[float, ...] | None = None

    def trial(key: tuple[float, ...], gram: np.ndarray, lam: float, c: float, *, overwrite: bool = False) -> None:
        # The winner's inverse is not kept (an n² array per candidate): the prior stage
        # recomputes it once.
        nonlocal best_key
        if key in curve:
            return
        p, reg = _ease_inverse(gram, lam, c, overwrite=overwrite)
        curve[key] = _val_ndcg(xf, truth, _ease_from_inverse(p, reg), k)
        if best_key is None or curve[key] > curve[best_key]:
            best_key = key

    window, alpha = 0, 0.0
    counts: dict[int, sp.csr_matrix] = {}
    g_has_term = False  # whether g already holds the winning temporal term
    if fixed is not None:
        lam0, c0, w0, a0 = fixed
        best_key = (lam0, c0, 0.0)
        if stamps is not None and w0 > 0 and a0 > 0:
            window, alpha, best_key = int(w0), float(a0), (lam0, c0, 0.0, float(w0), float(a0))
            g, g_has_term = _add_sparse(g, temporal_cooccurrence(mask_stamps(stamps, fit), window), alpha), True
    for lam, c in grid if fixed is None else ():
        trial((lam, c, 0.0), g, lam, c)
    assert best_key is not None
    if stamps is not None and fixed is None:
        fit_stamps = mask_stamps(stamps, fit)
        candidates, regrid = temporal_grid(x.shape[1])
        lam0, c0 = best_key[0], best_key[1]
        for w, a in candidates:
            counts.setdefault(w, temporal_cooccurrence(fit_stamps, w))
            trial((lam0, c0, 0.0, float(w), a), _add_sparse(g.copy(), counts[w], a), lam0, c0, overwrite=True)
        if len(best_key) == 5:
            window, alpha = int(best_key[3]), float(best_key[4])
            if regrid:
                # Plain g is not needed again: it takes the winning term in place.
                g, g_has_term = _add_sparse(g, counts[window], alpha), True
                for lam, c in regrid:
                    trial((lam, c, 0.0, float(window), alpha), g, lam, c)
    best = best_key
    search_seconds = time.perf_counter() - started if fixed is None else 0.0
    with_prior = prior is not None and any(mu != 0.0 for mu in prior_weights)
    term: np.ndarray | None = None
    if with_prior or best_key not in curve or keep_weights:
        if len(best) == 5 and not g_has_term:
            g = _add_sparse(g, counts[window], alpha)
        p, reg = _ease_inverse(g, best[0], best[1], overwrite=True)
        del g
        if best_key not in curve:  # fixed: μ = 0 is scored from the same inverse
            curve[best_key] = _val_ndcg(xf, truth, _ease_from_inverse(p, reg), k)
    if with_prior:
        assert prior is not None
        term = _prior_term(p, reg, prior)
        for mu in prior_weights:
            if mu != 0.0:
                key = (best[0], best[1], mu, *best[3:])
                curve[key] = _val_ndcg(xf, truth, _ease_from_inverse(p, reg, term, mu), k)
                if curve[key] > curve[best_key]:
                    best_key = key
    fit_weights = None
    if keep_weights:
        mu = best_key[2]
        fit_weights = _ease_from_inverse(p, reg, term, mu)
    params = {
        "lam": best_key[0],
        "pop_reg": best_key[1],
        "prior_weight": best_key[2],
        "temporal_window": float(window),
        "temporal_weight": alpha,
        "val_ndcg": curve[best_key],
        "search_seconds": search_seconds,
    }
    return EaseSelection(params, curve, fit_weights)


def fit_collab(
    interactions: Interactions,
    n_items: int,
    *,
    lam: float | None = None,
    pop_reg: float | None = None,
    prior: sp.csr_matrix | None = None,
    prior_weight: float | None = None,
    kind: Literal["auto", "ease", "rp3beta"] = "auto",
    binary: bool = True,
    rp3_alpha: float = 1.0,
    rp3_beta: float = 0.5,
    rp3_topk: int = 200,
    seed: int = 7,
) -> CollabModel:
    """Fit the collaborative model; EASE up to ``EASE_MAX_ITEMS`` items, else RP3beta.

    EASE hyper-parameters left as ``None`` are chosen on a validation split carved from
    ``interactions`` (see ``select_ease_params``): λ, the popularity-proportional ridge
    ``pop_reg`` and, when a content ``prior`` (item×item, e.g. ``content_prior``) is given,
    its weight. ``binary=True`` treats any interaction as a positive, which is what the
    "did the user watch it" protocol rewards; ``binary=False`` feeds the values to EASE.
    """
    x = as_csr(interactions, n_items)
    xin = binarize(x) if binary else x
    if kind == "auto":
        kind = "ease" if n_items <= EASE_MAX_ITEMS else "rp3beta"
    if kind == "ease":
        params: dict[str, float] = {"binary": float(binary)}
        if lam is None or pop_reg is None or (prior is not None and prior_weight is None):
            grid = None
            if lam is not None or pop_reg is not None:
                lams = (lam,) if lam is not None else LAMBDA_GRID
                cs = (pop_reg,) if pop_reg is not None else POP_REG_GRID
                grid = [(a, b) for a in lams for b in cs]
            mus = (prior_weight,) if prior_weight is not None else PRIOR_WEIGHT_GRID
            grid = grid or default_grid(n_items)
            if len(grid) == 1 and len(mus) == 1:  # nothing to choose: skip the validation fit
                chosen = {"lam": grid[0][0], "pop_reg": grid[0][1], "prior_weight": mus[0], "val_ndcg": float("nan")}
            else:
                chosen, _ = select_ease_params(xin, grid, prior=prior, prior_weights=mus, seed=seed)
            if lam is None:
                lam = chosen["lam"]
            pop_reg = chosen["pop_reg"]
            prior_weight = chosen["prior_weight"]
            params["val_ndcg"] = chosen["val_ndcg"]
        pop_reg = float(pop_reg or 0.0)
        prior_weight = float(prior_weight or 0.0) if prior is not None else 0.0
        params.update({"lam": float(lam), "pop_reg": pop_reg, "prior_weight": prior_weight})
        weights = fit_ease(xin, float(lam), pop_reg, prior, prior_weight)
        return CollabModel("ease", n_items, weights, params)
    w = fit_rp3beta(x, alpha=rp3_alpha, beta=rp3_beta, topk=rp3_topk)
    return CollabModel(
        "rp3beta",
        n_items,
        w,
        {"binary": 1.0, "alpha": rp3_alpha, "beta": rp3_beta, "topk": float(rp3_topk)},
    )
