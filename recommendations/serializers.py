"""Serializers of the recommendations API: recommendations, ask, model versions, tasks and health."""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.selectors import genre_named
from catalog.serializers import (
    MAX_K,
    YEAR_MAX,
    YEAR_MIN,
    CleanCharField,
    FiniteFloatField,
    IdField,
    JsonIntegerField,
    MovieBriefSerializer,
    QueryIntegerField,
    ScoredMovieSerializer,
)
from recommendations.ask import MAX_TEXT
from recommendations.models import ModelVersion

MAX_TASK_ID = 255
DEFAULT_K = 20
# Statuses of a version whose chain has ended with a model (its progress is complete).
FINISHED_STATUSES = (ModelVersion.Status.ACTIVE, ModelVersion.Status.READY, ModelVersion.Status.REJECTED)


def finite(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities (which strict JSON cannot carry) become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


@extend_schema_field({"type": "object", "additionalProperties": True})
class SafeDictField(serializers.Field):
    def to_representation(self, value: Any) -> dict[str, Any]:
        return finite(value) if isinstance(value, dict) else {}


@extend_schema_field({"type": "array", "items": {}})
class SafeListField(serializers.Field):
    def to_representation(self, value: Any) -> list[Any]:
        return finite(value) if isinstance(value, list | tuple) else []


@extend_schema_field(
    {"type": "integer", "minimum": YEAR_MIN, "maximum": YEAR_MAX, "multipleOf": 10, "example": 1990}
)
class DecadeField(QueryIntegerField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=YEAR_MIN, max_value=YEAR_MAX, **kwargs)

    def to_internal_value(self, data: Any) -> int:
        value = super().to_internal_value(data)
        if value % 10:
            raise serializers.ValidationError("A decade is a year ending in 0, e.g. 1990.")
        return value


# --- Recommendations and ask ----------------------------------------------


class RecommendationQuerySerializer(serializers.Serializer):
    k = QueryIntegerField(required=False, default=DEFAULT_K, min_value=1, max_value=MAX_K, help_text="How many films (≤ 100).")
    genre = CleanCharField(required=False, allow_blank=True, max_length=64, help_text="Only this genre (slug).")
    decade = DecadeField(required=False, help_text="Only films of this decade, e.g. 1990.")

    def validate_genre(self, value: str) -> str:
        """The slug of the genre named (by slug or name, as /api/v1/movies/ takes it); an unknown
        genre is an error, not an empty list."""
        if not value:
            return value
        genre = genre_named(value)
        if genre is None:
            raise serializers.ValidationError(f'Unknown genre "{value}". GET /api/v1/genres/ lists the genres.')
        return genre.slug


class RecommendationListSerializer(serializers.Serializer):
    model_version = IdField(allow_null=True, help_text="The active model version; null when none is.")
    fallback = serializers.BooleanField(help_text="True when no model is active and the list is by popularity.")
    results = ScoredMovieSerializer(many=True)


class AskSerializer(serializers.Serializer):
    text = CleanCharField(
        max_length=MAX_TEXT,
        allow_blank=True,  # answered with a prompt to say something (see ``ask``)
        help_text="What you feel like watching, in plain words (≤ 300 characters).",
    )
    k = JsonIntegerField(required=False, default=10, min_value=1, max_value=MAX_K)


class AskItemSerializer(serializers.Serializer):
    movie = MovieBriefSerializer()
    score = FiniteFloatField()
    why = serializers.CharField()


class PersonSerializer(serializers.Serializer):
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=["director", "cast"], help_text="What the request asked for, else what most of their credits are.")


