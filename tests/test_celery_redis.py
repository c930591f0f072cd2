"""The full retraining chain through a real worker with Redis as the broker.

Runs only when MOVIEREC_TEST_REDIS_URL (or CELERY_BROKER_URL) points at Redis; scripts/test.sh sets
MOVIEREC_TEST_REDIS_URL when a Redis server answers on 127.0.0.1:6379. Its queues are purged first.
"""

from __future__ import annotations

import os

import pytest

from tests.celery_worker import check_full_chain, live_site, purge, start_worker

BROKER = os.environ.get("MOVIEREC_TEST_REDIS_URL") or os.environ.get("CELERY_BROKER_URL", "")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not BROKER.startswith("redis://"), reason="set MOVIEREC_TEST_REDIS_URL=redis://127.0.0.1:6379/0 to run against Redis"
    ),
]


def test_full_chain_with_redis_broker(tmp_path, django_db_blocker):
    with live_site(tmp_path, django_db_blocker, BROKER) as live:
        purge()
        worker = start_worker(live, env={"MOVIEREC_PROMOTE_TOLERANCE": "1.0"})
        try:
            check_full_chain(live, worker)
        finally:
            worker.stop()
