"""Re-importing adds films and fills blanks, never undoes what is stored; --overwrite replaces."""

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command

from catalog import importer, movielens
from catalog.models import Credit, Genre, Movie
from tests.test_import_movielens import small, write  # noqa: F401 - the fixture

OVERVIEWS = "movieId,title,genres,imdbId,tmdbId,overview,tagline,runtime,tmdb_rating\n"
CREDITS = ",movieId,directors,actors\n"
LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)


@pytest.fixture
def side(small: Path) -> Path:  # noqa: F811
    """The small dataset plus an overviews and a credits file for both rated films."""
    write(small, "overviews.csv", OVERVIEWS + "1,x,x,1,1,Neo wakes up.,Free your mind,136,8\n2,x,x,1,1,A waitress.,Shy,122,8\n")
    write(small, "credits.csv", CREDITS + "0,1,Lana Wachowski,Keanu Reeves|Carrie-Anne Moss\n")
    return small


def run(folder: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_movielens", str(folder), "--no-progress", *args, stdout=out)
    return out.getvalue()


def run_side(folder: Path, *args: str) -> str:
    return run(folder, "--overviews", str(folder / "overviews.csv"), "--credits", str(folder / "credits.csv"), *args)


def matrix() -> Movie:
    return Movie.objects.get(movielens_id=1)


def cast_of(movie: Movie) -> list[str]:
    return list(movie.credits.filter(role="cast").order_by("order").values_list("person__name", flat=True))


def test_reimport_without_side_files_keeps_their_values(db, side):
    run_side(side)
    (side / "links.csv").unlink()
    (side / "tags.csv").unlink()
    run(side)
    film = matrix()
    assert (film.overview, film.tagline, film.runtime) == ("Neo wakes up.", "Free your mind", 136)
    assert (film.imdb_id, film.tmdb_id, film.tags) == ("tt0133093", 603, ["cyberpunk", "philosophy"])
    assert cast_of(film) == ["Keanu Reeves", "Carrie-Anne Moss"]


def test_overviews_of_some_films_keep_the_others(db, side):
    run_side(side)
    write(side, "overviews.csv", OVERVIEWS + "2,x,x,1,1,A waitress in Paris.,Shy,122,8\n")
    run(side, "--overviews", str(side / "overviews.csv"), "--overwrite")
    assert matrix().overview == "Neo wakes up."


def test_reimport_fills_blank_fields(db, side):
    run(side)
    assert matrix().overview == ""
    run_side(side)
    assert matrix().overview == "Neo wakes up."


def test_reimport_keeps_staff_edits(db, side):
    run_side(side)
    Movie.objects.filter(movielens_id=1).update(title="Matrix (staff)", overview="Staff words.", tags=["staff"], runtime=140)
    out = run_side(side)
    film = matrix()
    assert (film.title, film.overview, film.tags, film.runtime) == ("Matrix (staff)", "Staff words.", ["staff"], 140)
    assert "1 films differ from the files and were left as stored; use --overwrite to replace" in out


def test_overwrite_replaces_staff_edits(db, side):
    run_side(side)
    Movie.objects.filter(movielens_id=1).update(title="Matrix (staff)", overview="Staff words.")
    run_side(side, "--overwrite")
    assert (matrix().title, matrix().overview) == ("The Matrix", "Neo wakes up.")


def test_overwrite_without_a_side_file_keeps_its_fields(db, side):
    run_side(side)
    run(side, "--overwrite")
    assert (matrix().overview, cast_of(matrix())) == ("Neo wakes up.", ["Keanu Reeves", "Carrie-Anne Moss"])


def test_reimport_keeps_genre_links_staff_added(db, small):  # noqa: F811
    run(small)
    matrix().genres.add(Genre.objects.create(name="Drama", slug="drama"))
    run(small)
    assert set(matrix().genres.values_list("name", flat=True)) == {"Action", "Sci-Fi", "Drama"}


def test_overwrite_removes_genre_links_the_file_lacks(db, small):  # noqa: F811
    run(small)
    matrix().genres.add(Genre.objects.create(name="Drama", slug="drama"))
    run(small, "--overwrite")
    assert set(matrix().genres.values_list("name", flat=True)) == {"Action", "Sci-Fi"}


def test_changed_credits_are_not_added_to_stored_ones(db, side):
    run_side(side)
    write(side, "credits.csv", CREDITS + "0,1,Lilly Wachowski,Carrie-Anne Moss|Keanu Reeves\n")
    run_side(side)
    assert list(matrix().credits.filter(role="director").values_list("person__name", flat=True)) == ["Lana Wachowski"]
    assert cast_of(matrix()) == ["Keanu Reeves", "Carrie-Anne Moss"]


def test_deleted_credit_does_not_come_back(db, side):
    run_side(side)
    Credit.objects.filter(person__name="Carrie-Anne Moss").delete()
    run_side(side)
    assert cast_of(matrix()) == ["Keanu Reeves"]


def test_overwrite_replaces_credits(db, side):
    run_side(side)
    write(side, "credits.csv", CREDITS + "0,1,Lilly Wachowski,Carrie-Anne Moss|Keanu Reeves\n")
    run_side(side, "--overwrite")
    assert list(matrix().credits.filter(role="director").values_list("person__name", flat=True)) == ["Lilly Wachowski"]
    assert cast_of(matrix()) == ["Carrie-Anne Moss", "Keanu Reeves"]


def test_film_without_movielens_id_is_linked_not_duplicated(db, small):  # noqa: F811
    starter = Movie.objects.create(title="The Matrix", year=1999, overview="Starter words.")
    run(small)
    assert Movie.objects.filter(year=1999).count() == 1
    film = Movie.objects.get(pk=starter.pk)
    assert (film.movielens_id, film.overview, film.imdb_id) == (1, "Starter words.", "tt0133093")


def test_film_titled_or_dated_otherwise_is_linked_by_imdb_id(db, small):  # noqa: F811
    # MovieLens may give a longer title and another year than the starter catalogue.
    starter = Movie.objects.create(title="Matrix", year=1998, imdb_id="tt0133093")
    run(small)
    assert Movie.objects.filter(imdb_id="tt0133093").count() == 1
    assert Movie.objects.get(pk=starter.pk).movielens_id == 1


def test_alternate_title_in_brackets_still_links(db, small):  # noqa: F811
    write(small, "movies.csv", 'movieId,title,genres\n1,Seven (a.k.a. Se7en) (1995),Thriller\n2,Amélie (2001),Comedy\n3,Nothing (2003),Drama\n')
    write(small, "links.csv", "movieId,imdbId,tmdbId\n1,,\n2,0211915,194\n3,0298482,\n")
    starter = Movie.objects.create(title="Seven", year=1995)
    run(small)
    assert Movie.objects.get(pk=starter.pk).movielens_id == 1 and Movie.objects.filter(year=1995).count() == 1


def test_load_starter_after_movielens_skips_films_it_holds_under_other_titles(db, small):  # noqa: F811
    from catalog.starter import load_starter_catalogue, starter_films

    film = next(f for f in starter_films() if f.get("imdb_id"))
    Movie.objects.create(title=f"{film['title']}: The Longer Title", year=film["year"] + 1, imdb_id=film["imdb_id"])
    load_starter_catalogue()
    assert Movie.objects.filter(imdb_id=film["imdb_id"]).count() == 1


def test_updated_at_moves_for_filled_films(db, side):
    run(side)
    Movie.objects.filter(movielens_id=1).update(updated_at=LONG_AGO)
    run_side(side)
    assert matrix().updated_at > LONG_AGO


def test_updated_at_moves_for_new_genre_links(db, small):  # noqa: F811
    run(small)
    Movie.objects.filter(movielens_id=3).update(updated_at=LONG_AGO)
    write(small, "movies.csv", (small / "movies.csv").read_text().replace("(no genres listed)", "Drama"))
    run(small)
    assert Movie.objects.get(movielens_id=3).updated_at > LONG_AGO


def test_film_updates_show_progress(db, side):
    run(side)
    seen: dict[str, int] = {}

    def record(label, items):
        if isinstance(items, importer.RowBatches):
            seen[label] = items.rows
        return items

    data = movielens.parse_dataset(side, overviews=side / "overviews.csv")
    importer.import_dataset(data, progress=record)
    assert seen["film updates"] == 2
