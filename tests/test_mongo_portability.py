"""The portable pieces that let movierec run on MongoDB, exercised on SQLite.

What can be shown without a MongoDB server: singletons by natural key (and the SQL data
migration that keeps the existing row), genres loaded without a many-to-many prefetch, ids
in artifacts as strings (ObjectIds included, old int64 artifacts still loading), the id
fields of the API, and task messages carrying ObjectIds. tests/test_mongodb_live.py repeats
the database-facing parts on a live server.
"""

from __future__ import annotations

import numpy as np
import pytest
from bson import ObjectId
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django_mongodb_backend.fields import ObjectIdAutoField
from rest_framework import serializers

from catalog.models import Genre, Movie, Rating, attach_genres
from catalog.serializers import IntegerIdField, ObjectIdField
from recommendations import hybrid_store, store
from recommendations.collab_store import _collab_lookup, collab_scores
from recommendations.ids import as_key, dense_ids, id_array, ids_from_store, ids_to_store, is_id, no_id, run_starts
from recommendations.models import SINGLETON_SLOT, ActiveModel, ModelVersion, TrainingState
from recommendations.tasks import _key, _wire
from tests.factories import MovieFactory, RatingFactory, UserFactory

OIDS = [ObjectId(f"665f1c2ab4d3e2f1a0b9c8{i:02x}") for i in (7, 3, 9)]


# --- Singletons --------------------------------------------------------------------
def test_singletons_are_addressed_by_their_natural_key(db):
    state = TrainingState.load()
    assert state.slot == SINGLETON_SLOT and TrainingState.load().pk == state.pk
    assert TrainingState.objects.singleton().update(events_since_training=3) == 1
    assert TrainingState.objects.singleton().get().events_since_training == 3
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingState.objects.create()  # a second row with the same slot is refused by the unique index
    assert ActiveModel.objects.singleton().first() is None
    assert ActiveModel.load().version is None and ActiveModel.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_slot_migration_keeps_the_existing_row():
    """recommendations 0002 on SQL: the pk=1 row becomes the singleton, stray rows go."""
    executor = MigrationExecutor(connection)
    executor.migrate([("recommendations", "0001_initial")])
    old = executor.loader.project_state([("recommendations", "0001_initial")]).apps
    old.get_model("recommendations", "TrainingState").objects.create(pk=1, events_since_training=7, lock_owner="v3")
    old.get_model("recommendations", "TrainingState").objects.create(pk=2, events_since_training=99)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    rows = list(TrainingState.objects.values("pk", "slot", "events_since_training", "lock_owner"))
    assert rows == [{"pk": 1, "slot": SINGLETON_SLOT, "events_since_training": 7, "lock_owner": "v3"}]
    assert TrainingState.load().pk == 1


# --- Genres without prefetch_related("genres") -------------------------------------------
@pytest.fixture
def films(db):
    drama, comedy, crime = (Genre.objects.create(name=n) for n in ("Drama", "Comedy", "Crime"))
    movies = [Movie.objects.create(title=f"Film {i}") for i in range(4)]
    movies[0].genres.set([drama, comedy])
    movies[1].genres.set([crime, comedy, drama])
    movies[2].genres.set([crime])
    return movies


def _names(movie: Movie) -> list[str]:
    return [g.name for g in movie.genres.all()]


def test_with_genres_matches_prefetch_in_the_same_number_of_queries(films, django_assert_num_queries):
    with django_assert_num_queries(2):
        prefetched = {m.pk: _names(m) for m in Movie.objects.prefetch_related("genres").order_by("pk")}
    with django_assert_num_queries(2):
        loaded = {m.pk: _names(m) for m in Movie.objects.with_genres().order_by("pk")}
    assert loaded == prefetched
    assert loaded[films[1].pk] == ["Comedy", "Crime", "Drama"] and loaded[films[3].pk] == []


def test_with_genres_survives_chaining_slicing_and_in_bulk(films, django_assert_num_queries):
    qs = Movie.objects.with_genres()
    with django_assert_num_queries(2):
        page = list(qs.filter(title__startswith="Film").order_by("-pk")[:2])
        assert [_names(m) for m in page] == [[], ["Crime"]]
    with django_assert_num_queries(2):
        bulk = qs.in_bulk([films[0].pk, films[1].pk])
        assert _names(bulk[films[0].pk]) == ["Comedy", "Drama"]
    with django_assert_num_queries(1):
        assert qs.values_list("title", flat=True).order_by("pk")[0] == "Film 0"  # values rows: nothing to attach


