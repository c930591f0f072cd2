"""A synthetic catalogue and ratings of MovieLens-32M size, in the ml-latest-small layout.

Defaults: 87,000 films, 200,000 users, 32,000,000 ratings (ML-32M: 87,585 / 200,948 / 32,000,204).
Writes ``movies.csv`` (movieId,title,genres) and ``ratings.csv`` (userId,movieId,rating,timestamp)
that ``manage.py import_movielens`` reads, plus ``synth.npz`` (the same ratings as arrays, for
benchmarks that do not need the CSV) and ``stats.json``. Generated data is never committed:
write it under var/synth (git-ignored) or /tmp.

Popularity skew, chosen to look like MovieLens:

* Item popularity is Zipf-like: the film of popularity rank r is drawn with probability
  ∝ (r + OFFSET)^-ALPHA, ALPHA = 1.1, OFFSET = 30. The offset flattens the head, the exponent makes
  the tail. With the defaults (stats.json): the most-rated film has 87.7k ratings (ML-32M: ~103k),
  the top 1 % of films hold 44 % of all ratings, the median film has 77. Unlike MovieLens, no film
  has fewer than 10 ratings (ML-32M has a long tail of films rated once or twice): the synthetic
  co-occurrence matrix is, if anything, denser, so training cost is not underestimated.
* User activity is log-normal: ratings per user ~ LogNormal(μ, σ = 1.1), clipped to [20, 8,000]
  (every MovieLens user has ≥ 20 ratings), then scaled to the requested total: median 87,
  mean 160, p99 1,123, max ~8,000.
* A user rates distinct films, drawn by popularity (sampled with the popularity law, duplicates
  removed, topped up). Values are 3.5 + film quality N(0, 0.45) + user bias N(0, 0.35) + noise
  N(0, 0.85), rounded to half stars in [0.5, 5]. Timestamps are spread over each user's active
  span inside 1996-2023. Film years follow the real skew towards recent decades; 1-3 genres each.

    .venv/bin/python benchmarks/synth_ml32m.py --out var/synth               # ~2-4 min, ~0.8 GB CSV
    .venv/bin/python benchmarks/synth_ml32m.py --out /tmp/s --users 20000 --ratings 3200000 --films 40000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ALPHA = 1.1
OFFSET = 30.0
SIGMA = 1.1
MIN_PER_USER, MAX_PER_USER = 20, 8000
GENRES = [
    "Drama", "Comedy", "Thriller", "Romance", "Action", "Horror", "Documentary", "Crime", "Adventure",
    "Sci-Fi", "Animation", "Children", "Mystery", "Fantasy", "War", "Western", "Musical", "Film-Noir", "IMAX",
]  # fmt: skip
GENRE_WEIGHTS = np.array([25, 17, 9, 8, 7, 6, 6, 5, 4, 3.5, 3, 2.5, 2.5, 2.5, 1.5, 1.2, 1, 0.3, 0.2])
WORDS = ["night", "city", "last", "love", "war", "secret", "dark", "house", "road", "blood", "river", "man", "woman", "girl", "boy", "king", "queen", "day", "summer", "winter", "home", "lost", "story", "time", "dream", "fire", "moon", "star", "shadow", "little", "big", "return", "black", "white"]
CHUNK_USERS = 20_000


def popularity(n_films: int) -> np.ndarray:
    p = (np.arange(n_films, dtype=np.float64) + 1 + OFFSET) ** -ALPHA
    return p / p.sum()


def activity(n_users: int, total: int, rng: np.random.Generator) -> np.ndarray:
    """Ratings per user: log-normal, clipped, scaled so the sum is `total` (exactly)."""
    raw = rng.lognormal(mean=0.0, sigma=SIGMA, size=n_users)
    lo, hi = MIN_PER_USER, MAX_PER_USER
    # Scale the log-normal so that, after clipping, the mean is total / n_users (bisection).
    a, b = 1e-3, 1e5
    for _ in range(80):
        mid = (a + b) / 2
        if np.clip(raw * mid, lo, hi).sum() < total:
            a = mid
        else:
            b = mid
    counts = np.clip(np.round(raw * b), lo, hi).astype(np.int64)
    diff = total - int(counts.sum())
    order = rng.permutation(n_users)
    step = 1 if diff > 0 else -1
    i = 0
    while diff != 0:  # spread the rounding remainder one rating at a time
        u = order[i % n_users]
        if lo <= counts[u] + step <= hi:
            counts[u] += step
            diff -= step
        i += 1
    return counts


def sample_user_films(counts: np.ndarray, cdf: np.ndarray, n_films: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Distinct films per user, drawn by popularity: (user index within chunk, film rank)."""
    users_out, films_out = [], []
    need = counts.copy()
    have = np.zeros(len(counts), dtype=np.int64)
    for _round in range(6):
        todo = np.flatnonzero(need > 0)
        if todo.size == 0:
            break
        draws = np.ceil(need[todo] * (1.3 if _round == 0 else 2.0)).astype(np.int64) + 2
        users = np.repeat(todo, draws)
        films = np.searchsorted(cdf, rng.random(users.size), side="right").clip(0, n_films - 1)
        keys = np.unique(users * n_films + films)
        if users_out:  # drop films this user already has
            prev = np.concatenate([u * n_films + f for u, f in zip(users_out, films_out, strict=True)])
            keys = keys[~np.isin(keys, prev, assume_unique=True)]
        u, f = keys // n_films, keys % n_films
        # keep at most need[u] per user, chosen at random
        prio = rng.random(u.size)
        order = np.lexsort((prio, u))
        u, f = u[order], f[order]
        starts = np.searchsorted(u, u, side="left")
        rank = np.arange(u.size) - starts
        keep = rank < need[u]
        u, f = u[keep], f[keep]
        users_out.append(u)
        films_out.append(f)
        have += np.bincount(u, minlength=len(counts))
        need = counts - have
    return np.concatenate(users_out), np.concatenate(films_out)


