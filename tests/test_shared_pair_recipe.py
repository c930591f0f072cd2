"""One fine-tuning pair recipe (``pairs.film_pairs``) for the site's chain and the offline pipeline."""

from __future__ import annotations

import numpy as np

from recommendations.ml.pairs import film_pairs
from recommendations.ml.pipeline import build_dataset, finetune_pairs
from recommendations.training import Split, training_pairs


def ratings(seed: int = 0, users: int = 50, films: int = 40, n: int = 1200) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    u = rng.integers(1, users + 1, n)
    i = rng.integers(100, 100 + films, n)  # ids that are not dense indices
    r = rng.integers(1, 11, n) / 2
    t = rng.integers(0, 10_000, n).astype(np.float64)
    return u, i, r, t


def test_recipe_budget_and_shape() -> None:
    u, i, r, t = ratings()
    texts = {m: f"film {m}" for m in range(100, 140)}
    pairs, counts = film_pairs(u, i, r, t, texts, max_pairs=200, seed=3)
    assert counts["pairs"] == len(pairs) <= 200 and counts["co_liked"] <= 100
    assert counts["co_liked"] > 0 and counts["next_liked"] > 0
    assert len(set(pairs)) == len(pairs) and all(a != b for a, b in pairs)
    assert all(a in texts.values() and b in texts.values() for a, b in pairs)  # film text on both sides
    assert film_pairs(u, i, r, t, texts, max_pairs=200, seed=3) == (pairs, counts)
    assert film_pairs(u, i, r, t, texts, max_pairs=200, seed=4)[0] != pairs


def test_site_and_pipeline_build_the_same_pairs_from_the_same_ratings() -> None:
    u, i, r, t = ratings(seed=1)
    train = np.random.default_rng(2).random(len(u)) < 0.8
    texts = {m: f"film {m}" for m in range(100, 140)}
    split = Split(u, i, r, t, train, cutoff=0.0)

    site, site_counts = training_pairs(split, texts, max_pairs=300, seed=7)
    dataset = build_dataset(u, i, r, t, {str(m): s for m, s in texts.items()})
    offline, offline_counts = finetune_pairs(dataset, np.flatnonzero(train), max_pairs=300, seed=7)

    assert site_counts == offline_counts and site_counts["pairs"] > 50
    assert site == offline
