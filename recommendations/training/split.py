"""The data a version trains and is judged on: a per-user time split, and film-text pairs from its train part."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from recommendations import services
from recommendations.ids import as_key, dense_ids, run_starts

MIN_RATINGS = 5  # users with fewer ratings only train
HOLDOUT_FRACTION = 0.2
MAX_HOLDOUT = 10
VALIDATION_PAIRS = 128


@dataclass
class Split:
    """Train and held-out ratings, in time order, for one cutoff."""

    users: np.ndarray
    movies: np.ndarray
    values: np.ndarray
    stamps: np.ndarray
    train: np.ndarray  # bool mask
    cutoff: float
    heldout: dict[int, np.ndarray] = field(default_factory=dict)  # user -> held-out movie ids

    def part(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.users[mask], self.movies[mask], self.values[mask], self.stamps[mask]

    def counts(self) -> dict[str, int]:
        return {
            "ratings": len(self.users),
            "users": len(np.unique(self.users)),
            "train_ratings": int(self.train.sum()),
            "heldout_ratings": int((~self.train).sum()),
            "eval_users": len(self.heldout),
        }


def build_split(cutoff: float | None = None) -> Split:
    """Hold out each user's most recent ratings (up to ``cutoff``, a Unix time)."""
    from recommendations.collab_store import ratings_arrays

    users, movies, values, stamps = ratings_arrays()
    if cutoff is not None:
        keep = stamps <= cutoff
        users, movies, values, stamps = users[keep], movies[keep], values[keep], stamps[keep]
    train = np.ones(len(users), dtype=bool)
    heldout: dict[int, np.ndarray] = {}
    # ratings_arrays is in time order, so a stable sort by user keeps each user's ratings chronological.
    order = np.argsort(users, kind="stable")
    bounds = run_starts(users[order])
    for rows in np.split(order, bounds):
        n = len(rows)
        if n < MIN_RATINGS:
            continue
        hold = min(MAX_HOLDOUT, max(1, round(HOLDOUT_FRACTION * n)))
        train[rows[-hold:]] = False
        heldout[as_key(users[rows[0]])] = movies[rows[-hold:]]
    return Split(users, movies, values, stamps, train, float(cutoff if cutoff is not None else time.time()), heldout)


def training_pairs(
    split: Split, texts: dict[int, str], *, max_pairs: int, seed: int = 0
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Co-liked and next-liked film-text pairs from the train part only (``pairs.film_pairs``)."""
    from recommendations.ml.pairs import film_pairs

    users, movies, values, stamps = split.part(split.train)
    if movies.dtype == object:  # ObjectIds (MongoDB): ml.pairs works on integer ids, so pass dense codes
        (_, users), (films, movies) = dense_ids(users), dense_ids(movies)
        texts = {i: texts[m] for i, m in enumerate(films.tolist()) if m in texts}
    return film_pairs(users, movies, values, stamps, texts, max_pairs=max_pairs, seed=seed)


def validation_pairs(
    split: Split, texts: dict[int, str], *, limit: int = VALIDATION_PAIRS, seed: int = 0
) -> list[tuple[str, str]]:
    """(a user's last liked train film -> their first liked held-out film): the held-out task as pairs."""
    from recommendations.ml.pairs import liked_mask

    liked = liked_mask(split.users, split.values)
    pairs: list[tuple[str, str]] = []
    for user in sorted(split.heldout):
        mine = split.users == user
        train_liked = split.movies[mine & split.train & liked]
        test_liked = split.movies[mine & ~split.train & liked]
        if len(train_liked) and len(test_liked) and as_key(train_liked[-1]) in texts and as_key(test_liked[0]) in texts:
            pairs.append((texts[as_key(train_liked[-1])], texts[as_key(test_liked[0])]))
    rng = np.random.default_rng(seed)
    return [pairs[i] for i in sorted(rng.permutation(len(pairs))[:limit])]


def catalogue_text_map() -> dict[int, str]:
    ids, texts = services.catalogue_texts()
    return dict(zip(ids.tolist(), texts, strict=True))
