import time
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from bench.registry import benchmark
from cases.models import ActionStatus, Case, Decision, EnforcementAction, OutboxEntry, OutboxOperation, Queue
from cases.services.enforcement import apply_action, request_reversal, reverse_action
from moderation.models import Account, Follow, Policy
from tests.factories import moderator as staff_moderator
from tests.factories import senior_moderator


def _fake_following(edges: int) -> Account:
    now = timezone.now()
    fake = Account.objects.create(platform_id="bench-fake", handle="bench_fake")
    Account.objects.bulk_create(
        [Account(platform_id=f"bench-t{n}", handle=f"bench_t{n}", follower_count=1) for n in range(edges)],
        batch_size=5000,
    )
    targets = Account.objects.filter(platform_id__startswith="bench-t").values_list("id", flat=True).iterator()
    Follow.objects.bulk_create(
        (Follow(follower=fake, followee_id=t, created_at=now - timedelta(days=3)) for t in targets),
        batch_size=5000,
    )
    return fake


def _approved_purge(fake: Account) -> EnforcementAction:
    # Staff as the human gate requires them (an active moderator decides, a senior approves).
    moderator, senior = staff_moderator(), senior_moderator()
    policy = Policy.objects.current().get(code="engagement.bulk_interactions")
    now = timezone.now()
    with transaction.atomic():
        case = Case.objects.create(
            account=fake,
            policy_family=policy.family,
            policy=policy,
            queue=Queue.objects.first(),
            status="decided",
            opened_at=now,
            sla_due_at=now + timedelta(days=1),
            decided_at=now,
        )
        decision = Decision.objects.create(
            case=case,
            decided_by=moderator,
            is_violation=True,
            policy=policy,
            outcomes=["followers.purge"],
            rationale="bench",
            statement="bench",
            needs_approval=True,
            approved_by=senior,
            approved_at=now,
            decided_at=now,
        )
        action = EnforcementAction.objects.create(
            case=case, decision=decision, outcome="followers.purge", account=fake, status=ActionStatus.APPROVED
        )
        OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
    return action, senior


@benchmark("purge")
def purge_and_restore(scale: float):
    """A fake account's follows purged and then restored, in resumable batches."""
    edges = max(1_000, int(100_000 * scale))
    started = time.perf_counter()
    fake = _fake_following(edges)
    yield f"setup: {edges:,} follow edges in {time.perf_counter() - started:.1f}s"

    action, senior = _approved_purge(fake)
    started = time.perf_counter()
    action = apply_action(action_id=action.pk)
    elapsed = time.perf_counter() - started
    assert action.status == ActionStatus.APPLIED, action.last_error
    assert not Follow.objects.filter(follower=fake, is_active=True).exists()
    yield f"purge: {edges:,} edges in {elapsed:.2f}s ({edges / elapsed:,.0f} edges/s)"

    started = time.perf_counter()
    # Without Redis the reversal job runs inline as this transaction commits.
    with transaction.atomic():
        request_reversal(action=action, actor=senior, reason="bench: wrongly purged")
    action = reverse_action(action_id=action.pk)
    elapsed = time.perf_counter() - started
    assert action.status == ActionStatus.REVERSED, action.last_error
    assert Follow.objects.filter(follower=fake, is_active=True).count() == edges
    yield f"restore: {edges:,} edges in {elapsed:.2f}s ({edges / elapsed:,.0f} edges/s)"

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(
                "UPDATE moderation_follow SET is_active = false, removed_at = now(), removed_by = 'raw' "
                "WHERE follower_id = %s AND is_active",
                [fake.pk],
            )
            cursor.execute(
                "UPDATE moderation_follow SET is_active = true, removed_at = NULL, removed_by = '' "
                "WHERE follower_id = %s AND removed_by = 'raw'",
                [fake.pk],
            )
            raw = time.perf_counter() - started
        yield f"raw PostgreSQL baseline: the same purge + restore as two UPDATEs in {raw:.2f}s (no counts, no batches)"
