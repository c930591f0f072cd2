"""Caching headers of the catalogue API: answers depend on the caller, so caches must keep them apart."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from catalog.models import Movie
from tests.factories import MovieFactory, UserFactory
from tests.test_api_recommendations import random_model, token_client


@pytest.fixture
def heat(db) -> Movie:
    return MovieFactory(title="Heat")


def vary(response) -> set[str]:
    return {v.strip().lower() for v in response.get("Vary", "").split(",") if v.strip()}


def test_token_answer_is_private(user, heat):
    response = token_client(user).get(f"/api/v1/movies/{heat.pk}/")
    assert "private" in response["Cache-Control"]


def test_token_answer_varies_on_authorization_and_cookie(user, heat):
    response = token_client(user).get(f"/api/v1/movies/{heat.pk}/")
    assert {"authorization", "cookie"} <= vary(response)


def test_session_answer_is_private(client, user, heat):
    client.force_login(user)
    assert "private" in client.get("/api/v1/me/ratings/")["Cache-Control"]


def test_anonymous_answer_varies_on_credentials_but_is_not_private(heat):
    response = APIClient().get(f"/api/v1/movies/{heat.pk}/")
    assert {"authorization", "cookie"} <= vary(response)
    assert "private" not in response.get("Cache-Control", "")


def test_recommendations_and_ask_are_private_to_the_caller(db):
    MovieFactory.create_batch(3)
    random_model()
    client = token_client(UserFactory())
    for response in (client.get("/api/v1/me/recommendations/"), client.post("/api/v1/ask/", {"text": ""}, format="json")):
        assert response.status_code == 200
        assert "private" in response["Cache-Control"] and {"authorization", "cookie"} <= vary(response)
