"""Ratings in the admin keep each film's rating_count and rating_sum right.

Before, the admin deleted and edited Rating rows directly: on ml-latest-small, deleting a rating of
Forrest Gump left its rating_count at 329 with 328 ratings, editing a rating of Shawshank left
rating_sum 4.5 too high, and deleting one MovieLens user left 232 films counting a rating that
was gone. Deletes now go through catalog.services.rating_delete; ratings are not added or edited.
"""

from __future__ import annotations

from django.db.models import Count, Sum
from django.urls import reverse

from catalog.models import Movie, Rating
from catalog.services import rating_upsert
from recommendations.models import TrainingState
from tests.factories import MovieFactory, UserFactory


def counters_match_ratings() -> bool:
    for movie in Movie.objects.annotate(n=Count("ratings"), total=Sum("ratings__value")):
        if (movie.rating_count, movie.rating_sum) != (movie.n, movie.total or 0.0):
            return False
    return True


def rated_films(*users) -> list[Movie]:
    films = [MovieFactory(title=f"Film {i}") for i in range(3)]
    for user in users:
        for n, film in enumerate(films):
            rating_upsert(user=user, movie=film, value=2.0 + n)
    return films


def test_deleting_a_rating_in_the_admin_updates_the_films_counters(client, staff):
    fan, other = UserFactory(username="fan"), UserFactory(username="other")
    films = rated_films(fan, other)
    events = TrainingState.load().events_since_training
    client.force_login(staff)

    rating = Rating.objects.get(user=fan, movie=films[0])
    assert client.post(reverse("admin:catalog_rating_delete", args=[rating.pk]), {"post": "yes"}).status_code == 302
    selected = list(Rating.objects.filter(user=other).values_list("pk", flat=True)[:2])
    client.post(reverse("admin:catalog_rating_changelist"), {"action": "delete_selected", "_selected_action": selected, "post": "yes"})

    assert Rating.objects.count() == 3 and counters_match_ratings()
    assert TrainingState.load().events_since_training == events + 3  # the retraining counter sees them too


def test_ratings_are_not_added_or_edited_in_the_admin(client, staff):
    fan = UserFactory(username="fan")
    film = rated_films(fan)[0]
    rating = Rating.objects.get(user=fan, movie=film)
    client.force_login(staff)

    assert client.get(reverse("admin:catalog_rating_add")).status_code == 403
    form = {"user": fan.pk, "movie": film.pk, "value": "0.5", "created_at_0": "2020-01-01", "created_at_1": "00:00:00",
            "updated_at_0": "2020-01-01", "updated_at_1": "00:00:00"}  # fmt: skip
    client.post(reverse("admin:catalog_rating_change", args=[rating.pk]), form)

    assert Rating.objects.get(pk=rating.pk).value == 2.0 and counters_match_ratings()
    page = client.get(reverse("admin:catalog_rating_change", args=[rating.pk])).content.decode()
    assert "View rating" in page and 'name="_save"' not in page


def test_deleting_users_in_the_admin_updates_the_counters_of_the_films_they_rated(client, staff):
    gone, also_gone, stays = UserFactory(username="ml_1"), UserFactory(username="ml_2"), UserFactory(username="ml_3")
    rated_films(gone, also_gone, stays)
    client.force_login(staff)

    assert client.post(reverse("admin:accounts_user_delete", args=[gone.pk]), {"post": "yes"}).status_code == 302
    client.post(reverse("admin:accounts_user_changelist"), {"action": "delete_selected", "_selected_action": [also_gone.pk], "post": "yes"})

    assert set(Rating.objects.values_list("user__username", flat=True)) == {"ml_3"}
    assert counters_match_ratings() and set(Movie.objects.values_list("rating_count", flat=True)) == {1}


def test_the_ratings_list_counts_the_table_once(client, staff):
    """No second count of the whole table for "(N total)": at 32M ratings (ml-32m) each is a full scan."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fan = UserFactory(username="fan")
    rated_films(fan)
    client.force_login(staff)
    for params in ({}, {"value__exact": "2.0"}, {"q": "fan"}):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("admin:catalog_rating_changelist"), params).status_code == 200
        counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"] and "catalog_rating" in q["sql"]]
        assert len(counts) == 1, counts
