"""Build contrastive training pairs from the collaborative signal (ratings).

Why: zero-shot MiniLM similarity barely ranks anyone's next film (nDCG@10
0.037 vs 0.48 for EASE on ML-100K, shared/docs/quality-baselines.md), because
people's next films are not textually like their past ones. Fine-tuning on
pairs that encode *behaviour* teaches the encoder what goes together for
viewers rather than what reads alike.

* ``history_next_pairs``: (summary of a user's recent liked films -> the next
  film they liked). This is the serving task itself, ranking a user's next film
  from their history, so it is the primary signal.
* ``co_liked_pairs``: (film A, film B) liked by the same users, scored by
  co-like count normalised by popularity, so that related films cluster even
  for items with little text overlap. Useful for "more like this" and cold items.

"Liked" means rating >= the user's own mean and >= ``min_rating`` (3.5): the
user-relative bar removes generous raters' bias, the absolute bar keeps a harsh
rater's least-bad films out. Everything is pure numpy, deterministic given
``seed``, and capped by ``max_pairs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise

import numpy as np

__all__ = ["co_liked_pairs", "film_pairs", "history_next_pairs", "liked_mask"]

Pair = tuple[str, str]


def _as_arrays(*arrays: np.ndarray) -> list[np.ndarray]:
    out = [np.asarray(a) for a in arrays]
    n = len(out[0])
    if any(a.ndim != 1 or len(a) != n for a in out):
        raise ValueError("ratings arrays must be 1-D and of equal length")
    return out


def liked_mask(user_ids: np.ndarray, ratings: np.ndarray, min_rating: float = 3.5) -> np.ndarray:
    """True where a rating is >= its user's mean rating and >= ``min_rating``."""
    user_ids, ratings = _as_arrays(user_ids, ratings)
    if len(ratings) == 0:
        return np.zeros(0, dtype=bool)
    _, inverse = np.unique(user_ids, return_inverse=True)
    ratings = ratings.astype(np.float64)
    means = np.bincount(inverse, weights=ratings) / np.bincount(inverse)
    # A tiny tolerance so a user whose ratings are all equal still likes them.
    return (ratings >= means[inverse] - 1e-9) & (ratings >= min_rating)


def _known(item_ids: np.ndarray, texts: Mapping[int, str]) -> np.ndarray:
    return np.fromiter((int(i) in texts for i in item_ids), dtype=bool, count=len(item_ids))


def _user_runs(sorted_users: np.ndarray) -> list[slice]:
    """Slices of consecutive equal user ids in an array sorted by user."""
    if len(sorted_users) == 0:
        return []
    cuts = np.flatnonzero(sorted_users[1:] != sorted_users[:-1]) + 1
    bounds = np.concatenate([[0], cuts, [len(sorted_users)]])
    return [slice(int(a), int(b)) for a, b in pairwise(bounds)]


