"""Celery tasks: thin wrappers over recommendations.training.

ML tasks go to the ``ml`` queue (settings.CELERY_TASK_ROUTES; also set here so
a missing route cannot land TensorFlow work in the light queue). Each stage
task takes the version id returned by the previous one; None means an earlier
stage ended the chain, so later stages do nothing. Re-running or redelivering
a task is safe: a finished stage is skipped, a half-made version is failed
(see training._claim).
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from celery import chain, shared_task
from celery.canvas import Signature

from recommendations import training

ML = {"queue": "ml", "acks_late": True}


def _key(version_id: Any) -> Any:
    """A version id from a message as the ORM's key (int on SQL, ObjectId on MongoDB)."""
    from recommendations.models import ModelVersion

    return None if version_id is None else ModelVersion._meta.pk.to_python(version_id)


def _wire(value: Any) -> Any:
    """Task arguments and results travel as JSON, which has no ObjectId: send its hex string."""
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v) for v in value]
    return value


@shared_task(bind=True, **ML)
def fine_tune_encoder(self, version_id: int | None) -> int | None:
    return _wire(training.fine_tune_version(_key(version_id), task_id=self.request.id or ""))


@shared_task(bind=True, **ML)
def refresh_embeddings(
    self, version_id: int | None = None, *, only_changed: bool = False, in_chain: bool = False
) -> int | dict | None:
    """In a chain: embed the catalogue for the new version. Alone: refresh the active version."""
    if in_chain or version_id is not None:
        return _wire(training.refresh_version(_key(version_id), task_id=self.request.id or ""))
    return _wire(training.refresh_active(only_changed=only_changed))


@shared_task(bind=True, **ML)
def train_collab(self, version_id: int | None) -> int | None:
    return _wire(training.collab_version(_key(version_id), task_id=self.request.id or ""))


@shared_task(bind=True, **ML)
def evaluate_and_promote(self, version_id: int | None) -> dict | None:
    version_id = _key(version_id)
    promoted = training.evaluate_version(version_id, task_id=self.request.id or "")
    if version_id is None:
        return None
    from recommendations.models import ModelVersion

    version = ModelVersion.objects.filter(pk=version_id).values("status", "reason", "metrics").first() or {}
    metrics = version.get("metrics") or {}
    return _wire({
        "version": version_id,
        "promoted": promoted is not None,
        "status": version.get("status"),
        "reason": version.get("reason"),
        "ndcg@10": metrics.get("ndcg@10"),
        "recall@10": metrics.get("recall@10"),
    })


@shared_task(**ML)
def embed_new_films() -> dict:
    """New and edited films for the active version (e.g. after an import)."""
    return _wire(training.refresh_active(only_changed=True))


@shared_task(acks_late=True)
def sweep_training() -> dict:
    """Every minute (beat): fail dead chains, queue a due retraining (threshold, pending, broker back)."""
    return _wire(training.sweep())


@shared_task(acks_late=True)
def nightly_retrain() -> dict:
    return _wire(training.nightly())


def training_chain(version_id: int, task_ids: dict[str, str]) -> Signature:
    """fine-tune -> refresh -> collaborative model -> evaluate and promote, with ids fixed in advance."""
    return chain(
        fine_tune_encoder.si(_wire(version_id)).set(task_id=task_ids["fine_tune"]),
        refresh_embeddings.s(in_chain=True).set(task_id=task_ids["refresh"]),
        train_collab.s().set(task_id=task_ids["collab"]),
        evaluate_and_promote.s().set(task_id=task_ids["evaluate"]),
    )
