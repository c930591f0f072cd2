"""POST /api/v1/me/ratings/bulk/: up to 500 ratings, all or nothing, with per-item errors."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from catalog.models import Movie, Rating
from catalog.services import rating_upsert
from recommendations.models import TrainingState
from tests.factories import MovieFactory
from tests.test_api_recommendations import token_client

URL = "/api/v1/me/ratings/bulk/"


@pytest.fixture
def client(user) -> APIClient:
    return token_client(user)


@pytest.fixture
def films(db) -> list[Movie]:
    return [MovieFactory() for _ in range(4)]


def snapshot(user) -> tuple:
    ratings = sorted(Rating.objects.filter(user=user).values_list("movie_id", "value", "updated_at"))
    movies = sorted(Movie.objects.values_list("pk", "rating_count", "rating_sum"))
    events = TrainingState.objects.singleton().values_list("events_since_training", flat=True).first()
    return ratings, movies, events


def test_bulk_creates_and_updates(client, user, films):
    rating_upsert(user=user, movie=films[0], value=1.0)
    items = [{"movie": films[0].pk, "rating": 4.5}, {"movie": films[1].pk, "rating": 3}, {"movie": films[2].pk, "rating": 5}]
    response = client.post(URL, {"ratings": items}, format="json")
    assert response.status_code == 200
    assert response.json() == {"count": 3, "created": 2, "updated": 1}
    assert dict(Rating.objects.filter(user=user).values_list("movie_id", "value")) == {
        films[0].pk: 4.5,
        films[1].pk: 3.0,
        films[2].pk: 5.0,
    }
    films[0].refresh_from_db()
    assert (films[0].rating_count, films[0].rating_sum) == (1, 4.5)


def test_one_bad_item_writes_nothing(client, user, films):
    rating_upsert(user=user, movie=films[0], value=2.0)
    before = snapshot(user)
    items = [
        {"movie": films[0].pk, "rating": 5.0},
        {"movie": films[1].pk, "rating": 4.0},
        {"movie": films[2].pk, "rating": 7.0},
        {"movie": films[3].pk, "rating": 3.5},
    ]
    response = client.post(URL, {"ratings": items}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ["ratings.2.rating"]
    assert "between 0.5 and 5.0" in error["fields"]["ratings.2.rating"][0]
    assert snapshot(user) == before


def test_every_bad_item_is_reported(client, user, films):
    items = [
        {"movie": films[0].pk, "rating": 4.2},
        {"movie": films[1].pk, "rating": 4.0},
        {"movie": "two", "rating": 4.0},
        {"rating": 4.0},
    ]
    error = client.post(URL, {"ratings": items}, format="json").json()["error"]
    assert set(error["fields"]) == {"ratings.0.rating", "ratings.2.movie", "ratings.3.movie"}
    assert not Rating.objects.exists()


def test_unknown_film_is_404_per_item_and_writes_nothing(client, user, films):
    before = snapshot(user)
    items = [{"movie": films[0].pk, "rating": 4.0}, {"movie": 999_999, "rating": 4.0}]
    response = client.post(URL, {"ratings": items}, format="json")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["message"] == "Unknown film id(s): 999999."
    assert error["fields"] == {"ratings.1.movie": ["No film with id 999999."]}
    assert snapshot(user) == before


def test_service_validation_error_maps_to_per_item_errors(client, user, films, monkeypatch):
    from catalog import services

    def refuse(*, user, items):
        raise services.BulkValidationError([services.BulkItemError(1, {"rating": ["refused by the service"]})])

    monkeypatch.setattr(services, "ratings_bulk_upsert", refuse)
    items = [{"movie": films[0].pk, "rating": 4.0}, {"movie": films[1].pk, "rating": 4.0}]
    error = client.post(URL, {"ratings": items}, format="json").json()["error"]
    assert error["fields"] == {"ratings.1.rating": ["refused by the service"]}


def test_a_film_listed_twice_takes_its_last_value(client, user, films):
    items = [{"movie": films[0].pk, "rating": 1.0}, {"movie": films[0].pk, "rating": 4.0}]
    assert client.post(URL, {"ratings": items}, format="json").json() == {"count": 1, "created": 1, "updated": 0}
    assert Rating.objects.get(user=user).value == 4.0


def test_500_items_pass_and_501_are_refused(client, user, db):
    Movie.objects.bulk_create([Movie(title=f"Bulk {i}", title_key=f"bulk {i}") for i in range(501)])
    ids = list(Movie.objects.order_by("pk").values_list("pk", flat=True))
    too_many = {"ratings": [{"movie": pk, "rating": 3.5} for pk in ids]}
    response = client.post(URL, too_many, format="json")
    assert response.status_code == 400
    assert "ratings" in response.json()["error"]["fields"]
    assert not Rating.objects.exists()
    ok = client.post(URL, {"ratings": too_many["ratings"][:500]}, format="json")
    assert ok.status_code == 200 and ok.json()["count"] == 500
    assert Rating.objects.filter(user=user).count() == 500


@pytest.mark.parametrize("payload", [{"ratings": []}, {"ratings": {"movie": 1}}, {}, {"ratings": None}])
def test_bad_shapes_are_400(client, films, payload):
    response = client.post(URL, payload, format="json")
    assert response.status_code == 400
    assert "ratings" in response.json()["error"]["fields"]


def test_bad_value_and_unknown_film_are_reported_together(client, user, films):
    before = snapshot(user)
    items = [{"movie": films[0].pk, "rating": 4}, {"movie": 99_999, "rating": 9}, {"movie": 99_998, "rating": 3}]
    response = client.post(URL, {"ratings": items}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "ratings.1.rating": ["A rating must be between 0.5 and 5.0 in steps of 0.5; got 9.0."],
        "ratings.1.movie": ["No film with id 99999."],
        "ratings.2.movie": ["No film with id 99998."],
    }
    assert snapshot(user) == before
