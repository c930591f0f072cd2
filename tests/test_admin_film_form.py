"""The film form refuses implausible years and runtimes and bad or duplicate IMDb ids, keeping what was stored.

Before, the admin saved year 3000, year 1066 and a 99,999-minute runtime (the model's
PositiveSmallIntegerField is not range-checked on SQLite or MongoDB), any text as an IMDb id,
and another film's IMDb id, which the MovieLens import uses to link films.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import Movie
from tests.factories import MovieFactory

STORED = {"year": 1995, "runtime": 170, "imdb_id": "tt0113277"}


def _form(movie: Movie, **changes: str) -> dict[str, str]:
    form = {
        "title": movie.title, "year": str(movie.year or ""), "overview": movie.overview, "tagline": "",
        "runtime": str(movie.runtime or ""), "tags": "", "poster_url": "", "imdb_id": movie.imdb_id,
        "credits-TOTAL_FORMS": "0", "credits-INITIAL_FORMS": "0", "credits-MIN_NUM_FORMS": "0", "credits-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    return {**form, **changes}


def post(client, movie: Movie, **changes: str):
    return client.post(reverse("admin:catalog_movie_change", args=[movie.pk]), _form(movie, **changes))


@pytest.fixture
def heat(db) -> Movie:
    return MovieFactory(title="Heat", **STORED)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("year", "3000", "A film&#x27;s year is between 1870 and"),
        ("year", "1066", "A film&#x27;s year is between 1870 and"),
        ("runtime", "99999", "A runtime is between 1 and 32,767 minutes"),
        ("runtime", "0", "A runtime is between 1 and 32,767 minutes"),
        ("imdb_id", "hello", "An IMDb id looks like tt0113277"),
        ("imdb_id", "nm0000199", "An IMDb id looks like tt0113277"),
    ],
)
def test_implausible_values_are_refused_and_nothing_stored_changes(client, staff, heat, field, value, message):
    client.force_login(staff)
    response = post(client, heat, **{field: value, "title": "Heat (edited)"})
    page = response.content.decode()
    assert response.status_code == 200 and "errornote" in page and message in page
    assert f'value="{value}"' in page  # what staff typed is still in the form
    heat.refresh_from_db()
    assert heat.title == "Heat" and {k: getattr(heat, k) for k in STORED} == STORED


def test_a_duplicate_imdb_id_names_the_film_that_has_it(client, staff, heat):
    other = MovieFactory(title="Heat", year=1986, imdb_id="tt0091183")
    client.force_login(staff)
    page = post(client, other, imdb_id="0113277").content.decode()
    assert "tt0113277 is already the IMDb id of" in page
    assert reverse("admin:catalog_movie_change", args=[heat.pk]) in page
    other.refresh_from_db()
    assert other.imdb_id == "tt0091183"


@pytest.mark.parametrize("typed", ["tt0113277", "0113277", "113277", " TT0113277 ", "https://www.imdb.com/title/tt0113277/?ref_=x"])
def test_imdb_ids_are_stored_as_the_import_writes_them(client, staff, typed):
    movie = MovieFactory(title="Heat", year=1995)
    client.force_login(staff)
    assert post(client, movie, imdb_id=typed).status_code == 302
    movie.refresh_from_db()
    assert movie.imdb_id == "tt0113277"


def test_plausible_values_and_blanks_are_saved(client, staff, heat):
    client.force_login(staff)
    next_year = str(timezone.now().year + 1)
    assert post(client, heat, year="1895", runtime="1").status_code == 302
    assert post(client, heat, year=next_year, runtime="", imdb_id="").status_code == 302
    heat.refresh_from_db()
    assert (heat.year, heat.runtime, heat.imdb_id) == (int(next_year), None, "")


def test_staff_are_told_when_a_new_or_edited_film_reaches_recommendations(client, staff, heat):
    """Nothing re-embeds a film on save: a new film is not recommended, and an edited one keeps
    its old vector, until the catalogue is next embedded. The admin says so instead of staying silent."""
    client.force_login(staff)
    added = client.post(
        reverse("admin:catalog_movie_add"),
        {"title": "Cléo from 5 to 7", "year": "1962", "overview": "", "tagline": "", "runtime": "", "tags": "", "poster_url": "",
         "imdb_id": "", "credits-TOTAL_FORMS": "0", "credits-INITIAL_FORMS": "0", "credits-MIN_NUM_FORMS": "0",
         "credits-MAX_NUM_FORMS": "1000"},
        follow=True,
    ).content.decode()  # fmt: skip
    assert "“Cléo from 5 to 7 (1962)” is recommended, and has similar films, when the catalogue is next embedded" in added

    edited = client.post(
        reverse("admin:catalog_movie_change", args=[heat.pk]), _form(heat, overview="A new overview."), follow=True
    ).content.decode()
    assert "Recommendations use this film&#x27;s new text when the catalogue is next embedded" in edited
    heat.refresh_from_db()
    runtime_only = client.post(reverse("admin:catalog_movie_change", args=[heat.pk]), _form(heat, runtime="171"), follow=True)
    assert "new text" not in runtime_only.content.decode()


def test_stored_values_from_an_import_still_save_unchanged(client, staff):
    """Only what staff change is checked: a film imported with an odd year or runtime, or an IMDb id
    another film shares, can still have its overview fixed."""
    MovieFactory(title="Emma", year=1996, imdb_id="tt0116191")
    odd = MovieFactory(title="Emma", year=1869, runtime=40000, imdb_id="tt0116191")
    client.force_login(staff)
    assert post(client, odd, overview="Fixed.").status_code == 302
    odd.refresh_from_db()
    assert (odd.overview, odd.year, odd.runtime, odd.imdb_id) == ("Fixed.", 1869, 40000, "tt0116191")
