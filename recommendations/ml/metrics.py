"""Ranking metrics and the stratified split of Microsoft Recommenders, in numpy.

These reproduce ``recommenders.evaluation.python_evaluation`` (``relevancy_method="top_k"``)
and ``recommenders.datasets.python_splitters.python_stratified_split`` exactly, so that our
numbers are comparable with the published MovieLens benchmark without pulling pandas into
the serving stack:

* every test interaction is relevant (binary relevance);
* a user counts if they have at least one test item (``common users`` with predictions);
* Precision@k divides hits by k even when the user has fewer than k relevant items;
* nDCG@k is binary: DCG over the top-k hits, IDCG over ``min(k, n_relevant)`` ideal ranks;
* MAP is the Spark-MLlib flavour (``recommenders.evaluation.python_evaluation.map``): the sum
  of precisions at the ranks of the top-k hits, divided by *all* relevant items of the user.

Rankings are given as an ``(n_users, k)`` int array of item indices, padded with ``-1``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = [
    "RankingMetrics",
    "map_at_k",
    "ndcg_at_k",
    "per_user_ndcg",
    "precision_at_k",
    "python_stratified_split",
    "ranking_metrics",
    "recall_at_k",
    "top_k",
    "top_k_fast",
]


def python_stratified_split(
    users: np.ndarray,
    items: np.ndarray,
    ratio: float = 0.75,
    filter_by: str = "item",
    seed: int = 42,
) -> np.ndarray:
    """Return a boolean train mask reproducing ``python_stratified_split``.

    Rows must be in the order the reference reads them (file order of ``u.data``). The
    reference draws ``np.random.seed(seed); np.random.rand(n)`` over all rows, sorts by
    ``(group, random)`` and keeps the first ``round(ratio * group_size)`` rows of each group
    in train, with numpy's round-half-to-even.
    """
    if filter_by not in ("user", "item"):
        raise ValueError("filter_by must be 'user' or 'item'")
    if not 0.0 < ratio < 1.0:
        raise ValueError("ratio must be in (0, 1)")
    groups = np.asarray(items if filter_by == "item" else users)
    n = groups.shape[0]
    rand = np.random.RandomState(seed).rand(n)
    order = np.lexsort((rand, groups))
    sorted_groups = groups[order]
    # Start of each group in sorted order, then rank (1-based) within the group.
    starts = np.r_[0, np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 1]
    sizes = np.diff(np.r_[starts, n])
    group_start = np.repeat(starts, sizes)
    rank = np.arange(n) - group_start + 1
    cutoff = np.round(ratio * np.repeat(sizes, sizes))
    train = np.zeros(n, dtype=bool)
    train[order] = rank <= cutoff
    return train


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Top-k item indices per row, best first, with ties broken by lower item index.

    ``exclude`` (same shape, CSR) masks already-seen items. Rows with fewer than k eligible
    items are padded with -1. The stable tie-break matches the reference, which sorts the
    prediction frame (listed in item order) with a stable multi-key sort.
    """
    s = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None:
        ex = sp.csr_matrix(exclude)
        rows = np.repeat(np.arange(ex.shape[0]), np.diff(ex.indptr))
        s[rows, ex.indices] = -np.inf
    n_items = s.shape[1]
    k_eff = min(k, n_items)
    if n_items > 4 * k_eff:
        # Keep a generous candidate set so boundary ties rarely change the result.
        part = np.argpartition(-s, k_eff - 1, axis=1)[:, :k_eff]
        kth = np.take_along_axis(s, part, axis=1).min(axis=1, keepdims=True)
        cand_mask = s >= kth
        out = np.full((s.shape[0], k), -1, dtype=np.int64)
        for u in range(s.shape[0]):
            cand = np.flatnonzero(cand_mask[u])
            cand = cand[np.argsort(-s[u, cand], kind="stable")][:k_eff]
            out[u, : cand.size] = cand
    else:
        order = np.argsort(-s, axis=1, kind="stable")[:, :k_eff]
        out = np.full((s.shape[0], k), -1, dtype=np.int64)
        out[:, :k_eff] = order
    picked = np.take_along_axis(s, np.maximum(out, 0), axis=1)
    out[(out < 0) | ~np.isfinite(picked)] = -1
    return out


