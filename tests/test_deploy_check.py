"""`manage.py check --deploy` with the production settings: not one warning.

Runs in a subprocess so the production environment (DEBUG off, a real secret,
allowed hosts, HSTS, secure cookies, SSL redirect) cannot leak into other tests.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A clean environment as a production container would have it (no DJANGO_*/MONGODB_* from the caller)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MONGODB", "REDIS_CACHE", "AWS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="movierec.settings_production",
        # Generated per run: a committed key would be a leaked key.
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="movierec.example.com",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://movierec.example.com",
        MOVIEREC_VAR_DIR=str(tmp_path),
    )
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="sqlite"),
        # No server is contacted by `check`: the MongoDB wiring must be deploy-clean too.
        pytest.param(
            {"MONGODB_URI": "mongodb://127.0.0.1:1/movierec", "REDIS_CACHE_URL": "redis://127.0.0.1:1/1"},
            id="mongodb+redis",
        ),
    ],
)
def test_check_deploy_has_no_warnings(tmp_path, extra):
    result = manage(production_env(tmp_path, **extra), "check", "--deploy", "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues (0 silenced)." in output, output


def test_production_refuses_debug(tmp_path):
    result = manage(production_env(tmp_path, DJANGO_DEBUG="1"), "check")
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be off" in result.stderr


def test_production_requires_allowed_hosts(tmp_path):
    env = production_env(tmp_path)
    del env["DJANGO_ALLOWED_HOSTS"]
    result = manage(env, "check")
    assert result.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS is required" in result.stderr


def test_production_requires_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    result = manage(env, "check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is required" in result.stderr
