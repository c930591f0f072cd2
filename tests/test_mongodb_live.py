"""What only a live MongoDB can show: migrations applied, transactions on a replica
set, ObjectId keys through URLs, unique indexes, and the backend limits we design
around. The rest of the suite runs against MongoDB too when MONGODB_URI is set
(scripts/mongo_test.sh); here, without a server, every test is reported SKIPPED.
"""

from __future__ import annotations

import os

import pytest

MONGODB_URI = os.environ.get("MONGODB_URI", "")


def _unreachable_reason() -> str | None:
    if not MONGODB_URI:
        return "MONGODB_URI not set: no MongoDB server on this machine"
    try:
        from pymongo import MongoClient

        client = MongoClient(MONGODB_URI, serverSelectionTimeoutMS=3000)
        try:
            client.admin.command("ping")
        finally:
            client.close()
    except Exception as exc:  # any failure to reach the server: report it, do not hide it
        return f"MONGODB_URI set but the server is unreachable: {type(exc).__name__}"
    return None


SKIP_REASON = _unreachable_reason()
pytestmark = [pytest.mark.mongodb, pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")]


@pytest.fixture
def mongo_connection(db):
    from django.db import connection

    assert connection.vendor == "mongodb", "MONGODB_URI is set, so the test settings must use MongoDB"
    return connection


def test_every_migration_is_applied(mongo_connection):
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(mongo_connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []


def test_ping(mongo_connection):
    from movierec.mongo import ping_database

    ping_database()


def test_replica_set_supports_transactions(mongo_connection):
    # compose.yaml runs a one-node replica set for exactly this.
    assert mongo_connection.features._supports_transactions


def test_portable_atomic_rolls_back(mongo_connection):
    from catalog.models import Genre
    from movierec.mongo import atomic

    with pytest.raises(RuntimeError), atomic():
        Genre.objects.create(name="Rolled back")
        raise RuntimeError("abort")
    assert not Genre.objects.filter(name="Rolled back").exists()


def test_djangos_own_atomic_does_not_roll_back_here(mongo_connection):
    """The reason movierec.mongo.atomic exists: django.db.transaction.atomic is a no-op on this backend."""
    from django.db import transaction

    from catalog.models import Genre

    with pytest.raises(RuntimeError), transaction.atomic():
        Genre.objects.create(name="Kept")
        raise RuntimeError("abort")
    assert Genre.objects.filter(name="Kept").exists()


def test_object_id_keys_round_trip_through_urls(mongo_connection):
    from bson import ObjectId
    from django.urls import resolve, reverse

    from tests.factories import MovieFactory

    movie = MovieFactory()
    assert isinstance(movie.pk, ObjectId)
    url = reverse("catalog:movie_detail", args=[movie.pk])
    match = resolve(url)
    from catalog.models import Movie

    assert Movie.objects.get(pk=match.kwargs["pk"]) == movie


def test_unique_constraint_is_a_unique_index(mongo_connection):
    from django.db import IntegrityError
    from django.utils import timezone

    from catalog.models import Rating
    from tests.factories import MovieFactory, UserFactory

    user, movie, now = UserFactory(), MovieFactory(), timezone.now()
    Rating.objects.create(user=user, movie=movie, value=4.0, created_at=now, updated_at=now)
    with pytest.raises(IntegrityError):
        Rating.objects.create(user=user, movie=movie, value=2.0, created_at=now, updated_at=now)


def test_account_deletion_cascades(mongo_connection):
    from django.utils import timezone

    from catalog.models import Rating, WatchlistItem
    from tests.factories import MovieFactory, UserFactory

    user, movie, now = UserFactory(), MovieFactory(), timezone.now()
    Rating.objects.create(user=user, movie=movie, value=4.0, created_at=now, updated_at=now)
    WatchlistItem.objects.create(user=user, movie=movie)
    user.delete()
    assert not Rating.objects.exists() and not WatchlistItem.objects.exists()


def test_limits_we_design_around(mongo_connection):
    """Pin the backend behaviour docs/mongodb.md relies on; a backend upgrade that changes it fails here."""
    from django.core.exceptions import ValidationError
    from django.db import NotSupportedError

    from catalog.models import Movie

    with pytest.raises(NotSupportedError):
        list(Movie.objects.prefetch_related("genres"))  # many-to-many prefetch needs extra()
    with pytest.raises(ValidationError):
        Movie.objects.filter(pk=1).exists()  # no integer keys: pk=1 singletons do not work
    list(Movie.objects.prefetch_related("credits"))  # reverse foreign-key prefetch is fine
