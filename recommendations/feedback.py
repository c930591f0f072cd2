"""The feedback loop's entry point: every rating and "not interested" is an event.

Events bump a counter (in the write's transaction) and drop the user's cached scores.
Nothing else happens on the request: the periodic sweep (``training.sweep``, Celery beat
every MOVIEREC_SWEEP_SECONDS, 60 s) sees the counter reach MOVIEREC_RETRAIN_AFTER_EVENTS
and queues the chain, so a user's write never waits on the broker (publishing a chain took
~0.5 s on a fresh broker connection, and seconds of retries with the broker down).
"""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import F


def user_cache_key(user_id: int) -> str:
    return f"recs:user:{user_id}"


def record_event(user_id: int) -> None:
    from recommendations.models import TrainingState

    cache.delete(user_cache_key(user_id))
    updated = TrainingState.objects.singleton().update(events_since_training=F("events_since_training") + 1)
    if not updated:
        TrainingState.load(events_since_training=1)