def _cap(candidates: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """Uniform sample of at most ``cap`` rows, kept in their original order."""
    if cap is None or len(candidates) <= cap:
        return candidates
    return candidates[np.sort(rng.choice(len(candidates), size=cap, replace=False))]


def history_next_pairs(
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    ratings: np.ndarray,
    timestamps: np.ndarray,
    texts: Mapping[int, str],
    *,
    history_texts: Mapping[int, str] | None = None,
    history: int = 5,
    min_history: int = 1,
    min_rating: float = 3.5,
    max_per_user: int | None = 50,
    max_pairs: int | None = None,
    seed: int = 0,
    prefix: str = "Recently liked: ",
) -> list[Pair]:
    """(recent liked films -> next liked film) pairs, in time order per user.

    For each user, liked films are ordered by (timestamp, item id); the anchor
    for liked film j lists the up to ``history`` liked films before it (most
    recent last) using ``history_texts`` (pass short "Title (year) [genres]"
    strings from ``text.film_short_text`` to fit several films in 128 tokens;
    defaults to ``texts``), and the positive is ``texts[item j]``.
    ``max_per_user`` stops heavy raters dominating; the result is a seeded
    shuffle of at most ``max_pairs`` pairs. Items missing from ``texts`` are ignored.
    """
    user_ids, item_ids, ratings, timestamps = _as_arrays(user_ids, item_ids, ratings, timestamps)
    rng = np.random.default_rng(seed)
    short = history_texts if history_texts is not None else texts
    keep = liked_mask(user_ids, ratings, min_rating) & _known(item_ids, texts)
    users, items, times = user_ids[keep], item_ids[keep], timestamps[keep]
    order = np.lexsort((items, times, users))
    users, items = users[order], items[order]
    # A film liked twice by one user counts once, at its first like.
    _, first = np.unique(np.stack([users, items]), axis=1, return_index=True)
    first = np.sort(first)
    users, items = users[first], items[first]
    # Candidates are positions j in the sorted liked list with >= min_history films before them.
    run_start = np.zeros(len(users), dtype=np.int64)
    candidates: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
    for run in _user_runs(users):
        run_start[run] = run.start
        positions = np.arange(run.start + max(min_history, 1), run.stop)
        candidates.append(_cap(positions, max_per_user, rng))
    chosen = rng.permutation(np.concatenate(candidates))[:max_pairs]
    pairs: list[Pair] = []
    for j in chosen.tolist():
        lo = max(int(run_start[j]), j - history)
        recent = "; ".join(short.get(int(i), texts[int(i)]) for i in items[lo:j])
        pairs.append((prefix + recent, texts[int(items[j])]))
    return pairs


def _pair_counts(
    users: np.ndarray,
    items: np.ndarray,
    max_items_per_user: int | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unordered co-liked item pairs (dense item codes i < j) and how many users share each."""
    codes: list[np.ndarray] = []
    for run in _user_runs(users):
        liked = _cap(np.unique(items[run]), max_items_per_user, rng)
        if len(liked) < 2:
            continue
        a, b = np.triu_indices(len(liked), k=1)
        codes.append(liked[a] * np.int64(1 << 32) + liked[b])
    if not codes:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    unique, counts = np.unique(np.concatenate(codes), return_counts=True)
    return unique >> 32, unique & ((1 << 32) - 1), counts


def co_liked_pairs(
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    ratings: np.ndarray,
    texts: Mapping[int, str],
    *,
    min_rating: float = 3.5,
    min_common: int = 2,
    max_per_item: int = 5,
    max_items_per_user: int | None = 200,
    max_pairs: int | None = None,
    seed: int = 0,
) -> list[Pair]:
    """(film A, film B) pairs of films liked by at least ``min_common`` of the same users.

    Pairs are ranked by co-likes / sqrt(likes(A) * likes(B)) (cosine of the
    users-who-liked sets), so the strongest associations come first rather
    than the most popular films; each film appears in at most ``max_per_item``
    chosen pairs so a few blockbusters cannot take the whole budget.
    ``max_items_per_user`` samples heavy raters' lists to bound the quadratic
    pair count. Orientation is random; the result is a seeded shuffle.
    """
    user_ids, item_ids, ratings = _as_arrays(user_ids, item_ids, ratings)
    rng = np.random.default_rng(seed)
    keep = liked_mask(user_ids, ratings, min_rating) & _known(item_ids, texts)
    catalogue, dense = np.unique(item_ids[keep], return_inverse=True)
    users = user_ids[keep]
    order = np.argsort(users, kind="stable")
    left, right, counts = _pair_counts(users[order], dense[order].astype(np.int64), max_items_per_user, rng)
    strong = counts >= min_common
    left, right, counts = left[strong], right[strong], counts[strong]
    likes = np.bincount(dense, minlength=len(catalogue)).astype(np.float64)
    score = counts / np.sqrt(likes[left] * likes[right])
    # Highest score first; ties broken by a seeded random key for determinism without bias.
    ranked = np.lexsort((rng.random(len(score)), -score))
    per_item = np.zeros(len(catalogue), dtype=np.int64)
    chosen: list[tuple[int, int]] = []
    for k in ranked.tolist():
        a, b = int(left[k]), int(right[k])
        if per_item[a] >= max_per_item or per_item[b] >= max_per_item:
            continue
        per_item[a] += 1
        per_item[b] += 1
        chosen.append((a, b) if rng.random() < 0.5 else (b, a))
        if max_pairs is not None and len(chosen) >= max_pairs:
            break
    shuffled = [chosen[i] for i in rng.permutation(len(chosen))]
    return [(texts[int(catalogue[a])], texts[int(catalogue[b])]) for a, b in shuffled]


def film_pairs(
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    ratings: np.ndarray,
    timestamps: np.ndarray,
    texts: Mapping[int, str],
    *,
    max_pairs: int,
    seed: int = 0,
) -> tuple[list[Pair], dict[str, int]]:
    """The fine-tuning recipe shared by the site's chain and the offline pipeline.

    Half the budget co-liked pairs, the rest next-liked pairs (one liked film -> the next),
    film text on both sides, because serving only ever compares film vectors. Self-pairs and
    duplicates are dropped; the result is a seeded shuffle. Returns the pairs and their counts.
    """
    co = co_liked_pairs(user_ids, item_ids, ratings, texts, max_pairs=max_pairs // 2, seed=seed)
    nxt = history_next_pairs(
        user_ids, item_ids, ratings, timestamps, texts, history=1, prefix="", max_pairs=max_pairs - len(co), seed=seed
    )
    seen: set[Pair] = set()
    pairs = [p for p in co + nxt if p[0] != p[1] and not (p in seen or seen.add(p))]
    rng = np.random.default_rng(seed)
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    return pairs, {"co_liked": len(co), "next_liked": len(nxt), "pairs": len(pairs)}
