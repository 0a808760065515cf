"""One door for background work. With Redis, jobs go to django-rq queues after
commit; without it they run inline after commit, so a bare machine needs nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue(func: Callable, *args, queue: str = "default", **kwargs) -> None:
    """Run `func(*args, **kwargs)` once the current transaction commits.

    Arguments must be JSON-simple (ids, strings): jobs load their objects themselves.
    """

    def _send():
        if settings.JOBS_RUN_INLINE:
            func(*args, **kwargs)
            return
        import django_rq

        django_rq.get_queue(queue).enqueue(func, *args, **kwargs)

    _send.job_key = (func, args, tuple(sorted(kwargs.items())), queue)
    transaction.on_commit(_send, robust=settings.JOBS_RUN_INLINE)


def enqueue_once(func: Callable, *args, queue: str = "default", **kwargs) -> None:
    """Like `enqueue`, but one job per transaction however often it is asked for
    (the audit sequencer, asked by every audit row)."""
    key = (func, args, tuple(sorted(kwargs.items())), queue)
    pending = transaction.get_connection().run_on_commit
    if any(getattr(callback, "job_key", None) == key for _, callback, _ in pending):
        return
    enqueue(func, *args, queue=queue, **kwargs)
