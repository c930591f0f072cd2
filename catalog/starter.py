"""The starter catalogue shipped with the project, so the site works offline."""

from __future__ import annotations

import json
from pathlib import Path

from catalog.models import Movie
from catalog.services import credits_set, genres_ensure
from movierec.mongo import atomic

STARTER_FILE = Path(__file__).resolve().parent / "starter" / "films.json"


def starter_films(path: Path = STARTER_FILE) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


@atomic
def load_starter_catalogue(path: Path = STARTER_FILE) -> int:
    """Create the starter films that are missing (matched by title and year); returns how many."""
    created = 0
    for film in starter_films(path):
        movie, was_created = Movie.objects.get_or_create(
            title=film["title"],
            year=film["year"],
            defaults={
                "overview": film.get("overview", ""),
                "runtime": film.get("runtime"),
                "imdb_id": film.get("imdb_id") or "",
                "tags": film.get("tags", []),
            },
        )
        if was_created:
            movie.genres.set(genres_ensure(film.get("genres", [])))
            credits_set(movie, directors=film.get("directors", []), cast=film.get("cast", []))
            created += 1
    return created
