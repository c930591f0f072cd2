"""Plain-dict renderings of the API's hottest responses.

DRF's nested serializers cost ~1 ms for 20 scored films (field objects, OrderedDicts, a
to_representation call per field), several times what the rest of a cached recommendations
request costs. These functions build the same JSON by hand; the serializers stay the schema's
source of truth, and tests/test_api_payloads.py checks that both give identical output.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from rest_framework.fields import DateTimeField

from catalog.models import Movie, Rating
from recommendations.ids import as_key

_datetime_field = DateTimeField()


def genre_list(movie: Movie) -> list[dict[str, str]]:
    """Genres in the serializer's shape, from the prefetch cache when there is one."""
    return [{"name": g.name, "slug": g.slug} for g in movie.genres.all()]


def movie_brief(movie: Movie, genres: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """The film card. Without ``genres`` it is built once per instance and kept on it: the
    serving film cache shares instances across requests, and reading genres through the
    related manager (~25 us per film) was most of what was left of a cached request."""
    if genres is not None:
        return _card(movie, genres)
    brief = movie.__dict__.get("_api_brief")
    if brief is None:
        brief = movie.__dict__["_api_brief"] = _card(movie, genre_list(movie))
    return brief


def _card(movie: Movie, genres: list[dict[str, str]]) -> dict[str, Any]:
    """``MovieBriefSerializer``'s fields, all from the film's row: no query."""
    return {
        "id": movie.pk,
        "title": movie.title,
        "year": movie.year,
        "genres": genres,
        "rating_avg": movie.rating_avg,
        "rating_count": movie.rating_count,
        "poster_url": movie.poster_url,
    }


def _finite(value: float) -> float:
    number = float(value)
    return number if math.isfinite(number) else 0.0


def scored_movie(rec: Any) -> dict[str, Any]:
    """One recommendation (``recommendations.engine.Rec``) as ``ScoredMovieSerializer`` renders it."""
    return {
        "movie": movie_brief(rec.movie),
        "score": _finite(rec.score),
        "why": str(rec.why),
        "because": [as_key(m) for m in rec.because],  # int, or an ObjectId (the renderer writes its hex)
        "model_version": rec.version_id,
    }


def scored_movies(recs: list[Any]) -> list[dict[str, Any]]:
    return [scored_movie(rec) for rec in recs]


def timestamp(value: datetime | None) -> str | None:
    return None if value is None else _datetime_field.to_representation(value)


def rating(rating: Rating, movie: Movie, genres: list[dict[str, str]]) -> dict[str, Any]:
    """A saved rating as ``RatingSerializer`` renders it, with the film's genres passed in."""
    return {
        "movie": movie_brief(movie, genres),
        "rating": float(rating.value),
        "created_at": timestamp(rating.created_at),
        "updated_at": timestamp(rating.updated_at),
    }
