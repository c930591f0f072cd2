"""Model-version controls in the admin: only staff with the change permission can swap the served model,
and a roll-back is confirmed first.

Before, a staff member with only the view permission was offered the "Promote" action and it
promoted (Django actions need no permission unless they declare one), saw "Retrain now" and
"Roll back" and got an empty 403 for them; and one click on "Roll back" switched every user's
recommendations at once.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import Movie
from recommendations import services
from recommendations.models import ActiveModel, ModelVersion
from tests.factories import MovieFactory, UserFactory, model_permissions, random_embedding_version

CHANGELIST = "/admin/recommendations/modelversion/"
ROLLBACK = "/admin/recommendations/modelversion/rollback/"


@pytest.fixture
def versions(db) -> tuple[ModelVersion, ModelVersion]:
    """v(old) active, then v(new) promoted over it: a roll-back would re-activate old."""
    for i in range(3):
        MovieFactory(title=f"Film {i}")
    assert Movie.objects.count() == 3
    old = services.model_version_promote(random_embedding_version(seed=1))
    new = random_embedding_version(seed=2)
    ModelVersion.objects.filter(pk=new.pk).update(parent=old)
    return old, services.model_version_promote(ModelVersion.objects.get(pk=new.pk))


def served() -> int:
    return ActiveModel.objects.singleton().get().version_id


@pytest.fixture
def viewer(db):
    user = UserFactory(username="viewer", is_staff=True)
    user.user_permissions.set(model_permissions("view"))
    return user


def test_view_only_staff_cannot_promote_and_are_not_offered_the_controls(client, viewer, versions):
    old, new = versions
    client.force_login(viewer)

    page = client.get(CHANGELIST).content.decode()
    assert "promote_selected" not in page and "Retrain now" not in page and "Roll back" not in page
    assert "Running tasks" in page
    client.post(CHANGELIST, {"action": "promote_selected", "_selected_action": [old.pk]})
    assert served() == new.pk
    for url in (ROLLBACK, "/admin/recommendations/modelversion/retrain/"):
        response = client.post(url)
        assert response.status_code == 403 and b"403 Forbidden" in response.content  # the admin's page, not an empty body
    assert served() == new.pk


def test_staff_who_may_change_versions_promote_them(client, db, versions):
    old, _ = versions
    operator = UserFactory(username="operator", is_staff=True)
    operator.user_permissions.set(model_permissions("view", "change"))
    client.force_login(operator)
    page = client.get(CHANGELIST).content.decode()
    assert "promote_selected" in page and "Retrain now" in page and "Roll back" in page
    client.post(CHANGELIST, {"action": "promote_selected", "_selected_action": [old.pk]})
    assert served() == old.pk


def test_roll_back_asks_first_and_says_what_it_replaces(client, staff, versions):
    old, new = versions
    client.force_login(staff)

    page = client.get(ROLLBACK).content.decode()
    assert served() == new.pk  # asking changed nothing
    assert f"v{new.pk}</a> is serving every user now" in page and f"v{old.pk}</a> (ready)" in page
    assert 'value="Yes, roll back"' in page
    assert reverse("admin:recommendations_modelversion_rollback") in client.get(CHANGELIST).content.decode()

    response = client.post(ROLLBACK, follow=True)
    assert served() == old.pk and f"Rolled back: v{old.pk} is active again." in response.content.decode()


def test_roll_back_page_without_an_active_version(client, staff):
    client.force_login(staff)
    assert "nothing to roll back from" in client.get(ROLLBACK).content.decode()


def test_the_tasks_page_shows_each_tasks_own_progress(client, staff):
    """Seen on a real retraining: while train_collab ran (the version at 87%), the finished
    fine-tuning and refresh rows showed 87% too, and the running task showed a "done" time."""
    from django.utils import timezone
    from django_celery_results.models import TaskResult

    from recommendations import training

    version = training.start_version(reason="test")
    ids = version.data_counts["tasks"]
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.TRAINING, progress=0.875)
    started = timezone.now()
    for stage, name, status in (("fine_tune", "fine_tune_encoder", "SUCCESS"), ("refresh", "refresh_embeddings", "SUCCESS"),
                                ("collab", "train_collab", "STARTED")):  # fmt: skip
        TaskResult.objects.create(task_id=ids[stage], task_name=f"recommendations.tasks.{name}", status=status, date_done=started)
    client.force_login(staff)

    page = client.get("/admin/recommendations/modelversion/tasks/").content.decode()
    rows = {name: page.split(f"<td>{name}</td>")[1].split("</tr>")[0] for name in ("fine_tune_encoder", "refresh_embeddings", "train_collab")}

    assert 'title="100%"' in rows["fine_tune_encoder"] and 'title="100%"' in rows["refresh_embeddings"]
    assert 'title="50%"' in rows["train_collab"]  # halfway through the collaborative stage (0.85 to 0.9)
    assert rows["train_collab"].count("<td>–</td>") == 1 and rows["fine_tune_encoder"].count("<td>–</td>") == 0  # no "done" yet
