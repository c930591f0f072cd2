"""Model versions, the single active-version pointer and the feedback-loop state."""

from __future__ import annotations

from typing import Self

from django.db import models
from django.utils.translation import gettext_lazy as _


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        TRAINING = "training", _("training")
        EVALUATING = "evaluating", _("evaluating")
        ACTIVE = "active", _("active")
        READY = "ready", _("ready")  # trained and evaluated once, not serving now
        REJECTED = "rejected", _("rejected")
        FAILED = "failed", _("failed")

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    base_model = models.CharField(max_length=100, default="all-MiniLM-L6-v2")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    progress = models.FloatField(default=0.0)
    progress_message = models.CharField(max_length=200, blank=True)
    data_counts = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    loss_curve = models.JSONField(default=list, blank=True)
    # Storage-API paths (local files by default, S3-compatible in production).
    encoder_path = models.CharField(max_length=300, blank=True, help_text="Empty: the verified base model.")
    embeddings_path = models.CharField(max_length=300, blank=True)
    collab_path = models.CharField(max_length=300, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("model version")
        verbose_name_plural = _("model versions")

    def __str__(self) -> str:
        return f"v{self.pk} ({self.status})"


SINGLETON_SLOT = "default"


class SingletonQuerySet(models.QuerySet):
    def singleton(self) -> SingletonQuerySet:
        """The one row, addressed by its natural key: a fixed pk=1 cannot exist on MongoDB (ObjectId keys)."""
        return self.filter(slot=SINGLETON_SLOT)


class SingletonModel(models.Model):
    """A one-row table. `slot` is unique, so concurrent get_or_create() cannot make a second row."""

    slot = models.CharField(max_length=16, unique=True, default=SINGLETON_SLOT, editable=False)

    objects = SingletonQuerySet.as_manager()

    class Meta:
        abstract = True

    @classmethod
    def load(cls, **defaults: object) -> Self:
        """The singleton row, created on first use."""
        row, _ = cls.objects.get_or_create(slot=SINGLETON_SLOT, defaults=defaults)
        return row


class ActiveModel(SingletonModel):
    """The one row pointing at the serving version: swapping it is one atomic write."""

    version = models.ForeignKey(ModelVersion, null=True, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"active: {self.version_id}"


class TrainingState(SingletonModel):
    """Singleton: events since the last training and the training lock."""

    events_since_training = models.PositiveIntegerField(default=0)
    last_trained_at = models.DateTimeField(null=True, blank=True)
    lock_owner = models.CharField(max_length=64, blank=True)
    lock_expires_at = models.DateTimeField(null=True, blank=True)
    pending_retrain = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"events={self.events_since_training}"
