"""Helpers for the hybrid serving tests: real films, real ratings, a real learnt hybrid.

The site is the starter catalogue with its real MiniLM vectors (the ``starter_model``
fixture), rated by real MovieLens users: ml-latest-small ratings of starter films, matched
by IMDb id and read in place from the shared data folder (nothing is copied).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import scipy.sparse as sp


def load_movielens_ratings(shared_data: Path, *, max_users: int = 120) -> list[int]:
    """Ratings of the first ``max_users`` MovieLens users (by id) on starter films; returns the site users' pks."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import User
    from catalog.models import Movie, Rating

    folder = shared_data / "ml-latest-small"
    by_imdb = {imdb: pk for pk, imdb in Movie.objects.exclude(imdb_id="").values_list("pk", "imdb_id")}
    with (folder / "links.csv").open(newline="") as handle:
        film_of = {row["movieId"]: by_imdb.get(f"tt{row['imdbId']}") for row in csv.DictReader(handle)}
    rows: list[tuple[int, int, float, int]] = []
    with (folder / "ratings.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            film = film_of.get(row["movieId"])
            if film is not None and int(row["userId"]) <= max_users:
                rows.append((int(row["userId"]), film, float(row["rating"]), int(row["timestamp"])))
    unusable = make_password(None)
    users = {
        ml: User.objects.create(username=f"ml{ml}", password=unusable, is_active=False) for ml in sorted({r[0] for r in rows})
    }
    Rating.objects.bulk_create(
        Rating(
            user=users[u],
            movie_id=m,
            value=v,
            created_at=datetime.fromtimestamp(t, UTC),
            updated_at=datetime.fromtimestamp(t, UTC),
        )
        for u, m, v, t in rows
    )
    counts: dict[int, list[float]] = {}
    for _u, m, v, _t in rows:
        counts.setdefault(m, []).append(v)
    for movie in Movie.objects.filter(pk__in=list(counts)):
        movie.rating_count, movie.rating_sum = len(counts[movie.pk]), float(sum(counts[movie.pk]))
        movie.save(update_fields=["rating_count", "rating_sum"])
    return [u.pk for u in users.values()]


def train_site_hybrid(version, *, budget_seconds: float = 600.0) -> dict:
    """Fit and store the version's hybrid as the training chain does; the serving cache starts cold."""
    from recommendations import hybrid_store, store
    from recommendations.models import ModelVersion

    info = hybrid_store.train_hybrid(version.pk, budget_seconds=budget_seconds)
    assert "path" in info, info
    ModelVersion.objects.filter(pk=version.pk).update(metrics={**(version.metrics or {}), "hybrid": info})
    version.refresh_from_db()
    store.reset_cache()
    return info


def reference_scores(version, rated_movie_ids: list[int]) -> dict[int, float]:
    """``HybridModel.score`` for one profile, by movie id (rated films left out, as it gives them -inf)."""
    from recommendations import hybrid_store

    loaded = hybrid_store.load_hybrid(version.metrics["hybrid"]["path"])
    cols = sorted({loaded.col_of[m] for m in rated_movie_ids})
    row = sp.csr_matrix((np.ones(len(cols), np.float32), ([0] * len(cols), cols)), shape=(1, len(loaded.movie_ids)))
    scores = loaded.model.score(row)[0]
    return {int(m): float(s) for m, s in zip(loaded.movie_ids, scores, strict=True) if np.isfinite(s)}


def rate(user, films: dict[int, float]) -> None:
    """Ratings through the site's own write path (which also drops the user's cached recommendations)."""
    from catalog.models import Movie
    from catalog.services import rating_upsert

    movies = Movie.objects.in_bulk(list(films))
    for movie_id, value in films.items():
        rating_upsert(user=user, movie=movies[movie_id], value=value)


def most_rated(n: int, *, skip: int = 0) -> list[int]:
    """The ``n`` most-rated films after the first ``skip`` (ties by pk): films the hybrid knows well."""
    from catalog.models import Movie

    return list(Movie.objects.order_by("-rating_count", "pk").values_list("pk", flat=True)[skip : skip + n])
