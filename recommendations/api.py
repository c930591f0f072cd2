"""Recommendations API: your recommendations, plain-words asks, model versions (staff) and health.

Views are thin: recommendations.selectors / engine / ask do the work; the
staff endpoints read ModelVersion and django-celery-results' TaskResult.
"""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.permissions import SAFE_METHODS, AllowAny, IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import payloads
from catalog.api import MOVIE_EXAMPLE, ApiPagination, PrivateCacheMixin, id_in_range, validated, validated_query
from catalog.serializers import ID_PARAMETER_TYPE
from movierec.api_errors import JsonApiMixin, error_responses
from movierec.mongo import ping_database
from recommendations import selectors, services, store
from recommendations.ask import ask
from recommendations.models import ModelVersion
from recommendations.serializers import (
    DEFAULT_K,
    MAX_K,
    MAX_TASK_ID,
    AskResponseSerializer,
    AskSerializer,
    HealthSerializer,
    ModelVersionDetailSerializer,
    ModelVersionSerializer,
    RecommendationListSerializer,
    RecommendationQuerySerializer,
    RetrainStartedSerializer,
    TaskStateSerializer,
    finite,
)

logger = logging.getLogger(__name__)


class ModelVersionPermission(IsAdminUser):
    """Staff with the admin's own permission: viewing versions and tasks needs ``view_modelversion``,
    starting a retraining ``change_modelversion``, as the admin's retrain and task pages require.
    Being staff alone is not enough (a staff account may curate films and nothing else)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        action = "view" if request.method in SAFE_METHODS else "change"
        return super().has_permission(request, view) and request.user.has_perm(f"recommendations.{action}_modelversion")

SCORED_EXAMPLE = {
    "movie": {**MOVIE_EXAMPLE, "id": 7, "title": "Ronin", "year": 1998},
    "score": 1.92,
    "why": "Because you rated Heat 4.5★ and The Insider 4★",
    "because": [42, 12],
    "model_version": 3,
}


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "This service is unavailable right now."
    default_code = "unavailable"


# --- Recommendations and ask ----------------------------------------------


def recommendation_query(request: Request) -> dict[str, Any]:
    """``RecommendationQuerySerializer``'s result. The common request (``?k=N`` or nothing) is
    parsed directly, skipping the serializer's ~0.2 ms; anything else goes through it in full."""
    params = request.query_params
    if params.keys() <= {"k"}:
        raw = params.get("k", str(DEFAULT_K))
        if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_K:
            return {"k": int(raw)}
    return validated_query(RecommendationQuerySerializer, request)


@extend_schema(
    tags=["recommendations"],
    summary="Your recommendations",
    description=(
        "Up to `k` (≤ 100) films for you, optionally of one genre (slug) and decade. Each carries its score, "
        "a plain-words explanation and the model version that made it. With no active model the list is by "
        "popularity (`fallback: true`, `model_version: null`)."
    ),
    parameters=[RecommendationQuerySerializer],
    responses={200: RecommendationListSerializer, **error_responses(400)},
    examples=[
        OpenApiExample(
            "Recommendations",
            response_only=True,
            value={"model_version": 3, "fallback": False, "results": [SCORED_EXAMPLE]},
        )
    ],
)
class MyRecommendationsView(PrivateCacheMixin, JsonApiMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="my_recommendations")
    def get(self, request: Request) -> Response:
        query = recommendation_query(request)
        recs = selectors.recommend_for_user(
            request.user, k=query["k"], genre=query.get("genre", ""), decade=query.get("decade")
        )
        if recs:
            fallback = recs[0].version_id is None
            version = recs[0].version_id
        else:
            version = store.active_version_id()
            fallback = version is None
        return Response(
            {
                "model_version": version,
                "fallback": fallback,
                "results": payloads.scored_movies(recs),
            }
        )


@extend_schema(
    tags=["recommendations"],
    summary="Ask for films in plain words",
    description=(
        "E.g. \"something like Heat but from the 80s, not a comedy\", \"a film by Kathryn Bigelow, nothing with "
        "zombies\". Answers are films of the catalogue, "
        "each with an explanation; films named in the text are listed under `mentioned`. Anyone may ask; "
        "signed-in users get answers shaped by their taste and without films they rated. With no active "
        "model the answer is empty with a `note` (still 200). `text` ≤ 300 characters, `k` ≤ 100."
    ),
    request=AskSerializer,
    responses={200: AskResponseSerializer, **error_responses(400, 413, 415)},
    examples=[
        OpenApiExample(
            "A request", request_only=True, value={"text": "like Heat but from the 80s, not a comedy", "k": 5}
        ),
        OpenApiExample(
            "An answer",
            response_only=True,
            value={
                "results": [
                    {
                        "movie": {**MOVIE_EXAMPLE, "id": 19, "title": "Thief", "year": 1981},
                        "score": 0.71,
                        "why": "Like Heat; matches your request: the 1980s",
                    }
                ],
                "mentioned": [MOVIE_EXAMPLE],
                "constraints": {
                    "genres": [],
                    "excluded_genres": ["Comedy"],
                    "decade": 1980,
                    "moods": [],
                    "people": [],
                    "excluded_people": [],
                    "excluded_words": [],
                },
                "note": "",
                "model_version": 3,
            },
        ),
    ],
)
class AskView(PrivateCacheMixin, JsonApiMixin, APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="ask")
    def post(self, request: Request) -> Response:
        data = validated(AskSerializer, request.data)
        result = ask(request.user, data["text"], k=data["k"])
        return Response(AskResponseSerializer(result).data)


