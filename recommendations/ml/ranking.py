"""Top-k selection over a whole catalogue without a Python loop over films.

``argpartition`` finds the k best in O(n) and only those k are sorted. Ties are
broken by the lower row index, so the result equals a stable full sort
(``np.argsort(-scores, kind="stable")``) exactly, which the tests check.
NaN scores count as -inf; excluded rows (already seen, hidden) are never returned.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rank", "top_k"]


def _smallest_k(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k smallest values, ordered by (value, index)."""
    n = values.shape[0]
    if k >= n:
        return np.argsort(values, kind="stable")
    part = np.argpartition(values, k - 1)[:k]
    threshold = values[part].max()
    # argpartition picks arbitrary members of a tie at the boundary; keep the lowest indices.
    below = np.flatnonzero(values < threshold)
    tied = np.flatnonzero(values == threshold)[: k - below.size]
    chosen = np.concatenate([below, tied])
    return chosen[np.lexsort((chosen, values[chosen]))]


def top_k(scores: np.ndarray, k: int, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k highest-scoring rows not in ``exclude``: (indices, scores), best first.

    Returns fewer than k when fewer rows are available. ``scores`` is not modified.
    """
    scores = np.asarray(scores)
    if scores.ndim != 1:
        raise ValueError("scores must be 1-D")
    candidates: np.ndarray | None = None
    values = scores
    if exclude is not None and np.size(exclude):
        keep = np.ones(scores.shape[0], dtype=bool)
        keep[np.asarray(exclude, dtype=np.intp).reshape(-1)] = False
        candidates = np.flatnonzero(keep)
        values = scores[candidates]
    k = min(max(int(k), 0), values.shape[0])
    if k == 0:
        return np.zeros(0, dtype=np.intp), scores[:0].copy()
    negated = -values
    negated[np.isnan(negated)] = np.inf
    picked = _smallest_k(negated, k)
    indices = picked if candidates is None else candidates[picked]
    return indices.astype(np.intp, copy=False), scores[indices]


def rank(
    user_vec: np.ndarray,
    film_matrix: np.ndarray,
    exclude: np.ndarray | None = None,
    k: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Films by cosine with a unit ``user_vec`` (rows of ``film_matrix`` are unit vectors).

    A zero user vector scores every film 0, which yields the lowest row
    indices: callers should fall back (e.g. to popularity) before ranking.
    """
    scores = np.asarray(film_matrix) @ np.asarray(user_vec, dtype=np.asarray(film_matrix).dtype)
    return top_k(scores, k, exclude)
