"""Parsing MovieLens (ml-latest-small layout) and TMDB side files, strictly.

Parsing is pure and happens before any write, so a malformed file stops the
import with its name, line number and reason and the database is untouched.
"""

from __future__ import annotations

import csv
import html
import io
import math
import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from catalog.models import validate_rating_value

TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[–-]\d{0,4})?\)\s*$")
ARTICLE_SUFFIX = re.compile(r"^(?P<base>.+), (?P<article>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El)(?P<rest>\s*\(.*\))?$")
MAX_TAGS = 12
MAX_ID = 2**31 - 1  # ids are held as int32 (ratings) and stored in PositiveIntegerField (films, TMDB)
MAX_IMDB = 10**14 - 1  # "tt" + 14 digits fills Movie.imdb_id (max_length 16)
# datetime (and so every DateTimeField) ends at 9999-12-31 23:59:59 UTC.
MAX_TIMESTAMP = 253_402_300_799
# Overviews can be long, but a field of megabytes is a quote left open; csv's default (128 kB) was too tight.
MAX_FIELD = 16 << 20
csv.field_size_limit(MAX_FIELD)


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
    # The optional fields a side file gave for this film ("credits" for directors and cast): the
    # defaults above mean "not in the files", and the importer must never write them over stored values.
    given: set[str] = field(default_factory=set)


@dataclass
class ParsedDataset:
    movies: dict[int, ParsedMovie]
    ratings: RatingArrays


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
    # utf-8-sig: a byte order mark (spreadsheets write one) would otherwise end up in the first column's name.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, strict=True)
        try:
            found = next(reader)
        except StopIteration:
            raise ImportFormatError(path, 1, "empty file, expected a header") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFormatError(path, 1, _csv_reason(exc, 1, reader.line_num)) from None
        cols = found[1:] if allow_extra_leading and found and found[0] == "" else found
        offset = len(found) - len(cols)
        if cols != header:
            raise ImportFormatError(path, 1, f"expected header {','.join(header)}, got {','.join(found)}")
        while True:
            start = reader.line_num + 1  # a record may span lines: report the one it starts on
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise ImportFormatError(path, reader.line_num + 1, f"unreadable CSV: {exc}") from None
            except csv.Error as exc:
                raise ImportFormatError(path, start, _csv_reason(exc, start, reader.line_num)) from None
            if not row:
                continue
            if len(row) != len(found):
                raise ImportFormatError(path, start, f"expected {len(found)} fields, got {len(row)}")
            yield start, dict(zip(header, row[offset:], strict=True))


def _csv_reason(exc: csv.Error, start: int, end: int) -> str:
    """csv's message, said plainly when it is about a field too long or a quote never closed."""
    if "field larger than field limit" in str(exc):
        return f"unreadable CSV: a field is longer than {MAX_FIELD:,} characters (is a quote left open on this line?)"
    if end > start:
        return f"unreadable CSV: {exc} (a quoted field opened on this line is not closed by line {end})"
    return f"unreadable CSV: {exc}"


def _int(path: Path, line: int, name: str, text: str, *, optional: bool = False, maximum: int | None = None) -> int | None:
    text = text.strip()
    if not text and optional:
        return None
    try:
        number = float(text) if "." in text else int(text)
    except ValueError:
        raise ImportFormatError(path, line, f"{name} is not a number: {text!r}") from None
    if isinstance(number, float) and not math.isfinite(number):  # "1.e400" is inf: int() would overflow
        raise ImportFormatError(path, line, f"{name} is out of range: {text!r}")
    if number != int(number) or number < 0:
        raise ImportFormatError(path, line, f"{name} must be a non-negative integer: {text!r}")
    if maximum is not None and number > maximum:
        raise ImportFormatError(path, line, f"{name} must be at most {maximum}: {text!r}")
    return int(number)


