"""Delete confirmations count related rows instead of listing each one (catalog.admin.CountedDeleteMixin).

Django's default renders every related object: on ml-latest-small, deleting Forrest Gump made 341
queries (one per rating's user) and the bulk delete of the 100 most-rated films took 23 s and a
1.9 MB page. The summary still counts every row that goes, and the permission and protection
checks still hold.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import Credit, Movie, Person, Rating, WatchlistItem
from tests.factories import GenreFactory, MovieFactory, UserFactory


def rate(movie: Movie, users: int, start: int = 0) -> None:
    now = timezone.now()
    for i in range(start, start + users):
        Rating.objects.create(user=UserFactory(username=f"rater{i}"), movie=movie, value=4.0, created_at=now, updated_at=now)


def queries(client, url: str, data: dict | None = None, *, post: bool = False) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        response = (client.post if post else client.get)(url, data or {})
    assert response.status_code == 200, response.status_code
    return len(ctx.captured_queries), response.content.decode()


def same_queries_at_n_and_3n(grow: Callable[[int, int], None], measure: Callable[[], tuple[int, str]]) -> str:
    grow(0, 4)
    at_n, _ = measure()
    grow(4, 12)
    at_3n, page = measure()
    assert at_3n == at_n, f"{at_n} queries with N related rows, {at_3n} with 3N: one per row"
    return page


def test_a_films_delete_page_counts_its_ratings_in_a_fixed_number_of_queries(client, staff):
    movie = MovieFactory(title="Forrest Gump", year=1994, genres=[GenreFactory(name="Drama")])
    Credit.objects.create(movie=movie, person=Person.objects.create(name="Robert Zemeckis"), role="director")
    client.force_login(staff)
    url = reverse("admin:catalog_movie_delete", args=[movie.pk])

    page = same_queries_at_n_and_3n(lambda a, b: rate(movie, b - a, a), lambda: queries(client, url))

    assert "<li>Ratings: 12</li>" in page and "<li>Credits: 1</li>" in page and "<li>Movie-genre relationships: 1</li>" in page
    assert "rater3" not in page  # counted, not listed
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Movie.objects.filter(pk=movie.pk).exists() and not Rating.objects.exists() and not Credit.objects.exists()


def test_the_bulk_delete_of_films_names_each_film_and_counts_the_rest(client, staff):
    films = [MovieFactory(title=f"Film {i}") for i in range(3)]
    client.force_login(staff)
    url = reverse("admin:catalog_movie_changelist")
    form = {"action": "delete_selected", "_selected_action": [f.pk for f in films]}

    def grow(a: int, b: int) -> None:
        for film in films:
            rate(film, b - a, a + 100 * film.pk)

    page = same_queries_at_n_and_3n(grow, lambda: queries(client, url, form, post=True))

    assert "<li>Films: 3</li>" in page and "<li>Ratings: 36</li>" in page
    assert all(f">{film.title} (1999)</a>" in page for film in films)


def test_a_users_delete_page_counts_their_ratings_in_a_fixed_number_of_queries(client, staff):
    member = UserFactory(username="ml_414")
    client.force_login(staff)
    url = reverse("admin:accounts_user_delete", args=[member.pk])
    now = timezone.now()

    def grow(a: int, b: int) -> None:
        for i in range(a, b):
            Rating.objects.create(user=member, movie=MovieFactory(title=f"Rated {i}"), value=3.0, created_at=now, updated_at=now)

    page = same_queries_at_n_and_3n(grow, lambda: queries(client, url))
    assert "<li>Ratings: 12</li>" in page


def test_a_staff_member_who_may_not_delete_ratings_cannot_delete_a_rated_film(client, db):
    curator = UserFactory(username="curator", is_staff=True)
    curator.user_permissions.set(Permission.objects.filter(codename__in=["view_movie", "delete_movie", "delete_credit"]))
    movie = MovieFactory(title="Heat")
    rate(movie, 2)
    client.force_login(curator)
    url = reverse("admin:catalog_movie_delete", args=[movie.pk])

    page = client.get(url).content.decode()

    assert "have permission to delete the following types of objects" in page and "<li>rating</li>" in page
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Movie.objects.filter(pk=movie.pk).exists()


@pytest.mark.parametrize("extra_items", [0, 5])
def test_long_selections_are_named_up_to_a_limit(client, staff, extra_items):
    from catalog.admin import DELETE_LIST_LIMIT

    films = [MovieFactory(title=f"Film {i}") for i in range(DELETE_LIST_LIMIT + extra_items)]
    WatchlistItem.objects.create(user=staff, movie=films[0])
    client.force_login(staff)
    response = client.post(
        reverse("admin:catalog_movie_changelist"), {"action": "delete_selected", "_selected_action": [f.pk for f in films]}
    )
    page = response.content.decode()
    assert f"<li>Films: {len(films)}</li>" in page and "<li>Watchlist items: 1</li>" in page
    assert page.count("<li>Film: <a") == DELETE_LIST_LIMIT
    assert (f"… and {extra_items} more" in page) == bool(extra_items)
