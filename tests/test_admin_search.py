"""The film list's search finds films by a director's or actor's name, as well as by title and IMDb id.

Before, "Al Pacino" found nothing on ml-latest-small (he has 30 films there); staff had to open
People, which did not show a person's films either. A person's change page now lists them.
"""

from __future__ import annotations

import re

from django.urls import reverse

from catalog.models import Credit, Person
from tests.factories import MovieFactory


def titles(client, **params: str) -> list[str]:
    page = client.get(reverse("admin:catalog_movie_changelist"), params).content.decode()
    return sorted(re.findall(r'class="field-title"><a [^>]*>([^<]+)</a>', page))


def credit(movie, name: str, role: str = "cast") -> None:
    person, _ = Person.objects.get_or_create(name=name)
    Credit.objects.create(movie=movie, person=person, role=role)


def test_search_finds_films_by_person_title_and_imdb_id_within_the_filters(client, staff):
    heat = MovieFactory(title="Heat", year=1995, imdb_id="tt0113277")
    serpico = MovieFactory(title="Serpico", year=1973)
    cleo = MovieFactory(title="Cléo from 5 to 7", year=1962)
    MovieFactory(title="Alien", year=1979)
    credit(heat, "Al Pacino")
    credit(serpico, "Al Pacino")
    credit(heat, "Michael Mann", "director")
    credit(cleo, "Agnès Varda", "director")
    client.force_login(staff)

    assert titles(client, q="Al Pacino") == ["Heat", "Serpico"]
    assert titles(client, q="pacino", decade="1970") == ["Serpico"]  # the filter still applies
    assert titles(client, q="agnes varda") == ["Cléo from 5 to 7"]  # accents folded, as the site's search does
    assert titles(client, q="tt0113277") == ["Heat"]
    assert titles(client, q="alien") == ["Alien"]


def test_person_search_costs_the_same_queries_however_many_films_match(client, staff, django_assert_max_num_queries):
    for i in range(30):
        credit(MovieFactory(title=f"Woody film {i}"), "Woody Allen", "director")
    client.force_login(staff)
    with django_assert_max_num_queries(10):
        assert len(titles(client, q="woody allen")) == 30


def test_a_persons_page_lists_their_films_in_a_fixed_number_of_queries(client, staff, django_assert_max_num_queries):
    films = [MovieFactory(title=f"Allen film {i}") for i in range(12)]
    for film in films:
        credit(film, "Woody Allen", "director")
    person = Person.objects.get(name="Woody Allen")
    client.force_login(staff)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("admin:catalog_person_change", args=[person.pk])).content.decode()
    assert all(f">{film}</a>" in page for film in films)
    assert reverse("admin:catalog_movie_change", args=[films[0].pk]) in page


def test_a_films_page_reads_each_credits_person_once(client, staff):
    """Per credit, only the autocomplete widget's own query: the row heading (str(credit)) no longer
    loads the person again (2 queries per credit before)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    film = MovieFactory(title="Four Rooms", year=1995)
    client.force_login(staff)
    url = reverse("admin:catalog_movie_change", args=[film.pk])

    def page_queries(credits: int) -> int:
        for i in range(Credit.objects.filter(movie=film).count(), credits):
            credit(film, f"Actor {i}")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    at_n = page_queries(3)
    assert page_queries(9) - at_n <= 6
