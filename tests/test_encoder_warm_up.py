"""A web worker started as scripts/run.sh starts it (gunicorn with movierec.gunicorn_conf) loads
the request encoder in the background, so the first plain-words request finds it ready.

Real gunicorn, real MiniLM (TensorFlow) in the worker, real HTTP.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.celery_worker import REPO, fake_active_version, file_database
from tests.test_concurrent_ratings import free_port

pytestmark = pytest.mark.slow


def test_a_web_worker_warms_the_encoder_before_the_first_ask(tmp_path, django_db_blocker, settings) -> None:
    from tests.factories import MovieFactory

    with django_db_blocker.unblock(), file_database(tmp_path / "db.sqlite3") as db:
        for title in ("Heat", "Ronin", "Alien"):
            MovieFactory(title=title)
        version = fake_active_version("random")
        port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "movierec.settings_test",
            "MOVIEREC_VAR_DIR": str(tmp_path),
            "SQLITE_PATH": str(db),
            "DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT),  # where the test saved the version's artifact
        }
        cmd = [str(Path(sys.executable).parent / "gunicorn"), "movierec.wsgi", "-c", "python:movierec.gunicorn_conf"]
        cmd += ["-b", f"127.0.0.1:{port}", "-w", "1", "-k", "gthread", "--threads", "2"]
        log_path = tmp_path / "gunicorn.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 240
            while "request encoder of v" not in log_path.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.5)
            assert f"request encoder of v{version.pk} ready" in log_path.read_text()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/api/v1/ask/", body=json.dumps({"text": "a tense heist"}), headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            body = json.loads(response.read())
            assert response.status == 200, body
            assert {item["movie"]["title"] for item in body["results"]} <= {"Heat", "Ronin", "Alien"}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
