"""Serving picks up promotions without a restart and survives a broken artifact."""

import numpy as np
from django.core.files.storage import default_storage

from recommendations import services, store
from recommendations.models import ModelVersion
from tests.factories import MovieFactory


def make_version(movie_ids: list[int], seed: int) -> ModelVersion:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(len(movie_ids), 8)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY)
    version.embeddings_path = store.save_embeddings(version.pk, np.array(movie_ids), matrix, np.array(["x"] * len(movie_ids)))
    version.save()
    return version


def test_promotion_is_picked_up_without_restart(db, monkeypatch):
    monkeypatch.setattr(store, "POLL_SECONDS", 0.0)
    ids = [MovieFactory().pk for _ in range(4)]
    first, second = make_version(ids, 1), make_version(ids, 2)
    services.model_version_promote(first)
    assert store.active_bundle().version_id == first.pk
    services.model_version_promote(second)
    assert store.active_bundle().version_id == second.pk
    first.refresh_from_db()
    assert first.status == ModelVersion.Status.READY
    assert ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).count() == 1


def test_corrupt_artifact_falls_back_to_last_good(db, monkeypatch, caplog):
    monkeypatch.setattr(store, "POLL_SECONDS", 0.0)
    ids = [MovieFactory().pk for _ in range(4)]
    good, bad = make_version(ids, 1), make_version(ids, 2)
    services.model_version_promote(good)
    assert store.active_bundle().version_id == good.pk
    services.model_version_promote(bad)
    default_storage.delete(bad.embeddings_path)
    with default_storage.open(bad.embeddings_path, "wb") as handle:
        handle.write(b"not an npz")
    assert store.active_bundle().version_id == good.pk
    assert "missing or corrupt" in caplog.text
    store.reset_cache()  # a fresh process with no previous bundle still finds the good one
    assert store.active_bundle().version_id == good.pk
