"""/api/v1/models/ (staff only): versions with metrics, start a retraining, state and progress of a task."""

from __future__ import annotations

import sys
import types

import pytest
from django.utils import timezone
from django_celery_results.models import TaskResult
from rest_framework.test import APIClient

from recommendations.models import ModelVersion
from recommendations.serializers import finite
from tests.factories import MovieFactory
from tests.test_api_recommendations import random_model, token_client

URL = "/api/v1/models/"


@pytest.fixture
def staff_client(staff) -> APIClient:
    return token_client(staff)


@pytest.fixture
def versions(db) -> tuple[ModelVersion, ModelVersion]:
    MovieFactory.create_batch(3)
    active = random_model()
    ModelVersion.objects.filter(pk=active.pk).update(metrics={"recall@10": 0.11, "ndcg@10": 0.08}, loss_curve=[2.0, 1.5])
    candidate = ModelVersion.objects.create(
        status=ModelVersion.Status.TRAINING,
        parent=active,
        task_id="task-123",
        progress=0.4,
        progress_message="fine-tuning: step 40 of 100",
        metrics={"recall@10": None},
    )
    return active, candidate


def test_staff_lists_versions_with_metrics(staff_client, versions):
    active, candidate = versions
    body = staff_client.get(URL).json()
    assert body["count"] == 2
    first, second = body["results"]
    assert first["id"] == candidate.pk and first["status"] == "training" and first["is_active"] is False
    assert first["parent"] == active.pk and first["progress"] == 0.4
    assert first["metrics"] == {"recall@10": None}
    assert second["id"] == active.pk and second["is_active"] is True
    assert second["progress"] == 1.0  # built outside a chain (progress never reported), but finished
    assert second["metrics"] == {"recall@10": 0.11, "ndcg@10": 0.08}
    assert "embeddings_path" not in second


def test_non_finite_numbers_are_sent_as_null():
    """NaN and infinities are not JSON; a metric like that (possible on MongoDB) must not break the answer."""
    assert finite({"recall@10": float("nan"), "curve": [1.5, float("inf")], "n": 3}) == {
        "recall@10": None,
        "curve": [1.5, None],
        "n": 3,
    }


def test_version_detail_has_the_loss_curve(staff_client, versions):
    active, _ = versions
    body = staff_client.get(f"{URL}{active.pk}/").json()
    assert body["loss_curve"] == [2.0, 1.5] and body["is_active"] is True
    assert staff_client.get(f"{URL}999999/").status_code == 404


def test_retraining_is_503_without_a_training_module(staff_client, db, monkeypatch):
    monkeypatch.setitem(sys.modules, "recommendations.training", None)
    response = staff_client.post(URL)
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "unavailable",
        "message": "Retraining is not available on this server yet.",
        "fields": {},
    }


def test_retraining_calls_retrain_now(staff_client, staff, versions, monkeypatch):
    _, candidate = versions
    calls = []

    def retrain_now(user):
        calls.append(user)
        return candidate

    monkeypatch.setitem(sys.modules, "recommendations.training", types.SimpleNamespace(retrain_now=retrain_now))
    response = staff_client.post(URL)
    assert response.status_code == 202
    assert response.json() == {"detail": "Retraining queued.", "task_id": "task-123", "version": candidate.pk}
    assert calls == [staff]


def test_retraining_returns_the_task_and_its_version(staff_client, versions, monkeypatch):
    _, candidate = versions
    fake = types.SimpleNamespace(TrainingBusy=type("TrainingBusy", (RuntimeError,), {}), retrain_now=lambda user: "task-123")
    monkeypatch.setitem(sys.modules, "recommendations.training", fake)
    assert staff_client.post(URL).json() == {"detail": "Retraining queued.", "task_id": "task-123", "version": candidate.pk}


def test_retraining_while_one_runs_is_409(staff_client, db, monkeypatch):
    busy = type("TrainingBusy", (RuntimeError,), {})

    def retrain_now(user):
        raise busy("locked")

    monkeypatch.setitem(sys.modules, "recommendations.training", types.SimpleNamespace(TrainingBusy=busy, retrain_now=retrain_now))
    response = staff_client.post(URL)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert response.json()["error"]["message"] == "Locked; poll its task, or try again when it ends."  # training's own words


