"""The training lock, a version's life from queued to failed, and the periodic sweep that queues chains."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from catalog.models import Movie
from movierec.mongo import atomic  # Django's atomic() is a no-op on MongoDB
from recommendations import services
from recommendations.models import ModelVersion, TrainingState

logger = logging.getLogger(__name__)
Status = ModelVersion.Status

RUNNING = (Status.TRAINING, Status.EVALUATING)
EMBED_QUEUED_KEY = "movierec:embedding-queued-for"
EMBED_REQUEUE_SECONDS = 600
TERMINAL = (Status.ACTIVE, Status.READY, Status.REJECTED, Status.FAILED)


def conf(name: str, default: Any = None) -> Any:
    return settings.MOVIEREC.get(name, default)


def stale_seconds() -> float:
    return float(conf("HEARTBEAT_STALE_SECONDS", 300))


def queued_timeout() -> float:
    """How long a queued chain (or one between stages) may wait for a worker before the sweep gives up."""
    return float(conf("QUEUED_TIMEOUT_SECONDS", 3600))


class TrainingBusy(RuntimeError):
    """Another retraining holds the lock."""


def _busy_text(owner: str) -> str:
    """What holds the lock, as staff should read it: queued (waiting for an ml worker) or running."""
    version = _owner_version(owner)
    if version is not None and version.status == Status.QUEUED:
        return f"a retraining is already queued (v{version.pk}, waiting for an ml worker since {version.created_at:%H:%M} UTC)"
    return f"a retraining is already running ({f'v{version.pk}, {version.status}' if version else owner})"


class BrokerUnavailable(RuntimeError):
    """The chain could not be published; the sweep retries later."""


class Abandoned(RuntimeError):
    """This stage no longer owns its version (declared dead by the sweep, or superseded)."""


class Skip(Exception):  # a control-flow signal, not an error
    """End the chain early with a recorded reason (e.g. too little data to train on)."""


# --------------------------------------------------------------------------- lock


def _owner(version_id: int) -> str:
    return f"v{version_id}"


def _owner_version(owner: str) -> ModelVersion | None:
    """The version behind a lock owner (``_owner``'s, or a stage's ``vN:token``), if it exists.
    The key is looked up as text: an integer on SQL, an ObjectId on MongoDB."""
    key = owner.removeprefix("v").split(":", 1)[0]
    if not owner.startswith("v") or not key:
        return None
    try:
        return ModelVersion.objects.filter(pk=key).first()
    except (ValueError, TypeError, ValidationError):
        return None


def _state() -> TrainingState:
    return TrainingState.load()


def lock_holder() -> str:
    """The current lock owner ('' when free or expired)."""
    state = _state()
    if state.lock_owner and state.lock_expires_at and state.lock_expires_at > timezone.now():
        return state.lock_owner
    return ""


def _release_lock(version_id: int) -> None:
    owner = _owner(version_id)
    TrainingState.objects.singleton().filter(Q(lock_owner=owner) | Q(lock_owner__startswith=f"{owner}:")).update(
        lock_owner="", lock_expires_at=None
    )


def _extend_lock(holder: str, seconds: float) -> bool:
    return bool(
        TrainingState.objects.singleton().filter(lock_owner=holder).update(lock_expires_at=timezone.now() + timedelta(seconds=seconds))
    )


# ------------------------------------------------------------------ version lifecycle


def fail_version(version_id: int, reason: str) -> bool:
    """Mark a not-yet-finished version failed, free the lock and give its events back."""
    now = timezone.now()
    changed = (
        ModelVersion.objects.filter(pk=version_id)
        .exclude(status__in=TERMINAL)
        .update(status=Status.FAILED, reason=reason[:2000], finished_at=now, heartbeat_at=None)
    )
    _release_lock(version_id)
    if changed:
        events = int(
            (ModelVersion.objects.filter(pk=version_id).values_list("data_counts", flat=True).first() or {}).get("events", 0)
        )
        if events:  # not trained on after all: they count towards the next run
            TrainingState.objects.singleton().update(events_since_training=F("events_since_training") + events)
        logger.warning("model v%s failed: %s", version_id, reason)
    return bool(changed)


def _budget(overrides: dict | None) -> dict:
    budget = {
        "max_pairs": int(conf("FINETUNE_MAX_PAIRS", 2000)),
        "epochs": int(conf("FINETUNE_EPOCHS", 1)),
        "max_seconds": float(conf("FINETUNE_MAX_SECONDS", 900.0)),
        "batch_size": int(conf("FINETUNE_BATCH_SIZE", 32)),
        "max_length": int(conf("FINETUNE_MAX_LENGTH", 128)),
        "lr": float(conf("FINETUNE_LR", 2e-5)),
        "max_steps": conf("FINETUNE_MAX_STEPS"),
    }
    budget.update(overrides or {})
    return budget


def start_version(*, reason: str, requested_by: str = "", budget: dict | None = None) -> ModelVersion:
    """Take the training lock and create the QUEUED version a chain will build.

    Raises TrainingBusy when another retraining holds the lock. The events
    counted so far are consumed by this version (and given back if it fails).
    """
    recover_stale()
    parent = services.active_version()
    now = timezone.now()
    chain_id = str(uuid.uuid4())
    tasks = {"fine_tune": chain_id, **{stage: str(uuid.uuid4()) for stage in ("refresh", "collab", "evaluate")}}
    inherited = {"blend_weights": parent.metrics["blend_weights"]} if parent and "blend_weights" in (parent.metrics or {}) else {}
    _state()
    with atomic():
        version = ModelVersion.objects.create(
            parent=parent,
            status=Status.QUEUED,
            task_id=chain_id,
            progress_message="queued",
            metrics=inherited,
            data_counts={
                "reason": reason,
                "requested_by": requested_by,
                "cutoff": now.timestamp(),
                "budget": _budget(budget),
                "tasks": tasks,
            },
        )
        expiry = now + timedelta(seconds=queued_timeout())
        free = Q(lock_owner="") | Q(lock_expires_at__isnull=True) | Q(lock_expires_at__lt=now)
        if not TrainingState.objects.singleton().filter(free).update(lock_owner=_owner(version.pk), lock_expires_at=expiry):
            raise TrainingBusy(_busy_text(TrainingState.objects.singleton().get().lock_owner))
    events = _state().events_since_training
    TrainingState.objects.singleton().update(events_since_training=F("events_since_training") - events, pending_retrain=False)
    version.data_counts["events"] = events
    ModelVersion.objects.filter(pk=version.pk).update(data_counts=version.data_counts)
    return version


def _abandon_unsent(version: ModelVersion) -> None:
    """The chain never left this process: forget the version, keep the wish to retrain."""
    events = int(version.data_counts.get("events", 0))
    _release_lock(version.pk)
    ModelVersion.objects.filter(pk=version.pk, status=Status.QUEUED).delete()
    TrainingState.objects.singleton().update(events_since_training=F("events_since_training") + events, pending_retrain=True)


@dataclass
class QueuedChain:
    version_id: int
    task_id: str


def queue_retrain(*, reason: str, user=None, budget: dict | None = None) -> QueuedChain:
    """Start a version and publish its chain. Raises TrainingBusy or BrokerUnavailable.

    Publishing does not retry: a rating's request must not wait on a dead
    broker, and the periodic sweep queues the chain once it is back.
    """
    from recommendations.tasks import training_chain

    requested_by = user.get_username() if user is not None and getattr(user, "is_authenticated", False) else ""
    version = start_version(reason=reason, requested_by=requested_by, budget=budget)
    try:
        training_chain(version.pk, version.data_counts["tasks"]).apply_async(retry=False)
    except Exception as exc:
        _abandon_unsent(version)
        raise BrokerUnavailable(f"could not queue the retraining chain: {exc}") from exc
    logger.info("queued retraining v%s (%s)", version.pk, reason)
    return QueuedChain(version.pk, version.task_id)


def retrain_now(user=None) -> str:
    """Queue the chain now (admin, API); returns the chain's task id (its fine-tune task)."""
    return queue_retrain(reason="requested by hand", user=user).task_id


