"""Blend of content, collaborative and popularity scores at serving time.

A version with a hybrid artifact (``hybrid_store``: content-regularised EASE + content +
popularity, blend weights per activity bucket learnt on validation) is served by it, the
same model the offline pipeline evaluates. Older versions have only a plain EASE: their
blend uses the version's ``blend_weights`` or these conservative defaults (cold users lean
on content and popularity, active users on the collaborative model).
"""

from __future__ import annotations

import numpy as np

from recommendations.ml.hybrid import activity_bucket as hybrid_activity_bucket
from recommendations.ml.hybrid import zscore_rows

DEFAULT_WEIGHTS = {
    "cold": {"content": 1.0, "collab": 0.3, "popularity": 0.6},
    "warm": {"content": 0.8, "collab": 0.8, "popularity": 0.3},
    "active": {"content": 0.4, "collab": 1.0, "popularity": 0.1},
}


BUCKET_NAMES = ("cold", "warm", "active")  # ml.hybrid.activity_bucket's 0, 1, 2: ≤5, 6–20, >20 ratings


def activity_bucket(n_ratings: int) -> str:
    return BUCKET_NAMES[int(hybrid_activity_bucket(np.array([n_ratings]))[0])]


def blend(bundle, profile, rated_rows: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Scores over the bundle's embedding rows (rated films included: the engine filters them)."""
    if bundle.hybrid is not None:
        from recommendations.hybrid_store import bundle_hybrid_scores

        return bundle_hybrid_scores(bundle, profile.movie_ids, content, rated_rows)
    bucket = activity_bucket(len(rated_rows))
    weights = (bundle.blend or {}).get(bucket) or DEFAULT_WEIGHTS[bucket]
    # Content counts whenever there is a taste, even one made of dislikes only (no rated_rows here).
    scores = weights["content"] * zscore_rows(content[None, :])[0] if np.any(content) else np.zeros_like(content)
    if bundle.popularity is not None:
        scores = scores + weights["popularity"] * bundle.popularity
    if bundle.collab is not None and len(rated_rows):
        from recommendations.collab_store import collab_scores

        scores = scores + weights["collab"] * zscore_rows(collab_scores(bundle, profile, rated_rows)[None, :])[0]
    return scores.astype(np.float32, copy=False)
