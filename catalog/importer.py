"""Writing a parsed MovieLens dataset into the database, idempotently and atomically."""

from __future__ import annotations

import hashlib
import shutil
import urllib.request
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils.text import slugify

from catalog.models import Credit, Genre, Movie, Person, Rating
from catalog.movielens import ParsedDataset
from catalog.text import fold
from movierec.mongo import atomic

ML_SMALL_URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
ML_SMALL_SHA256 = "696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436"
BATCH = 2000

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


@atomic
def import_dataset(data: ParsedDataset, *, progress: Progress = _no_progress) -> ImportStats:
    stats = ImportStats()
    genres = _ensure_genres({g for m in data.movies.values() for g in m.genres})
    movies = _upsert_movies(data, stats, progress)
    _sync_genres(data, movies, genres)
    _sync_credits(data, movies, stats, progress)
    users = _ensure_users({r.user_id for r in data.ratings}, stats)
    touched = _upsert_ratings(data, movies, users, stats, progress)
    if touched:
        _refresh_counters(touched)
    return stats


def _ensure_genres(names: set[str]) -> dict[str, Genre]:
    existing = {g.name: g for g in Genre.objects.all()}
    missing = [Genre(name=n, slug=slugify(n)) for n in sorted(names - existing.keys())]
    Genre.objects.bulk_create(missing)
    return {g.name: g for g in Genre.objects.all()}


MOVIE_FIELDS = ["title", "title_key", "year", "imdb_id", "tmdb_id", "overview", "tagline", "runtime", "tags"]


def _upsert_movies(data: ParsedDataset, stats: ImportStats, progress: Progress) -> dict[int, Movie]:
    existing = {m.movielens_id: m for m in Movie.objects.filter(movielens_id__isnull=False)}
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
            to_create.append(Movie(movielens_id=parsed.movielens_id, **values))
        elif any(getattr(movie, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(movie, key, value)
            to_update.append(movie)
    Movie.objects.bulk_create(to_create, batch_size=BATCH)
    if to_update:
        Movie.objects.bulk_update(to_update, MOVIE_FIELDS, batch_size=500)
    stats.movies_created, stats.movies_updated = len(to_create), len(to_update)
    wanted = set(data.movies)
    return {m.movielens_id: m for m in Movie.objects.filter(movielens_id__isnull=False) if m.movielens_id in wanted}


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
    Person.objects.bulk_create(
        [Person(name=n, name_key=fold(n)) for n in sorted(names - people.keys())], batch_size=BATCH
    )
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


def _ensure_users(ml_ids: set[int], stats: ImportStats) -> dict[int, int]:
    User = get_user_model()
    existing = dict(User.objects.filter(movielens_id__in=list(ml_ids)).values_list("movielens_id", "pk"))
    taken = set(User.objects.filter(username__startswith="ml_").values_list("username", flat=True))
    new = []
    for ml_id in sorted(ml_ids - existing.keys()):
        username = f"ml_{ml_id}"
        if username in taken:
            username = f"ml_{ml_id}_imported"
        new.append(User(username=username, movielens_id=ml_id, is_active=False, password=make_password(None)))
    User.objects.bulk_create(new, batch_size=BATCH)
    stats.users_created = len(new)
    return dict(User.objects.filter(movielens_id__in=list(ml_ids)).values_list("movielens_id", "pk"))


def _upsert_ratings(
    data: ParsedDataset, movies: dict[int, Movie], users: dict[int, int], stats: ImportStats, progress: Progress
) -> set[int]:
    user_pks = set(users.values())
    existing: dict[tuple[int, int], tuple[int, float]] = {}
    for pk, user_id, movie_id, value in Rating.objects.filter(user_id__in=list(user_pks)).values_list(
        "pk", "user_id", "movie_id", "value"
    ):
        existing[(user_id, movie_id)] = (pk, value)
    to_create: list[Rating] = []
    to_update: list[Rating] = []
    touched: set[int] = set()
    for parsed in progress("ratings", data.ratings):
        user_pk, movie_pk = users[parsed.user_id], movies[parsed.movie_id].pk
        when = _ts(parsed.timestamp)
        found = existing.get((user_pk, movie_pk))
        if found is None:
            to_create.append(Rating(user_id=user_pk, movie_id=movie_pk, value=parsed.value, created_at=when, updated_at=when))
            touched.add(movie_pk)
        elif found[1] != parsed.value:
            to_update.append(Rating(pk=found[0], value=parsed.value, updated_at=when))
            touched.add(movie_pk)
    Rating.objects.bulk_create(to_create, batch_size=BATCH)
    if to_update:
        Rating.objects.bulk_update(to_update, ["value", "updated_at"], batch_size=500)
    stats.ratings_created, stats.ratings_updated = len(to_create), len(to_update)
    return touched


def _refresh_counters(movie_pks: set[int]) -> None:
    """Recompute denormalised counts in Python: no database-specific aggregation."""
    sums: dict[int, list[float]] = defaultdict(lambda: [0, 0.0])
    for movie_id, value in Rating.objects.filter(movie_id__in=list(movie_pks)).values_list("movie_id", "value"):
        acc = sums[movie_id]
        acc[0] += 1
        acc[1] += value
    changed = []
    for movie in Movie.objects.filter(pk__in=list(movie_pks)).only("pk", "rating_count", "rating_sum"):
        count, total = sums.get(movie.pk, (0, 0.0))
        if movie.rating_count != count or abs(movie.rating_sum - total) > 1e-9:
            movie.rating_count, movie.rating_sum = int(count), float(total)
            changed.append(movie)
    Movie.objects.bulk_update(changed, ["rating_count", "rating_sum"], batch_size=500)
