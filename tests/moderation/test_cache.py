"""The Redis cache (sessions, rate limits) builds one Redis client per connection pool
and reuses it: Django's client builds one for every command, which cost a staff request
as much CPU as reading its session."""

from django.core.cache import caches
from django.test import override_settings

DEAD_CACHE = {  # nothing listens there: every command meets an outage
    "default": {
        "BACKEND": "moderation.cache.FailSoftRedisCache",
        "LOCATION": "redis://127.0.0.1:9/0",
        "OPTIONS": {"socket_connect_timeout": 0.5},
    }
}


def test_the_cache_reuses_one_redis_client_per_connection_pool():
    with override_settings(CACHES=DEAD_CACHE):
        client = caches["default"]._cache
        assert client.get_client("a") is client.get_client("b") is client.get_client("c", write=True)


def test_a_reused_client_still_reads_a_redis_outage_as_empty():
    with override_settings(CACHES=DEAD_CACHE):
        cache = caches["default"]
        for _ in range(2):
            assert cache.get("k", "fallback") == "fallback"
            assert cache.add("k", 1) is True
