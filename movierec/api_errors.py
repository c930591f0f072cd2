"""One JSON error shape for the whole API, and the input limits that produce it.

Every error answer, whatever its status, looks like::

    {"error": {"code": "invalid", "message": "Invalid input.",
               "fields": {"ratings.2.rating": ["A rating must be ..."]}}}

``fields`` maps a dotted path into the request (``field``, ``list.3.field``,
``non_field_errors``) to its messages, and is ``{}`` when no field is to blame.
Unhandled exceptions are logged with their traceback on the server and answered
with the same shape and a 500, never with a stack trace.
"""

from __future__ import annotations

import codecs
import json
import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.log import log_response
from django.views import defaults
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from movierec.renderers import JSONRenderer

logger = logging.getLogger("movierec.api")

NON_FIELD = "non_field_errors"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class LimitedJSONParser(JSONParser):
    """JSON with a hard body-size limit (413), strict constants and no crash on deep nesting."""

    def parse(self, stream, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        parser_context = parser_context or {}
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = parser_context.get("request")
        if request is not None and limit is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except (TypeError, ValueError):
                declared = 0
            if declared > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
            data = json.loads(text, parse_constant=_reject_constant)
            # A lone surrogate ("\ud800") parses but can never be stored.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (ValueError, RecursionError, UnicodeError, LookupError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {_short(exc)}") from exc
        return data


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _short(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return text if len(text) <= 200 else text[:200] + "…"


class JsonApiMixin:
    # JSON in (size-limited), JSON out, for every API view. A comment, not a docstring: views
    # without their own would inherit it as their OpenAPI description.

    parser_classes = [LimitedJSONParser]
    renderer_classes = [JSONRenderer]


def flatten_errors(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure -> {"dotted.path": [messages]}."""
    out: dict[str, list[str]] = {}
    if isinstance(data, Mapping):
        for key, value in data.items():
            name = str(key)
            if name == NON_FIELD and prefix:
                name = ""
            path = f"{prefix}.{name}" if prefix and name else (prefix or name)
            for sub, messages in flatten_errors(value, path).items():
                out.setdefault(sub, []).extend(messages)
    elif isinstance(data, list | tuple):
        if all(not isinstance(item, Mapping | list | tuple) for item in data):
            if data:
                out.setdefault(prefix or NON_FIELD, []).extend(str(item) for item in data)
        else:
            for index, item in enumerate(data):
                if item in ({}, [], None, ""):
                    continue
                path = f"{prefix}.{index}" if prefix else str(index)
                for sub, messages in flatten_errors(item, path).items():
                    out.setdefault(sub, []).extend(messages)
    elif data is not None:
        out.setdefault(prefix or NON_FIELD, []).append(str(data))
    return out


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(serializers.as_serializer_error(exc))
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError("The request could not be read.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return _server_error(exc, context)
    data = response.data
    code = str(getattr(exc, "default_code", "error"))
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(data)
        message = "Invalid input."
        if len(fields) == 1:
            (only,) = fields.items()
            message = only[1][0] if only[0] == NON_FIELD else f"{only[0]}: {only[1][0]}"
        response.data = error_body(code, message, fields)
        return response
    fields = {}
    if isinstance(data, Mapping) and "detail" in data:
        message = str(data["detail"])
        extra = {k: v for k, v in data.items() if k != "detail"}
        fields = flatten_errors(extra) if extra else {}
        detail = data["detail"]
        code = str(getattr(detail, "code", None) or code)
    elif isinstance(data, Mapping):
        fields = flatten_errors(data)
        message = "Invalid input."
    else:
        message = "; ".join(str(item) for item in data) if isinstance(data, list) else str(data)
    response.data = error_body(code, message or "Error.", fields)
    return response


def _server_error(exc: Exception, context: dict[str, Any]) -> Response:
    set_rollback()
    response = Response(
        error_body("server_error", "Something went wrong on our side; it has been logged."),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
    request = context.get("request")
    django_request = getattr(request, "_request", request)
    log_response(
        "Internal Server Error: %s",
        getattr(django_request, "path", "?"),
        response=response,
        request=django_request,
        exception=exc,
    )
    return response


class FieldErrorsField(serializers.DictField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.ListField(child=serializers.CharField()), **kwargs)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable code, e.g. `invalid`, `not_found`, `throttled`.")
    message = serializers.CharField(help_text="Human-readable summary.")
    fields = FieldErrorsField(help_text="Dotted path into the request -> messages; empty when no field is to blame.")


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


_ERROR_TEXT: dict[int, tuple[str, str, str, dict[str, list[str]]]] = {
    400: ("Invalid input: a bad type, a value out of range or malformed JSON. `fields` names each bad field.",
          "invalid", "Invalid input.",
          {"k": ["Ensure this value is less than or equal to 100."], "ratings.2.rating": ["A valid number is required."]}),
    401: ("Not authenticated, or an invalid token.", "not_authenticated",
          "Authentication credentials were not provided.", {}),
    403: ("Authenticated but not allowed (the model endpoints need staff with the admin's model-version permission).",
          "permission_denied",
          "You do not have permission to perform this action.", {}),
    404: ("Unknown id or URL.", "not_found", "No film with id 999999.", {}),
    409: ("Conflicts with the current state.", "conflict",
          "A retraining is already running; poll its task, or try again when it ends.", {}),
    413: ("The request body is larger than the configured limit.", "payload_too_large",
          "The request body is larger than 1048576 bytes.", {}),
    415: ("The body is not JSON.", "unsupported_media_type", 'Unsupported media type "text/plain" in request.', {}),
    429: ("Too many requests; retry after the Retry-After header's seconds.", "throttled",
          "Request was throttled. Expected available in 12 seconds.", {}),
    503: ("A dependency is unavailable.", "unavailable", "Retraining is not available on this server yet.", {}),
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """Schema entries for error statuses: 401 and 429 are always possible."""
    wanted = sorted({*codes, 401, 429})
    out: dict[int, OpenApiResponse] = {}
    for code in wanted:
        description, slug, message, fields = _ERROR_TEXT[code]
        out[code] = OpenApiResponse(
            ErrorSerializer,
            description=description,
            examples=[OpenApiExample(f"error {code}", value=error_body(slug, message, fields), status_codes=[str(code)])],
        )
    return out


# --- Errors raised before a DRF view runs (middleware: a bad Host header, a crash) ------------
# Django answers those with its HTML pages; API clients get the API's JSON shape instead.


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "The request could not be read."), status=400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("server_error", "Something went wrong on our side; it has been logged."), status=500)
    return defaults.server_error(request)