def test_retraining_that_cannot_be_queued_is_503(staff_client, db, monkeypatch):
    def retrain_now(user):
        raise ConnectionError("broker down")

    monkeypatch.setitem(sys.modules, "recommendations.training", types.SimpleNamespace(retrain_now=retrain_now))
    response = staff_client.post(URL)
    assert response.status_code == 503
    assert "broker" in response.json()["error"]["message"]


def test_task_state_joins_celery_result_and_version_progress(staff_client, versions):
    _, candidate = versions
    TaskResult.objects.create(task_id="task-123", status="STARTED", task_name="recommendations.tasks.fine_tune_encoder")
    body = staff_client.get(f"{URL}tasks/task-123/").json()
    assert body["state"] == "STARTED" and body["task_state"] == "STARTED" and body["name"] == "recommendations.tasks.fine_tune_encoder"
    assert body["progress"] == 0.4 and body["progress_message"] == "fine-tuning: step 40 of 100"
    assert body["version"] == candidate.pk and body["version_status"] == "training"
    assert body["date_created"] and "date_done" in body


def test_task_state_from_celery_alone_and_unknown_tasks(staff_client, db):
    TaskResult.objects.create(task_id="only-celery", status="SUCCESS", task_name="recommendations.tasks.refresh_embeddings")
    body = staff_client.get(f"{URL}tasks/only-celery/").json()
    assert body["state"] == "SUCCESS" and body["progress"] == 1.0 and body["version"] is None
    missing = staff_client.get(f"{URL}tasks/no-such-task/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert staff_client.get(f"{URL}tasks/{'x' * 300}/").status_code == 404


def test_task_state_from_the_version_alone(staff_client, versions):
    body = staff_client.get(f"{URL}tasks/task-123/").json()
    assert body["state"] == "STARTED" and body["task_state"] is None and body["name"] is None and body["progress"] == 0.4


def test_a_retrainings_task_is_done_only_when_its_chain_is(staff_client, versions):
    """The first task (fine-tuning) succeeds long before the chain ends, and a killed worker's task
    stays STARTED in Celery for ever: the state follows the version."""
    _, candidate = versions
    TaskResult.objects.create(task_id="task-123", status="SUCCESS", task_name="recommendations.tasks.fine_tune_encoder")
    body = staff_client.get(f"{URL}tasks/task-123/").json()
    assert (body["state"], body["task_state"], body["date_done"]) == ("STARTED", "SUCCESS", None)
    ModelVersion.objects.filter(pk=candidate.pk).update(status="failed", finished_at=timezone.now())
    TaskResult.objects.filter(task_id="task-123").update(status="STARTED")
    body = staff_client.get(f"{URL}tasks/task-123/").json()
    assert (body["state"], body["task_state"], body["version_status"]) == ("FAILURE", "STARTED", "failed") and body["date_done"]


def test_non_staff_are_refused(user, versions):
    client = token_client(user)
    for response in (client.get(URL), client.post(URL), client.get(f"{URL}tasks/task-123/"), client.get(f"{URL}{versions[0].pk}/")):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    assert APIClient().get(URL).status_code == 401


def test_retrain_with_the_real_training_module_then_poll_its_task(staff_client, db):
    """End to end with recommendations.training: the chain is published to the embedded broker (no worker runs it)."""
    pytest.importorskip("recommendations.training")
    MovieFactory.create_batch(3)
    random_model()
    response = staff_client.post(URL)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["task_id"] and body["version"]
    state = staff_client.get(f"{URL}tasks/{body['task_id']}/").json()
    assert state["version"] == body["version"]
    assert state["state"] == "PENDING" and state["version_status"] == "queued"  # no worker runs it here
    again = staff_client.post(URL)
    assert again.status_code == 409, again.json()
    assert f"already queued (v{body['version']}, waiting for an ml worker" in again.json()["error"]["message"]
