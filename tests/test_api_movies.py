"""GET /api/v1/movies/, /movies/{id}/ and /movies/{id}/similar/."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from catalog import selectors
from catalog.models import Credit, Movie, Person
from catalog.services import rating_upsert
from tests.factories import GenreFactory, MovieFactory, UserFactory
from tests.test_api_recommendations import random_model, token_client

LIST = "/api/v1/movies/"


@pytest.fixture
def catalogue(db) -> dict:
    drama, scifi = GenreFactory(name="Drama"), GenreFactory(name="Sci-Fi")
    films = {
        "amelie": MovieFactory(title="Amélie", year=2001, genres=[drama]),
        "alien": MovieFactory(title="Alien", year=1979, genres=[scifi]),
        "aliens": MovieFactory(title="Aliens", year=1986, genres=[scifi, drama]),
        "heat": MovieFactory(title="Heat", year=1995, genres=[drama]),
        "solaris": MovieFactory(title="Solaris", year=1972, genres=[scifi]),
    }
    raters = [UserFactory() for _ in range(3)]
    for rater, value in zip(raters, (4.0, 5.0, 3.0), strict=True):
        rating_upsert(user=rater, movie=films["heat"], value=value)
    rating_upsert(user=raters[0], movie=films["alien"], value=4.5)
    director = Person.objects.create(name="Michael Mann")
    Credit.objects.create(movie=films["heat"], person=director, role="director")
    return films


def titles(response) -> list[str]:
    return [item["title"] for item in response.json()["results"]]


def test_list_is_paginated_and_popular_first(catalogue):
    response = APIClient().get(LIST, {"page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5 and len(body["results"]) == 2
    assert body["results"][0]["title"] == "Heat"
    assert body["results"][0]["rating_count"] == 3 and body["results"][0]["rating_avg"] == 4.0
    assert body["next"].endswith("page=2&page_size=2") and body["previous"] is None
    last = APIClient().get(LIST, {"page_size": 2, "page": 3}).json()
    assert len(last["results"]) == 1 and last["next"] is None


def test_filters_genre_years_and_text(catalogue):
    client = APIClient()
    assert sorted(titles(client.get(LIST, {"genre": "sci-fi"}))) == ["Alien", "Aliens", "Solaris"]
    assert sorted(titles(client.get(LIST, {"year_min": 1975, "year_max": 1990}))) == ["Alien", "Aliens"]
    assert sorted(titles(client.get(LIST, {"q": "alien"}))) == ["Alien", "Aliens"]
    assert titles(client.get(LIST, {"q": "AMELIE"})) == ["Amélie"]
    assert titles(client.get(LIST, {"genre": "drama", "year_min": 1990, "q": "e"})) == ["Heat", "Amélie"]
    assert client.get(LIST, {"genre": "no-such-genre"}).status_code == 400  # tests/test_api_genres.py


def test_ordering(catalogue):
    client = APIClient()
    assert titles(client.get(LIST, {"ordering": "title"})) == ["Alien", "Aliens", "Amélie", "Heat", "Solaris"]
    assert titles(client.get(LIST, {"ordering": "newest"}))[0] == "Amélie"
    assert titles(client.get(LIST, {"ordering": "oldest"}))[0] == "Solaris"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"year_min": "nineteen"}, "year_min"),
        ({"year_max": 99999}, "year_max"),
        ({"ordering": "random"}, "ordering"),
        ({"q": "x" * 301}, "q"),
        ({"page_size": 101}, "page_size"),
        ({"page_size": "all"}, "page_size"),
        ({"page": 0}, "page"),
        ({"page": "last"}, "page"),
    ],
)
def test_bad_query_parameters_give_400(catalogue, params, field):
    response = APIClient().get(LIST, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]


def test_query_of_300_characters_is_accepted(catalogue):
    assert APIClient().get(LIST, {"q": "x" * 300}).status_code == 200


def test_page_past_the_end_is_404(catalogue):
    response = APIClient().get(LIST, {"page": 9})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_list_makes_a_fixed_number_of_queries(catalogue, django_assert_max_num_queries):
    for i in range(15):
        MovieFactory(title=f"Extra {i}", genres=[GenreFactory(name="Drama")])
    with django_assert_max_num_queries(6):
        assert len(APIClient().get(LIST).json()["results"]) == 20


def test_detail_has_average_count_and_credits(catalogue):
    heat = catalogue["heat"]
    body = APIClient().get(f"/api/v1/movies/{heat.pk}/").json()
    assert body["title"] == "Heat" and body["year"] == 1995 and body["decade"] == 1990
    assert body["rating_avg"] == 4.0 and body["rating_count"] == 3
    assert body["directors"] == ["Michael Mann"] and body["cast"] == []
    assert body["genres"] == [{"name": "Drama", "slug": "drama"}]
    assert body["my_rating"] is None


def test_detail_shows_my_rating_when_signed_in(catalogue, user):
    rating_upsert(user=user, movie=catalogue["solaris"], value=3.5)
    body = token_client(user).get(f"/api/v1/movies/{catalogue['solaris'].pk}/").json()
    assert body["my_rating"] == 3.5 and body["rating_avg"] == 3.5 and body["rating_count"] == 1


@pytest.mark.parametrize("movie_id", ["999999", "9" * 19, "9" * 40])
def test_unknown_id_is_404(catalogue, movie_id):
    for suffix in ("", "similar/"):
        response = APIClient().get(f"/api/v1/movies/{movie_id}/{suffix}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_non_numeric_id_is_404_in_the_error_shape(catalogue):
    response = APIClient().get("/api/v1/movies/heat/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_similar_without_a_model_is_an_empty_200(catalogue):
    response = APIClient().get(f"/api/v1/movies/{catalogue['heat'].pk}/similar/")
    assert response.status_code == 200
    assert response.json() == {"model_version": None, "results": []}


def test_similar_with_a_model(catalogue):
    version = random_model()
    heat = catalogue["heat"]
    body = APIClient().get(f"/api/v1/movies/{heat.pk}/similar/", {"k": 3}).json()
    assert body["model_version"] == version.pk
    assert len(body["results"]) == 3
    for item in body["results"]:
        assert item["movie"]["id"] != heat.pk
        assert item["why"] == "Similar to Heat" and item["because"] == [heat.pk]
        assert item["model_version"] == version.pk


@pytest.mark.parametrize("k", [0, 101, "many"])
def test_similar_bad_k_is_400(catalogue, k):
    response = APIClient().get(f"/api/v1/movies/{catalogue['heat'].pk}/similar/", {"k": k})
    assert response.status_code == 400
    assert "k" in response.json()["error"]["fields"]


def test_catalogue_is_read_only(catalogue, user):
    client = token_client(user)
    assert client.post(LIST, {"title": "New"}, format="json").status_code == 405
    response = client.delete(f"/api/v1/movies/{catalogue['heat'].pk}/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"year_min": "١٩٩٠"}, "year_min"), ({"year_min": "1990.0"}, "year_min"), ({"page": "٣"}, "page"), ({"page_size": "٣"}, "page_size")],
)
def test_non_ascii_digits_are_400(db, params, field):
    response = APIClient().get("/api/v1/movies/", params)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


@pytest.fixture
def twins(db) -> list[int]:
    """Films equal in every sort key but the primary key."""
    films = [MovieFactory(title="Twin", year=1999) for _ in range(4)]
    Movie.objects.filter(pk__in=[f.pk for f in films]).update(created_at=films[0].created_at)
    return sorted(f.pk for f in films)


@pytest.mark.parametrize("ordering", ["popular", "title", "newest", "oldest", "added"])
def test_every_ordering_ends_with_the_primary_key(ordering):
    assert selectors.SORTS[ordering][-1] in ("pk", "-pk")


@pytest.mark.parametrize("ordering", ["popular", "title", "newest", "oldest", "added"])
def test_ties_are_paged_in_primary_key_order(twins, ordering):
    client = APIClient()
    pages = [client.get(LIST, {"ordering": ordering, "page_size": 1, "page": n}).json() for n in range(1, 5)]
    ids = [page["results"][0]["id"] for page in pages]
    assert ids == (twins[::-1] if ordering == "added" else twins)


def test_year_min_after_year_max_is_a_400(catalogue):
    response = APIClient().get(LIST, {"year_min": 1990, "year_max": 1980})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"year_max": ["Must not be before year_min (1990)."]}


def test_a_one_year_range_is_fine(catalogue):
    assert titles(APIClient().get(LIST, {"year_min": 1995, "year_max": 1995})) == ["Heat"]


def test_search_puts_the_exact_title_first(db):
    sequel = MovieFactory(title="Aliens", year=1986)
    original = MovieFactory(title="Alien", year=1979)
    Movie.objects.filter(pk=sequel.pk).update(rating_count=50)
    body = APIClient().get("/api/v1/movies/", {"q": "alien"}).json()
    assert [m["id"] for m in body["results"]] == [original.pk, sequel.pk]
    newest = APIClient().get("/api/v1/movies/", {"q": "alien", "ordering": "newest"}).json()
    assert [m["id"] for m in newest["results"]] == [sequel.pk, original.pk]  # an explicit order is kept
