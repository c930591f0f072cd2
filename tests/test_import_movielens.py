"""The MovieLens import: full counts on real data, bad files, idempotent reruns."""

import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db.models import QuerySet

from accounts.models import User
from catalog import importer, movielens
from catalog.models import Credit, Movie, Rating


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A tiny dataset in the ml-latest-small layout, made up for tests."""
    write(
        tmp_path,
        "movies.csv",
        'movieId,title,genres\n1,"Matrix, The (1999)",Action|Sci-Fi\n2,Amélie (2001),Comedy|Romance\n3,Nothing (2003),(no genres listed)\n',
    )
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


# --- scale (#8): numpy parsing, chunked writes ------------------------------------------------


def big_dataset(folder: Path, users: int = 300, films: int = 40, *, value=lambda u, m: 0.5 + (u * 7 + m) % 10 / 2) -> Path:
    """users x films ratings (12k by default), sorted like MovieLens files are."""
    folder.mkdir(parents=True, exist_ok=True)
    write(folder, "movies.csv", "movieId,title,genres\n" + "".join(f"{m},Film {m} (2000),Drama\n" for m in range(1, films + 1)))
    lines = (f"{u},{m},{value(u, m):.1f},{1_000_000 + u * 100 + m}\n" for u in range(1, users + 1) for m in range(1, films + 1))
    write(folder, "ratings.csv", "userId,movieId,rating,timestamp\n" + "".join(lines))
    return folder


@pytest.fixture
def small_blocks(monkeypatch):
    """Parse in ~4 kB blocks and write in chunks of 7, so every path crosses many boundaries."""
    monkeypatch.setattr(movielens, "BLOCK_BYTES", 4096)
    monkeypatch.setattr(importer, "CHUNK", 7)


def counters_match_ratings() -> bool:
    want = {}
    for movie_id, value in Rating.objects.values_list("movie_id", "value"):
        count, total = want.get(movie_id, (0, 0.0))
        want[movie_id] = (count + 1, total + value)
    have = {pk: (c, s) for pk, c, s in Movie.objects.values_list("pk", "rating_count", "rating_sum") if c}
    return have == want


def test_fast_and_row_parsers_agree(tmp_path, monkeypatch, small_blocks):
    folder = big_dataset(tmp_path / "d", users=50)
    movies = movielens.parse_movies(folder / "movies.csv")
    fast = movielens.parse_ratings(folder / "ratings.csv", movies)
    monkeypatch.setattr(movielens, "_fast_block", lambda *args: None)
    slow = movielens.parse_ratings(folder / "ratings.csv", movies)
    assert len(fast) == 2000
    for name in ("user", "movie", "value", "timestamp", "line"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    assert fast.line[0] == 2 and fast.line[-1] == 2001


def test_row_parser_accepts_what_it_always_did(tmp_path):
    folder = big_dataset(tmp_path / "d", users=1, films=3)
    write(folder, "ratings.csv", 'userId,movieId,rating,timestamp\n1,1,4.5,10\n\n"2",2,4,11\n3.0,3, 0.5 ,12.0\n')
    ratings = movielens.parse_ratings(folder / "ratings.csv", movielens.parse_movies(folder / "movies.csv"))
    assert ratings.user.tolist() == [1, 2, 3]
    assert ratings.value.tolist() == [4.5, 4.0, 0.5]
    assert ratings.timestamp.tolist() == [10, 11, 12]
    assert ratings.line.tolist() == [2, 4, 5]


def test_duplicate_reports_the_second_occurrence(db, tmp_path, small_blocks):
    folder = big_dataset(tmp_path / "d")
    text = (folder / "ratings.csv").read_text()
    write(folder, "ratings.csv", text + "1,3,2.0,5\n" + "7,2,1.0,5\n")  # repeats lines 4 and 243
    with pytest.raises(CommandError, match=r"ratings.csv, line 12002: duplicate rating for user 1, movie 3"):
        call_command("import_movielens", str(folder), "--no-progress")
    assert not Rating.objects.exists() and not Movie.objects.exists()


def test_duplicate_before_a_bad_line_is_reported_first(tmp_path, small_blocks):
    folder = big_dataset(tmp_path / "d")
    lines = (folder / "ratings.csv").read_text().splitlines(keepends=True)
    lines.insert(5000, "1,1,3.0,1\n")  # line 5001 repeats line 2
    lines[9000] = "9,9,9.0,9\n"  # a bad rating further down
    write(folder, "ratings.csv", "".join(lines))
    movies = movielens.parse_movies(folder / "movies.csv")
    with pytest.raises(movielens.ImportFormatError) as exc:
        movielens.parse_ratings(folder / "ratings.csv", movies)
    assert (exc.value.line, exc.value.reason) == (5001, "duplicate rating for user 1, movie 1")


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("300,40,4.75,1", "rating must be 0.5 to 5.0 in half steps, got '4.75'"),
        ("300,41,4.0,1", "unknown movieId 41"),
        ("300,40,4.0", "expected 4 fields, got 3"),
        ("300,40,4.0,-5", "timestamp must be a non-negative integer: '-5'"),
        ("3x0,40,4.0,5", "userId is not a number: '3x0'"),
    ],
)
def test_bad_line_late_in_a_big_file_changes_nothing(db, tmp_path, small_blocks, bad, reason):
    folder = big_dataset(tmp_path / "d")
    call_command("import_movielens", str(folder), "--no-progress")
    before = snapshot()
    lines = (folder / "ratings.csv").read_text().splitlines(keepends=True)
    lines = [line.replace(",3.0,", ",3.5,") for line in lines]  # would update ~1,200 ratings
    lines[-1] = bad + "\n"
    write(folder, "ratings.csv", "".join(lines))
    with pytest.raises(CommandError, match=f"ratings.csv, line {len(lines)}: {re.escape(reason)}"):
        call_command("import_movielens", str(folder), "--no-progress")
    assert snapshot() == before


def test_failure_while_writing_rolls_back(db, tmp_path, small_blocks, monkeypatch):
    folder = big_dataset(tmp_path / "d")
    call_command("import_movielens", str(folder), "--no-progress")
    before = snapshot()
    big_dataset(folder, users=320, value=lambda u, m: 5.0)  # updates and creations
    real, calls = importer._create_chunk, []

    def fail_late(*args, **kwargs):
        calls.append(1)
        if len(calls) == 30:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "_create_chunk", fail_late)
    with pytest.raises(RuntimeError, match="disk full"):
        call_command("import_movielens", str(folder), "--no-progress")
    assert snapshot() == before


def test_reimport_updates_only_changed_ratings(db, tmp_path, small_blocks, monkeypatch):
    folder = big_dataset(tmp_path / "d")
    data = movielens.parse_dataset(folder)
    first = importer.import_dataset(data)
    assert (first.ratings_created, first.ratings_updated, first.users_created) == (12000, 0, 300)
    values = dict(Rating.objects.values_list("pk", "value"))
    changed = {(5, 7): 0.5, (300, 40): 5.0, (123, 1): 2.5}
    current = {(u, m): v for u, m, v in zip(data.ratings.user, data.ratings.movie, data.ratings.value, strict=True)}
    assert all(current[key] != value for key, value in changed.items())
    big_dataset(folder, value=lambda u, m: changed.get((u, m), 0.5 + (u * 7 + m) % 10 / 2))
    # A rating by a site user (not in the file) is left alone and still counts.
    film = Movie.objects.get(movielens_id=7)
    Rating.objects.create(
        user=User.objects.create(username="site"), movie=film, value=1.0, created_at=film.created_at, updated_at=film.created_at
    )
    written: list[int] = []
    real = QuerySet.bulk_update

    def spy(self, objs, fields, *args, **kwargs):
        if self.model is Rating:
            written.extend(o.pk for o in objs)
        return real(self, objs, fields, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "bulk_update", spy)
    second = importer.import_dataset(movielens.parse_dataset(folder))
    assert (second.ratings_created, second.ratings_updated, second.users_created) == (0, 3, 0)
    after = Rating.objects.select_related("user", "movie")
    moved = {(r.user.movielens_id, r.movie.movielens_id): r.value for r in after if r.value != values.get(r.pk)}
    assert moved == {**changed, (None, 7): 1.0}
    assert sorted(written) == sorted(r.pk for r in after if r.value != values.get(r.pk) and r.user.movielens_id)
    assert counters_match_ratings()
    third = importer.import_dataset(movielens.parse_dataset(folder))
    assert not third.changed


def test_chunk_boundaries(db, tmp_path, monkeypatch):
    folder = big_dataset(tmp_path / "d", users=5, films=4)  # 20 ratings
    monkeypatch.setattr(importer, "CHUNK", 3)
    seen: dict[str, list[int]] = {}

    def record(label, items):
        if not isinstance(items, importer.RowBatches):
            yield from items
            return
        seen[label] = [items.rows]
        for batch in items:
            seen[label].append(len(batch))
            yield batch

    stats = importer.import_dataset(movielens.parse_dataset(folder), progress=record)
    assert stats.ratings_created == Rating.objects.count() == 20
    assert seen["ratings"] == [20, 3, 3, 3, 3, 3, 3, 2]
    assert seen["existing ratings"] == [0]
    assert counters_match_ratings()
    # Grow to 7 users with one more film rated by everyone: pages of 3 over 20 stored ratings.
    big_dataset(folder, users=7, films=5, value=lambda u, m: 1.0 if m == 5 else 0.5 + (u * 7 + m) % 10 / 2)
    seen.clear()
    stats = importer.import_dataset(movielens.parse_dataset(folder), chunk_size=4, progress=record)
    assert (stats.ratings_created, stats.ratings_updated) == (15, 0)
    assert seen["existing ratings"] == [20, 4, 4, 4, 4, 4]
    assert seen["ratings"] == [35, *[4] * 8, 3]
    assert Rating.objects.count() == 35 and counters_match_ratings()


def test_progress_bars_count_rows(db, tmp_path):
    folder = big_dataset(tmp_path / "d", users=3, films=2)
    err = io.StringIO()
    call_command("import_movielens", str(folder), stdout=io.StringIO(), stderr=err)
    assert "ratings: 100%" in err.getvalue() and "6/6" in err.getvalue()
