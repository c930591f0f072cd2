"""Crossing the retraining threshold flags it for the sweep; the rating request never touches the broker."""

from __future__ import annotations

import pytest
from django.urls import reverse

from recommendations import training, training_queue
from recommendations.models import ModelVersion, TrainingState
from tests.factories import MovieFactory


@pytest.mark.django_db
def test_threshold_flags_once_and_the_sweep_queues(client, user, settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.MOVIEREC = {**settings.MOVIEREC, "RETRAIN_AFTER_EVENTS": 2}
    published: list[str] = []
    monkeypatch.setattr("celery.app.base.Celery.send_task", lambda *a, **k: published.append(a[1]))
    client.force_login(user)
    films = [MovieFactory() for _ in range(3)]
    for i, film in enumerate(films):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("catalog:rate", args=[film.pk]), {"value": "4.0"})
        state = TrainingState.objects.singleton().get()
        assert state.events_since_training == i + 1 and state.pending_retrain == (i + 1 >= 2)
    assert published == [] and not ModelVersion.objects.exists()  # nothing sent from a request
    assert training_queue.maybe_queue_retrain() is False  # already flagged: the flag is set once

    sent: list[int] = []
    monkeypatch.setattr("recommendations.tasks.training_chain", lambda version_id, ids: type("C", (), {"apply_async": lambda self, **o: sent.append(version_id)})())
    outcome = training.sweep()
    version = ModelVersion.objects.get()
    assert outcome["queued"]["version"] == version.pk and sent == [version.pk]
    state = TrainingState.objects.singleton().get()
    assert not state.pending_retrain and state.events_since_training == 0
