"""The training chain's collaborative stage also fits the hybrid, stores it with the version,
and evaluation and promotion keep it: the promoted version is served by its hybrid."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage

from recommendations import hybrid_store, services, store, training
from recommendations.models import ModelVersion
from tests.celery_worker import fake_active_version, fake_matrix, make_small_site

Status = ModelVersion.Status


@pytest.fixture
def candidate(db, settings, tmp_path):
    """A site with an active base version and a candidate that went through fine-tune and refresh."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MOVIEREC = {**settings.MOVIEREC, "PROMOTE_TOLERANCE": 1.0}  # this is about the plumbing
    make_small_site()
    fake_active_version("random")
    version = training.start_version(reason="test")
    ids, texts = services.catalogue_texts()
    hashes = np.array([services.text_hash(t) for t in texts], dtype="U16")
    path = store.save_embeddings(version.pk, ids, fake_matrix("genre", ids), hashes)
    ModelVersion.objects.filter(pk=version.pk).update(status=Status.TRAINING, encoder_path="made-up", embeddings_path=path)
    return ModelVersion.objects.get(pk=version.pk)


def test_collab_stage_stores_hybrid_and_evaluation_keeps_it(candidate, monkeypatch) -> None:
    seen: dict[str, object] = {}
    real_train = hybrid_store.train_hybrid

    def spy(version_id: int, **kwargs):
        # While the hybrid fits, the version's progress says so (and the heartbeat runs).
        seen["message"] = ModelVersion.objects.get(pk=version_id).progress_message
        seen["ratings"] = len(kwargs["ratings"][0])
        return real_train(version_id, **kwargs)

    monkeypatch.setattr(hybrid_store, "train_hybrid", spy)
    assert training.collab_version(candidate.pk) == candidate.pk

    version = ModelVersion.objects.get(pk=candidate.pk)
    split = training.build_split(version.data_counts["cutoff"])
    assert seen == {"message": "collab: fitting the hybrid ranker", "ratings": len(split.users)}  # every rating to the cutoff
    info = version.metrics["hybrid"]
    assert info["path"] == hybrid_store.hybrid_path(version.pk) and default_storage.exists(info["path"])
    assert info["films"] == 30 and info["users"] == 20 and info["ratings"] == len(split.users)
    assert set(info["weights"]) == {"cold", "warm", "active"} and info["seconds"] >= 0
    assert version.collab_path and version.metrics["collab"]["items"] == 30  # the plain EASE stays, as a fallback
    assert version.progress == training.STAGE_SPAN["collab"][1] and version.progress_message == "collab: done"

    # Evaluation fits each served hybrid again on the train part only, and keeps the artifact record.
    fits: list[int] = []
    real_fit = hybrid_store.fit_site_hybrid

    def fit_spy(movie_ids, matrix, users, movies, **kwargs):
        fits.append(len(users))
        return real_fit(movie_ids, matrix, users, movies, **kwargs)

    monkeypatch.setattr(hybrid_store, "fit_site_hybrid", fit_spy)
    assert training.evaluate_version(candidate.pk) == candidate.pk

    version.refresh_from_db()
    assert version.status == Status.ACTIVE
    assert fits == [int(split.train.sum())]  # the candidate only: the base version has no hybrid
    assert version.metrics["hybrid"]["path"] == info["path"] and 0 <= version.metrics["hybrid"]["ndcg@10"] <= 1
    store.reset_cache()
    bundle = store.active_bundle()
    assert bundle.version_id == version.pk and bundle.hybrid is not None and bundle.collab is None


def test_a_failed_hybrid_fit_leaves_the_collaborative_model(candidate, monkeypatch) -> None:
    def broken(version_id: int, **kwargs):
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(hybrid_store, "train_hybrid", broken)
    assert training.collab_version(candidate.pk) == candidate.pk

    version = ModelVersion.objects.get(pk=candidate.pk)
    assert "singular matrix" in version.metrics["hybrid"]["skipped"] and "path" not in version.metrics["hybrid"]
    assert version.collab_path and version.status == Status.TRAINING
    assert training.evaluate_version(candidate.pk) == candidate.pk
    store.reset_cache()
    bundle = store.active_bundle()
    assert bundle.version_id == candidate.pk and bundle.hybrid is None and bundle.collab is not None
