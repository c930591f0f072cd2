"""Which films a plain-words request names: a rare word after "like" is enough ("like Shawshank");
titles made of everyday words count only when written as names; a typo must keep a real word."""

from __future__ import annotations

import pytest

from catalog.models import Movie
from recommendations.ask import find_mentions
from tests.factories import MovieFactory


@pytest.fixture
def catalogue(db) -> dict[str, Movie]:
    films = {t: MovieFactory(title=t, overview="") for t in ("The Shawshank Redemption", "For the Birds", "Disaster Movie", "Alien", "The Fighter")}
    for i in range(8):  # "disaster" and "kids" are everyday words in this catalogue's texts
        MovieFactory(title=f"Filler {i}", overview="A disaster strikes; the kids must fight back.")
    return films


def named(text: str) -> list[str]:
    return [Movie.objects.get(pk=pk).title for pk in find_mentions(text)]


def test_a_rare_title_word_after_like_names_the_film(catalogue) -> None:
    assert named("something like Shawshank, but lighter") == ["The Shawshank Redemption"]
    assert named("movies like alien") == ["Alien"]


def test_everyday_words_are_not_a_title_unless_written_as_one(catalogue) -> None:
    assert named("an epicenter disaster movie") == []
    assert named("a real Disaster Movie") == ["Disaster Movie"]
    assert named("i loved disaster movie") == ["Disaster Movie"]


def test_a_typo_must_keep_a_word_of_the_title(catalogue) -> None:
    assert named("something for the kids but not animated") == []  # not "For the Birds"
    assert named("I loved the shawshank redemtion") == ["The Shawshank Redemption"]


def test_mood_words_are_whole_words() -> None:
    from recommendations.ask import parse_constraints

    assert parse_constraints("an epicenter of trouble").moods == []
    assert parse_constraints("something epic").moods == ["Adventure"]
    assert parse_constraints("来点轻松的").moods == ["Comedy"]


def test_named_titles_leave_the_words_to_encode() -> None:
    from recommendations.ask import without_titles

    assert without_titles("Something like Blade Runner 2049 but funnier", ["Blade Runner 2049"]) == "Something like but funnier"
    assert without_titles("like Heat, but in space", ["Heat"]) == "like but in space"
    assert without_titles("a quiet film", []) == "a quiet film"
