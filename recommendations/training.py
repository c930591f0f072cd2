"""The retraining loop: split, pairs, fine-tune, refresh, collaborative model, evaluate, promote.

Celery tasks (recommendations.tasks) are thin wrappers over the stage functions
here; the benchmark and the tests call the same functions in-process.

Design, in short:

* **Split.** Ratings up to the version's cutoff (fixed when it is queued) are
  split per user by time: users with at least ``MIN_RATINGS`` ratings keep
  their most recent ``HOLDOUT_FRACTION`` (1 to ``MAX_HOLDOUT``) ratings aside.
  Fine-tuning sees only the train part; evaluation ranks the held-out films for
  the candidate *and* the active version on that same split.
* **Pairs.** Film text <-> film text only, because serving never embeds
  anything else: a user's taste is a weighted sum of film vectors and "similar
  films" is film-film cosine. Half the budget is co-liked pairs (liked by the
  same people, popularity-normalised), half is next-liked pairs (a liked film
  -> the next film the same user liked), which is the held-out task itself.
* **Lock.** TrainingState.lock_owner is ``v<id>`` while a chain is queued or
  between stages, and ``v<id>:<task id>`` while a stage runs. Taking and
  passing it are conditional UPDATEs, so two chains never train at once and a
  duplicate or redelivered stage is recognised. Every heartbeat extends it.
* **Heartbeat.** Each stage writes progress + heartbeat at least every
  HEARTBEAT_EVERY seconds of work (per fine-tuning step, per embedding batch).
  The sweep fails a running version whose heartbeat is older than
  HEARTBEAT_STALE_SECONDS and frees the lock; the active version is never
  touched until the atomic pointer swap at the very end.
"""

from __future__ import annotations

import gc
import inspect
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from movierec.mongo import atomic  # Django's atomic() is a no-op on MongoDB
from recommendations import services, store
from recommendations.ids import as_key, dense_ids, ids_from_store, run_starts
from recommendations.ml.hybrid import zscore
from recommendations.models import ActiveModel, ModelVersion, TrainingState

logger = logging.getLogger(__name__)
Status = ModelVersion.Status

K = 10
MIN_RATINGS = 5  # users with fewer ratings only train
HOLDOUT_FRACTION = 0.2
MAX_HOLDOUT = 10
EVAL_MAX_USERS = 2000  # a seeded sample above this keeps evaluation to seconds
VALIDATION_PAIRS = 128
TRAIN_LOSS_SAMPLE = 64
HEARTBEAT_EVERY = 1.0  # seconds between progress writes
# A stage claims fractions of the version's single progress bar.
STAGE_SPAN = {"fine-tune": (0.0, 0.6), "refresh": (0.6, 0.85), "collab": (0.85, 0.9), "evaluate": (0.9, 1.0)}
RUNNING = (Status.TRAINING, Status.EVALUATING)
TERMINAL = (Status.ACTIVE, Status.READY, Status.REJECTED, Status.FAILED)
# EASE's lambda is chosen on validation only where its eigendecomposition is cheap;
# above this many films (ml-latest-small: 9.7k, >8 min to select) the parent's or a default is used.
COLLAB_SELECT_MAX_ITEMS = 3000
DEFAULT_COLLAB_LAMBDA = 300.0


def conf(name: str, default: Any = None) -> Any:
    return settings.MOVIEREC.get(name, default)


def stale_seconds() -> float:
    return float(conf("HEARTBEAT_STALE_SECONDS", 300))


def queued_timeout() -> float:
    """How long a queued chain (or one between stages) may wait for a worker before the sweep gives up."""
    return float(conf("QUEUED_TIMEOUT_SECONDS", 3600))


class TrainingBusy(RuntimeError):
    """Another retraining holds the lock."""


class BrokerUnavailable(RuntimeError):
    """The chain could not be published; the sweep retries later."""


class Abandoned(RuntimeError):
    """This stage no longer owns its version (declared dead by the sweep, or superseded)."""


class Skip(Exception):  # a control-flow signal, not an error
    """End the chain early with a recorded reason (e.g. too little data to train on)."""


