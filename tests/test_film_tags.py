"""A film's tags are a list of short strings: the admin refuses anything else, and pages never break on old rows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import Movie
from tests.factories import MovieFactory


def admin_post(client, movie: Movie, tags: str):
    return client.post(
        reverse("admin:catalog_movie_change", args=[movie.pk]),
        {
            "title": movie.title, "year": str(movie.year or ""), "overview": movie.overview, "tagline": "", "runtime": "",
            "tags": tags, "poster_url": "", "imdb_id": "",
            "credits-TOTAL_FORMS": "0", "credits-INITIAL_FORMS": "0", "credits-MIN_NUM_FORMS": "0", "credits-MAX_NUM_FORMS": "1000",
        },
    )


@pytest.mark.parametrize(
    "tags",
    ['[1, null, {"x": 2}]', "[unclosed", f'["{"x" * 101}"]', "x" * 101, str(["t"] * 51).replace("'", '"'), ", ".join(["t"] * 51)],
)
def test_admin_refuses_tags_that_are_not_a_short_list_of_strings(client, staff, tags):
    movie = MovieFactory(title="Modern Times", year=1936, tags=["silent"])
    client.force_login(staff)
    response = admin_post(client, movie, tags)
    assert response.status_code == 200  # the form again, with its error
    assert "errornote" in response.content.decode()
    movie.refresh_from_db()
    assert movie.tags == ["silent"]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("space, creature,  spaceship ", ["space", "creature", "spaceship"]),
        ('["silent", "factory"]', ["silent", "factory"]),
        ('"horror", 5', ['"horror"', "5"]),
        ("", []),
    ],
)
def test_admin_takes_comma_separated_tags(client, staff, typed, stored):
    movie = MovieFactory(title="Modern Times", year=1936, tags=["old"])
    client.force_login(staff)
    assert admin_post(client, movie, typed).status_code == 302
    movie.refresh_from_db()
    assert movie.tags == stored
    form = client.get(reverse("admin:catalog_movie_change", args=[movie.pk])).content.decode()
    assert f'value="{", ".join(stored)}"' in form.replace("&quot;", '"') or not stored


@pytest.mark.parametrize("stored", [5, "horror", [1, None, {"x": 2}]])
def test_pages_and_api_survive_tags_stored_before_validation(client, db, stored):
    movie = MovieFactory(title="Modern Times", year=1936)
    Movie.objects.filter(pk=movie.pk).update(tags=stored)  # as a raw write or an old row would
    assert client.get(movie.get_absolute_url()).status_code == 200
    body = client.get(f"/api/v1/movies/{movie.pk}/").json()
    assert all(isinstance(tag, str) for tag in body["tags"])
    assert body["tags"] == ([] if not isinstance(stored, list) else ["1", "{'x': 2}"])
