"""Reads for pages and the API: rows of films for a user."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from catalog.models import Movie, Rating
from catalog.selectors import movie_base_queryset
from recommendations.engine import Rec, recommend_for_user, similar_movies
from recommendations.models import ModelVersion

__all__ = [
    "because_you_liked",
    "continue_rating",
    "new_in_catalogue",
    "recommend_for_user",
    "similar_movies",
    "trending",
    "versions_waiting_for_a_worker",
]

WAITING_MINUTES = 5


def trending(days: int = 30, k: int = 12) -> list[Movie]:
    """Most rated on the site recently; falls back to all-time popularity on a quiet site."""
    since = timezone.now() - timedelta(days=days)
    counts = (
        Rating.objects.filter(updated_at__gte=since).values("movie_id").annotate(n=Count("id")).order_by("-n")[:k]
    )
    ids = [row["movie_id"] for row in counts]
    movies = movie_base_queryset().in_bulk(ids)
    ordered = [movies[i] for i in ids if i in movies]
    if len(ordered) < k:
        extra = movie_base_queryset().exclude(pk__in=ids).order_by("-rating_count", "title")[: k - len(ordered)]
        ordered += list(extra)
    return ordered


def new_in_catalogue(k: int = 12) -> list[Movie]:
    return list(movie_base_queryset().order_by("-created_at", "-pk")[:k])


def because_you_liked(user, rows: int = 2, k: int = 8) -> list[tuple[Movie, list[Rec]]]:
    favourites = list(
        Rating.objects.filter(user=user, value__gte=4.0).select_related("movie").order_by("-value", "-updated_at")[:rows]
    )
    seen = set(Rating.objects.filter(user=user).values_list("movie_id", flat=True))
    out = []
    for rating in favourites:
        recs = [r for r in similar_movies(rating.movie, k=k + len(seen)) if r.movie_id not in seen][:k]
        if recs:
            out.append((rating.movie, recs))
    return out


def continue_rating(user, k: int = 12) -> list[Movie]:
    """Well-known films the user has not rated: quick to judge, sharpens the profile."""
    seen = list(Rating.objects.filter(user=user).values_list("movie_id", flat=True))
    return list(movie_base_queryset().exclude(pk__in=seen).order_by("-rating_count", "title")[:k])


def versions_waiting_for_a_worker(minutes: int = WAITING_MINUTES) -> list[ModelVersion]:
    """Model versions queued more than ``minutes`` ago that no worker has started."""
    since = timezone.now() - timedelta(minutes=minutes)
    return list(ModelVersion.objects.filter(status=ModelVersion.Status.QUEUED, started_at__isnull=True, created_at__lt=since).order_by("pk"))
