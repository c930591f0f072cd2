"""Decides, after a rating's transaction commits, whether a retraining is due.

It only flags it (``pending_retrain``, one conditional UPDATE): the periodic sweep
(``training.sweep``, run by Celery beat every MOVIEREC_SWEEP_SECONDS, 60 s by default)
queues the chain. So no request ever waits on the broker (publishing the chain took
~0.5 s on a fresh broker connection, and up to seconds of retries with the broker down),
a broker outage loses nothing, and the chain starts within a minute of the threshold,
which is nothing next to its own length.
"""

from __future__ import annotations

from django.conf import settings

from recommendations.models import TrainingState


def maybe_queue_retrain() -> bool:
    """True when this event made the retraining due (flagged now for the sweep)."""
    threshold = settings.MOVIEREC["RETRAIN_AFTER_EVENTS"]
    due = TrainingState.objects.singleton().filter(pending_retrain=False, events_since_training__gte=threshold)
    return bool(due.update(pending_retrain=True))
