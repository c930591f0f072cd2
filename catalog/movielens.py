"""Parsing MovieLens (ml-latest-small layout) and TMDB side files, strictly.

Parsing is pure and happens before any write, so a malformed file stops the
import with its name, line number and reason and the database is untouched.
"""

from __future__ import annotations

import csv
import html
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from catalog.models import validate_rating_value

TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[–-]\d{0,4})?\)\s*$")
ARTICLE_SUFFIX = re.compile(r"^(?P<base>.+), (?P<article>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)(?P<rest>\s*\(.*\))?$")
MAX_TAGS = 12


class ImportFormatError(ValueError):
    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path.name}, line {line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


@dataclass
class ParsedMovie:
    movielens_id: int
    title: str
    year: int | None
    genres: list[str]
    imdb_id: str = ""
    tmdb_id: int | None = None
    overview: str = ""
    tagline: str = ""
    runtime: int | None = None
    directors: list[str] = field(default_factory=list)
    cast: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass
class ParsedRating:
    user_id: int
    movie_id: int
    value: float
    timestamp: int


@dataclass
class ParsedDataset:
    movies: dict[int, ParsedMovie]
    ratings: list[ParsedRating]


def split_title(raw: str) -> tuple[str, int | None]:
    """'Shawshank Redemption, The (1994)' -> ('The Shawshank Redemption', 1994)."""
    raw = raw.strip()
    year = None
    match = TITLE_YEAR.match(raw)
    if match:
        raw, year = match.group("title").strip(), int(match.group("year"))
    art = ARTICLE_SUFFIX.match(raw)
    if art:
        sep = "" if art.group("article").endswith("'") else " "
        raw = f"{art.group('article')}{sep}{art.group('base')}{art.group('rest') or ''}"
    return raw, year


def _rows(path: Path, header: list[str], *, allow_extra_leading: bool = False) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise ImportFormatError(path, 0, "file not found")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            found = next(reader)
        except StopIteration:
            raise ImportFormatError(path, 1, "empty file, expected a header") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFormatError(path, 1, str(exc)) from None
        cols = found[1:] if allow_extra_leading and found and found[0] == "" else found
        offset = len(found) - len(cols)
        if cols != header:
            raise ImportFormatError(path, 1, f"expected header {','.join(header)}, got {','.join(found)}")
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as exc:
                raise ImportFormatError(path, reader.line_num, f"unreadable CSV: {exc}") from None
            if not row:
                continue
            if len(row) != len(found):
                raise ImportFormatError(path, reader.line_num, f"expected {len(found)} fields, got {len(row)}")
            yield reader.line_num, dict(zip(header, row[offset:], strict=True))


def _int(path: Path, line: int, name: str, text: str, *, optional: bool = False) -> int | None:
    text = text.strip()
    if not text and optional:
        return None
    try:
        number = float(text) if "." in text else int(text)
    except ValueError:
        raise ImportFormatError(path, line, f"{name} is not a number: {text!r}") from None
    if number != int(number) or number < 0:
        raise ImportFormatError(path, line, f"{name} must be a non-negative integer: {text!r}")
    return int(number)


def parse_movies(path: Path) -> dict[int, ParsedMovie]:
    movies: dict[int, ParsedMovie] = {}
    for line, row in _rows(path, ["movieId", "title", "genres"]):
        movie_id = _int(path, line, "movieId", row["movieId"])
        assert movie_id is not None
        if movie_id in movies:
            raise ImportFormatError(path, line, f"duplicate movieId {movie_id}")
        title, year = split_title(row["title"])
        if not title:
            raise ImportFormatError(path, line, "empty title")
        genres = [g for g in row["genres"].split("|") if g and g != "(no genres listed)"]
        movies[movie_id] = ParsedMovie(movie_id, title[:300], year, genres)
    return movies


def parse_links(path: Path, movies: dict[int, ParsedMovie]) -> None:
    for line, row in _rows(path, ["movieId", "imdbId", "tmdbId"]):
        movie = _known(path, line, movies, row["movieId"])
        imdb = _int(path, line, "imdbId", row["imdbId"], optional=True)
        movie.imdb_id = f"tt{imdb:07d}" if imdb is not None else ""
        movie.tmdb_id = _int(path, line, "tmdbId", row["tmdbId"], optional=True)


def _known(path: Path, line: int, movies: dict[int, ParsedMovie], text: str) -> ParsedMovie:
    movie_id = _int(path, line, "movieId", text)
    if movie_id not in movies:
        raise ImportFormatError(path, line, f"unknown movieId {movie_id}")
    return movies[movie_id]  # type: ignore[index]


def parse_ratings(path: Path, movies: dict[int, ParsedMovie]) -> list[ParsedRating]:
    ratings: list[ParsedRating] = []
    seen: set[tuple[int, int]] = set()
    for line, row in _rows(path, ["userId", "movieId", "rating", "timestamp"]):
        user_id = _int(path, line, "userId", row["userId"])
        movie = _known(path, line, movies, row["movieId"])
        try:
            value = float(row["rating"])
            validate_rating_value(value)
        except Exception:
            raise ImportFormatError(path, line, f"rating must be 0.5 to 5.0 in half steps, got {row['rating']!r}") from None
        timestamp = _int(path, line, "timestamp", row["timestamp"])
        key = (user_id, movie.movielens_id)  # type: ignore[assignment]
        if key in seen:
            raise ImportFormatError(path, line, f"duplicate rating for user {user_id}, movie {movie.movielens_id}")
        seen.add(key)  # type: ignore[arg-type]
        ratings.append(ParsedRating(user_id, movie.movielens_id, value, timestamp))  # type: ignore[arg-type]
    return ratings


def parse_tags(path: Path, movies: dict[int, ParsedMovie]) -> None:
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for line, row in _rows(path, ["userId", "movieId", "tag", "timestamp"]):
        movie = _known(path, line, movies, row["movieId"])
        tag = " ".join(row["tag"].split()).lower()[:60]
        if tag:
            counts[movie.movielens_id][tag] += 1
    for movie_id, counter in counts.items():
        movies[movie_id].tags = [tag for tag, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TAGS]]


