"""Catalogue: films, genres, people and credits, and what users do with films."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Self

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from catalog.text import fold

RATING_MIN = 0.5
RATING_MAX = 5.0


def validate_rating_value(value: float) -> None:
    """0.5 to 5.0 in half steps; anything else is refused with a clear message."""
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(_("A rating must be a number."), code="invalid") from exc
    if not (RATING_MIN <= number <= RATING_MAX) or (number * 2) != int(number * 2):
        raise ValidationError(
            _("A rating must be between 0.5 and 5.0 in steps of 0.5; got %(value)s."),
            code="invalid_rating",
            params={"value": value},
        )


MAX_TAGS_PER_FILM = 50
MAX_TAG_LENGTH = 100


def validate_tags(value: object) -> None:
    """A film's tags are a list of short strings; anything else would break every page showing the film."""
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValidationError(_('Tags must be a list of strings, e.g. ["heist", "los angeles"].'), code="invalid_tags")
    if len(value) > MAX_TAGS_PER_FILM:
        raise ValidationError(_("A film can have at most %(limit)d tags."), code="too_many_tags", params={"limit": MAX_TAGS_PER_FILM})
    if any(len(tag) > MAX_TAG_LENGTH for tag in value):
        raise ValidationError(_("A tag can have at most %(limit)d characters."), code="tag_too_long", params={"limit": MAX_TAG_LENGTH})


def tag_strings(tags: object) -> list[str]:
    """A film's stored tags as strings, whatever was stored: rows written before ``validate_tags``
    (or straight to the database) must not break the pages that show them."""
    return [str(tag) for tag in tags if tag is not None] if isinstance(tags, list) else []


class GenreLoadingQuerySet(models.QuerySet):
    """Adds `.with_genres(path)`: the portable replacement for prefetch_related("genres") / ("movie__genres").

    Django builds a many-to-many prefetch with QuerySet.extra(), which django-mongodb-backend refuses
    (NotSupportedError). This loads the genres of the fetched films after the main query, in one
    query on the through table joined to Genre (a $lookup on MongoDB): the same query count as the
    prefetch. Like prefetch_related it is lazy, survives chaining and is skipped by .iterator().
    """

    _genre_paths: tuple[str, ...] = ()

    def with_genres(self, path: str = "") -> Self:
        """Load genres of the fetched objects (path "") or of a related film (e.g. "movie", select_related it)."""
        clone = self._chain()
        clone._genre_paths = (*self._genre_paths, path)
        return clone

    def _clone(self) -> Self:
        clone = super()._clone()
        clone._genre_paths = self._genre_paths
        return clone

    def _fetch_all(self) -> None:
        fresh = self._result_cache is None
        super()._fetch_all()
        if fresh and self._genre_paths and self._result_cache:
            for path in self._genre_paths:
                attach_genres(_follow(obj, path) for obj in self._result_cache)


def _follow(obj: object, path: str) -> object:
    for name in filter(None, path.split("__")):
        obj = getattr(obj, name, None)
    return obj


def attach_genres(movies: Iterable[object]) -> None:
    """Fill each film's `genres` cache (ordered by name, as Genre.Meta says) in one query.

    Afterwards `movie.genres.all()` reads the cache, exactly as after prefetch_related("genres").
    Anything that is not a saved Movie (None, values() rows) is ignored.
    """
    by_pk: dict[object, list[Movie]] = defaultdict(list)
    for movie in movies:
        if isinstance(movie, Movie) and movie.pk is not None:
            by_pk[movie.pk].append(movie)
    if not by_pk:
        return
    genres_of: dict[object, list[Genre]] = defaultdict(list)
    for link in genre_links(list(by_pk)):
        genres_of[link.movie_id].append(link.genre)
    for pk, group in by_pk.items():
        genres = sorted(genres_of.get(pk, []), key=lambda genre: genre.name)
        for movie in group:
            _cache_genres(movie, genres)


def genre_links(movie_ids: list[object]) -> models.QuerySet:
    """The through rows of these films with their Genre joined (select_related: a $lookup on MongoDB)."""
    return Movie.genres.through.objects.filter(movie_id__in=movie_ids).select_related("genre")