# --------------------------------------------------------------------------- lock


def _owner(version_id: int) -> str:
    return f"v{version_id}"


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
            raise TrainingBusy(f"a retraining is already running ({TrainingState.objects.singleton().get().lock_owner})")
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
            reason = (
                f"chain stalled: no worker picked up the next stage by {state.lock_expires_at:%H:%M:%S} UTC" if expired else ""
            )
        else:
            reason = "orphaned: lost the training lock" if seen < stale_before else ""
        if reason and fail_version(version.pk, reason):
            failed.append(version.pk)
    state.refresh_from_db()
    if state.lock_owner and (state.lock_expires_at is None or state.lock_expires_at < now):
        TrainingState.objects.singleton().filter(lock_owner=state.lock_owner).update(lock_owner="", lock_expires_at=None)
    return failed


def _in_backoff(now: datetime) -> bool:
    """After a failure the sweep waits before retrying, so a deterministic failure cannot loop."""
    last = (
        ModelVersion.objects.filter(status=Status.FAILED).order_by("-finished_at").values_list("finished_at", flat=True).first()
    )
    return bool(last and now - last < timedelta(seconds=float(conf("RETRAIN_BACKOFF_SECONDS", 1800))))


def sweep() -> dict:
    """Periodic: recover dead chains, then queue one if it is due (threshold reached or pending)."""
    now = timezone.now()
    failed = recover_stale(now)
    state = _state()
    due = state.pending_retrain or state.events_since_training >= int(conf("RETRAIN_AFTER_EVENTS", 500))
    outcome: dict[str, Any] = {"failed": failed, "due": due, "queued": None}
    if due and not _in_backoff(now):
        try:
            queued = queue_retrain(
                reason=f"sweep: {state.events_since_training} events" + (", pending" if state.pending_retrain else "")
            )
            outcome["queued"] = {"version": queued.version_id, "task_id": queued.task_id}
        except TrainingBusy:
            outcome["busy"] = True
        except BrokerUnavailable as exc:
            outcome["error"] = str(exc)
    return outcome


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


# ------------------------------------------------------------------------ stages


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


# ------------------------------------------------------------------- data: split and pairs


