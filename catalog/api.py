"""Catalogue API: films, similar films, and the signed-in user's ratings and lists.

Views are thin: they validate input with serializers, then call catalog.selectors
(reads), catalog.services (writes) and recommendations.selectors (similar films).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog import payloads, selectors, services
from catalog.models import Movie, NotInterested, Rating, WatchlistItem
from catalog.serializers import (
    ID_PARAMETER_TYPE,
    MAX_ID,
    BulkRatingsSerializer,
    BulkResultSerializer,
    MovieDetailSerializer,
    MovieListSerializer,
    MovieQuerySerializer,
    MovieRefSerializer,
    NotInterestedSerializer,
    RatingSerializer,
    RatingValueSerializer,
    RatingWriteSerializer,
    SimilarListSerializer,
    SimilarQuerySerializer,
    WatchlistItemSerializer,
)
from movierec.api_errors import JsonApiMixin, error_responses

MAX_PAGE = 2**31 - 1

MOVIE_EXAMPLE = {
    "id": 42,
    "title": "Heat",
    "year": 1995,
    "genres": [{"name": "Crime", "slug": "crime"}, {"name": "Thriller", "slug": "thriller"}],
}
RATING_EXAMPLE = {
    "movie": MOVIE_EXAMPLE,
    "rating": 4.5,
    "created_at": "2025-05-01T20:14:03Z",
    "updated_at": "2025-05-02T08:00:00Z",
}


def movie_id_parameter(name: str = "movie_id") -> OpenApiParameter:
    return OpenApiParameter(
        name, ID_PARAMETER_TYPE, OpenApiParameter.PATH, description="A film id; an unknown id gives 404."
    )


def _int_param(raw: str, name: str, low: int, high: int) -> int:
    try:
        if not raw.isascii():  # int() would also take other scripts' digits ("٣")
            raise ValueError(raw)
        value = int(raw)
    except (AttributeError, TypeError, ValueError):
        raise ValidationError({name: ["A valid integer is required."]}) from None
    if not low <= value <= high:
        raise ValidationError({name: [f"Must be between {low} and {high}."]})
    return value


class ApiPagination(PageNumberPagination):
    """Page-number pagination with strictly validated `page` and `page_size` (≤ 100)."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        return _int_param(raw, self.page_size_query_param, 1, self.max_page_size)

    def get_page_number(self, request: Request, paginator: Any) -> int:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        return _int_param(raw, self.page_query_param, 1, MAX_PAGE)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        bounds = {self.page_query_param: MAX_PAGE, self.page_size_query_param: self.max_page_size}
        for param in params:
            if param["name"] in bounds:
                param["schema"] = {"type": "integer", "minimum": 1, "maximum": bounds[param["name"]]}
        return params


def id_in_range(value: int | str) -> bool:
    """An integer id the database can hold (SQLite overflows past 2**63 - 1); ObjectId strings pass."""
    return not isinstance(value, int) or 1 <= value <= MAX_ID


def movie_or_404(movie_id: int | str, queryset: QuerySet[Movie] | None = None) -> Movie:
    """The film with this id, or a 404 in the shared error shape."""
    movie = None
    if id_in_range(movie_id):
        movie = (queryset if queryset is not None else Movie.objects.all()).filter(pk=movie_id).first()
    if movie is None:
        raise NotFound(f"No film with id {movie_id}.")
    return movie


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs: Any) -> dict[str, Any]:
    """Validated data, or a 400 with a message per bad field."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def validated_query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Query parameters, validated from a plain dict so that `?k=` is a bad value, not a missing one."""
    return validated(serializer_class, request.query_params.dict())


# --- Films -----------------------------------------------------------------


@extend_schema(
    tags=["movies"],
    summary="List and search films",
    description=(
        "Films of the catalogue, filtered by text in the title (`q`, at most 300 characters), genre slug and "
        "year range, ordered by `ordering`, 20 per page by default (`page_size` ≤ 100). Anyone may read it."
    ),
    parameters=[MovieQuerySerializer],
    responses={200: MovieListSerializer(many=True), **error_responses(400, 404)},
    examples=[
        OpenApiExample(
            "A page of films",
            response_only=True,
            value={
                "count": 1,
                "next": None,
                "previous": None,
                "results": [{**MOVIE_EXAMPLE, "rating_avg": 4.1, "rating_count": 87, "poster_url": ""}],
            },
        )
    ],
)
class MovieListView(JsonApiMixin, generics.ListAPIView):
    serializer_class = MovieListSerializer
    pagination_class = ApiPagination
    permission_classes = [AllowAny]
    queryset = Movie.objects.none()  # for the schema; get_queryset builds the real one

    @extend_schema(operation_id="movies_list")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Movie]:
        query = validated_query(MovieQuerySerializer, self.request)
        filters = selectors.MovieFilters(
            q=query.get("q", ""),
            genre=query.get("genre", ""),
            year_min=query.get("year_min"),
            year_max=query.get("year_max"),
            sort=query["ordering"],
        )
        return selectors.movie_list(filters)


