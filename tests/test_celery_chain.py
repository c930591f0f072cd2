"""The full retraining chain through a real Celery worker process and the embedded broker.

The worker (``celery -A movierec worker -Q default,ml --pool=solo``) shares a
SQLite file with this process; the chain fine-tunes 3 steps of batch 8 on a
30-film catalogue, embeds it, fits the collaborative model and promotes.
"""

from __future__ import annotations

import pytest

from tests.celery_worker import check_full_chain, live_site, purge, start_worker

pytestmark = pytest.mark.slow


def test_full_chain_with_embedded_broker(tmp_path, django_db_blocker):
    url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    with live_site(tmp_path, django_db_blocker, url) as live:
        purge()
        # A generous tolerance: this test is about the plumbing; test_promotion covers refusals.
        worker = start_worker(live, env={"MOVIEREC_PROMOTE_TOLERANCE": "1.0"})
        try:
            check_full_chain(live, worker)
        finally:
            worker.stop()
