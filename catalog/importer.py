"""Writing a parsed MovieLens dataset into the database, idempotently and atomically."""

from __future__ import annotations

import hashlib
import http.client
import re
import time
import urllib.request
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from catalog.models import Credit, Genre, Movie, Person, Rating, genre_slug
from catalog.movielens import ParsedDataset, ParsedMovie, RatingArrays
from catalog.text import fold, fold_words
from movierec.mongo import atomic

ML_SMALL_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
ML_SMALL_SHA256 = "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"
# The zip is ~1 MB: 8 MB is room for a changed file, and stops a server that never ends the body.
DOWNLOAD_MAX_BYTES = 8 << 20
DOWNLOAD_DEADLINE = 600  # seconds for the whole transfer: a server trickling bytes never trips a socket timeout
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
    movies_linked: int = 0  # films without a MovieLens id (e.g. the starter catalogue) matched by title and year
    movies_kept: int = 0  # films whose stored values differ from the files and were left as stored

    @property
    def changed(self) -> bool:
        return any(value for name, value in vars(self).items() if name != "movies_kept")


class DownloadError(RuntimeError):
    pass


def download_ml_small(
    dest: Path,
    *,
    url: str = ML_SMALL_URL,
    sha256: str = ML_SMALL_SHA256,
    max_bytes: int = DOWNLOAD_MAX_BYTES,
    deadline: float = DOWNLOAD_DEADLINE,
) -> Path:
    """Fetch the GroupLens zip, refuse it unless its sha256 matches, and unpack it."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "ml-latest-small.zip"
    if not archive.exists() or _sha256(archive) != sha256:
        tmp = archive.with_suffix(".part")
        try:
            _fetch(url, tmp, max_bytes=max_bytes, deadline=deadline)
            digest = _sha256(tmp)
            if digest != sha256:
                raise DownloadError(f"sha256 mismatch for {url}: got {digest}, expected {sha256}")
            tmp.replace(archive)
        finally:
            tmp.unlink(missing_ok=True)  # a partial file is never reused, whatever stopped the transfer (also Ctrl-C)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest)
    return dest / "ml-latest-small"


def _fetch(url: str, out_path: Path, *, max_bytes: int, deadline: float) -> None:
    """Stream `url` into `out_path`, within `deadline` seconds and `max_bytes` bytes."""
    ends = time.monotonic() + deadline
    try:
        with urllib.request.urlopen(url, timeout=min(60.0, deadline)) as response, out_path.open("wb") as out:
            declared = response.headers.get("Content-Length")
            expected = int(declared) if declared and declared.isdigit() else None
            if expected is not None and expected > max_bytes:
                raise DownloadError(f"{url} is {expected:,} bytes, more than the {max_bytes:,} expected at most")
            received = 0
            while True:
                # read1 returns what has arrived: read(n) would wait for all n bytes of a slow server.
                block = response.read1(1 << 16)
                if not block:
                    break
                received += len(block)
                if received > max_bytes:
                    raise DownloadError(f"{url} sent more than {max_bytes:,} bytes; stopped")
                if time.monotonic() > ends:
                    raise DownloadError(f"{url} took longer than {deadline:g} s; stopped after {received:,} bytes")
                out.write(block)
    except http.client.IncompleteRead as exc:
        raise DownloadError(f"incomplete download from {url}: the connection closed early ({exc})") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise DownloadError(f"could not download {url}: {exc}") from exc
    if expected is not None and received < expected:
        raise DownloadError(f"incomplete download from {url}: got {received:,} of {expected:,} bytes")


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
        previous = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = {-int(megabytes) * 1024}")
    try:
        yield
    except BaseException:
        # The error may have broken the transaction, and Django then refuses every query
        # (TransactionManagementError) and would hide the error, or a Ctrl-C, behind its own:
        # the raw DB-API connection still takes the PRAGMA, and a failure to restore must not win.
        with suppress(Exception):  # the error being raised matters more than the cache size
            connection.connection.execute(f"PRAGMA cache_size = {previous}")
        raise
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA cache_size = {previous}")


@atomic
def import_dataset(
    data: ParsedDataset,
    *,
    progress: Progress = _no_progress,
    chunk_size: int | None = None,
    cache_mb: int = IMPORT_CACHE_MB,
    overwrite: bool = False,
) -> ImportStats:
    """Write a parsed dataset; ratings go in chunks of `chunk_size` (default CHUNK) model instances.

    Films are added, and their blank fields filled, but what is stored (staff edits, values from
    other files) is never replaced or blanked and genre links and credits are never removed,
    unless `overwrite`: then the files' values replace the stored ones, for the fields the files
    give (a side file that was not given, or does not cover a film, leaves its fields alone).
    """
    with sqlite_page_cache(cache_mb):
        return _import(data, progress, chunk_size, overwrite)


@dataclass
class _FilmChanges:
    """Film pks by what the import did to them; `updated_at` must move for every changed film."""

    created: set[Any] = field(default_factory=set)
    written: set[Any] = field(default_factory=set)  # fields updated (updated_at set in the same write)
    relinked: set[Any] = field(default_factory=set)  # genre links or credits changed
    kept: set[Any] = field(default_factory=set)  # stored values differing from the files, left as they are


def _import(data: ParsedDataset, progress: Progress, chunk_size: int | None, overwrite: bool) -> ImportStats:
    stats = ImportStats()
    changes = _FilmChanges()
    genres = _ensure_genres({g for m in data.movies.values() for g in m.genres})
    movies = _upsert_movies(data, stats, progress, overwrite, changes)
    _sync_genres(data, movies, genres, progress, overwrite, changes)
    _sync_credits(data, movies, stats, progress, overwrite, changes)
    # bulk_update and link changes skip auto_now: without this the ask index (keyed on the newest
    # updated_at) would not see the import.
    _touch(changes.relinked - changes.written - changes.created)
    stats.movies_updated = len((changes.written | changes.relinked) - changes.created)
    stats.movies_kept = len(changes.kept - changes.created)
    user_ids = np.unique(data.ratings.user)
    users = _ensure_users(user_ids, stats, chunk_size or CHUNK)
    _upsert_ratings(data.ratings, movies, [users[u] for u in user_ids.tolist()], user_ids, stats, progress, chunk_size or CHUNK)
    return stats


def _ensure_genres(names: set[str]) -> dict[str, Genre]:
    """Name in the file -> Genre; a name whose slug is taken ("Sci Fi" after "Sci-Fi") reuses that genre."""
    stored = list(Genre.objects.all())
    by_name = {g.name: g for g in stored}
    by_slug = {g.slug: g for g in stored}
    found: dict[str, Genre] = {}
    new: list[Genre] = []
    for name in sorted(names):
        slug = genre_slug(name)
        genre = by_name.get(name) or by_slug.get(slug)
        if genre is None:
            genre = by_name[name] = by_slug[slug] = Genre(name=name, slug=slug)
            new.append(genre)
        found[name] = genre
    if new:
        Genre.objects.bulk_create(new)
        fresh = {g.slug: g for g in Genre.objects.all()}  # pks of the new rows on any backend
        found = {name: fresh[genre.slug] for name, genre in found.items()}
    return found


MOVIE_FIELDS = ["title", "title_key", "year", "imdb_id", "tmdb_id", "overview", "tagline", "runtime", "tags"]
SIDE_FIELDS = ("imdb_id", "tmdb_id", "overview", "tagline", "runtime", "tags")  # only when a side file gave them


def _file_values(parsed: ParsedMovie) -> dict[str, Any]:
    """The fields the files give for a film: title and year always, the others if a side file covered it."""
    values: dict[str, Any] = {"title": parsed.title, "year": parsed.year}
    values.update((name, getattr(parsed, name)) for name in SIDE_FIELDS if name in parsed.given)
    return values


def _blank(value: object) -> bool:
    return value is None or value == "" or value == []


def _merge(movie: Movie, values: dict[str, Any], overwrite: bool) -> tuple[set[str], bool]:
    """Apply the files' values to a stored film; returns (the fields set, anything left differing)."""
    wrote: set[str] = set()
    differs = False
    for name, new in values.items():
        old = getattr(movie, name)
        if old == new:
            continue
        if overwrite or _blank(old):
            setattr(movie, name, new)
            wrote.add(name)
        else:
            differs = True  # a staff edit, or a value from another source: kept
    if "title" in wrote:
        movie.title_key = fold(movie.title)
        wrote.add("title_key")
    return wrote, differs


