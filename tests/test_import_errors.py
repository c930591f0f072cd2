"""Bad or unusual import files end with a clear message naming file and line, never a crash."""

import csv
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from accounts.models import User
from catalog import importer, movielens
from catalog.models import Genre, Movie, Rating
from tests.test_import_movielens import small, write  # noqa: F401 - the fixture

RATINGS = "userId,movieId,rating,timestamp\n"


def run(folder: Path, *args: str) -> None:
    call_command("import_movielens", str(folder), "--no-progress", *args)


def films(folder: Path, lines: str) -> Path:
    write(folder, "movies.csv", "movieId,title,genres\n" + lines)
    write(folder, "ratings.csv", RATINGS + "1,1,4.0,1\n")
    return folder


def test_database_error_is_not_hidden(db, small, monkeypatch):  # noqa: F811
    def clash(*args, **kwargs):
        Genre.objects.bulk_create([Genre(name="X", slug="x"), Genre(name="X", slug="x")])

    monkeypatch.setattr(importer, "_upsert_ratings", clash)
    with pytest.raises(IntegrityError):
        run(small)


def test_ctrl_c_is_reported_as_an_interruption(db, small, monkeypatch):  # noqa: F811
    def interrupt(*args, **kwargs):
        with transaction.atomic(savepoint=False):  # as inside bulk_create: breaks the transaction
            raise KeyboardInterrupt

    monkeypatch.setattr(importer, "_upsert_ratings", interrupt)
    with pytest.raises(CommandError, match="interrupted"):
        run(small)
    assert not Movie.objects.exists()


def test_genres_with_one_slug_share_a_genre(db, tmp_path):
    run(films(tmp_path, "1,A (1999),Sci-Fi\n2,B (2000),Sci Fi\n"))
    assert Genre.objects.count() == 1
    assert Movie.objects.filter(genres__slug="sci-fi").count() == 2


def test_genre_names_are_trimmed(db, tmp_path):
    run(films(tmp_path, "1,A (1999),Action|Drama\n2,B (2000),Action |Drama\n"))
    assert sorted(Genre.objects.values_list("name", flat=True)) == ["Action", "Drama"]


def test_symbol_only_genres_get_their_own_slugs(db, tmp_path):
    run(films(tmp_path, "1,A (1999),???\n2,B (2000),!!!\n"))
    slugs = list(Genre.objects.values_list("slug", flat=True))
    assert len(set(slugs)) == 2 and all(slugs)


def test_taken_usernames_are_skipped(db, small):  # noqa: F811
    User.objects.create(username="ml_1")
    User.objects.create(username="ml_1_imported")
    run(small)
    assert User.objects.get(movielens_id=1).username == "ml_1_imported_2"


@pytest.mark.parametrize("stamp", ["99999999999999", "253402300800"])
def test_far_future_timestamp_is_refused(db, small, stamp):  # noqa: F811
    write(small, "ratings.csv", RATINGS + f"1,1,4.5,1\n1,2,3.0,{stamp}\n")
    with pytest.raises(CommandError, match="ratings.csv, line 3: timestamp is after the year 9999"):
        run(small)


def test_last_representable_timestamp_is_accepted(db, small):  # noqa: F811
    write(small, "ratings.csv", RATINGS + "1,1,4.5,253402300799\n")
    run(small)
    assert Rating.objects.get().updated_at.year == 9999


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("ratings.csv", RATINGS + "1,1,4.5,1.e400\n", "ratings.csv, line 2: timestamp is out of range"),
        ("movies.csv", "movieId,title,genres\n1.e400,A (1999),Drama\n", "movies.csv, line 2: movieId is out of range"),
        ("movies.csv", f"movieId,title,genres\n{2**63},A (1999),Drama\n", "movies.csv, line 2: movieId must be at most"),
        ("movies.csv", f"movieId,title,genres\n{2**31},A (1999),Drama\n", "movies.csv, line 2: movieId must be at most"),
        ("links.csv", f"movieId,imdbId,tmdbId\n1,0133093,{2**63}\n", "links.csv, line 2: tmdbId must be at most"),
        ("links.csv", f"movieId,imdbId,tmdbId\n1,{10**19},603\n", "links.csv, line 2: imdbId must be at most"),
    ],
)
def test_numbers_out_of_range_are_refused(db, small, name, content, reason):  # noqa: F811
    write(small, name, content)
    with pytest.raises(CommandError, match=reason.replace(".", r"\.")):
        run(small)


def test_byte_order_mark_is_accepted(db, small):  # noqa: F811
    for name in ("movies.csv", "ratings.csv", "links.csv"):
        path = small / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    run(small)
    assert Movie.objects.get(movielens_id=1).imdb_id == "tt0133093"


def test_unclosed_quote_is_reported_where_it_opens(db, small):  # noqa: F811
    write(small, "movies.csv", 'movieId,title,genres\n1,"Unclosed (1999),Drama\n2,B (2000),Drama\n3,C (2001),Drama\n')
    with pytest.raises(CommandError, match="movies.csv, line 2: unreadable CSV"):
        run(small)


def test_unclosed_quote_in_ratings_is_reported_where_it_opens(db, small):  # noqa: F811
    write(small, "ratings.csv", RATINGS + '1,1,4.5,1\n1,"2,3.0,2\n2,1,5.0,3\n')
    with pytest.raises(CommandError, match="ratings.csv, line 3: unreadable CSV"):
        run(small)


def test_long_field_is_read(db, small):  # noqa: F811
    overview = "word " * 40_000  # 200k characters: more than csv's default limit
    write(small, "o.csv", "movieId,title,genres,imdbId,tmdbId,overview,tagline,runtime,tmdb_rating\n" + f"1,x,x,1,1,{overview},,,\n")
    run(small, "--overviews", str(small / "o.csv"))
    assert len(Movie.objects.get(movielens_id=1).overview) == len(overview.strip())


def test_field_beyond_the_limit_names_file_and_line(db, small, monkeypatch):  # noqa: F811
    monkeypatch.setattr(movielens, "MAX_FIELD", 1000)
    previous = csv.field_size_limit(1000)
    try:
        write(small, "movies.csv", "movieId,title,genres\n1,A (1999),Drama\n2," + "x" * 2000 + ",Drama\n")
        with pytest.raises(CommandError, match="movies.csv, line 3: unreadable CSV: a field is longer than 1,000 characters"):
            run(small)
    finally:
        csv.field_size_limit(previous)
