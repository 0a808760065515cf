"""One door for background work. With Redis, every job is recorded in the transaction
that needs it (the outbox, moderation.outbox) and handed to django-rq after commit;
without Redis (a bare machine, the test suite) it runs inline after commit, and only a
failure leaves a row, for the drain to retry."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

# Queues in the order a worker serves them (`make worker`): enforcement is never stuck
# behind a backlog of emails.
QUEUE_PRIORITY = ("audit", "enforcement", "restoration", "default", "email")


def enqueue(func: Callable, *args, queue: str = "default", durable: bool = True, key: str = "", **kwargs) -> None:
    """Run `func(*args, **kwargs)` once the current transaction commits.

    Arguments must be JSON-simple ids (a few fixed words are fine): jobs load their
    objects themselves. Never personal data: a job's arguments are shown in the admin
    and the RQ console and kept in Redis and the outbox; an email address among them is
    refused here (ValueError), so a test of the caller catches it.
    `durable=False` is for jobs with an outbox of their own (enforcement's
    `OutboxEntry`, the audit sequencer's cron): they are handed over after commit, and a
    lost hand-over is left to their own drain. `key` keeps one open job per key.
    """
    _refuse_personal_data(func, [*args, *kwargs.values(), key])
    if settings.JOBS_RUN_INLINE:

        def _run():
            try:
                func(*args, **kwargs)
            except Exception as exc:
                logger.exception("inline job %s failed", func)
                if durable:
                    from moderation.outbox import record_inline_failure

                    record_inline_failure(func, args, kwargs, queue, exc)

        _run.job_key = (func, args, tuple(sorted(kwargs.items())), queue)
        transaction.on_commit(_run, robust=False)
        return
    if durable:
        from moderation.outbox import record

        record(func, args, kwargs, queue=queue, key=key)
        return

    def _send():
        try:
            import django_rq

            django_rq.get_queue(queue, commit_mode="auto").enqueue(func, *args, **kwargs)
        except Exception as exc:  # Redis down: the job's own drain sends it later.
            logger.warning("job %s not handed to RQ (%s); its drain will send it", func, exc)

    _send.job_key = (func, args, tuple(sorted(kwargs.items())), queue)
    transaction.on_commit(_send)


def _refuse_personal_data(func: Callable, values) -> None:
    from moderation.log_privacy import has_email_address

    for value in values:
        if isinstance(value, list):
            _refuse_personal_data(func, value)
        elif isinstance(value, str) and has_email_address(value):
            raise ValueError(f"{func.__name__}: a job's arguments carry ids, never an email address")


def enqueue_once(func: Callable, *args, queue: str = "default", **kwargs) -> None:
    """Like `enqueue`, but one job per transaction however often it is asked for
    (the audit sequencer, asked by every audit row; periodic, so not durable)."""
    key = (func, args, tuple(sorted(kwargs.items())), queue)
    pending = transaction.get_connection().run_on_commit
    if any(getattr(callback, "job_key", None) == key for _, callback, _ in pending):
        return
    enqueue(func, *args, queue=queue, durable=False, **kwargs)


def enqueue_batched(func: Callable, item, *, queue: str = "default", chunk: int = 100) -> None:
    """Collect `item`s asked for in one transaction and run `func(items)` once per
    `chunk` after commit: a bulk approval of 10,000 actions is 100 jobs, not 10,000
    (RQ's per-job cost dwarfs applying one action). Not durable: the caller keeps its
    own outbox (enforcement's `OutboxEntry`, whose drain batches the same way). An
    item whose savepoint rolled back may ride along: the job re-checks each item."""

    def send(items: list) -> None:
        for start in range(0, len(items), chunk):
            if settings.JOBS_RUN_INLINE:  # now, in commit order, as a single enqueue would
                try:
                    func(items[start : start + chunk])
                except Exception:
                    logger.exception("inline batch job %s failed", func)
            else:
                enqueue(func, items[start : start + chunk], queue=queue, durable=False)

    on_commit_batched(("batched", func, queue), item, send)


def on_commit_batched(key, item, send: Callable[[list], None]) -> None:
    """Call `send(items)` once after commit with every `item` asked for under `key` in
    this transaction (at once outside one). Whoever receives the items re-checks them:
    one whose savepoint rolled back may ride along."""
    conn = transaction.get_connection()
    if not conn.in_atomic_block:
        send([item])
        return
    for _, callback, _ in conn.run_on_commit:
        if getattr(callback, "batch_key", None) == key and not callback.sent:
            callback.items.append(item)
            return
    items = [item]

    def _send():
        _send.sent = True
        send(items)

    _send.batch_key = key
    _send.items = items
    _send.sent = False
    transaction.on_commit(_send)