_ALTERNATE_TITLE = re.compile(r"\s*\([^()]*\)\s*$")  # MovieLens's "Seven (a.k.a. Se7en)"


def _title_keys(title: str) -> set[str]:
    return {key for key in (fold_words(title), fold_words(_ALTERNATE_TITLE.sub("", title))) if key}


class _Unlinked:
    """Films without a MovieLens id (the starter catalogue, staff additions), so that loading
    MovieLens after them links them instead of duplicating them: by IMDb id when both have one
    (the years may differ: "Brief Encounter" 1945 or 1946), else by folded title, with or
    without an alternate title in brackets, and year. Each film is linked once."""

    def __init__(self, movies: Iterable[Movie]) -> None:
        self.by_imdb: dict[str, Movie] = {}
        self.by_title: dict[tuple[str, int | None], list[Movie]] = defaultdict(list)
        self.taken: set[Any] = set()
        for movie in movies:
            if movie.imdb_id:
                self.by_imdb.setdefault(movie.imdb_id, movie)
            for key in _title_keys(movie.title):
                self.by_title[(key, movie.year)].append(movie)

    def take(self, parsed: ParsedMovie) -> Movie | None:
        found = [self.by_imdb[parsed.imdb_id]] if parsed.imdb_id in self.by_imdb else []
        for key in _title_keys(parsed.title):
            found += self.by_title.get((key, parsed.year), [])
        for movie in found:
            if movie.pk not in self.taken:
                self.taken.add(movie.pk)
                return movie
        return None


