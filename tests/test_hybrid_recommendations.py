"""Served recommendations come from the learnt hybrid: the same scores as ``HybridModel.score``.

Real data: starter films with their MiniLM vectors, rated by MovieLens users.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from recommendations import engine, hybrid_store, store
from tests.hybrid_site import load_movielens_ratings, most_rated, rate, reference_scores, train_site_hybrid


@pytest.fixture
def hybrid_site(starter_model, shared_data):
    load_movielens_ratings(shared_data)
    started = time.perf_counter()
    info = train_site_hybrid(starter_model)
    print(f"hybrid fit: {time.perf_counter() - started:.1f} s, {info['films']} films, {info['ratings']} ratings")
    return starter_model


def test_served_scores_are_the_hybrid_scores(hybrid_site, user) -> None:
    films = most_rated(8)
    values = [5.0, 4.5, 4.0, 5.0, 2.0, 4.5, 3.5, 4.0]
    rate(user, dict(zip(films, values, strict=True)))

    recs = engine.recommend_for_user(user, k=20)

    bundle = store.active_bundle()
    assert bundle.hybrid is not None and bundle.collab is None  # one big matrix held, not two
    # The hybrid's input is the films rated at or above the scale's midpoint: not the 2★ one.
    reference = reference_scores(hybrid_site, [f for f, v in zip(films, values, strict=True) if v >= 2.75])
    assert len(recs) == 20 and all(r.version_id == hybrid_site.pk for r in recs)
    for rec in recs:
        assert rec.score == pytest.approx(reference[rec.movie_id], abs=1e-4)
    # The best 20 of the hybrid's ranking, best first; every rated film is left out.
    served = [r.movie_id for r in recs]
    assert not set(served) & set(films)
    assert [r.score for r in recs] == sorted((r.score for r in recs), reverse=True)
    best_left_out = max(s for m, s in reference.items() if m not in served and m not in films)
    assert min(r.score for r in recs) >= best_left_out - 1e-4


def test_every_recommendation_is_explained_by_a_liked_film(hybrid_site, user) -> None:
    liked, disliked = most_rated(10), most_rated(3, skip=10)
    rate(user, {**dict.fromkeys(liked, 5.0), **dict.fromkeys(disliked, 1.0)})

    recs = engine.recommend_for_user(user, k=20)

    assert len(recs) == 20
    for rec in recs:
        assert rec.why.startswith("Because you rated") and rec.because
        assert set(rec.because) <= set(liked)  # a disliked film is never cited
    # The learnt blend leans on the collaborative part here, so the first film cited is the
    # liked film whose collaborative weight pushes the recommendation most.
    bundle = store.active_bundle()
    weights = hybrid_store.user_weights(bundle.hybrid, liked + disliked)
    assert weights["collab"] > 0 and weights["collab"] >= weights["content"], weights
    collab = hybrid_store.hybrid_because(bundle.hybrid, liked, [r.movie_id for r in recs])
    assert any(c is not None for c in collab)
    for rec, film in zip(recs, collab, strict=True):
        if film is not None:
            assert rec.because[0] == film


def test_a_pick_popularity_made_says_so(hybrid_site, user, monkeypatch) -> None:
    # A blend that leans on popularity for users with few ratings, as one learnt on
    # ml-latest-small did (popularity 5.0 in the ≤ 5 bucket).
    loaded = store.active_bundle().hybrid
    monkeypatch.setattr(loaded.model, "weights", np.array([[1.0, 0.5, 5.0], [1.0, 0.1, 0.0], [1.0, 0.0, 0.0]]))
    rate(user, {most_rated(1, skip=30)[0]: 5.0})

    recs = engine.recommend_for_user(user, k=20)

    parts = hybrid_store.popularity_parts(loaded, [most_rated(1, skip=30)[0]], [r.movie_id for r in recs])
    led = [(p > 0 and 2 * p > r.score) for p, r in zip(parts, recs, strict=True)]
    assert any(led) and not all(led), led
    for rec, by_popularity in zip(recs, led, strict=True):
        assert (rec.why == "Popular with people on this site") == by_popularity, (rec.why, rec.score)
        assert not by_popularity or rec.because == []


def test_similar_films_use_who_liked_what(hybrid_site) -> None:
    from catalog.models import Movie

    film = Movie.objects.get(pk=most_rated(1)[0])
    loaded = store.active_bundle().hybrid
    row = np.asarray(loaded.model.collab.weights[loaded.col_of[film.pk]]).ravel()
    row[loaded.col_of[film.pk]] = -np.inf
    co_liked = loaded.movie_ids[int(np.argmax(row))]  # the film its collaborative row favours most

    similar = [r.movie_id for r in engine.similar_movies(film, k=12)]

    assert film.pk not in similar and len(similar) == 12
    assert co_liked in similar


def test_asking_for_films_like_one_uses_who_liked_what(hybrid_site) -> None:
    from catalog.models import Movie
    from recommendations.ask import ask

    film = Movie.objects.get(pk=most_rated(1)[0])

    answer = ask(None, f"something like {film.title}")

    assert [m.pk for m in answer.mentioned] == [film.pk]
    # Naming only a film asks for what the film page shows: the same blend of text and
    # collaborative similarity, with the film's co-liked films in it.
    assert [i.movie.pk for i in answer.items] == [r.movie_id for r in engine.similar_movies(film, k=10)]
