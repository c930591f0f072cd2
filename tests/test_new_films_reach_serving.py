"""A film added after the model was built reaches serving without a retraining or a restart:
the sweep queues its embedding, and serving processes pick up the refreshed vectors."""

from __future__ import annotations

import time

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command

from recommendations import engine, store, training
from recommendations.models import ModelVersion
from recommendations.tasks import embed_new_films
from tests.celery_worker import app_broker, purge, queue_size
from tests.factories import MovieFactory

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded_site(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    films = [MovieFactory(title=t, overview=o) for t, o in [("Alpha", "Space pirates raid a moon."), ("Beta", "A quiet romance."), ("Gamma", "A bank heist.")]]
    call_command("embed_films")
    return films


def test_a_new_film_is_embedded_and_served(embedded_site, tmp_path):
    before = store.active_bundle()
    old_path = ModelVersion.objects.get(pk=before.version_id).embeddings_path
    with app_broker(f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"):
        assert training.sweep()["embedding"] is None  # nothing new since the vectors were made
        delta = MovieFactory(title="Delta", overview="Space pirates chase a comet.")
        queued_for = training.sweep()["embedding"]
        assert queued_for is not None and queue_size("ml") == 1
        assert training.sweep()["embedding"] is None  # queued once per edit, not every minute
        purge()

    assert delta.pk not in before.row_of and engine.similar_movies(delta) == []
    embed_new_films()  # what the ml worker runs for the queued task
    time.sleep(store.POLL_SECONDS + 0.1)

    after = store.active_bundle()
    assert after is not before and after.version_id == before.version_id
    assert delta.pk in after.row_of
    assert engine.similar_movies(delta, k=3)[0].movie_id == embedded_site[0].pk  # the other space-pirate film
    assert not default_storage.exists(old_path)  # the replaced vectors' file is gone
    with app_broker(f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"):
        assert training.sweep()["embedding"] is None
