"""The broker is down when a user rates: the rating is stored, and the sweep queues the retraining later."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from catalog.models import Movie, Rating
from recommendations import training
from recommendations.models import ModelVersion, TrainingState
from tests.celery_worker import app_broker, closed_port, queue_size
from tests.factories import MovieFactory


@pytest.fixture
def due_after_one_event(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MOVIEREC = {**settings.MOVIEREC, "RETRAIN_AFTER_EVENTS": 1}


@pytest.mark.django_db
def test_rating_is_stored_when_the_broker_is_unreachable_and_the_sweep_queues_later(
    client, user, due_after_one_event, django_capture_on_commit_callbacks, tmp_path
):
    movie = MovieFactory()
    client.force_login(user)
    with app_broker(f"redis://127.0.0.1:{closed_port()}/0"):
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = client.post(reverse("catalog:rate", args=[movie.pk]), {"value": "4.5"})
        elapsed = time.monotonic() - started

    assert response.status_code == 302 and not callbacks  # nothing after commit: the sweep decides
    assert elapsed < 2  # the request never waits on the (dead) broker
    assert Rating.objects.get(user=user, movie=movie).value == 4.5
    assert Movie.objects.get(pk=movie.pk).rating_count == 1
    state = TrainingState.objects.singleton().get()
    assert state.events_since_training == 1 and state.lock_owner == ""  # due: the threshold is 1
    assert not ModelVersion.objects.exists()  # nothing half-queued left behind

    # Later the broker is back (here: the embedded one) and the periodic sweep queues the chain.
    with app_broker(f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"):
        outcome = training.sweep()
        assert queue_size("ml") == 1

    version = ModelVersion.objects.get()
    assert outcome["queued"] == {"version": version.pk, "task_id": version.task_id}
    assert version.status == ModelVersion.Status.QUEUED and version.data_counts["events"] == 1
    state.refresh_from_db()
    assert not state.pending_retrain and state.events_since_training == 0 and state.lock_owner == f"v{version.pk}"


@pytest.mark.django_db
def test_sweep_with_the_broker_still_down_keeps_the_retraining_pending(due_after_one_event):
    TrainingState.objects.create(events_since_training=3, pending_retrain=True)
    with app_broker(f"redis://127.0.0.1:{closed_port()}/0"):
        outcome = training.sweep()
    assert outcome["queued"] is None and "could not queue" in outcome["error"]
    state = TrainingState.objects.singleton().get()
    assert state.pending_retrain and state.events_since_training == 3 and state.lock_owner == ""
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
def test_events_below_the_threshold_do_not_touch_the_broker(client, user, settings, django_capture_on_commit_callbacks):
    settings.MOVIEREC = {**settings.MOVIEREC, "RETRAIN_AFTER_EVENTS": 5}
    client.force_login(user)
    movie = MovieFactory()
    with app_broker(f"redis://127.0.0.1:{closed_port()}/0"), django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("catalog:rate", args=[movie.pk]), {"value": "3.0"})
    assert Rating.objects.filter(user=user, movie=movie).exists()
    state = TrainingState.objects.singleton().get()
    assert state.events_since_training == 1 and not state.pending_retrain
