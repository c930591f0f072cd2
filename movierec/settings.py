"""Settings for movierec, read from the environment.

Every default needs nothing installed: SQLite under var/, an embedded Celery
broker (SQLAlchemy over SQLite) and local file storage. Production switches
(MONGODB_URI, CELERY_BROKER_URL, DJANGO_* security settings) come from env.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MOVIEREC_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "axes",  # login rate limiting; keep after auth
    "accounts",
    "catalog",
    "recommendations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "movierec.htmx.HtmxLoginRedirectMiddleware",
]
CSRF_FAILURE_VIEW = "movierec.htmx.csrf_failure"

ROOT_URLCONF = "movierec.urls"
WSGI_APPLICATION = "movierec.wsgi.application"
ASGI_APPLICATION = "movierec.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "movierec.context.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
# SQLite by default, in WAL mode so the web process and Celery workers can
# read while one writes. MONGODB_URI switches to django-mongodb-backend.
MONGODB_URI = os.environ.get("MONGODB_URI", "")
if MONGODB_URI:
    from movierec.mongo import OBJECT_ID_AUTO_FIELD, mongo_app_settings, mongo_database_settings

    DATABASES = {"default": mongo_database_settings(MONGODB_URI)}
    DEFAULT_AUTO_FIELD = OBJECT_ID_AUTO_FIELD
    # ObjectId AppConfigs for contrib/third-party apps, and their migrations in mongo_migrations/.
    INSTALLED_APPS, MIGRATION_MODULES = mongo_app_settings(INSTALLED_APPS)
else:
    DATABASES = {
        "default": {
            "ENGINE": "movierec.sqlite",
            "NAME": os.environ.get("SQLITE_PATH", str(VAR_DIR / "db.sqlite3")),
            "OPTIONS": {
                # wal_autocheckpoint: pages of WAL before the committing writer folds it back into
                # the database (SQLite's default 1000); see docs/scaling.md for its effect on writes.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    f"PRAGMA wal_autocheckpoint={env_int('SQLITE_WAL_AUTOCHECKPOINT', 1000)};"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # Reuse a thread's connection: opening one (and its PRAGMAs) cost more than a
            # cached recommendations request. Health checks drop a connection that went bad.
            "CONN_MAX_AGE": env_int("DJANGO_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
        }
    }
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- I18n -----------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", VAR_DIR / "staticfiles"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
if os.environ.get("AWS_STORAGE_BUCKET_NAME"):
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}
WHITENOISE_USE_FINDERS = DEBUG

# --- E-mail ---------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "movierec <noreply@localhost>")

# --- Security switches (production reads them from env) --------------------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# The container health check calls this over plain HTTP from inside the container.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health/$"]
BEHIND_PROXY = env_bool("DJANGO_BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# A hard-to-guess admin path keeps scanners off the admin login; always "<path>/".
ADMIN_URL = os.environ.get("DJANGO_ADMIN_URL", "admin/").strip("/") + "/"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DJANGO_MAX_BODY_BYTES", 1_048_576)

# --- Login rate limiting (django-axes) --------------------------------------
# Failed logins (site, admin and the API token endpoint, all via authenticate())
# are counted per username + client IP; after the limit that pair gets 429 until
# the cool-off ends. The count lives in the shared cache when there is one
# (Redis: every gunicorn worker sees it), else in the database.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AXES_HANDLER = (
    "axes.handlers.cache.AxesCacheHandler" if os.environ.get("REDIS_CACHE_URL") else "axes.handlers.database.AxesDatabaseHandler"
)
AXES_FAILURE_LIMIT = env_int("DJANGO_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("DJANGO_LOGIN_COOLOFF_HOURS", 0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # no record of successful logins: personal data we do not need
AXES_VERBOSE = False
if BEHIND_PROXY:
    _PROXY_HOPS = env_int("DJANGO_PROXY_COUNT", 0)  # trusted proxies in front of ours

    def _client_ip(request) -> str | None:
        """The X-Forwarded-For entry our proxy appended; everything left of it the client can forge."""
        import ipaddress

        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) > _PROXY_HOPS:
            candidate = forwarded[-1 - _PROXY_HOPS]
            try:
                return str(ipaddress.ip_address(candidate))
            except ValueError:
                pass
        return request.META.get("REMOTE_ADDR")

    AXES_CLIENT_IP_CALLABLE = _client_ip

# --- Cache ----------------------------------------------------------------
# File-based by default: every gunicorn worker and Celery process shares it, so a
# rating clears that user's cached recommendations everywhere, not only in the
# worker that took the request. REDIS_CACHE_URL is the production choice.
# API throttle history ("throttle", see movierec/throttling.py): per-process memory, or Redis.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache" / "django"),
    },
    # One entry per client: room for many more than locmem's default 300 before it culls histories.
    "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle", "OPTIONS": {"MAX_ENTRIES": 20000}},
}
if os.environ.get("REDIS_CACHE_URL"):
    CACHES["default"] = CACHES["throttle"] = {
        "BACKEND": "movierec.cache.ReusingRedisCache",
        "LOCATION": os.environ["REDIS_CACHE_URL"],
    }

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get(
    "CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}"
)
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "django-db")
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "recommendations.tasks.fine_tune_encoder": {"queue": "ml"},
    "recommendations.tasks.refresh_embeddings": {"queue": "ml"},
    "recommendations.tasks.evaluate_and_promote": {"queue": "ml"},
    "recommendations.tasks.embed_new_films": {"queue": "ml"},
    "recommendations.tasks.train_collab": {"queue": "ml"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 2.0)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- movierec -------------------------------------------------------------
MOVIEREC = {
    "ARTIFACT_PREFIX": "models",
    "RETRAIN_AFTER_EVENTS": env_int("MOVIEREC_RETRAIN_AFTER_EVENTS", 500),
    "FINETUNE_MAX_PAIRS": env_int("MOVIEREC_FINETUNE_MAX_PAIRS", 2000),
    "FINETUNE_EPOCHS": env_int("MOVIEREC_FINETUNE_EPOCHS", 1),
    "FINETUNE_MAX_SECONDS": env_float("MOVIEREC_FINETUNE_MAX_SECONDS", 900.0),
    "FINETUNE_BATCH_SIZE": env_int("MOVIEREC_FINETUNE_BATCH_SIZE", 32),
    "FINETUNE_MAX_LENGTH": env_int("MOVIEREC_FINETUNE_MAX_LENGTH", 128),
    "PROMOTE_TOLERANCE": env_float("MOVIEREC_PROMOTE_TOLERANCE", 0.005),
    "HYBRID_MAX_SECONDS": env_float("MOVIEREC_HYBRID_MAX_SECONDS", 900.0),
    "HEARTBEAT_STALE_SECONDS": env_int("MOVIEREC_HEARTBEAT_STALE_SECONDS", 300),
    # After a failed retraining the sweep waits this long before queueing another (staff can still
    # start one by hand), so a deterministic failure cannot loop.
    "RETRAIN_BACKOFF_SECONDS": env_int("MOVIEREC_RETRAIN_BACKOFF_SECONDS", 1800),
    # How long a queued chain may wait for an ml worker before the sweep fails it.
    "QUEUED_TIMEOUT_SECONDS": env_int("MOVIEREC_QUEUED_TIMEOUT_SECONDS", 3600),
    "EMBED_BATCH_SIZE": env_int("MOVIEREC_EMBED_BATCH_SIZE", 64),
    # Each web worker loads the request encoder in the background as it starts
    # (movierec/gunicorn_conf.py), so the first plain-words request does not wait ~15 s for it.
    "WARM_ENCODER": env_bool("MOVIEREC_WARM_ENCODER", True),
}

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "movierec.throttling.AnonRateThrottle",
        "movierec.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "120/min"),
        "user": os.environ.get("API_THROTTLE_USER", "1200/min"),
    },
    "EXCEPTION_HANDLER": "movierec.api_errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["movierec.api_errors.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["movierec.renderers.JSONRenderer"],
    "NUM_PROXIES": env_int("DJANGO_NUM_PROXIES", 1) if env_bool("DJANGO_BEHIND_PROXY", False) else None,
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "movierec API",
    "DESCRIPTION": "LLM-driven personalised movie recommendation.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