def _upsert_movies(data: ParsedDataset, stats: ImportStats, progress: Progress, overwrite: bool, changes: _FilmChanges) -> dict[int, Movie]:
    # Only the compared fields: loading 87k whole films (overviews, dates) twice cost more than the writes.
    fields = ("pk", "movielens_id", *MOVIE_FIELDS)
    imported = Movie.objects.filter(movielens_id__isnull=False)
    existing = {m.movielens_id: m for m in imported.only(*fields)}
    unlinked = _Unlinked(Movie.objects.filter(movielens_id__isnull=True).only(*fields).order_by("pk"))
    counters = _file_counters(data)
    to_create: list[Movie] = []
    # Grouped by the fields that changed: bulk_update writes every listed field of every film (a
    # CASE per field), and filling overviews wrote 9,700 films 2.5x faster than with all fields.
    to_update: dict[frozenset[str], list[Movie]] = defaultdict(list)
    for parsed in progress("films", list(data.movies.values())):
        movie = existing.get(parsed.movielens_id)
        linked = False
        if movie is None and (movie := unlinked.take(parsed)) is not None:
            linked = True
            movie.movielens_id = parsed.movielens_id
            stats.movies_linked += 1
        if movie is None:
            # A new film has no stored ratings: its counters are the file's, so no update pass later.
            count, total = counters.get(parsed.movielens_id, (0, 0.0))
            values = {name: getattr(parsed, name) for name in ("title", "year", *SIDE_FIELDS)}
            to_create.append(Movie(movielens_id=parsed.movielens_id, title_key=fold(parsed.title), rating_count=count, rating_sum=total, **values))
            continue
        wrote, differs = _merge(movie, _file_values(parsed), overwrite)
        if linked:
            wrote.add("movielens_id")
        if wrote:
            to_update[frozenset(wrote)].append(movie)
        if differs:
            changes.kept.add(movie.pk)
    for batch in progress("new films", RowBatches(_slices(to_create, BATCH), len(to_create))):
        Movie.objects.bulk_create(batch)
    now = timezone.now()
    batches = (_FilmBatch(films, fields) for fields, group in to_update.items() for films in _slices(group, UPDATE_BATCH))
    for batch in progress("film updates", RowBatches(batches, sum(map(len, to_update.values())))):
        for movie in batch:
            movie.updated_at = now  # bulk_update skips auto_now
        Movie.objects.bulk_update(batch, [*sorted(batch.fields), "updated_at"])
    stats.movies_created = len(to_create)
    changes.created = {m.pk for m in to_create}
    changes.written = {m.pk for films in to_update.values() for m in films}
    wanted = set(data.movies)
    counted = imported.only("pk", "movielens_id", "rating_count", "rating_sum")
    return {m.movielens_id: m for m in counted if m.movielens_id in wanted}


class _FilmBatch(list):
    """Films to write and the fields to write; a list, so a progress bar counts its films."""

    def __init__(self, films: Iterable[Movie], fields: frozenset[str]) -> None:
        super().__init__(films)
        self.fields = fields


