"""The onboarding set: popular films spread across genres and decades, or a search."""

from __future__ import annotations

from catalog.models import Movie
from catalog.selectors import MovieFilters, movie_base_queryset, movie_list

MIN_RATINGS = 5


def onboarding_films(user, *, q: str = "", k: int = 24) -> list[Movie]:
    if q:
        return list(movie_list(MovieFilters(q=q))[:k])
    favourite = list(user.favourite_genres.values_list("pk", flat=True))
    # Suggestions leave out films already rated (a search still finds them, to change a rating).
    rated = set(user.ratings.values_list("movie_id", flat=True))
    pool = [m for m in movie_base_queryset().order_by("-rating_count", "title")[: k * 8 + len(rated)] if m.pk not in rated]
    picked: list[Movie] = []
    genre_counts: dict[int, int] = {}
    decade_counts: dict[int, int] = {}
    # Greedy diversity: prefer favourite genres, cap each genre and decade.
    pool.sort(key=lambda m: (not any(g.pk in favourite for g in m.genres.all()), -m.rating_count))
    for cap in (2, 4, 1000):
        for movie in pool:
            if movie in picked:
                continue
            genres = [g.pk for g in movie.genres.all()][:1] or [0]
            decade = movie.decade or 0
            if genre_counts.get(genres[0], 0) >= cap or decade_counts.get(decade, 0) >= cap * 2:
                continue
            picked.append(movie)
            genre_counts[genres[0]] = genre_counts.get(genres[0], 0) + 1
            decade_counts[decade] = decade_counts.get(decade, 0) + 1
            if len(picked) == k:
                return picked
    return picked
