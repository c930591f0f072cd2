"""The MovieLens import: full counts on real data, bad files, idempotent reruns."""

import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from catalog.models import Credit, Movie, Rating


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A tiny dataset in the ml-latest-small layout, made up for tests."""
    write(tmp_path, "movies.csv", 'movieId,title,genres\n1,"Matrix, The (1999)",Action|Sci-Fi\n2,Amélie (2001),Comedy|Romance\n3,Nothing (2003),(no genres listed)\n')
    write(tmp_path, "links.csv", "movieId,imdbId,tmdbId\n1,0133093,603\n2,0211915,194\n3,0298482,\n")
    write(tmp_path, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.5,964982703\n1,2,3.0,964982704\n2,1,5.0,964982705\n")
    write(tmp_path, "tags.csv", "userId,movieId,tag,timestamp\n1,1,cyberpunk,1\n2,1,Cyberpunk,2\n2,1,philosophy,3\n")
    return tmp_path


def snapshot() -> tuple:
    return (
        list(Movie.objects.order_by("pk").values_list("pk", "title", "year", "rating_count", "rating_sum")),
        list(Rating.objects.order_by("pk").values_list("pk", "user_id", "movie_id", "value")),
        User.objects.count(),
    )


def test_small_import(db, small):
    call_command("import_movielens", str(small), "--no-progress")
    matrix = Movie.objects.get(movielens_id=1)
    assert (matrix.title, matrix.year, matrix.imdb_id, matrix.tmdb_id) == ("The Matrix", 1999, "tt0133093", 603)
    assert sorted(g.name for g in matrix.genres.all()) == ["Action", "Sci-Fi"]
    assert matrix.tags == ["cyberpunk", "philosophy"]
    assert (matrix.rating_count, matrix.rating_avg) == (2, 4.75)
    assert Movie.objects.get(movielens_id=3).genres.count() == 0
    ml_users = User.objects.filter(movielens_id__isnull=False)
    assert ml_users.count() == 2
    assert all(not u.is_active and not u.has_usable_password() for u in ml_users)


def test_rerun_changes_nothing(db, small):
    call_command("import_movielens", str(small), "--no-progress")
    before = snapshot()
    call_command("import_movielens", str(small), "--no-progress")
    assert snapshot() == before


def test_changed_rating_is_updated_on_rerun(db, small):
    call_command("import_movielens", str(small), "--no-progress")
    write(small, "ratings.csv", "userId,movieId,rating,timestamp\n1,1,1.0,964982703\n1,2,3.0,964982704\n2,1,5.0,964982705\n")
    call_command("import_movielens", str(small), "--no-progress")
    assert Rating.objects.count() == 3
    assert Movie.objects.get(movielens_id=1).rating_avg == 3.0


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.5,1\n1,2,7.0,2\n", "ratings.csv, line 3: rating must be"),
        ("ratings.csv", "userId,movieId,rating,timestamp\n1,99,4.5,1\n", "ratings.csv, line 2: unknown movieId 99"),
        ("ratings.csv", "userId,movieId,rating\n1,1,4.5\n", "ratings.csv, line 1: expected header"),
        ("ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.5\n", "ratings.csv, line 2: expected 4 fields"),
        ("ratings.csv", "userId,movieId,rating,timestamp\nx,1,4.5,1\n", "ratings.csv, line 2: userId is not a number"),
        ("movies.csv", "movieId,title,genres\n1,A (1999),Drama\n1,B (2000),Drama\n", "movies.csv, line 3: duplicate movieId 1"),
        ("movies.csv", 'movieId,title,genres\n1,"Unclosed (1999),Drama\n', "movies.csv"),
    ],
)
def test_malformed_file_stops_and_changes_nothing(db, small, name, content, reason):
    call_command("import_movielens", str(small), "--no-progress")
    before = snapshot()
    broken = small.parent / f"broken-{small.name}"
    shutil.copytree(small, broken)
    write(broken, name, content)
    with pytest.raises(CommandError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        call_command("import_movielens", str(broken), "--no-progress")
    assert snapshot() == before


def test_non_utf8_file_is_refused(db, small):
    (small / "movies.csv").write_bytes(b"movieId,title,genres\n1,Caf\xe9 (1999),Drama\n")
    with pytest.raises(CommandError, match="movies.csv"):
        call_command("import_movielens", str(small), "--no-progress")
    assert not Movie.objects.exists()


def test_source_or_download_required(db):
    with pytest.raises(CommandError, match="either"):
        call_command("import_movielens")


@pytest.mark.slow
def test_full_ml_latest_small(db, shared_data):
    folder = shared_data / "ml-latest-small"
    overviews = shared_data / "overviews" / "movies_enriched.csv"
    credits = shared_data / "overviews" / "directors_actors.csv"
    call_command("import_movielens", str(folder), "--overviews", str(overviews), "--credits", str(credits), "--no-progress")
    assert Movie.objects.count() == 9742
    assert Rating.objects.count() == 100836
    assert User.objects.filter(movielens_id__isnull=False).count() == 610
    assert Rating.objects.values("user_id").distinct().count() == 610
    toy = Movie.objects.get(movielens_id=1)
    assert toy.title == "Toy Story" and toy.year == 1995 and toy.overview
    assert Credit.objects.filter(movie=toy, role="director").exists()
    assert not Movie.objects.filter(credits__person__name__contains="&amp;").exists()
    assert Movie.objects.exclude(overview="").count() >= 9600
    before = (Movie.objects.count(), Rating.objects.count(), Credit.objects.count(), User.objects.count())
    call_command("import_movielens", str(folder), "--overviews", str(overviews), "--credits", str(credits), "--no-progress")
    assert (Movie.objects.count(), Rating.objects.count(), Credit.objects.count(), User.objects.count()) == before
