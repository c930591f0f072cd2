"""Decides, after a rating's transaction commits, whether a retraining chain is due now.

The wish to retrain (``pending_retrain``) is written before the broker is
touched, so a broker outage loses nothing: the periodic sweep queues the chain
once the broker is back. Only the event that crosses the threshold tries the
broker; later ones see the pending flag and leave it to the sweep.
"""

from __future__ import annotations

import logging

from django.conf import settings

from recommendations.models import TrainingState

logger = logging.getLogger(__name__)


def maybe_queue_retrain() -> bool:
    """True when a retraining is due (queued now, or left pending for the sweep)."""
    threshold = settings.MOVIEREC["RETRAIN_AFTER_EVENTS"]
    state = TrainingState.objects.singleton().first()
    if state is None or state.events_since_training < threshold:
        return False
    if not TrainingState.objects.singleton().filter(pending_retrain=False).update(pending_retrain=True):
        return True  # already pending: the sweep (or a running chain's successor) handles it
    from movierec.celery import app

    if app.conf.task_always_eager:
        return True  # never train inside a web request; the sweep runs it
    from recommendations import training

    try:
        training.queue_retrain(reason=f"{state.events_since_training} events since the last training")
    except training.TrainingBusy:
        logger.info("retraining due but one is running; the sweep will queue the next")
    return True
