"""Blend of content, collaborative and popularity scores at serving time.

The blend weights come from the model version (learnt on validation data by
the training chain, per user-activity bucket). Until a version carries learnt
weights, these conservative defaults apply: cold users lean on content and
popularity, active users on the collaborative model.
"""

from __future__ import annotations

import numpy as np

DEFAULT_WEIGHTS = {
    "cold": {"content": 1.0, "collab": 0.3, "popularity": 0.6},
    "warm": {"content": 0.8, "collab": 0.8, "popularity": 0.3},
    "active": {"content": 0.4, "collab": 1.0, "popularity": 0.1},
}


def activity_bucket(n_ratings: int) -> str:
    if n_ratings <= 5:
        return "cold"
    return "warm" if n_ratings <= 20 else "active"


def zscore(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - x.mean()) / std if std > 0 else np.zeros_like(x)


def blend(bundle, profile, rated_rows: np.ndarray, content: np.ndarray) -> np.ndarray:
    bucket = activity_bucket(len(rated_rows))
    weights = (bundle.blend or {}).get(bucket) or DEFAULT_WEIGHTS[bucket]
    scores = weights["content"] * zscore(content) if len(rated_rows) else np.zeros_like(content)
    if bundle.popularity is not None:
        scores = scores + weights["popularity"] * bundle.popularity
    if bundle.collab is not None and len(rated_rows):
        from recommendations.collab_store import collab_scores

        scores = scores + weights["collab"] * zscore(collab_scores(bundle, profile, rated_rows))
    return scores.astype(np.float32, copy=False)
