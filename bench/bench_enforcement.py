"""10,000 approved actions applied by 2 RQ workers (issue 16's target: ≤ 60 s).

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): the actions are approved in one
transaction; two `manage.py rqworker enforcement` processes are started on the bench
database and, once both are up (as they are in production), the outbox drain hands the
actions to the `enforcement` queue in batches (`apply_actions_job`, `apply_per_job()`
actions a job). Printed: the wall time from the start of the hand-over to the last
action applied, actions/s, where it went (drain, jobs), the workers' start-up (not
timed), and the same actions applied in-process (the floor without RQ) on a smaller
sample.
"""

import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from bench.registry import benchmark
from cases.models import ActionStatus, Case, Decision, EnforcementAction, OutboxEntry, OutboxOperation, Queue
from moderation.models import Account, Policy

ROOT = Path(__file__).resolve().parents[1]
OUTCOME = "account.restrict"


def _approved_actions(n: int, prefix: str) -> list[int]:
    User = get_user_model()
    moderator = User.objects.get_or_create(username="bench-enforcer", defaults={"is_staff": True})[0]
    policy = Policy.objects.current().get(code="engagement.bulk_interactions")
    queue = Queue.objects.first()
    now = timezone.now()
    with transaction.atomic():
        accounts = Account.objects.bulk_create(
            [Account(platform_id=f"{prefix}-{i}", handle=f"{prefix}_{i}") for i in range(n)], batch_size=5000
        )
        cases = Case.objects.bulk_create(
            [
                Case(
                    account=a,
                    policy_family=policy.family,
                    policy=policy,
                    queue=queue,
                    status="decided",
                    opened_at=now,
                    sla_due_at=now + timedelta(days=1),
                    decided_at=now,
                )
                for a in accounts
            ],
            batch_size=5000,
        )
        decisions = Decision.objects.bulk_create(
            [
                Decision(
                    case=c,
                    decided_by=moderator,
                    is_violation=True,
                    policy=policy,
                    outcomes=[OUTCOME],
                    rationale="bench",
                    statement="bench",
                    decided_at=now,
                )
                for c in cases
            ],
            batch_size=5000,
        )
        actions = EnforcementAction.objects.bulk_create(
            [
                EnforcementAction(case=c, decision=d, outcome=OUTCOME, account=c.account, status=ActionStatus.APPROVED)
                for c, d in zip(cases, decisions, strict=True)
            ],
            batch_size=5000,
        )
        OutboxEntry.objects.bulk_create(
            [OutboxEntry(action=a, operation=OutboxOperation.APPLY) for a in actions], batch_size=5000
        )
    return [a.pk for a in actions]


def _job_times(queue, started_wall: float) -> tuple[int, str]:
    """How many jobs ran, and where the wall time went: the first job's start, the last
    one's end, and the time spent in jobs."""
    from rq.job import Job
    from rq.registry import FinishedJobRegistry

    def seconds(when) -> float:  # RQ keeps naive UTC times
        return when.replace(tzinfo=when.tzinfo or UTC).timestamp()

    registry = FinishedJobRegistry(queue=queue)
    jobs = [j for j in Job.fetch_many(registry.get_job_ids(), connection=queue.connection) if j]
    jobs = [j for j in jobs if j.started_at and seconds(j.started_at) >= started_wall]
    if not jobs:
        return 0, "no finished jobs recorded"
    starts = [seconds(j.started_at) for j in jobs]
    ends = [seconds(j.ended_at) for j in jobs]
    busy = sum(e - s for s, e in zip(starts, ends, strict=True))
    return len(jobs), (
        f"jobs: first started {min(starts) - started_wall:.1f}s after the hand-over began, the last ended at "
        f"{max(ends) - started_wall:.1f}s; {busy:.1f}s in jobs (mean {busy / len(jobs):.2f}s a job)"
    )


def _applied(ids) -> int:
    return EnforcementAction.objects.filter(pk__in=ids, status=ActionStatus.APPLIED).count()


@benchmark("enforcement")
def bulk_enforcement(scale: float):
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        yield "skipped: needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)"
        return
    import django_rq
    from django.test import override_settings

    from cases.jobs import apply_actions_job
    from cases.services.enforcement import drain_outbox

    # Accounts of this run's own (a fixed prefix collided with an earlier run's on
    # --existing-database).
    run = f"{random.randrange(36**5):x}"
    # The floor: the same work in one process, no RQ.
    sample = _approved_actions(max(50, int(500 * scale)), f"bench-floor-{run}")
    started = time.perf_counter()
    apply_actions_job(sample)
    floor = time.perf_counter() - started
    assert _applied(sample) == len(sample)
    yield f"in-process floor: {len(sample):,} actions in {floor:.1f}s ({len(sample) / floor:,.0f}/s)"

    n = max(200, int(10_000 * scale))
    started = time.perf_counter()
    ids = _approved_actions(n, f"bench-bulk-{run}")
    yield f"setup: {n:,} approved actions with outbox entries in {time.perf_counter() - started:.1f}s"

    queue = django_rq.get_queue("enforcement")
    queue.empty()
    with tempfile.TemporaryDirectory() as mail_dir:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings_worker",
            "E2E_DATABASE_NAME": connection.settings_dict["NAME"],
            "E2E_MAIL_DIR": mail_dir,
        }
        booted = time.perf_counter()
        workers = [
            subprocess.Popen(
                [sys.executable, "manage.py", "rqworker", "enforcement"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        try:
            _wait_for_workers(queue, workers)
            yield f"2 workers up in {time.perf_counter() - booted:.1f}s (not timed: in production they are running)"
            with override_settings(JOBS_RUN_INLINE=False):
                started, started_wall = time.perf_counter(), time.time()
                handed = drain_outbox(older_than=timedelta(0))
            assert handed == n, handed
            drained = time.perf_counter() - started
            _wait_until_applied(ids, workers)
            elapsed = time.perf_counter() - started
        finally:
            for worker in workers:
                worker.terminate()
            errors = [worker.communicate(timeout=120)[1] for worker in workers]
    applied = _applied(ids)
    jobs, where = _job_times(queue, started_wall)
    yield f"drain: {n:,} entries handed over as {jobs} jobs in {drained:.1f}s"
    yield where
    assert applied == n, b"".join(errors).decode()[-3000:]
    yield (
        f"2 workers: {applied:,}/{n:,} actions applied in {elapsed:.1f}s ({applied / elapsed:,.0f}/s) "
        f"from {jobs} jobs; target ≤ 60 s for 10,000 → {'met' if elapsed * 10_000 / n <= 60 else 'NOT met'}"
    )


def _wait_for_workers(queue, workers, timeout: float = 180) -> None:
    from rq import Worker

    pids = {worker.pid for worker in workers}
    deadline = time.perf_counter() + timeout
    while {w.pid for w in Worker.all(queue=queue)} & pids != pids:
        _check_alive(workers)
        assert time.perf_counter() < deadline, "the workers did not start"
        time.sleep(0.1)


def _wait_until_applied(ids, workers, timeout: float = 900) -> None:
    waiting = EnforcementAction.objects.filter(pk__range=(min(ids), max(ids)), status=ActionStatus.APPROVED)
    deadline = time.perf_counter() + timeout
    while waiting.exists():
        _check_alive(workers)
        assert time.perf_counter() < deadline, "the actions were not applied in time"
        time.sleep(0.1)


def _check_alive(workers) -> None:
    for worker in workers:
        if worker.poll() is not None:
            raise AssertionError(worker.stderr.read().decode()[-3000:])
