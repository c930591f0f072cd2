"""The feedback loop's entry point: every rating and "not interested" is an event.

Events bump a counter and drop the user's cached scores. After the transaction
commits, a retraining is flagged as due once enough events came in; the periodic
sweep queues it (see training_queue), so the user's write never waits on the broker.
"""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.db import transaction
from django.db.models import F

logger = logging.getLogger(__name__)


def user_cache_key(user_id: int) -> str:
    return f"recs:user:{user_id}"


def record_event(user_id: int) -> None:
    from recommendations.models import TrainingState

    cache.delete(user_cache_key(user_id))
    updated = TrainingState.objects.singleton().update(events_since_training=F("events_since_training") + 1)
    if not updated:
        TrainingState.load(events_since_training=1)
    transaction.on_commit(_maybe_queue_retrain)


def _maybe_queue_retrain() -> None:
    try:
        from recommendations import training_queue

        training_queue.maybe_queue_retrain()
    except Exception:  # the write is already committed; the sweep sees the counter anyway
        logger.warning("could not flag a retraining; the periodic sweep will see the counter", exc_info=True)