def _slices(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _touch(pks: Iterable[Any]) -> None:
    now, pks = timezone.now(), list(pks)
    for batch in _slices(pks, UPDATE_BATCH):
        Movie.objects.filter(pk__in=batch).update(updated_at=now)


def _file_counters(data: ParsedDataset) -> dict[int, tuple[int, float]]:
    """MovieLens film id -> (ratings, sum of values) in the file: numpy bincount over film positions."""
    ids = np.array(sorted(data.movies), dtype=np.int64)
    where = np.searchsorted(ids, data.ratings.movie)  # every rated film is known (the parser checked)
    counts = np.bincount(where, minlength=ids.size)
    sums = np.bincount(where, weights=data.ratings.value, minlength=ids.size)  # float64: exact for half steps
    return dict(zip(ids.tolist(), zip(counts.tolist(), sums.tolist(), strict=True), strict=True))


def _sync_genres(
    data: ParsedDataset, movies: dict[int, Movie], genres: dict[str, Genre], progress: Progress, overwrite: bool, changes: _FilmChanges
) -> None:
    """Add the files' genre links; links the files lack (staff added them) go only with `overwrite`."""
    through = Movie.genres.through
    movie_pks = {m.pk for m in movies.values()}
    have = {pair for pair in through.objects.values_list("movie_id", "genre_id") if pair[0] in movie_pks}
    want = {(movies[mid].pk, genres[g].pk) for mid, parsed in data.movies.items() for g in parsed.genres}
    extra: dict[Any, list[Any]] = defaultdict(list)
    for movie_id, genre_id in have - want:
        extra[movie_id].append(genre_id)
    if overwrite:
        for movie_id, genre_ids in extra.items():
            through.objects.filter(movie_id=movie_id, genre_id__in=genre_ids).delete()
        changes.relinked |= extra.keys()
    else:
        changes.kept |= extra.keys()
    missing = sorted(want - have)
    changes.relinked |= {movie_id for movie_id, _ in missing}
    for batch in progress("genre links", RowBatches(_slices(missing, BATCH), len(missing))):
        through.objects.bulk_create([through(movie_id=m, genre_id=g) for m, g in batch])


def _sync_credits(
    data: ParsedDataset, movies: dict[int, Movie], stats: ImportStats, progress: Progress, overwrite: bool, changes: _FilmChanges
) -> None:
    """Credits of films that have none; with `overwrite`, a film's credits become the file's.

    Only films the credits file covers are looked at: without the file nothing changes.
    """
    given = {mid: parsed for mid, parsed in data.movies.items() if "credits" in parsed.given}
    if not given:
        return
    names = {n for p in given.values() for n in (*p.directors, *p.cast)}
    people = {p.name: p.pk for p in Person.objects.all()}
    Person.objects.bulk_create([Person(name=n, name_key=fold(n)) for n in sorted(names - people.keys())], batch_size=BATCH)
    people = {p.name: p.pk for p in Person.objects.all()}
    covered = {movies[mid].pk for mid in given}
    stored: dict[Any, set[tuple[str, Any, int]]] = defaultdict(set)
    for movie_id, person_id, role, order in Credit.objects.values_list("movie_id", "person_id", "role", "order"):
        if movie_id in covered:
            stored[movie_id].add((role, person_id, order))
    new: list[Credit] = []
    replaced: list[Any] = []
    for mid, parsed in progress("credits", list(given.items())):
        movie = movies[mid]
        want = {
            (role.value, people[name], order)
            for role, names_ in ((Credit.Role.DIRECTOR, parsed.directors), (Credit.Role.CAST, parsed.cast))
            for order, name in enumerate(names_)
        }
        have = stored.get(movie.pk, set())
        if want == have:
            continue
        if have and not overwrite:
            changes.kept.add(movie.pk)  # staff may have edited them: only --overwrite replaces credits
            continue
        if have:
            replaced.append(movie.pk)
        changes.relinked.add(movie.pk)
        new.extend(Credit(movie_id=movie.pk, person_id=person, role=role, order=order) for role, person, order in sorted(want))
    for batch in _slices(replaced, UPDATE_BATCH):
        Credit.objects.filter(movie_id__in=batch).delete()
    for batch in progress("new credits", RowBatches(_slices(new, BATCH), len(new))):
        Credit.objects.bulk_create(batch)
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
    # Visitors may have signed up under any of these names: take the first free one.
    username, n = f"ml_{ml_id}", 1
    while username in taken:
        username = f"ml_{ml_id}_imported" if n == 1 else f"ml_{ml_id}_imported_{n}"
        n += 1
    taken.add(username)
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