def parse_movies(path: Path) -> dict[int, ParsedMovie]:
    movies: dict[int, ParsedMovie] = {}
    for line, row in _rows(path, ["movieId", "title", "genres"]):
        movie_id = _int(path, line, "movieId", row["movieId"], maximum=MAX_ID)
        assert movie_id is not None
        if movie_id in movies:
            raise ImportFormatError(path, line, f"duplicate movieId {movie_id}")
        title, year = split_title(row["title"])
        if not title:
            raise ImportFormatError(path, line, "empty title")
        # "Action |Drama" is Action and Drama; Genre.name holds 64 characters.
        names = (" ".join(g.split())[:64].strip() for g in row["genres"].split("|"))
        genres = list(dict.fromkeys(g for g in names if g and g != "(no genres listed)"))
        movies[movie_id] = ParsedMovie(movie_id, title[:300], year, genres)
    return movies


def parse_links(path: Path, movies: dict[int, ParsedMovie]) -> None:
    for line, row in _rows(path, ["movieId", "imdbId", "tmdbId"]):
        movie = _known(path, line, movies, row["movieId"])
        imdb = _int(path, line, "imdbId", row["imdbId"], optional=True, maximum=MAX_IMDB)
        movie.imdb_id = f"tt{imdb:07d}" if imdb is not None else ""
        movie.tmdb_id = _int(path, line, "tmdbId", row["tmdbId"], optional=True, maximum=MAX_ID)
        movie.given |= {"imdb_id", "tmdb_id"}


def _known(path: Path, line: int, movies: dict[int, ParsedMovie], text: str) -> ParsedMovie:
    movie_id = _int(path, line, "movieId", text, maximum=MAX_ID)
    if movie_id not in movies:
        raise ImportFormatError(path, line, f"unknown movieId {movie_id}")
    return movies[movie_id]  # type: ignore[index]


RATINGS_HEADER = ["userId", "movieId", "rating", "timestamp"]
BLOCK_BYTES = 8 << 20  # ~300k rating lines per block: the fast path's temporaries stay small
_FAST_CHARS = b"0123456789,.\n"


@dataclass
class RatingArrays:
    """All ratings of a file as columns (~24 bytes a rating), in file order."""

    user: np.ndarray  # int32 MovieLens userId
    movie: np.ndarray  # int32 MovieLens movieId
    value: np.ndarray  # float32, 0.5 .. 5.0 (half steps are exact)
    timestamp: np.ndarray  # int64 seconds
    line: np.ndarray  # uint32 line in ratings.csv, for error messages

    COLUMNS: ClassVar[tuple[str, ...]] = ("user", "movie", "value", "timestamp", "line")

    def __len__(self) -> int:
        return int(self.user.size)

    @classmethod
    def allocate(cls, rows: int) -> RatingArrays:
        return cls(*(np.empty(rows, dtype=dtype) for dtype in (np.int32, np.int32, np.float32, np.int64, np.uint32)))

    def head(self, rows: int) -> RatingArrays:
        return RatingArrays(*(getattr(self, name)[:rows] for name in self.COLUMNS))

    def put(self, start: int, rows: RatingArrays) -> None:
        for name in self.COLUMNS:
            getattr(self, name)[start : start + len(rows)] = getattr(rows, name)

    @classmethod
    def _from_columns(cls, user: Sequence, movie: Sequence, value: Sequence, timestamp: Sequence, line: Sequence) -> RatingArrays:
        return cls(
            np.asarray(user, dtype=np.int32),
            np.asarray(movie, dtype=np.int32),
            np.asarray(value, dtype=np.float32),
            np.asarray(timestamp, dtype=np.int64),
            np.asarray(line, dtype=np.uint32),
        )


class _BlockError(Exception):
    """A bad line inside a block, with the rows before it (for the duplicate check)."""

    def __init__(self, error: ImportFormatError, rows: RatingArrays) -> None:
        super().__init__(str(error))
        self.error, self.rows = error, rows


