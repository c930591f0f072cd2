#!/usr/bin/env bash
# Install (dev) and run the whole test suite: lint, migrations check, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh --dev
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check .
DJANGO_DEBUG=1 MOVIEREC_VAR_DIR="$(mktemp -d)" .venv/bin/python manage.py makemigrations --check --dry-run -v0
# Redis runs on this kind of machine; the Redis broker test uses it when reachable.
if (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then export MOVIEREC_TEST_REDIS_URL="redis://127.0.0.1:6379/15"; fi
.venv/bin/python -m pytest "$@"
