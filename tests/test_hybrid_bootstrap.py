"""The first model (``embed_films``, ``run.sh`` first start) gets the learnt hybrid when the
site already has enough ratings, and skips it, still serving, when it has not."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.management import call_command

from recommendations import services, store
from recommendations.models import ModelVersion
from tests.celery_worker import make_small_site
from tests.factories import MovieFactory, RatingFactory


class FakeEncoder:
    """Film vectors without TensorFlow: seeded from the text, unit length."""

    def embed(self, texts, *args, progress=None, **kwargs) -> np.ndarray:
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).normal(size=384) for t in texts]
        matrix = np.array(rows, dtype=np.float32)
        if progress:
            progress(len(texts), len(texts))
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@pytest.fixture
def fake_encoder(db, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(services, "get_encoder", lambda path: FakeEncoder())


def test_first_model_gets_the_hybrid_with_enough_ratings(fake_encoder) -> None:
    make_small_site()  # 20 users, 160 ratings, 30 films

    call_command("embed_films")

    version = services.active_version()
    info = version.metrics["hybrid"]
    assert info["path"] and info["films"] == 30 and info["ratings"] == 160
    assert version.collab_path  # the plain EASE too, for a fallback
    bundle = store.active_bundle()
    assert bundle.version_id == version.pk and bundle.hybrid is not None and bundle.collab is None


def test_first_model_without_enough_ratings_serves_without_hybrid(fake_encoder) -> None:
    films = [MovieFactory() for _ in range(4)]
    for film in films[:2]:
        RatingFactory(movie=film)

    version = services.bootstrap_base_version()

    assert version.status == ModelVersion.Status.ACTIVE
    assert "skipped" in version.metrics["hybrid"] and "path" not in version.metrics["hybrid"]
    bundle = store.active_bundle()
    assert bundle.version_id == version.pk and bundle.hybrid is None
