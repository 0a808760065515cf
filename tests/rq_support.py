"""An in-memory Redis (fakeredis) behind django-rq, for the RQ console tests: the
console's pages and the job arguments are inspected without a Redis server."""

import fakeredis
import pytest
import redis


@pytest.fixture
def fake_redis(monkeypatch):
    server = fakeredis.FakeServer()
    fake = fakeredis.FakeRedis(server=server)
    monkeypatch.setattr(redis.Redis, "from_url", classmethod(lambda cls, *args, **kwargs: fake))
    return fake


def queue_index(name: str) -> int:
    from django_rq.settings import QUEUES_LIST

    return next(i for i, config in enumerate(QUEUES_LIST) if config["name"] == name)