class ConstraintsSerializer(serializers.Serializer):
    genres = serializers.ListField(child=serializers.CharField(), help_text="Films of these genres only.")
    excluded_genres = serializers.ListField(child=serializers.CharField())
    decade = serializers.IntegerField(allow_null=True)
    moods = serializers.ListField(child=serializers.CharField(), help_text="Genres the request leans to (\"lighter\": Comedy); a boost, not a filter.")
    people = PersonSerializer(many=True, help_text="People named in the request: films crediting them come first.")
    excluded_people = PersonSerializer(many=True, help_text="People the request refuses: films crediting them come last.")
    excluded_words = serializers.ListField(child=serializers.CharField(), help_text="Words the request refuses (\"nothing with violence\"): films with them come last.")


class AskResponseSerializer(serializers.Serializer):
    results = AskItemSerializer(many=True, source="items")
    mentioned = MovieBriefSerializer(many=True, help_text="Catalogue films recognised in the text.")
    constraints = ConstraintsSerializer(help_text="What was understood from the text.")
    note = serializers.CharField(allow_blank=True)
    model_version = IdField(source="version_id", allow_null=True)


# --- Model versions and tasks (staff) -------------------------------------


class ModelVersionSerializer(serializers.ModelSerializer):
    id = IdField(read_only=True)
    parent = IdField(source="parent_id", read_only=True, allow_null=True)
    data_counts = SafeDictField(read_only=True)
    metrics = SafeDictField(read_only=True, help_text="Held-out metrics, e.g. recall@10 and ndcg@10.")
    progress = serializers.SerializerMethodField()
    is_active = serializers.SerializerMethodField()
    fine_tuned = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "status",
            "is_active",
            "parent",
            "base_model",
            "fine_tuned",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "task_id",
            "progress",
            "progress_message",
            "data_counts",
            "metrics",
            "reason",
        ]

    def get_progress(self, version: ModelVersion) -> float:
        # A version built outside a chain (the first one, by bootstrap) never reported progress.
        if version.status in FINISHED_STATUSES:
            return 1.0
        return version.progress if math.isfinite(version.progress) else 0.0

    def get_is_active(self, version: ModelVersion) -> bool:
        return version.pk == self.context.get("active_id")

    def get_fine_tuned(self, version: ModelVersion) -> bool:
        return bool(version.encoder_path)


class ModelVersionDetailSerializer(ModelVersionSerializer):
    loss_curve = SafeListField(read_only=True)

    class Meta(ModelVersionSerializer.Meta):
        fields = [*ModelVersionSerializer.Meta.fields, "loss_curve"]


class RetrainStartedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    task_id = serializers.CharField(allow_null=True)
    version = IdField(allow_null=True)


class TaskStateSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    state = serializers.CharField(help_text="PENDING, STARTED, SUCCESS or FAILURE: the whole chain's for a retraining's task id, else Celery's.")
    task_state = serializers.CharField(allow_null=True, help_text="This task's own Celery state, when the results store has it.")
    name = serializers.CharField(allow_null=True)
    date_created = serializers.DateTimeField(allow_null=True)
    date_done = serializers.DateTimeField(allow_null=True)
    progress = serializers.FloatField(allow_null=True, help_text="0.0 to 1.0 when known.")
    progress_message = serializers.CharField(allow_blank=True)
    version = IdField(allow_null=True)
    version_status = serializers.CharField(allow_null=True)


# --- Health ----------------------------------------------------------------


class CheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class BrokerCheckSerializer(CheckSerializer):
    transport = serializers.CharField(help_text="The broker's transport name only, never its address.")


class ModelCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField(help_text="True when a model version is active.")
    version = IdField(allow_null=True)
    status = serializers.CharField(allow_null=True)
    fine_tuned = serializers.BooleanField()
    activated_at = serializers.DateTimeField(allow_null=True)


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField(
        help_text="`ok`, `degraded` (broker, model or training loop unavailable) or `down` (no database)."
    )
    database = CheckSerializer()
    broker = BrokerCheckSerializer()
    model = ModelCheckSerializer()
    training = CheckSerializer(
        help_text="Not ok when a retraining has waited more than 5 minutes for the ml worker (busy with a long embedding, or not running)."
    )
