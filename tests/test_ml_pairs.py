"""Training-pair builders: correct "liked", time order, caps, determinism."""

from __future__ import annotations

import numpy as np

from recommendations.ml.pairs import co_liked_pairs, history_next_pairs, liked_mask

TEXTS = {i: f"film{i}" for i in range(1, 40)}


def ratings_table(rows: list[tuple[int, int, float, int]]) -> tuple[np.ndarray, ...]:
    u, i, r, t = zip(*rows)
    return np.array(u), np.array(i), np.array(r, dtype=float), np.array(t)


def random_ratings(seed: int, users: int = 60, items: int = 39, n: int = 1500) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    u = rng.integers(1, users + 1, n)
    i = rng.integers(1, items + 1, n)
    r = rng.integers(1, 11, n) / 2
    t = rng.integers(0, 10_000, n)
    return u, i, r, t


def test_liked_means_above_own_mean_and_absolute_bar() -> None:
    u, _, r, _ = ratings_table(
        [
            (1, 1, 5, 0),
            (1, 2, 4, 0),
            (1, 3, 3, 0),
            (2, 1, 3.5, 0),
            (2, 2, 3.5, 0),
            (3, 1, 3, 0),
        ]
    )
    # user 1 mean 4: likes 5 and 4; user 2 all equal at 3.5: likes both; user 3's lone 3 is below 3.5.
    assert liked_mask(u, r).tolist() == [True, True, False, True, True, False]
    assert liked_mask(np.zeros(0), np.zeros(0)).size == 0


def test_history_next_follows_time_order() -> None:
    rows = [(1, 3, 5, 30), (1, 1, 5, 10), (1, 9, 1, 15), (1, 2, 4.5, 20), (1, 4, 5, 40)]
    u, i, r, t = ratings_table(rows)
    pairs = set(history_next_pairs(u, i, r, t, TEXTS, history=2, prefix=""))
    # liked in time order: 1, 2, 3, 4 (9 is disliked and never appears).
    assert pairs == {
        ("film1", "film2"),
        ("film1; film2", "film3"),
        ("film2; film3", "film4"),
    }


def test_history_uses_short_texts_and_min_history() -> None:
    u, i, r, t = ratings_table([(1, 1, 5, 1), (1, 2, 5, 2), (1, 3, 5, 3)])
    short = {k: f"F{k}" for k in TEXTS}
    pairs = history_next_pairs(u, i, r, t, TEXTS, history_texts=short, min_history=2)
    assert pairs == [("Recently liked: F1; F2", "film3")]


def test_history_skips_items_without_text_and_never_mixes_users() -> None:
    u, i, r, t = ratings_table([(1, 1, 5, 1), (1, 99, 5, 2), (2, 2, 5, 3), (2, 3, 5, 4)])
    pairs = history_next_pairs(u, i, r, t, TEXTS, prefix="")
    assert pairs == [("film2", "film3")]


def test_history_caps_and_determinism() -> None:
    u, i, r, t = random_ratings(0)
    a = history_next_pairs(u, i, r, t, TEXTS, max_pairs=50, seed=1)
    assert a == history_next_pairs(u, i, r, t, TEXTS, max_pairs=50, seed=1)
    assert len(a) == 50
    assert a != history_next_pairs(u, i, r, t, TEXTS, max_pairs=50, seed=2)
    capped = history_next_pairs(u, i, r, t, TEXTS, max_per_user=1)
    assert len(capped) <= len(np.unique(u))
    everything = history_next_pairs(u, i, r, t, TEXTS, max_per_user=None)
    assert len(everything) >= len(history_next_pairs(u, i, r, t, TEXTS, max_per_user=3))


def test_co_liked_requires_shared_users() -> None:
    rows = [
        (1, 1, 5, 0),
        (1, 2, 5, 0),
        (2, 1, 5, 0),
        (2, 2, 5, 0),
        (3, 1, 5, 0),
        (3, 3, 5, 0),
    ]
    u, i, r, _ = ratings_table(rows)
    pairs = co_liked_pairs(u, i, r, TEXTS)
    assert [tuple(sorted(p)) for p in pairs] == [("film1", "film2")]  # 1-3 shared by one user only
    assert len(co_liked_pairs(u, i, r, TEXTS, min_common=1)) == 2


def test_co_liked_caps_and_determinism() -> None:
    u, i, r, _ = random_ratings(5, users=200, n=4000)
    pairs = co_liked_pairs(u, i, r, TEXTS, max_per_item=3, seed=7)
    assert pairs == co_liked_pairs(u, i, r, TEXTS, max_per_item=3, seed=7)
    counts: dict[str, int] = {}
    for a, b in pairs:
        assert a != b
        counts[a] = counts.get(a, 0) + 1
        counts[b] = counts.get(b, 0) + 1
    assert max(counts.values()) <= 3
    assert len(co_liked_pairs(u, i, r, TEXTS, max_pairs=5)) == 5
    assert co_liked_pairs(u[:0], i[:0], r[:0], TEXTS) == []


def test_repeated_ratings_never_pair_a_film_with_itself() -> None:
    u, i, r, t = ratings_table([(1, 1, 5, 1), (1, 2, 5, 2), (1, 1, 5, 3), (2, 1, 5, 1), (2, 2, 5, 1)])
    assert history_next_pairs(u, i, r, t, TEXTS, prefix="") == [("film1", "film2")] * 2
    assert all(a != b for a, b in co_liked_pairs(u, i, r, TEXTS, min_common=1))
