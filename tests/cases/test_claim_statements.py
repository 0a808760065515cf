"""A claim costs a fixed handful of statements (issue 16). On PostgreSQL it is one
statement (cases.claim_statement): the own-lease check, the SKIP LOCKED pick with the
skip list inline, the UPDATE of lease and status, both audit rows and their sequencer
entries are CTEs of it, and it needs no transaction of its own. SQLite runs the ORM
path: it reads and locks its row once, moves the status in the lease's own UPDATE
without re-locking, and writes its audit rows without savepoints. Pinned so the count
cannot creep back."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import permissions
from cases.models import CaseStatus
from cases.services import review
from moderation.models import AuditEvent
from tests.cases.review_factories import account_case
from tests.factories import QueueFactory, moderator

# PostgreSQL: one round trip. It was five statements (own live lease?, lock the next
# case, one UPDATE, two audit INSERTs) plus BEGIN and COMMIT, and twenty reviewers in one
# process queued behind each other's ORM work for them.
CLAIM_STATEMENTS = 1
# SQLite (the ORM path): own live lease? (1); lock the next claimable case, the skip list
# inline (1); one UPDATE of lease and status (1); the audit rows claim.taken and
# case.review_started, each an INSERT of the event and one of its sequencer entry (4:
# SQLite has no data-modifying CTE).
ORM_CLAIM_STATEMENTS = 7


def _claim_statements(captured) -> list[str]:
    """The claim's own statements. On SQLite the test's transaction turns the service's
    transaction into a savepoint, which production runs as BEGIN/COMMIT (not counted)."""
    sql = [q["sql"] for q in captured.captured_queries]
    if connection.vendor == "postgresql":
        return sql
    assert sql[0].startswith("SAVEPOINT") and sql[-1].startswith("RELEASE SAVEPOINT"), sql
    return sql[1:-1]


@pytest.mark.django_db
def test_review_next_claims_in_one_statement_without_savepoints():
    queue = QueueFactory()
    for _ in range(3):
        account_case(queue=queue)
    skipper, reviewer = moderator(), moderator()
    review.skip_case(user=skipper, case=review.claim_next_case(user=skipper, queue=queue), reason="Not mine.")
    permissions.can_work_queue(reviewer, queue)  # the request's user has its roles cached

    with CaptureQueriesContext(connection) as captured:
        case = review.claim_next_case(user=reviewer, queue=queue)

    sql = _claim_statements(captured)
    assert case is not None and case.status == CaseStatus.IN_REVIEW and case.assignee_id == reviewer.pk
    assert not [s for s in sql if "SAVEPOINT" in s], sql
    if connection.vendor == "postgresql":
        assert len(sql) == CLAIM_STATEMENTS, sql
        assert "FOR UPDATE SKIP LOCKED" in sql[0] and sql[0].count("UPDATE cases_case") == 1, sql
    else:
        assert len(sql) == ORM_CLAIM_STATEMENTS, sql
        assert len([s for s in sql if s.startswith("UPDATE")]) == 1, sql
    assert sorted(AuditEvent.objects.filter(case_ref=case.pk, actor=reviewer).values_list("verb", flat=True)) == [
        "case.review_started",
        "claim.taken",
    ]


@pytest.mark.django_db
def test_a_skipped_case_is_not_handed_back_to_the_skipper():
    queue = QueueFactory()
    first, second = account_case(queue=queue), account_case(queue=queue)
    user = moderator()
    taken = review.claim_next_case(user=user, queue=queue)
    review.skip_case(user=user, case=taken, reason="Not my language.")

    again = review.claim_next_case(user=user, queue=queue)

    assert {taken.pk, again.pk} == {first.pk, second.pk}
