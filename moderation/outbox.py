"""The transactional outbox of background work.

`moderation.jobs.enqueue` writes a `BackgroundJob` row in the transaction of the change
that needs the job and hands it to RQ after commit. A lost hand-over (Redis down, the
process killed between commit and enqueue) costs nothing: the row stays due and the
periodic drain (`drain_jobs`, supervision/cron.py, or `manage.py drain_jobs`) hands it
over again once Redis answers. The RQ job is `run_job(pk)`: it takes a lease on the row
(renewed by a heartbeat while the job runs), so a job a worker is running is never
handed to a second one, and records the outcome: done, retried with exponential
backoff, or given up after `JOB_MAX_ATTEMPTS` (the admin's Retry, the supervisor
dashboard's count). Jobs must be idempotent where they can be run twice (a worker
dying after the work and before `done_at` is written runs it again).

Arguments are ids, never personal data (a job that needs what someone typed reads it
from a row of its own, appeals.MagicLinkRequest): the row is read by supervisors in the
admin, and whatever is in it would also reach the audit log through a retry. Even so,
people see a job's arguments only through `describe_call` (names; values only for ids),
and errors are stored with email addresses blanked (`scrub_error`): an SMTP refusal
names its recipient.
"""

from __future__ import annotations

import inspect
import logging
import threading
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from moderation.audit import register_verb
from moderation.log_privacy import blank_email_addresses
from moderation.models import BackgroundJob

logger = logging.getLogger(__name__)

register_verb("job.retried", "{actor} sent background job {target} back to the workers")


def _conf(name: str, default):
    return type(default)(getattr(settings, "BACKGROUND_JOBS", {}).get(name, default))


def lease() -> timedelta:
    return timedelta(seconds=_conf("LEASE_SECONDS", 60.0))


def handover_grace() -> timedelta:
    """How long a recorded job may wait for its after-commit hand-over before the drain
    sends it itself."""
    return timedelta(seconds=_conf("HANDOVER_GRACE_SECONDS", 30.0))


def requeue_after() -> timedelta:
    """A job handed to RQ that has not started by then is handed over again (a queue
    emptied, Redis restarted without its data). The lease keeps the copies from running
    twice at once; `done_at` keeps a finished job from running again."""
    return timedelta(seconds=_conf("REQUEUE_AFTER_SECONDS", 15 * 60.0))


