"""The starter catalogue shipped with the project, so the site works offline."""

from __future__ import annotations

import json
from pathlib import Path

from catalog.models import Movie
from catalog.services import credits_set, genres_ensure
from catalog.text import fold_words
from movierec.mongo import atomic

STARTER_FILE = Path(__file__).resolve().parent / "starter" / "films.json"


def starter_films(path: Path = STARTER_FILE) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


@atomic
def load_starter_catalogue(path: Path = STARTER_FILE) -> int:
    """Create the starter films that are missing; returns how many. A film is present when one
    with its IMDb id is (MovieLens may title it "Star Wars: Episode IV - A New Hope" and date it
    a year apart), or one with its folded title and year.

    Never get_or_create: the catalogue may hold the same title and year twice (an import, staff),
    which made it raise MultipleObjectsReturned.
    """
    films = starter_films(path)
    stored = Movie.objects.filter(year__in={film["year"] for film in films}).values_list("title", "year")
    present = {(fold_words(title), year) for title, year in stored}
    imdb_ids = [film["imdb_id"] for film in films if film.get("imdb_id")]
    known_imdb = set(Movie.objects.filter(imdb_id__in=imdb_ids).values_list("imdb_id", flat=True))
    created = 0
    for film in films:
        key = (fold_words(film["title"]), film["year"])
        if key in present or film.get("imdb_id") in known_imdb:
            continue
        present.add(key)
        movie = Movie.objects.create(
            title=film["title"],
            year=film["year"],
            overview=film.get("overview", ""),
            runtime=film.get("runtime"),
            imdb_id=film.get("imdb_id") or "",
            tags=film.get("tags", []),
        )
        movie.genres.set(genres_ensure(film.get("genres", [])))
        credits_set(movie, directors=film.get("directors", []), cast=film.get("cast", []))
        created += 1
    return created
