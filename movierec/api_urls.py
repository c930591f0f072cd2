"""API routes: /api/v1/ and the OpenAPI schema with Swagger UI and ReDoc (served locally)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import include, path, re_path
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api import TokenView
from catalog import api as catalog_api
from movierec.api_errors import JsonApiMixin
from movierec.mongo import register_pk_converter
from recommendations import api as rec_api

register_pk_converter()  # <pk:…>: digits on SQL, ObjectIds on MongoDB


class SessionCsrfScheme(OpenApiAuthenticationExtension):
    """cookieAuth as drf-spectacular writes it, plus what its writes need: the CSRF token."""

    target_class = "rest_framework.authentication.SessionAuthentication"
    name = "cookieAuth"
    priority = 1  # over drf-spectacular's own SessionScheme (-1)

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "The site's session cookie, for browser clients. Writes (POST, PUT, PATCH, DELETE) made with it "
                f"also need the CSRF token: the `{settings.CSRF_COOKIE_NAME}` cookie's value in an `X-CSRFToken` "
                "header (over HTTPS, also a same-origin `Origin` or `Referer`); without it the answer is 403 "
                "`permission_denied`, \"CSRF Failed: …\". Token clients (`Authorization: Token …`) need neither."
            ),
        }


@extend_schema(exclude=True)
class ApiNotFound(JsonApiMixin, APIView):
    """Any other URL under /api/: a 404 in the API's error shape, not an HTML page."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []

    def _not_found(self, request: Request, *args: object, **kwargs: object) -> Response:
        hint = "" if request.path.endswith("/") else " API URLs end with a slash."
        raise NotFound(f"No API endpoint at this URL.{hint} The schema is at /api/schema/.")

    get = post = put = patch = delete = head = options = _not_found


v1 = [
    path("genres/", catalog_api.GenreListView.as_view(), name="genre-list"),
    path("movies/", catalog_api.MovieListView.as_view(), name="movie-list"),
    path("movies/<pk:id>/", catalog_api.MovieDetailView.as_view(), name="movie-detail"),
    path("movies/<pk:id>/similar/", catalog_api.MovieSimilarView.as_view(), name="movie-similar"),
    path("me/ratings/", catalog_api.MyRatingsView.as_view(), name="my-ratings"),
    path("me/ratings/bulk/", catalog_api.MyRatingsBulkView.as_view(), name="my-ratings-bulk"),
    path("me/ratings/<pk:movie_id>/", catalog_api.MyRatingDetailView.as_view(), name="my-rating"),
    path("me/watchlist/", catalog_api.MyWatchlistView.as_view(), name="my-watchlist"),
    path("me/watchlist/<pk:movie_id>/", catalog_api.MyWatchlistItemView.as_view(), name="my-watchlist-item"),
    path("me/not-interested/", catalog_api.MyNotInterestedView.as_view(), name="my-not-interested"),
    path(
        "me/not-interested/<pk:movie_id>/",
        catalog_api.MyNotInterestedItemView.as_view(),
        name="my-not-interested-item",
    ),
    path("me/recommendations/", rec_api.MyRecommendationsView.as_view(), name="my-recommendations"),
    path("ask/", rec_api.AskView.as_view(), name="ask"),
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("models/", rec_api.ModelVersionListView.as_view(), name="model-list"),
    path("models/<pk:id>/", rec_api.ModelVersionDetailView.as_view(), name="model-detail"),
    path("models/tasks/<str:task_id>/", rec_api.TaskStateView.as_view(), name="model-task"),
    path("health/", rec_api.HealthView.as_view(), name="health"),
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("schema/swagger/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("schema/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("v1/", include((v1, "api"), namespace="v1")),
    re_path(r"^", ApiNotFound.as_view()),
]
