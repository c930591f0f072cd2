"""The permission matrix: anonymous, owner, other user and staff, for every endpoint.

Anonymous users read the catalogue and ask; only the owner reads and writes
their ratings and lists (staff included: another user's data is a 404, never
shown); the model endpoints need staff with the admin's model-version permissions
(view to read, change to retrain), not staff status alone.
"""

from __future__ import annotations

import sys

import pytest
from rest_framework.test import APIClient

from catalog.models import NotInterested, Rating, WatchlistItem
from catalog.services import not_interested_add, rating_upsert, watchlist_add
from tests.factories import MovieFactory, UserFactory, model_permissions
from tests.test_api_recommendations import token_client

ROLES = ("anonymous", "owner", "other", "staff")

# (method, path, body, {role: expected status}); {film} is a film the owner rated and listed.
MATRIX = [
    ("get", "/api/v1/movies/", None, (200, 200, 200, 200)),
    ("get", "/api/v1/movies/{film}/", None, (200, 200, 200, 200)),
    ("get", "/api/v1/movies/{film}/similar/", None, (200, 200, 200, 200)),
    ("post", "/api/v1/ask/", {"text": "a quiet drama"}, (200, 200, 200, 200)),
    ("get", "/api/v1/health/", None, (200, 200, 200, 200)),
    ("get", "/api/v1/me/ratings/", None, (401, 200, 200, 200)),
    ("post", "/api/v1/me/ratings/", {"movie": "{film}", "rating": 3.5}, (401, 200, 201, 201)),
    ("get", "/api/v1/me/ratings/{film}/", None, (401, 200, 404, 404)),
    ("put", "/api/v1/me/ratings/{film}/", {"rating": 2.0}, (401, 200, 201, 201)),
    ("delete", "/api/v1/me/ratings/{film}/", None, (401, 204, 404, 404)),
    ("post", "/api/v1/me/ratings/bulk/", {"ratings": [{"movie": "{film}", "rating": 1.0}]}, (401, 200, 200, 200)),
    ("get", "/api/v1/me/watchlist/", None, (401, 200, 200, 200)),
    ("post", "/api/v1/me/watchlist/", {"movie": "{film}"}, (401, 200, 201, 201)),  # the owner has it already
    ("delete", "/api/v1/me/watchlist/{film}/", None, (401, 204, 404, 404)),
    ("get", "/api/v1/me/not-interested/", None, (401, 200, 200, 200)),
    ("post", "/api/v1/me/not-interested/", {"movie": "{film}"}, (401, 201, 201, 201)),
    ("delete", "/api/v1/me/not-interested/{film}/", None, (401, 204, 404, 404)),
    ("get", "/api/v1/me/recommendations/", None, (401, 200, 200, 200)),
    ("delete", "/api/v1/auth/token/", None, (401, 204, 204, 204)),
    ("get", "/api/v1/models/", None, (401, 403, 403, 200)),
    ("post", "/api/v1/models/", None, (401, 403, 403, 503)),
    ("get", "/api/v1/models/{version}/", None, (401, 403, 403, 200)),
    ("get", "/api/v1/models/tasks/task-1/", None, (401, 403, 403, 200)),
]


@pytest.fixture
def world(db, monkeypatch) -> dict:
    from recommendations.models import ModelVersion

    monkeypatch.setitem(sys.modules, "recommendations.training", None)  # retraining: 503 for staff
    owner, other = UserFactory(username="owner"), UserFactory(username="other")
    staff = UserFactory(username="boss", is_staff=True)
    staff.user_permissions.add(*model_permissions("view", "change"))
    film = MovieFactory(title="Owned")
    rating_upsert(user=owner, movie=film, value=4.0)
    watchlist_add(user=owner, movie=film)
    hidden = MovieFactory(title="Hidden")
    not_interested_add(user=owner, movie=hidden)
    version = ModelVersion.objects.create(task_id="task-1")
    return {"owner": owner, "other": other, "staff": staff, "film": film, "hidden": hidden, "version": version}


def fill(value, world: dict):
    if isinstance(value, str):
        filled = value.replace("{version}", str(world["version"].pk))
        filled = filled.replace("{film}", str(world["film"].pk))
        return int(filled) if value == "{film}" else filled
    if isinstance(value, dict):
        return {k: fill(v, world) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, world) for v in value]
    return value


def client_for(role: str, world: dict) -> APIClient:
    return APIClient() if role == "anonymous" else token_client(world[role])


@pytest.mark.parametrize(("method", "path", "body", "expected"), MATRIX, ids=[f"{m.upper()} {p}" for m, p, _, _ in MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(world, role, method, path, body, expected):
    if "not-interested/{film}" in path:
        path = path.replace("{film}", str(world["hidden"].pk))
    url, data = fill(path, world), fill(body, world)
    send = getattr(client_for(role, world), method)
    response = send(url, data, format="json") if data is not None else send(url)
    assert response.status_code == expected[ROLES.index(role)], response.content[:300]
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_owner_data_never_leaks_to_other_users_or_staff(world):
    owner_film = world["film"].pk
    for role in ("other", "staff"):
        client = client_for(role, world)
        for path in ("/api/v1/me/ratings/", "/api/v1/me/watchlist/", "/api/v1/me/not-interested/"):
            assert client.get(path).json()["count"] == 0, (role, path)
        client.delete(f"/api/v1/me/ratings/{owner_film}/")
        client.delete(f"/api/v1/me/watchlist/{owner_film}/")
    assert Rating.objects.filter(user=world["owner"]).count() == 1
    assert WatchlistItem.objects.filter(user=world["owner"]).count() == 1
    assert NotInterested.objects.filter(user=world["owner"]).count() == 1
    owner = client_for("owner", world)
    assert owner.get("/api/v1/me/ratings/").json()["results"][0]["movie"]["id"] == owner_film


@pytest.mark.parametrize(("granted", "expected"), [((), (403, 403, 403)), (("view",), (200, 200, 403))])
def test_model_endpoints_need_the_admins_permissions_not_just_staff(world, granted, expected):
    # A staff account that may only curate films is refused here, as the admin refuses it.
    curator = UserFactory(username="curator", is_staff=True)
    curator.user_permissions.add(*model_permissions(*granted))
    client = token_client(curator)
    version = world["version"].pk
    got = (client.get("/api/v1/models/").status_code, client.get(f"/api/v1/models/{version}/").status_code, client.post("/api/v1/models/").status_code)
    assert got == expected
    assert client.get("/api/v1/models/tasks/task-1/").status_code == expected[0]
