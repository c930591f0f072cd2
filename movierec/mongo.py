"""MongoDB wiring (django-mongodb-backend 5.2.x), switched on by MONGODB_URI.

settings.py calls mongo_database_settings() and mongo_app_settings(); nothing
here connects to a server at import time, so `manage.py check` and
`makemigrations --check` run without one (see tests/test_mongo_settings.py).

The backend's limits that shape our code are summarised in docs/mongodb.md:
Django's transaction.atomic() is a no-op there (use atomic() below), integer
primary keys do not exist (ObjectId instead; use the `pk` path converter below),
and prefetch_related() over a many-to-many relation raises NotSupportedError
(catalog.models.GenreLoadingQuerySet.with_genres() replaces it). mql_for() and
mql_for_update() compile querysets to MQL without a server, for static checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ContextDecorator
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

OBJECT_ID_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
DEFAULT_DB_NAME = "movierec"

# Apps whose AppConfig pins AutoField: replaced by subclasses that use ObjectIdAutoField.
APP_CONFIG_REPLACEMENTS: dict[str, str] = {
    "django.contrib.admin": "movierec.mongo_apps.MongoAdminConfig",
    "django.contrib.auth": "movierec.mongo_apps.MongoAuthConfig",
    "django.contrib.contenttypes": "movierec.mongo_apps.MongoContentTypesConfig",
    "django_celery_results": "movierec.mongo_apps.MongoCeleryResultConfig",
    "axes": "movierec.mongo_apps.MongoAxesConfig",
}

# Every app label whose models get an automatic primary key (directly or via an
# auto-created many-to-many table): its SQL migrations say BigAutoField/AutoField,
# so MongoDB needs its own set. sessions and authtoken have explicit string
# primary keys and keep their own migrations on both databases.
MONGO_MIGRATION_APPS: tuple[str, ...] = (
    "admin",
    "auth",
    "contenttypes",
    "django_celery_results",
    "axes",
    "accounts",
    "catalog",
    "recommendations",
)
MONGO_MIGRATIONS_PACKAGE = "mongo_migrations"


def mongo_database_settings(uri: str) -> dict[str, Any]:
    """DATABASES["default"] for a connection string, without contacting the server.

    The URI goes into HOST as is (supported since backend 5.2.1; parse_uri() is
    deprecated). The database name comes from the URI's path, else MONGODB_NAME,
    else "movierec". mongodb+srv URIs are not resolved here (that needs DNS).
    """
    parts = urlsplit(uri)
    if parts.scheme not in {"mongodb", "mongodb+srv"} or not parts.netloc:
        raise ImproperlyConfigured("MONGODB_URI must look like mongodb://host:27017/movierec or mongodb+srv://…")
    name = unquote(parts.path.lstrip("/")) or os.environ.get("MONGODB_NAME", "") or DEFAULT_DB_NAME
    given = {key.lower() for key in parse_qs(parts.query)}
    options: dict[str, Any] = {}
    # Fail fast (5 s, not pymongo's 30 s) when the server is away: a web request
    # or a health check should error quickly rather than hang a gunicorn thread.
    if "serverselectiontimeoutms" not in given:
        options["serverSelectionTimeoutMS"] = int(os.environ.get("MONGODB_SERVER_SELECTION_TIMEOUT_MS", 5000))
    return {
        "ENGINE": "django_mongodb_backend",
        "HOST": uri,
        "NAME": name,
        "OPTIONS": options,
        "TEST": {"NAME": f"test_{name}"},
    }


def mongo_app_settings(installed_apps: list[str]) -> tuple[list[str], dict[str, str]]:
    """(INSTALLED_APPS with the ObjectId AppConfigs swapped in, MIGRATION_MODULES)."""
    apps = [APP_CONFIG_REPLACEMENTS.get(app, app) for app in installed_apps]
    migration_modules = {label: f"{MONGO_MIGRATIONS_PACKAGE}.{label}" for label in MONGO_MIGRATION_APPS}
    return apps, migration_modules


def is_mongodb(using: str | None = None) -> bool:
    from django.db import DEFAULT_DB_ALIAS, connections

    return connections[using or DEFAULT_DB_ALIAS].vendor == "mongodb"


# --- Transactions ------------------------------------------------------------
F = TypeVar("F", bound=Callable[..., Any])


class _Atomic(ContextDecorator):
    """Picks the right atomic() when the block is entered, not when the module is imported."""

    def __init__(self, using: str | None) -> None:
        self.using = using
        self._inner: Any = None

    def _recreate_cm(self) -> _Atomic:
        # A fresh instance per decorated call: the instance holds per-entry state.
        return type(self)(self.using)

    def __enter__(self) -> None:
        if is_mongodb(self.using):
            from django_mongodb_backend.transaction import atomic as mongo_atomic

            self._inner = mongo_atomic(self.using)
        else:
            from django.db import transaction

            self._inner = transaction.atomic(using=self.using)
        self._inner.__enter__()

    def __exit__(self, exc_type, exc, tb) -> None:
        self._inner.__exit__(exc_type, exc, tb)


def atomic(using: str | F | None = None) -> Any:
    """Portable transaction.atomic: Django's on SQL, django-mongodb-backend's on MongoDB.

    On MongoDB, Django's own atomic() does nothing; the backend's needs a replica
    set (compose.yaml runs one), has no savepoints (inner blocks join the outer
    transaction) and a failed operation makes the whole transaction unusable.
    Use as @atomic, @atomic(using=...) or `with atomic():`.
    """
    if callable(using):
        return _Atomic(None)(using)
    return _Atomic(using)


def in_transaction(using: str | None = None) -> bool:
    """True inside atomic() on either backend (MongoDB's atomic keeps its own flag)."""
    from django.db import DEFAULT_DB_ALIAS, connections

    connection = connections[using or DEFAULT_DB_ALIAS]
    return bool(connection.in_atomic_block or getattr(connection, "in_atomic_block_mongo", False))


def _is_write_conflict(exc: BaseException) -> bool:
    """A concurrent writer won: a unique index refused our insert, or MongoDB aborted the
    transaction on a write conflict (pymongo's "TransientTransactionError" label)."""
    from django.db import IntegrityError

    if isinstance(exc, IntegrityError):
        return True
    for err in (exc, exc.__cause__):
        has_label = getattr(err, "has_error_label", None)
        if has_label is not None and has_label("TransientTransactionError"):
            return True
    return False


def retry_on_conflict(func: F) -> F:
    """Run an @atomic write once more when a concurrent writer beat it.

    select_for_update() is a no-op on MongoDB, so two requests can both decide to insert the same
    (user, film) row; the unique index stops the second and its transaction rolls back whole.
    Running it again re-reads and takes the update path. Only at the outermost level: inside an
    enclosing transaction the error propagates (on MongoDB that transaction is unusable anyway).
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if in_transaction():
            return func(*args, **kwargs)
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not _is_write_conflict(exc):
                raise
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# --- URLs --------------------------------------------------------------------
class PkConverter:
    """`<pk:pk>` in URL patterns: digits on SQL, a 24-hex ObjectId on MongoDB.

    `<int:pk>` cannot match an ObjectId, so every route that carries a primary
    key needs this converter (backend 6.0.3 ships `object_id`; 5.2.x does not).
    """

    def __init__(self) -> None:
        from django.conf import settings

        self.mongo = bool(getattr(settings, "MONGODB_URI", ""))
        self.regex = "[0-9a-f]{24}" if self.mongo else "[0-9]+"

    def to_python(self, value: str) -> int | str:
        return value if self.mongo else int(value)

    def to_url(self, value: object) -> str:
        return str(value)


def register_pk_converter() -> None:
    """Call once before URL patterns using `<pk:…>` are built (top of movierec/urls.py)."""
    from django.urls import register_converter
    from django.urls.converters import get_converters

    if "pk" not in get_converters():
        register_converter(PkConverter, "pk")


# --- Health ------------------------------------------------------------------
def ping_database(using: str | None = None) -> None:
    """Raise unless the database answers. Portable replacement for `cursor.execute("SELECT 1")`.

    On MongoDB connection.cursor() is a do-nothing stub and opening the client
    contacts no server, so the check must be an explicit `ping` command.
    """
    from django.db import DEFAULT_DB_ALIAS, connections

    connection = connections[using or DEFAULT_DB_ALIAS]
    if connection.vendor == "mongodb":
        connection.ensure_connection()
        connection.connection.admin.command("ping")
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


# --- Queries as MQL, without a server ------------------------------------------
def mql_for(queryset: Any) -> dict[str, Any]:
    """The aggregation pipeline a read queryset runs on MongoDB, compiled without contacting a server.

    Mirrors the backend's SQLCompiler.execute_sql() up to the point where it would open a cursor,
    so unsupported constructs (extra(), many-to-many prefetch's query, cross-collection updates)
    raise NotSupportedError here as they would at run time. Only for MongoDB settings.
    """
    from django.core.exceptions import EmptyResultSet

    query = queryset.query
    compiler = query.get_compiler(queryset.db)
    compiler.pre_sql_setup()
    needs_columns = query.annotations or not query.default_cols or query.distinct
    try:
        mongo_query = compiler.build_query(compiler.columns if needs_columns else None)
    except EmptyResultSet:
        return {"collection": compiler.collection_name, "pipeline": None}
    return {"collection": compiler.collection_name, "pipeline": mongo_query.get_pipeline()}


def mql_for_update(queryset: Any, **values: Any) -> dict[str, Any]:
    """The filter and update a `queryset.update(**values)` sends (one update_many), without a server.

    Runs the backend's own SQLUpdateCompiler.execute_sql() with its final update_many() call
    replaced by a recorder.
    """
    from django.db.models.sql import UpdateQuery
    from django.db.models.sql.constants import CURSOR

    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    compiler = query.get_compiler(queryset.db)
    sent: dict[str, Any] = {}

    def record(criteria: dict, pipeline: list) -> int:
        sent.update(filter=criteria, update=pipeline)
        return 1

    compiler.update = record
    compiler.execute_sql(CURSOR)
    return {"collection": compiler.collection_name, **sent}


# --- Migrations without a server ----------------------------------------------
def makemigrations_offline(*args: str) -> None:
    """`manage.py makemigrations` for the MongoDB set, with no server running.

    makemigrations itself only reads models and migration files, but first it
    checks the applied-migrations history on every database; on MongoDB that
    needs the server (a pymongo ServerSelectionTimeoutError, which Django does
    not catch, unlike SQL's OperationalError). The history is checked for real
    by `migrate`, so skipping it here loses nothing.

        MONGODB_URI=mongodb://127.0.0.1:1/movierec python -m movierec.mongo makemigrations --check --dry-run
    """
    from django.core.management import call_command
    from django.db.migrations.loader import MigrationLoader

    original = MigrationLoader.check_consistent_history

    def check_unless_mongodb(self: MigrationLoader, connection: Any) -> None:
        if connection.vendor != "mongodb":
            original(self, connection)

    MigrationLoader.check_consistent_history = check_unless_mongodb  # type: ignore[method-assign]
    try:
        call_command("makemigrations", *args)
    finally:
        MigrationLoader.check_consistent_history = original  # type: ignore[method-assign]


def _main(argv: list[str]) -> int:
    if argv[:1] != ["makemigrations"]:
        print("usage: MONGODB_URI=… python -m movierec.mongo makemigrations [makemigrations options]")
        return 2
    if not os.environ.get("MONGODB_URI"):
        print("MONGODB_URI is not set: this command is for the MongoDB migration set.")
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
    import django

    django.setup()
    try:
        makemigrations_offline(*argv[1:])
    except SystemExit as exc:  # --check exits 1 when a migration is missing
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
