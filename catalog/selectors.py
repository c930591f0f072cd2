"""Reads of the catalogue. All queries stay within what django-mongodb-backend supports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.utils.text import slugify

from catalog.models import Credit, Genre, Movie, NotInterested, Rating, WatchlistItem
from catalog.text import fold

# Each ends with the primary key: without a unique last key, ties (equal counts, titles, and
# timestamps, which MongoDB keeps to the millisecond) may fall on either side of a page boundary.
SORTS: dict[str, list[str]] = {
    "popular": ["-rating_count", "title", "pk"],
    "title": ["title_key", "year", "pk"],
    "newest": ["-year", "title_key", "pk"],
    "oldest": ["year", "title_key", "pk"],
    "added": ["-created_at", "-pk"],
}
MAX_QUERY_LENGTH = 300  # as the API's q (catalog.serializers.MAX_QUERY_CHARS): no silent cut


@dataclass(frozen=True)
class MovieFilters:
    q: str = ""
    genre: str = ""  # genre slug
    decade: int | None = None
    year_min: int | None = None
    year_max: int | None = None
    sort: str = "popular"


def movie_base_queryset() -> QuerySet[Movie]:
    """Films with genres and credits loaded: list pages make a fixed number of queries.

    Genres through ``with_genres`` (MongoDB refuses a many-to-many prefetch); credits are a
    reverse foreign key, which both backends prefetch."""
    return Movie.objects.with_genres().prefetch_related(
        Prefetch("credits", queryset=Credit.objects.select_related("person").order_by("role", "order")),
    )


def movie_list(filters: MovieFilters) -> QuerySet[Movie]:
    qs = movie_base_queryset()
    q = fold(filters.q[:MAX_QUERY_LENGTH])
    if q:
        qs = qs.filter(title_key__contains=q)
    if filters.genre:
        qs = qs.filter(genres__slug=filters.genre)
    if filters.decade is not None:
        qs = qs.filter(year__gte=filters.decade, year__lte=filters.decade + 9)
    if filters.year_min is not None:
        qs = qs.filter(year__gte=filters.year_min)
    if filters.year_max is not None:
        qs = qs.filter(year__lte=filters.year_max)
    sort = SORTS.get(filters.sort, SORTS["popular"])
    if q and filters.sort == "popular":
        # A search by the default order puts the film of exactly that title first: "alien" finds
        # Alien before Aliens, however many more ratings the sequel has.
        qs = qs.annotate(not_exact=Case(When(title_key=q, then=Value(0)), default=Value(1), output_field=IntegerField()))
        sort = ["not_exact", *sort]
    return qs.order_by(*sort)


def popular_movies(limit: int = 20) -> list[Movie]:
    return list(movie_base_queryset().order_by(*SORTS["popular"])[:limit])


def genre_list() -> QuerySet[Genre]:
    return Genre.objects.order_by("name")


def genre_named(value: str) -> Genre | None:
    """The genre a filter names: by slug, or by name in any case ("Drama", "sci fi"), as slugs are slugify(name)."""
    return genre_named_query(value).first()


def genre_named_query(value: str) -> QuerySet[Genre]:
    return Genre.objects.filter(Q(slug__in=[value, slugify(value)]) | Q(name=value)).order_by("pk")


def genre_film_counts() -> dict[Any, int]:
    """Films per genre id."""
    return dict(genre_film_counts_query())


def genre_film_counts_query() -> QuerySet:
    """Grouped on the through table alone (a $group on MongoDB, no join); order_by() keeps ordering out of the group."""
    through = Movie.genres.through.objects.order_by()
    return through.values("genre_id").annotate(films=Count("pk")).values_list("genre_id", "films")


def decades_available() -> list[int]:
    years = Movie.objects.exclude(year=None).values_list("year", flat=True).distinct()
    return sorted({(y // 10) * 10 for y in years})


def movie_genres(movie_id: int | str) -> list[dict[str, str]]:
    """A film's genres as name/slug dicts, in one query (no model instances)."""
    return list(movie_genres_query(movie_id))


def movie_genres_query(movie_id: int | str) -> QuerySet:
    return Genre.objects.filter(movies=movie_id).order_by("name").values("name", "slug")


def movies_for_write() -> QuerySet[Movie]:
    """Just what a write and its response (the film card) need: not the overview or tags."""
    return Movie.objects.only("id", "title", "year", "poster_url", "rating_count", "rating_sum")


def user_rating_for(user, movie: Movie) -> Rating | None:
    if not user.is_authenticated:
        return None
    return Rating.objects.filter(user=user, movie=movie).first()


def user_ratings(user) -> QuerySet[Rating]:
    """Newest first."""
    return Rating.objects.filter(user=user).select_related("movie").order_by("-updated_at", "-pk")


def user_rating_map(user, movie_ids) -> dict[int, float]:
    if not user.is_authenticated:
        return {}
    return dict(Rating.objects.filter(user=user, movie_id__in=list(movie_ids)).values_list("movie_id", "value"))


def list_state(user, movie) -> tuple[bool, bool]:
    """(on the watchlist, marked not interested) for one film."""
    return (
        WatchlistItem.objects.filter(user=user, movie=movie).exists(),
        NotInterested.objects.filter(user=user, movie=movie).exists(),
    )


def list_is_empty(user, which: str) -> bool:
    """Whether the user's watchlist (``which`` "watchlist") or not-interested list is empty."""
    return not (WatchlistItem if which == "watchlist" else NotInterested).objects.filter(user=user).exists()


def user_list_ids(user) -> tuple[set[int], set[int]]:
    """(watchlist ids, not-interested ids) for marking cards."""
    if not user.is_authenticated:
        return set(), set()
    watch = set(WatchlistItem.objects.filter(user=user).values_list("movie_id", flat=True))
    hidden = set(NotInterested.objects.filter(user=user).values_list("movie_id", flat=True))
    return watch, hidden


def rating_distribution(movie: Movie) -> list[tuple[float, int]]:
    values = list(Rating.objects.filter(movie=movie).values_list("value", flat=True))
    steps = [x / 2 for x in range(1, 11)]
    return [(step, sum(1 for v in values if v == step)) for step in steps]