@dataclass
class Split:
    """Train and held-out ratings, in time order, for one cutoff."""

    users: np.ndarray
    movies: np.ndarray
    values: np.ndarray
    stamps: np.ndarray
    train: np.ndarray  # bool mask
    cutoff: float
    heldout: dict[int, np.ndarray] = field(default_factory=dict)  # user -> held-out movie ids

    def part(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.users[mask], self.movies[mask], self.values[mask], self.stamps[mask]

    def counts(self) -> dict[str, int]:
        return {
            "ratings": len(self.users),
            "users": len(np.unique(self.users)),
            "train_ratings": int(self.train.sum()),
            "heldout_ratings": int((~self.train).sum()),
            "eval_users": len(self.heldout),
        }


def build_split(cutoff: float | None = None) -> Split:
    """Hold out each user's most recent ratings (up to ``cutoff``, a Unix time)."""
    from recommendations.collab_store import ratings_arrays

    users, movies, values, stamps = ratings_arrays()
    if cutoff is not None:
        keep = stamps <= cutoff
        users, movies, values, stamps = users[keep], movies[keep], values[keep], stamps[keep]
    train = np.ones(len(users), dtype=bool)
    heldout: dict[int, np.ndarray] = {}
    # ratings_arrays is in time order, so a stable sort by user keeps each user's ratings chronological.
    order = np.argsort(users, kind="stable")
    bounds = run_starts(users[order])
    for rows in np.split(order, bounds):
        n = len(rows)
        if n < MIN_RATINGS:
            continue
        hold = min(MAX_HOLDOUT, max(1, round(HOLDOUT_FRACTION * n)))
        train[rows[-hold:]] = False
        heldout[as_key(users[rows[0]])] = movies[rows[-hold:]]
    return Split(users, movies, values, stamps, train, float(cutoff if cutoff is not None else time.time()), heldout)


def training_pairs(
    split: Split, texts: dict[int, str], *, max_pairs: int, seed: int = 0
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Co-liked and next-liked film-text pairs from the train part only (``pairs.film_pairs``)."""
    from recommendations.ml.pairs import film_pairs

    users, movies, values, stamps = split.part(split.train)
    if movies.dtype == object:  # ObjectIds (MongoDB): ml.pairs works on integer ids, so pass dense codes
        (_, users), (films, movies) = dense_ids(users), dense_ids(movies)
        texts = {i: texts[m] for i, m in enumerate(films.tolist()) if m in texts}
    return film_pairs(users, movies, values, stamps, texts, max_pairs=max_pairs, seed=seed)


def validation_pairs(
    split: Split, texts: dict[int, str], *, limit: int = VALIDATION_PAIRS, seed: int = 0
) -> list[tuple[str, str]]:
    """(a user's last liked train film -> their first liked held-out film): the held-out task as pairs."""
    from recommendations.ml.pairs import liked_mask

    liked = liked_mask(split.users, split.values)
    pairs: list[tuple[str, str]] = []
    for user in sorted(split.heldout):
        mine = split.users == user
        train_liked = split.movies[mine & split.train & liked]
        test_liked = split.movies[mine & ~split.train & liked]
        if len(train_liked) and len(test_liked) and as_key(train_liked[-1]) in texts and as_key(test_liked[0]) in texts:
            pairs.append((texts[as_key(train_liked[-1])], texts[as_key(test_liked[0])]))
    rng = np.random.default_rng(seed)
    return [pairs[i] for i in sorted(rng.permutation(len(pairs))[:limit])]


def catalogue_text_map() -> dict[int, str]:
    ids, texts = services.catalogue_texts()
    return dict(zip(ids.tolist(), texts, strict=True))


# ------------------------------------------------------------------------ fine-tune


def fine_tune_version(version_id: int | None, *, task_id: str = "") -> int | None:
    """Stage 1: fine-tune the parent's encoder on pairs from the train split; save it as this version's."""
    return _run_stage(version_id, "fine-tune", task_id, _fine_tune)


def _fine_tune(run: StageRun) -> None:
    version = run.version
    if version.encoder_path:
        return  # an earlier attempt finished this stage
    budget = run.budget
    run.report(0.0, "building the split and pairs", force=True)
    split = build_split(version.data_counts.get("cutoff"))
    texts = catalogue_text_map()
    pairs, pair_counts = training_pairs(split, texts, max_pairs=int(budget["max_pairs"]), seed=version.pk)
    val = validation_pairs(split, texts, seed=version.pk)
    counts = {**version.data_counts, **split.counts(), **pair_counts, "validation_pairs": len(val), "films": len(texts)}
    run.save(data_counts=counts)
    if len(pairs) < 2:
        raise Skip(f"not enough training pairs ({len(pairs)}) in {counts['train_ratings']} training ratings")

    from recommendations.encoders import local_encoder_dir, scratch_dir, upload_encoder_dir
    from recommendations.ml.finetune import fine_tune_job
    from recommendations.ml.isolate import run_isolated

    parent = version.parent
    batch = int(budget["batch_size"])
    per_epoch = math.ceil(len(pairs) / batch)
    planned = per_epoch * int(budget["epochs"])
    if budget.get("max_steps"):
        planned = min(planned, int(budget["max_steps"]))
    curve: list[float] = []
    where = {"fraction": 0.0, "message": "starting"}

    def on_event(event: tuple) -> None:
        if event[0] == "stage":
            where.update(fraction=event[1], message=event[2])
            run.report(event[1], event[2], force=True, **({"loss_curve": curve} if curve else {}))
            return
        _, step, loss, seconds = event
        curve.append(round(float(loss), 5))
        done = max(step / max(planned, 1), seconds / float(budget["max_seconds"]))
        where.update(fraction=0.05 + 0.85 * done, message=f"step {step} of {planned}, loss {loss:.3f}")
        run.report(where["fraction"], where["message"], force=step == 1, loss_curve=curve)

    options = {
        "batch_size": batch,
        "epochs": int(budget["epochs"]),
        "max_steps": int(budget["max_steps"]) if budget.get("max_steps") else None,
        "max_seconds": float(budget["max_seconds"]),
        "lr": float(budget["lr"]),
        "max_length": int(budget["max_length"]),
        "seed": version.pk,
    }
    encoder_dir = str(local_encoder_dir(parent.encoder_path)) if parent and parent.encoder_path else None
    with scratch_dir(f"{store.version_prefix(version.pk)}/encoder") as out_dir:
        # TensorFlow trains in a spawned child: the ~3 GB that training takes would otherwise
        # stay with this worker for good (TF does not give it back).
        out = run_isolated(
            fine_tune_job,
            encoder_dir,
            pairs,
            {"train_pairs": pairs[:TRAIN_LOSS_SAMPLE], "validation_pairs": val},
            str(out_dir),
            options,
            on_event=on_event,
            on_idle=lambda: run.report(where["fraction"], where["message"]),
        )
        path = upload_encoder_dir(out_dir, f"{store.version_prefix(version.pk)}/encoder")
    result, before, after = out["result"], out["before"], out["after"]
    metrics = {
        **version.metrics,
        "finetune": {
            "steps": result.steps,
            "seconds": round(result.seconds, 1),
            "stopped": result.stopped_reason,
            "pairs_used": result.pairs_used,
            "loss_before": {k: round(v, 5) for k, v in before.items()},
            "loss_after": {k: round(v, 5) for k, v in after.items()},
        },
    }
    run.save(encoder_path=path, loss_curve=[round(float(x), 5) for x in result.losses], metrics=metrics)


# ------------------------------------------------------------------------ refresh and collab


def refresh_version(version_id: int | None, *, task_id: str = "") -> int | None:
    """Stage 2: embed the whole catalogue with the version's encoder."""
    return _run_stage(version_id, "refresh", task_id, _refresh)


def _refresh(run: StageRun) -> None:
    version = run.version
    if version.embeddings_path:
        return
    if not version.encoder_path:
        raise RuntimeError(f"v{version.pk} has no fine-tuned encoder to embed with")
    counts = services.embed_catalogue(
        version, progress=lambda done, total: run.report(done / max(total, 1), f"embedded {done} of {total} films")
    )
    run.save(data_counts={**version.data_counts, "embedded": counts["embedded"]})


def refresh_active(*, only_changed: bool = True, progress: Callable[[int, int], None] | None = None) -> dict:
    """Re-embed new and changed films for the active version (no new version, no lock)."""
    version = services.active_version()
    if version is None:
        return {"version": None, "embedded": 0}
    counts = services.embed_catalogue(version, only_changed=only_changed, progress=progress)
    return {"version": version.pk, **counts}


def collab_version(version_id: int | None, *, task_id: str = "") -> int | None:
    """Stage 3: the collaborative model on every rating up to the cutoff, stored with the version."""
    return _run_stage(version_id, "collab", task_id, _collab)


def _collab_params(n_items: int, parent: ModelVersion | None) -> dict[str, float]:
    """Hyper-parameters to fit with: none (select on validation) when that is cheap, else the parent's or defaults."""
    if conf("COLLAB_LAMBDA"):
        return {"lam": float(conf("COLLAB_LAMBDA"))}
    if n_items <= COLLAB_SELECT_MAX_ITEMS:
        return {}
    known = _parent_collab_params(parent) if parent is not None else {}
    params = {k: float(known[k]) for k in ("lam", "pop_reg") if k in known}
    params.setdefault("lam", DEFAULT_COLLAB_LAMBDA)
    params.setdefault("pop_reg", 0.0)
    return params


def _parent_collab_params(parent: ModelVersion) -> dict[str, float]:
    """The parent's fitted hyper-parameters: from its records, else from its artifact's metadata."""
    for holder in (parent.metrics or {}, parent.data_counts or {}):
        params = (holder.get("collab") or {}).get("params")
        if params:
            return params
    if parent.collab_path:
        try:
            with default_storage.open(parent.collab_path, "rb") as handle, np.load(handle, allow_pickle=False) as npz:
                # Only the small metadata entries are read from the archive, not the weights.
                return dict(zip(npz["param_names"].tolist(), npz["param_values"].tolist(), strict=True))
        except Exception:
            logger.warning("could not read v%s collaborative parameters", parent.pk, exc_info=True)
    return {}


def _fit_collab(interactions: tuple, n_items: int, params: dict[str, float]):
    """fit_collab with the parameters its current signature accepts (its grid of options is still growing)."""
    from recommendations.ml.collab import fit_collab

    accepted = inspect.signature(fit_collab).parameters
    return fit_collab(interactions, n_items, **{k: v for k, v in params.items() if k in accepted})


def _collab(run: StageRun) -> None:
    from recommendations.collab_store import train_collab
    from recommendations.hybrid_store import train_hybrid_or_skip

    version = run.version
    if version.collab_path or not conf("TRAIN_COLLAB", True):
        return
    split = build_split(version.data_counts.get("cutoff"))
    if len(split.users) == 0:
        return
    params = _collab_params(len(np.unique(split.movies)), version.parent)
    accepted = inspect.signature(train_collab).parameters  # passes pop_reg once collab_store takes it
    with run.beating(0.1, "fitting the collaborative model"):
        info = train_collab(version.pk, split.users, split.movies, **{k: v for k, v in params.items() if k in accepted})
    run.save(collab_path=info["path"], metrics={**version.metrics, "collab": {k: info[k] for k in ("kind", "items", "params")}})
    gc.collect()  # the EASE matrix above, before the hybrid builds its own
    with run.beating(0.5, "fitting the hybrid ranker"):
        hybrid = train_hybrid_or_skip(version.pk, (split.users, split.movies, split.values, split.stamps))
    run.save(metrics={**version.metrics, "hybrid": hybrid})


# ------------------------------------------------------------------------ evaluate


def evaluate_version(version_id: int | None, *, task_id: str = "") -> int | None:
    """Stage 4: held-out metrics for candidate and active on one split; promote or reject."""
    return _run_stage(version_id, "evaluate", task_id, _evaluate)


@dataclass
class EvalCollab:
    model: Any
    movie_ids: np.ndarray


def _fit_eval_collab(split: Split, parent: ModelVersion | None) -> EvalCollab | None:
    """A collaborative model on the train part only: shared by both versions, so only the encoder differs."""
    users, movies, _values, _stamps = split.part(split.train)
    if len(users) == 0:
        return None
    item_ids, user_ids = np.unique(movies), np.unique(users)
    interactions = (np.searchsorted(user_ids, users), np.searchsorted(item_ids, movies), np.ones(len(users), np.float32))
    model = _fit_collab(interactions, len(item_ids), _collab_params(len(item_ids), parent))
    return EvalCollab(model, item_ids)


def _fit_eval_hybrids(versions: list[ModelVersion], split: Split) -> dict[int, Any]:
    """For each version served by a hybrid, the same hybrid fitted on the train part only, so the
    gate measures what each version serves without the held-out ratings leaking in."""
    from recommendations.hybrid_store import fit_site_hybrid, prepare

    users, movies, _values, stamps = split.part(split.train)
    out: dict[int, Any] = {}
    for version in versions:
        if not ((version.metrics or {}).get("hybrid") or {}).get("path"):
            continue
        try:
            arrays = store.load_npz(version.embeddings_path)
            movie_ids = ids_from_store(arrays["movie_ids"])
            budget = float(conf("HYBRID_MAX_SECONDS", 900.0))
            model, info = fit_site_hybrid(
                movie_ids, arrays["matrix"], users, movies, budget_seconds=budget, seed=version.pk, stamps=stamps
            )  # with the rating times, as train_hybrid fits the served one
        except Exception:
            logger.exception("v%s: train-split hybrid failed; evaluated with its plain blend", version.pk)
            continue
        if model is None:  # e.g. too little train data: that version is scored by its plain blend
            logger.info("v%s: no train-split hybrid for evaluation (%s)", version.pk, info.get("skipped"))
            continue
        out[version.pk] = prepare(model, movie_ids)
    return out


def _eval_bundle(
    version: ModelVersion, popularity: dict[int, int], collab: EvalCollab | None, hybrid: Any = None
) -> store.Bundle:
    arrays = store.load_npz(version.embeddings_path)
    movie_ids = ids_from_store(arrays["movie_ids"])
    matrix = np.ascontiguousarray(arrays["matrix"], dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[0] != len(movie_ids):
        raise ValueError(f"artifact of v{version.pk} is inconsistent")
    bundle = store.Bundle(version.pk, movie_ids, matrix, {m: i for i, m in enumerate(movie_ids.tolist())})
    # Popularity from the train part only: the held-out ratings must not leak in.
    bundle.popularity = zscore(np.log1p(np.array([popularity.get(m, 0) for m in movie_ids.tolist()], dtype=np.float32)))
    if collab is not None:
        bundle.collab = collab.model
        bundle.collab_rows = np.array([bundle.row_of.get(m, -1) for m in collab.movie_ids.tolist()], dtype=np.int64)
        bundle.collab_col_of = {m: c for c, m in enumerate(collab.movie_ids.tolist())}  # type: ignore[attr-defined]
    if hybrid is not None:
        from recommendations.hybrid_store import attach_loaded

        attach_loaded(bundle, hybrid)
    bundle.blend = (version.metrics or {}).get("blend_weights", {})
    return bundle


def score_split(
    versions: list[ModelVersion],
    split: Split,
    *,
    collab: EvalCollab | None,
    hybrids: dict[int, Any] | None = None,
    report: Callable[[float, str], None] | None = None,
    seed: int = 0,
) -> dict[int, dict[str, dict[str, float]]]:
    """Recall@10 and nDCG@10 per version, for the serving score ("hybrid") and taste only ("content").

    Each held-out user is scored from their train ratings exactly as serving
    scores them (engine.score_user), with their train films excluded.
    """
    from recommendations.engine import UserProfile, score_user, taste
    from recommendations.ml.metrics import ndcg_at_k, recall_at_k
    from recommendations.ml.ranking import top_k

    tr_users, tr_movies, tr_values, tr_stamps = split.part(split.train)
    popularity = dict(zip(*np.unique(tr_movies, return_counts=True), strict=True))
    popularity = {as_key(k): int(v) for k, v in popularity.items()}
    bundles = [_eval_bundle(v, popularity, collab, (hybrids or {}).get(v.pk)) for v in versions]
    users = sorted(split.heldout)
    if len(users) > EVAL_MAX_USERS:
        users = sorted(np.random.default_rng(seed).choice(users, EVAL_MAX_USERS, replace=False).tolist())
    space = np.unique(np.concatenate([split.movies, *[b.movie_ids for b in bundles]]))
    order = np.argsort(tr_users, kind="stable")
    starts = np.searchsorted(tr_users[order], users, side="left")
    ends = np.searchsorted(tr_users[order], users, side="right")
    ranked = {
        (b.version_id, kind): np.full((len(users), K), -1, dtype=np.int64) for b in bundles for kind in ("hybrid", "content")
    }
    truth_rows, truth_cols = [], []
    for u, (user, lo, hi) in enumerate(zip(users, starts, ends, strict=True)):
        rows = order[lo:hi]
        profile = UserProfile(tr_movies[rows], tr_values[rows], tr_stamps[rows], np.zeros(0, dtype=np.int64))
        for bundle in bundles:
            rated = np.array([bundle.row_of[m] for m in profile.movie_ids.tolist() if m in bundle.row_of], dtype=np.int64)
            vec = taste(bundle, profile)[0]
            content = bundle.matrix @ vec if np.any(vec) else np.zeros(len(bundle.movie_ids), np.float32)
            for kind, scores in (("hybrid", score_user(bundle, profile)[0]), ("content", content)):
                top, _ = top_k(scores, K, rated)
                ranked[(bundle.version_id, kind)][u, : len(top)] = np.searchsorted(space, bundle.movie_ids[top])
        held = np.searchsorted(space, split.heldout[user])
        truth_rows += [u] * len(held)
        truth_cols += held.tolist()
        if report and u % 25 == 0:
            report(u / len(users), f"scored {u} of {len(users)} users")
    import scipy.sparse as sp

    truth = sp.csr_matrix((np.ones(len(truth_rows), np.float32), (truth_rows, truth_cols)), shape=(len(users), len(space)))
    out: dict[int, dict[str, dict[str, float]]] = {}
    for (version_id, kind), r in ranked.items():
        out.setdefault(version_id, {})[kind] = {
            f"recall@{K}": round(recall_at_k(r, truth, K), 6),
            f"ndcg@{K}": round(ndcg_at_k(r, truth, K), 6),
        }
    return out


def decide(candidate: dict[str, float], baseline: dict[str, float] | None, tolerance: float) -> tuple[bool, str]:
    """Promote unless nDCG@10 is worse than the active's by more than the tolerance."""
    gate = f"ndcg@{K}"
    if baseline is None:
        return True, f"no active version to compare with; {gate} {candidate[gate]:.4f}"
    delta = candidate[gate] - baseline[gate]
    detail = (
        f"{gate} {candidate[gate]:.4f} vs {baseline[gate]:.4f} ({delta:+.4f}); "
        f"recall@{K} {candidate[f'recall@{K}']:.4f} vs {baseline[f'recall@{K}']:.4f}; tolerance {tolerance}"
    )
    if delta < -tolerance:
        return False, f"worse than the active version: {detail}"
    return True, detail


def _evaluate(run: StageRun) -> None:
    version = run.version
    if not version.embeddings_path:
        raise RuntimeError(f"v{version.pk} has no embeddings to evaluate")
    ModelVersion.objects.filter(pk=version.pk, status=Status.TRAINING).update(status=Status.EVALUATING)
    run.report(0.0, "building the split", force=True)
    split = build_split(version.data_counts.get("cutoff"))
    active = services.active_version()
    use_collab = bool(conf("TRAIN_COLLAB", True))
    scorer = "hybrid" if use_collab else "content"
    compared = [version]
    baseline_note = ""
    if active is not None and active.pk != version.pk:
        try:
            store.load_npz(active.embeddings_path)
            compared.append(active)
        except Exception as exc:  # serving falls back from it too; nothing to beat
            baseline_note = f"active v{active.pk} artifact unusable ({exc!r}); "
    collab = None
    if use_collab:
        with run.beating(0.05, "fitting the collaborative model on the train split"):
            collab = _fit_eval_collab(split, version.parent)
    hybrids = None
    if use_collab:
        with run.beating(0.08, "fitting the hybrid rankers on the train split"):
            hybrids = _fit_eval_hybrids(compared, split)
    scores = score_split(
        compared, split, collab=collab, hybrids=hybrids, report=lambda f, m: run.report(0.1 + 0.85 * f, m), seed=version.pk
    )
    mine = scores[version.pk]
    base = scores.get(active.pk) if active is not None and active.pk != version.pk else None
    tolerance = float(conf("PROMOTE_TOLERANCE", 0.005))
    promote, why = decide(mine[scorer], base[scorer] if base else None, tolerance)
    metrics = {
        **version.metrics,
        **mine[scorer],
        "scorer": scorer,
        "content": mine["content"],
        # merged: metrics["hybrid"] also records the served hybrid artifact (path, weights)
        "hybrid": {**(version.metrics.get("hybrid") or {}), **mine["hybrid"]},
        "k": K,
        "eval_users": len(split.heldout),
        "tolerance": tolerance,
        "baseline": {"version": active.pk, **base[scorer], "content": base["content"], "hybrid": base["hybrid"]}
        if base and active
        else None,
        "decision": "promote" if promote else "reject",
    }
    now = timezone.now()
    run.save(metrics=metrics)
    if active is not None and base and not (active.metrics or {}).get(f"ndcg@{K}"):
        # The active version gets its own numbers on this split, for the admin's chart across versions.
        ModelVersion.objects.filter(pk=active.pk).update(
            metrics={
                **(active.metrics or {}),
                **base[scorer],
                "scorer": scorer,
                "content": base["content"],
                "hybrid": {**((active.metrics or {}).get("hybrid") or {}), **base["hybrid"]},
                "evaluated_with": version.pk,
            }
        )
    if promote:
        with atomic():
            pointer = ActiveModel.objects.singleton().select_for_update().values_list("version_id", flat=True).first()
            expected = active.pk if active is not None else None
            if pointer != expected:  # someone promoted or rolled back by hand meanwhile
                promote, why = False, f"the active version changed during evaluation (v{expected} -> v{pointer})"
            else:
                ModelVersion.objects.filter(pk=version.pk).update(finished_at=now, heartbeat_at=None)
                services.model_version_promote(ModelVersion.objects.get(pk=version.pk), reason=baseline_note + why)
    if not promote:
        ModelVersion.objects.filter(pk=version.pk).update(
            status=Status.REJECTED,
            reason=baseline_note + why,
            finished_at=now,
            heartbeat_at=None,
            metrics={**metrics, "decision": "reject"},
        )
    ModelVersion.objects.filter(pk=version.pk).update(progress=1.0, progress_message="promoted" if promote else "rejected")
    TrainingState.objects.singleton().update(last_trained_at=now)
    logger.info("model v%s %s: %s", version.pk, "promoted" if promote else "rejected", why)


# ------------------------------------------------------------------------ in-process chain


def run_chain_inline(version_id: int, *, timings: dict[str, float] | None = None) -> ModelVersion:
    """The whole chain in this process (benchmark, tests): same stage functions as the tasks."""
    stages: list[tuple[str, Callable[..., int | None]]] = [
        ("fine-tune", fine_tune_version),
        ("refresh", refresh_version),
        ("collab", collab_version),
        ("evaluate", evaluate_version),
    ]
    current: int | None = version_id
    for name, stage in stages:
        started = time.perf_counter()
        current = stage(current)
        if timings is not None:
            timings[name] = time.perf_counter() - started
        if current is None:
            break
    return ModelVersion.objects.get(pk=version_id)


# ------------------------------------------------------------------------ manual control (admin)


def promote_by_hand(version: ModelVersion, *, user=None) -> ModelVersion:
    """Staff promotion: any finished version with embeddings, never one that is half-made."""
    if version.status in (Status.QUEUED, *RUNNING):
        raise ValueError(f"v{version.pk} is still {version.status}")
    if version.status == Status.FAILED:
        raise ValueError(f"v{version.pk} failed; its artifacts may be incomplete")
    if not version.embeddings_path:
        raise ValueError(f"v{version.pk} has no embeddings")
    who = user.get_username() if user is not None else "staff"
    return services.model_version_promote(version, reason=f"promoted by hand by {who}")


def rollback(*, user=None) -> ModelVersion:
    """Re-activate the version the active one replaced (its parent), else the newest other usable one."""
    active = services.active_version()
    if active is None:
        raise ValueError("no active version to roll back from")
    usable = (Status.READY, Status.REJECTED)
    target = active.parent if active.parent and active.parent.status in usable and active.parent.embeddings_path else None
    if target is None:
        target = (
            ModelVersion.objects.filter(status=Status.READY)
            .exclude(pk=active.pk)
            .exclude(embeddings_path="")
            .order_by("-finished_at", "-pk")
            .first()
        )
    if target is None:
        raise ValueError(f"no earlier version to roll back to from v{active.pk}")
    who = user.get_username() if user is not None else "staff"
    return services.model_version_promote(target, reason=f"rolled back from v{active.pk} by {who}")


def task_version_map(task_ids: list[str]) -> dict[str, int]:
    """task id -> version id, from the ids each chain recorded when it was queued."""
    wanted = set(task_ids)
    out: dict[str, int] = {}
    for pk, counts in ModelVersion.objects.exclude(data_counts={}).order_by("-pk").values_list("pk", "data_counts")[:200]:
        for task_id in (counts or {}).get("tasks", {}).values():
            if task_id in wanted:
                out[task_id] = pk
    return out
