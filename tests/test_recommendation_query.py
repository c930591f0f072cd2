"""?k= on /api/v1/me/recommendations/: the direct parse agrees with the serializer, bad values are 400."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from catalog.api import validated_query
from catalog.models import Genre
from recommendations.api import recommendation_query
from recommendations.serializers import RecommendationQuerySerializer


def _outcome(read) -> dict | str:
    try:
        return dict(read())
    except ValidationError:
        return "400"


def parse(query: str) -> dict | str:
    return _outcome(lambda: recommendation_query(Request(APIRequestFactory().get(f"/x/?{query}"))))


def serializer_parse(query: str) -> dict | str:
    return _outcome(lambda: validated_query(RecommendationQuerySerializer, Request(APIRequestFactory().get(f"/x/?{query}"))))


@pytest.mark.parametrize("query", ["", "k=1", "k=20", "k=007", "k=100", "k=5&genre=drama", "decade=1990", "k=3&k=4", "k=%EF%BC%92", "k=20%20"])
def test_same_result_as_the_serializer(db, query: str) -> None:
    Genre.objects.create(name="Drama", slug="drama")  # a genre slug must exist
    assert parse(query) == serializer_parse(query)
    assert (parse(query) == "400") == (query == "k=%EF%BC%92")  # a full-width digit is not a number here


@pytest.mark.parametrize("k", ["0", "101", "-1", "1e3", "", "x", "99999999999999999999"])
def test_bad_k_is_a_400(db, user, k: str) -> None:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get("/api/v1/me/recommendations/", {"k": k})
    assert response.status_code == 400
    assert "k" in response.json()["error"]["fields"]
