"""The site's URLs plus a floor endpoint for load tests (only with MOVIEREC_BENCH_FLOOR=1).

`GET /api/bench/floor/?k=20` goes through the same authentication, permission, throttling and
JSON rendering as `/api/v1/me/recommendations/`, and returns the same JSON shape, but from a
payload built once per process: whatever it costs is the framework's floor.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from movierec.api_errors import JsonApiMixin
from movierec.urls import urlpatterns as site_urlpatterns

if os.environ.get("MOVIEREC_BENCH_FLOOR") != "1":
    raise ImproperlyConfigured("movierec.bench_urls is for load tests only: set MOVIEREC_BENCH_FLOOR=1")

_payload: dict[str, Any] | None = None
_lock = threading.Lock()


def floor_payload(k: int = 20) -> dict[str, Any]:
    """k real films in the recommendations' shape, read from the database once per process."""
    global _payload
    with _lock:
        if _payload is None:
            from catalog.models import Movie

            movies = Movie.objects.with_genres().order_by("-rating_count", "pk")[:100]
            results = [
                {
                    "movie": {
                        "id": m.pk,
                        "title": m.title,
                        "year": m.year,
                        "genres": [{"name": g.name, "slug": g.slug} for g in m.genres.all()],
                    },
                    "score": 1.0 - i / 100,
                    "why": f"Because you rated {m.title} 4.5★ and {m.title} 4★",
                    "because": [m.pk, m.pk],
                    "model_version": 1,
                }
                for i, m in enumerate(movies)
            ]
            _payload = {"model_version": 1, "fallback": False, "results": results}
    return {**_payload, "results": _payload["results"][:k]}


class FloorView(JsonApiMixin, APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        try:
            k = max(1, min(int(request.query_params.get("k", 20)), 100))
        except ValueError:
            k = 20
        return Response(floor_payload(k))


urlpatterns = [path("api/bench/floor/", FloorView.as_view(), name="bench-floor"), *site_urlpatterns]