# --- Model versions and tasks (staff) -------------------------------------


def _versions() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.order_by("-created_at", "-pk")


def _version_or_404(version_id: int | str) -> ModelVersion:
    version = _versions().filter(pk=version_id).first() if id_in_range(version_id) else None
    if version is None:
        raise NotFound(f"No model version with id {version_id}.")
    return version


VERSION_EXAMPLE = {
    "id": 3,
    "status": "active",
    "is_active": True,
    "parent": 2,
    "base_model": "all-MiniLM-L6-v2",
    "fine_tuned": True,
    "created_at": "2025-05-01T02:00:00Z",
    "started_at": "2025-05-01T02:00:05Z",
    "finished_at": "2025-05-01T02:21:40Z",
    "heartbeat_at": "2025-05-01T02:21:39Z",
    "task_id": "6f1c2f8e-2f57-4d8e-9d7e-3f7c3c1d2a10",
    "progress": 1.0,
    "progress_message": "done",
    "data_counts": {"pairs": 2000, "ratings": 100836},
    "metrics": {"recall@10": 0.112, "ndcg@10": 0.081},
    "reason": "better than v2 by 0.006 recall@10",
}


class ModelVersionListView(PrivateCacheMixin, JsonApiMixin, generics.ListAPIView):
    serializer_class = ModelVersionSerializer
    pagination_class = ApiPagination
    permission_classes = [ModelVersionPermission]
    queryset = ModelVersion.objects.none()

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return _versions()

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "active_id": store.active_version_id()}

    @extend_schema(
        tags=["models"],
        operation_id="models_list",
        summary="Model versions with their metrics (staff with the model-version view permission)",
        description="Every model version, newest first, with its metrics; 403 for staff without the admin's view permission.",
        responses={200: ModelVersionSerializer(many=True), **error_responses(400, 403, 404)},
        examples=[
            OpenApiExample(
                "Versions",
                response_only=True,
                value={"count": 1, "next": None, "previous": None, "results": [VERSION_EXAMPLE]},
            )
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["models"],
        operation_id="models_retrain",
        summary="Start a retraining now (staff with the model-version change permission)",
        description=(
            "Queues the retraining chain (fine-tune, refresh embeddings, train the collaborative and hybrid models, "
            "evaluate and promote). Answers 202 with "
            "the task id to poll at `models/tasks/{task_id}/` and the new version's id; 409 when a retraining is "
            "already running; 503 when retraining is not available on this server (no training module, or the "
            "broker is unreachable)."
        ),
        request=None,
        responses={
            202: OpenApiResponse(RetrainStartedSerializer, description="Queued."),
            **error_responses(403, 409, 503),
        },
        examples=[
            OpenApiExample(
                "Queued",
                response_only=True,
                status_codes=["202"],
                value={"detail": "Retraining queued.", "task_id": "6f1c2f8e-2f57-4d8e-9d7e-3f7c3c1d2a10", "version": 4},
            )
        ],
    )
    def post(self, request: Request) -> Response:
        try:
            training = importlib.import_module("recommendations.training")
        except ModuleNotFoundError as exc:
            if exc.name != "recommendations.training":
                raise
            raise ServiceUnavailable("Retraining is not available on this server yet.") from exc
        busy = getattr(training, "TrainingBusy", ())
        try:
            outcome = training.retrain_now(request.user)
        except busy as exc:
            raise Conflict(f"{str(exc)[:1].upper()}{str(exc)[1:]}; poll its task, or try again when it ends.") from exc
        except Exception as exc:
            logger.warning("could not start a retraining", exc_info=True)
            raise ServiceUnavailable("Could not queue the retraining (is the broker reachable?).") from exc
        task_id, version_id = _describe_outcome(outcome)
        if version_id is None and task_id:
            version_id = ModelVersion.objects.filter(task_id=task_id).values_list("pk", flat=True).first()
        return Response(
            {"detail": "Retraining queued.", "task_id": task_id, "version": version_id},
            status=status.HTTP_202_ACCEPTED,
        )


def _describe_outcome(outcome: Any) -> tuple[str | None, int | None]:
    """retrain_now may return a ModelVersion, an AsyncResult, a task id, a dict or None."""
    if outcome is None:
        return None, None
    if isinstance(outcome, ModelVersion):
        return outcome.task_id or None, outcome.pk
    if isinstance(outcome, str):
        return outcome, None
    if isinstance(outcome, dict):
        task = outcome.get("task_id")
        version = outcome.get("version") or outcome.get("version_id")
        version_id = getattr(version, "pk", version)
        return (str(task) if task else None), version_id  # an ObjectId on MongoDB: no int()
    task = getattr(outcome, "id", None) or getattr(outcome, "task_id", None)
    return (str(task) if task else None), None


@extend_schema(
    tags=["models"],
    summary="One model version, with its loss curve (staff with the model-version view permission)",
    description="The version's metrics, progress and loss curve.",
    parameters=[OpenApiParameter("id", ID_PARAMETER_TYPE, OpenApiParameter.PATH, description="A model version id.")],
    responses={200: ModelVersionDetailSerializer, **error_responses(403, 404)},
    examples=[
        OpenApiExample(
            "A version", response_only=True, value={**VERSION_EXAMPLE, "loss_curve": [2.31, 1.74, 1.52, 1.48]}
        )
    ],
)
class ModelVersionDetailView(PrivateCacheMixin, JsonApiMixin, APIView):
    permission_classes = [ModelVersionPermission]

    @extend_schema(operation_id="models_retrieve")
    def get(self, request: Request, id: int) -> Response:
        version = _version_or_404(id)
        return Response(ModelVersionDetailSerializer(version, context={"active_id": store.active_version_id()}).data)


@extend_schema(
    tags=["models"],
    summary="State and progress of a task (staff with the model-version view permission)",
    description=(
        "For the task id a retraining returns: the state of the whole chain (PENDING while queued, STARTED while "
        "any stage runs, SUCCESS once the version is promoted, kept or rejected, FAILURE if it failed), with the "
        "version's progress; `task_state` is that first task's own Celery state. For other tasks, the Celery state "
        "from the results store. 404 when neither knows the id."
    ),
    parameters=[OpenApiParameter("task_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="A Celery task id.")],
    responses={200: TaskStateSerializer, **error_responses(403, 404)},
    examples=[
        OpenApiExample(
            "Training",
            response_only=True,
            value={
                "task_id": "6f1c2f8e-2f57-4d8e-9d7e-3f7c3c1d2a10",
                "state": "STARTED",
                "task_state": "STARTED",
                "name": "recommendations.tasks.fine_tune_encoder",
                "date_created": "2025-05-01T02:00:01Z",
                "date_done": None,
                "progress": 0.42,
                "progress_message": "fine-tuning: step 84 of 200",
                "version": 4,
                "version_status": "training",
            },
        )
    ],
)
class TaskStateView(PrivateCacheMixin, JsonApiMixin, APIView):
    permission_classes = [ModelVersionPermission]

    @extend_schema(operation_id="models_task_state")
    def get(self, request: Request, task_id: str) -> Response:
        state = _task_state(task_id)
        if state is None:
            raise NotFound("No task with this id.")
        return Response(TaskStateSerializer(state).data)


# A model version's status as the state of the chain that builds it.
CHAIN_STATES = {
    ModelVersion.Status.QUEUED: "PENDING",
    ModelVersion.Status.TRAINING: "STARTED",
    ModelVersion.Status.EVALUATING: "STARTED",
    ModelVersion.Status.ACTIVE: "SUCCESS",
    ModelVersion.Status.READY: "SUCCESS",
    ModelVersion.Status.REJECTED: "SUCCESS",
    ModelVersion.Status.FAILED: "FAILURE",
}


def _task_state(task_id: str) -> dict[str, Any] | None:
    """The Celery state from django-celery-results joined with the progress of the version it trains."""
    from django_celery_results.models import TaskResult

    if len(task_id) > MAX_TASK_ID:
        return None
    result = TaskResult.objects.filter(task_id=task_id).first()
    version = ModelVersion.objects.filter(task_id=task_id).first() if len(task_id) <= 64 else None
    if result is None and version is None:
        return None
    task_state = result.status if result is not None else None
    if version is not None:
        # The id is the chain's (its first task's): the chain is done only when the version is,
        # whatever that first task's own Celery state says (SUCCESS after fine-tuning, or
        # STARTED for ever when its worker was killed).
        progress = finite(float(version.progress))
        state = CHAIN_STATES.get(version.status, "STARTED")
        done = version.finished_at if state in ("SUCCESS", "FAILURE") else None
    else:
        progress = 1.0 if task_state == "SUCCESS" else None
        state, done = task_state, result.date_done
    return {
        "task_id": task_id,
        "state": state,
        "task_state": task_state,
        "name": result.task_name if result is not None else None,
        "date_created": result.date_created if result is not None else None,
        "date_done": done,
        "progress": progress,
        "progress_message": version.progress_message if version is not None else "",
        "version": version.pk if version is not None else None,
        "version_status": version.status if version is not None else None,
    }


# --- Health ----------------------------------------------------------------

HEALTH_CACHE_SECONDS = 5


def _database_check() -> dict[str, Any]:
    try:
        ping_database()  # SELECT 1 on SQL, a `ping` command on MongoDB
        return {"ok": True, "detail": "reachable"}
    except Exception:
        logger.warning("health: database unreachable", exc_info=True)
        return {"ok": False, "detail": "unreachable"}


def _broker_check() -> dict[str, Any]:
    """Connect to the Celery broker with a short timeout. Only the transport name is shown."""
    url = settings.CELERY_BROKER_URL or ""
    transport = url.split("://", 1)[0] if "://" in url else "unknown"
    cached = cache.get("health:broker")
    if cached is not None:
        return cached
    from kombu import Connection

    timeout = float(getattr(settings, "CELERY_BROKER_CONNECTION_TIMEOUT", 2.0) or 2.0)
    started = time.monotonic()
    try:
        with Connection(url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, interval_max=0, timeout=timeout)
            conn.default_channel  # noqa: B018 - opening a channel proves the transport works
        check = {"ok": True, "detail": f"reachable in {1000 * (time.monotonic() - started):.0f} ms", "transport": transport}
    except Exception:
        logger.warning("health: broker unreachable", exc_info=True)
        check = {"ok": False, "detail": "unreachable", "transport": transport}
    cache.set("health:broker", check, HEALTH_CACHE_SECONDS)
    return check


def _model_check() -> dict[str, Any]:
    try:
        pointer = services.active_pointer()
    except Exception:
        logger.warning("health: cannot read the active model", exc_info=True)
        pointer = None
    version = pointer.version if pointer is not None else None
    if version is None:
        return {"ok": False, "version": None, "status": None, "fine_tuned": False, "activated_at": None}
    return {
        "ok": True,
        "version": version.pk,
        "status": version.status,
        "fine_tuned": bool(version.encoder_path),
        "activated_at": pointer.changed_at,  # when it became active (a roll-back included), not when it was built
    }


def _training_check() -> dict[str, Any]:
    """Whether the training loop has an ml worker: a queued chain nobody started says it has not."""
    try:
        waiting = selectors.versions_waiting_for_a_worker()
    except Exception:
        logger.warning("health: cannot read the model versions", exc_info=True)
        return {"ok": False, "detail": "unknown"}
    if waiting:
        since = waiting[0].created_at.isoformat(timespec="seconds")
        return {"ok": False, "detail": f"v{waiting[0].pk} queued since {since}, not started: the ml worker is busy or not running"}
    return {"ok": True, "detail": "no retraining waiting for a worker"}


@extend_schema(
    tags=["health"],
    summary="Health of the database, the broker and the active model",
    description=(
        "`ok` when all are fine, `degraded` when the database works but the broker, the model or the "
        "training loop does not (the site still serves: by popularity without a model; a retraining waiting "
        "for an ml worker leaves the current model in place), `down` (503) when the database does not. No "
        "addresses, credentials or error texts are shown."
    ),
    responses={
        200: HealthSerializer,
        503: OpenApiResponse(HealthSerializer, description="The database is unreachable."),
        **error_responses(),
    },
    examples=[
        OpenApiExample(
            "Healthy",
            response_only=True,
            value={
                "status": "ok",
                "database": {"ok": True, "detail": "reachable"},
                "broker": {"ok": True, "detail": "reachable in 3 ms", "transport": "redis"},
                "model": {
                    "ok": True,
                    "version": 3,
                    "status": "active",
                    "fine_tuned": True,
                    "activated_at": "2025-05-01T02:21:40Z",
                },
                "training": {"ok": True, "detail": "no retraining waiting for a worker"},
            },
        )
    ],
)
class HealthView(JsonApiMixin, APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="health")
    def get(self, request: Request) -> Response:
        database = _database_check()
        broker = _broker_check()
        model = (
            _model_check()
            if database["ok"]
            else {"ok": False, "version": None, "status": None, "fine_tuned": False, "activated_at": None}
        )
        training = _training_check() if database["ok"] else {"ok": False, "detail": "unknown"}
        fine = broker["ok"] and model["ok"] and training["ok"]
        overall = "down" if not database["ok"] else ("ok" if fine else "degraded")
        body = HealthSerializer(
            {"status": overall, "database": database, "broker": broker, "model": model, "training": training}
        ).data
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE if overall == "down" else status.HTTP_200_OK)
