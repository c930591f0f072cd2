"""No N+1 queries: every list page and API list makes as many queries for 3N rows as for N.

Each page is measured cold (fresh serving bundle, empty cache) at N and at 3N rows (films,
ratings, list items), with a promoted model (random vectors and a collaborative artifact)
covering all the films. The film-card cache is off, so every film list is really fetched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import Credit, Genre, Movie, NotInterested, Person, Rating, WatchlistItem
from recommendations import engine, services, store
from recommendations.collab_store import ratings_arrays, train_collab
from tests.factories import UserFactory, random_embedding_version

N = 6
MAX_QUERIES = 40  # a ceiling against regressions (the cold home page makes 37); the real check is N vs 3N


def grow(user, other, start: int, stop: int) -> None:
    """Films start..stop-1 with genres and credits; the user rates every 2nd, lists some others."""
    genres = [Genre.objects.get_or_create(name=name)[0] for name in ("Drama", "Comedy", "Crime")]
    now = timezone.now() - timedelta(days=90)  # no "recent" ratings: trending takes the same path at N and 3N
    for i in range(start, stop):
        movie = Movie.objects.create(title=f"Film {i}", year=1950 + i, overview=f"Story {i}.")
        movie.genres.set([genres[i % 3], genres[(i + 1) % 3]])
        for role, name in ((Credit.Role.DIRECTOR, f"Director {i}"), (Credit.Role.CAST, f"Actor {i}")):
            Credit.objects.create(movie=movie, person=Person.objects.create(name=name), role=role)
        Rating.objects.create(user=other, movie=movie, value=3.5, created_at=now, updated_at=now)
        if i % 2 == 0:  # three favourites already at N: the home page's "because you liked" rows are full
            value = 2.0 if i % 8 == 6 else 4.5
            Rating.objects.create(user=user, movie=movie, value=value, created_at=now, updated_at=now)
        elif i % 8 == 1:
            WatchlistItem.objects.create(user=user, movie=movie)
        elif i % 8 == 3:
            NotInterested.objects.create(user=user, movie=movie)
        Movie.objects.filter(pk=movie.pk).update(rating_count=1 + (i % 2 == 0), rating_sum=3.5)


def promote_model(seed: int) -> None:
    """Random unit vectors for every film and EASE on the ratings, promoted; serving caches cold."""
    version = random_embedding_version(seed, dim=16)
    users, movies, _values, _stamps = ratings_arrays()
    version.collab_path = train_collab(version.pk, users, movies, lam=100.0)["path"]
    version.save()
    services.model_version_promote(version)
    store.reset_cache()
    cache.clear()


@pytest.fixture
def world(db, client, monkeypatch):
    monkeypatch.setattr(engine, "FILM_CACHE_SECONDS", 0.0)
    user, other = UserFactory(), UserFactory()
    client.force_login(user)
    return user, other


def _rows(response) -> int:
    """How many rows a page or an API list shows (to prove that 3N really shows more)."""
    if response["Content-Type"].startswith("application/json"):
        return len(response.json()["results"])
    return response.content.decode().count('class="card"') + response.content.decode().count("<tr>")


PAGES: dict[str, Callable[[], str]] = {
    "browse": lambda: "/films/",
    "detail": lambda: f"/films/{Movie.objects.order_by('pk').first().pk}/",
    "home": lambda: "/",
    "profile": lambda: "/accounts/profile/",
    "my lists": lambda: "/me/",
    "api movies": lambda: "/api/v1/movies/?page_size=100",
    "api similar": lambda: f"/api/v1/movies/{Movie.objects.order_by('pk').first().pk}/similar/?k=100",
    "api my ratings": lambda: "/api/v1/me/ratings/?page_size=100",
    "api my watchlist": lambda: "/api/v1/me/watchlist/?page_size=100",
    "api my not-interested": lambda: "/api/v1/me/not-interested/?page_size=100",
    "api my recommendations": lambda: "/api/v1/me/recommendations/?k=100",
}


@pytest.mark.parametrize("page", list(PAGES))
def test_query_count_does_not_grow_with_rows(page, world, client, django_assert_num_queries, django_assert_max_num_queries):
    user, other = world
    grow(user, other, 0, N)
    promote_model(seed=1)
    url = PAGES[page]()
    with CaptureQueriesContext(connection) as small:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    small_rows = _rows(response)

    grow(user, other, N, 3 * N)
    promote_model(seed=2)
    with django_assert_num_queries(len(small.captured_queries)), django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(url)
    assert response.status_code == 200
    if page != "detail":  # one film; its similar films grow instead
        assert _rows(response) > small_rows, "3N rows should show more rows than N"
