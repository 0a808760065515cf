import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from cases.models import Case
from moderation import claims
from moderation.models import AuditEvent
from tests.factories import CaseFactory, QueueFactory, moderator

LEASE = timedelta(minutes=15)


@pytest.mark.django_db
def test_claims_the_first_case_in_the_given_order_and_audits_it():
    queue = QueueFactory()
    low = CaseFactory(queue=queue, priority=1)
    high = CaseFactory(queue=queue, priority=9)
    user = moderator()
    qs = Case.objects.filter(queue=queue).order_by("-priority")

    got = claims.claim_next(qs, user=user, lease=LEASE)

    assert got == high
    high.refresh_from_db()
    assert high.assignee == user and high.claim_expires_at > timezone.now() + timedelta(minutes=14)
    event = AuditEvent.objects.get(verb="claim.taken")
    assert event.case_ref == high.pk and event.actor == user
    low.refresh_from_db()
    assert low.assignee is None


@pytest.mark.django_db
def test_a_second_press_returns_the_case_already_held_instead_of_hoarding():
    queue = QueueFactory()
    CaseFactory(queue=queue), CaseFactory(queue=queue)
    user = moderator()
    qs = Case.objects.filter(queue=queue).order_by("id")
    first = claims.claim_next(qs, user=user, lease=LEASE)
    again = claims.claim_next(qs, user=user, lease=LEASE)
    assert again == first
    assert Case.objects.filter(assignee=user).count() == 1


@pytest.mark.django_db
def test_an_expired_lease_is_claimable_again_and_the_old_holder_loses_it():
    queue = QueueFactory()
    case = CaseFactory(queue=queue)
    mira, malik = moderator(), moderator()
    qs = Case.objects.filter(queue=queue)
    start = timezone.now()
    claims.claim_next(qs, user=mira, lease=LEASE, now=start)

    assert claims.claim_next(qs, user=malik, lease=LEASE, now=start + timedelta(minutes=5)) is None
    later = start + timedelta(minutes=16)
    assert claims.claim_next(qs, user=malik, lease=LEASE, now=later) == case
    assert AuditEvent.objects.filter(verb="claim.taken", reason="previous lease expired").count() == 1

    with pytest.raises(claims.ClaimLost):
        claims.renew_claim(case, user=mira, lease=LEASE)
    with pytest.raises(claims.ClaimLost):
        claims.release_claim(case, user=mira)


@pytest.mark.django_db
def test_renew_extends_and_release_frees():
    case = CaseFactory()
    user = moderator()
    start = timezone.now()
    claims.claim_next(Case.objects.all(), user=user, lease=LEASE, now=start)
    claims.renew_claim(case, user=user, lease=LEASE, now=start + timedelta(minutes=10))
    case.refresh_from_db()
    assert case.claim_expires_at == start + timedelta(minutes=25)
    claims.release_claim(case, user=user, reason="done")
    case.refresh_from_db()
    assert case.assignee is None and case.claim_expires_at is None
    assert list(AuditEvent.objects.order_by("id").values_list("verb", flat=True)) == [
        "claim.taken",
        "claim.renewed",
        "claim.released",
    ]


@pytest.mark.django_db(transaction=True)
def test_twenty_reviewers_pressing_at_once_never_get_the_same_case():
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED concurrency needs PostgreSQL")
    queue = QueueFactory()
    for i in range(25):
        CaseFactory(queue=queue, priority=i)
    users = [moderator() for _ in range(20)]
    barrier = threading.Barrier(20)
    got: dict[int, int | None] = {}
    errors = []

    def press(user):
        try:
            barrier.wait()
            case = claims.claim_next(
                Case.objects.filter(queue=queue).order_by("-priority", "id"), user=user, lease=LEASE
            )
            got[user.pk] = case.pk if case else None
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=press, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors
    claimed = [pk for pk in got.values() if pk]
    assert len(claimed) == 20
    assert len(set(claimed)) == 20
    assert Case.objects.filter(assignee__isnull=False).count() == 20