@extend_schema(
    tags=["movies"],
    summary="One film, with its average rating and count",
    parameters=[movie_id_parameter("id")],
    responses={200: MovieDetailSerializer, **error_responses(404)},
    examples=[
        OpenApiExample(
            "Heat",
            response_only=True,
            value={
                **MOVIE_EXAMPLE,
                "rating_avg": 4.1,
                "rating_count": 87,
                "poster_url": "",
                "decade": 1990,
                "overview": "A group of professional bank robbers start to feel the heat from police.",
                "tagline": "A Los Angeles crime saga",
                "runtime": 170,
                "tags": ["heist", "los angeles"],
                "directors": ["Michael Mann"],
                "cast": ["Al Pacino", "Robert De Niro"],
                "imdb_id": "tt0113277",
                "tmdb_id": 949,
                "movielens_id": 6,
                "my_rating": 4.5,
            },
        )
    ],
)
class MovieDetailView(JsonApiMixin, APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="movies_retrieve")
    def get(self, request: Request, id: int) -> Response:
        movie = movie_or_404(id, selectors.movie_base_queryset())
        rating = selectors.user_rating_for(request.user, movie)
        return Response(MovieDetailSerializer(movie, context={"my_rating": rating}).data)


@extend_schema(
    tags=["movies"],
    summary="Films similar to this one",
    description=(
        "Nearest films in the active model's embedding space, each with a score and an explanation. "
        "Empty (still 200) when no model is active yet. `k` ≤ 100."
    ),
    parameters=[movie_id_parameter("id"), SimilarQuerySerializer],
    responses={200: SimilarListSerializer, **error_responses(400, 404)},
    examples=[
        OpenApiExample(
            "Similar to Heat",
            response_only=True,
            value={
                "model_version": 3,
                "results": [
                    {
                        "movie": {**MOVIE_EXAMPLE, "id": 7, "title": "Ronin", "year": 1998},
                        "score": 0.83,
                        "why": "Similar to Heat",
                        "because": [42],
                        "model_version": 3,
                    }
                ],
            },
        )
    ],
)
class MovieSimilarView(JsonApiMixin, APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="movies_similar")
    def get(self, request: Request, id: int) -> Response:
        movie = movie_or_404(id)
        k = validated_query(SimilarQuerySerializer, request)["k"]
        from recommendations import selectors as rec_selectors

        recs = rec_selectors.similar_movies(movie, k=k)
        return Response(
            {
                "model_version": recs[0].version_id if recs else None,
                "results": payloads.scored_movies(recs),
            }
        )


# --- Ratings ---------------------------------------------------------------

RATING_RESPONSES = {
    200: OpenApiResponse(RatingSerializer, description="An existing rating was updated."),
    201: OpenApiResponse(RatingSerializer, description="A new rating was created."),
}