def test_with_genres_through_a_foreign_key(films, django_assert_num_queries):
    user = UserFactory()
    for movie in films[:3]:
        RatingFactory(user=user, movie=movie, value=4.0)
    with django_assert_num_queries(2):
        ratings = list(Rating.objects.filter(user=user).select_related("movie").with_genres("movie").order_by("movie_id"))
        assert [_names(r.movie) for r in ratings] == [["Comedy", "Drama"], ["Comedy", "Crime", "Drama"], ["Crime"]]


def test_attach_genres_on_loaded_films_and_filter_still_queries(films, django_assert_num_queries):
    movies = list(Movie.objects.order_by("pk"))
    with django_assert_num_queries(1):
        attach_genres([*movies, None, movies[0]])  # None and repeats are fine
    with django_assert_num_queries(0):
        assert [_names(m) for m in movies][:2] == [["Comedy", "Drama"], ["Comedy", "Crime", "Drama"]]
    with django_assert_num_queries(1):  # like after prefetch_related: a filter is a new query
        assert [g.name for g in movies[1].genres.filter(name="Crime")] == ["Crime"]


# --- Ids in numpy arrays and artifacts ------------------------------------------------
def test_ids_in_memory_keep_the_orms_types():
    ints = id_array([3, np.int64(1), 2])
    assert ints.dtype == np.int64
    objs = id_array(OIDS)
    assert objs.dtype == object and objs.tolist() == OIDS
    assert np.unique(objs).tolist() == sorted(OIDS)  # ObjectIds order, so unique/searchsorted work
    assert as_key(ints[0]) == 3 and type(as_key(ints[0])) is int and as_key(objs[1]) == OIDS[1]
    assert run_starts(np.array([1, 1, 2, 5, 5])).tolist() == [2, 3]
    assert run_starts(id_array([OIDS[0], OIDS[0], OIDS[1]])).tolist() == [2]
    distinct, codes = dense_ids(id_array([OIDS[2], OIDS[0], OIDS[2]]))
    assert distinct.tolist() == [OIDS[0], OIDS[2]] and codes.tolist() == [1, 0, 1]
    assert no_id(ints) == -1 and no_id(objs) is None
    assert not is_id(-1) and not is_id(np.int64(-1)) and not is_id(None) and is_id(0) and is_id(OIDS[0])


def test_artifact_ids_round_trip_as_strings(tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    for ids, field in ((id_array([12, 5, 40]), Movie._meta.pk), (id_array(OIDS), ObjectIdAutoField())):
        stored = ids_to_store(ids)
        assert stored.dtype.kind == "U"
        path = store.save_npz(f"probe/{ids.dtype}.npz", movie_ids=stored)
        back = ids_from_store(store.load_npz(path)["movie_ids"], field)  # through np.load(allow_pickle=False)
        assert back.dtype == ids.dtype and back.tolist() == ids.tolist()
    assert ids_to_store([]).shape == (0,) and ids_from_store(ids_to_store([])).dtype == np.int64


def test_old_int64_artifacts_still_load(db, tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}}
    movies = [MovieFactory() for _ in range(3)]
    ids = np.array([m.pk for m in movies], dtype=np.int64)
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY)
    matrix = np.eye(3, 4, dtype=np.float32)
    # Written as before this change: int64 ids.
    version.embeddings_path = store.save_npz(f"v{version.pk}/embeddings.npz", movie_ids=ids, matrix=matrix, text_hashes=np.array(["h"] * 3))
    version.save()
    bundle = store.load_bundle(version)
    assert bundle.movie_ids.dtype == np.int64 and bundle.row_of == {m.pk: i for i, m in enumerate(movies)}
    with pytest.raises(ValidationError):  # an SQL artifact read with ObjectId keys fails loudly (serving falls back)
        ids_from_store(ids_to_store(ids), ObjectIdAutoField())
    with pytest.raises(ValidationError):  # also when it is an old int64 one
        ids_from_store(ids, ObjectIdAutoField())


