"""The shipped starter catalogue: enough films, loaded when empty, our own words."""

import csv
from collections import Counter

import pytest
from django.core.management import call_command

from catalog.models import Movie
from catalog.starter import starter_films


def test_starter_file_is_large_and_well_formed():
    films = starter_films()
    assert len(films) >= 150
    assert len({(f["title"], f["year"]) for f in films}) == len(films)
    decades = Counter(f["year"] // 10 * 10 for f in films)
    assert len(decades) >= 8
    genres = Counter(g for f in films for g in f["genres"])
    assert len(genres) >= 15
    assert all(10 <= len(f["overview"].split()) <= 80 for f in films)


def test_loaded_when_catalogue_is_empty_only(db):
    call_command("load_starter", "--if-empty")
    count = Movie.objects.count()
    assert count == len(starter_films())
    call_command("load_starter", "--if-empty")
    assert Movie.objects.count() == count
    toy = Movie.objects.filter(title="Toy Story", year=1995).first()
    assert toy is not None and toy.genres.filter(name="Animation").exists()


def test_synopses_are_not_copied_from_tmdb(shared_data):
    path = shared_data / "overviews" / "movies_enriched.csv"
    if not path.exists():
        pytest.skip("no TMDB overviews to compare with")
    with path.open(encoding="utf-8") as handle:
        tmdb = [row["overview"].lower() for row in csv.DictReader(handle) if row["overview"]]
    grams = set()
    for text in tmdb:
        words = text.split()
        grams.update(" ".join(words[i : i + 8]) for i in range(len(words) - 7))
    for film in starter_films():
        words = film["overview"].lower().split()
        shared = [" ".join(words[i : i + 8]) for i in range(len(words) - 7) if " ".join(words[i : i + 8]) in grams]
        assert not shared, f"{film['title']}: overview shares text with TMDB: {shared[:1]}"


def test_load_starter_tolerates_a_film_held_twice(db):
    Movie.objects.create(title="Toy Story", year=1995)
    Movie.objects.create(title="Toy Story", year=1995)
    call_command("load_starter")
    assert Movie.objects.filter(title="Toy Story", year=1995).count() == 2
    assert Movie.objects.count() == len(starter_films()) + 1
