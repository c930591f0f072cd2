"""Writing a parsed MovieLens dataset into the database, idempotently and atomically."""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.models import QuerySet
from django.utils.text import slugify

from catalog.models import Credit, Genre, Movie, Person, Rating
from catalog.movielens import ParsedDataset, RatingArrays
from catalog.text import fold
from movierec.mongo import atomic

ML_SMALL_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
ML_SMALL_SHA256 = "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"
BATCH = 2000
CHUNK = 50_000  # rating model instances held at once
UPDATE_BATCH = 500
# SQLite page cache during an import (see sqlite_page_cache); ML-32M size wants ~2000 (--cache-mb).
IMPORT_CACHE_MB = 512

Progress = Callable[[str, Iterable], Iterable]


def _no_progress(_label: str, items: Iterable) -> Iterable:
    return items


@dataclass
class ImportStats:
    movies_created: int = 0
    movies_updated: int = 0
    users_created: int = 0
    ratings_created: int = 0
    ratings_updated: int = 0
    credits_created: int = 0

    @property
    def changed(self) -> bool:
        return any(vars(self).values())


class DownloadError(RuntimeError):
    pass


def download_ml_small(dest: Path, *, url: str = ML_SMALL_URL, sha256: str = ML_SMALL_SHA256) -> Path:
    """Fetch the GroupLens zip, refuse it unless its sha256 matches, and unpack it."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "ml-latest-small.zip"
    if not archive.exists() or _sha256(archive) != sha256:
        tmp = archive.with_suffix(".part")
        with urllib.request.urlopen(url, timeout=60) as response, tmp.open("wb") as out:
            shutil.copyfileobj(response, out)
        digest = _sha256(tmp)
        if digest != sha256:
            tmp.unlink()
            raise DownloadError(f"sha256 mismatch for {url}: got {digest}, expected {sha256}")
        tmp.replace(archive)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    return dest / "ml-latest-small"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


@contextmanager
def sqlite_page_cache(megabytes: int) -> Iterator[None]:
    """A bigger SQLite page cache for this connection while the block runs (other backends: no-op).

    The whole import is one transaction. Ratings go in sorted by (user, film), so the table and
    its user indexes grow at their ends, but the film and ``updated_at`` indexes take inserts all
    over: once they outgrow the cache (SQLite's default: 2 MB), every insert reads and spills
    pages of the growing WAL, and a 32M-rating import slowed from 17k to 6.5k ratings/s; with
    2,000 MB it held 17-19k/s throughout. SQLite only fills the cache as pages are touched, so
    small imports do not pay for the bigger limit.
    """
    if connection.vendor != "sqlite" or megabytes <= 0:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        previous = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = {-int(megabytes) * 1024}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous)}")


@atomic
def import_dataset(
    data: ParsedDataset,
    *,
    progress: Progress = _no_progress,
    chunk_size: int | None = None,
    cache_mb: int = IMPORT_CACHE_MB,
) -> ImportStats:
    """Write a parsed dataset; ratings go in chunks of `chunk_size` (default CHUNK) model instances."""
    with sqlite_page_cache(cache_mb):
        return _import(data, progress, chunk_size)


def _import(data: ParsedDataset, progress: Progress, chunk_size: int | None) -> ImportStats:
    stats = ImportStats()
    genres = _ensure_genres({g for m in data.movies.values() for g in m.genres})
    movies = _upsert_movies(data, stats, progress)
    _sync_genres(data, movies, genres)
    _sync_credits(data, movies, stats, progress)
    user_ids = np.unique(data.ratings.user)
    users = _ensure_users(user_ids, stats, chunk_size or CHUNK)
    _upsert_ratings(data.ratings, movies, [users[u] for u in user_ids.tolist()], user_ids, stats, progress, chunk_size or CHUNK)
    return stats


def _ensure_genres(names: set[str]) -> dict[str, Genre]:
    existing = {g.name: g for g in Genre.objects.all()}
    missing = [Genre(name=n, slug=slugify(n)) for n in sorted(names - existing.keys())]
    Genre.objects.bulk_create(missing)
    return {g.name: g for g in Genre.objects.all()}


MOVIE_FIELDS = ["title", "title_key", "year", "imdb_id", "tmdb_id", "overview", "tagline", "runtime", "tags"]


def _upsert_movies(data: ParsedDataset, stats: ImportStats, progress: Progress) -> dict[int, Movie]:
    # Only the compared fields: loading 87k whole films (overviews, dates) twice cost more than the writes.
    imported = Movie.objects.filter(movielens_id__isnull=False)
    existing = {m.movielens_id: m for m in imported.only("pk", "movielens_id", *MOVIE_FIELDS)}
    counters = _file_counters(data)
    to_create, to_update = [], []
    for parsed in progress("films", list(data.movies.values())):
        values = {
            "title": parsed.title,
            "title_key": fold(parsed.title),
            "year": parsed.year,
            "imdb_id": parsed.imdb_id,
            "tmdb_id": parsed.tmdb_id,
            "overview": parsed.overview,
            "tagline": parsed.tagline,
            "runtime": parsed.runtime,
            "tags": parsed.tags,
        }
        movie = existing.get(parsed.movielens_id)
        if movie is None:
            # A new film has no stored ratings: its counters are the file's, so no update pass later.
            count, total = counters.get(parsed.movielens_id, (0, 0.0))
            to_create.append(Movie(movielens_id=parsed.movielens_id, rating_count=count, rating_sum=total, **values))
        elif any(getattr(movie, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(movie, key, value)
            to_update.append(movie)
    Movie.objects.bulk_create(to_create, batch_size=BATCH)
    if to_update:
        Movie.objects.bulk_update(to_update, MOVIE_FIELDS, batch_size=500)
    stats.movies_created, stats.movies_updated = len(to_create), len(to_update)
    wanted = set(data.movies)
    counted = imported.only("pk", "movielens_id", "rating_count", "rating_sum")
    return {m.movielens_id: m for m in counted if m.movielens_id in wanted}


def _file_counters(data: ParsedDataset) -> dict[int, tuple[int, float]]:
    """MovieLens film id -> (ratings, sum of values) in the file: numpy bincount over film positions."""
    ids = np.array(sorted(data.movies), dtype=np.int64)
    where = np.searchsorted(ids, data.ratings.movie)  # every rated film is known (the parser checked)
    counts = np.bincount(where, minlength=ids.size)
    sums = np.bincount(where, weights=data.ratings.value, minlength=ids.size)  # float64: exact for half steps
    return dict(zip(ids.tolist(), zip(counts.tolist(), sums.tolist(), strict=True), strict=True))


def _sync_genres(data: ParsedDataset, movies: dict[int, Movie], genres: dict[str, Genre]) -> None:
    through = Movie.genres.through
    have = set(through.objects.values_list("movie_id", "genre_id"))
    want = {(movies[mid].pk, genres[g].pk) for mid, parsed in data.movies.items() for g in parsed.genres}
    movie_pks = {m.pk for m in movies.values()}
    stale = [pair for pair in have - want if pair[0] in movie_pks]
    for movie_id, genre_id in stale:
        through.objects.filter(movie_id=movie_id, genre_id=genre_id).delete()
    through.objects.bulk_create([through(movie_id=m, genre_id=g) for m, g in sorted(want - have)], batch_size=BATCH)


def _sync_credits(data: ParsedDataset, movies: dict[int, Movie], stats: ImportStats, progress: Progress) -> None:
    names = {n for p in data.movies.values() for n in (*p.directors, *p.cast)}
    if not names:
        return
    people = {p.name: p for p in Person.objects.all()}
    Person.objects.bulk_create([Person(name=n, name_key=fold(n)) for n in sorted(names - people.keys())], batch_size=BATCH)
    people = {p.name: p for p in Person.objects.all()}
    have = set(Credit.objects.values_list("movie_id", "person_id", "role"))
    new: list[Credit] = []
    for mid, parsed in progress("credits", list(data.movies.items())):
        movie = movies[mid]
        for role, names_ in ((Credit.Role.DIRECTOR, parsed.directors), (Credit.Role.CAST, parsed.cast)):
            for order, name in enumerate(names_):
                key = (movie.pk, people[name].pk, role.value)
                if key not in have:
                    have.add(key)
                    new.append(Credit(movie=movie, person=people[name], role=role, order=order))
    Credit.objects.bulk_create(new, batch_size=BATCH)
    stats.credits_created = len(new)


def _ensure_users(ml_ids: np.ndarray, stats: ImportStats, chunk: int) -> dict[int, Any]:
    """MovieLens user id -> user pk for every id, creating inactive users as needed.

    Reads all MovieLens users rather than `movielens_id__in` a list that can exceed SQLite's
    bound-parameter limit (200k users in ML-32M).
    """
    User = get_user_model()
    wanted = ml_ids.tolist()
    existing = dict(User.objects.filter(movielens_id__isnull=False).values_list("movielens_id", "pk"))
    missing = [ml_id for ml_id in wanted if ml_id not in existing]
    if missing:
        taken = set(User.objects.filter(username__startswith="ml_").values_list("username", flat=True))
        for start in range(0, len(missing), chunk):
            new = [_ml_user(User, ml_id, taken) for ml_id in missing[start : start + chunk]]
            User.objects.bulk_create(new, batch_size=BATCH)
        existing = dict(User.objects.filter(movielens_id__isnull=False).values_list("movielens_id", "pk"))
    stats.users_created = len(missing)
    return {ml_id: existing[ml_id] for ml_id in wanted}


def _ml_user(User: type, ml_id: int, taken: set[str]) -> Any:
    username = f"ml_{ml_id}"
    if username in taken:
        username = f"ml_{ml_id}_imported"
    return User(username=username, movielens_id=ml_id, is_active=False, password=make_password(None))


class RowBatches:
    """Batches (each with a len) and their total row count: a progress bar can count rows."""

    def __init__(self, batches: Iterable[Sized], rows: int) -> None:
        self.batches, self.rows = batches, rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.batches)


def _spans(rows: int, size: int) -> Iterator[range]:
    for start in range(0, rows, size):
        yield range(start, min(start + size, rows))


@dataclass
class _SortedRatings:
    """The parsed ratings as dense (user, film) indexes, sorted by key = user * n_films + film."""

    key: np.ndarray  # int64, strictly increasing (the parser refused duplicates)
    user: np.ndarray  # int32 index into the user pks
    movie: np.ndarray  # int32 index into the film pks
    value: np.ndarray  # float32
    timestamp: np.ndarray  # int64

    @classmethod
    def build(cls, ratings: RatingArrays, user_ids: np.ndarray, movie_ids: np.ndarray) -> _SortedRatings:
        user = np.searchsorted(user_ids, ratings.user).astype(np.int32)
        movie = np.searchsorted(movie_ids, ratings.movie).astype(np.int32)
        key = user.astype(np.int64)
        key *= len(movie_ids)
        key += movie
        order = np.argsort(key, kind="stable")
        # One column at a time, each unsorted copy dropped before the next: a lower peak.
        key = key[order]
        user = user[order]
        movie = movie[order]
        value = ratings.value[order]
        timestamp = ratings.timestamp[order]
        return cls(key, user, movie, value, timestamp)

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask of `keys` present, their row positions)."""
        pos = np.searchsorted(self.key, keys)
        hit = pos < self.key.size
        hit[hit] = self.key[pos[hit]] == keys[hit]
        return hit, pos[hit]


NEW, SAME, CHANGED = 0, 1, 2


def _upsert_ratings(
    ratings: RatingArrays,
    movies: dict[int, Movie],
    user_pks: list[Any],
    user_ids: np.ndarray,
    stats: ImportStats,
    progress: Progress,
    chunk: int,
) -> None:
    """Match against existing ratings page by page, update changed ones, create new ones in chunks.

    Memory: a few numpy columns per parsed rating plus one chunk of model instances; the
    existing ratings are never all held at once. Counters come from the same pass.
    """
    movie_ids = np.array(sorted(movies), dtype=np.int64)
    movie_list = [movies[m] for m in movie_ids.tolist()]
    movie_pks = [m.pk for m in movie_list]
    rows = _SortedRatings.build(ratings, user_ids, movie_ids)
    state = np.zeros(len(rows.key), dtype=np.int8)
    counts = np.zeros(len(movie_ids), dtype=np.int64)
    sums = np.zeros(len(movie_ids), dtype=np.float64)
    touched = np.zeros(len(movie_ids), dtype=bool)
    user_index = {pk: i for i, pk in enumerate(user_pks)}
    movie_index = {pk: i for i, pk in enumerate(movie_pks)}
    pages = _pages(Rating.objects.values_list("pk", "user_id", "movie_id", "value"), chunk)
    for page in progress("existing ratings", RowBatches(pages, Rating.objects.count())):
        updated = _match_page(page, rows, state, user_index, movie_index, counts, sums, touched)
        stats.ratings_updated += len(updated)
        for start in range(0, len(updated), UPDATE_BATCH):
            Rating.objects.bulk_update(updated[start : start + UPDATE_BATCH], ["value", "updated_at"])
    for span in progress("ratings", RowBatches(_spans(len(rows.key), chunk), len(rows.key))):
        stats.ratings_created += _create_chunk(rows, state, span, user_pks, movie_pks, counts, sums, touched)
    _save_counters(movie_list, counts, sums, touched)


def _pages(values: QuerySet, size: int) -> Iterator[list[tuple]]:
    """Keyset pagination on pk (first column): one bounded query per page, on either backend."""
    last = None
    while True:
        query = values.order_by("pk") if last is None else values.filter(pk__gt=last).order_by("pk")
        page = list(query[:size])
        if not page:
            return
        yield page
        last = page[-1][0]


def _match_page(
    page: list[tuple],
    rows: _SortedRatings,
    state: np.ndarray,
    user_index: dict[Any, int],
    movie_index: dict[Any, int],
    counts: np.ndarray,
    sums: np.ndarray,
    touched: np.ndarray,
) -> list[Rating]:
    """Mark parsed rows already stored, count stored ratings per film; the changed ones to update."""
    pks, user_col, movie_col, value_col = zip(*page, strict=True)
    user = np.fromiter((user_index.get(u, -1) for u in user_col), dtype=np.int64, count=len(page))
    movie = np.fromiter((movie_index.get(m, -1) for m in movie_col), dtype=np.int64, count=len(page))
    old = np.fromiter(value_col, dtype=np.float64, count=len(page))
    ours = movie >= 0  # any user's rating of an imported film counts towards its counters
    np.add.at(counts, movie[ours], 1)
    np.add.at(sums, movie[ours], old[ours])
    ours &= user >= 0
    where = np.flatnonzero(ours)
    hit, pos = rows.find(user[where] * len(movie_index) + movie[where])
    where = where[hit]
    new = rows.value[pos].astype(np.float64)
    differs = new != old[where]
    state[pos] = np.where(differs, CHANGED, SAME)
    changed, at = where[differs], pos[differs]
    np.add.at(sums, rows.movie[at], new[differs] - old[changed])
    touched[rows.movie[at]] = True
    return [
        Rating(pk=pks[i], value=v, updated_at=_ts(t))
        for i, v, t in zip(changed.tolist(), new[differs].tolist(), rows.timestamp[at].tolist(), strict=True)
    ]


def _create_chunk(
    rows: _SortedRatings,
    state: np.ndarray,
    span: range,
    user_pks: list[Any],
    movie_pks: list[Any],
    counts: np.ndarray,
    sums: np.ndarray,
    touched: np.ndarray,
) -> int:
    """bulk_create the new ratings among rows[span]; returns how many."""
    sel = np.flatnonzero(state[span.start : span.stop] == NEW) + span.start
    if sel.size == 0:
        return 0
    user, movie, value = rows.user[sel], rows.movie[sel], rows.value[sel].astype(np.float64)
    np.add.at(counts, movie, 1)
    np.add.at(sums, movie, value)
    touched[movie] = True
    make = _rating_factory()
    new = [
        make(user_pks[u], movie_pks[m], v, _ts(t))
        for u, m, v, t in zip(user.tolist(), movie.tolist(), value.tolist(), rows.timestamp[sel].tolist(), strict=True)
    ]
    Rating.objects.bulk_create(new, batch_size=BATCH)
    return len(new)


def _rating_factory() -> Callable[[Any, Any, float, datetime], Rating]:
    """Positional Model.__init__ is ~2x faster than keywords; used when the field order is the known one."""
    if [f.attname for f in Rating._meta.concrete_fields] == ["id", "user_id", "movie_id", "value", "created_at", "updated_at"]:
        return lambda user, movie, value, when: Rating(None, user, movie, value, when, when)
    return lambda user, movie, value, when: Rating(user_id=user, movie_id=movie, value=value, created_at=when, updated_at=when)


def _save_counters(movies: list[Movie], counts: np.ndarray, sums: np.ndarray, touched: np.ndarray) -> None:
    """rating_count / rating_sum of the films whose ratings changed, from the counts of this pass."""
    changed = []
    for i in np.flatnonzero(touched).tolist():
        movie, count, total = movies[i], int(counts[i]), float(sums[i])
        if movie.rating_count != count or abs(movie.rating_sum - total) > 1e-9:
            movie.rating_count, movie.rating_sum = count, total
            changed.append(movie)
    Movie.objects.bulk_update(changed, ["rating_count", "rating_sum"], batch_size=UPDATE_BATCH)
