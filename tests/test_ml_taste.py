"""user_vector weighting, recency, "not interested", and explanations."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.ml.taste import contributions, explain, rating_weights, user_vector

DAY = 86_400.0


def unit_rows(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_single_rating_gives_that_films_direction() -> None:
    films = unit_rows(1)
    np.testing.assert_allclose(user_vector(np.array([4.0]), films), films[0], atol=1e-6)
    # A lone low rating points away from the film instead.
    np.testing.assert_allclose(user_vector(np.array([1.0]), films), -films[0], atol=1e-6)


def test_all_equal_ratings_still_give_a_vector() -> None:
    films = unit_rows(3)
    vec = user_vector(np.array([4.0, 4.0, 4.0]), films)
    expected = films.sum(axis=0) / np.linalg.norm(films.sum(axis=0))
    np.testing.assert_allclose(vec, expected, atol=1e-6)


def test_mean_centring_pulls_towards_liked_and_away_from_disliked() -> None:
    films = np.eye(3, dtype=np.float32)
    vec = user_vector(np.array([5.0, 3.0, 1.0]), films)
    assert vec[0] > 0 > vec[2]
    assert vec[1] == pytest.approx(0.0, abs=1e-7)
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-6)
    assert vec.dtype == np.float32


def test_recency_decay_halves_weight_each_half_life() -> None:
    ts = np.array([0.0, 365 * DAY])
    w = rating_weights(np.array([5.0, 5.0]), timestamps=ts, half_life_days=365.0)
    assert w[0] == pytest.approx(w[1] / 2)
    # now defaults to the latest rating, and future ratings do not grow.
    w_now = rating_weights(np.array([1.0, 5.0]), timestamps=ts, now=0.0, half_life_days=365.0)
    np.testing.assert_allclose(w_now, [-2.0, 2.0])
    np.testing.assert_allclose(
        rating_weights(np.array([1.0, 5.0]), timestamps=ts, half_life_days=None),
        [-2, 2],
    )


def test_recent_likes_dominate_old_ones() -> None:
    films = np.eye(2, dtype=np.float32)
    ratings = np.array([5.0, 5.0, 1.0])
    films3 = np.vstack([films, films[:1] * 0])
    vec = user_vector(ratings, films3, timestamps=np.array([0.0, 3650 * DAY, 3650 * DAY]))
    assert vec[1] > 10 * vec[0] > 0


def test_not_interested_counts_against() -> None:
    films = np.eye(3, dtype=np.float32)
    base = user_vector(np.array([5.0, 5.0]), films[:2])
    vec = user_vector(
        np.array([5.0, 5.0]),
        films[:2],
        not_interested=films[2:3],
        not_interested_weight=0.5,
    )
    assert base[2] == 0 and vec[2] < 0
    only_dismissed = user_vector(np.zeros(0), np.zeros((0, 3)), not_interested=films[1:2])
    np.testing.assert_allclose(only_dismissed, -films[1])


def test_zero_vector_when_nothing_to_go_on() -> None:
    assert not user_vector(np.zeros(0), np.zeros((0, 5))).any()
    assert user_vector(np.zeros(0), np.zeros((0, 5))).shape == (5,)
    films = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    assert not user_vector(np.array([5.0, 1.0]), films).any()  # cancels out


def test_shape_errors() -> None:
    with pytest.raises(ValueError):
        user_vector(np.array([4.0, 5.0]), unit_rows(3))
    with pytest.raises(ValueError):
        rating_weights(np.array([4.0, 5.0]), timestamps=np.array([1.0]))


def test_explain_picks_biggest_positive_contributors() -> None:
    films = np.eye(4, dtype=np.float32)
    weights = np.array([2.0, 0.5, -3.0, 1.0])
    candidate = np.array([0.5, 0.5, 0.9, 0.1], dtype=np.float32)
    share = contributions(weights, films, candidate)
    assert share[2] < 0
    assert explain(weights, films, candidate, top=3).tolist() == [0, 1, 3]
    assert explain(weights, films, candidate, top=1).tolist() == [0]
    assert explain(weights, films, np.zeros(4), top=3).size == 0


def test_scores_decompose_into_contributions() -> None:
    films = unit_rows(6, seed=3)
    ratings = np.array([5, 4, 2, 3.5, 1, 4.5])
    weights = rating_weights(ratings)
    raw = weights @ films.astype(np.float64)
    candidate = unit_rows(1, seed=9)[0]
    assert contributions(weights, films, candidate).sum() == pytest.approx(float(raw @ candidate), rel=1e-5)
