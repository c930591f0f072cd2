"""With the hybrid serving, films the user rated or marked "not interested" never come back."""

from __future__ import annotations

import pytest

from catalog.models import Movie
from catalog.services import not_interested_add
from recommendations import engine, store
from tests.hybrid_site import load_movielens_ratings, most_rated, rate, train_site_hybrid


@pytest.fixture
def hybrid_site(starter_model, shared_data):
    load_movielens_ratings(shared_data)
    train_site_hybrid(starter_model)
    return starter_model


def test_rated_and_not_interested_films_never_appear(hybrid_site, user) -> None:
    rated = most_rated(12)
    rate(user, dict.fromkeys(rated, 4.5))
    first = [r.movie_id for r in engine.recommend_for_user(user, k=10)]
    assert store.active_bundle().hybrid is not None
    assert len(first) == 10 and not set(first) & set(rated)

    # Hide the three best: they go, and the next ones move up.
    for movie in Movie.objects.filter(pk__in=first[:3]):
        not_interested_add(user=user, movie=movie)
    second = [r.movie_id for r in engine.recommend_for_user(user, k=10)]
    assert len(second) == 10 and not set(second) & (set(rated) | set(first[:3]))
    assert second[:7] == first[3:]

    # Across a long list and with a filter, still none of them.
    everything = engine.recommend_for_user(user, k=100)
    comedies = engine.recommend_for_user(user, k=20, genre="comedy")
    shown = {r.movie_id for r in everything + comedies}
    assert len(everything) == 100 and comedies
    assert not shown & (set(rated) | set(first[:3]))
