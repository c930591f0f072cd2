"""Crossing the retraining threshold never touches the broker from a request; the sweep queues the chain."""

from __future__ import annotations

import pytest
from django.urls import reverse

from recommendations import training
from recommendations.models import ModelVersion, TrainingState
from tests.factories import MovieFactory


@pytest.mark.django_db
def test_threshold_is_left_to_the_sweep(client, user, settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.MOVIEREC = {**settings.MOVIEREC, "RETRAIN_AFTER_EVENTS": 2}
    published: list[str] = []
    monkeypatch.setattr("celery.app.base.Celery.send_task", lambda *a, **k: published.append(a[1]))
    client.force_login(user)
    for i, film in enumerate(MovieFactory() for _ in range(3)):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("catalog:rate", args=[film.pk]), {"value": "4.0"})
        assert TrainingState.objects.singleton().get().events_since_training == i + 1
    assert published == [] and not ModelVersion.objects.exists()  # nothing sent from a request

    sent: list[int] = []

    class Chain:  # the chain's publishing, recorded instead of sent
        def __init__(self, version_id: int) -> None:
            self.version_id = version_id

        def apply_async(self, **options) -> None:
            sent.append(self.version_id)

    monkeypatch.setattr("recommendations.tasks.training_chain", lambda version_id, ids: Chain(version_id))
    outcome = training.sweep()
    version = ModelVersion.objects.get()
    assert outcome["due"] and outcome["queued"]["version"] == version.pk and sent == [version.pk]
    state = TrainingState.objects.singleton().get()
    assert not state.pending_retrain and state.events_since_training == 0
