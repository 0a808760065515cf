"""Retention over many decided cases: how long a run takes to empty them (evidence,
snapshots, notice emails, writer keys), and how long the idempotent rerun that finds
nothing takes (it runs daily)."""

import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from bench.registry import benchmark
from cases.models import Case, Decision, Evidence, Notice, Queue
from moderation.models import Account, Policy, WriterKey
from moderation.roles import Role
from supervision.retention import run_retention


def _decided_cases(n: int):
    now = timezone.now()
    moderator = get_user_model().objects.create_user("bench-retention-moderator", is_staff=True)
    moderator.groups.add(Group.objects.get(name=Role.MODERATOR))
    policy = Policy.objects.current().get(code="spam.duplicate")
    queue = Queue.objects.first()
    accounts = Account.objects.bulk_create(
        [Account(platform_id=f"bench-r{i}", handle=f"bench_r{i}", email=f"r{i}@example.com") for i in range(n)]
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
                sla_due_at=now,
                decided_at=now,
            )
            for a in accounts
        ]
    )
    decisions = Decision.objects.bulk_create(
        [
            Decision(
                case=c,
                decided_by=moderator,
                is_violation=True,
                policy=policy,
                outcomes=["story.remove"],
                rationale="bench",
                statement="bench",
                decided_at=now,
            )
            for c in cases
        ]
    )
    Evidence.objects.bulk_create(
        [Evidence(case=c, kind="snapshot", body="text " * 200, content_hash="ab" * 32) for c in cases]
        + [Evidence(case=c, kind="note", body="note") for c in cases]
    )
    Notice.objects.bulk_create(
        [
            Notice(
                case=d.case,
                decision=d,
                recipient_kind="writer",
                account=d.case.account,
                email=d.case.account.email,
                subject="s",
                body="b",
                sent_at=now,
            )
            for d in decisions
        ]
    )
    WriterKey.objects.bulk_create(
        [WriterKey(account=a, key="k" * 44, created_at=now, last_used_at=now) for a in accounts]
    )
    return now


@benchmark("retention")
def bench_retention(scale: float):
    n = max(int(1000 * scale), 10)
    now = _decided_cases(n)
    later = now + timedelta(days=183 + 30 + 1)
    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started = time.perf_counter()
        report = run_retention(now=later)
        seconds = time.perf_counter() - started
    yield f"first run over {n} decided cases: {seconds:.2f} s, {queries[0]} queries, purged {report.purged}"
    queries[0] = 0
    with connection.execute_wrapper(count):
        started = time.perf_counter()
        again = run_retention(now=later)
        seconds = time.perf_counter() - started
    yield f"rerun (nothing left): {seconds:.3f} s, {queries[0]} queries, purged {again.purged}"
