"""The feedback loop's entry point: every rating and "not interested" is an event.

Events bump a counter and drop the user's cached scores. Queueing a retraining
happens after the transaction commits and never fails the user's write: if the
broker is down, the periodic sweep queues it later.
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
    except Exception:  # the write is already committed; the sweep retries later
        logger.warning("could not queue a retraining now; the periodic sweep will", exc_info=True)
