"""The hand-built JSON of hot endpoints equals what the documented serializers render."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from catalog import payloads, selectors
from catalog.serializers import RatingSerializer, ScoredMovieSerializer
from catalog.services import rating_upsert
from recommendations.engine import Rec
from tests.factories import GenreFactory, MovieFactory, UserFactory
from tests.test_api_recommendations import random_model


def as_json(data: object) -> object:
    return json.loads(json.dumps(data))


@pytest.mark.django_db
def test_scored_movie_matches_serializer() -> None:
    drama, crime = GenreFactory(name="Drama"), GenreFactory(name="Crime")
    movie = MovieFactory(title='Heat <script>"', year=None, genres=[drama, crime])
    recs = [
        Rec(movie.pk, 0.25, "Because you rated X 4★", 3, [7, 8], movie),
        Rec(movie.pk, float("nan"), "Popular on this site", None, [], movie),
    ]
    assert as_json(payloads.scored_movies(recs)) == as_json(ScoredMovieSerializer(recs, many=True).data)


@pytest.mark.django_db
def test_rating_matches_serializer() -> None:
    movie = MovieFactory(genres=[GenreFactory(name="Western"), GenreFactory(name="Comedy")])
    rating, _ = rating_upsert(user=UserFactory(), movie=movie, value=3.5)
    built = payloads.rating(rating, movie, selectors.movie_genres(movie.pk))
    assert as_json(built) == as_json(RatingSerializer(rating).data)


@pytest.mark.django_db
def test_endpoints_answer_in_serializer_shape() -> None:
    genre = GenreFactory(name="Animation")
    movies = [MovieFactory(genres=[genre]) for _ in range(6)]
    random_model()
    user = UserFactory()
    client = APIClient()
    client.force_authenticate(user)
    posted = client.post("/api/v1/me/ratings/", {"movie": movies[0].pk, "rating": 4.5}, format="json")
    assert posted.status_code == 201
    rating = user.ratings.get()
    assert posted.json() == as_json(RatingSerializer(rating).data)
    recs = client.get("/api/v1/me/recommendations/?k=3").json()["results"]
    assert len(recs) == 3 and movies[0].pk not in {r["movie"]["id"] for r in recs}
    assert all(r["movie"]["genres"] == [{"name": "Animation", "slug": "animation"}] for r in recs)
