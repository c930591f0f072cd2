"""Catalogue API: films, similar films, and the signed-in user's ratings and lists.

Views are thin: they validate input with serializers, then call catalog.selectors
(reads), catalog.services (writes) and recommendations.selectors (similar films).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, QuerySet
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
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
    GenreCountSerializer,
    MovieDetailSerializer,
    MovieIdField,
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
from movierec.api_errors import ErrorSerializer, JsonApiMixin, error_body, error_responses

MAX_PAGE = 2**31 - 1
COUNTERS = ["rating_count", "rating_sum"]

MOVIE_EXAMPLE = {
    "id": 42,
    "title": "Heat",
    "year": 1995,
    "genres": [{"name": "Crime", "slug": "crime"}, {"name": "Thriller", "slug": "thriller"}],
    "rating_avg": 4.1,
    "rating_count": 87,
    "poster_url": "",
}
RATING_EXAMPLE = {
    "movie": MOVIE_EXAMPLE,
    "rating": 4.5,
    "created_at": "2025-05-01T20:14:03Z",
    "updated_at": "2025-05-02T08:00:00Z",
}


class PrivateCacheMixin:
    # Answers depend on who asks (my_rating, the /me/ lists): every one varies on the credentials, so a
    # shared cache never serves one caller's answer to another, and a signed-in caller's is private.
    # A comment, not a docstring: views would inherit it as their OpenAPI description.

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        patch_vary_headers(response, ("Authorization", "Cookie"))
        try:
            signed_in = request.user.is_authenticated
        except APIException:  # bad credentials: already answered with a 401
            signed_in = False
        if signed_in:
            patch_cache_control(response, private=True)
        return response


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


LOCATION_HEADER = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    OpenApiParameter.HEADER,
    response=[201],
    description="The URL of the created resource.",
)


def write_errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses of a /me/ write: a session-cookie caller without the CSRF token gets a 403."""
    csrf = OpenApiResponse(
        ErrorSerializer,
        description=(
            "Signed in with the session cookie, but the CSRF token is missing or wrong: send the `csrftoken` "
            "cookie's value in an `X-CSRFToken` header. Token clients never get this."
        ),
        examples=[
            OpenApiExample(
                "error 403", value=error_body("permission_denied", "CSRF Failed: CSRF token missing."), status_codes=["403"]
            )
        ],
    )
    return dict(sorted({**error_responses(*codes), 403: csrf}.items()))


def saved(body: Any, created: bool, request: Request, url_name: str, movie: Movie) -> Response:
    """200 for an update; 201 with a Location header at the new resource (one film's entry) for a creation."""
    if not created:
        return Response(body)
    location = request.build_absolute_uri(reverse(f"v1:{url_name}", kwargs={"movie_id": movie.pk}))
    return Response(body, status=status.HTTP_201_CREATED, headers={"Location": location})


# --- Films -----------------------------------------------------------------


def genre_slug(value: str) -> str:
    """The slug of the genre a `genre` parameter names ("" for none); an unknown genre is a 400, not an empty page."""
    if not value:
        return ""
    genre = selectors.genre_named(value)
    if genre is None:
        raise ValidationError({"genre": [f"Unknown genre \"{value}\". GET /api/v1/genres/ lists the genres."]})
    return genre.slug


