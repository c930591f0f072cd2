"""What only a live MongoDB can show: migrations applied, transactions on a replica
set, ObjectId keys through URLs and the API, unique indexes, the backend limits we
design around, and issue #9's changes (singletons by key and the training lock,
genres without many-to-many prefetch, artifacts with ObjectId ids, the health ping). The rest of the suite runs against MongoDB too when MONGODB_URI is set
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


# --- What issue #9 changed, on the real backend ----------------------------------------
def test_singletons_by_natural_key(mongo_connection):
    from bson import ObjectId
    from django.db import IntegrityError

    from recommendations.models import ActiveModel, TrainingState

    state = TrainingState.load()
    assert isinstance(state.pk, ObjectId) and TrainingState.load().pk == state.pk
    with pytest.raises(IntegrityError):
        TrainingState.objects.create()  # the unique index on `slot` keeps it one row
    # The training lock is a conditional single-document update: the second taker gets 0.
    assert TrainingState.objects.singleton().filter(lock_owner="").update(lock_owner="v1") == 1
    assert TrainingState.objects.singleton().filter(lock_owner="").update(lock_owner="v2") == 0
    assert TrainingState.objects.singleton().get().lock_owner == "v1"
    assert ActiveModel.load().version is None and ActiveModel.objects.count() == 1


def test_promotion_moves_the_singleton_pointer(mongo_connection):
    from recommendations import services, store
    from recommendations.models import ActiveModel, ModelVersion

    version = ModelVersion.objects.create(status=ModelVersion.Status.READY, embeddings_path="x.npz")
    services.model_version_promote(version)  # movierec.mongo.atomic: a replica-set transaction
    assert store.active_version_id() == version.pk == ActiveModel.objects.singleton().get().version_id


def test_genres_load_without_many_to_many_prefetch(mongo_connection):
    from catalog.models import Genre, Movie, Rating, attach_genres
    from catalog.selectors import movie_base_queryset
    from tests.factories import MovieFactory, RatingFactory, UserFactory

    drama, crime = Genre.objects.create(name="Drama"), Genre.objects.create(name="Crime")
    heat, other = MovieFactory(title="Heat"), MovieFactory(title="Other")
    heat.genres.set([drama, crime])
    names = {m.pk: [g.name for g in m.genres.all()] for m in movie_base_queryset()}
    assert names == {heat.pk: ["Crime", "Drama"], other.pk: []}
    user = UserFactory()
    RatingFactory(user=user, movie=heat, value=4.0)
    rating = Rating.objects.filter(user=user).select_related("movie").with_genres("movie").get()
    assert [g.name for g in rating.movie.genres.all()] == ["Crime", "Drama"]
    fresh = Movie.objects.get(pk=heat.pk)
    attach_genres([fresh])
    assert [g.name for g in fresh.genres.all()] == ["Crime", "Drama"]


def test_artifact_round_trip_with_object_ids(mongo_connection, tmp_path, settings):
    import numpy as np
    from bson import ObjectId

    from recommendations import store
    from recommendations.collab_store import ratings_arrays, train_collab
    from recommendations.ids import ids_from_store
    from recommendations.models import ModelVersion
    from tests.factories import MovieFactory, RatingFactory, UserFactory

    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    movies = [MovieFactory(title=f"Film {i}") for i in range(4)]
    for u in range(3):
        user = UserFactory()
        for movie in movies[u : u + 2]:
            RatingFactory(user=user, movie=movie, value=4.0)
    ids = np.empty(len(movies), dtype=object)
    ids[:] = [m.pk for m in movies]
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY)
    version.embeddings_path = store.save_embeddings(version.pk, ids, np.eye(4, dtype=np.float32), np.array(["h"] * 4))
    users, rated, _values, _stamps = ratings_arrays()
    assert rated.dtype == object and isinstance(rated[0], ObjectId)
    version.collab_path = train_collab(version.pk, users, rated, lam=10.0)["path"]
    version.save()
    stored = store.load_npz(version.embeddings_path)["movie_ids"]
    assert stored.dtype.kind == "U" and stored.tolist() == [str(m.pk) for m in movies]
    bundle = store.load_bundle(version)
    assert bundle.movie_ids.tolist() == [m.pk for m in movies] and bundle.row_of[movies[2].pk] == 2
    assert bundle.collab is not None and (bundle.collab_rows >= 0).all()
    assert ids_from_store(stored).tolist() == [m.pk for m in movies]


def test_api_ids_are_object_id_strings(mongo_connection):
    from rest_framework.test import APIClient

    from tests.factories import MovieFactory, UserFactory

    movie, user = MovieFactory(title="Heat"), UserFactory()
    body = APIClient().get(f"/api/v1/movies/{movie.pk}/").json()
    assert body["id"] == str(movie.pk)
    client = APIClient()
    client.force_authenticate(user)
    created = client.post("/api/v1/me/ratings/", {"movie": str(movie.pk), "rating": 4.5}, format="json")
    assert created.status_code == 201 and created.json()["movie"]["id"] == str(movie.pk)
    assert client.post("/api/v1/me/ratings/", {"movie": 5, "rating": 4.5}, format="json").status_code == 400


def test_health_pings_the_server(mongo_connection):
    from rest_framework.test import APIClient

    body = APIClient().get("/api/v1/health/").json()
    assert body["database"]["ok"] is True
