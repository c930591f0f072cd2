"""Turn a film's metadata into the text the sentence encoder embeds.

Template (parts that are missing are left out, never rendered as "None")::

    Toy Story (1995). Genres: Animation, Children, Comedy. Directed by John
    Lasseter. Starring Tom Hanks, Tim Allen. Tags: pixar, toys. <overview>

The overview goes last on purpose: the encoder truncates at ``max_length``
tokens, so the short, high-signal structured parts always survive and only the
tail of a long overview is cut.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FilmDoc", "film_short_text", "film_text"]

# Caps keep the structured header well inside the 128-token window.
MAX_DIRECTORS = 3
MAX_CAST = 5
MAX_TAGS = 10
MAX_GENRES = 8

# MovieLens writes its "no genre" marker as a genre.
_NO_GENRES = {"(no genres listed)"}
_TRAILING_YEAR = re.compile(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
# MovieLens files articles at the end ("Matrix, The"); move them back to the front.
_TRAILING_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<art>The|A|An)$")
_SPACES = re.compile(r"\s+")


@dataclass
class FilmDoc:
    """Everything ``film_text`` reads; any other object or Mapping with these names works too."""

    title: str = ""
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    directors: list[str] = field(default_factory=list)
    cast: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    overview: str = ""


def _get(film: Any, name: str) -> Any:
    if isinstance(film, Mapping):
        return film.get(name)
    return getattr(film, name, None)


def _clean(value: Any) -> str:
    """One line of text: whitespace collapsed, None and NaN become ''."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return _SPACES.sub(" ", str(value)).strip()


def _items(value: Any, cap: int) -> list[str]:
    """Distinct non-empty strings in order; a plain string is split on '|' (MovieLens style)."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split("|")
    elif not isinstance(value, Iterable):
        value = [value]
    seen: set[str] = set()
    out: list[str] = []
    for item in value:
        text = _clean(item)
        key = text.casefold()
        if text and key not in seen and text not in _NO_GENRES:
            seen.add(key)
            out.append(text)
        if len(out) == cap:
            break
    return out


def _year(value: Any) -> int | None:
    try:
        year = int(value)
    except (TypeError, ValueError):
        return None
    return year if 1800 <= year <= 2200 else None


def _title_and_year(film: Any) -> tuple[str, int | None]:
    """Natural title plus year; a "(1995)" already in the title is not repeated."""
    title = _clean(_get(film, "title"))
    year = _year(_get(film, "year"))
    match = _TRAILING_YEAR.search(title)
    if match:
        title = title[: match.start()].strip()
        year = year or _year(match.group(1))
    article = _TRAILING_ARTICLE.match(title)
    if article:
        title = f"{article['art']} {article['rest']}"
    return title, year


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "…")) else text + "."


def _heading(film: Any) -> str:
    title, year = _title_and_year(film)
    if title and year:
        return f"{title} ({year})"
    return title or (str(year) if year else "")


def film_text(film: Any) -> str:
    """Render ``film`` (FilmDoc, any object, or Mapping) with the module's template."""
    parts: list[str] = []
    heading = _heading(film)
    if heading:
        parts.append(_sentence(heading))
    genres = _items(_get(film, "genres"), MAX_GENRES)
    if genres:
        parts.append(f"Genres: {', '.join(genres)}.")
    directors = _items(_get(film, "directors"), MAX_DIRECTORS)
    if directors:
        parts.append(f"Directed by {', '.join(directors)}.")
    cast = _items(_get(film, "cast"), MAX_CAST)
    if cast:
        parts.append(f"Starring {', '.join(cast)}.")
    tags = _items(_get(film, "tags"), MAX_TAGS)
    if tags:
        parts.append(f"Tags: {', '.join(tags)}.")
    overview = _clean(_get(film, "overview"))
    if overview:
        parts.append(overview)
    return " ".join(parts)


def film_short_text(film: Any, max_genres: int = 3) -> str:
    """Compact "Title (year) [Genre, Genre]" form, for listing several films in one text
    (e.g. a user's history in a training pair) without blowing the token budget."""
    heading = _heading(film)
    genres = _items(_get(film, "genres"), max_genres)
    if genres:
        return f"{heading} [{', '.join(genres)}]".strip()
    return heading
