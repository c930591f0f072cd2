#!/usr/bin/env bash
# Start the whole site on the embedded defaults: web (gunicorn), Celery workers
# (default queue: threads; ml queue: solo, because a forked TF process hangs)
# and the scheduler, on http://127.0.0.1:8000. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" DJANGO_DEBUG="${DJANGO_DEBUG:-1}" TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PORT="${PORT:-8000}"
PY=.venv/bin/python
$PY manage.py migrate --noinput -v0
$PY manage.py collectstatic --noinput -v0
$PY manage.py bootstrap
mkdir -p var/log
pids=()
cleanup() { trap - INT TERM EXIT; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup INT TERM EXIT
# keep NAME CMD...: run CMD and start it again when it dies (a killed ml worker must not take the
# web and the beat down with it: the beat's sweep is what fails the version it was training). A
# process that keeps dying within 10 s of starting (a taken port, a bad setting) stops the site.
keep() {
  local name=$1 quick=0 child status started
  shift
  trap 'kill "$child" 2>/dev/null; wait "$child" 2>/dev/null; exit 0' INT TERM
  while true; do
    started=$SECONDS
    "$@" & child=$!
    status=0; wait "$child" || status=$?
    if (( SECONDS - started < 10 )); then quick=$((quick + 1)); else quick=0; fi
    if (( quick >= 3 )); then echo "run.sh: $name keeps exiting (status $status); stopping" >&2; exit "$status"; fi
    echo "run.sh: $name exited (status $status); starting it again" >&2
    sleep 2
  done
}
# No --preload: TensorFlow must never be initialised in a parent that forks.
keep web .venv/bin/gunicorn movierec.wsgi -c python:movierec.gunicorn_conf -b "127.0.0.1:${PORT}" -w "${WEB_WORKERS:-2}" -k gthread --threads 4 \
  --timeout 120 --access-logfile - & pids+=($!)
keep worker-default .venv/bin/celery -A movierec worker -Q default -n default@%h --pool=threads -c 4 -l info & pids+=($!)
keep worker-ml .venv/bin/celery -A movierec worker -Q ml -n ml@%h --pool=solo -l info & pids+=($!)
keep beat .venv/bin/celery -A movierec beat -l info --schedule var/celerybeat-schedule & pids+=($!)
echo "movierec is running on http://127.0.0.1:${PORT}  (admin: /${DJANGO_ADMIN_URL:-admin/}; see the admin line above)"
wait -n "${pids[@]}"
