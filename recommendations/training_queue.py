"""Decides when to queue a retraining chain (threshold or schedule)."""

from __future__ import annotations

from django.conf import settings

from recommendations.models import TrainingState


def maybe_queue_retrain() -> bool:
    """Mark a retraining as pending once enough events arrived; the chain is queued by tasks."""
    threshold = settings.MOVIEREC["RETRAIN_AFTER_EVENTS"]
    state = TrainingState.objects.filter(pk=1).first()
    if state is None or state.events_since_training < threshold:
        return False
    TrainingState.objects.filter(pk=1).update(pending_retrain=True)
    return True
