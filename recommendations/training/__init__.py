"""The retraining loop: split, pairs, fine-tune, refresh, collaborative model, evaluate, promote.

Celery tasks (recommendations.tasks) are thin wrappers over the stage functions
here; the benchmark and the tests call the same functions in-process. Modules:
``lifecycle`` (lock, versions, sweep), ``stages`` (claim, progress, heartbeat),
``split`` (split and pairs), ``build`` (fine-tune, refresh, collab), ``gate``
(evaluate and promote), ``control`` (inline chain, manual promote and rollback).

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

from recommendations.training.build import collab_version, fine_tune_version, refresh_active, refresh_version
from recommendations.training.control import promote_by_hand, rollback, run_chain_inline, task_version_map
from recommendations.training.gate import K, decide, evaluate_version, score_split
from recommendations.training.lifecycle import (
    Abandoned,
    BrokerUnavailable,
    QueuedChain,
    Skip,
    TrainingBusy,
    backoff_until,
    fail_version,
    lock_holder,
    nightly,
    queue_retrain,
    recover_stale,
    retrain_now,
    start_version,
    sweep,
)
from recommendations.training.split import Split, build_split, catalogue_text_map, training_pairs, validation_pairs
from recommendations.training.stages import STAGE_SPAN, StageRun, _claim

__all__ = [
    "STAGE_SPAN",
    "Abandoned",
    "BrokerUnavailable",
    "K",
    "QueuedChain",
    "Skip",
    "Split",
    "StageRun",
    "TrainingBusy",
    "_claim",
    "backoff_until",
    "build_split",
    "catalogue_text_map",
    "collab_version",
    "decide",
    "evaluate_version",
    "fail_version",
    "fine_tune_version",
    "lock_holder",
    "nightly",
    "promote_by_hand",
    "queue_retrain",
    "recover_stale",
    "refresh_active",
    "refresh_version",
    "retrain_now",
    "rollback",
    "run_chain_inline",
    "score_split",
    "start_version",
    "sweep",
    "task_version_map",
    "training_pairs",
    "validation_pairs",
]