class MyRatingsView(JsonApiMixin, generics.ListAPIView):
    serializer_class = RatingSerializer
    pagination_class = ApiPagination
    permission_classes = [IsAuthenticated]
    queryset = Rating.objects.none()

    def get_queryset(self) -> QuerySet[Rating]:
        return selectors.user_ratings(self.request.user).with_genres("movie")  # M2M prefetch is refused on MongoDB

    @extend_schema(
        tags=["me"],
        operation_id="my_ratings_list",
        summary="Your ratings, newest first",
        responses={200: RatingSerializer(many=True), **error_responses(400, 404)},
        examples=[
            OpenApiExample(
                "A page of ratings",
                response_only=True,
                value={"count": 1, "next": None, "previous": None, "results": [RATING_EXAMPLE]},
            )
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["me"],
        operation_id="my_ratings_upsert",
        summary="Rate a film (create or update)",
        description="Upsert by film: 201 when the rating is new, 200 when it replaced your earlier rating.",
        request=RatingWriteSerializer,
        responses={**RATING_RESPONSES, **error_responses(400, 404, 413, 415)},
        examples=[
            OpenApiExample("Rate Heat 4.5", request_only=True, value={"movie": 42, "rating": 4.5}),
            OpenApiExample("The saved rating", response_only=True, value=RATING_EXAMPLE, status_codes=["200", "201"]),
        ],
    )
    def post(self, request: Request) -> Response:
        data = validated(RatingWriteSerializer, request.data)
        movie = movie_or_404(data["movie"], selectors.movies_for_write())
        rating, created = services.rating_upsert(user=request.user, movie=movie, value=data["rating"])
        body = payloads.rating(rating, movie, selectors.movie_genres(movie.pk))
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class MyRatingDetailView(JsonApiMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["me"],
        operation_id="my_rating_retrieve",
        summary="Your rating of one film",
        parameters=[movie_id_parameter()],
        responses={200: RatingSerializer, **error_responses(404)},
        examples=[OpenApiExample("A rating", response_only=True, value=RATING_EXAMPLE)],
    )
    def get(self, request: Request, movie_id: int) -> Response:
        movie = movie_or_404(movie_id)
        rating = selectors.user_rating_for(request.user, movie)
        if rating is None:
            raise NotFound(f"You have not rated film {movie_id}.")
        return Response(RatingSerializer(rating).data)

    @extend_schema(
        tags=["me"],
        operation_id="my_rating_put",
        summary="Rate one film (create or update)",
        parameters=[movie_id_parameter()],
        request=RatingValueSerializer,
        responses={**RATING_RESPONSES, **error_responses(400, 404, 413, 415)},
        examples=[
            OpenApiExample("Rate it 3.5", request_only=True, value={"rating": 3.5}),
            OpenApiExample("The saved rating", response_only=True, value=RATING_EXAMPLE, status_codes=["200", "201"]),
        ],
    )
    def put(self, request: Request, movie_id: int) -> Response:
        movie = movie_or_404(movie_id, selectors.movies_for_write())
        value = validated(RatingValueSerializer, request.data)["rating"]
        rating, created = services.rating_upsert(user=request.user, movie=movie, value=value)
        body = payloads.rating(rating, movie, selectors.movie_genres(movie.pk))
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        tags=["me"],
        operation_id="my_rating_delete",
        summary="Delete your rating of a film",
        parameters=[movie_id_parameter()],
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(404)},
    )
    def delete(self, request: Request, movie_id: int) -> Response:
        movie = movie_or_404(movie_id)
        if not services.rating_delete(user=request.user, movie=movie):
            raise NotFound(f"You have not rated film {movie_id}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(
    tags=["me"],
    summary="Rate up to 500 films at once (all or nothing)",
    description=(
        "Validates every item first. If any item is invalid, nothing is written and the answer lists every "
        "bad item under `fields` as `ratings.<index>.<field>` (400 for bad values, 404 for unknown film ids). "
        "A film listed twice takes its last value."
    ),
    request=BulkRatingsSerializer,
    responses={200: BulkResultSerializer, **error_responses(400, 404, 413, 415)},
    examples=[
        OpenApiExample(
            "Three ratings",
            request_only=True,
            value={"ratings": [{"movie": 42, "rating": 4.5}, {"movie": 7, "rating": 3.0}, {"movie": 9, "rating": 5.0}]},
        ),
        OpenApiExample("Written", response_only=True, value={"count": 3, "created": 2, "updated": 1}),
        OpenApiExample(
            "One bad item: nothing written",
            response_only=True,
            status_codes=["400"],
            value={
                "error": {
                    "code": "invalid",
                    "message": "ratings.1.rating: A rating must be between 0.5 and 5.0 in steps of 0.5; got 7.0.",
                    "fields": {"ratings.1.rating": ["A rating must be between 0.5 and 5.0 in steps of 0.5; got 7.0."]},
                }
            },
        ),
    ],
)
class MyRatingsBulkView(JsonApiMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="my_ratings_bulk_upsert")
    def post(self, request: Request) -> Response:
        items = validated(BulkRatingsSerializer, request.data)["ratings"]
        ids = [item["movie"] for item in items]
        movies = Movie.objects.in_bulk(set(ids))
        unknown = {
            str(index): {"movie": [f"No film with id {movie_id}."]}
            for index, movie_id in enumerate(ids)
            if movie_id not in movies
        }
        if unknown:
            missing = sorted({ids[int(i)] for i in unknown})
            raise NotFound({"detail": f"Unknown film id(s): {', '.join(map(str, missing))}.", "ratings": unknown})
        before = selectors.user_rating_map(request.user, movies)
        try:
            services.ratings_bulk_upsert(
                user=request.user, items=[(movies[item["movie"]], item["rating"]) for item in items]
            )
        except services.BulkValidationError as exc:
            raise ValidationError({"ratings": {str(e.index): e.errors for e in exc.errors}}) from exc
        distinct = set(ids)
        updated = len(distinct & set(before))
        return Response({"count": len(distinct), "created": len(distinct) - updated, "updated": updated})


# --- Watchlist and not interested -----------------------------------------


def _user_items(model: type[Model], user: Any) -> QuerySet:
    return (
        model.objects.filter(user=user)
        .select_related("movie")
        .with_genres("movie")  # M2M prefetch is refused on MongoDB
        .order_by("-created_at", "-pk")
    )


LIST_ITEM_EXAMPLE = {"movie": MOVIE_EXAMPLE, "added_at": "2025-05-01T20:14:03Z"}