@extend_schema(
    tags=["movies"],
    summary="List the genres",
    description=(
        "Every genre of the catalogue with its slug (the value of `genre` in `/api/v1/movies/`) and how many "
        "films it has, by name. Not paginated: the list is short. Anyone may read it."
    ),
    responses={200: GenreCountSerializer(many=True), **error_responses()},
    examples=[
        OpenApiExample(
            "Genres",
            response_only=True,
            value=[
                {"name": "Crime", "slug": "crime", "film_count": 1199},
                {"name": "Sci-Fi", "slug": "sci-fi", "film_count": 980},
            ],
        )
    ],
)
class GenreListView(PrivateCacheMixin, JsonApiMixin, APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="genres_list")
    def get(self, request: Request) -> Response:
        counts = selectors.genre_film_counts()
        genres = [{"name": g.name, "slug": g.slug, "film_count": counts.get(g.pk, 0)} for g in selectors.genre_list()]
        return Response(GenreCountSerializer(genres, many=True).data)


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
                "results": [MOVIE_EXAMPLE],
            },
        )
    ],
)
class MovieListView(PrivateCacheMixin, JsonApiMixin, generics.ListAPIView):
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
            genre=genre_slug(query.get("genre", "")),
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
class MovieDetailView(PrivateCacheMixin, JsonApiMixin, APIView):
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
class MovieSimilarView(PrivateCacheMixin, JsonApiMixin, APIView):
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


class MyRatingsView(PrivateCacheMixin, JsonApiMixin, generics.ListAPIView):
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
        description=(
            "Upsert by film: 201 when the rating is new (its `Location` is `/api/v1/me/ratings/{movie_id}/`), "
            "200 when it replaced your earlier rating."
        ),
        parameters=[LOCATION_HEADER],
        request=RatingWriteSerializer,
        responses={**RATING_RESPONSES, **write_errors(400, 404, 413, 415)},
        examples=[
            OpenApiExample("Rate Heat 4.5", request_only=True, value={"movie": 42, "rating": 4.5}),
            OpenApiExample("The saved rating", response_only=True, value=RATING_EXAMPLE, status_codes=["200", "201"]),
        ],
    )
    def post(self, request: Request) -> Response:
        data = validated(RatingWriteSerializer, request.data)
        movie = movie_or_404(data["movie"], selectors.movies_for_write())
        rating, created = services.rating_upsert(user=request.user, movie=movie, value=data["rating"])
        movie.refresh_from_db(fields=COUNTERS)  # the write moved them in the database, not on this instance
        body = payloads.rating(rating, movie, selectors.movie_genres(movie.pk))
        return saved(body, created, request, "my-rating", movie)


