"""Hostile input gets a 4xx (or a harmless 200 for searches), never a 5xx, and changes nothing.

Huge bodies, deeply nested JSON, SQL- and script-like strings, invalid UTF-8, NUL bytes and
lone surrogates, against the API's write endpoints and the site's and API's searches.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from catalog.models import Movie, NotInterested, Rating, WatchlistItem
from tests.factories import MovieFactory

SQLISH = "'; DROP TABLE catalog_movie; --"
SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'
DEEP = "[" * 100_000 + "]" * 100_000

# Every body is wrong for every write endpoint: the hostile part sits in (or breaks) "movie".
BODIES: list[tuple[str, bytes]] = [
    ("deep json", f'{{"movie": {DEEP}, "rating": 4}}'.encode()),
    ("deep object", ('{"movie":' * 50_000 + "1" + "}" * 50_000).encode()),
    ("huge body", b'{"movie": 1, "rating": 4, "pad": "' + b"x" * 3_000_000 + b'"}'),
    ("invalid utf-8", b'{"movie": "\xff\xfe\xfa", "rating": 4}'),
    ("lone surrogate", b'{"movie": "\\ud800", "rating": "\\ud800"}'),
    ("nul byte", b'{"movie": "1\\u0000", "rating": 4}'),
    ("sql", f'{{"movie": "{SQLISH}", "rating": 4}}'.encode()),
    ("script", f'{{"movie": "{SCRIPT}", "rating": 4}}'.replace('"x"', "'x'").encode()),
    ("not an object", b'"just a string"'),
    ("huge number", b'{"movie": 1e999999, "rating": 4}'),
    ("big int", b'{"movie": 999999999999999999999999999999, "rating": 4}'),
]

WRITES = [
    ("post", "/api/v1/me/ratings/"),
    ("post", "/api/v1/me/ratings/bulk/"),
    ("post", "/api/v1/me/watchlist/"),
    ("post", "/api/v1/me/not-interested/"),
]


def snapshot() -> tuple:
    return (
        list(Rating.objects.order_by("pk").values_list("user_id", "movie_id", "value")),
        list(WatchlistItem.objects.order_by("pk").values_list("user_id", "movie_id")),
        list(NotInterested.objects.order_by("pk").values_list("user_id", "movie_id")),
        list(Movie.objects.order_by("pk").values_list("pk", "title", "rating_count", "rating_sum")),
    )


@pytest.fixture
def api(db, user) -> APIClient:
    from catalog.services import rating_upsert

    movie = MovieFactory(title="Heat")
    rating_upsert(user=user, movie=movie, value=4.0)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize(("label", "body"), BODIES, ids=[b[0] for b in BODIES])
def test_hostile_bodies_are_4xx_and_change_nothing(api, method, path, label, body) -> None:
    before = snapshot()
    response = getattr(api, method)(path, data=body, content_type="application/json")
    assert 400 <= response.status_code < 500, (label, response.status_code, response.content[:300])
    assert response.json()["error"]["code"]  # the shared error shape, not an HTML page
    assert snapshot() == before


@pytest.mark.parametrize(("label", "body"), BODIES, ids=[b[0] for b in BODIES])
def test_hostile_requests_in_plain_words_are_not_5xx(api, label, body) -> None:
    """/ask/ takes free text, so a script- or SQL-like text is a fair question (200); still no 5xx."""
    before = snapshot()
    body = body.replace(b'"movie"', b'"text"')
    response = api.post("/api/v1/ask/", data=body, content_type="application/json")
    assert response.status_code < 500, (label, response.status_code)
    assert snapshot() == before


@pytest.mark.parametrize("text", [SQLISH, SCRIPT, "\x00", "%", "_", "\\", "a" * 5000, "😀" * 400])
def test_hostile_searches_are_harmless(api, client, text) -> None:
    before = snapshot()
    for response in (
        api.get("/api/v1/movies/", {"q": text}),
        client.get("/search/", {"q": text}),
        client.get("/films/", {"q": text}),
    ):
        assert response.status_code < 500, (text[:20], response.status_code)
        assert SCRIPT not in response.content.decode("utf-8", "replace")  # escaped if echoed back
    assert snapshot() == before


def test_invalid_utf8_in_the_query_string_is_not_a_500(api, client) -> None:
    for path in ("/api/v1/movies/?q=%ff%fe", "/search/?q=%ff%fe%00&x=%ed%a0%80", "/films/?q=%c3%28"):
        response = (api if path.startswith("/api") else client).get(path)
        assert response.status_code < 500, (path, response.status_code)
