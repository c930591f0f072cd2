"""Production settings: every security switch on unless the environment turns it off.

DJANGO_SETTINGS_MODULE=movierec.settings_production (the Docker image's default).
Still read from the environment: DJANGO_SECRET_KEY and DJANGO_ALLOWED_HOSTS
(required), MONGODB_URI, CELERY_BROKER_URL, REDIS_CACHE_URL, AWS_* (see
.env.example and docs/deploy.md). `manage.py check --deploy` is clean with
these defaults (tests/test_deploy_check.py).
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

# Defaults only: an operator can still set e.g. DJANGO_HSTS_SECONDS=300 while
# trying HTTPS out, before committing browsers to a year of HSTS.
PRODUCTION_DEFAULTS = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
    "DJANGO_SECURE_COOKIES": "1",
    "DJANGO_HSTS_SECONDS": str(365 * 24 * 3600),
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "1",
    "DJANGO_HSTS_PRELOAD": "1",
    # TLS ends at the reverse proxy in front of gunicorn (docs/deploy.md).
    "DJANGO_BEHIND_PROXY": "1",
}
for _name, _value in PRODUCTION_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

from movierec.settings import *  # noqa: E402, F403
from movierec.settings import ALLOWED_HOSTS, DEBUG  # noqa: E402

if DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off with movierec.settings_production.")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS is required with movierec.settings_production.")
