#!/usr/bin/env bash
# Run the same test suite against MongoDB instead of SQLite.
#   MONGODB_URI='mongodb://127.0.0.1:27017/movierec?replicaSet=rs0&directConnection=true' scripts/mongo_test.sh [pytest args]
# The server must be a replica set (transactions); a one-node set is enough:
#   docker run -d -p 27017:27017 mongo:8.0 --replSet rs0 --bind_ip_all
#   docker exec <id> mongosh --quiet --eval "rs.initiate()"
# pytest-django creates and drops a test_<name> database; the URI's user needs
# the right to create one (or use a local server without authentication).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MONGODB_URI:?set MONGODB_URI, e.g. mongodb://127.0.0.1:27017/movierec?replicaSet=rs0&directConnection=true}"
export MONGODB_URI
scripts/install.sh --dev
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# Refuse to start against nothing: without a server the MongoDB tests would only be skipped.
.venv/bin/python - <<'PY'
import os, sys
from pymongo import MongoClient

client = MongoClient(os.environ["MONGODB_URI"], serverSelectionTimeoutMS=5000)
try:
    hello = client.admin.command("hello")
except Exception as exc:
    sys.exit(f"MongoDB at MONGODB_URI is unreachable: {type(exc).__name__}: {exc}")
if "setName" not in hello and hello.get("msg") != "isdbgrid":
    print("warning: not a replica set: transactions (movierec.mongo.atomic) will fail", file=sys.stderr)
print(f"MongoDB {client.server_info()['version']}, replica set: {hello.get('setName', '-')}")
PY

# Both migration sets must match the models (the MongoDB one without touching the server).
DJANGO_DEBUG=1 MOVIEREC_VAR_DIR="$(mktemp -d)" .venv/bin/python -m movierec.mongo makemigrations --check --dry-run -v0
env -u MONGODB_URI DJANGO_DEBUG=1 MOVIEREC_VAR_DIR="$(mktemp -d)" .venv/bin/python manage.py makemigrations --check --dry-run -v0

# The same suite; the test settings pick MongoDB up from MONGODB_URI.
.venv/bin/python -m pytest -p no:cacheprovider "$@"
