"""Static MongoDB checks that need no server: settings, `manage.py check`, and both
migration sets (SQL and MongoDB) in step with the models.

MONGODB_URI points at a closed port: importing settings, `check` and
`makemigrations` must not contact it (makemigrations goes through
movierec.mongo.makemigrations_offline, which skips only the applied-history
check that needs a server; `migrate` still does that check for real).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from movierec.mongo import (
    APP_CONFIG_REPLACEMENTS,
    MONGO_MIGRATION_APPS,
    OBJECT_ID_AUTO_FIELD,
    mongo_app_settings,
    mongo_database_settings,
)

ROOT = Path(__file__).resolve().parents[1]
OFFLINE_URI = "mongodb://127.0.0.1:1/movierec"


def run(code_or_args: str | list[str], tmp_path: Path, *, mongo: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MONGODB"))}
    env.update(
        DJANGO_SETTINGS_MODULE="movierec.settings",
        DJANGO_SECRET_KEY="test-static-check-only-0123456789abcdefghijklmnopqrstuvwxyz",
        MOVIEREC_VAR_DIR=str(tmp_path),
        # A server would answer within 1 s if one were there; none is, and none may be needed.
        MONGODB_SERVER_SELECTION_TIMEOUT_MS="1000",
    )
    if mongo:
        env["MONGODB_URI"] = OFFLINE_URI
    args = [sys.executable, "-c", code_or_args] if isinstance(code_or_args, str) else [sys.executable, *code_or_args]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


# --- Pure functions ----------------------------------------------------------------
def test_database_settings_from_uri():
    db = mongo_database_settings("mongodb://app:example-pw@mongo:27017/films?replicaSet=rs0&authSource=admin")
    assert db["ENGINE"] == "django_mongodb_backend"
    assert db["HOST"] == "mongodb://app:example-pw@mongo:27017/films?replicaSet=rs0&authSource=admin"
    assert db["NAME"] == "films"
    assert db["TEST"]["NAME"] == "test_films"
    assert db["OPTIONS"]["serverSelectionTimeoutMS"] > 0


def test_database_name_defaults_and_uri_options_win(monkeypatch):
    monkeypatch.delenv("MONGODB_NAME", raising=False)
    db = mongo_database_settings("mongodb://h1:27017,h2:27017/?serverSelectionTimeoutMS=9000")
    assert db["NAME"] == "movierec"
    assert "serverSelectionTimeoutMS" not in db["OPTIONS"]  # the URI's own value is kept
    monkeypatch.setenv("MONGODB_NAME", "other")
    assert mongo_database_settings("mongodb+srv://cluster0.example.net")["NAME"] == "other"  # no DNS lookup


@pytest.mark.parametrize("uri", ["postgres://localhost/db", "mongodb://", "localhost:27017"])
def test_bad_uri_is_refused(uri):
    with pytest.raises(ImproperlyConfigured):
        mongo_database_settings(uri)


def test_app_settings_swap_every_app_config_that_pins_autofield():
    apps, modules = mongo_app_settings(["django.contrib.admin", "django.contrib.sessions", "axes", "catalog"])
    assert apps == [APP_CONFIG_REPLACEMENTS["django.contrib.admin"], "django.contrib.sessions", APP_CONFIG_REPLACEMENTS["axes"], "catalog"]
    assert set(modules) == set(MONGO_MIGRATION_APPS)
    for label, module in modules.items():
        assert (ROOT / module.replace(".", "/") / "__init__.py").exists(), f"no migrations package for {label}"


def test_mongo_migrations_never_use_integer_auto_fields():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "mongo_migrations").rglob("0*.py")
        if "AutoField(" in path.read_text().replace("ObjectIdAutoField(", "")
    ]
    assert offenders == []


# --- Settings and `manage.py check` with MONGODB_URI, no server -----------------------
SETTINGS_PROBE = """
import json, django
django.setup()
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import models
from django_mongodb_backend.fields import ObjectIdAutoField