class _FilmListView(JsonApiMixin, generics.ListAPIView):
    """GET the list, POST {"movie": id} to add a film (idempotent)."""

    pagination_class = ApiPagination
    permission_classes = [IsAuthenticated]
    model: type[Model]

    def get_queryset(self) -> QuerySet:
        return _user_items(self.model, self.request.user)

    def add(self, user: Any, movie: Movie) -> tuple[Model, bool]:
        raise NotImplementedError

    def post(self, request: Request) -> Response:
        movie = movie_or_404(validated(MovieRefSerializer, request.data)["movie"])
        item, created = self.add(request.user, movie)
        # As ratings: 201 when the film was added, 200 when it was already on the list.
        return Response(self.get_serializer(item).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class _FilmListItemView(JsonApiMixin, APIView):
    permission_classes = [IsAuthenticated]
    what = ""

    def remove(self, user: Any, movie: Movie) -> bool:
        raise NotImplementedError

    def delete(self, request: Request, movie_id: int) -> Response:
        movie = movie_or_404(movie_id)
        if not self.remove(request.user, movie):
            raise NotFound(f"Film {movie_id} is not on your {self.what}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


def _list_docs(what: str, name: str, serializer: type[serializers.Serializer]) -> tuple[dict[str, Any], dict[str, Any]]:
    get = {
        "operation_id": f"my_{name}_list",
        "tags": ["me"],
        "summary": f"Your {what}, newest first",
        "description": f"Your {what}, newest first, a page at a time.",
        "responses": {200: serializer(many=True), **error_responses(400, 404)},
        "examples": [
            OpenApiExample(
                f"A page of your {what}",
                response_only=True,
                value={"count": 1, "next": None, "previous": None, "results": [LIST_ITEM_EXAMPLE]},
            )
        ],
    }
    post = {
        "operation_id": f"my_{name}_add",
        "tags": ["me"],
        "summary": f"Add a film to your {what}",
        "request": MovieRefSerializer,
        "responses": {201: serializer, 200: OpenApiResponse(serializer, description="Already on the list."), **error_responses(400, 404, 413, 415)},
        "examples": [
            OpenApiExample("Add Heat", request_only=True, value={"movie": 42}),
            OpenApiExample("Added", response_only=True, value=LIST_ITEM_EXAMPLE, status_codes=["201"]),
        ],
    }
    return get, post


_WATCH_GET, _WATCH_POST = _list_docs("watchlist", "watchlist", WatchlistItemSerializer)
_HIDDEN_GET, _HIDDEN_POST = _list_docs("not-interested list", "not_interested", NotInterestedSerializer)


class MyWatchlistView(_FilmListView):
    serializer_class = WatchlistItemSerializer
    model = WatchlistItem
    queryset = WatchlistItem.objects.none()

    @extend_schema(**_WATCH_GET)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(**{**_WATCH_POST, "description": "Adds the film to your watchlist and takes it off your not-interested list."})
    def post(self, request: Request) -> Response:
        return super().post(request)

    def add(self, user: Any, movie: Movie) -> tuple[Model, bool]:
        return services.watchlist_add(user=user, movie=movie)


class MyNotInterestedView(_FilmListView):
    serializer_class = NotInterestedSerializer
    model = NotInterested
    queryset = NotInterested.objects.none()

    @extend_schema(
        **{**_HIDDEN_GET, "description": "Films you asked never to be recommended."}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        **{**_HIDDEN_POST, "description": "Hides the film from recommendations and removes it from your watchlist."}
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def add(self, user: Any, movie: Movie) -> tuple[Model, bool]:
        return services.not_interested_add(user=user, movie=movie)


class MyWatchlistItemView(_FilmListItemView):
    what = "watchlist"

    @extend_schema(
        tags=["me"],
        operation_id="my_watchlist_remove",
        summary="Remove a film from your watchlist",
        parameters=[movie_id_parameter()],
        responses={204: OpenApiResponse(description="Removed."), **error_responses(404)},
    )
    def delete(self, request: Request, movie_id: int) -> Response:
        return super().delete(request, movie_id)

    def remove(self, user: Any, movie: Movie) -> bool:
        return services.watchlist_remove(user=user, movie=movie)


class MyNotInterestedItemView(_FilmListItemView):
    what = "not-interested list"

    @extend_schema(
        tags=["me"],
        operation_id="my_not_interested_remove",
        summary="Take a film off your not-interested list",
        parameters=[movie_id_parameter()],
        responses={204: OpenApiResponse(description="Removed."), **error_responses(404)},
    )
    def delete(self, request: Request, movie_id: int) -> Response:
        return super().delete(request, movie_id)

    def remove(self, user: Any, movie: Movie) -> bool:
        return services.not_interested_remove(user=user, movie=movie)