def max_attempts() -> int:
    return _conf("MAX_ATTEMPTS", 8)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the n-th failed attempt: base, 2×base, 4×base … ≤ 1 h."""
    base = _conf("RETRY_BACKOFF_SECONDS", 15.0)
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 3600))


def dotted(func: Callable) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def scrub_error(error: str) -> str:
    """An error as stored and shown: email addresses blanked (a refused recipient is in
    the SMTP error's text), at most 2,000 characters."""
    return blank_email_addresses(error)[:2000]


def _describe_error(exc: Exception) -> str:
    return scrub_error(f"{type(exc).__name__}: {exc}")


def _shown(value) -> bool:
    """Ids are shown; anything else (a string could be anything) is not."""
    if isinstance(value, list):
        return all(_shown(item) for item in value)
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def describe_call(job: BackgroundJob) -> str:
    """The job's call for people (admin list and page): every argument by name, its value
    only when it is an id, so nobody reads personal data off a job even if one carried
    it. `send_appeal_email(appeal_id=4, event=…)`."""
    name = job.func.rsplit(".", 1)[-1]
    try:
        bound = inspect.signature(import_string(job.func)).bind_partial(*job.args, **job.kwargs).arguments
    except Exception:  # renamed or removed function, arguments that no longer fit
        bound = {**{f"arg{i + 1}": value for i, value in enumerate(job.args)}, **job.kwargs}
    shown = ", ".join(f"{key}={value if _shown(value) else '…'}" for key, value in bound.items())
    return f"{name}({shown})"


# Recording and handing over ---------------------------------------------------------


_together = threading.local()


@contextmanager
def recorded_together():
    """Jobs recorded inside (without a key) are written in one INSERT as the block ends,
    still inside the caller's transaction, and handed over after its commit like any
    other: a chunk of signals that opens 125 cases records 125 evidence jobs from the
    cases' post_save receivers, one row each. Their ids exist only after the block."""
    if getattr(_together, "jobs", None) is not None:  # an outer block writes them
        yield
        return
    _together.jobs = []
    try:
        yield
        jobs = _together.jobs
    finally:
        _together.jobs = None
    if jobs:
        BackgroundJob.objects.bulk_create(jobs)
        for job in jobs:
            _hand_over_on_commit(job.pk, job.queue)


def record(func: Callable, args=(), kwargs=None, *, queue: str = "default", key: str = "") -> BackgroundJob | None:
    """Write the job in the current transaction and hand it to RQ after commit. With a
    `key`, a job still open under that key stands for this one (None is returned)."""
    job = BackgroundJob(
        func=dotted(func),
        args=list(args),
        kwargs=dict(kwargs or {}),
        queue=queue,
        key=key,
        next_attempt_at=timezone.now() + handover_grace(),
    )
    pending = getattr(_together, "jobs", None)
    if pending is not None and not key:
        pending.append(job)
        return job
    if key:
        if BackgroundJob.objects.filter(key=key, done_at__isnull=True, gave_up_at__isnull=True).exists():
            return None
        try:
            with transaction.atomic():
                job.save()
        except IntegrityError:
            return None
    else:
        job.save()
    _hand_over_on_commit(job.pk, queue)
    return job


def _hand_over_on_commit(job_id: int, queue: str) -> None:
    """After commit, the jobs one transaction recorded for a queue go to RQ together
    (`hand_over_many`: one Redis round trip and one UPDATE), not one connection and one
    UPDATE each: an intake batch that opens 500 cases records 500 jobs. A job whose
    savepoint rolled back may ride along; its row is gone and `run_job` skips it."""
    from moderation.jobs import on_commit_batched

    on_commit_batched(("hand-over", queue), job_id, lambda job_ids: hand_over_many(job_ids, queue))


def hand_over_many(job_ids: list[int], queue: str) -> int:
    """`hand_over` for many jobs of one queue in one Redis pipeline. Never raises: a
    failure leaves every row due for the drain. Returns how many were handed over."""
    if len(job_ids) == 1:
        return int(hand_over(job_ids[0], queue))
    try:
        import django_rq
        from django_rq.queues import get_result_ttl
        from rq import Queue

        rq_queue = django_rq.get_queue(queue, commit_mode="auto")
        calls = [Queue.prepare_data(run_job, (pk,), result_ttl=get_result_ttl(queue)) for pk in job_ids]
        with rq_queue.connection.pipeline() as pipe:
            rq_queue.enqueue_many(calls, pipeline=pipe)
            pipe.execute()
    except Exception as exc:  # Redis down, refused, timed out: the drain sends them later.
        logger.warning("%s background jobs not handed to RQ (%s); the drain will send them", len(job_ids), exc)
        return 0
    try:
        now = timezone.now()
        BackgroundJob.objects.filter(pk__in=job_ids, done_at__isnull=True).update(
            enqueued_at=now, next_attempt_at=now + requeue_after()
        )
    except Exception as exc:  # The database went away after commit: the workers still run them.
        logger.warning("%s background jobs handed over, not marked (%s)", len(job_ids), exc)
    return len(job_ids)


def hand_over(job_id: int, queue: str) -> bool:
    """Give the job to RQ. Never raises: a failure leaves the row due for the drain."""
    try:
        import django_rq

        django_rq.get_queue(queue, commit_mode="auto").enqueue(run_job, job_id)
    except Exception as exc:  # Redis down, refused, timed out: the drain sends it later.
        logger.warning("background job %s not handed to RQ (%s); the drain will send it", job_id, exc)
        return False
    try:
        now = timezone.now()
        BackgroundJob.objects.filter(pk=job_id, done_at__isnull=True).update(
            enqueued_at=now, next_attempt_at=now + requeue_after()
        )
    except Exception as exc:  # The database went away after commit: the worker still runs it.
        logger.warning("background job %s handed over, not marked (%s)", job_id, exc)
    return True


def drain_jobs(*, now=None, limit: int = 1000) -> int:
    """Hand over every open job that is due and not leased: never handed over (Redis was
    down), failed and past its backoff, or whose worker died (lease ran out). Returns how
    many were handed over; stops at the first refusal (Redis still down)."""
    now = now or timezone.now()
    free = Q(leased_until__isnull=True) | Q(leased_until__lte=now)
    due = list(
        BackgroundJob.objects.filter(free, next_attempt_at__lte=now, done_at__isnull=True, gave_up_at__isnull=True)
        .order_by("next_attempt_at", "id")
        .values_list("pk", "queue", "attempts")[:limit]
    )
    sent = 0
    for pk, queue, attempts in due:
        if attempts >= max_attempts():
            _give_up(pk, token=None, error="no attempt finished (the worker died each time)")
            continue
        if not hand_over(pk, queue):
            break
        sent += 1
    return sent


def open_jobs():
    return BackgroundJob.objects.filter(done_at__isnull=True, gave_up_at__isnull=True)


def failed_jobs():
    """Jobs that gave up: the supervisor dashboard counts them, the admin retries them."""
    return BackgroundJob.objects.filter(gave_up_at__isnull=False, done_at__isnull=True)


def retry(*, job: BackgroundJob, actor) -> bool:
    """The admin's Retry: a given-up or waiting job gets a fresh round of attempts now."""
    from moderation.audit import record_event

    with transaction.atomic():
        job = BackgroundJob.objects.select_for_update().get(pk=job.pk)
        if job.done_at or job.state() == "running":
            return False
        if job.key and job.gave_up_at and open_jobs().filter(key=job.key).exclude(pk=job.pk).exists():
            return False
        BackgroundJob.objects.filter(pk=job.pk).update(
            gave_up_at=None, attempts=0, next_attempt_at=timezone.now(), leased_until=None, lease_token=""
        )
        record_event(actor=actor, verb="job.retried", target=job, reason=job.last_error[:500])
        transaction.on_commit(lambda: hand_over(job.pk, job.queue))
    return True


# Running ---------------------------------------------------------------------------


class _Heartbeat:
    """Renews the lease while a long job runs, on its own connection (thread)."""

    def __init__(self, job_id: int, token: str):
        self.job_id, self.token = job_id, token
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"job-{job_id}-heartbeat", daemon=True)

    def _run(self):
        interval = max(lease().total_seconds() / 3, 0.05)
        try:
            while not self.stop.wait(interval):
                try:
                    BackgroundJob.objects.filter(pk=self.job_id, lease_token=self.token).update(
                        leased_until=timezone.now() + lease()
                    )
                except Exception as exc:
                    logger.warning("heartbeat of job %s failed: %s", self.job_id, exc)
                    close_old_connections()
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def _take_lease(job_id: int) -> tuple[BackgroundJob, str] | None:
    with transaction.atomic():
        job = BackgroundJob.objects.select_for_update().filter(pk=job_id).first()
        now = timezone.now()
        if job is None or job.done_at or job.gave_up_at or (job.leased_until and job.leased_until > now):
            return None
        token = uuid.uuid4().hex
        BackgroundJob.objects.filter(pk=job_id).update(
            attempts=job.attempts + 1, lease_token=token, leased_until=now + lease()
        )
        job.attempts += 1
        return job, token


