"""Catalogue: films, genres, people and credits, and what users do with films."""

from __future__ import annotations

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
            self.slug = slugify(self.name)
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
    tags = models.JSONField(_("tags"), default=list, blank=True)
    poster_url = models.URLField(_("poster URL"), blank=True)
    movielens_id = models.PositiveIntegerField(_("MovieLens id"), null=True, blank=True, unique=True)
    imdb_id = models.CharField(_("IMDb id"), max_length=16, blank=True, db_index=True)
    tmdb_id = models.PositiveIntegerField(_("TMDB id"), null=True, blank=True, db_index=True)
    # Denormalised so lists and popularity need no aggregation per request.
    rating_count = models.PositiveIntegerField(default=0, db_index=True, editable=False)
    rating_sum = models.FloatField(default=0.0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

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
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(db_index=True)

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

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="uniq_watchlist")]


class NotInterested(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="not_interested")
    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "movie"], name="uniq_not_interested")]