def _cache_genres(movie: Movie, genres: list[Genre]) -> None:
    # What Django's prefetch_one_level stores: the related manager's queryset with its results filled in.
    cache = movie.__dict__.setdefault("_prefetched_objects_cache", {})
    cache.pop("genres", None)
    queryset = movie.genres.get_queryset()
    queryset._result_cache = list(genres)
    queryset._prefetch_done = True
    cache["genres"] = queryset


def genre_slug(name: str) -> str:
    """slugify(name), or for a name without Latin letters or digits ("???", "科幻") a stable slug from its hash."""
    return slugify(name)[:64].strip("-") or f"genre-{hashlib.sha256(name.encode()).hexdigest()[:12]}"


class Genre(models.Model):
    name = models.CharField(_("name"), max_length=64, unique=True)
    slug = models.SlugField(_("slug"), max_length=64, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("genre")
        verbose_name_plural = _("genres")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = genre_slug(self.name)
        super().save(*args, **kwargs)


class Person(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    name_key = models.CharField(max_length=200, db_index=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.name_key = fold(self.name)
        super().save(*args, **kwargs)


class Movie(models.Model):
    title = models.CharField(_("title"), max_length=300)
    title_key = models.CharField(max_length=300, db_index=True, editable=False)
    year = models.PositiveSmallIntegerField(_("year"), null=True, blank=True, db_index=True)
    genres = models.ManyToManyField(Genre, related_name="movies", blank=True, verbose_name=_("genres"))
    people = models.ManyToManyField(Person, through="Credit", related_name="movies", blank=True)
    overview = models.TextField(_("overview"), blank=True)
    tagline = models.CharField(_("tagline"), max_length=500, blank=True)
    runtime = models.PositiveSmallIntegerField(_("runtime (minutes)"), null=True, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True, validators=[validate_tags])
    poster_url = models.URLField(_("poster URL"), blank=True)
    movielens_id = models.PositiveIntegerField(_("MovieLens id"), null=True, blank=True, unique=True)
    imdb_id = models.CharField(_("IMDb id"), max_length=16, blank=True, db_index=True)
    tmdb_id = models.PositiveIntegerField(_("TMDB id"), null=True, blank=True, db_index=True)
    # Denormalised so lists and popularity need no aggregation per request.
    rating_count = models.PositiveIntegerField(default=0, db_index=True, editable=False)
    rating_sum = models.FloatField(default=0.0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GenreLoadingQuerySet.as_manager()

    class Meta:
        ordering = ["-rating_count", "title"]
        verbose_name = _("film")
        verbose_name_plural = _("films")

    def __str__(self) -> str:
        return f"{self.title} ({self.year})" if self.year else self.title

    def save(self, *args, **kwargs) -> None:
        self.title_key = fold(self.title)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("catalog:movie_detail", args=[self.pk])

    @property
    def rating_avg(self) -> float | None:
        return round(self.rating_sum / self.rating_count, 2) if self.rating_count else None

    @property
    def tag_list(self) -> list[str]:
        return tag_strings(self.tags)

    @property
    def decade(self) -> int | None:
        return (self.year // 10) * 10 if self.year else None


class Credit(models.Model):
    class Role(models.TextChoices):
        DIRECTOR = "director", _("Director")
        CAST = "cast", _("Cast")

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="credits")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="credits")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["role", "order"]
        constraints = [
            models.UniqueConstraint(fields=["movie", "person", "role"], name="uniq_credit"),
        ]

    def __str__(self) -> str:
        return f"{self.person} ({self.role})"


class Rating(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings")
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="ratings")
    value = models.FloatField(_("rating"), validators=[validate_rating_value])
    # Not indexed: nothing filters or orders ratings by it, and at 32M ratings the index was
    # ~1 GB that every write and the import kept up to date.
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(db_index=True)

    objects = GenreLoadingQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="uniq_rating")]
        indexes = [models.Index(fields=["user", "-updated_at"], name="rating_user_recent")]
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")

    def __str__(self) -> str:
        return f"{self.user} → {self.movie}: {self.value}"


class WatchlistItem(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlist")
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GenreLoadingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="uniq_watchlist")]


class NotInterested(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="not_interested")
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GenreLoadingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="uniq_not_interested")]