# ------------------------------------------------------------------------ sweep


def recover_stale(now: datetime | None = None) -> list[int]:
    """Fail versions whose worker is gone and free their lock; returns their ids.

    * a stage holds the lock but the heartbeat is older than HEARTBEAT_STALE_SECONDS:
      the worker died mid-stage;
    * the chain holds the lock between stages (or before the first) past its expiry:
      the next message never ran;
    * a started version's chain holds the lock between stages and no stage has beaten for
      twice the stale period: the next message was never sent (a worker killed between a
      stage's end and publishing the next) or never reached a worker. The next stage of a
      live chain claims within seconds, so this need not wait for the hour-long expiry that
      a queued chain gets to find a worker;
    * a running or queued version that does not hold the lock at all and has been
      silent for the stale period: orphaned.
    """
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=stale_seconds())
    state = _state()
    expired = bool(state.lock_owner) and (state.lock_expires_at is None or state.lock_expires_at < now)
    failed: list[int] = []
    for version in ModelVersion.objects.filter(status__in=(Status.QUEUED, *RUNNING)):
        seen = version.heartbeat_at or version.started_at or version.created_at
        owner = _owner(version.pk)
        if state.lock_owner.startswith(f"{owner}:"):
            reason = f"worker lost: no heartbeat since {seen:%Y-%m-%d %H:%M:%S} UTC" if seen < stale_before else ""
        elif state.lock_owner == owner:
            between = version.status in RUNNING and version.heartbeat_at is not None
            if expired:
                reason = f"chain stalled: no worker picked up the next stage by {state.lock_expires_at:%H:%M:%S} UTC"
            elif between and seen < now - timedelta(seconds=2 * stale_seconds()):
                reason = f"chain stalled: no stage started after {version.progress_message or 'the last stage'} (last heartbeat {seen:%H:%M:%S} UTC)"
            else:
                reason = ""
        else:
            reason = "orphaned: lost the training lock" if seen < stale_before else ""
        if reason and fail_version(version.pk, reason):
            failed.append(version.pk)
    state.refresh_from_db()
    if state.lock_owner and (state.lock_expires_at is None or state.lock_expires_at < now):
        TrainingState.objects.singleton().filter(lock_owner=state.lock_owner).update(lock_owner="", lock_expires_at=None)
    return failed


