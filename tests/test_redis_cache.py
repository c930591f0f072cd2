"""movierec.cache.ReusingRedisCache: a real Redis, one client per pool, Django's cache API intact."""

from __future__ import annotations

import socket
import uuid

import pytest

from movierec.cache import ReusingRedisCache

REDIS = "redis://127.0.0.1:6379/15"


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


pytestmark = pytest.mark.skipif(not redis_up(), reason="no Redis server on 127.0.0.1:6379")


def test_cache_api_round_trip() -> None:
    cache = ReusingRedisCache(REDIS, {"KEY_PREFIX": f"t-{uuid.uuid4().hex}"})
    assert cache.get("missing") is None
    cache.set("k", {"films": [1, 2]}, 30)
    assert cache.get("k") == {"films": [1, 2]}
    assert cache.add("k", "other") is False
    assert cache.incr(cache.add("n", 1) and "n") == 2
    cache.delete("k")
    assert cache.get("k") is None
    cache.delete("n")


def test_one_client_per_pool() -> None:
    cache = ReusingRedisCache(REDIS, {})
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=False) is client
    assert cache._cache.get_client("key", write=True) is client
