"""A genre or decade filter returns k films when the catalogue has them, even when the user's
cached shortlist holds few films of that kind."""

from __future__ import annotations

import pytest

from catalog.models import Genre
from catalog.services import rating_upsert
from recommendations import engine
from recommendations.engine import recommend_for_user
from tests.celery_worker import fake_active_version
from tests.factories import MovieFactory, UserFactory


@pytest.fixture
def comedy_fan(db, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(engine, "CANDIDATES", 5)  # a shortlist much smaller than the catalogue
    comedy, horror = Genre.objects.create(name="Comedy", slug="comedy"), Genre.objects.create(name="Horror", slug="horror")
    comedies = [MovieFactory(title=f"Comedy {i}", year=1990 + i, genres=[comedy]) for i in range(12)]
    horrors = [MovieFactory(title=f"Horror {i}", year=1970 + i, genres=[horror]) for i in range(12)]
    fan = UserFactory()
    for movie in comedies[:3]:
        rating_upsert(user=fan, movie=movie, value=5.0)
    rating_upsert(user=fan, movie=horrors[0], value=2.0)
    fake_active_version("genre")
    return fan, comedies, horrors


def test_genre_outside_the_shortlist_still_fills_the_list(comedy_fan) -> None:
    fan, _, horrors = comedy_fan
    assert all(r.movie.title.startswith("Comedy") for r in recommend_for_user(fan, k=5))
    recs = recommend_for_user(fan, k=8, genre="horror")
    assert len(recs) == 8
    assert {r.movie_id for r in recs} <= {m.pk for m in horrors[1:]}  # the rated one stays out
    assert all(r.why for r in recs)


def test_decade_outside_the_shortlist_still_fills_the_list(comedy_fan) -> None:
    fan, _, horrors = comedy_fan
    recs = recommend_for_user(fan, k=20, decade=1970)
    assert sorted(r.movie_id for r in recs) == sorted(m.pk for m in horrors[1:10])  # 1971–1979, unseen


def test_a_filtered_list_is_computed_once_until_the_next_rating(comedy_fan, monkeypatch: pytest.MonkeyPatch) -> None:
    fan, _, horrors = comedy_fan
    scored: list[int] = []
    real = engine.score_user
    monkeypatch.setattr(engine, "score_user", lambda *a, **kw: scored.append(1) or real(*a, **kw))
    first = [r.movie_id for r in recommend_for_user(fan, k=8, genre="horror")]
    assert len(scored) == 2  # the shortlist, then the horror films
    assert [r.movie_id for r in recommend_for_user(fan, k=8, genre="horror")] == first
    assert [r.movie_id for r in recommend_for_user(fan, k=3, genre="horror")] == first[:3]
    assert len(scored) == 2  # served from the cached shortlist
    rating_upsert(user=fan, movie=horrors[5], value=5.0)
    after = [r.movie_id for r in recommend_for_user(fan, k=8, genre="horror")]
    assert len(scored) == 4 and horrors[5].pk not in after
