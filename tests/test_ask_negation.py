"""Negation beyond genres: "nothing with violence", "no gore", "but no zombies". The refused words
are not encoded as wanted, films with them are left out (or come last when too few are without),
and the answer says so; "no horror" still excludes the genre."""

from __future__ import annotations

import pytest

from catalog.models import Movie
from catalog.services import credits_set
from recommendations.ask import GENRE_KEYS, ask, parse_constraints
from recommendations.ask_negation import read_negations, stem
from recommendations.ask_words import RequestWords
from tests.factories import GenreFactory, MovieFactory
from tests.test_api_recommendations import random_model, use_fake_encoder

REFUSED = {"violence", "violent", "zombie", "zombies", "gore"}


@pytest.fixture
def catalogue(db, monkeypatch) -> None:
    drama, horror = GenreFactory(name="Drama"), GenreFactory(name="Horror")
    MovieFactory(title="Gunfight", overview="A violent feud ends at noon.", genres=[drama])
    MovieFactory(title="Brutal Wedding", overview="Violence erupts at a wedding.", genres=[drama])
    MovieFactory(title="Dead Town", overview="The dead walk.", tags=["zombies"], genres=[horror])
    MovieFactory(title="Splatter", overview="A feast of gore.", genres=[horror])
    for i in range(8):
        MovieFactory(title=f"Quiet story {i}", overview="A gentle tale of a family by the sea.", genres=[drama])
    credits_set(MovieFactory(title="Loud Comedy", overview="A family holiday goes wrong."), directors=["Someone"], cast=["Adam Sandler"])
    use_fake_encoder(monkeypatch)
    random_model()


def has_refused(movie: Movie) -> bool:
    text = f"{movie.title} {movie.overview} {' '.join(movie.tag_list)}".lower().replace(".", " ")
    return bool(set(text.split()) & REFUSED)


def test_refused_words_are_read() -> None:
    assert parse_constraints("nothing with violence").excluded_words == ["violence"]
    assert parse_constraints("a heist but no zombies or vampires").excluded_words == ["zombies", "vampires"]
    assert parse_constraints("no graphic violence, gore or swearing").excluded_words == ["violence", "gore", "swearing"]
    assert parse_constraints("no sex scenes").excluded_words == ["sex"]
    assert parse_constraints("no violence and a happy ending").excluded_words == ["violence"]
    assert parse_constraints("no matter what, something calm").excluded_words == []


def test_genre_and_mood_words_stay_genres() -> None:
    assert parse_constraints("no horror please").excluded_genres == ["Horror"]
    assert parse_constraints("not too scary").excluded_genres == ["Horror"]
    assert parse_constraints("without romance").excluded_genres == ["Romance"]
    assert parse_constraints("nothing uplifting").excluded_genres == ["Comedy"]
    assert parse_constraints("no romance and funny").genres == ["Comedy"]  # "and" needs its own "no" for a genre
    assert all(not parse_constraints(t).excluded_words for t in ("no horror please", "not too scary", "no sci-fi"))


def test_refused_words_are_not_encoded() -> None:
    for text, wanted in [
        ("a heist film but nothing with violence", "a heist film but"),
        ("no gore, a story of the sea", "a story of the sea"),
        ("a calm drama, not too scary", "a calm drama,"),
    ]:
        request = RequestWords.of(text)
        assert request.text_without(read_negations(request, GENRE_KEYS).positions) == wanted


def test_simple_forms_match() -> None:
    assert stem("violence") == stem("violent") == stem("violently")
    assert stem("zombies") == stem("zombie")
    assert stem("gore") == stem("gory")


def test_films_with_a_refused_word_are_left_out(catalogue) -> None:
    result = ask(None, "a gentle tale, nothing with violence, no zombies", k=8)
    assert len(result.items) == 8 and not any(has_refused(i.movie) for i in result.items)
    assert {"Gunfight", "Brutal Wedding", "Dead Town"}.isdisjoint(i.movie.title for i in result.items)
    assert result.constraints.describe() == "without “violence”, “zombies”"
    assert "Left out films with “violence”, “zombies”." in result.note


def test_they_come_last_when_too_few_films_are_without(catalogue) -> None:
    result = ask(None, "no gore, no violence", k=Movie.objects.count())
    last = [i.movie.title in {"Gunfight", "Brutal Wedding", "Splatter"} for i in result.items]
    assert last == sorted(last) and sum(last) == 3
    assert "; though with “violence”" in result.items[-1].why or result.items[-1].why.startswith("Though with")
    assert "Too few films are without “gore”, “violence”: those with it come last." in result.note


def test_no_horror_still_excludes_the_genre(catalogue) -> None:
    result = ask(None, "something tonight, no horror", k=10)
    assert result.constraints.excluded_genres == ["Horror"] and result.constraints.excluded_words == []
    assert result.items and all("Horror" not in {g.name for g in i.movie.genres.all()} for i in result.items)


def test_a_refused_person(catalogue) -> None:
    result = ask(None, "a holiday that goes wrong, nothing with Adam Sandler", k=Movie.objects.count() - 1)
    assert [p.name for p in result.constraints.excluded_people] == ["Adam Sandler"]
    assert len(result.items) == Movie.objects.count() - 1
    assert "Loud Comedy" not in {i.movie.title for i in result.items}
    assert result.constraints.describe() == "without Adam Sandler"


@pytest.mark.parametrize("text", ["no " * 100, "not not not", "no, no, or and nor", "without " + "violence or " * 30, "不要 暴力"])
def test_odd_negations_do_not_crash(catalogue, text) -> None:
    assert all(isinstance(i.movie, Movie) for i in ask(None, text, k=5).items)


@pytest.mark.slow
def test_the_real_encoder_brings_no_violent_films(starter_model) -> None:
    def violent(movie: Movie) -> bool:
        return "violen" in f"{movie.title} {movie.overview} {' '.join(movie.tag_list)}".lower()

    assert any(violent(i.movie) for i in ask(None, "a tense crime film with violence", k=10).items)
    result = ask(None, "a tense crime film, nothing with violence", k=10)
    assert len(result.items) == 10 and not any(violent(i.movie) for i in result.items)
