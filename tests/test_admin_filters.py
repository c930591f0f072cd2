"""Admin pages answer bad filter values with the admin's own notice, and say when queued training is not picked up."""

from django.urls import reverse

from tests.factories import MovieFactory


def test_decade_filter(client, staff):
    MovieFactory(title="Heat", year=1995)
    MovieFactory(title="Alien", year=1979)
    client.force_login(staff)
    url = reverse("admin:catalog_movie_changelist")
    page = client.get(url, {"decade": "1990"}).content.decode()
    assert "Heat" in page and "Alien" not in page
    for bad in ("abc", "1e3", "1995", "-10"):
        response = client.get(url, {"decade": bad})
        assert response.status_code == 302 and "e=1" in response["Location"]


def test_model_versions_page_warns_when_queued_work_is_not_picked_up(client, staff):
    from datetime import timedelta

    from django.utils import timezone

    from recommendations.models import ModelVersion

    fresh = ModelVersion.objects.create(task_id="t-fresh")
    stuck = ModelVersion.objects.create(task_id="t-stuck")
    ModelVersion.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(minutes=30))
    client.force_login(staff)
    page = client.get(reverse("admin:recommendations_modelversion_changelist")).content.decode()
    assert f"Queued for over 5 minutes and not started: v{stuck.pk}." in page and "consuming the ml queue" in page
    assert f"v{fresh.pk}." not in page


def test_model_versions_page_says_when_the_sweep_is_backing_off(client, staff):
    from recommendations import training

    failed = training.start_version(reason="test")
    training.fail_version(failed.pk, "boom")
    client.force_login(staff)
    page = client.get(reverse("admin:recommendations_modelversion_changelist")).content.decode()
    assert "after a failed retraining the sweep waits until" in page
