"""Session-cookie writes need the CSRF token, and the schema says so."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import MovieFactory
from tests.test_api_schema import schema  # noqa: F401  (the fixture)

WRITES = [
    ("/api/v1/me/ratings/", "post"),
    ("/api/v1/me/ratings/{movie_id}/", "put"),
    ("/api/v1/me/ratings/{movie_id}/", "delete"),
    ("/api/v1/me/ratings/bulk/", "post"),
    ("/api/v1/me/watchlist/", "post"),
    ("/api/v1/me/watchlist/{movie_id}/", "delete"),
    ("/api/v1/me/not-interested/", "post"),
    ("/api/v1/me/not-interested/{movie_id}/", "delete"),
]


def test_cookie_scheme_documents_the_csrf_header(schema):  # noqa: F811
    description = schema["components"]["securitySchemes"]["cookieAuth"]["description"]
    assert "X-CSRFToken" in description and "403" in description


@pytest.mark.parametrize(("path", "method"), WRITES)
def test_me_writes_document_the_csrf_403(schema, path, method):  # noqa: F811
    response = schema["paths"][path][method]["responses"]["403"]
    assert "X-CSRFToken" in response["description"]
    assert response["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"


def test_session_write_without_csrf_token_is_the_documented_403(user, db):
    film = MovieFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/v1/me/ratings/", {"movie": film.pk, "rating": 4}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert response.json()["error"]["message"].startswith("CSRF Failed")


def test_session_write_with_the_csrf_header_passes(user, db):
    film = MovieFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.cookies["csrftoken"] = secret = "a" * 32
    response = client.post("/api/v1/me/ratings/", {"movie": film.pk, "rating": 4}, format="json", HTTP_X_CSRFTOKEN=secret)
    assert response.status_code == 201
