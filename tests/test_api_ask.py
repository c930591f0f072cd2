"""POST /api/v1/ask/: plain words in, catalogue films with explanations out; anyone may ask."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from catalog.services import rating_upsert
from tests.factories import GenreFactory, MovieFactory
from tests.test_api_recommendations import random_model, token_client, use_fake_encoder

URL = "/api/v1/ask/"


@pytest.fixture
def films(db) -> dict:
    comedy, crime = GenreFactory(name="Comedy"), GenreFactory(name="Crime")
    out = {"heat": MovieFactory(title="Heat", year=1995, genres=[crime])}
    for i in range(12):
        out[f"crime{i}"] = MovieFactory(title=f"Crime story {i}", year=1980 + i, genres=[crime])
        out[f"comedy{i}"] = MovieFactory(title=f"Funny business {i}", year=1980 + i, genres=[comedy])
    return out


def test_without_a_model_the_answer_is_empty_with_a_note(films):
    response = APIClient().post(URL, {"text": "something like Heat"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [] and body["model_version"] is None
    assert body["note"] == "The recommendation model is not ready yet."


def test_anonymous_ask_returns_films_with_explanations(films, monkeypatch):
    use_fake_encoder(monkeypatch)
    version = random_model()
    response = APIClient().post(URL, {"text": "I liked Heat, something from the 80s but not a comedy", "k": 5}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == version.pk
    assert [m["title"] for m in body["mentioned"]] == ["Heat"]
    assert body["constraints"] == {
        "genres": [], "excluded_genres": ["Comedy"], "decade": 1980, "moods": [], "people": [], "excluded_people": [], "excluded_words": []
    }
    assert len(body["results"]) == 5
    for item in body["results"]:
        assert item["movie"]["title"].startswith("Crime story")
        assert 1980 <= item["movie"]["year"] <= 1989
        assert item["why"].startswith("Like Heat")
        assert isinstance(item["score"], float)


def test_signed_in_answers_skip_films_i_rated(films, user, monkeypatch):
    use_fake_encoder(monkeypatch)
    random_model()
    crime = [films[f"crime{i}"] for i in range(12)]
    for movie in crime[:10]:
        rating_upsert(user=user, movie=movie, value=4.0)
    body = token_client(user).post(URL, {"text": "a crime film", "k": 20}, format="json").json()
    ids = {item["movie"]["id"] for item in body["results"]}
    assert ids and not ids & {m.pk for m in crime[:10]}


@pytest.mark.parametrize("text", ["", "   ", "\u0000\u0000"])
def test_blank_text_gets_a_prompt_not_a_model_error(films, monkeypatch, text):
    # The model is ready: saying it is not would be wrong (it once did).
    use_fake_encoder(monkeypatch)
    version = random_model()
    body = APIClient().post(URL, {"text": text}, format="json").json()
    assert body["results"] == [] and body["note"] == "Tell us what you feel like watching."
    assert body["model_version"] == version.pk


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": "x" * 301}, "text"),
        ({"text": "fine", "k": 101}, "k"),
        ({"text": "fine", "k": 0}, "k"),
        ({"text": 42}, "text"),
        ({"k": 3}, "text"),
        ({"text": "fine", "k": "5"}, "k"),
        ({"text": "fine", "k": 5.0}, "k"),
        ({"text": "fine", "k": True}, "k"),
    ],
)
def test_limits_and_bad_types_give_400(films, payload, field):
    response = APIClient().post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_300_characters_are_accepted(films):
    assert APIClient().post(URL, {"text": "y" * 300}, format="json").status_code == 200


@pytest.fixture
def real_model(request):
    from catalog.starter import STARTER_FILE

    if not STARTER_FILE.exists():
        pytest.skip("starter catalogue file not present")
    return request.getfixturevalue("starter_model")


@pytest.mark.slow
def test_ask_with_the_real_encoder(real_model):
    """The real MiniLM encoder (loaded once per session by the shared starter_model fixture)."""
    response = APIClient().post(URL, {"text": "something like Toy Story for the kids", "k": 5}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == real_model.pk
    assert "Toy Story" in [m["title"] for m in body["mentioned"]]
    assert len(body["results"]) == 5
    assert all(item["why"] for item in body["results"])


def test_each_answer_claims_only_the_genres_it_has(films, monkeypatch):
    use_fake_encoder(monkeypatch)
    random_model()
    body = APIClient().post(URL, {"text": "a funny crime film", "k": 10}, format="json").json()
    assert body["results"]
    for item in body["results"]:
        genres = {g["name"] for g in item["movie"]["genres"]}
        for name in ("Comedy", "Crime"):
            assert (name in item["why"]) == (name in genres), (item["movie"]["title"], item["why"])


def test_two_genres_mean_films_of_both_when_there_are_enough(db, monkeypatch):
    use_fake_encoder(monkeypatch)
    comedy, crime = GenreFactory(name="Comedy"), GenreFactory(name="Crime")
    both = [MovieFactory(title=f"Caper {i}", genres=[comedy, crime]) for i in range(4)]
    for i in range(10):
        MovieFactory(title=f"Sitcom {i}", genres=[comedy])
        MovieFactory(title=f"Procedural {i}", genres=[crime])
    random_model()
    answer = APIClient().post(URL, {"text": "a funny crime film", "k": 4}, format="json").json()
    assert {item["movie"]["id"] for item in answer["results"]} == {m.pk for m in both}
    wider = APIClient().post(URL, {"text": "a funny crime film", "k": 10}, format="json").json()
    assert len(wider["results"]) == 10  # fewer than k films have both: films of either
