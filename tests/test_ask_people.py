"""People in plain-words requests: "a film by Christopher Nolan", "something with Tom Hanks".
Their films come first and say so; a title given to a person is not taken for a namesake."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from catalog.models import Movie
from catalog.services import credits_set
from recommendations.ask import ask, find_mentions
from tests.factories import MovieFactory
from tests.test_api_recommendations import random_model, use_fake_encoder

FILMS = [  # title, year, directors, cast, popularity
    ("Inception", 2010, ["Christopher Nolan"], ["Leonardo DiCaprio"], 90),
    ("Memento", 2000, ["Christopher Nolan"], ["Guy Pearce"], 50),
    ("Interstellar", 2014, ["Christopher Nolan"], ["Matthew McConaughey"], 80),
    ("Big", 1988, ["Penny Marshall"], ["Tom Hanks"], 40),
    ("Cast Away", 2000, ["Robert Zemeckis"], ["Tom Hanks"], 60),
    ("The Hurt Locker", 2008, ["Kathryn Bigelow"], ["Jeremy Renner"], 30),
    ("Parasite", 1982, ["Charles Band"], ["Demi Moore"], 5),
    ("Memories of Murder", 2003, ["Bong Joon-ho"], ["Song Kang-ho"], 20),
    ("Heat", 1995, ["Michael Mann"], ["Al Pacino"], 10),
    ("Heat", 1986, ["Dick Richards"], ["Burt Reynolds"], 70),  # the more popular namesake
    ("Being John Malkovich", 1999, ["Spike Jonze"], ["John Malkovich"], 30),
    ("In the Line of Fire", 1993, ["Wolfgang Petersen"], ["John Malkovich"], 30),
    ("Ed Wood", 1994, ["Tim Burton"], ["Johnny Depp"], 30),
    ("Plan 9 from Outer Space", 1957, ["Ed Wood"], ["Bela Lugosi"], 3),
    ("Unforgiven", 1992, ["Clint Eastwood"], ["Clint Eastwood"], 40),
    ("Dirty Harry", 1971, ["Don Siegel"], ["Clint Eastwood"], 40),
    ("The Shining", 1980, ["Stanley Kubrick"], ["Jack Nicholson"], 60),
    ("Top Gun", 1986, ["Tony Scott"], ["Tom Cruise"], 60),
    ("Star Wars", 1977, ["George Lucas"], ["Harrison Ford"], 90),
    ("The Searchers", 1956, ["John Ford"], ["John Wayne"], 20),
    ("Volver", 2006, ["Pedro Almodóvar"], ["Penélope Cruz"], 20),
]


@pytest.fixture
def catalogue(db, monkeypatch) -> None:
    for title, year, directors, cast, count in FILMS:
        credits_set(MovieFactory(title=title, year=year, rating_count=count), directors=directors, cast=cast)
    for i in range(12):
        credits_set(MovieFactory(title=f"Quiet story {i}", overview="A gentle tale of a family."), directors=[f"Someone {i}"], cast=[])
    use_fake_encoder(monkeypatch)
    random_model()


def titles(result) -> list[str]:
    return [item.movie.title for item in result.items]


def named(result) -> list[str]:
    return [p.name for p in result.constraints.people]


def test_full_names_in_any_case_and_without_accents(catalogue) -> None:
    assert named(ask(None, "something with tom hanks", k=3)) == ["Tom Hanks"]
    assert named(ask(None, "A FILM BY CHRISTOPHER NOLAN", k=3)) == ["Christopher Nolan"]
    assert named(ask(None, "a film by pedro almodovar", k=3)) == ["Pedro Almodóvar"]


def test_their_films_come_first_then_similar_ones(catalogue) -> None:
    result = ask(None, "a film by Christopher Nolan", k=5)
    assert set(titles(result)[:3]) == {"Inception", "Memento", "Interstellar"}
    assert len(result.items) == 5  # three of his, filled up by similarity
    assert all(item.why.startswith("Directed by Christopher Nolan") for item in result.items[:3])
    assert not any("Nolan" in item.why for item in result.items[3:])
    assert result.constraints.describe() == "directed by Christopher Nolan"


def test_with_an_actor(catalogue) -> None:
    result = ask(None, "something with Tom Hanks", k=4)
    assert set(titles(result)[:2]) == {"Big", "Cast Away"}
    assert result.items[0].why.startswith("With Tom Hanks")
    assert result.constraints.describe() == "with Tom Hanks"


def test_directed_by_counts_only_the_films_they_directed(catalogue) -> None:
    result = ask(None, "directed by Clint Eastwood", k=3)
    assert titles(result)[0] == "Unforgiven"
    assert [i.movie.title for i in result.items if "Eastwood" in i.why] == ["Unforgiven"]


def test_a_namesake_is_not_taken_for_the_film_named(catalogue) -> None:
    result = ask(None, "Parasite by Bong Joon-ho", k=5)
    assert result.mentioned == []
    assert "No film titled “Parasite” by Bong Joon-ho is in the catalogue" in result.note
    assert "Parasite" not in titles(result)
    assert titles(result)[0] == "Memories of Murder"


def test_the_person_picks_among_films_of_one_title(catalogue) -> None:
    def year(text: str) -> list[int]:
        return [Movie.objects.get(pk=pk).year for pk in find_mentions(text)]

    assert year("something like Heat") == [1986]  # the more popular one
    assert year("something like Heat by Michael Mann") == [1995]
    assert year("like Heat, with Al Pacino") == [1995]


def test_names_inside_titles_stay_titles(catalogue) -> None:
    result = ask(None, "I loved Being John Malkovich", k=3)
    assert [m.title for m in result.mentioned] == ["Being John Malkovich"] and named(result) == []
    assert [m.title for m in ask(None, "I loved Ed Wood", k=3).mentioned] == ["Ed Wood"]
    by_him = ask(None, "something directed by Ed Wood", k=3)
    assert by_him.mentioned == [] and named(by_him) == ["Ed Wood"]
    assert titles(by_him)[0] == "Plan 9 from Outer Space"


def test_one_word_names_only_when_they_read_as_names(catalogue) -> None:
    assert named(ask(None, "a Kubrick film", k=3)) == ["Stanley Kubrick"]
    assert named(ask(None, "something with Hanks", k=3)) == ["Tom Hanks"]
    assert named(ask(None, "a cruise ship adventure", k=3)) == []
    assert named(ask(None, "something with Ford", k=3)) == []  # Harrison or John


def test_the_api_explains_people(catalogue) -> None:
    body = APIClient().post("/api/v1/ask/", {"text": "a film by Kathryn Bigelow", "k": 3}, format="json").json()
    assert body["results"][0]["movie"]["title"] == "The Hurt Locker"
    assert body["results"][0]["why"].startswith("Directed by Kathryn Bigelow")
    constraints = body["constraints"]
    assert constraints["people"] == [{"name": "Kathryn Bigelow", "role": "director"}]
    assert constraints["excluded_people"] == [] and constraints["excluded_words"] == []


def test_the_api_lists_what_the_request_refuses(catalogue) -> None:
    body = APIClient().post("/api/v1/ask/", {"text": "something with Clint Eastwood, but no Tom Hanks, nothing with violence", "k": 3}, format="json").json()
    constraints = body["constraints"]
    assert [p["name"] for p in constraints["people"]] == ["Clint Eastwood"]
    assert constraints["excluded_people"] == [{"name": "Tom Hanks", "role": "cast"}]
    assert constraints["excluded_words"] == ["violence"]