def test_hybrid_and_collab_serving_with_object_ids():
    """The serving maths on ObjectId-keyed films: the same scores as with integer ids."""
    rng = np.random.default_rng(1)
    n, users = 6, 30
    group = np.arange(n) % 2
    rated = [(u, i) for u in range(users) for i in np.flatnonzero(group == u % 2) if rng.random() < 0.8]
    vectors = (np.eye(2)[group] + 0.1 * rng.normal(size=(n, 2))).astype(np.float32)
    int_ids = np.arange(100, 100 + n, dtype=np.int64)
    oids = id_array(ObjectId(f"665f1c2ab4d3e2f1a0b9c8{i:02x}") for i in range(n))
    results = []
    for ids, user_ids in ((int_ids, np.arange(users)), (oids, id_array(ObjectId(f"{u:024x}") for u in range(users)))):
        u_of = [user_ids[u] for u, _ in rated]
        m_of = [ids[i] for _, i in rated]
        model, info = hybrid_store.fit_site_hybrid(ids, vectors, id_array(u_of), id_array(m_of), budget_seconds=60, seed=0)
        assert model is not None, info
        loaded = hybrid_store.prepare(model, ids)
        profile = [ids[0], ids[2]]
        scores = hybrid_store.hybrid_user_scores(loaded, loaded.col_of, profile)
        because = hybrid_store.hybrid_because(loaded, profile, [ids[4], ids[1]])
        bundle = store.Bundle(1, ids, vectors, {m: i for i, m in enumerate(ids.tolist())})
        bundle.collab, bundle.collab_rows = model.collab, np.arange(n)
        bundle.collab_col_of = {m: j for j, m in enumerate(ids.tolist())}
        _collab_lookup(bundle)
        collab = collab_scores(bundle, type("P", (), {"movie_ids": id_array(profile)})(), np.array([0, 2]))
        results.append((scores, [ids.tolist().index(b) if b is not None else None for b in because], collab))
    (s1, b1, c1), (s2, b2, c2) = results
    assert np.allclose(s1, s2) and b1 == b2 and np.allclose(c1, c2)


# --- API ids and task messages ------------------------------------------------------
def test_integer_id_field_is_strict():
    field = IntegerIdField()
    assert field.to_internal_value(5) == 5
    for bad in ("5", True, 0, 2**63):
        with pytest.raises(serializers.ValidationError):
            field.run_validation(bad)
    assert IntegerIdField(read_only=True).to_representation(7) == 7


def test_object_id_field_takes_and_gives_24_hex_digits():
    field = ObjectIdField()
    assert field.to_internal_value(str(OIDS[0])) == OIDS[0]
    for bad in (5, "5", str(OIDS[0]).upper(), str(OIDS[0]) + "0", None):
        with pytest.raises(serializers.ValidationError):
            field.to_internal_value(bad)
    assert field.to_representation(OIDS[0]) == str(OIDS[0])


def test_task_messages_carry_object_ids_as_strings():
    assert _wire({"version": OIDS[0], "ids": [OIDS[1], 3], "n": 1}) == {"version": str(OIDS[0]), "ids": [str(OIDS[1]), 3], "n": 1}
    assert _key(None) is None and _key(5) == 5 and _key("5") == 5  # SQL keys; ObjectIdAutoField.to_python on MongoDB


# --- Writes that lose a race are run again, at the outermost level only ------------------
@pytest.mark.django_db(transaction=True)  # not inside the test's own transaction
def test_retry_on_conflict_runs_an_atomic_write_once_more():
    from movierec.mongo import atomic, retry_on_conflict

    attempts: list[int] = []

    @retry_on_conflict
    @atomic
    def add(name: str) -> Genre:
        attempts.append(1)
        if len(attempts) == 1:
            Genre.objects.create(name=name)  # rolled back with the failed attempt
            Genre.objects.create(name=name)  # what a concurrent writer's row would cause
        return Genre.objects.get_or_create(name=name)[0]

    assert add("Noir").name == "Noir" and len(attempts) == 2 and Genre.objects.filter(name="Noir").count() == 1
    attempts.clear()
    with pytest.raises(IntegrityError), transaction.atomic():
        add("Western")  # inside an outer transaction: no retry, the caller decides
    assert len(attempts) == 1

    @retry_on_conflict
    def broken() -> None:
        attempts.append(1)
        raise ValueError("not a conflict")

    attempts.clear()
    with pytest.raises(ValueError):
        broken()
    assert len(attempts) == 1


def test_rating_writes_retry_on_conflict():
    from catalog import services

    for func in (services.rating_upsert, services.rating_delete, services.not_interested_add):
        assert func.__wrapped__.__name__ == func.__name__  # retry_on_conflict(atomic(func))


def test_api_renderer_writes_object_ids_as_hex():
    from movierec.renderers import JSONRenderer

    assert JSONRenderer().render({"id": OIDS[0], "because": [OIDS[1]], "n": 3}) == (
        f'{{"id":"{OIDS[0]}","because":["{OIDS[1]}"],"n":3}}'.encode()
    )


def test_pk_converter_matches_object_ids_under_mongodb_settings(settings):
    from movierec.mongo import PkConverter

    settings.MONGODB_URI = "mongodb://127.0.0.1:1/movierec"
    converter = PkConverter()
    assert converter.regex == "[0-9a-f]{24}" and converter.to_python(str(OIDS[0])) == str(OIDS[0])
    assert converter.to_url(OIDS[0]) == str(OIDS[0])
