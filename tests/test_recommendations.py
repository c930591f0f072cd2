"""Recommended for you: taste vector from ratings, seen films excluded, a why for each."""

import pytest

from catalog.models import Movie
from catalog.services import not_interested_add, rating_upsert
from recommendations.engine import recommend_for_user

pytestmark = pytest.mark.slow
FAMILY = {"Animation", "Children"}


def genres(movie: Movie) -> set[str]:
    return {g.name for g in movie.genres.all()}


@pytest.fixture
def family_fan(user, starter_model):
    animated = [m for m in Movie.objects.with_genres() if {"Animation", "Children"} <= genres(m)]
    assert len(animated) >= 8, "starter catalogue needs animated family films"
    for movie in animated[:6]:
        rating_upsert(user=user, movie=movie, value=5.0)
    rating_upsert(user=user, movie=animated[6], value=4.0)
    return user, animated[:7]


def test_family_fan_gets_mostly_family_films(family_fan):
    user, rated = family_fan
    recs = recommend_for_user(user, k=10)
    assert len(recs) == 10
    assert not {r.movie_id for r in recs} & {m.pk for m in rated}
    family = [r for r in recs if genres(r.movie) & FAMILY]
    assert len(family) >= 6, [(r.movie.title, genres(r.movie)) for r in recs]


def test_every_recommendation_has_a_why(family_fan):
    user, rated = family_fan
    titles = {m.title for m in rated}
    for rec in recommend_for_user(user, k=10):
        assert rec.why.startswith("Because you rated")
        assert any(t in rec.why for t in titles)
        assert set(rec.because) <= {m.pk for m in rated}


def test_not_interested_hides_a_film_at_once(family_fan):
    user, _ = family_fan
    first = recommend_for_user(user, k=5)[0]
    not_interested_add(user=user, movie=first.movie)
    assert first.movie_id not in {r.movie_id for r in recommend_for_user(user, k=20)}


def test_a_new_rating_changes_the_list_without_retraining(family_fan):
    user, _ = family_fan
    before = [r.movie_id for r in recommend_for_user(user, k=10)]
    rating_upsert(user=user, movie=Movie.objects.get(pk=before[0]), value=1.0)
    after = [r.movie_id for r in recommend_for_user(user, k=10)]
    assert before[0] not in after and before != after


def test_genre_filter(family_fan):
    user, _ = family_fan
    recs = recommend_for_user(user, k=5, genre="comedy")
    assert recs and all("Comedy" in genres(r.movie) for r in recs)


def test_home_page_shows_rows(client, family_fan):
    user, _ = family_fan
    client.force_login(user)
    page = client.get("/").content.decode()
    for row in ["Recommended for you", "Because you liked", "Trending now", "New in the catalogue", "Continue rating"]:
        assert row in page
    assert "Because you rated" in page


def test_without_a_model_popular_films_are_shown(user, db):
    from tests.factories import MovieFactory

    MovieFactory(title="Loved", rating_count=10)
    recs = recommend_for_user(user, k=5)
    assert [r.movie.title for r in recs] == ["Loved"] and recs[0].version_id is None
