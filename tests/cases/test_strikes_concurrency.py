"""Two decisions on one account at once: both record their strikes, and the escalation
each saw is consistent (one counted none, the other counted the first's strike), because
strikes are counted and issued under the account's row lock. PostgreSQL only."""

import threading

import pytest
from django.db import connection

from cases.services import review
from cases.strikes import Strike, StrikeProposal
from moderation.audit import verify_chain
from tests.cases.review_factories import story_case
from tests.cases.test_strikes import another_case
from tests.factories import moderator, policy

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_decisions_on_one_account_at_once_escalate_in_order():
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency needs PostgreSQL")
    first = story_case(code="spam.duplicate")
    second = another_case(first.account)
    pol = policy("spam.duplicate")
    users = [moderator(), moderator()]
    for case, user in zip([first, second], users, strict=True):
        review.claim_case(user=user, case=case)
    barrier = threading.Barrier(2)
    errors = []

    def decide(case, user):
        try:
            data = review.DecisionInput(
                is_violation=True,
                policy=pol,
                outcomes=list(pol.default_outcomes),
                rationale="Copied.",
                statement="Your story duplicates content you posted before.",
                override_reason="Story removal is enough for now.",
            )
            barrier.wait(timeout=10)
            review.decide_case(case=case, user=user, data=data)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=pair) for pair in zip([first, second], users, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    strikes = list(Strike.objects.filter(account=first.account).order_by("issued_at", "id"))
    assert len(strikes) == 2
    proposals = sorted(StrikeProposal.objects.all(), key=lambda p: p.live_strikes)
    assert [p.live_strikes for p in proposals] == [0, 1]
    earlier, later = proposals
    assert later.counted_strike_ids == [earlier.decision.strikes.get().pk]
    assert later.step == 1 and later.is_milder and not earlier.is_milder
    assert verify_chain().ok
