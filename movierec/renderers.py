"""The API's JSON renderer: DRF's, plus MongoDB's ObjectId keys written as their 24 hex digits.

Hand-built responses (catalog.payloads, `model_version` fields) carry primary keys as the ORM
returns them; on SQL those are ints and this changes nothing. A module of its own because
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] names it, and rest_framework.views (imported by
movierec.api_errors) reads that setting while it is imported.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer
from rest_framework.utils import encoders


class KeyJSONEncoder(encoders.JSONEncoder):
    def default(self, obj: Any) -> Any:
        if isinstance(obj, ObjectId):
            return str(obj)
        return super().default(obj)


class JSONRenderer(DRFJSONRenderer):
    encoder_class = KeyJSONEncoder
