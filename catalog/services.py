"""Writes to the catalogue and to users' film lists. Views, API and tasks call these."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import F
from django.utils import timezone

from catalog.models import Credit, Genre, Movie, NotInterested, Person, Rating, WatchlistItem, genre_slug, validate_rating_value
from movierec.mongo import atomic, retry_on_conflict
from recommendations import feedback


def _parse_value(value: object) -> float:
    validate_rating_value(value)  # type: ignore[arg-type]
    return float(value)  # type: ignore[arg-type]


@retry_on_conflict
@atomic
def rating_upsert(*, user, movie: Movie, value: object) -> tuple[Rating, bool]:
    """Create or update the user's rating of a film; returns (rating, created)."""
    number = _parse_value(value)
    now = timezone.now()
    rating = Rating.objects.select_for_update().filter(user=user, movie=movie).first()
    if rating is None:
        rating = Rating.objects.create(user=user, movie=movie, value=number, created_at=now, updated_at=now)
        Movie.objects.filter(pk=movie.pk).update(rating_count=F("rating_count") + 1, rating_sum=F("rating_sum") + number)
        created = True
    else:
        delta = number - rating.value
        rating.value = number
        rating.updated_at = now
        rating.save(update_fields=["value", "updated_at"])
        if delta:
            Movie.objects.filter(pk=movie.pk).update(rating_sum=F("rating_sum") + delta)
        created = False
    # A rating replaces any earlier "not interested" for the same film.
    NotInterested.objects.filter(user=user, movie=movie).delete()
    feedback.record_event(user.pk)
    return rating, created


@dataclass
class BulkItemError:
    index: int
    errors: dict[str, list[str]]


@atomic
def ratings_bulk_upsert(*, user, items: Sequence[tuple[Movie, object]]) -> list[Rating]:
    """All or nothing: every value is validated before anything is written."""
    errors: list[BulkItemError] = []
    for index, (_movie, value) in enumerate(items):
        try:
            _parse_value(value)
        except ValidationError as exc:
            errors.append(BulkItemError(index, {"rating": exc.messages}))
    if errors:
        raise BulkValidationError(errors)
    return [rating_upsert(user=user, movie=movie, value=value)[0] for movie, value in items]


class BulkValidationError(Exception):
    def __init__(self, errors: list[BulkItemError]) -> None:
        super().__init__(f"{len(errors)} invalid item(s)")
        self.errors = errors


@retry_on_conflict
@atomic
def rating_delete(*, user, movie: Movie) -> bool:
    rating = Rating.objects.select_for_update().filter(user=user, movie=movie).first()
    if rating is None:
        return False
    Movie.objects.filter(pk=movie.pk).update(rating_count=F("rating_count") - 1, rating_sum=F("rating_sum") - rating.value)
    rating.delete()
    feedback.record_event(user.pk)
    return True


@retry_on_conflict
@atomic
def watchlist_add(*, user, movie: Movie) -> tuple[WatchlistItem, bool]:
    """(item, created). Wanting to watch a film takes back "not interested" in it: a film is
    never on both lists (``not_interested_add`` does the reverse)."""
    item, created = WatchlistItem.objects.get_or_create(user=user, movie=movie)
    unhidden, _ = NotInterested.objects.filter(user=user, movie=movie).delete()
    if unhidden:
        feedback.record_event(user.pk)
    return item, created


def watchlist_remove(*, user, movie: Movie) -> bool:
    deleted, _ = WatchlistItem.objects.filter(user=user, movie=movie).delete()
    return bool(deleted)


@retry_on_conflict
@atomic
def not_interested_add(*, user, movie: Movie) -> tuple[NotInterested, bool]:
    """(item, created); the film also leaves the watchlist."""
    item, created = NotInterested.objects.get_or_create(user=user, movie=movie)
    WatchlistItem.objects.filter(user=user, movie=movie).delete()
    feedback.record_event(user.pk)
    return item, created


def not_interested_remove(*, user, movie: Movie) -> bool:
    deleted, _ = NotInterested.objects.filter(user=user, movie=movie).delete()
    if deleted:
        feedback.record_event(user.pk)
    return bool(deleted)


def genres_ensure(names: Iterable[str]) -> list[Genre]:
    genres = []
    for name in names:
        name = name.strip()
        if name:
            # "Sci Fi" after "Sci-Fi" has the same slug: it is the same genre.
            slug = genre_slug(name)
            genre = Genre.objects.filter(name=name).first() or Genre.objects.filter(slug=slug).first()
            genres.append(genre or Genre.objects.create(name=name, slug=slug))
    return genres


def credits_set(movie: Movie, *, directors: Sequence[str], cast: Sequence[str]) -> None:
    """Replace a film's credits; people are shared across films by name."""
    Credit.objects.filter(movie=movie).delete()
    for role, names in ((Credit.Role.DIRECTOR, directors), (Credit.Role.CAST, cast)):
        for order, name in enumerate(n.strip() for n in names if n and n.strip()):
            person, _ = Person.objects.get_or_create(name=name[:200])
            Credit.objects.get_or_create(movie=movie, person=person, role=role, defaults={"order": order})
