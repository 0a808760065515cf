"""Strikes at volume: the escalation proposal and the writer's standing for one account
among many, the supervisors' counts over all strikes, and whether the partial indexes
serve the per-account reads (EXPLAIN on PostgreSQL)."""

import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from bench.registry import benchmark
from cases.models import Case, Decision, Queue
from cases.selectors.strikes import family_strikes_in_window, propose, strike_counts, writer_standing
from cases.strikes import Strike
from moderation.models import Account, Policy

FAMILIES = ["spam.duplicate", "engagement.ring", "ai.paywalled_generated"]


def _seed(accounts: int, per_account: int) -> list[int]:
    now = timezone.now()
    user = get_user_model().objects.create_user("bench-strikes", is_staff=True)
    policies = [Policy.objects.current().get(code=code) for code in FAMILIES]
    queue = Queue.objects.first()
    Account.objects.bulk_create(
        [Account(platform_id=f"bench-s{n}", handle=f"bench_s{n}") for n in range(accounts)], batch_size=5000
    )
    ids = list(Account.objects.filter(platform_id__startswith="bench-s").order_by("id").values_list("id", flat=True))
    cases = Case.objects.bulk_create(
        [
            Case(
                account_id=a,
                policy=policies[k % 3],
                policy_family=policies[k % 3].family,
                queue=queue,
                status="decided",
                opened_at=now,
                sla_due_at=now,
                decided_at=now,
            )
            for a in ids
            for k in range(per_account)
        ],
        batch_size=5000,
    )
    decisions = Decision.objects.bulk_create(
        [
            Decision(case=c, decided_by=user, is_violation=True, policy=c.policy, outcomes=["warning"], decided_at=now)
            for c in cases
        ],
        batch_size=5000,
    )
    strikes = []
    for i, (case, decision) in enumerate(zip(cases, decisions, strict=True)):
        issued = now - timedelta(days=(i * 37) % 500)  # a spread of live, expired and out-of-window strikes
        strikes.append(
            Strike(
                account_id=case.account_id,
                case=case,
                decision=decision,
                policy=case.policy,
                family=case.policy_family,
                severity=case.policy.severity,
                issued_at=issued,
                expires_at=issued + timedelta(days=case.policy.strike_days),
                voided_at=now if i % 11 == 0 else None,
                void_reason="bench" if i % 11 == 0 else "",
            )
        )
    Strike.objects.bulk_create(strikes, batch_size=5000)
    return ids


def _per_call_ms(func, calls: int) -> float:
    started = time.perf_counter()
    for n in range(calls):
        func(n)
    return (time.perf_counter() - started) * 1000 / calls


@benchmark("strikes")
def run(scale: float):
    accounts, per_account = max(int(20_000 * scale), 10), 5
    started = time.perf_counter()
    ids = _seed(accounts, per_account)
    yield f"seeded {accounts * per_account:,} strikes on {accounts:,} accounts in {time.perf_counter() - started:.1f}s"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE cases_strike")
    policy = Policy.objects.current().get(code="spam.duplicate")
    now = timezone.now()
    calls = 300
    ms = _per_call_ms(lambda n: propose(account_id=ids[(n * 7919) % len(ids)], policy=policy, now=now), calls)
    yield f"escalation proposal for one account: {ms:.2f} ms per call ({calls} calls)"
    ms = _per_call_ms(lambda n: writer_standing(account_id=ids[(n * 104729) % len(ids)], now=now), calls)
    yield f"writer standing (count and end dates): {ms:.2f} ms per call ({calls} calls)"
    started = time.perf_counter()
    counts = strike_counts(now=now)
    yield (
        f"supervisor counts over all strikes: {(time.perf_counter() - started) * 1000:.0f} ms "
        f"(live {counts['live']:,}, expired {counts['expired']:,}, voided {counts['voided']:,})"
    )
    if connection.vendor == "postgresql":
        qs = family_strikes_in_window(account_id=ids[len(ids) // 2], family="spam", window_days=365, now=now)
        plan = " / ".join(line.strip() for line in qs.explain().splitlines() if "Scan" in line)
        yield f"family query plan: {plan}"
