"""Per-user cost of user_vector + rank against a bare ``E @ u`` + argpartition.

The catalogue is a random (9742, 384) float32 matrix of unit rows, the size of
ml-latest-small. The bare baseline is the floor any ranking must pay (one
matrix-vector product and an unsorted top-k); ours adds building the taste
vector from the user's ratings, excluding rated films, exact tie-breaking and
sorting the k winners.

    .venv/bin/python benchmarks/rank.py --n 2000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recommendations.ml.ranking import rank  # noqa: E402
from recommendations.ml.taste import user_vector  # noqa: E402

Users = list[tuple[np.ndarray, np.ndarray, np.ndarray]]


def make_users(n: int, films: int, rng: np.random.Generator, lo: int, hi: int) -> Users:
    """(rated rows, ratings, timestamps) per user."""
    users = []
    for _ in range(n):
        count = int(rng.integers(lo, hi + 1))
        rows = rng.choice(films, size=count, replace=False)
        ratings = rng.integers(1, 11, size=count) / 2
        stamps = rng.integers(1_000_000_000, 1_500_000_000, size=count).astype(np.float64)
        users.append((rows, ratings, stamps))
    return users


def per_user_us(fn: Callable[[Any], None], items: Sequence[Any]) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of users")
    parser.add_argument("--films", type=int, default=9742)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--min-ratings", type=int, default=20)
    parser.add_argument("--max-ratings", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved repeats; best kept")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    films = rng.standard_normal((args.films, args.dim)).astype(np.float32)
    films /= np.linalg.norm(films, axis=1, keepdims=True)
    users = make_users(args.n, args.films, rng, args.min_ratings, args.max_ratings)
    k = args.k

    def ours(user: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        rows, ratings, stamps = user
        vec = user_vector(ratings, films[rows], timestamps=stamps)
        rank(vec, films, exclude=rows, k=k)

    def vector_only(user: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        rows, ratings, stamps = user
        user_vector(ratings, films[rows], timestamps=stamps)

    vectors = [user_vector(r, films[rows], timestamps=t) for rows, r, t in users]
    excludes = [rows for rows, _, _ in users]

    def bare(vec: np.ndarray) -> None:
        scores = films @ vec
        np.argpartition(-scores, k)[:k]

    def rank_only(i: int) -> None:
        rank(vectors[i], films, exclude=excludes[i], k=k)

    # Interleaved rounds, best round kept: the machine may be shared and noisy.
    cases = {
        "bare": (bare, vectors),
        "ours": (ours, users),
        "vector": (vector_only, users),
        "rank": (rank_only, list(range(len(users)))),
    }
    best = dict.fromkeys(cases, float("inf"))
    per_user_us(ours, users[:50])  # warm caches
    for _ in range(args.rounds):
        for name, (fn, items) in cases.items():
            best[name] = min(best[name], per_user_us(fn, items))
    bare_us, ours_us, vec_us, rank_us = (best[name] for name in cases)

    print(
        f"catalogue ({args.films}, {args.dim}) float32, {args.n} users, {args.min_ratings}-{args.max_ratings} ratings each, k={k}"
    )
    blas = {key: os.environ[key] for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if key in os.environ}
    print(f"BLAS env: {blas or 'default'}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"bare E @ u + argpartition : {bare_us:8.1f} us/user")
    print(f"user_vector + rank        : {ours_us:8.1f} us/user")
    print(f"  user_vector alone       : {vec_us:8.1f} us/user")
    print(f"  rank alone              : {rank_us:8.1f} us/user")
    print(f"ratio ours / bare         : {ours_us / bare_us:.2f}x")
    print(f"ratio rank / bare         : {rank_us / bare_us:.2f}x")


if __name__ == "__main__":
    main()