def parse_ratings(path: Path, movies: dict[int, ParsedMovie]) -> RatingArrays:
    """Every rating as numpy columns; the first bad line (file order) raises ImportFormatError.

    Blocks of plain lines (digits, commas, dots) are parsed with numpy; a block with anything
    else, or one that fails a check, is parsed again row by row, which gives the exact line and
    reason (and accepts what the strict row parser accepts, e.g. quoted fields or "3.0" ids).
    Blocks end at a newline: a quoted field spanning lines (never valid in this file) that
    straddles two blocks is refused with another reason than one whole-file reader would give.
    """
    known = np.array(sorted(movies), dtype=np.int64)
    # Columns sized from the line count up front: growing them (or joining per-block parts)
    # would hold the data twice at the peak.
    ratings = RatingArrays.allocate(_count_lines(path))
    filled = 0
    for first_line, block in _blocks(path):
        try:
            rows = _fast_block(block, first_line, known)
            if rows is None:
                rows = _slow_block(path, block, first_line, movies)
        except _BlockError as exc:
            _raise_first_duplicate(path, _concat([ratings.head(filled), exc.rows]), before=exc.error.line)
            raise exc.error from None
        ratings.put(filled, rows)
        filled += len(rows)
    ratings = ratings.head(filled)
    _raise_first_duplicate(path, ratings)
    return ratings


def _count_lines(path: Path) -> int:
    if not path.is_file():
        raise ImportFormatError(path, 0, "file not found")
    with path.open("rb") as handle:
        return sum(block.count(b"\n") + 1 for block in iter(lambda: handle.read(BLOCK_BYTES), b""))


