"""The serving prior: films rated by many and liked rise; one low rating does not make a film
"popular" for everyone, and on a new site the prior cannot outweigh a user's taste."""

from __future__ import annotations

import numpy as np
import pytest

from catalog.models import Genre
from catalog.services import rating_upsert
from recommendations import store
from recommendations.engine import recommend_for_user
from recommendations.ml.hybrid import rank_zscore
from tests.celery_worker import fake_active_version
from tests.factories import MovieFactory, UserFactory


def test_rank_zscore_is_bounded_and_shares_ties() -> None:
    z = rank_zscore(np.array([0.0] * 99 + [1e6]))
    assert abs(float(z.max())) <= np.sqrt(3) and np.allclose(z[:99], z[0]) and z[99] > z[0]
    assert not rank_zscore(np.zeros(5)).any()
    spread = rank_zscore(np.arange(1000.0))
    assert abs(float(spread.mean())) < 1e-6 and abs(float(spread.std()) - 1.0) < 1e-2


@pytest.fixture
def site(db):
    comedy, horror = Genre.objects.create(name="Comedy", slug="comedy"), Genre.objects.create(name="Horror", slug="horror")
    comedies = [MovieFactory(title=f"Comedy {i}", genres=[comedy]) for i in range(12)]
    horrors = [MovieFactory(title=f"Horror {i}", genres=[horror]) for i in range(12)]
    return comedies, horrors


def test_one_low_rating_does_not_lift_a_film(site) -> None:
    comedies, horrors = site
    disliked, liked = horrors[0], horrors[1]
    rating_upsert(user=UserFactory(), movie=disliked, value=0.5)
    for _ in range(2):
        rating_upsert(user=UserFactory(), movie=liked, value=5.0)
    fan = UserFactory()
    for movie in comedies[:3]:
        rating_upsert(user=fan, movie=movie, value=5.0)
    fake_active_version("genre")
    bundle = store.active_bundle()
    prior = dict(zip(bundle.movie_ids.tolist(), bundle.popularity.tolist(), strict=True))

    assert prior[disliked.pk] < prior[comedies[5].pk] < prior[liked.pk]  # unrated films sit between
    newcomer = recommend_for_user(UserFactory(), k=3)
    assert newcomer[0].movie_id == liked.pk and disliked.pk not in {r.movie_id for r in newcomer}
    # The comedy fan's list follows taste: the nine unseen comedies come first.
    assert {r.movie_id for r in recommend_for_user(fan, k=9)} == {m.pk for m in comedies[3:]}
