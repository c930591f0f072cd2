"""An import runs with a bigger SQLite page cache (its one transaction outgrew the default at
ML-32M size) and gives the connection its own setting back afterwards, also when it fails."""

import pytest
from django.db import connection

from catalog import importer, movielens
from tests.test_import_movielens import small  # noqa: F401 - the fixture


def cache_size() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        return int(cursor.fetchone()[0])


def test_import_uses_the_bigger_cache_then_restores(db, small):  # noqa: F811
    before = cache_size()
    seen: list[int] = []

    def progress(label, items):
        seen.append(cache_size())
        return items

    importer.import_dataset(movielens.parse_dataset(small), progress=progress, cache_mb=64)
    assert seen and set(seen) == {-64 * 1024}
    assert cache_size() == before
    assert importer.IMPORT_CACHE_MB >= 256  # room for the film index of a 32M-rating import


def test_failed_import_restores_the_cache(db, small, monkeypatch):  # noqa: F811
    before = cache_size()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "_upsert_ratings", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        importer.import_dataset(movielens.parse_dataset(small), cache_mb=64)
    assert cache_size() == before


def test_command_takes_the_cache_size(db, small, monkeypatch):  # noqa: F811
    from django.core.management import call_command

    sizes: list[int] = []
    real = importer.sqlite_page_cache

    def spy(megabytes: int):
        sizes.append(megabytes)
        return real(megabytes)

    monkeypatch.setattr(importer, "sqlite_page_cache", spy)
    call_command("import_movielens", str(small), "--no-progress", "--cache-mb", "32")
    assert sizes == [32]
    with pytest.raises(Exception, match="invalid int"):
        call_command("import_movielens", str(small), "--no-progress", "--cache-mb", "lots")