def _give_up(job_id: int, *, token: str | None, error: str) -> None:
    rows = BackgroundJob.objects.filter(pk=job_id, done_at__isnull=True)
    if token is not None:
        rows = rows.filter(lease_token=token)
    if rows.update(gave_up_at=timezone.now(), last_error=error, leased_until=None, lease_token=""):
        logger.error("background job %s gave up: %s", job_id, error)


def run_job(job_id: int) -> str:
    """The RQ entry point: run the recorded job once, under its lease."""
    started = _take_lease(job_id)
    if started is None:
        return "skipped"
    job, token = started
    try:
        with _Heartbeat(job_id, token):
            import_string(job.func)(*job.args, **job.kwargs)
    except Exception as exc:
        logger.exception("background job %s (%s) failed", job_id, job.func)
        error = _describe_error(exc)
        if job.attempts >= max_attempts():
            _give_up(job_id, token=token, error=error)
            return "gave up"
        BackgroundJob.objects.filter(pk=job_id, lease_token=token).update(
            last_error=error,
            next_attempt_at=timezone.now() + retry_delay(job.attempts),
            leased_until=None,
            lease_token="",
        )
        return "failed"
    BackgroundJob.objects.filter(pk=job_id, lease_token=token).update(
        done_at=timezone.now(), last_error="", leased_until=None, lease_token=""
    )
    return "done"


def record_inline_failure(func: Callable, args, kwargs, queue: str, exc: Exception) -> None:
    """Jobs run inline (no Redis) leave no row unless they fail: then the drain retries them."""
    try:
        BackgroundJob.objects.create(
            func=dotted(func),
            args=list(args),
            kwargs=dict(kwargs),
            queue=queue,
            attempts=1,
            last_error=_describe_error(exc),
            next_attempt_at=timezone.now() + retry_delay(1),
        )
    except Exception:
        logger.exception("could not record the failed inline job %s", dotted(func))


def drain_jobs_job() -> int:
    """Periodic (supervision/cron.py): hand over what Redis never got."""
    return drain_jobs()
