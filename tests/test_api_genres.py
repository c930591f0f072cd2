"""GET /api/v1/genres/, and the `genre` filter of /api/v1/movies/ naming a genre that exists."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import GenreFactory, MovieFactory

MOVIES = "/api/v1/movies/"


@pytest.fixture
def genres(db) -> dict:
    drama, scifi, western = GenreFactory(name="Drama"), GenreFactory(name="Sci-Fi"), GenreFactory(name="Western")
    MovieFactory(title="Heat", genres=[drama])
    MovieFactory(title="Alien", genres=[scifi, drama])
    return {"drama": drama, "scifi": scifi, "western": western}


def test_genres_are_listed_with_slug_and_film_count(genres):
    response = APIClient().get("/api/v1/genres/")
    assert response.status_code == 200
    assert response.json() == [
        {"name": "Drama", "slug": "drama", "film_count": 2},
        {"name": "Sci-Fi", "slug": "sci-fi", "film_count": 1},
        {"name": "Western", "slug": "western", "film_count": 0},
    ]


def test_genre_list_makes_two_queries(genres, django_assert_num_queries):
    with django_assert_num_queries(2):  # the genres, and the film counts grouped on the through table
        assert APIClient().get("/api/v1/genres/").status_code == 200


def test_unknown_genre_is_a_400_naming_the_parameter(genres):
    response = APIClient().get(MOVIES, {"genre": "nosuch"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == ["genre"]
    assert "nosuch" in error["message"] and "/api/v1/genres/" in error["message"]


def test_genre_name_in_any_case_is_accepted(genres):
    response = APIClient().get(MOVIES, {"genre": "SCI FI"})  # reaches "Sci-Fi" only through its slug
    assert response.status_code == 200
    assert [m["title"] for m in response.json()["results"]] == ["Alien"]
