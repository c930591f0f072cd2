"""The admin's Training tasks page says when a task Celery still calls STARTED can never finish
(its worker was killed and the sweep failed its version)."""

from __future__ import annotations

from django_celery_results.models import TaskResult

from recommendations import training
from recommendations.models import ModelVersion


def test_a_started_task_of_a_failed_version_is_shown_lost(client, staff) -> None:
    killed = training.start_version(reason="test")
    running = ModelVersion.objects.create(status=ModelVersion.Status.TRAINING, data_counts={"tasks": {"fine_tune": "t-running"}})
    ModelVersion.objects.filter(pk=killed.pk).update(status=ModelVersion.Status.FAILED)
    lost_id = killed.data_counts["tasks"]["fine_tune"]
    TaskResult.objects.create(task_id=lost_id, task_name="recommendations.tasks.fine_tune_encoder", status="STARTED")
    TaskResult.objects.create(task_id="t-running", task_name="recommendations.tasks.fine_tune_encoder", status="STARTED")
    client.force_login(staff)

    page = client.get("/admin/recommendations/modelversion/tasks/").content.decode()

    assert page.count("STARTED, lost (the version failed)") == 1
    assert f"v{killed.pk}</a> failed" in page
    assert f"v{running.pk}</a> training" in page and "<td>STARTED</td>" in page
