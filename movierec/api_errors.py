"""One JSON error shape for the whole API: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # Django turns it into a 500 without a stack trace when DEBUG is off
    data = response.data
    fields: dict[str, Any] = {}
    message = ""
    if isinstance(data, dict):
        detail = data.get("detail")
        if detail is not None and len(data) == 1:
            message = str(detail)
        else:
            fields = {key: value for key, value in data.items()}
            message = "Invalid input."
    elif isinstance(data, list):
        message = "; ".join(str(item) for item in data) or "Invalid input."
    code = getattr(exc, "default_code", "error")
    response.data = {"error": {"code": str(code), "message": message, "fields": fields}}
    return response
