"""A worker killed mid-chain: the active model stays, the half-made version fails, the next chain runs."""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from recommendations import training
from recommendations.models import ActiveModel, ModelVersion, TrainingState
from tests.celery_worker import (
    TINY_BUDGET,
    fake_active_version,
    live_site,
    make_small_site,
    purge,
    start_worker,
    wait_for,
    wait_until_finished,
)

Status = ModelVersion.Status


def digest(path: str) -> str:
    with default_storage.open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


@pytest.mark.slow
def test_sigkill_mid_fine_tune_then_sweep_then_next_chain(tmp_path, django_db_blocker, settings):
    url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    with live_site(tmp_path, django_db_blocker, url) as live:
        purge()
        base = fake_active_version("random")
        artifact = digest(base.embeddings_path)
        doomed = training.queue_retrain(reason="test", budget={**TINY_BUDGET, "max_steps": 500})
        worker = start_worker(live)
        try:
            # Kill once TensorFlow is at work inside the fine-tune task.
            wait_for(
                lambda: (
                    ModelVersion.objects.filter(pk=doomed.version_id, progress_message__startswith="fine-tune: loss").exists()
                    or ModelVersion.objects.filter(pk=doomed.version_id, progress_message__startswith="fine-tune: step").exists()
                ),
                300,
                "fine-tuning to start",
                worker,
            )
            worker.kill()
        finally:
            worker.stop()

        half_made = ModelVersion.objects.get(pk=doomed.version_id)
        assert half_made.status == Status.TRAINING and not half_made.embeddings_path
        assert ActiveModel.objects.singleton().get().version_id == base.pk
        assert ModelVersion.objects.get(pk=base.pk).status == Status.ACTIVE
        assert digest(base.embeddings_path) == artifact
        assert TrainingState.objects.singleton().get().lock_owner.startswith(f"v{doomed.version_id}:")
        with pytest.raises(training.TrainingBusy):
            training.queue_retrain(reason="too early")  # the dead chain still holds the lock

        # The sweep notices the stale heartbeat (1 s here instead of 300 s).
        settings.MOVIEREC = {**settings.MOVIEREC, "HEARTBEAT_STALE_SECONDS": 1}
        time.sleep(1.5)
        outcome = training.sweep()
        assert outcome["failed"] == [doomed.version_id] and outcome["queued"] is None
        half_made.refresh_from_db()
        assert half_made.status == Status.FAILED and half_made.reason.startswith("worker lost: no heartbeat since")
        assert TrainingState.objects.singleton().get().lock_owner == ""
        settings.MOVIEREC = {**settings.MOVIEREC, "HEARTBEAT_STALE_SECONDS": 300}

        nxt = training.queue_retrain(reason="after the crash", budget=TINY_BUDGET)
        worker = start_worker(live)
        try:
            version = wait_until_finished(nxt.version_id, worker)
        finally:
            worker.stop()
        assert version.status in (Status.ACTIVE, Status.REJECTED), version.reason
        assert version.metrics["baseline"]["version"] == base.pk and len(version.loss_curve) == 3
        assert ModelVersion.objects.get(pk=doomed.version_id).status == Status.FAILED
        assert TrainingState.objects.singleton().get().lock_owner == ""


@pytest.fixture
def site(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    make_small_site()
    return fake_active_version("genre")


def test_redelivered_stage_fails_the_half_made_version(site):
    """acks_late redelivers a task whose worker died: the same task id finds its own stale claim."""
    version = training.start_version(reason="test")
    TrainingState.objects.singleton().update(events_since_training=0)
    ModelVersion.objects.filter(pk=version.pk).update(data_counts={**version.data_counts, "events": 7})
    TrainingState.objects.singleton().update(lock_owner=f"v{version.pk}:task-1")

    assert training.fine_tune_version(version.pk, task_id="task-1") is None

    version.refresh_from_db()
    assert version.status == Status.FAILED and "task redelivered" in version.reason
    state = TrainingState.objects.singleton().get()
    assert state.lock_owner == "" and state.events_since_training == 7  # its events count again
    assert ActiveModel.objects.singleton().get().version_id == site.pk


def test_duplicate_stage_while_the_first_is_alive_is_skipped(site):
    version = training.start_version(reason="test")
    now = timezone.now()
    TrainingState.objects.singleton().update(lock_owner=f"v{version.pk}:task-1", lock_expires_at=now + timedelta(minutes=5))
    ModelVersion.objects.filter(pk=version.pk).update(status=Status.TRAINING, heartbeat_at=now)

    assert training.fine_tune_version(version.pk, task_id="task-2") is None

    assert ModelVersion.objects.get(pk=version.pk).status == Status.TRAINING
    assert TrainingState.objects.singleton().get().lock_owner == f"v{version.pk}:task-1"


def test_later_stage_of_a_failed_version_does_nothing(site):
    version = training.start_version(reason="test")
    training.fail_version(version.pk, "test")
    assert training.refresh_version(version.pk, task_id="t") is None
    assert training.evaluate_version(version.pk, task_id="t") is None
    assert ModelVersion.objects.get(pk=version.pk).status == Status.FAILED


def test_chain_stalled_between_stages_is_failed_when_its_lock_expires(site):
    version = training.start_version(reason="test")
    ModelVersion.objects.filter(pk=version.pk).update(status=Status.TRAINING, encoder_path="x", heartbeat_at=timezone.now())
    TrainingState.objects.singleton().update(lock_expires_at=timezone.now() - timedelta(seconds=1))

    assert training.recover_stale() == [version.pk]
    version.refresh_from_db()
    assert version.status == Status.FAILED and version.reason.startswith("chain stalled")


def test_chain_stalled_between_stages_is_failed_after_twice_the_stale_period(site):
    """A worker killed after a stage ended but before the next was sent: the lock is the chain's
    (handed back, with an hour's expiry), and no stage beats any more."""
    version = training.start_version(reason="test")
    from recommendations.training.lifecycle import stale_seconds

    stale = stale_seconds()
    ModelVersion.objects.filter(pk=version.pk).update(
        status=Status.TRAINING, progress_message="fine-tune: done", heartbeat_at=timezone.now() - timedelta(seconds=1.5 * stale)
    )
    TrainingState.objects.singleton().update(lock_expires_at=timezone.now() + timedelta(hours=1))
    assert training.recover_stale() == []  # a slow hand-over is not failed early

    ModelVersion.objects.filter(pk=version.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=2.5 * stale))
    assert training.recover_stale() == [version.pk]
    version.refresh_from_db()
    assert version.status == Status.FAILED and "no stage started after fine-tune: done" in version.reason
    assert TrainingState.objects.singleton().get().lock_owner == ""


