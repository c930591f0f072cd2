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


@pytest.fixture
def user(db):
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def staff(db):
    from tests.factories import UserFactory

    return UserFactory(username="staff", is_staff=True, is_superuser=True)
