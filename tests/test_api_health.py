"""GET /api/v1/health/: database, broker and active model, with no secrets."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from tests.factories import MovieFactory
from tests.test_api_recommendations import random_model

URL = "/api/v1/health/"


def test_embedded_broker_and_no_model_is_degraded(db):
    response = APIClient().get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == {"ok": True, "detail": "reachable"}
    assert body["broker"]["ok"] is True and body["broker"]["transport"] == "sqla+sqlite"
    assert body["model"] == {"ok": False, "version": None, "status": None, "fine_tuned": False, "activated_at": None}
    assert body["status"] == "degraded"


def test_all_well_with_an_active_model(db):
    MovieFactory.create_batch(3)
    version = random_model()
    body = APIClient().get(URL).json()
    assert body["status"] == "ok"
    assert body["model"]["ok"] is True and body["model"]["version"] == version.pk
    assert body["model"]["status"] == "active" and body["model"]["fine_tuned"] is False


def test_unreachable_broker_is_reported_quickly_without_its_address(db, settings):
    settings.CELERY_BROKER_URL = "redis://admin:s3cr3t-pass@127.0.0.1:1/0"
    settings.CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
    started = time.monotonic()
    response = APIClient().get(URL)
    assert time.monotonic() - started < 5
    assert response.status_code == 200
    body = response.json()
    assert body["broker"] == {"ok": False, "detail": "unreachable", "transport": "redis"}
    assert body["status"] == "degraded"
    text = response.content.decode()
    assert "s3cr3t" not in text and "127.0.0.1" not in text and "admin" not in text


def test_database_down_is_503(db, monkeypatch):
    def gone() -> None:
        raise RuntimeError("database is gone")

    monkeypatch.setattr("recommendations.api.ping_database", gone)
    response = APIClient().get(URL)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down" and body["database"] == {"ok": False, "detail": "unreachable"}
    assert "gone" not in response.content.decode()


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_health_is_read_only(db, method):
    response = getattr(APIClient(), method)(URL)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_retraining_no_worker_started_degrades_health(db):
    from datetime import timedelta

    from django.utils import timezone

    from recommendations.models import ModelVersion

    MovieFactory.create_batch(3)
    random_model()
    assert APIClient().get(URL).json()["training"]["ok"] is True
    queued = ModelVersion.objects.create(status=ModelVersion.Status.QUEUED)
    ModelVersion.objects.filter(pk=queued.pk).update(created_at=timezone.now() - timedelta(minutes=6))
    body = APIClient().get(URL).json()
    assert body["status"] == "degraded" and body["model"]["ok"] is True
    assert body["training"]["ok"] is False and f"v{queued.pk} queued since" in body["training"]["detail"]
