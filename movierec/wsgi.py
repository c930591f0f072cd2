"""WSGI entry point (gunicorn movierec.wsgi; never with --preload, see ml-stack fork hazard)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec.settings")
application = get_wsgi_application()