def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number of the block's first line, whole lines) after checking the header."""
    if not path.is_file():
        raise ImportFormatError(path, 0, "file not found")
    with path.open("rb") as handle:
        header = handle.readline().removeprefix(b"\xef\xbb\xbf")  # a byte order mark is not part of the header
        if not header:
            raise ImportFormatError(path, 1, "empty file, expected a header")
        try:
            found = next(csv.reader([header.decode("utf-8")], strict=True), None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportFormatError(path, 1, str(exc)) from None
        if found is None:
            raise ImportFormatError(path, 1, "empty file, expected a header")
        if found != RATINGS_HEADER:
            raise ImportFormatError(path, 1, f"expected header {','.join(RATINGS_HEADER)}, got {','.join(found)}")
        line, rest = 2, b""
        while True:
            chunk = handle.read(BLOCK_BYTES)
            if not chunk:
                break
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                rest = data
                continue
            yield line, data[:cut]
            line += data.count(b"\n", 0, cut)
            rest = data[cut:]
        if rest:
            yield line, rest + b"\n"


def _fast_block(block: bytes, first_line: int, known: np.ndarray) -> RatingArrays | None:
    """Numpy parse of plain "u,m,r,t" lines; None when anything needs the row parser."""
    if block.translate(None, _FAST_CHARS):
        return None  # quotes, spaces, signs, \r, other bytes: the row parser decides
    buf = np.frombuffer(block, dtype=np.uint8)
    newlines = np.flatnonzero(buf == ord("\n"))
    commas = np.flatnonzero(buf == ord(","))
    n = newlines.size
    if commas.size != 3 * n or not np.array_equal(np.searchsorted(commas, newlines), 3 * np.arange(1, n + 1)):
        return None  # a line without exactly 4 fields (or a blank line)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            fields = np.fromstring(block.replace(b"\n", b","), dtype=np.float64, sep=",")
        except (ValueError, DeprecationWarning):
            return None
    if fields.size != 4 * n:
        return None  # an empty field or a lone "." stopped the number parser
    user, movie, value, stamp = fields[0::4], fields[1::4], fields[2::4], fields[3::4]
    for ids in (user, movie):
        if np.any(ids != np.floor(ids)) or np.any(ids > MAX_ID):
            return None
    if np.any(stamp != np.floor(stamp)) or np.any(stamp > MAX_TIMESTAMP):
        return None  # the row parser names the line
    if np.any((value < 0.5) | (value > 5.0) | (value * 2 != np.floor(value * 2))):
        return None
    movie_ids = movie.astype(np.int64)
    pos = np.searchsorted(known, movie_ids).clip(0, max(known.size - 1, 0))
    if known.size == 0 or np.any(known[pos] != movie_ids):
        return None  # unknown movieId
    lines = np.arange(first_line, first_line + n, dtype=np.int64)
    return RatingArrays._from_columns(user, movie_ids, value, stamp.astype(np.int64), lines)


def _slow_block(path: Path, block: bytes, first_line: int, movies: dict[int, ParsedMovie]) -> RatingArrays:
    """The strict row parser on one block: exact line numbers and reasons."""
    cols: tuple[list, ...] = ([], [], [], [], [])
    try:
        for line, row in _block_rows(path, block, first_line):
            for col, item in zip(cols, (*_rating_row(path, line, row, movies), line), strict=True):
                col.append(item)
    except ImportFormatError as exc:
        raise _BlockError(exc, RatingArrays._from_columns(*cols)) from None
    return RatingArrays._from_columns(*cols)


def _block_rows(path: Path, block: bytes, first_line: int) -> Iterator[tuple[int, list[str]]]:
    offset = first_line - 1
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = offset + block.count(b"\n", 0, exc.start) + 1
        raise ImportFormatError(path, bad_line, f"unreadable CSV: {exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    while True:
        start = offset + reader.line_num + 1  # the line the record opens on
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportFormatError(path, start, _csv_reason(exc, start, offset + reader.line_num)) from None
        if not row:
            continue
        if len(row) != len(RATINGS_HEADER):
            raise ImportFormatError(path, start, f"expected {len(RATINGS_HEADER)} fields, got {len(row)}")
        yield start, row


def _rating_row(path: Path, line: int, row: list[str], movies: dict[int, ParsedMovie]) -> tuple[int, int, float, int]:
    user_id = _int(path, line, "userId", row[0])
    movie = _known(path, line, movies, row[1])
    try:
        value = float(row[2])
        validate_rating_value(value)
    except Exception:
        raise ImportFormatError(path, line, f"rating must be 0.5 to 5.0 in half steps, got {row[2]!r}") from None
    timestamp = _int(path, line, "timestamp", row[3])
    assert user_id is not None and timestamp is not None
    if user_id > MAX_ID or movie.movielens_id > MAX_ID:
        raise ImportFormatError(path, line, f"userId and movieId must be below {MAX_ID + 1}")
    if timestamp > MAX_TIMESTAMP:
        raise ImportFormatError(path, line, f"timestamp is after the year 9999: {row[3]!r}")
    return user_id, movie.movielens_id, value, timestamp


def _concat(parts: list[RatingArrays]) -> RatingArrays:
    joined = {name: np.concatenate([getattr(p, name) for p in parts]) for name in RatingArrays.COLUMNS}
    return RatingArrays(**joined)


def _pair_keys(ratings: RatingArrays) -> np.ndarray:
    keys = ratings.user.astype(np.int64)
    keys <<= 32
    keys |= ratings.movie
    return keys


def _raise_first_duplicate(path: Path, ratings: RatingArrays, *, before: int | None = None) -> None:
    """Raise for the first line (below `before`) that repeats an earlier (user, movie) pair."""
    keys = _pair_keys(ratings)
    keys.sort()  # in place: the common, duplicate-free case costs one int64 column
    if not np.any(keys[1:] == keys[:-1]):
        return
    keys = _pair_keys(ratings)
    order = np.argsort(keys, kind="stable")  # equal keys keep file order: the later one repeats
    repeats = order[1:][keys[order[1:]] == keys[order[:-1]]]
    first = repeats[np.argmin(ratings.line[repeats])]
    line = int(ratings.line[first])
    if before is not None and line >= before:
        return
    user_id, movie_id = int(ratings.user[first]), int(ratings.movie[first])
    raise ImportFormatError(path, line, f"duplicate rating for user {user_id}, movie {movie_id}")


def parse_tags(path: Path, movies: dict[int, ParsedMovie]) -> None:
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for line, row in _rows(path, ["userId", "movieId", "tag", "timestamp"]):
        movie = _known(path, line, movies, row["movieId"])
        tag = " ".join(row["tag"].split()).lower()[:60]
        if tag:
            counts[movie.movielens_id][tag] += 1
    for movie_id, counter in counts.items():
        movies[movie_id].tags = [tag for tag, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TAGS]]
        movies[movie_id].given.add("tags")


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
        movie.given |= {"overview", "tagline", "runtime"}


def parse_credits(path: Path, movies: dict[int, ParsedMovie]) -> None:
    for line, row in _rows(path, ["movieId", "directors", "actors"], allow_extra_leading=True):
        movie = movies.get(_int(path, line, "movieId", row["movieId"]))  # type: ignore[arg-type]
        if movie is None:
            continue
        movie.directors = _people(row["directors"])
        movie.cast = _people(row["actors"])
        movie.given.add("credits")


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
