"""A user's taste as one unit vector in the encoder's space, and why a film matches it.

The vector is the weighted sum of the vectors of films the user rated:

* weight = rating - the user's mean rating, so films liked more than usual pull
  towards them and films liked less push away (a generous rater's 3.5 is a
  mild dislike). If every rating is equal there is no contrast; then each film
  gets a small weight whose sign says whether the rating was above or below
  the scale's neutral point, so a single rating still gives a vector;
* times a recency decay 0.5 ** (age / half_life), because taste drifts;
* films marked "not interested" count against with ``-not_interested_weight``.

Ranking films by cosine with this vector equals ranking by the weighted sum of
cosines with the rated films, which is what ``contributions`` decomposes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["contributions", "explain", "rating_weights", "user_vector"]

SECONDS_PER_DAY = 86_400.0
# Weight used when a user's ratings carry no contrast (all equal).
FLAT_WEIGHT = 0.1
# Neutral point of the 0.5-5 star scale: decides the sign of FLAT_WEIGHT.
NEUTRAL_RATING = 3.0
# Pseudo-ratings at NEUTRAL_RATING added to the user's mean (Bayesian shrinkage).
MEAN_SHRINKAGE = 5.0


def rating_weights(
    ratings: np.ndarray,
    *,
    timestamps: np.ndarray | None = None,
    now: float | None = None,
    half_life_days: float | None = 365.0,
) -> np.ndarray:
    """Per-film weights (float64): mean-centred ratings times recency decay.

    ``timestamps`` and ``now`` are Unix seconds; ``now`` defaults to the latest
    timestamp, so results do not depend on the wall clock. Future ratings count
    as age 0. ``half_life_days=None`` turns decay off.
    """
    r = np.asarray(ratings, dtype=np.float64).reshape(-1)
    if r.size == 0:
        return r
    # Centre on the user's mean, shrunk towards the scale's neutral point while
    # we know little: a new user who rated six films 5 and one 4 likes all seven,
    # and must not get a taste vector that mostly points away from the 4.
    baseline = (r.sum() + MEAN_SHRINKAGE * NEUTRAL_RATING) / (r.size + MEAN_SHRINKAGE)
    centred = r - baseline
    if np.all(np.abs(centred) < 1e-9):
        centred = np.where(r >= NEUTRAL_RATING, FLAT_WEIGHT, -FLAT_WEIGHT)
    if timestamps is None or half_life_days is None:
        return centred
    ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    if ts.shape != r.shape:
        raise ValueError("timestamps must align with ratings")
    reference = float(ts.max()) if now is None else float(now)
    age_days = np.maximum(reference - ts, 0.0) / SECONDS_PER_DAY
    return centred * 0.5 ** (age_days / float(half_life_days))


def _unit(v: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(v))
    return (v / norm).astype(np.float32) if norm > 1e-12 else np.zeros_like(v, dtype=np.float32)


def user_vector(
    ratings: np.ndarray,
    film_vectors: np.ndarray,
    *,
    timestamps: np.ndarray | None = None,
    now: float | None = None,
    half_life_days: float | None = 365.0,
    not_interested: np.ndarray | Sequence[np.ndarray] = (),
    not_interested_weight: float = 1.0,
) -> np.ndarray:
    """Unit taste vector (float32, d) from rated films' vectors (n, d) and "not interested" ones (m, d).

    Returns the zero vector when there is nothing to go on (or it all cancels out).
    """
    vectors = np.asarray(film_vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError("film_vectors must be 2-D (n, d)")
    weights = rating_weights(ratings, timestamps=timestamps, now=now, half_life_days=half_life_days)
    if weights.shape[0] != vectors.shape[0]:
        raise ValueError("ratings must align with the rows of film_vectors")
    total = (weights @ vectors.astype(np.float64)) if len(weights) else np.zeros(vectors.shape[1])
    dismissed = np.asarray(not_interested, dtype=np.float64)
    if dismissed.size:
        total = total - not_interested_weight * dismissed.reshape(-1, vectors.shape[1]).sum(axis=0)
    return _unit(total)


def contributions(weights: np.ndarray, film_vectors: np.ndarray, candidate_vector: np.ndarray) -> np.ndarray:
    """Each rated film's share of a candidate's score: weight * cosine(film, candidate)."""
    vectors = np.asarray(film_vectors, dtype=np.float64)
    candidate = np.asarray(candidate_vector, dtype=np.float64).reshape(-1)
    norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(candidate)
    cosines = np.divide(vectors @ candidate, norms, out=np.zeros(len(vectors)), where=norms > 1e-12)
    return np.asarray(weights, dtype=np.float64) * cosines


def explain(
    weights: np.ndarray,
    film_vectors: np.ndarray,
    candidate_vector: np.ndarray,
    top: int = 3,
) -> np.ndarray:
    """Row indices of the rated films that most raised the candidate's score, best first.

    Only positive contributions count: "because you liked X" must not cite a
    film the user disliked. May return fewer than ``top`` indices.
    """
    share = contributions(weights, film_vectors, candidate_vector)
    positive = np.flatnonzero(share > 0)
    order = np.lexsort((positive, -share[positive]))
    return positive[order][: max(top, 0)]
