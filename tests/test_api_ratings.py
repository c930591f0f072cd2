"""/api/v1/me/ratings/: list, upsert by film, one film's rating, delete; limits and error shapes."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from catalog.models import Movie, Rating
from tests.factories import MovieFactory
from tests.test_api_recommendations import token_client

URL = "/api/v1/me/ratings/"


@pytest.fixture
def client(user) -> APIClient:
    return token_client(user)


@pytest.fixture
def heat(db) -> Movie:
    return MovieFactory(title="Heat", year=1995)


def test_create_then_update_is_an_upsert(client, user, heat):
    created = client.post(URL, {"movie": heat.pk, "rating": 4.5}, format="json")
    assert created.status_code == 201
    assert created.json()["movie"]["id"] == heat.pk and created.json()["rating"] == 4.5
    updated = client.post(URL, {"movie": heat.pk, "rating": 3}, format="json")
    assert updated.status_code == 200 and updated.json()["rating"] == 3.0
    assert Rating.objects.filter(user=user).count() == 1
    heat.refresh_from_db()
    assert (heat.rating_count, heat.rating_avg) == (1, 3.0)


def test_list_is_newest_first_and_only_mine(client, user, heat, django_user_model):
    other_film = MovieFactory(title="Ronin")
    client.put(f"{URL}{heat.pk}/", {"rating": 4}, format="json")
    client.put(f"{URL}{other_film.pk}/", {"rating": 2.5}, format="json")
    token_client(django_user_model.objects.create(username="someone")).post(
        URL, {"movie": heat.pk, "rating": 1}, format="json"
    )
    body = client.get(URL).json()
    assert body["count"] == 2
    assert [(r["movie"]["title"], r["rating"]) for r in body["results"]] == [("Ronin", 2.5), ("Heat", 4.0)]


def test_one_films_rating_put_get_delete(client, heat):
    url = f"{URL}{heat.pk}/"
    assert client.get(url).status_code == 404
    assert client.put(url, {"rating": 5}, format="json").status_code == 201
    assert client.put(url, {"rating": 0.5}, format="json").status_code == 200
    assert client.get(url).json()["rating"] == 0.5
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    missing = client.delete(url)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    heat.refresh_from_db()
    assert heat.rating_count == 0


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({"movie": 1, "rating": 4.3}, {"rating"}),
        ({"movie": 1, "rating": 5.5}, {"rating"}),
        ({"movie": 1, "rating": 0}, {"rating"}),
        ({"movie": 1, "rating": "4.5"}, {"rating"}),
        ({"movie": 1, "rating": True}, {"rating"}),
        ({"movie": 1, "rating": None}, {"rating"}),
        ({"movie": "1", "rating": 4}, {"movie"}),
        ({"movie": 1.0, "rating": 4}, {"movie"}),
        ({"movie": -3, "rating": 4}, {"movie"}),
        ({}, {"movie", "rating"}),
        ([1, 2], {"non_field_errors"}),
    ],
)
def test_bad_input_gives_400_with_field_messages(client, heat, payload, fields):
    if isinstance(payload, dict) and payload.get("movie") == 1 and type(payload["movie"]) is int:
        payload = {**payload, "movie": heat.pk}
    response = client.post(URL, payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["fields"]) == fields
    assert all(isinstance(m, str) and m for messages in error["fields"].values() for m in messages)
    assert not Rating.objects.exists()


def test_rating_message_explains_the_rule(client, heat):
    error = client.post(URL, {"movie": heat.pk, "rating": 4.3}, format="json").json()["error"]
    assert "between 0.5 and 5.0 in steps of 0.5" in error["fields"]["rating"][0]


def test_unknown_film_is_404(client):
    response = client.post(URL, {"movie": 987654, "rating": 4}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No film with id 987654."
    assert client.put(f"{URL}987654/", {"rating": 4}, format="json").status_code == 404


def test_malformed_json_is_400(client):
    for body in ('{"movie": 1, "rating": ', '{"rating": NaN, "movie": 1}', "[" * 100_000):
        response = client.generic("POST", URL, body, content_type="application/json")
        assert response.status_code == 400, body[:20]
        assert response.json()["error"]["code"] == "parse_error"


def test_not_json_is_415(client, heat):
    response = client.post(URL, {"movie": heat.pk, "rating": 4}, format="multipart")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_oversized_body_is_413_in_the_error_shape(client, heat):
    body = json.dumps({"movie": heat.pk, "rating": 4, "padding": "x" * 2000})
    response = client.generic("POST", URL, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not Rating.objects.exists()


def test_anonymous_cannot_read_or_write(heat):
    client = APIClient()
    for response in (client.get(URL), client.post(URL, {"movie": heat.pk, "rating": 4}, format="json")):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


def test_bad_token_is_401(heat):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"] == {"code": "authentication_failed", "message": "Invalid token.", "fields": {}}


def test_session_auth_works_for_the_sites_javascript(user, heat):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(URL).status_code == 200
    refused = client.post(URL, {"movie": heat.pk, "rating": 4}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    client.get("/")  # the site sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    ok = client.post(URL, {"movie": heat.pk, "rating": 4}, format="json", HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 201


def test_created_rating_has_a_location(client, heat):
    created = client.post(URL, {"movie": heat.pk, "rating": 4.5}, format="json")
    assert created["Location"] == f"http://testserver{URL}{heat.pk}/"
    assert client.get(created["Location"]).json()["rating"] == 4.5
    assert "Location" not in client.post(URL, {"movie": heat.pk, "rating": 3}, format="json")  # an update


def test_rating_created_by_put_has_a_location(client, heat):
    created = client.put(f"{URL}{heat.pk}/", {"rating": 4.5}, format="json")
    assert created.status_code == 201 and created["Location"] == f"http://testserver{URL}{heat.pk}/"
    assert "Location" not in client.put(f"{URL}{heat.pk}/", {"rating": 3}, format="json")
