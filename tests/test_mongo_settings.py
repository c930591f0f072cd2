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
