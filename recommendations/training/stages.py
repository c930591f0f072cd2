"""One stage of the chain: claim the version's lock, report progress and heartbeat, hand the lock back."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from recommendations.models import ModelVersion, TrainingState
from recommendations.training.lifecycle import (
    RUNNING,
    TERMINAL,
    Abandoned,
    Skip,
    Status,
    _budget,
    _extend_lock,
    _owner,
    _release_lock,
    _state,
    fail_version,
    queued_timeout,
    stale_seconds,
)

logger = logging.getLogger(__name__)

HEARTBEAT_EVERY = 1.0  # seconds between progress writes
# A stage claims fractions of the version's single progress bar.
STAGE_SPAN = {"fine-tune": (0.0, 0.6), "refresh": (0.6, 0.85), "collab": (0.85, 0.9), "evaluate": (0.9, 1.0)}


@dataclass
class StageRun:
    """One stage's claim on a version: progress, heartbeat and lock extension."""

    version: ModelVersion
    stage: str
    holder: str
    last_write: float = 0.0

    @property
    def budget(self) -> dict:
        return _budget(self.version.data_counts.get("budget"))

    def report(self, fraction: float, message: str, *, force: bool = False, **fields: Any) -> None:
        """Progress within this stage (0..1). Raises Abandoned when the version or lock was taken away."""
        now = time.monotonic()
        if not force and now - self.last_write < HEARTBEAT_EVERY:
            return
        self.last_write = now
        lo, hi = STAGE_SPAN[self.stage]
        progress = lo + (hi - lo) * min(max(fraction, 0.0), 1.0)
        updated = ModelVersion.objects.filter(pk=self.version.pk, status__in=RUNNING).update(
            progress=progress, progress_message=f"{self.stage}: {message}"[:200], heartbeat_at=timezone.now(), **fields
        )
        if not updated or not _extend_lock(self.holder, stale_seconds()):
            raise Abandoned(f"v{self.version.pk} was taken away from this {self.stage} stage")

    @contextmanager
    def beating(self, fraction: float, message: str) -> Iterator[None]:
        """Heartbeat from a side thread while one long opaque call (an EASE fit, a model load) runs.

        The thread dies with the process, so a killed worker still goes stale.
        """
        self.report(fraction, message, force=True)
        stop = threading.Event()

        def beat() -> None:
            try:
                while not stop.wait(max(stale_seconds() / 5, 1.0)):
                    self.report(fraction, message, force=True)
            except Abandoned:
                logger.warning("v%s: lost the lock during %s", self.version.pk, message)
            finally:
                connection.close()  # this thread's own database connection

        thread = threading.Thread(target=beat, name=f"heartbeat-v{self.version.pk}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def save(self, **fields: Any) -> None:
        ModelVersion.objects.filter(pk=self.version.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.version, name, value)


def _claim(version_id: int, stage: str, token: str) -> StageRun | None:
    """Take the version's lock for one stage; None when the stage must not run (already done or owned)."""
    version = ModelVersion.objects.filter(pk=version_id).first()
    if version is None or version.status in TERMINAL:
        return None
    owner, holder = _owner(version_id), f"{_owner(version_id)}:{token}"
    now = timezone.now()
    if TrainingState.objects.singleton().filter(lock_owner=owner).update(
        lock_owner=holder, lock_expires_at=now + timedelta(seconds=stale_seconds())
    ):
        fields: dict[str, Any] = {"heartbeat_at": now, "progress_message": f"{stage}: starting"}
        if version.status == Status.QUEUED:
            fields |= {"status": Status.TRAINING, "started_at": now}
        ModelVersion.objects.filter(pk=version_id).update(**fields)
        version.refresh_from_db()
        return StageRun(version, stage, holder)
    current = _state().lock_owner
    if current == holder:  # this very task ran before and died mid-stage: the version is half-made
        fail_version(version_id, f"worker lost during {stage} (task redelivered)")
    elif current.startswith(f"{owner}:"):
        seen = version.heartbeat_at or version.created_at
        if seen < now - timedelta(seconds=stale_seconds()):
            fail_version(version_id, f"worker lost during an earlier stage (no heartbeat since {seen:%H:%M:%S} UTC)")
        else:
            logger.info("v%s %s: another task is on it; skipping duplicate", version_id, stage)
    else:
        fail_version(version_id, f"lost the training lock before {stage} (held by {current or 'nobody'})")
    return None


def _run_stage(version_id: int | None, stage: str, token: str, work: Callable[[StageRun], None]) -> int | None:
    """Claim, work, hand the lock back. Returns the version id for the next stage, or None to stop."""
    if version_id is None:
        return None
    run = _claim(int(version_id), stage, token or f"inline-{uuid.uuid4().hex[:12]}")
    if run is None:
        return None
    try:
        work(run)
    except Skip as exc:
        ModelVersion.objects.filter(pk=run.version.pk).exclude(status__in=TERMINAL).update(
            status=Status.REJECTED, reason=str(exc), finished_at=timezone.now(), heartbeat_at=None
        )
        _release_lock(run.version.pk)
        return None
    except Abandoned:
        logger.warning("v%s: %s stage abandoned", run.version.pk, stage)
        return None
    except BaseException as exc:  # also SoftTimeLimitExceeded and KeyboardInterrupt; re-raised
        fail_version(run.version.pk, f"{stage} failed: {exc!r}")
        raise
    status = ModelVersion.objects.filter(pk=run.version.pk).values_list("status", flat=True).first()
    if status in TERMINAL:
        _release_lock(run.version.pk)
        return run.version.pk if status == Status.ACTIVE else None
    # Back to the chain's owner, with time for the next message to reach a worker.
    TrainingState.objects.singleton().filter(lock_owner=run.holder).update(
        lock_owner=_owner(run.version.pk), lock_expires_at=timezone.now() + timedelta(seconds=queued_timeout())
    )
    ModelVersion.objects.filter(pk=run.version.pk).update(progress=STAGE_SPAN[stage][1], progress_message=f"{stage}: done")
    return run.version.pk
