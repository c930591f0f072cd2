"""Shared fixtures. ML-only tests (tests/test_ml_*.py) need no database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED_DATA = Path(os.environ.get("MOVIEREC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "ml-latest-small" / "ratings.csv").exists():
        pytest.skip(f"shared MovieLens data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _fresh_serving_cache():
    """Each test sees a cold per-process model cache and an empty Django cache."""
    try:
        from django.core.cache import cache

        from recommendations.store import reset_cache
    except Exception:  # ML-only runs without Django settings
        yield
        return
    reset_cache()
    cache.clear()
    yield
    reset_cache()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's default language: a request in Chinese leaves its thread in
    Chinese, and code called directly (``ask``) translates in the thread's language."""
    try:
        from django.conf import settings
        from django.utils import translation

        language = settings.LANGUAGE_CODE
    except Exception:  # ML-only runs without Django settings
        yield
        return
    with translation.override(language):
        yield


@pytest.fixture
def user(db):
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def staff(db):
    from tests.factories import UserFactory

    return UserFactory(username="staff", is_staff=True, is_superuser=True)


_starter_vectors: dict[str, object] = {}


def promote_starter_model():
    """Load the starter catalogue and promote a base-model version over it with real MiniLM
    vectors. The forward pass runs once per session (``_starter_vectors``); each call writes its
    own artifact, so any database (the test DB, a transactional one) can use it."""
    import numpy as np

    from catalog.starter import load_starter_catalogue
    from recommendations import services, store
    from recommendations.encoders import get_encoder
    from recommendations.models import ModelVersion

    load_starter_catalogue()
    movie_ids, texts = services.catalogue_texts()
    missing = [t for t in texts if t not in _starter_vectors]
    if missing:
        _starter_vectors.update(zip(missing, get_encoder("").embed(missing), strict=True))
    matrix = np.stack([_starter_vectors[t] for t in texts]).astype(np.float32)
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY)
    hashes = np.array([services.text_hash(t) for t in texts])
    version.embeddings_path = store.save_embeddings(version.pk, movie_ids, matrix, hashes)
    version.save()
    return services.model_version_promote(version)


@pytest.fixture
def starter_model(db):
    """The starter catalogue in the test DB with a real, promoted base-model embedding."""
    return promote_starter_model()
