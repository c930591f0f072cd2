"""GET /api/v1/me/recommendations/: k, genre and decade; score, why and model version on each item.

Also home of the small helpers other API tests share: a random (TF-free)
embedding model made active, and a fake text encoder for ask().
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from rest_framework.test import APIClient

from catalog.models import Movie
from catalog.services import rating_upsert
from recommendations import services
from recommendations.models import ModelVersion
from tests.factories import GenreFactory, MovieFactory, random_embedding_version

URL = "/api/v1/me/recommendations/"
DIM = 384


def random_model(seed: int = 0) -> ModelVersion:
    """An active model over every film in the DB, with random unit vectors: no TensorFlow."""
    return services.model_version_promote(random_embedding_version(seed, DIM))


class FakeEncoder:
    """Deterministic unit vectors from the text's hash, in place of MiniLM."""

    dim = DIM

    def embed(self, texts, **_kwargs) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8", "replace")).digest()[:8], "little")
            vec = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
            rows.append(vec / np.linalg.norm(vec))
        return np.stack(rows) if rows else np.zeros((0, DIM), np.float32)


def use_fake_encoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("recommendations.ask.get_encoder", lambda _path="": FakeEncoder())


def token_client(user) -> APIClient:
    from rest_framework.authtoken.models import Token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def films(db) -> list[Movie]:
    drama, comedy = GenreFactory(name="Drama"), GenreFactory(name="Comedy")
    out = []
    for i in range(30):
        movie = MovieFactory(title=f"Picture {i}", year=1950 + 2 * i, genres=[drama if i % 2 else comedy])
        out.append(movie)
    return out


@pytest.fixture
def client(user) -> APIClient:
    return token_client(user)


def test_anonymous_gets_401_in_the_error_shape(db):
    response = APIClient().get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "not_authenticated"


def test_without_a_model_it_falls_back_to_popularity(client, user, films):
    rating_upsert(user=user, movie=films[0], value=4.0)
    body = client.get(URL, {"k": 5}).json()
    assert body["fallback"] is True and body["model_version"] is None
    assert len(body["results"]) == 5
    assert films[0].pk not in [item["movie"]["id"] for item in body["results"]]
    assert all(item["model_version"] is None and item["why"] for item in body["results"])


def test_items_carry_score_why_and_model_version(client, user, films):
    version = random_model()
    for movie in films[:3]:
        rating_upsert(user=user, movie=movie, value=5.0)
    body = client.get(URL, {"k": 7}).json()
    assert body == {**body, "fallback": False, "model_version": version.pk}
    items = body["results"]
    assert len(items) == 7
    rated = {m.pk for m in films[:3]}
    for item in items:
        assert item["movie"]["id"] not in rated
        assert item["model_version"] == version.pk
        assert item["why"]
        assert set(item["because"]) <= rated
        assert isinstance(item["score"], float)
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)


def test_genre_and_decade_filters(client, user, films):
    random_model()
    rating_upsert(user=user, movie=films[0], value=4.5)
    items = client.get(URL, {"k": 100, "genre": "drama", "decade": 1960}).json()["results"]
    assert items, "some dramas of the 1960s exist"
    for item in items:
        assert item["movie"]["year"] // 10 * 10 == 1960
        assert [g["slug"] for g in item["movie"]["genres"]] == ["drama"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"k": 0}, "k"), ({"k": 101}, "k"), ({"k": "ten"}, "k"), ({"decade": 1995}, "decade"), ({"decade": "x"}, "decade"),
        ({"genre": "nosuch"}, "genre"),
    ],
)
def test_bad_parameters_give_400_with_the_field(client, films, params, field):
    response = client.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_k_of_100_is_allowed(client, films):
    random_model()
    body = client.get(URL, {"k": 100}).json()
    assert len(body["results"]) == len(films)


def test_genre_by_name_is_accepted(client, user, films):
    random_model()
    rating_upsert(user=user, movie=films[0], value=4.5)
    by_slug = client.get(URL, {"k": 5, "genre": "drama"}).json()["results"]
    assert by_slug and client.get(URL, {"k": 5, "genre": "Drama"}).json()["results"] == by_slug
