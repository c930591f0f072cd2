"""Concurrent rating writes by one user on one film: one rating, the last written, consistent counters.

Real HTTP against gunicorn (2 processes x 4 threads, as scripts/run.sh) on a migrated SQLite file,
so the writes really race across processes and threads; a barrier releases them together.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.celery_worker import REPO, file_database

pytestmark = pytest.mark.slow

WRITERS = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(tmp: Path, db: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "movierec.settings_test",
        "MOVIEREC_VAR_DIR": str(tmp),
        "SQLITE_PATH": str(db),
    }
    cmd = [str(Path(sys.executable).parent / "gunicorn"), "movierec.wsgi", "-b", f"127.0.0.1:{port}"]
    cmd += ["-w", "2", "-k", "gthread", "--threads", "4", "--log-level", "warning"]
    log = open(tmp / "gunicorn.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def request(port: int, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    status, data = response.status, json.loads(response.read() or b"{}")
    conn.close()
    return status, data


def wait_up(proc: subprocess.Popen, port: int, token: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "gunicorn exited"
        try:
            if request(port, "GET", "/api/v1/me/ratings/", token)[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError("gunicorn did not answer")


def test_concurrent_writes_leave_one_rating_the_last_written(tmp_path, django_db_blocker) -> None:
    from rest_framework.authtoken.models import Token

    from catalog.models import Movie, Rating
    from tests.factories import MovieFactory, UserFactory

    with django_db_blocker.unblock(), file_database(tmp_path / "db.sqlite3") as db:
        user, movie = UserFactory(), MovieFactory()
        token = Token.objects.create(user=user).key
        port = free_port()
        proc = start_gunicorn(tmp_path, db, port)
        try:
            wait_up(proc, port, token)
            values = [0.5 + 0.5 * (i % 10) for i in range(WRITERS)]
            barrier = threading.Barrier(WRITERS)
            answers: list[tuple[int, dict]] = [(0, {})] * WRITERS

            def write(i: int) -> None:
                barrier.wait()
                # Half through the collection, half through the per-film endpoint: both upsert.
                if i % 2:
                    answers[i] = request(port, "PUT", f"/api/v1/me/ratings/{movie.pk}/", token, {"rating": values[i]})
                else:
                    answers[i] = request(port, "POST", "/api/v1/me/ratings/", token, {"movie": movie.pk, "rating": values[i]})

            threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            proc.terminate()
            proc.wait(timeout=30)

        statuses = [status for status, _ in answers]
        assert all(s in (200, 201) for s in statuses), (statuses, (tmp_path / "gunicorn.log").read_text()[-2000:])
        assert statuses.count(201) == 1  # exactly one write created it; the others replaced it
        rows = list(Rating.objects.filter(user=user, movie=movie))
        assert len(rows) == 1
        # The last write committed is the one whose answer carries the latest updated_at.
        last = max((datetime.fromisoformat(data["updated_at"].replace("Z", "+00:00")), data["rating"]) for _, data in answers)
        assert rows[0].value == last[1] and rows[0].updated_at == last[0]
        movie = Movie.objects.get(pk=movie.pk)
        assert (movie.rating_count, movie.rating_sum) == (1, rows[0].value)
