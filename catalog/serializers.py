"""Serializers of the catalogue API: films, ratings, lists and their query parameters."""

from __future__ import annotations

import math
import re
from typing import Any

from bson import ObjectId
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import MaxLengthValidator, MinLengthValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import RATING_MAX, RATING_MIN, Movie, NotInterested, Rating, WatchlistItem, validate_rating_value
from catalog.selectors import SORTS
from movierec.mongo import OBJECT_ID_AUTO_FIELD

MAX_QUERY_CHARS = 300
MAX_BULK_ITEMS = 500
MAX_K = 100
MAX_ID = 2**63 - 1
YEAR_MIN, YEAR_MAX = 1800, 2200


class CleanCharField(serializers.CharField):
    """A string, strictly (42 is a bad type); NUL characters are dropped, as they mean nothing in a query."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data.replace("\x00", ""))
        if not value and not self.allow_blank:
            self.fail("blank")  # only NULs (and spaces) were sent
        return value


_ASCII_INT = re.compile(r"-?[0-9]{1,20}")


class JsonIntegerField(serializers.IntegerField):
    """An integer in a JSON body: a JSON integer only ("5" and 5.0 are bad types, as for ratings)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryIntegerField(JsonIntegerField):
    """An integer query parameter: ASCII digits only ("5"; not "5.0", not "٣"), or a JSON integer."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and _ASCII_INT.fullmatch(data.strip()):
            data = int(data.strip())
        return super().to_internal_value(data)


@extend_schema_field(
    {
        "type": "number",
        "minimum": RATING_MIN,
        "maximum": RATING_MAX,
        "multipleOf": 0.5,
        "example": 4.5,
        "description": "0.5 to 5.0 in steps of 0.5.",
    }
)
class RatingValueField(serializers.FloatField):
    """A rating: 0.5 to 5.0 in half steps, with the model's own message when it is not."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")  # JSON numbers only: "4.5" as a string is a bad type
        number = super().to_internal_value(data)
        try:
            validate_rating_value(number)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return number


# --- Primary keys -----------------------------------------------------------
# Integers on SQL, ObjectIds (24 hex digits, sent as JSON strings) on MongoDB. Decided once from
# DEFAULT_AUTO_FIELD, which settings.py sets from MONGODB_URI; the OpenAPI schema follows.
OBJECT_ID_KEYS = settings.DEFAULT_AUTO_FIELD == OBJECT_ID_AUTO_FIELD
OBJECT_ID_PATTERN = re.compile(r"[0-9a-f]{24}")
INTEGER_ID_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID, "format": "int64", "example": 1}
OBJECT_ID_SCHEMA: dict[str, Any] = {"type": "string", "pattern": "^[0-9a-f]{24}$", "example": "665f1c2ab4d3e2f1a0b9c8d7"}
ID_SCHEMA = OBJECT_ID_SCHEMA if OBJECT_ID_KEYS else INTEGER_ID_SCHEMA
# Path parameters: SQL keeps the plain int64 type its clients already know.
ID_PARAMETER_TYPE: Any = OBJECT_ID_SCHEMA if OBJECT_ID_KEYS else OpenApiTypes.INT64


class IntegerIdField(JsonIntegerField):
    """A primary key on SQL: a JSON integer in 1..2**63-1 (SQLite overflows beyond)."""

    def __init__(self, **kwargs: Any) -> None:
        if not kwargs.get("read_only"):
            kwargs.setdefault("min_value", 1)
            kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class ObjectIdField(serializers.Field):
    """A primary key on MongoDB: an ObjectId, as its 24 lower-case hex digits (JSON has no ObjectId)."""

    default_error_messages = {"invalid": "A valid id (24 hexadecimal digits) is required."}

    def to_internal_value(self, data: Any) -> ObjectId:
        if not isinstance(data, str) or not OBJECT_ID_PATTERN.fullmatch(data):
            self.fail("invalid")
        return ObjectId(data)

    def to_representation(self, value: Any) -> str:
        return str(value)


IdField: type[serializers.Field] = extend_schema_field(ID_SCHEMA)(ObjectIdField if OBJECT_ID_KEYS else IntegerIdField)


class MovieIdField(IdField):  # type: ignore[misc, valid-type]
    """A film id in a request body; existence is checked by the view (unknown ids give 404)."""


class FiniteFloatField(serializers.FloatField):
    """A score: NaN or infinity (which strict JSON cannot carry) is sent as 0.0."""

    def to_representation(self, value: Any) -> float:
        number = float(value)
        return number if math.isfinite(number) else 0.0


# --- Films -----------------------------------------------------------------


class GenreSerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()


class GenreCountSerializer(GenreSerializer):
    film_count = serializers.IntegerField(help_text="Films of the catalogue in this genre.")


class MovieBriefSerializer(serializers.ModelSerializer):
    """A film as it appears inside other objects (ratings, lists, recommendations): the film card.

    Only fields of the film's own row (and its genres), so nesting it costs no query per film."""

    id = IdField(read_only=True)
    genres = GenreSerializer(many=True, read_only=True)
    rating_avg = serializers.FloatField(allow_null=True, read_only=True, help_text="Mean rating, null when unrated.")
    rating_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Movie
        fields = ["id", "title", "year", "genres", "rating_avg", "rating_count", "poster_url"]