def top_k_fast(scores: np.ndarray, k: int) -> np.ndarray:
    """Top-k per row without exact tie handling: for model selection, not for reporting."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def _hits(ranked: np.ndarray, truth: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean hit matrix (n_users, k) and the number of relevant items per user."""
    truth = sp.csr_matrix(truth)
    truth.eliminate_zeros()
    ranked = np.asarray(ranked)[:, :k]
    if ranked.shape[0] != truth.shape[0]:
        raise ValueError("ranked and truth must have the same number of rows")
    # Vectorised lookup of (user, item) pairs in the sparse truth matrix.
    rows = np.repeat(np.arange(ranked.shape[0]), ranked.shape[1])
    cols = ranked.ravel()
    valid = cols >= 0
    flat = np.zeros(cols.size, dtype=bool)
    if valid.any():
        flat[valid] = np.asarray(truth[rows[valid], cols[valid]]).ravel() != 0
    hits = flat.reshape(ranked.shape)
    n_rel = np.diff(truth.indptr).astype(np.float64)
    return hits, n_rel


def _users(n_rel: np.ndarray, user_mask: np.ndarray | None) -> np.ndarray:
    # Users with no test item are not part of the reference's "common users".
    mask = n_rel > 0
    if user_mask is not None:
        mask &= np.asarray(user_mask, dtype=bool)
    return mask


def precision_at_k(ranked: np.ndarray, truth: sp.csr_matrix, k: int = 10, user_mask: np.ndarray | None = None) -> float:
    hits, n_rel = _hits(ranked, truth, k)
    m = _users(n_rel, user_mask)
    return float(hits[m].sum(axis=1).mean() / k) if m.any() else 0.0


def recall_at_k(ranked: np.ndarray, truth: sp.csr_matrix, k: int = 10, user_mask: np.ndarray | None = None) -> float:
    hits, n_rel = _hits(ranked, truth, k)
    m = _users(n_rel, user_mask)
    return float((hits[m].sum(axis=1) / n_rel[m]).mean()) if m.any() else 0.0


def _ndcg_per_user(hits: np.ndarray, n_rel: np.ndarray, k: int) -> np.ndarray:
    disc = 1.0 / np.log(np.arange(2, k + 2, dtype=np.float64))
    dcg = (hits * disc[: hits.shape[1]]).sum(axis=1)
    ideal_cum = np.r_[0.0, np.cumsum(disc)]
    idcg = ideal_cum[np.minimum(n_rel, k).astype(np.int64)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(idcg > 0, dcg / idcg, 0.0)


def ndcg_at_k(ranked: np.ndarray, truth: sp.csr_matrix, k: int = 10, user_mask: np.ndarray | None = None) -> float:
    hits, n_rel = _hits(ranked, truth, k)
    m = _users(n_rel, user_mask)
    return float(_ndcg_per_user(hits, n_rel, k)[m].mean()) if m.any() else 0.0


def _ap_per_user(hits: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    ranks = np.arange(1, hits.shape[1] + 1, dtype=np.float64)
    prec_at_hit = np.cumsum(hits, axis=1) / ranks
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, (prec_at_hit * hits).sum(axis=1) / n_rel, 0.0)


def map_at_k(ranked: np.ndarray, truth: sp.csr_matrix, k: int = 10, user_mask: np.ndarray | None = None) -> float:
    """Spark-style MAP over the top-k list, normalised by all of the user's relevant items."""
    hits, n_rel = _hits(ranked, truth, k)
    m = _users(n_rel, user_mask)
    return float(_ap_per_user(hits, n_rel)[m].mean()) if m.any() else 0.0


@dataclass(frozen=True)
class RankingMetrics:
    ndcg: float
    precision: float
    recall: float
    map: float
    n_users: int

    def as_dict(self) -> dict[str, float]:
        return {
            "ndcg": self.ndcg,
            "precision": self.precision,
            "recall": self.recall,
            "map": self.map,
            "n_users": float(self.n_users),
        }


def ranking_metrics(ranked: np.ndarray, truth: sp.csr_matrix, k: int = 10, user_mask: np.ndarray | None = None) -> RankingMetrics:
    """All four metrics in one pass (same definitions as the single-metric functions)."""
    hits, n_rel = _hits(ranked, truth, k)
    m = _users(n_rel, user_mask)
    if not m.any():
        return RankingMetrics(0.0, 0.0, 0.0, 0.0, 0)
    h, r = hits[m], n_rel[m]
    return RankingMetrics(
        ndcg=float(_ndcg_per_user(h, r, k).mean()),
        precision=float(h.sum(axis=1).mean() / k),
        recall=float((h.sum(axis=1) / r).mean()),
        map=float(_ap_per_user(h, r).mean()),
        n_users=int(m.sum()),
    )


def per_user_ndcg(ranked: np.ndarray, truth: sp.csr_matrix, k: int = 10) -> np.ndarray:
    """nDCG@k per user (0 for users without relevant items); used to learn blend weights."""
    hits, n_rel = _hits(ranked, truth, k)
    return _ndcg_per_user(hits, n_rel, k)
