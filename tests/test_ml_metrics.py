"""Hand-computed cases for recommendations.ml.metrics (no Django, synthetic data only)."""

import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.ml.metrics import (
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    python_stratified_split,
    ranking_metrics,
    recall_at_k,
    top_k,
)


def truth_matrix(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    u = [i for i, r in enumerate(rows) for _ in r]
    c = [c for r in rows for c in r]
    return sp.csr_matrix((np.ones(len(c)), (u, c)), shape=(len(rows), n_items))


# User 0: relevant {1, 3}; ranked [1, 0, 3] -> hits at ranks 1 and 3.
# User 1: relevant {0, 2, 4, 5}; ranked [5, 2, 1] -> hits at ranks 1 and 2.
RANKED = np.array([[1, 0, 3], [5, 2, 1]])
TRUTH = truth_matrix([[1, 3], [0, 2, 4, 5]], 6)


def test_precision_divides_by_k() -> None:
    assert precision_at_k(RANKED, TRUTH, k=3) == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_recall() -> None:
    assert recall_at_k(RANKED, TRUTH, k=3) == pytest.approx((2 / 2 + 2 / 4) / 2)


def test_ndcg_binary() -> None:
    u0 = (1 / math.log(2) + 1 / math.log(4)) / (1 / math.log(2) + 1 / math.log(3))
    u1 = (1 / math.log(2) + 1 / math.log(3)) / (1 / math.log(2) + 1 / math.log(3) + 1 / math.log(4))
    assert ndcg_at_k(RANKED, TRUTH, k=3) == pytest.approx((u0 + u1) / 2)


def test_map_is_spark_style_over_all_relevant() -> None:
    u0 = (1 / 1 + 2 / 3) / 2
    u1 = (1 / 1 + 2 / 2) / 4  # divided by all 4 relevant items, not by min(4, k)
    assert map_at_k(RANKED, TRUTH, k=3) == pytest.approx((u0 + u1) / 2)


def test_ranking_metrics_matches_single_functions_and_skips_users_without_truth() -> None:
    ranked = np.vstack([RANKED, [[0, 1, 2]]])
    truth = sp.vstack([TRUTH, sp.csr_matrix((1, 6))]).tocsr()
    m = ranking_metrics(ranked, truth, k=3)
    assert m.n_users == 2
    assert m.ndcg == pytest.approx(ndcg_at_k(RANKED, TRUTH, k=3))
    assert m.precision == pytest.approx(precision_at_k(RANKED, TRUTH, k=3))
    assert m.recall == pytest.approx(recall_at_k(RANKED, TRUTH, k=3))
    assert m.map == pytest.approx(map_at_k(RANKED, TRUTH, k=3))


def test_perfect_ranking_scores_one() -> None:
    ranked = np.array([[2, 0, -1]])
    truth = truth_matrix([[0, 2]], 3)
    assert ndcg_at_k(ranked, truth, k=3) == pytest.approx(1.0)
    assert map_at_k(ranked, truth, k=3) == pytest.approx(1.0)


def test_top_k_excludes_seen_and_breaks_ties_by_index() -> None:
    scores = np.array([[0.5, 0.9, 0.5, 0.5, 0.1]])
    seen = sp.csr_matrix(np.array([[0, 1, 0, 0, 0]]))
    assert top_k(scores, 3, exclude=seen).tolist() == [[0, 2, 3]]
    # Pads with -1 when fewer items are eligible.
    assert top_k(scores, 6, exclude=seen)[0, 4:].tolist() == [-1, -1]


def test_stratified_split_per_group_counts() -> None:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(6), [1, 2, 4, 6, 10, 3])
    items = rng.integers(0, 50, users.size)
    train = python_stratified_split(users, items, ratio=0.75, filter_by="user", seed=42)
    per_user = np.bincount(users[train], minlength=6)
    # round-half-to-even like numpy: 0.75, 1.5, 3, 4.5, 7.5, 2.25 -> 1, 2, 3, 4, 8, 2
    assert per_user.tolist() == [1, 2, 3, 4, 8, 2]


def test_stratified_split_is_deterministic_and_matches_reference_recipe() -> None:
    rng = np.random.default_rng(1)
    users = rng.integers(0, 20, 300)
    items = rng.integers(0, 30, 300)
    mask = python_stratified_split(users, items, filter_by="item", seed=42)
    assert np.array_equal(mask, python_stratified_split(users, items, filter_by="item", seed=42))
    # Reference recipe spelt out: one uniform draw per row, sort by (group, draw).
    draw = np.random.RandomState(42).rand(300)
    for g in np.unique(items):
        rows = np.flatnonzero(items == g)
        ordered = rows[np.argsort(draw[rows])]
        n_train = int(np.round(0.75 * rows.size))
        assert set(ordered[:n_train]) == set(np.flatnonzero(mask & (items == g)))