integer_pks = [
    m._meta.label for m in apps.get_models(include_auto_created=True)
    if isinstance(m._meta.pk, models.AutoField) and not isinstance(m._meta.pk, ObjectIdAutoField)
]
call_command("check", fail_level="WARNING")
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "auto_field": settings.DEFAULT_AUTO_FIELD,
    "apps": settings.INSTALLED_APPS,
    "migration_modules": settings.MIGRATION_MODULES,
    "integer_pks": integer_pks,
}))
"""


def test_settings_import_and_check_pass_with_mongodb_uri(tmp_path):
    result = run(SETTINGS_PROBE, tmp_path, mongo=True)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["engine"] == "django_mongodb_backend"
    assert probe["auto_field"] == OBJECT_ID_AUTO_FIELD
    for original, replacement in APP_CONFIG_REPLACEMENTS.items():
        assert original not in probe["apps"] and replacement in probe["apps"]
    assert set(probe["migration_modules"]) == set(MONGO_MIGRATION_APPS)
    # Every model, including auto-created many-to-many tables, gets an ObjectId key.
    assert probe["integer_pks"] == []


# --- Migration consistency: both sets -----------------------------------------------
MAKEMIGRATIONS_CHECK = ["-m", "movierec.mongo", "makemigrations", "--check", "--dry-run"]


def test_sql_migrations_match_the_models(tmp_path):
    result = run(["manage.py", "makemigrations", "--check", "--dry-run"], tmp_path, mongo=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_mongo_migrations_match_the_models(tmp_path):
    result = run(MAKEMIGRATIONS_CHECK, tmp_path, mongo=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


DRIFT = """
import sys, django
django.setup()
from django.db import models
from catalog.models import Genre
# A model change nobody wrote a migration for.
models.IntegerField(default=0).contribute_to_class(Genre, "drift_probe")
from movierec.mongo import makemigrations_offline
try:
    makemigrations_offline("--check", "--dry-run", "catalog")
except SystemExit as exc:
    sys.exit(exc.code)
"""


@pytest.mark.parametrize("mongo", [False, True], ids=["sql", "mongodb"])
def test_a_model_change_without_migration_fails_the_check(tmp_path, mongo):
    result = run(DRIFT, tmp_path, mongo=mongo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "drift_probe" in result.stdout


# --- Hot-path queries compiled to MQL, no server ---------------------------------------
# movierec.mongo.mql_for / mql_for_update run the backend's own compiler up to the point where it
# would talk to the server, so a construct the backend refuses raises NotSupportedError here too.
MQL_PROBE = """
import django
django.setup()
from bson import ObjectId, json_util
from django.contrib.auth import get_user_model
from django.db import NotSupportedError
from django.db.models import Count, F, Q
from django.utils import timezone

from catalog import selectors
from catalog.models import Movie, NotInterested, Rating, WatchlistItem, genre_links
from movierec.mongo import mql_for, mql_for_update
from recommendations.models import ActiveModel, ModelVersion, TrainingState

oid, now = ObjectId("665f1c2ab4d3e2f1a0b9c8d7"), timezone.now()
user = get_user_model()(pk=oid)  # unsaved: nothing is written
free = Q(lock_owner="") | Q(lock_expires_at__isnull=True) | Q(lock_expires_at__lt=now)
reads = {
    "movie_list": selectors.movie_list(selectors.MovieFilters(q="star", genre="sci-fi", decade=1990))[:20],
    "movie_detail": selectors.movie_base_queryset().filter(pk=str(oid)),
    "credits_prefetch": Movie._meta.get_field("credits").related_model.objects.filter(movie_id__in=[oid]).select_related("person"),
    "genre_links": genre_links([oid, str(oid)]),
    "rating_write_genres": selectors.movie_genres_query(oid),
    "user_ratings": selectors.user_ratings(user).with_genres("movie")[:20],
    "watchlist": WatchlistItem.objects.filter(user=user).select_related("movie").order_by("-created_at", "-pk"),
    "profile": Rating.objects.filter(user=user).values_list("movie_id", "value", "updated_at"),
    "hidden": NotInterested.objects.filter(user=user).values_list("movie_id", flat=True),
    "ratings_arrays": Rating.objects.order_by("updated_at", "pk").values_list("user_id", "movie_id", "value", "updated_at"),
    "popularity": Movie.objects.values_list("pk", "rating_count"),
    "decades": Movie.objects.exclude(year=None).values_list("year", flat=True).distinct(),
    "trending": Rating.objects.filter(updated_at__gte=now).values("movie_id").annotate(n=Count("id")).order_by("-n")[:12],
    "continue_rating": selectors.movie_base_queryset().exclude(pk__in=[oid]).order_by("-rating_count", "title")[:12],
    "active_pointer": ActiveModel.objects.singleton().values_list("version_id", flat=True),
    "active_version": ActiveModel.objects.singleton().select_related("version"),
    "training_state": TrainingState.objects.singleton(),
    "fallback_versions": ModelVersion.objects.exclude(pk=oid).exclude(embeddings_path="").order_by("-finished_at", "-pk"),
}
updates = {
    "lock_take": (TrainingState.objects.singleton().filter(free), {"lock_owner": "v1", "lock_expires_at": now}),
    "lock_extend": (TrainingState.objects.singleton().filter(lock_owner="v1"), {"lock_expires_at": now}),
    "events_add": (TrainingState.objects.singleton(), {"events_since_training": F("events_since_training") + 1}),
    "retrain_flag": (TrainingState.objects.singleton().filter(pending_retrain=False), {"pending_retrain": True}),
    "rating_counter": (Movie.objects.filter(pk=oid), {"rating_count": F("rating_count") + 1, "rating_sum": F("rating_sum") + 4.5}),
}
out = {"reads": {k: mql_for(q) for k, q in reads.items()}, "updates": {k: mql_for_update(q, **v) for k, (q, v) in updates.items()}}
# What prefetch_related("genres") would send for its second query: refused (it is built with extra()).
rel_qs = Movie(pk=oid).genres.get_prefetch_querysets([Movie(pk=oid)])[0]
try:
    mql_for(rel_qs)
    out["m2m_prefetch"] = "compiled"