class MyRatingDetailView(PrivateCacheMixin, JsonApiMixin, APIView):
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
        description="201 with a `Location` header when the rating is new, 200 when it replaced your earlier rating.",
        parameters=[movie_id_parameter(), LOCATION_HEADER],
        request=RatingValueSerializer,
        responses={**RATING_RESPONSES, **write_errors(400, 404, 413, 415)},
        examples=[
            OpenApiExample("Rate it 3.5", request_only=True, value={"rating": 3.5}),
            OpenApiExample("The saved rating", response_only=True, value=RATING_EXAMPLE, status_codes=["200", "201"]),
        ],
    )
    def put(self, request: Request, movie_id: int) -> Response:
        movie = movie_or_404(movie_id, selectors.movies_for_write())
        value = validated(RatingValueSerializer, request.data)["rating"]
        rating, created = services.rating_upsert(user=request.user, movie=movie, value=value)
        movie.refresh_from_db(fields=COUNTERS)  # the write moved them in the database, not on this instance
        body = payloads.rating(rating, movie, selectors.movie_genres(movie.pk))
        return saved(body, created, request, "my-rating", movie)

    @extend_schema(
        tags=["me"],
        operation_id="my_rating_delete",
        summary="Delete your rating of a film",
        parameters=[movie_id_parameter()],
        responses={204: OpenApiResponse(description="Deleted."), **write_errors(404)},
    )
    def delete(self, request: Request, movie_id: int) -> Response:
        movie = movie_or_404(movie_id)
        if not services.rating_delete(user=request.user, movie=movie):
            raise NotFound(f"You have not rated film {movie_id}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


def _bulk_item_errors(errors: dict[str, Any]) -> dict[int, dict[str, list[str]]]:
    """Per-item errors of an invalid bulk body, by index; errors of the body as a whole are raised as they are."""
    per_item = errors.get("ratings")
    if isinstance(per_item, list):  # DRF before 3.16: one entry per item, {} for a good one
        per_item = dict(enumerate(per_item))
    if set(errors) != {"ratings"} or not isinstance(per_item, dict) or not all(isinstance(e, dict) for e in per_item.values()):
        raise ValidationError(errors)
    return {int(index): dict(item) for index, item in per_item.items() if item}


def _bulk_valid_ids(items: list[Any], errors: dict[int, dict[str, list[str]]]) -> dict[int, Any]:
    """The well-formed film ids of an invalid bulk body, by index, so that unknown films are reported too."""
    field = MovieIdField()
    ids: dict[int, Any] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "movie" in errors.get(index, {}):
            continue
        try:
            ids[index] = field.run_validation(item.get("movie"))
        except serializers.ValidationError:
            continue
    return ids


@extend_schema(
    tags=["me"],
    summary="Rate up to 500 films at once (all or nothing)",
    description=(
        "Validates every item first. If any item is invalid, nothing is written and the answer lists every "
        "bad item under `fields` as `ratings.<index>.<field>`: 400 when any value is bad (unknown film ids are "
        "listed in the same answer), 404 when the only problem is unknown film ids. "
        "A film listed twice takes its last value."
    ),
    request=BulkRatingsSerializer,
    responses={200: BulkResultSerializer, **write_errors(400, 404, 413, 415)},
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
class MyRatingsBulkView(PrivateCacheMixin, JsonApiMixin, APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="my_ratings_bulk_upsert")
    def post(self, request: Request) -> Response:
        serializer = BulkRatingsSerializer(data=request.data)
        if serializer.is_valid():
            items = serializer.validated_data["ratings"]
            errors: dict[int, dict[str, list[str]]] = {}
            ids = {index: item["movie"] for index, item in enumerate(items)}
        else:
            items, errors = [], _bulk_item_errors(serializer.errors)
            ids = _bulk_valid_ids(request.data["ratings"], errors)
        movies = Movie.objects.in_bulk(set(ids.values()))
        unknown = {index: movie_id for index, movie_id in ids.items() if movie_id not in movies}
        if errors:  # bad values: one 400 that names the unknown films too, so one answer shows every bad item
            for index, movie_id in unknown.items():
                errors.setdefault(index, {})["movie"] = [f"No film with id {movie_id}."]
            raise ValidationError({"ratings": {str(index): errors[index] for index in sorted(errors)}})
        if unknown:
            missing = ", ".join(map(str, sorted(set(unknown.values()))))
            per_item = {str(index): {"movie": [f"No film with id {movie_id}."]} for index, movie_id in unknown.items()}
            raise NotFound({"detail": f"Unknown film id(s): {missing}.", "ratings": per_item})
        before = selectors.user_rating_map(request.user, movies)
        try:
            services.ratings_bulk_upsert(
                user=request.user, items=[(movies[item["movie"]], item["rating"]) for item in items]
            )
        except services.BulkValidationError as exc:
            raise ValidationError({"ratings": {str(e.index): e.errors for e in exc.errors}}) from exc
        distinct = set(ids.values())
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


class _FilmListView(PrivateCacheMixin, JsonApiMixin, generics.ListAPIView):
    """GET the list, POST {"movie": id} to add a film (idempotent)."""

    pagination_class = ApiPagination
    permission_classes = [IsAuthenticated]
    model: type[Model]
    item_url_name: str  # the route of one film's entry, for the Location of a 201

    def get_queryset(self) -> QuerySet:
        return _user_items(self.model, self.request.user)

    def add(self, user: Any, movie: Movie) -> tuple[Model, bool]:
        raise NotImplementedError

    def post(self, request: Request) -> Response:
        movie = movie_or_404(validated(MovieRefSerializer, request.data)["movie"])
        item, created = self.add(request.user, movie)
        # As ratings: 201 when the film was added, 200 when it was already on the list.
        return saved(self.get_serializer(item).data, created, request, self.item_url_name, movie)


class _FilmListItemView(PrivateCacheMixin, JsonApiMixin, APIView):
    """One film's entry on a list: GET it (where a 201's Location points), DELETE it."""

    permission_classes = [IsAuthenticated]
    what = ""
    model: type[Model]
    serializer_class: type[serializers.Serializer]

    def remove(self, user: Any, movie: Movie) -> bool:
        raise NotImplementedError

    def get(self, request: Request, movie_id: int) -> Response:
        movie = movie_or_404(movie_id)
        item = _user_items(self.model, request.user).filter(movie=movie).first()
        if item is None:
            raise NotFound(f"Film {movie_id} is not on your {self.what}.")
        return Response(self.serializer_class(item).data)

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
        "parameters": [LOCATION_HEADER],
        "request": MovieRefSerializer,
        "responses": {201: serializer, 200: OpenApiResponse(serializer, description="Already on the list."), **write_errors(400, 404, 413, 415)},
        "examples": [
            OpenApiExample("Add Heat", request_only=True, value={"movie": 42}),
            OpenApiExample("Added", response_only=True, value=LIST_ITEM_EXAMPLE, status_codes=["201"]),
        ],
    }
    return get, post


def _item_docs(what: str, name: str, serializer: type[serializers.Serializer]) -> dict[str, Any]:
    """OpenAPI docs of GET on one film's entry of a list (where a 201's Location points)."""
    return {
        "tags": ["me"],
        "operation_id": f"my_{name}_item",
        "summary": f"One film's entry on your {what}",
        "parameters": [movie_id_parameter()],
        "examples": [OpenApiExample("The entry", response_only=True, value=LIST_ITEM_EXAMPLE)],
        "responses": {200: serializer, **error_responses(404)},
    }


_WATCH_GET, _WATCH_POST = _list_docs("watchlist", "watchlist", WatchlistItemSerializer)
_HIDDEN_GET, _HIDDEN_POST = _list_docs("not-interested list", "not_interested", NotInterestedSerializer)
_WATCH_ITEM = _item_docs("watchlist", "watchlist", WatchlistItemSerializer)
_HIDDEN_ITEM = _item_docs("not-interested list", "not_interested", NotInterestedSerializer)


class MyWatchlistView(_FilmListView):
    serializer_class = WatchlistItemSerializer
    model = WatchlistItem
    item_url_name = "my-watchlist-item"
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
    item_url_name = "my-not-interested-item"
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
    model = WatchlistItem
    serializer_class = WatchlistItemSerializer

    @extend_schema(**_WATCH_ITEM)
    def get(self, request: Request, movie_id: int) -> Response:
        return super().get(request, movie_id)

    @extend_schema(
        tags=["me"],
        operation_id="my_watchlist_remove",
        summary="Remove a film from your watchlist",
        parameters=[movie_id_parameter()],
        responses={204: OpenApiResponse(description="Removed."), **write_errors(404)},
    )
    def delete(self, request: Request, movie_id: int) -> Response:
        return super().delete(request, movie_id)

    def remove(self, user: Any, movie: Movie) -> bool:
        return services.watchlist_remove(user=user, movie=movie)


class MyNotInterestedItemView(_FilmListItemView):
    what = "not-interested list"
    model = NotInterested
    serializer_class = NotInterestedSerializer

    @extend_schema(**_HIDDEN_ITEM)
    def get(self, request: Request, movie_id: int) -> Response:
        return super().get(request, movie_id)

    @extend_schema(
        tags=["me"],
        operation_id="my_not_interested_remove",
        summary="Take a film off your not-interested list",
        parameters=[movie_id_parameter()],
        responses={204: OpenApiResponse(description="Removed."), **write_errors(404)},
    )
    def delete(self, request: Request, movie_id: int) -> Response:
        return super().delete(request, movie_id)

    def remove(self, user: Any, movie: Movie) -> bool:
        return services.not_interested_remove(user=user, movie=movie)
