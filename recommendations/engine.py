"""Serving: recommendations, similar films and their explanations.

Runs on the process's loaded Bundle (no model, no TF: film vectors are
precomputed), so a request costs a few numpy ops over the film matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from django.core.cache import cache
from django.utils import timezone

from catalog.models import Movie, NotInterested, Rating
from recommendations import store
from recommendations.feedback import user_cache_key
from recommendations.ml.taste import explain, rating_weights, user_vector

CACHE_SECONDS = 600
CANDIDATES = 300  # per-user cached shortlist, filtered per request


@dataclass
class Rec:
    movie_id: int
    score: float
    why: str
    version_id: int | None
    because: list[int] = field(default_factory=list)  # movie ids that contributed most
    movie: Movie | None = None


@dataclass
class UserProfile:
    movie_ids: np.ndarray
    values: np.ndarray
    timestamps: np.ndarray
    hidden_ids: np.ndarray


def user_profile(user) -> UserProfile:
    rows = list(Rating.objects.filter(user=user).values_list("movie_id", "value", "updated_at"))
    hidden = list(NotInterested.objects.filter(user=user).values_list("movie_id", flat=True))
    return UserProfile(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.float32),
        np.array([r[2].timestamp() for r in rows], dtype=np.float64),
        np.array(hidden, dtype=np.int64),
    )


def _rows(bundle: store.Bundle, movie_ids) -> np.ndarray:
    return np.array([bundle.row_of[m] for m in movie_ids if m in bundle.row_of], dtype=np.int64)


def _mask(bundle: store.Bundle, movie_ids) -> np.ndarray:
    return np.array([m in bundle.row_of for m in movie_ids], dtype=bool)


def taste(bundle: store.Bundle, profile: UserProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(taste vector, rows of rated films, their weights) for explanations."""
    known = _mask(bundle, profile.movie_ids)
    rated_rows = _rows(bundle, profile.movie_ids)
    values = profile.values[known]
    hidden_rows = _rows(bundle, profile.hidden_ids)
    vec = user_vector(
        values,
        bundle.matrix[rated_rows],
        timestamps=profile.timestamps[known],
        now=timezone.now().timestamp(),
        not_interested=bundle.matrix[hidden_rows],
    )
    now = timezone.now().timestamp()
    weights = rating_weights(values, timestamps=profile.timestamps[known], now=now)
    return vec, rated_rows, weights


def score_user(bundle: store.Bundle, profile: UserProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores over every film row for this user, with explanation inputs."""
    vec, rated_rows, weights = taste(bundle, profile)
    content = bundle.matrix @ vec if np.any(vec) else np.zeros(len(bundle.movie_ids), np.float32)
    from recommendations.hybrid_serving import blend

    scores = blend(bundle, profile, rated_rows, content)
    return scores, rated_rows, weights


def _why(bundle: store.Bundle, row: int, rated_rows: np.ndarray, weights: np.ndarray, values: np.ndarray, titles: dict[int, str]) -> tuple[str, list[int]]:
    if len(rated_rows) == 0:
        return "Popular with people on this site", []
    order = explain(weights, bundle.matrix[rated_rows], bundle.matrix[row], top=2)
    if len(order) == 0:
        return "Popular with people whose taste is like yours", []
    ids = [int(bundle.movie_ids[rated_rows[i]]) for i in order]
    parts = [f"{titles.get(mid, '?')} {values[i]:g}★" for mid, i in zip(ids, order, strict=True)]
    return "Because you rated " + " and ".join(parts), ids


def _titles(movie_ids: list[int]) -> dict[int, str]:
    """Display titles; the year is added where two rated films share a title."""
    rows = list(Movie.objects.filter(pk__in=movie_ids).values_list("pk", "title", "year"))
    counts: dict[str, int] = {}
    for _pk, title, _year in rows:
        counts[title] = counts.get(title, 0) + 1
    return {pk: f"{title} ({year})" if counts[title] > 1 and year else title for pk, title, year in rows}


def recommend_for_user(user, k: int = 20, *, genre: str = "", decade: int | None = None) -> list[Rec]:
    bundle = store.active_bundle()
    if bundle is None:
        return _popular_fallback(user, k, genre, decade)
    # One key per user, so a rating deletes it; the version inside it means a
    # promotion never serves scores from the previous model.
    key = user_cache_key(user.pk)
    cached = cache.get(key)
    if cached is not None and cached[0] == bundle.version_id:
        shortlist = cached[1]
    else:
        shortlist = _compute_shortlist(bundle, user)
        cache.set(key, (bundle.version_id, shortlist), CACHE_SECONDS)
    recs = [Rec(mid, score, why, bundle.version_id, because) for mid, score, why, because in shortlist]
    return _attach_and_filter(recs, k, genre, decade)


def _compute_shortlist(bundle: store.Bundle, user) -> list[tuple[int, float, str, list[int]]]:
    profile = user_profile(user)
    scores, rated_rows, weights = score_user(bundle, profile)
    exclude = np.concatenate([rated_rows, _rows(bundle, profile.hidden_ids)])
    top, top_scores = _top(scores, exclude, CANDIDATES)
    known = _mask(bundle, profile.movie_ids)
    values = profile.values[known]
    titles = _titles([int(bundle.movie_ids[r]) for r in rated_rows])
    out = []
    for row, score in zip(top, top_scores, strict=True):
        why, because = _why(bundle, int(row), rated_rows, weights, values, titles)
        out.append((int(bundle.movie_ids[row]), float(score), why, because))
    return out


def _top(scores: np.ndarray, exclude: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    from recommendations.ml.ranking import top_k

    return top_k(scores, k, exclude)


def _attach_and_filter(recs: list[Rec], k: int, genre: str, decade: int | None) -> list[Rec]:
    qs = Movie.objects.filter(pk__in=[r.movie_id for r in recs]).prefetch_related("genres")
    if genre:
        qs = qs.filter(genres__slug=genre)
    if decade is not None:
        qs = qs.filter(year__gte=decade, year__lte=decade + 9)
    movies = {m.pk: m for m in qs}
    kept = []
    for rec in recs:
        if rec.movie_id in movies:
            rec.movie = movies[rec.movie_id]
            kept.append(rec)
            if len(kept) == k:
                break
    return kept


def _popular_fallback(user, k: int, genre: str, decade: int | None) -> list[Rec]:
    seen = set(Rating.objects.filter(user=user).values_list("movie_id", flat=True)) if user.is_authenticated else set()
    seen |= set(NotInterested.objects.filter(user=user).values_list("movie_id", flat=True)) if user.is_authenticated else set()
    qs = Movie.objects.exclude(pk__in=list(seen)).prefetch_related("genres").order_by("-rating_count", "title")
    if genre:
        qs = qs.filter(genres__slug=genre)
    if decade is not None:
        qs = qs.filter(year__gte=decade, year__lte=decade + 9)
    return [Rec(m.pk, float(m.rating_count), "Popular on this site", None, [], m) for m in qs[:k]]


def similar_movies(movie: Movie, k: int = 12) -> list[Rec]:
    bundle = store.active_bundle()
    if bundle is None or movie.pk not in bundle.row_of:
        return []
    row = bundle.row_of[movie.pk]
    scores = bundle.matrix @ bundle.matrix[row]
    top, top_scores = _top(scores, np.array([row]), k)
    recs = [Rec(int(bundle.movie_ids[r]), float(s), f"Similar to {movie.title}", bundle.version_id, [movie.pk]) for r, s in zip(top, top_scores, strict=True)]
    return _attach_and_filter(recs, k, "", None)
