"""A Redis cache that reads a Redis outage as an empty cache: rate-limit counters and
throttles start again from zero for the outage, and no request fails with a 500
because Redis is down (the jobs it carries wait in the outbox, moderation.outbox)."""

from __future__ import annotations

import logging

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)


def _soft(method, fallback):
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except OUTAGE as exc:
            logger.warning("cache unavailable (%s): %s", method.__name__, exc)
            return fallback(*args, **kwargs) if callable(fallback) else fallback

    wrapper.__name__ = method.__name__
    return wrapper


class ReusedClientRedisCacheClient(RedisCacheClient):
    """Django's Redis cache client builds a new redis.Redis for every command (about
    0.17 ms of CPU: it copies some 170 response callbacks), which on every staff request
    (the session is read from this cache) cost as much as the command itself. Here each
    connection pool has one, made on first use: redis.Redis keeps no per-command state
    (and Django gives each thread its own cache object anyway)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class FailSoftRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient

    get = _soft(RedisCache.get, lambda key, default=None, version=None: default)
    add = _soft(RedisCache.add, True)
    set = _soft(RedisCache.set, None)
    touch = _soft(RedisCache.touch, False)
    delete = _soft(RedisCache.delete, False)
    get_many = _soft(RedisCache.get_many, {})
    has_key = _soft(RedisCache.has_key, False)
    incr = _soft(RedisCache.incr, lambda key, delta=1, version=None: delta)
    set_many = _soft(RedisCache.set_many, [])
    delete_many = _soft(RedisCache.delete_many, None)
    clear = _soft(RedisCache.clear, False)

    def get_or_set(self, key, default, timeout=DEFAULT_TIMEOUT, version=None):
        return super().get_or_set(key, default, timeout=timeout, version=version)
