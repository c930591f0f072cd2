"""The OpenAPI schema (valid, every endpoint documented with examples), the local docs pages,
and the one JSON error shape for 404/405/415/429/500 outside any single endpoint's tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parents[1]
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def schema(db) -> dict:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_served_schema_is_valid_openapi_3(schema):
    openapi_spec_validator = pytest.importorskip("openapi_spec_validator")
    openapi_spec_validator.validate(schema)
    assert schema["openapi"].startswith("3.")


def test_spectacular_validates_with_no_warnings(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "movierec.settings_test", "MOVIEREC_VAR_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Warning" not in result.stderr and "Error" not in result.stderr
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")


def test_every_endpoint_is_documented(schema):
    expected = {
        ("/api/v1/genres/", "get"),
        ("/api/v1/movies/", "get"),
        ("/api/v1/movies/{id}/", "get"),
        ("/api/v1/movies/{id}/similar/", "get"),
        ("/api/v1/me/ratings/", "get"),
        ("/api/v1/me/ratings/", "post"),
        ("/api/v1/me/ratings/{movie_id}/", "get"),
        ("/api/v1/me/ratings/{movie_id}/", "put"),
        ("/api/v1/me/ratings/{movie_id}/", "delete"),
        ("/api/v1/me/ratings/bulk/", "post"),
        ("/api/v1/me/watchlist/", "get"),
        ("/api/v1/me/watchlist/", "post"),
        ("/api/v1/me/watchlist/{movie_id}/", "get"),
        ("/api/v1/me/watchlist/{movie_id}/", "delete"),
        ("/api/v1/me/not-interested/", "get"),
        ("/api/v1/me/not-interested/", "post"),
        ("/api/v1/me/not-interested/{movie_id}/", "get"),
        ("/api/v1/me/not-interested/{movie_id}/", "delete"),
        ("/api/v1/me/recommendations/", "get"),
        ("/api/v1/ask/", "post"),
        ("/api/v1/auth/token/", "post"),
        ("/api/v1/auth/token/", "delete"),
        ("/api/v1/models/", "get"),
        ("/api/v1/models/", "post"),
        ("/api/v1/models/{id}/", "get"),
        ("/api/v1/models/tasks/{task_id}/", "get"),
        ("/api/v1/health/", "get"),
    }
    found = {(path, method) for path, method, _ in operations(schema)}
    assert found == expected
    for path, method, operation in operations(schema):
        label = f"{method.upper()} {path}"
        assert operation.get("summary"), label
        assert operation.get("tags"), label
        assert {"401", "429"} <= set(operation["responses"]), label
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")) and not (path.endswith("/health/") and code == "503"):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (label, code)


def test_every_endpoint_has_examples(schema):
    for path, method, operation in operations(schema):
        examples = []
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
        examples += list(body.get("examples", {}))
        for code, response in operation["responses"].items():
            if code.startswith("2"):
                examples += list(response.get("content", {}).get("application/json", {}).get("examples", {}))
        if not (method == "delete" or (path, method) == ("/api/v1/models/", "post")):
            assert examples, f"{method.upper()} {path} has no example"
        else:
            # No-content answers: the error examples document them.
            assert any(r.get("content") for r in operation["responses"].values())


def test_limits_are_in_the_schema(schema):
    components = schema["components"]["schemas"]
    bulk = components["BulkRatingsRequest"]["properties"]["ratings"]
    assert bulk["maxItems"] == 500 and bulk["minItems"] == 1
    assert components["AskRequest"]["properties"]["text"]["maxLength"] == 300
    params = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/me/recommendations/"]["get"]["parameters"]}
    assert params["k"]["maximum"] == 100
    movie_params = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/movies/"]["get"]["parameters"]}
    assert movie_params["q"]["maxLength"] == 300 and movie_params["page_size"]["maximum"] == 100
    rating = components["RatingWriteRequest"]["properties"]["rating"]
    assert (rating["minimum"], rating["maximum"], rating["multipleOf"]) == (0.5, 5.0, 0.5)


@pytest.mark.parametrize("page", ["/api/schema/swagger/", "/api/schema/redoc/"])
def test_docs_pages_are_served_locally(db, page):
    response = APIClient().get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar" in html
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


# --- The shared error shape, outside any single endpoint ------------------


def assert_error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_unknown_api_url_is_a_json_404(db):
    assert_error_shape(APIClient().get("/api/v1/nothing-here/"), 404, "not_found")
    assert_error_shape(APIClient().post("/api/v2/movies/"), 404, "not_found")
    error = assert_error_shape(APIClient().get("/api/v1/movies"), 404, "not_found")
    assert "end with a slash" in error["message"]


def test_wrong_method_is_a_json_405_with_allow(user):
    from tests.test_api_recommendations import token_client

    response = token_client(user).patch("/api/v1/me/recommendations/")
    assert_error_shape(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_unhandled_exception_is_a_json_500_without_traceback(db, monkeypatch, settings):
    settings.DEBUG = False

    def explode(_filters):
        raise RuntimeError("secret internals /srv/app/db.py line 42")

    monkeypatch.setattr("catalog.selectors.movie_list", explode)
    response = APIClient().get("/api/v1/movies/")
    error = assert_error_shape(response, 500, "server_error")
    text = response.content.decode()
    assert "Traceback" not in text and "secret internals" not in text and "RuntimeError" not in text
    assert error["fields"] == {}


def test_throttled_requests_get_a_json_429(db, monkeypatch):
    from django.core.cache import caches
    from rest_framework.throttling import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "2/min"})
    caches["throttle"].clear()
    client = APIClient()
    assert [client.get("/api/v1/health/").status_code for _ in range(2)] == [200, 200]
    response = client.get("/api/v1/health/")
    error = assert_error_shape(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0 and "throttled" in error["message"]


def test_django_exceptions_are_mapped_to_the_shape():
    from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, ValidationError

    from movierec.api_errors import exception_handler

    too_big = exception_handler(RequestDataTooBig("big"), {})
    assert too_big.status_code == 413 and too_big.data["error"]["code"] == "payload_too_large"
    invalid = exception_handler(ValidationError({"rating": ["Not a half step."]}), {})
    assert invalid.status_code == 400
    assert invalid.data["error"] == {"code": "invalid", "message": "rating: Not a half step.", "fields": {"rating": ["Not a half step."]}}
    odd = exception_handler(SuspiciousOperation("weird header"), {})
    assert odd.status_code == 400 and "weird" not in odd.data["error"]["message"]


def test_nested_errors_are_flattened_to_dotted_paths():
    from movierec.api_errors import flatten_errors

    nested = {
        "ratings": [{}, {"rating": ["bad"]}, {"movie": ["unknown"], "rating": ["bad too"]}],
        "k": ["too big"],
        "non_field_errors": ["whole thing"],
        "items": {"3": {"non_field_errors": ["item three"]}},
    }
    assert flatten_errors(nested) == {
        "ratings.1.rating": ["bad"],
        "ratings.2.movie": ["unknown"],
        "ratings.2.rating": ["bad too"],
        "k": ["too big"],
        "non_field_errors": ["whole thing"],
        "items.3": ["item three"],
    }
    assert flatten_errors(["only", "messages"]) == {"non_field_errors": ["only", "messages"]}