def test_a_queued_chain_still_waits_for_a_worker(site):
    version = training.start_version(reason="test")  # queued, never claimed: no heartbeat yet
    ModelVersion.objects.filter(pk=version.pk).update(created_at=timezone.now() - timedelta(minutes=30))
    assert training.recover_stale() == []
    assert ModelVersion.objects.get(pk=version.pk).status == Status.QUEUED


def test_sweep_backs_off_after_a_failure_but_staff_can_retrain(site, settings, monkeypatch):
    settings.MOVIEREC = {**settings.MOVIEREC, "RETRAIN_AFTER_EVENTS": 1}
    sent: list[int] = []
    monkeypatch.setattr("recommendations.tasks.training_chain", lambda version_id, ids: _FakeChain(sent, version_id))
    failed = training.start_version(reason="test")
    training.fail_version(failed.pk, "boom")
    TrainingState.objects.singleton().update(events_since_training=5)

    outcome = training.sweep()
    assert outcome["due"] and outcome["queued"] is None and sent == []
    assert outcome["backoff_until"] > timezone.now().isoformat()  # says why, and until when

    task_id = training.retrain_now()
    version = ModelVersion.objects.get(task_id=task_id)
    assert sent == [version.pk] and version.status == Status.QUEUED
    assert TrainingState.objects.singleton().get().lock_owner == f"v{version.pk}"


class _FakeChain:
    def __init__(self, sent: list[int], version_id: int) -> None:
        self.sent, self.version_id = sent, version_id

    def apply_async(self, **options):
        self.sent.append(self.version_id)


@pytest.mark.django_db(transaction=True)
def test_long_opaque_call_keeps_heartbeating_from_a_side_thread(settings, tmp_path):
    """An EASE fit or a model load gives no progress callbacks; a side thread keeps the version alive."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MOVIEREC = {**settings.MOVIEREC, "HEARTBEAT_STALE_SECONDS": 5}  # a beat every second
    version = training.start_version(reason="test")
    run = training._claim(version.pk, "collab", "task-1")
    assert run is not None
    first = ModelVersion.objects.get(pk=version.pk).heartbeat_at

    with run.beating(0.5, "fitting"):
        time.sleep(2.5)  # stands in for the long call
        beaten = ModelVersion.objects.get(pk=version.pk)

    assert beaten.heartbeat_at > first and beaten.progress_message == "collab: fitting"
    lock = TrainingState.objects.singleton().get()
    assert lock.lock_owner == f"v{version.pk}:task-1" and lock.lock_expires_at > timezone.now()


def test_busy_text_names_the_holder_whatever_its_key(site):
    from recommendations.training.lifecycle import _busy_text

    queued = training.start_version(reason="test")
    assert _busy_text(f"v{queued.pk}").startswith(f"a retraining is already queued (v{queued.pk}, waiting for an ml worker")
    ModelVersion.objects.filter(pk=queued.pk).update(status=Status.TRAINING)
    assert _busy_text(f"v{queued.pk}:task-1") == f"a retraining is already running (v{queued.pk}, training)"
    objectid = "v65a1b2c3d4e5f60718293a4b"  # a MongoDB key on SQL: not a crash
    assert _busy_text(objectid) == f"a retraining is already running ({objectid})"
