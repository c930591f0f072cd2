"""/api/v1/me/watchlist/ and /api/v1/me/not-interested/."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from catalog.models import NotInterested, WatchlistItem
from catalog.services import rating_upsert
from tests.factories import MovieFactory, UserFactory
from tests.test_api_recommendations import token_client

WATCH = "/api/v1/me/watchlist/"
HIDDEN = "/api/v1/me/not-interested/"


@pytest.fixture
def client(user) -> APIClient:
    return token_client(user)


def test_watchlist_add_list_remove(client, user, db):
    first, second = MovieFactory(title="First"), MovieFactory(title="Second")
    added = client.post(WATCH, {"movie": first.pk}, format="json")
    assert added.status_code == 201
    assert added.json()["movie"]["title"] == "First" and added.json()["added_at"]
    assert client.post(WATCH, {"movie": first.pk}, format="json").status_code == 200  # idempotent: already there
    client.post(WATCH, {"movie": second.pk}, format="json")
    body = client.get(WATCH).json()
    assert body["count"] == 2
    assert [item["movie"]["title"] for item in body["results"]] == ["Second", "First"]
    assert client.delete(f"{WATCH}{first.pk}/").status_code == 204
    missing = client.delete(f"{WATCH}{first.pk}/")
    assert missing.status_code == 404 and "not on your watchlist" in missing.json()["error"]["message"]
    assert list(WatchlistItem.objects.filter(user=user).values_list("movie_id", flat=True)) == [second.pk]


def test_not_interested_removes_from_watchlist_and_from_recommendations(client, user, db):
    films = [MovieFactory() for _ in range(3)]
    client.post(WATCH, {"movie": films[0].pk}, format="json")
    assert client.post(HIDDEN, {"movie": films[0].pk}, format="json").status_code == 201
    assert client.get(WATCH).json()["count"] == 0
    assert [item["movie"]["id"] for item in client.get(HIDDEN).json()["results"]] == [films[0].pk]
    recs = client.get("/api/v1/me/recommendations/", {"k": 10}).json()["results"]
    assert films[0].pk not in {item["movie"]["id"] for item in recs}
    assert client.delete(f"{HIDDEN}{films[0].pk}/").status_code == 204
    assert not NotInterested.objects.filter(user=user).exists()


def test_rating_a_film_clears_not_interested(client, user, db):
    film = MovieFactory()
    client.post(HIDDEN, {"movie": film.pk}, format="json")
    rating_upsert(user=user, movie=film, value=4.0)
    assert client.get(HIDDEN).json()["count"] == 0


@pytest.mark.parametrize("url", [WATCH, HIDDEN])
def test_unknown_and_bad_ids(client, db, url):
    unknown = client.post(url, {"movie": 424242}, format="json")
    assert unknown.status_code == 404 and unknown.json()["error"]["message"] == "No film with id 424242."
    bad = client.post(url, {"movie": "x"}, format="json")
    assert bad.status_code == 400 and list(bad.json()["error"]["fields"]) == ["movie"]
    assert client.delete(f"{url}424242/").status_code == 404


@pytest.mark.parametrize("url", [WATCH, HIDDEN])
def test_lists_are_private(db, url):
    film = MovieFactory()
    owner, other = token_client(UserFactory(username="owner")), token_client(UserFactory(username="other"))
    owner.post(url, {"movie": film.pk}, format="json")
    assert other.get(url).json()["count"] == 0
    assert other.delete(f"{url}{film.pk}/").status_code == 404
    assert owner.get(url).json()["count"] == 1
    assert APIClient().get(url).status_code == 401


@pytest.mark.parametrize("url", [WATCH, HIDDEN])
def test_added_film_has_a_location(client, db, url):
    film = MovieFactory()
    added = client.post(url, {"movie": film.pk}, format="json")
    assert added.status_code == 201 and added["Location"] == f"http://testserver{url}{film.pk}/"
    assert "Location" not in client.post(url, {"movie": film.pk}, format="json")  # already listed: 200
    entry = client.get(added["Location"])  # the Location can be read
    assert entry.status_code == 200 and entry.json()["movie"]["id"] == film.pk
    client.delete(added["Location"])
    assert client.get(added["Location"]).status_code == 404