def write_movies(path: Path, n_films: int, rng: np.random.Generator) -> np.ndarray:
    """movies.csv; returns the films' years. Film ids are 1..n in popularity-rank order, shuffled."""
    decades = np.arange(1900, 2030, 10)
    weights = np.array([0.3, 0.5, 1, 1.5, 2, 2.5, 3, 4, 6, 10, 16, 25, 18], dtype=np.float64)
    years = (rng.choice(decades, size=n_films, p=weights / weights.sum()) + rng.integers(0, 10, n_films)).clip(1900, 2023)
    gp = GENRE_WEIGHTS / GENRE_WEIGHTS.sum()
    with path.open("w", encoding="utf-8") as out:
        out.write("movieId,title,genres\n")
        for i in range(n_films):
            k = int(rng.integers(1, 4))
            genres = "|".join(sorted(set(rng.choice(GENRES, size=k, p=gp))))
            words = " ".join(rng.choice(WORDS, size=int(rng.integers(1, 4)))).title()
            out.write(f"{i + 1},{words} {i + 1} ({years[i]}),{genres}\n")
    return years


def write_ratings(path: Path, users: np.ndarray, films: np.ndarray, halves: np.ndarray, stamps: np.ndarray) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("userId,movieId,rating,timestamp\n")
        step = 1_000_000
        for s in range(0, users.size, step):
            e = min(s + step, users.size)
            out.write(
                "".join(
                    f"{u},{m},{h / 2:.1f},{t}\n"
                    for u, m, h, t in zip(
                        (users[s:e] + 1).tolist(), (films[s:e] + 1).tolist(), halves[s:e].tolist(), stamps[s:e].tolist(), strict=True
                    )
                )
            )


