"""Serving caches: per-user candidate scores, film matrices once per process, no staleness.

No timing: calls to the expensive functions are counted, and the serving clock
(store's and engine's ``time.monotonic``) is a fake that the tests move by hand.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from catalog.models import Movie
from catalog.services import not_interested_add, rating_upsert
from recommendations import engine, services, store
from recommendations.feedback import user_cache_key
from recommendations.models import ModelVersion
from tests.factories import MovieFactory, UserFactory, random_embedding_version


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_version(seed: int) -> ModelVersion:
    return random_embedding_version(seed, dim=8)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(store.time, "monotonic", fake)
    return fake


@pytest.fixture
def counted(monkeypatch) -> dict[str, int]:
    """How often the shortlist is computed and a bundle is loaded."""
    counts = {"shortlist": 0, "load_bundle": 0}
    compute, load = engine._compute_shortlist, store.load_bundle

    def compute_counted(*args, **kwargs):
        counts["shortlist"] += 1
        return compute(*args, **kwargs)

    def load_counted(*args, **kwargs):
        counts["load_bundle"] += 1
        return load(*args, **kwargs)

    monkeypatch.setattr(engine, "_compute_shortlist", compute_counted)
    monkeypatch.setattr(store, "load_bundle", load_counted)
    return counts


@pytest.fixture
def films(db) -> list[Movie]:
    return [MovieFactory() for _ in range(30)]


@pytest.fixture
def model(films) -> ModelVersion:
    return services.model_version_promote(make_version(seed=1))


@pytest.fixture
def alice(films):
    user = UserFactory(username="alice")
    for movie, value in zip(films[:4], (5.0, 4.5, 2.0, 4.0), strict=True):
        rating_upsert(user=user, movie=movie, value=value)
    return user


@pytest.fixture
def bob(films):
    user = UserFactory(username="bob")
    rating_upsert(user=user, movie=films[10], value=4.0)
    return user


def ids(recs) -> list[int]:
    return [r.movie_id for r in recs]


def test_candidate_scores_are_cached_per_user(model, alice, bob, counted, clock):
    first = engine.recommend_for_user(alice, k=5)
    again = engine.recommend_for_user(alice, k=10)
    filtered = engine.recommend_for_user(alice, k=5, decade=1990)
    assert counted["shortlist"] == 1, "later calls, whatever k and filters, use the cached shortlist"
    assert ids(again)[:5] == ids(first) and filtered
    cached = cache.get(user_cache_key(alice.pk))
    assert isinstance(cached, engine.Shortlist) and cached.version_id == model.pk
    engine.recommend_for_user(bob, k=5)
    assert counted["shortlist"] == 2, "each user has their own entry"


def test_a_rating_invalidates_only_that_users_scores(model, alice, bob, films, counted, clock):
    engine.recommend_for_user(alice, k=5)
    engine.recommend_for_user(bob, k=5)
    assert counted["shortlist"] == 2

    rating_upsert(user=bob, movie=films[20], value=3.0)
    assert cache.get(user_cache_key(bob.pk)) is None
    assert cache.get(user_cache_key(alice.pk)) is not None
    engine.recommend_for_user(alice, k=5)
    assert counted["shortlist"] == 2, "another user's rating leaves alice's scores cached"

    top = engine.recommend_for_user(alice, k=5)[0]
    rating_upsert(user=alice, movie=Movie.objects.get(pk=top.movie_id), value=1.0)
    assert cache.get(user_cache_key(alice.pk)) is None
    after = engine.recommend_for_user(alice, k=5)
    assert counted["shortlist"] == 3 and top.movie_id not in ids(after), "her own rating recomputes at once"

    not_interested_add(user=alice, movie=Movie.objects.get(pk=after[0].movie_id))
    assert after[0].movie_id not in ids(engine.recommend_for_user(alice, k=5))
    assert counted["shortlist"] == 4


def test_film_matrices_are_loaded_once_per_process(model, alice, bob, films, counted, clock, monkeypatch):
    monkeypatch.setattr(store, "POLL_SECONDS", 0.0)  # check the pointer on every call: still one load
    bundle = store.active_bundle()
    for _ in range(3):
        for user in (alice, bob):
            engine.recommend_for_user(user, k=5)
        engine.similar_movies(films[0], k=5)
        clock.now += 60
    assert counted["load_bundle"] == 1
    assert store.active_bundle() is bundle


def test_a_promotion_is_served_at_the_next_poll_never_later(model, alice, films, counted, clock):
    before = engine.recommend_for_user(alice, k=5)
    assert {r.version_id for r in before} == {model.pk}
    new = services.model_version_promote(make_version(seed=2))

    clock.now += store.POLL_SECONDS  # the pointer is checked at most every POLL_SECONDS
    after = engine.recommend_for_user(alice, k=5)
    assert {r.version_id for r in after} == {new.pk}, "the cached shortlist of the old version is not reused"
    assert counted == {"shortlist": 2, "load_bundle": 2}
    assert cache.get(user_cache_key(alice.pk)).version_id == new.pk
    similar = engine.similar_movies(films[5], k=5)
    assert similar and {r.version_id for r in similar} == {new.pk}


def test_film_cards_are_cached_per_bundle_and_refreshed(model, alice, films, clock):
    top = engine.recommend_for_user(alice, k=1)[0]
    Movie.objects.filter(pk=top.movie_id).update(title="Renamed")
    assert engine.recommend_for_user(alice, k=1)[0].movie.title != "Renamed"  # served from the film cache
    clock.now += engine.FILM_CACHE_SECONDS
    assert engine.recommend_for_user(alice, k=1)[0].movie.title == "Renamed"
