"""The files of ``recommend_offline``: reading ratings, films and users (every problem reported as
``file:line: reason``) and writing the recommendations atomically."""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import CommandError

RATING_COLUMNS = ("userID", "itemID", "rating", "timestamp")
MOVIE_REQUIRED = ("itemID", "title", "genres")
MOVIE_OPTIONAL = ("overview", "directors", "actors", "tags")
# Case-insensitive header names, plus MovieLens' own spellings.
ALIASES = {"userid": "userID", "itemid": "itemID", "movieid": "itemID"}


class InputError(CommandError):
    """A problem in an input file, reported as ``file:line: reason``."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


def _canonical(name: str, allowed: tuple[str, ...]) -> str | None:
    key = name.strip().lstrip("\ufeff").lower()
    for col in allowed:
        if col.lower() == key:
            return col
    alias = ALIASES.get(key)
    return alias if alias in allowed else None


def _rows(path: Path, required: tuple[str, ...], optional: tuple[str, ...], *, ignore_unknown: bool) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; the header is checked against the columns."""
    if not path.is_file():
        raise InputError(path, None, "file not found")
    allowed = required + optional
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            try:
                header = next(reader)
            except StopIteration:
                raise InputError(path, 1, "empty file: expected a header line " + ",".join(required)) from None
            names = [_canonical(h, allowed) for h in header]
            unknown = [h for h, n in zip(header, names, strict=True) if n is None]
            if len(header) == 1 and "\t" in header[0]:
                raise InputError(path, 1, "the header looks tab-separated; the files are comma-separated CSV")
            if unknown and not ignore_unknown:
                raise InputError(
                    path,
                    1,
                    f"unknown column(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)} "
                    "(--ignore-unknown-columns skips them)",
                )
            missing = [c for c in required if c not in names]
            if missing:
                raise InputError(path, 1, f"missing column(s) {', '.join(missing)}; header is {','.join(header)}")
            dup = {n for n in names if n is not None and names.count(n) > 1}
            if dup:
                raise InputError(path, 1, f"duplicate column(s) {', '.join(sorted(dup))}")
            line = reader.line_num + 1  # where the next record starts (a quoted field may span lines)
            for fields in reader:
                if fields and not (len(fields) == 1 and not fields[0].strip()):  # else a blank line
                    if len(fields) != len(header):
                        spans = reader.line_num - line
                        hint = f" (the record runs on for {spans} more lines: an unclosed quote?)" if spans else ""
                        raise InputError(path, line, f"expected {len(header)} fields, found {len(fields)}{hint}")
                    yield line, {n: v for n, v in zip(names, fields, strict=True) if n is not None}
                line = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise InputError(path, None, f"malformed CSV: {exc}") from None


def _number(value: str, path: Path, line: int, column: str) -> float:
    try:
        out = float(value)
    except ValueError:
        raise InputError(path, line, f"{column} {value!r} is not a number") from None
    if not math.isfinite(out):
        raise InputError(path, line, f"{column} {value!r} is not a finite number")
    return out


def read_ratings(path: Path, *, ignore_unknown: bool = False) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    users: list[str] = []
    items: list[str] = []
    values: list[float] = []
    stamps: list[float] = []
    for line, row in _rows(path, RATING_COLUMNS, (), ignore_unknown=ignore_unknown):
        user, item = row["userID"].strip(), row["itemID"].strip()
        if not user:
            raise InputError(path, line, "empty userID")
        if not item:
            raise InputError(path, line, "empty itemID")
        users.append(user)
        items.append(item)
        values.append(_number(row["rating"], path, line, "rating"))
        stamps.append(_number(row["timestamp"], path, line, "timestamp"))
    if not users:
        raise InputError(path, None, "no ratings")
    return users, items, np.asarray(values, dtype=np.float32), np.asarray(stamps, dtype=np.float64)


def read_movies(path: Path, *, ignore_unknown: bool = False) -> dict[str, dict[str, Any]]:
    """itemID -> a FilmDoc-like mapping for ``film_text``."""
    docs: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    for line, row in _rows(path, MOVIE_REQUIRED, MOVIE_OPTIONAL, ignore_unknown=ignore_unknown):
        item = row["itemID"].strip()
        if not item:
            raise InputError(path, line, "empty itemID")
        if item in docs:
            raise InputError(path, line, f"duplicate itemID {item!r} (first on line {first_line[item]})")
        first_line[item] = line
        docs[item] = {
            "title": row["title"],
            "genres": row["genres"],
            "overview": row.get("overview", ""),
            "directors": row.get("directors", ""),
            "cast": row.get("actors", ""),
            "tags": row.get("tags", ""),
        }
    if not docs:
        raise InputError(path, None, "no films")
    return docs


def read_users(path: Path) -> list[str]:
    """One id per line; blank lines and a ``userID`` header are skipped, duplicates dropped."""
    if not path.is_file():
        raise InputError(path, None, "file not found")
    out: list[str] = []
    seen: set[str] = set()
    try:
        with path.open(encoding="utf-8-sig") as fh:
            for n, raw in enumerate(fh, start=1):
                user = raw.strip()
                if len(user) >= 2 and user[0] == user[-1] == '"':
                    user = user[1:-1].replace('""', '"').strip()  # written by a CSV writer
                if not user or (n == 1 and user.lower() == "userid"):
                    continue
                if "," in user:
                    raise InputError(path, n, f"expected one user id per line, found {user!r}")
                if user not in seen:
                    seen.add(user)
                    out.append(user)
    except UnicodeDecodeError as exc:
        raise InputError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not out:
        raise InputError(path, None, "no user ids")
    return out


def check_writable(out: Path) -> None:
    """Fail before any training if ``out`` cannot be written (it is written last)."""
    if out.is_dir():
        raise CommandError(f"{out}: is a directory")
    folder = out.parent  # Path("recs.csv").parent is Path(".")
    if not folder.is_dir():
        raise CommandError(f"{folder}: output directory does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=".recs-probe-", dir=folder)
    except OSError as exc:
        raise CommandError(f"{folder}: cannot write there ({exc.strerror})") from None
    os.close(fd)
    os.unlink(probe)


def write_recs(out: Path, users: list[str], item_ids: np.ndarray, ranked: np.ndarray, scores: np.ndarray) -> int:
    """``userID,itemID,prediction`` rows (ranked item -1 ends a user's list); returns the row count.

    Written beside the target, then renamed: a failed run never leaves half a file. The file gets
    the usual permissions (``mkstemp`` would leave it readable by its owner only)."""
    folder = out.parent  # Path("recs.csv").parent is Path(".")
    n = 0
    try:
        fd, tmp = tempfile.mkstemp(prefix=".recs-", suffix=".csv", dir=folder)
    except OSError as exc:
        raise CommandError(f"{folder}: cannot write there ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["userID", "itemID", "prediction"])
            for user, items, vals in zip(users, ranked, scores, strict=True):
                for item, val in zip(items, vals, strict=True):
                    if item < 0:
                        break
                    writer.writerow([user, item_ids[item], f"{float(val):.6f}"])
                    n += 1
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CommandError(f"{out}: cannot write ({exc.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n
