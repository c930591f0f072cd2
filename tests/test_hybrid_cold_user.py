"""A cold user (5 ratings or fewer) gets hybrid recommendations, each with an explanation."""

from __future__ import annotations

import pytest

from recommendations import engine, store
from tests.hybrid_site import load_movielens_ratings, most_rated, rate, reference_scores, train_site_hybrid


@pytest.fixture
def hybrid_site(starter_model, shared_data):
    load_movielens_ratings(shared_data)
    train_site_hybrid(starter_model)
    return starter_model


@pytest.mark.parametrize("n_ratings", [1, 3, 5])
def test_cold_user_gets_explained_hybrid_recommendations(hybrid_site, user, n_ratings) -> None:
    films = most_rated(n_ratings, skip=20)
    rate(user, dict.fromkeys(films, 5.0))

    recs = engine.recommend_for_user(user, k=12)

    assert store.active_bundle().hybrid is not None
    assert len(recs) == 12 and not {r.movie_id for r in recs} & set(films)
    reference = reference_scores(hybrid_site, films)  # the cold bucket's learnt weights
    for rec in recs:
        assert rec.score == pytest.approx(reference[rec.movie_id], abs=1e-4)
        assert rec.why
        assert set(rec.because) <= set(films)
        if rec.because:
            assert rec.why.startswith("Because you rated")


def test_user_without_ratings_gets_popular_films(hybrid_site, user) -> None:
    recs = engine.recommend_for_user(user, k=12)

    assert len(recs) == 12 and all(r.why == "Popular with people on this site" and not r.because for r in recs)
    # The hybrid's popularity prior: the most-rated films first.
    assert {r.movie_id for r in recs[:5]} <= set(most_rated(12))
