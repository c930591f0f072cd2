"""Films rated below the scale's midpoint do not feed the collaborative model: a comedy rated 1★
does not bring more comedies, and a user who only disliked films gets the popular list, said so."""

from __future__ import annotations

import pytest

from recommendations import engine
from tests.hybrid_site import load_movielens_ratings, most_rated, rate, train_site_hybrid

pytestmark = pytest.mark.slow


@pytest.fixture
def hybrid_site(starter_model, shared_data):
    load_movielens_ratings(shared_data)
    train_site_hybrid(starter_model)
    return starter_model


def test_a_disliked_film_changes_nothing_but_its_own_exclusion(hybrid_site, user, django_user_model) -> None:
    liked, disliked = most_rated(4), most_rated(1, skip=4)[0]
    rate(user, dict.fromkeys(liked, 5.0))
    before = [r.movie_id for r in engine.recommend_for_user(user, k=15) if r.movie_id != disliked]
    rate(user, {disliked: 1.0})
    after = [r.movie_id for r in engine.recommend_for_user(user, k=15)]
    assert disliked not in after
    assert after[:10] == before[:10]  # the collaborative input is the same four films


def test_only_dislikes_give_the_popular_list(hybrid_site, django_user_model) -> None:
    user = django_user_model.objects.create_user("grumpy", password="a-long-test-password-1")
    rate(user, {most_rated(1)[0]: 1.0})
    recs = engine.recommend_for_user(user, k=5)
    assert len(recs) == 5 and all(r.why == "Popular with people on this site" for r in recs)
