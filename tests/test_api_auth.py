"""/api/v1/auth/token/: obtain a token with a password, use it, revoke it."""

from __future__ import annotations

import pytest
from django.conf import settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory

URL = "/api/v1/auth/token/"
PASSWORD = "a-long-test-password-1"  # tests.factories.UserFactory's


def test_obtain_use_and_revoke(user):
    client = APIClient()
    response = client.post(URL, {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert response.json()["username"] == user.username
    assert Token.objects.get(user=user).key == token
    again = client.post(URL, {"username": user.username, "password": PASSWORD}, format="json").json()["token"]
    assert again == token

    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/me/ratings/").status_code == 200
    assert client.delete(URL).status_code == 204
    assert not Token.objects.filter(user=user).exists()
    refused = client.get("/api/v1/me/ratings/")
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "Invalid token."

    client.credentials()
    fresh = client.post(URL, {"username": user.username, "password": PASSWORD}, format="json").json()["token"]
    assert fresh != token


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "nobody", "password": PASSWORD},
        {"username": "USER", "password": "wrong"},
        {"username": "USER", "password": PASSWORD + "\x00"},
    ],
)
def test_wrong_credentials_are_401(user, credentials):
    if credentials["username"] == "USER":
        credentials = {**credentials, "username": user.username}
    response = APIClient().post(URL, credentials, format="json")
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "authentication_failed",
        "message": "Unable to log in with the provided credentials.",
        "fields": {},
    }
    assert not Token.objects.exists()


def test_inactive_user_gets_no_token(db):
    UserFactory(username="gone", is_active=False)
    response = APIClient().post(URL, {"username": "gone", "password": PASSWORD}, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("payload", "fields"),
    [({}, {"username", "password"}), ({"username": "a", "password": 5}, {"password"}), ({"username": "", "password": "x"}, {"username"})],
)
def test_missing_or_bad_fields_are_400(db, payload, fields):
    response = APIClient().post(URL, payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == fields


def test_revoking_needs_authentication(db):
    response = APIClient().delete(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_session_user_can_revoke(user):
    Token.objects.create(user=user)
    client = APIClient()
    client.force_login(user)
    assert client.delete(URL).status_code == 204
    assert not Token.objects.exists()


@pytest.mark.skipif("axes" not in settings.INSTALLED_APPS, reason="django-axes not configured")
def test_repeated_failures_lock_out_with_429_in_the_error_shape(user):
    client = APIClient()
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [
        client.post(URL, {"username": user.username, "password": "wrong"}, format="json").status_code
        for _ in range(limit + 1)
    ]
    assert statuses[: limit - 1] == [401] * (limit - 1)
    assert statuses[-1] == 429
    response = client.post(URL, {"username": user.username, "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "throttled"
    assert "Retry-After" in response
