"""10,000 approved actions applied by 2 RQ workers (issue 16's target: ≤ 60 s).

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): the actions are approved in one
transaction, the outbox drain hands them to the `enforcement` queue in batches
(`apply_actions_job`, 100 actions a job), and two `manage.py rqworker --burst`
processes work the queue on the bench database. Printed: the wall time from hand-over
to the last action applied, actions/s, and the same actions applied in-process in one
loop (the floor without RQ) on a smaller sample.
"""

import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
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

    # The floor: the same work in one process, no RQ.
    sample = _approved_actions(max(50, int(500 * scale)), "bench-floor")
    started = time.perf_counter()
    apply_actions_job(sample)
    floor = time.perf_counter() - started
    assert _applied(sample) == len(sample)
    yield f"in-process floor: {len(sample):,} actions in {floor:.1f}s ({len(sample) / floor:,.0f}/s)"

    n = max(200, int(10_000 * scale))
    started = time.perf_counter()
    ids = _approved_actions(n, "bench-bulk")
    yield f"setup: {n:,} approved actions with outbox entries in {time.perf_counter() - started:.1f}s"

    queue = django_rq.get_queue("enforcement")
    queue.empty()
    with override_settings(JOBS_RUN_INLINE=False):
        started = time.perf_counter()
        handed = drain_outbox(older_than=timedelta(0))
    assert handed == n, handed
    jobs = queue.count
    with tempfile.TemporaryDirectory() as mail_dir:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings_worker",
            "E2E_DATABASE_NAME": connection.settings_dict["NAME"],
            "E2E_MAIL_DIR": mail_dir,
        }
        workers = [
            subprocess.Popen(
                [sys.executable, "manage.py", "rqworker", "enforcement", "--burst"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(2)
        ]
        for worker in workers:
            _, err = worker.communicate(timeout=900)
            assert worker.returncode == 0, err.decode()[-3000:]
    elapsed = time.perf_counter() - started
    applied = _applied(ids)
    yield (
        f"2 workers: {applied:,}/{n:,} actions applied in {elapsed:.1f}s ({applied / elapsed:,.0f}/s) "
        f"from {jobs} jobs; target ≤ 60 s for 10,000 → {'met' if elapsed * 10_000 / n <= 60 else 'NOT met'}"
    )