def parse_overviews(path: Path, movies: dict[int, ParsedMovie]) -> None:
    header = ["movieId", "title", "genres", "imdbId", "tmdbId", "overview", "tagline", "runtime", "tmdb_rating"]
    for line, row in _rows(path, header):
        movie_id = _int(path, line, "movieId", row["movieId"])
        movie = movies.get(movie_id)  # type: ignore[arg-type]
        if movie is None:
            continue  # side files may cover more films than the ratings set
        movie.overview = row["overview"].strip()
        movie.tagline = row["tagline"].strip()[:500]
        runtime = _int(path, line, "runtime", row["runtime"], optional=True)
        movie.runtime = runtime if runtime and runtime < 32767 else None


def parse_credits(path: Path, movies: dict[int, ParsedMovie]) -> None:
    for line, row in _rows(path, ["movieId", "directors", "actors"], allow_extra_leading=True):
        movie = movies.get(_int(path, line, "movieId", row["movieId"]))  # type: ignore[arg-type]
        if movie is None:
            continue
        movie.directors = _people(row["directors"])
        movie.cast = _people(row["actors"])


def _people(text: str) -> list[str]:
    names = (" ".join(html.unescape(name).split()) for name in text.split("|"))
    unique: list[str] = []
    for name in names:
        if name and name.lower() != "nan" and name not in unique:
            unique.append(name[:200])
    return unique


def parse_dataset(folder: Path, *, overviews: Path | None = None, credits: Path | None = None) -> ParsedDataset:
    movies = parse_movies(folder / "movies.csv")
    if (folder / "links.csv").exists():
        parse_links(folder / "links.csv", movies)
    ratings = parse_ratings(folder / "ratings.csv", movies)
    if (folder / "tags.csv").exists():
        parse_tags(folder / "tags.csv", movies)
    if overviews:
        parse_overviews(overviews, movies)
    if credits:
        parse_credits(credits, movies)
    return ParsedDataset(movies, ratings)