def backoff_until(now: datetime) -> datetime | None:
    """After a failure the sweep waits before retrying, so a deterministic failure cannot loop:
    when that wait ends, or None when there is none."""
    last = (
        ModelVersion.objects.filter(status=Status.FAILED).order_by("-finished_at").values_list("finished_at", flat=True).first()
    )
    until = last + timedelta(seconds=float(conf("RETRAIN_BACKOFF_SECONDS", 1800))) if last else None
    return until if until and now < until else None


def sweep() -> dict:
    """Periodic: recover dead chains, then queue one if it is due (threshold reached or pending)."""
    now = timezone.now()
    failed = recover_stale(now)
    state = _state()
    due = state.pending_retrain or state.events_since_training >= int(conf("RETRAIN_AFTER_EVENTS", 500))
    outcome: dict[str, Any] = {"failed": failed, "due": due, "queued": None}
    waiting = backoff_until(now)
    if due and waiting is not None:
        outcome["backoff_until"] = waiting.isoformat()
    if due and waiting is None:
        try:
            queued = queue_retrain(
                reason=f"sweep: {state.events_since_training} events" + (", pending" if state.pending_retrain else "")
            )
            outcome["queued"] = {"version": queued.version_id, "task_id": queued.task_id}
        except TrainingBusy:
            outcome["busy"] = True
        except BrokerUnavailable as exc:
            outcome["error"] = str(exc)
    outcome["embedding"] = queue_embedding_if_stale()
    return outcome


def films_changed_since_embedding() -> datetime | None:
    """When the newest film edit the active version's vectors have not seen was made; None if none.
    A film added or edited in the admin (or by an import) reaches similar films, plain-words answers
    and cold-start recommendations once it is embedded, without waiting for a retraining."""
    version = services.active_version()
    if version is None or not version.embeddings_path:
        return None
    stamp = (version.data_counts or {}).get("embedded_at")
    since = parse_datetime(stamp) if isinstance(stamp, str) else version.finished_at
    films = Movie.objects.all() if since is None else Movie.objects.filter(updated_at__gt=since)
    return films.order_by("-updated_at").values_list("updated_at", flat=True).first()


def queue_embedding_if_stale() -> str | None:
    """Queue ``embed_new_films`` for edits the active vectors miss: once per newest edit, and again
    after EMBED_REQUEUE_SECONDS if the queued task was lost. Returns the edit time queued for."""
    from recommendations.tasks import embed_new_films

    newest = films_changed_since_embedding()
    if newest is None:
        return None
    stamp = newest.isoformat()
    if cache.get(EMBED_QUEUED_KEY) == stamp:
        return None
    try:
        embed_new_films.apply_async(retry=False)
    except Exception:
        logger.warning("could not queue embedding of new films; the next sweep retries", exc_info=True)
        return None
    cache.set(EMBED_QUEUED_KEY, stamp, EMBED_REQUEUE_SECONDS)
    logger.info("queued embedding of films edited up to %s", stamp)
    return stamp


def nightly() -> dict:
    """Nightly retraining: only when something happened since the last one."""
    state = _state()
    if not state.pending_retrain and state.events_since_training == 0:
        return {"queued": None, "why": "no new events"}
    try:
        queued = queue_retrain(reason=f"nightly: {state.events_since_training} events")
    except TrainingBusy:
        return {"queued": None, "why": "busy"}
    return {"queued": {"version": queued.version_id, "task_id": queued.task_id}}
