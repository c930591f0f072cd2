"""Settings come from the environment; production refuses to start without a secret."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MONGODB"))}
    base.update(env, DJANGO_SETTINGS_MODULE="movierec.settings")
    code = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'], settings.DEBUG)"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120)


def test_secret_key_required_without_debug(tmp_path):
    result = run_check({"MOVIEREC_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr


def test_debug_has_development_fallback(tmp_path):
    result = run_check({"DJANGO_DEBUG": "1", "MOVIEREC_VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "movierec.sqlite True" in result.stdout


def test_sqlite_uses_wal(db):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] in {"wal", "memory"}  # in-memory test DBs cannot use WAL
    assert "journal_mode=WAL" in connection.settings_dict["OPTIONS"]["init_command"]