class MovieListSerializer(MovieBriefSerializer):
    """A film of the catalogue list: the same card, kept as its own schema component."""

    class Meta(MovieBriefSerializer.Meta):
        pass


class MovieDetailSerializer(MovieListSerializer):
    tags = serializers.ListField(child=serializers.CharField(), read_only=True, source="tag_list")
    directors = serializers.SerializerMethodField()
    cast = serializers.SerializerMethodField()
    decade = serializers.IntegerField(allow_null=True, read_only=True)
    my_rating = serializers.SerializerMethodField(help_text="Your rating of this film; null when anonymous or unrated.")

    class Meta(MovieListSerializer.Meta):
        fields = [
            *MovieListSerializer.Meta.fields,
            "decade",
            "overview",
            "tagline",
            "runtime",
            "tags",
            "directors",
            "cast",
            "imdb_id",
            "tmdb_id",
            "movielens_id",
            "my_rating",
        ]

    def _names(self, movie: Movie, role: str) -> list[str]:
        return [c.person.name for c in movie.credits.all() if c.role == role]

    def get_directors(self, movie: Movie) -> list[str]:
        return self._names(movie, "director")

    def get_cast(self, movie: Movie) -> list[str]:
        return self._names(movie, "cast")

    def get_my_rating(self, movie: Movie) -> float | None:
        rating = self.context.get("my_rating")
        return rating.value if rating is not None else None


class MovieQuerySerializer(serializers.Serializer):
    """Query parameters of the film list."""

    q = CleanCharField(
        required=False, allow_blank=True, max_length=MAX_QUERY_CHARS, help_text="Text in the title (accents and case ignored)."
    )
    genre = CleanCharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="Genre slug, e.g. `sci-fi` (a genre's name, in any case, works too); `/api/v1/genres/` lists them. "
        "An unknown genre is a 400.",
    )
    year_min = QueryIntegerField(required=False, min_value=YEAR_MIN, max_value=YEAR_MAX, help_text="Earliest year.")
    year_max = QueryIntegerField(
        required=False, min_value=YEAR_MIN, max_value=YEAR_MAX, help_text="Latest year; before `year_min` is a 400."
    )
    ordering = serializers.ChoiceField(choices=list(SORTS), required=False, default="popular")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("year_min"), attrs.get("year_max")
        if low is not None and high is not None and low > high:  # an empty range is a mistake, not an empty page
            raise serializers.ValidationError({"year_max": [f"Must not be before year_min ({low})."]})
        return attrs


class SimilarQuerySerializer(serializers.Serializer):
    k = QueryIntegerField(required=False, default=12, min_value=1, max_value=MAX_K)


class ScoredMovieSerializer(serializers.Serializer):
    """A film with a score, an explanation and the model version that produced it."""

    movie = MovieBriefSerializer()
    score = FiniteFloatField(help_text="Higher is better; comparable within one answer only.")
    why = serializers.CharField(help_text="Why this film is here, in plain words.")
    because = serializers.ListField(
        child=IdField(), help_text="Ids of the films that contributed most (may be empty)."
    )
    model_version = IdField(
        source="version_id", allow_null=True, help_text="The model version that scored it; null for the popularity fallback."
    )


class SimilarListSerializer(serializers.Serializer):
    model_version = IdField(allow_null=True)
    results = ScoredMovieSerializer(many=True)


# --- Ratings ---------------------------------------------------------------


class RatingSerializer(serializers.ModelSerializer):
    movie = MovieBriefSerializer(read_only=True)
    rating = serializers.FloatField(source="value", read_only=True)

    class Meta:
        model = Rating
        fields = ["movie", "rating", "created_at", "updated_at"]


class RatingValueSerializer(serializers.Serializer):
    rating = RatingValueField()


class RatingWriteSerializer(RatingValueSerializer):
    movie = MovieIdField()


class MinItemsValidator(MinLengthValidator):
    message = "Send at least %(limit_value)d item(s)."


class MaxItemsValidator(MaxLengthValidator):
    message = "Send at most %(limit_value)d items at once (got %(show_value)d)."


class BulkRatingsSerializer(serializers.Serializer):
    ratings = serializers.ListSerializer(
        child=RatingWriteSerializer(),
        allow_empty=True,  # the validators below give the clearer message
        validators=[MinItemsValidator(1), MaxItemsValidator(MAX_BULK_ITEMS)],
        help_text=f"1 to {MAX_BULK_ITEMS} ratings; a film listed twice takes its last value.",
    )


class BulkResultSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Ratings written.")
    created = serializers.IntegerField()
    updated = serializers.IntegerField()


# --- Watchlist and not interested -----------------------------------------


class MovieRefSerializer(serializers.Serializer):
    movie = MovieIdField()


class WatchlistItemSerializer(serializers.ModelSerializer):
    movie = MovieBriefSerializer(read_only=True)
    added_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = WatchlistItem
        fields = ["movie", "added_at"]


class NotInterestedSerializer(serializers.ModelSerializer):
    movie = MovieBriefSerializer(read_only=True)
    added_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = NotInterested
        fields = ["movie", "added_at"]
