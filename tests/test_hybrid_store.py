"""The hybrid as a site artifact: trained on DB ratings and fake film vectors, stored, served."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations import hybrid_store, store
from recommendations.models import ModelVersion
from tests.factories import MovieFactory, RatingFactory, UserFactory

N_FILMS = 30  # two taste groups: films 0-14 and 15-29


@pytest.fixture
def trained(db):
    rng = np.random.default_rng(0)
    movies = [MovieFactory(title=f"Film {i}") for i in range(N_FILMS)]
    group = np.arange(N_FILMS) // 15
    for u in range(48):
        user = UserFactory(username=f"viewer{u}")
        mine = np.flatnonzero(group == u % 2)
        for i in rng.choice(mine, size=8, replace=False):
            RatingFactory(user=user, movie=movies[int(i)], value=float(rng.integers(3, 6)))
    # Fake embeddings: the group direction plus noise, so content agrees with behaviour.
    vectors = np.eye(2)[group] + 0.3 * rng.normal(size=(N_FILMS, 2))
    vectors = np.hstack([vectors, 0.1 * rng.normal(size=(N_FILMS, 6))]).astype(np.float32)
    ids = np.array([m.pk for m in movies], dtype=np.int64)
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY)
    version.embeddings_path = store.save_embeddings(version.pk, ids, vectors, np.array(["h"] * N_FILMS))
    version.save()
    info = hybrid_store.train_hybrid(version.pk, budget_seconds=120)
    return version, ids, group, info


def test_train_stores_artifact_with_weights(trained) -> None:
    version, ids, _group, info = trained
    assert info["path"] == hybrid_store.hybrid_path(version.pk)
    assert info["films"] == N_FILMS and info["users"] == 48 and info["ratings"] == 48 * 8
    assert set(info["weights"]) == {"cold", "warm", "active"}
    for w in info["weights"].values():
        assert set(w) == {"collab", "content", "popularity"}
    loaded = hybrid_store.load_hybrid(info["path"])
    assert np.array_equal(loaded.movie_ids, ids)
    assert loaded.model.collab is not None and loaded.model.collab.weights.shape == (N_FILMS, N_FILMS)


def test_user_scores_match_model_and_exclude_nothing(trained) -> None:
    _version, ids, group, info = trained
    loaded = hybrid_store.load_hybrid(info["path"])
    profile = [int(ids[0]), int(ids[3])]  # two group-0 films: the cold bucket
    scores = hybrid_store.hybrid_user_scores(loaded, loaded.col_of, profile)
    assert scores.shape == (N_FILMS,) and np.isfinite(scores).all()  # rated films too: the engine filters
    row = sp.csr_matrix((np.ones(2, np.float32), ([0, 0], [0, 3])), shape=(1, N_FILMS))
    reference = loaded.model.score(row)[0]
    unseen = np.isfinite(reference)
    assert np.allclose(scores[unseen], reference[unseen], atol=1e-4)
    # Co-liked (same-group) films rank above the other group's.
    others = np.setdiff1d(np.flatnonzero(group == 0), [0, 3])
    assert scores[others].mean() > scores[group == 1].mean()
    assert np.argsort(-scores[unseen])[:5].tolist()  # non-empty ranking
    top = np.flatnonzero(unseen)[np.argsort(-scores[unseen])[:5]]
    assert (group[top] == 0).all()


def test_user_scores_edge_cases(trained) -> None:
    _version, ids, _group, info = trained
    loaded = hybrid_store.load_hybrid(info["path"])
    # Unknown films are ignored; no known film means the popularity ranking.
    pop = hybrid_store.hybrid_user_scores(loaded, loaded.col_of, [10**9])
    assert np.allclose(pop, loaded.pop_z)
    # A raw HybridModel with a plain index works too (slower path, same numbers).
    raw = hybrid_store.hybrid_user_scores(loaded.model, loaded.col_of, [int(ids[1])])
    fast = hybrid_store.hybrid_user_scores(loaded, loaded.col_of, [int(ids[1])])
    assert np.allclose(raw, fast, atol=1e-5)


def test_bundle_layout_gives_new_films_content_scores(trained) -> None:
    version, ids, _group, info = trained
    # A later embedding with one extra (unrated) film, in a different row order.
    order = np.r_[np.arange(N_FILMS)[::-1]]
    new_id = int(ids.max()) + 1000
    movie_ids = np.r_[ids[order], new_id]
    matrix = np.random.default_rng(1).normal(size=(N_FILMS + 1, 8)).astype(np.float32)
    bundle = store.Bundle(version.pk, movie_ids, matrix, {int(m): i for i, m in enumerate(movie_ids)})
    version.metrics = {"hybrid": info}
    hybrid_store.attach_hybrid(bundle, version)
    content = np.linspace(-1, 1, N_FILMS + 1).astype(np.float32)
    out = hybrid_store.bundle_hybrid_scores(bundle, [int(ids[0])], content)
    direct = hybrid_store.hybrid_user_scores(bundle.hybrid, bundle.hybrid.col_of, [int(ids[0])])
    assert np.allclose(out[: N_FILMS][::-1], direct)  # rows follow the bundle's order
    assert np.isfinite(out[-1]) and out[-1] == pytest.approx(float((content[-1] - content.mean()) / content.std()), rel=1e-5)


def test_too_few_ratings_is_skipped(db) -> None:
    movies = [MovieFactory() for _ in range(3)]
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY)
    ids = np.array([m.pk for m in movies])
    version.embeddings_path = store.save_embeddings(version.pk, ids, np.eye(3, dtype=np.float32), np.array(["h"] * 3))
    version.save()
    RatingFactory(movie=movies[0])
    assert "skipped" in hybrid_store.train_hybrid(version.pk, budget_seconds=60)


def test_user_scores_match_model_in_every_bucket() -> None:
    """The served (fused, float32) blend equals HybridModel.score on unseen films for profiles
    in each activity bucket, a profile holding all but one film, and one holding every film."""
    from recommendations.ml.collab import CollabModel
    from recommendations.ml.hybrid import HybridModel

    n, rng = 400, np.random.default_rng(0)
    model = HybridModel()
    model.collab = CollabModel("ease", n, rng.normal(0.0, 0.05, (n, n)).astype(np.float32), {})
    model.item_vectors = rng.normal(size=(n, 16)).astype(np.float32)
    model.popularity = rng.random(n).astype(np.float32)
    model.weights = np.array([[1.0, 0.5, 2.0], [1.0, 0.2, 0.5], [1.0, 0.1, 0.0]])
    loaded = hybrid_store.prepare(model, np.arange(n))
    for size in (3, 12, 60, n - 1):
        cols = rng.choice(n, size=size, replace=False)
        served = hybrid_store.hybrid_user_scores(loaded, loaded.col_of, cols.tolist())
        row = sp.csr_matrix((np.ones(size, np.float32), (np.zeros(size, int), cols)), shape=(1, n))
        reference = model.score(row)[0]
        unseen = np.isfinite(reference)
        assert unseen.sum() == n - size
        assert np.allclose(served[unseen], reference[unseen], rtol=1e-4, atol=1e-4)
    everything = hybrid_store.hybrid_user_scores(loaded, loaded.col_of, list(range(n)))
    assert np.isfinite(everything).all()  # nothing unseen: no division by zero


def test_train_on_given_ratings_only(trained) -> None:
    from recommendations.collab_store import ratings_arrays

    version, _ids, _group, _info = trained
    users, movies, values, stamps = ratings_arrays()
    keep = users != users[0]  # e.g. a train part: one user's ratings held out
    info = hybrid_store.train_hybrid(version.pk, budget_seconds=120, ratings=(users[keep], movies[keep], values[keep], stamps[keep]))
    assert info["users"] == 47 and info["ratings"] == int(keep.sum())


def test_because_names_a_rated_film_for_co_liked_candidates(trained) -> None:
    _version, ids, group, info = trained
    loaded = hybrid_store.load_hybrid(info["path"])
    profile = [int(ids[0]), int(ids[3])]
    candidates = [int(m) for m in ids[(group == 0)][2:6]] + [10**9]
    because = hybrid_store.hybrid_because(loaded, profile, candidates)
    assert all(b in profile for b in because[:-1]) and because[-1] is None
    assert hybrid_store.hybrid_because(loaded, [], candidates) == [None] * len(candidates)


def test_bundle_in_hybrid_order_serves_the_same_scores_from_rows(trained) -> None:
    version, ids, _group, info = trained
    bundle = store.Bundle(version.pk, ids, np.zeros((N_FILMS, 8), np.float32), {int(m): i for i, m in enumerate(ids)})
    version.metrics = {"hybrid": info}
    hybrid_store.attach_hybrid(bundle, version)
    assert bundle.hybrid_identity
    profile = [int(ids[4]), int(ids[2]), int(ids[20])]
    rows = np.array([bundle.row_of[m] for m in profile])
    by_rows = hybrid_store.bundle_hybrid_scores(bundle, profile, np.zeros(N_FILMS, np.float32), rows)
    by_ids = hybrid_store.hybrid_user_scores(bundle.hybrid, bundle.hybrid.col_of, profile)
    assert np.array_equal(by_rows, by_ids)