def skew_stats(films: np.ndarray, counts: np.ndarray, n_films: int) -> dict[str, float]:
    per_film = np.bincount(films, minlength=n_films)
    ranked = np.sort(per_film)[::-1]
    top1 = ranked[: max(1, n_films // 100)].sum() / ranked.sum()
    return {
        "films_rated": int((per_film > 0).sum()),
        "top_film_ratings": int(ranked[0]),
        "median_ratings_per_film": float(np.median(per_film)),
        "films_under_10_ratings": float((per_film < 10).mean()),
        "share_of_ratings_in_top_1pct_films": float(top1),
        "user_ratings_min": int(counts.min()),
        "user_ratings_median": float(np.median(counts)),
        "user_ratings_mean": float(counts.mean()),
        "user_ratings_p99": float(np.percentile(counts, 99)),
        "user_ratings_max": int(counts.max()),
    }


def generate(n_films: int, n_users: int, n_ratings: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(popularity(n_films))
    counts = activity(n_users, n_ratings, rng)
    quality = rng.normal(0.0, 0.45, n_films)
    bias = rng.normal(0.0, 0.35, n_users)
    start = rng.uniform(820_000_000, 1_690_000_000, n_users)  # 1996 .. 2023
    span = np.minimum(rng.lognormal(np.log(200 * 86_400), 1.5, n_users), 1_700_000_000 - start)
    parts: dict[str, list[np.ndarray]] = {"users": [], "films": [], "halves": [], "stamps": []}
    for lo in range(0, n_users, CHUNK_USERS):
        hi = min(lo + CHUNK_USERS, n_users)
        u, f = sample_user_films(counts[lo:hi], cdf, n_films, rng)
        u = u + lo
        value = 3.5 + quality[f] + bias[u] + rng.normal(0.0, 0.85, u.size)
        halves = np.clip(np.round(value * 2), 1, 10).astype(np.int8)
        stamps = (start[u] + rng.random(u.size) * span[u]).astype(np.int64)
        for key, arr in (("users", u), ("films", f), ("halves", halves), ("stamps", stamps)):
            parts[key].append(arr)
    out = {k: np.concatenate(v) for k, v in parts.items()}
    # Film ids: popularity rank -> a random id, so that id order says nothing about popularity.
    out["films"] = rng.permutation(n_films)[out["films"]]
    out["counts"] = np.bincount(out["users"], minlength=n_users)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "var" / "synth")
    parser.add_argument("--films", type=int, default=87_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--ratings", type=int, default=32_000_000)
    parser.add_argument("--seed", type=int, default=32)
    parser.add_argument("--no-csv", action="store_true", help="only synth.npz (for training and serving benchmarks)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = generate(args.films, args.users, args.ratings, args.seed)
    t_gen = time.perf_counter() - t0
    np.savez(
        args.out / "synth.npz",
        users=data["users"].astype(np.int32) + 1,
        movies=data["films"].astype(np.int32) + 1,
        halves=data["halves"],
        stamps=data["stamps"],
    )
    t_csv = 0.0
    if not args.no_csv:
        t1 = time.perf_counter()
        write_movies(args.out / "movies.csv", args.films, np.random.default_rng(args.seed + 1))
        write_ratings(args.out / "ratings.csv", data["users"], data["films"], data["halves"], data["stamps"])
        t_csv = time.perf_counter() - t1
    stats = {
        "films": args.films,
        "users": args.users,
        "ratings": int(data["users"].size),
        "model": {"item_popularity": f"Zipf-like (rank + {OFFSET:g})^-{ALPHA:g}", "user_activity": f"log-normal sigma {SIGMA:g}, clipped [{MIN_PER_USER}, {MAX_PER_USER}]"},
        **skew_stats(data["films"], data["counts"], args.films),
        "seconds_generate": round(t_gen, 1),
        "seconds_csv": round(t_csv, 1),
    }
    (args.out / "stats.json").write_text(json.dumps(stats, indent=2))
    print(json.dumps(stats, indent=2))


if __name__ == "__main__":
    main()