except NotSupportedError as exc:
    out["m2m_prefetch"] = str(exc)
print(json_util.dumps(out))
"""


@pytest.fixture(scope="module")
def mql(tmp_path_factory) -> dict:
    from bson import json_util

    result = run(MQL_PROBE, tmp_path_factory.mktemp("mql"), mongo=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json_util.loads(result.stdout.strip().splitlines()[-1])


def test_hot_path_reads_compile_to_mql_without_a_server(mql):
    from bson import ObjectId

    reads = mql["reads"]
    assert all(r["pipeline"] is not None for r in reads.values())
    # Genres of a page of films: one query on the through collection, Genre joined by $lookup, ids as ObjectIds.
    links = reads["genre_links"]
    assert links["collection"] == "catalog_movie_genres"
    assert [next(iter(stage)) for stage in links["pipeline"]] == ["$lookup", "$unwind", "$match"]
    # The ObjectId and its hex string are the same key: converted, then deduplicated.
    assert links["pipeline"][-1]["$match"]["movie_id"]["$in"] == [ObjectId("665f1c2ab4d3e2f1a0b9c8d7")]
    # A pk from a URL (a hex string) is matched as an ObjectId.
    assert {"_id": ObjectId("665f1c2ab4d3e2f1a0b9c8d7")} in _matches(reads["movie_detail"]["pipeline"])
    # Singletons are found by their natural key, never by a fixed integer pk.
    for name in ("active_pointer", "active_version", "training_state"):
        assert {"slot": "default"} in _matches(reads[name]["pipeline"]), name
    # The hot reads stay on one collection (no $lookup) where the design says so.
    for name in ("profile", "hidden", "ratings_arrays", "popularity", "active_pointer", "movie_detail", "trending"):
        assert not any("$lookup" in stage for stage in reads[name]["pipeline"]), name
    # Aggregations become $group stages (the trending row counts ratings per film).
    assert any("$group" in stage for stage in reads["trending"]["pipeline"])


def test_lock_and_counter_updates_are_single_conditional_updates(mql):
    """Each is one update_many whose filter holds the whole condition: MongoDB applies the
    filter and the $set to a document atomically, so the training lock stays a compare-and-set."""
    updates = mql["updates"]
    take = updates["lock_take"]
    assert take["collection"] == "recommendations_trainingstate"
    conditions = take["filter"]["$and"]
    assert {"slot": "default"} in conditions and any("$or" in c for c in conditions)
    assert take["update"][0]["$set"]["lock_owner"] == {"$literal": "v1"}
    assert updates["lock_extend"]["filter"] == {"$and": [{"slot": "default"}, {"lock_owner": "v1"}]}
    assert updates["events_add"]["update"][0]["$set"]["events_since_training"]["$add"][0] == "$events_since_training"
    assert updates["rating_counter"]["collection"] == "catalog_movie"


def test_many_to_many_prefetch_is_refused_as_documented(mql):
    # Why catalog.models.GenreLoadingQuerySet.with_genres() exists.
    assert "prefetch_related() is not supported" in mql["m2m_prefetch"]


def _matches(pipeline: list[dict]) -> list[dict]:
    """Every $match condition, with $and flattened."""
    found: list[dict] = []
    for stage in pipeline:
        match = stage.get("$match")
        if match is not None:
            found.extend(match.get("$and", [match]))
    return found


def test_openapi_schema_under_mongodb_is_valid_and_uses_object_ids(tmp_path):
    """With ObjectId keys every id in the API (paths, bodies, responses) is a 24-hex string."""
    yaml = pytest.importorskip("yaml")
    out = tmp_path / "schema.yml"
    result = run(["manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", str(out)], tmp_path, mongo=True)
    assert result.returncode == 0, result.stderr[-3000:]
    schema = yaml.safe_load(out.read_text())
    object_id = {"type": "string", "pattern": "^[0-9a-f]{24}$"}
    for path, item in schema["paths"].items():
        for operation in item.values():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if param["in"] == "path" and param["name"] in {"id", "movie_id"}:
                    assert object_id.items() <= param["schema"].items(), (path, param)
    components = schema["components"]["schemas"]
    assert object_id.items() <= components["MovieBrief"]["properties"]["id"].items()
    assert object_id.items() <= components["RatingWriteRequest"]["properties"]["movie"].items()
    assert object_id.items() <= components["ScoredMovie"]["properties"]["because"]["items"].items()
