"""The queues panel's figures, read from indexes and the few held cases, are what
counting every open case says."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import OPEN_CASE_STATUSES, Case, CaseStatus
from cases.selectors.review import CLAIMABLE_STATUSES, queue_overview
from tests.factories import CaseFactory, QueueFactory, moderator

pytestmark = pytest.mark.django_db


def counted_case_by_case(queue, now) -> dict:
    cases = [c for c in Case.objects.filter(queue=queue) if c.status in OPEN_CASE_STATUSES]
    claimable = [c for c in cases if c.status in CLAIMABLE_STATUSES]
    return {
        "open": len(cases),
        "waiting": sum(c.assignee_id is None or c.claim_expires_at <= now for c in claimable),
        "in_review": sum(c.claim_expires_at is not None and c.claim_expires_at > now for c in claimable),
        "awaiting_approval": sum(c.status == CaseStatus.AWAITING_APPROVAL for c in cases),
        "breaches": sum(c.sla_due_at < now for c in cases),
        "oldest": min((c.opened_at for c in cases), default=None),
    }


def test_the_panel_counts_what_counting_every_open_case_says():
    now = timezone.now()
    busy, quiet, empty = (QueueFactory(allowed_roles=["moderator"]) for _ in range(3))
    reviewer, other = moderator(), moderator()
    hour = timedelta(hours=1)
    CaseFactory.create_batch(3, queue=busy, opened_at=now - 30 * hour)  # overdue, waiting
    CaseFactory(queue=busy, opened_at=now - 50 * hour, status=CaseStatus.ESCALATED)  # the oldest
    CaseFactory(queue=busy, status=CaseStatus.IN_REVIEW, assignee=reviewer, claim_expires_at=now + hour)
    CaseFactory(queue=busy, status=CaseStatus.IN_REVIEW, assignee=other, claim_expires_at=now - hour)  # lapsed
    CaseFactory(queue=busy, status=CaseStatus.AWAITING_APPROVAL, opened_at=now - 2 * hour)
    CaseFactory(queue=busy, status=CaseStatus.DECIDED, decided_at=now, opened_at=now - 90 * hour)  # not open
    CaseFactory(queue=quiet, status=CaseStatus.AWAITING_APPROVAL, opened_at=now - 5 * hour)

    rows = {row["queue"].pk: row for row in queue_overview(user=reviewer, now=now)}

    for queue in (busy, quiet, empty):
        row = {key: value for key, value in rows[queue.pk].items() if key != "queue"}
        assert row == counted_case_by_case(queue, now), queue.slug
    assert (rows[busy.pk]["open"], rows[busy.pk]["waiting"], rows[busy.pk]["in_review"]) == (7, 5, 1)
    assert rows[empty.pk]["oldest"] is None and rows[empty.pk]["open"] == 0
