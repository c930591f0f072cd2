"""Plain-words requests: answers are catalogue films, mentioned films excluded, constraints honoured."""

import pytest

from catalog.models import Movie
from recommendations.ask import ask, find_mentions, latin_words, parse_constraints

pytestmark = pytest.mark.slow


def test_parse_constraints():
    c = parse_constraints("a funny heist film from the 2000s, not horror")
    assert "Comedy" in c.genres and "Crime" in c.genres
    assert c.excluded_genres == ["Horror"] and c.decade == 2000
    assert parse_constraints("something from the 90s").decade == 1990
    assert parse_constraints("1980年代的科幻电影").decade == 1980
    assert parse_constraints("90年代 喜剧").decade == 1990
    assert parse_constraints("2019年的电影").decade is None
    assert parse_constraints("no horror please").excluded_genres == ["Horror"]


def test_mentioned_film_is_found_and_excluded(starter_model):
    shawshank = Movie.objects.get(title="The Shawshank Redemption")
    result = ask(None, "I loved The Shawshank Redemption, something lighter", k=10)
    assert [m.pk for m in result.mentioned] == [shawshank.pk]
    assert len(result.items) == 10
    assert shawshank.pk not in {i.movie.pk for i in result.items}
    assert all(Movie.objects.filter(pk=i.movie.pk).exists() for i in result.items)
    assert all("Shawshank" in i.why for i in result.items)


def test_fuzzy_title_with_typo(starter_model):
    ids = find_mentions("something like the shawshank redemtion")
    assert Movie.objects.get(title="The Shawshank Redemption").pk in ids


def test_constraints_filter_answers(starter_model):
    result = ask(None, "a funny heist film from the 2000s", k=5)
    assert result.items
    for item in result.items:
        assert 2000 <= item.movie.year <= 2009
        assert {g.name for g in item.movie.genres.all()} & {"Comedy", "Crime"}
    assert "No film title recognised" in result.note


def test_not_horror(starter_model):
    result = ask(None, "a scary night in an old house but not horror", k=10)
    assert all("Horror" not in {g.name for g in i.movie.genres.all()} for i in result.items)


@pytest.mark.parametrize("text", ["我想看一部轻松的喜剧", "<script>alert(1)</script>' OR 1=1 --", "é" * 500, "   "])
def test_odd_text_does_not_crash(starter_model, text):
    result = ask(None, text, k=5)
    assert all(isinstance(i.movie, Movie) for i in result.items)


def test_chinese_genre_word_is_understood(starter_model):
    result = ask(None, "我想看一部喜剧", k=5)
    assert result.items and all("Comedy" in {g.name for g in i.movie.genres.all()} for i in result.items)


def test_search_page_uses_plain_words(client, starter_model):
    page = client.get("/search/", {"q": "something like Toy Story but for adults"}).content.decode()
    assert "Films that fit your request" in page and "Toy Story" in page


def test_words_the_catalogue_does_not_know_get_no_invented_match(starter_model):
    result = ask(None, "zzzzqqq blorptastic", k=5)
    assert result.items == [] and result.unknown_words
    assert "None of these words appear in the catalogue" in result.note


def test_a_known_word_or_person_still_gets_answers(starter_model):
    from catalog.models import Person

    assert ask(None, "a heist that goes wrong", k=5).items  # a word from the overviews
    director = Person.objects.filter(credits__role="director").first()
    assert ask(None, f"anything by {director.name} zzzzqqq", k=5).items  # a name counts as known
    assert not ask(None, "我想看 zzzz", k=5).unknown_words  # other scripts are not judged


def test_latin_words_fold_and_drop_short_and_stop_words() -> None:
    assert latin_words("The Heists of Amélie, at war") == {"heist", "amelie", "war"}
    assert latin_words("The Heists of Amélie, at war", min_length=4) == {"heist", "amelie"}
