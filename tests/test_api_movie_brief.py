"""The film card (MovieBrief) inside ratings, lists and recommendations: poster and rating summary, no extra queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Movie, WatchlistItem
from catalog.services import rating_upsert
from tests.factories import MovieFactory, UserFactory
from tests.test_api_recommendations import token_client

CARD = {"id", "title", "year", "genres", "rating_avg", "rating_count", "poster_url"}


@pytest.fixture
def heat(db) -> Movie:
    movie = MovieFactory(title="Heat", poster_url="https://img.example/heat.jpg")
    rating_upsert(user=UserFactory(), movie=movie, value=5.0)
    return movie


def test_rating_answer_carries_the_card_after_the_write(user, heat):
    body = token_client(user).post("/api/v1/me/ratings/", {"movie": heat.pk, "rating": 4.0}, format="json").json()
    assert set(body["movie"]) == CARD
    assert body["movie"]["poster_url"] == "https://img.example/heat.jpg"
    assert (body["movie"]["rating_count"], body["movie"]["rating_avg"]) == (2, 4.5)  # this rating included


def test_list_cards_cost_no_query_per_film(user, db):
    client = token_client(user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            body = client.get("/api/v1/me/watchlist/").json()
        assert all(set(item["movie"]) == CARD for item in body["results"])
        return len(ctx.captured_queries)

    WatchlistItem.objects.create(user=user, movie=MovieFactory())
    one = queries()
    for _ in range(4):
        WatchlistItem.objects.create(user=user, movie=MovieFactory(poster_url="https://img.example/p.jpg"))
    assert queries() == one
