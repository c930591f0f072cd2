"""Errors Django raises before an API view runs (a bad Host header, a crash in middleware) keep the API's JSON shape."""

from django.test import RequestFactory, override_settings
from django.urls import get_resolver


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_bad_host_header_on_the_api_is_json(client, db):
    response = client.get("/api/v1/health/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "bad_request", "message": "The request could not be read.", "fields": {}}}


@override_settings(ALLOWED_HOSTS=["testserver"])
def test_bad_host_header_on_the_site_stays_html(client, db):
    response = client.get("/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_server_error_outside_a_view_is_json_on_the_api_only():
    server_error = get_resolver().resolve_error_handler(500)  # as Django finds it
    api = server_error(RequestFactory().get("/api/v1/movies/"))
    assert api.status_code == 500 and api["Content-Type"] == "application/json"
    site = server_error(RequestFactory().get("/films/"))
    assert site.status_code == 500 and site["Content-Type"].startswith("text/html")
