"""Helpers for tests that run a real Celery worker process beside the test process.

The worker is a separate process, so it cannot see pytest-django's in-memory
test database. ``file_database`` points this process's default connection at
a fresh, migrated SQLite file, and the worker gets the same file (SQLITE_PATH),
the same media root (artifacts) and its own broker URL through its environment.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# A tiny catalogue whose texts carry their genre strongly, so a few steps of
# fine-tuning and the base encoder both have something to find.
GENRES = {
    "Horror": [
        "a haunted house",
        "a masked killer",
        "a cursed doll",
        "zombies in a mall",
        "a vampire in the attic",
        "a demon in the woods",
    ],
    "Comedy": [
        "a wedding goes wrong",
        "two clumsy detectives",
        "a talking dog",
        "a prank war at school",
        "a chef who cannot cook",
        "a road trip with grandma",
    ],
    "Animation": [
        "a brave little robot",
        "talking toys",
        "a dragon who learns to fly",
        "a lost fish",
        "a magical forest of cartoon animals",
        "a princess and a snowman",
    ],
    "Western": [
        "a sheriff and an outlaw",
        "a cattle drive",
        "a gold rush town",
        "a duel at noon",
        "a stagecoach robbery",
        "a lonely gunslinger",
    ],
    "Romance": [
        "strangers in love in Paris",
        "a summer love letter",
        "a planner in love with the groom",
        "lovers parted by war",
        "a second chance at first love",
        "a love triangle in Venice",
    ],
}


def make_small_site(*, users_per_genre: int = 4, seed: int = 0) -> dict:
    """Films in five genres and users who each love one genre and dislike another; returns ids."""
    from django.utils import timezone

    from catalog.models import Genre, Movie, Rating
    from tests.factories import UserFactory

    rng = np.random.default_rng(seed)
    films: dict[str, list[Movie]] = {}
    for name, plots in GENRES.items():
        genre, _ = Genre.objects.get_or_create(name=name)
        films[name] = []
        for i, plot in enumerate(plots):
            movie = Movie.objects.create(
                title=f"{name} Story {i + 1}", year=1990 + i, overview=f"A {name.lower()} film about {plot}."
            )
            movie.genres.set([genre])
            films[name].append(movie)
    names = list(GENRES)
    start = timezone.now() - timedelta(days=60)
    rows = []
    users = []
    for g, name in enumerate(names):
        for u in range(users_per_genre):
            user = UserFactory(username=f"{name.lower()}fan{u}")
            users.append(user.pk)
            liked = [films[name][i] for i in rng.permutation(len(films[name]))]
            disliked = [films[names[(g + 1) % len(names)]][i] for i in rng.permutation(len(films[name]))[:2]]
            rated = liked + disliked
            # Random time order: the held-out (most recent) part mixes likes and dislikes.
            for j, k in enumerate(rng.permutation(len(rated))):
                movie = rated[k]
                value = float(rng.choice([4.5, 5.0])) if movie in liked else float(rng.choice([1.0, 1.5]))
                when = start + timedelta(days=j, hours=u)
                rows.append(Rating(user=user, movie=movie, value=value, created_at=when, updated_at=when))
    Rating.objects.bulk_create(rows)
    for movie in Movie.objects.all():
        ratings = Rating.objects.filter(movie=movie)
        movie.rating_count = ratings.count()
        movie.rating_sum = float(sum(r.value for r in ratings))
        movie.save()
    return {"users": users, "films": {k: [m.pk for m in v] for k, v in films.items()}}


def fake_active_version(kind: str = "random", *, seed: int = 0):
    """An ACTIVE version with made-up embeddings (no TensorFlow): 'genre', 'random' or 'constant'."""
    from catalog.models import Movie
    from recommendations import services, store
    from recommendations.models import ModelVersion

    ids, texts = services.catalogue_texts()
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY, reason=f"test base ({kind})")
    matrix = fake_matrix(kind, ids, seed=seed)
    hashes = np.array([services.text_hash(t) for t in texts], dtype="U16")
    path = store.save_embeddings(version.pk, ids, matrix, hashes)
    ModelVersion.objects.filter(pk=version.pk).update(embeddings_path=path)
    version.refresh_from_db()
    assert Movie.objects.exists()
    return services.model_version_promote(version, reason=f"test base ({kind})")


def fake_matrix(kind: str, movie_ids: np.ndarray, *, seed: int = 0) -> np.ndarray:
    from catalog.models import Movie

    rng = np.random.default_rng(seed)
    dim = 384
    if kind == "constant":
        matrix = np.ones((len(movie_ids), dim), np.float32)
    elif kind == "random":
        matrix = rng.normal(size=(len(movie_ids), dim)).astype(np.float32)
    elif kind == "genre":
        genre_of = {m.pk: m.genres.first().name for m in Movie.objects.with_genres()}
        names = sorted(set(genre_of.values()))
        matrix = 0.05 * rng.normal(size=(len(movie_ids), dim)).astype(np.float32)
        for row, movie_id in enumerate(movie_ids.tolist()):
            matrix[row, names.index(genre_of[movie_id])] += 1.0
    else:
        raise ValueError(kind)
    return (matrix / np.linalg.norm(matrix, axis=1, keepdims=True)).astype(np.float32)


@contextmanager
def file_database(path: Path) -> Iterator[Path]:
    """Point the default connection at a migrated SQLite file; restore the previous one after.

    The previous connection object is set aside, not closed: closing pytest-django's
    in-memory test database would destroy it for the tests that follow.
    """
    from django.core.management import call_command
    from django.db import connections

    conn = connections["default"]
    saved_settings = dict(conn.settings_dict)
    saved_connection = conn.connection
    conn.connection = None
    conn.settings_dict["NAME"] = str(path)
    try:
        call_command("migrate", verbosity=0, interactive=False)
        yield path
    finally:
        conn.close()
        conn.settings_dict.clear()
        conn.settings_dict.update(saved_settings)
        conn.connection = saved_connection


@contextmanager
def app_broker(url: str) -> Iterator[None]:
    """Publish from this process to ``url``.

    Celery gives the CELERY_BROKER_URL environment variable precedence over its
    configuration, and caches connection pools, so both are switched and reset.
    """
    from movierec.celery import app

    def reset() -> None:
        app._pool = None  # dropped, not closed: kombu's global pool registry may still hand it out
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None

    saved_conf, saved_env = app.conf.broker_url, os.environ.get("CELERY_BROKER_URL")
    reset()
    app.conf.broker_url = url
    os.environ["CELERY_BROKER_URL"] = url
    try:
        yield
    finally:
        reset()
        app.conf.broker_url = saved_conf
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def queue_size(queue: str) -> int:
    from movierec.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue=queue, passive=True).message_count


def purge(queues: tuple[str, ...] = ("default", "ml")) -> None:
    from movierec.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in queues:
            with suppress(Exception):  # a queue that does not exist yet has nothing in it
                channel.queue_purge(queue)


class Worker:
    """``celery -A movierec worker -Q default,ml --pool=solo`` as a child process."""

    def __init__(self, tmp: Path, *, db: Path, broker_url: str, media: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = tmp / f"worker-{time.monotonic_ns()}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "movierec.settings_test",
            "MOVIEREC_VAR_DIR": str(tmp),
            "SQLITE_PATH": str(db),
            "DJANGO_MEDIA_ROOT": str(media),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_RESULT_BACKEND": "django-db",
            "TOKENIZERS_PARALLELISM": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60) -> Worker:
        self._log = self.log_path.open("w")
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "movierec",
            "worker",
            "-Q",
            "default,ml",
            "--pool=solo",
            "--loglevel=INFO",
            "-n",
            f"test{os.getpid()}-{time.monotonic_ns()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        wait_for(lambda: "ready." in self.log() or self.proc.poll() is not None, timeout, "worker ready", self)
        assert self.proc.poll() is None, f"worker exited early:\n{self.log()[-3000:]}"
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL, as an OOM killer or a pulled plug would."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # warm shutdown
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        self._log.close()

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(predicate: Callable[[], object], timeout: float, what: str, worker: Worker | None = None, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    tail = worker.log()[-4000:] if worker else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")


# Budget of every test chain: a few steps on tiny batches (see tests' runtime notes).
TINY_BUDGET = {"max_pairs": 24, "epochs": 1, "batch_size": 8, "max_length": 32, "max_steps": 3, "lr": 1e-4, "max_seconds": 120.0}


@contextmanager
def live_site(tmp_path: Path, django_db_blocker, broker_url: str) -> Iterator[dict]:
    """A migrated file database with the tiny site and a fake active version, shared with workers.

    Yields the paths and env a Worker needs; this process publishes to ``broker_url``.
    """
    from django.test import override_settings

    media = tmp_path / "media"
    with (
        django_db_blocker.unblock(),
        file_database(tmp_path / "db.sqlite3") as db,
        override_settings(MEDIA_ROOT=media),
        app_broker(broker_url),
    ):
        site = make_small_site()
        yield {"db": db, "media": media, "broker_url": broker_url, "tmp": tmp_path, **site}


def start_worker(live: dict, env: dict[str, str] | None = None) -> Worker:
    return Worker(live["tmp"], db=live["db"], broker_url=live["broker_url"], media=live["media"], env=env).start()


def wait_until_finished(version_id: int, worker: Worker, timeout: float = 400):
    from recommendations.models import ModelVersion

    def finished():
        version = ModelVersion.objects.get(pk=version_id)
        return version if version.status in ("active", "ready", "rejected", "failed") else None

    return wait_for(finished, timeout, f"v{version_id} to finish", worker, every=1.0)


def check_full_chain(live: dict, worker: Worker) -> None:
    """Queue the chain through the broker, let the worker run it, check every stage left its mark."""
    from django_celery_results.models import TaskResult

    from recommendations import store, training
    from recommendations.models import ActiveModel, ModelVersion, TrainingState

    base = fake_active_version("random")
    assert store.active_bundle().version_id == base.pk  # this process serves the base version
    queued = training.queue_retrain(reason="test", budget=TINY_BUDGET)
    assert ModelVersion.objects.get(pk=queued.version_id).task_id == queued.task_id

    version = wait_until_finished(queued.version_id, worker)

    assert version.status == "active", f"{version.status}: {version.reason}\n{worker.log()[-3000:]}"
    assert version.parent_id == base.pk
    assert len(version.loss_curve) == 3 and version.metrics["finetune"]["steps"] == 3
    assert version.encoder_path and version.embeddings_path and version.collab_path
    metrics = version.metrics
    assert metrics["hybrid"]["path"] and metrics["hybrid"]["films"] == 30 and "ndcg@10" in metrics["hybrid"]
    assert metrics["scorer"] == "hybrid" and metrics["baseline"]["version"] == base.pk
    assert 0 <= metrics["ndcg@10"] <= 1 and 0 <= metrics["recall@10"] <= 1
    assert version.progress == 1.0 and version.data_counts["embedded"] == 30
    assert ActiveModel.objects.singleton().get().version_id == version.pk
    assert ModelVersion.objects.get(pk=base.pk).status == "ready"
    state = TrainingState.objects.singleton().get()
    assert state.lock_owner == "" and state.last_trained_at is not None
    results = dict(
        TaskResult.objects.filter(task_id__in=version.data_counts["tasks"].values()).values_list("task_name", "status")
    )
    assert results == {
        f"recommendations.tasks.{name}": "SUCCESS"
        for name in ("fine_tune_encoder", "refresh_embeddings", "train_collab", "evaluate_and_promote")
    }
    # This process (standing in for a web server) picks the new version up without a restart.
    wait_for(lambda: store.active_bundle().version_id == version.pk, 5, "serving to follow the pointer")
    assert store.active_bundle().hybrid is not None  # served by the hybrid the worker fitted
