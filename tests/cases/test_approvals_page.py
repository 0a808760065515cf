"""The approvals page: each card says what the decision does in words, shows the
evidence summary and the moderator's rationale, and costs no query per card."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.services import review
from tests.cases.review_factories import account_case, detector_signal
from tests.factories import moderator, policy, senior_moderator

pytestmark = pytest.mark.django_db


def _awaiting(decider, n):
    for _ in range(n):
        case = account_case(code="engagement.bulk_interactions")
        signal = detector_signal(case, policy=policy("engagement.bulk_interactions"), detector_name="follow-burst")
        review.claim_case(user=decider, case=case)
        review.decide_case(
            case=case,
            user=decider,
            data=review.DecisionInput(
                is_violation=True,
                policy=policy("engagement.bulk_interactions"),
                outcomes=["account.suspend"],
                rationale="Followed 4,000 accounts in one hour from a data-centre IP.",
                statement="Your account followed thousands of accounts in an hour.",
                detector_marks={signal.pk: True},
            ),
        )


def test_a_card_reads_in_words_with_evidence_and_rationale(client):
    _awaiting(moderator(username="malik"), 1)
    client.force_login(senior_moderator())
    html = client.get(reverse("review:approvals")).content.decode()
    assert "<strong>Suspend account</strong>" in html and "account.suspend" not in html
    assert "follow-burst 2.3.0 (0.93)" in html
    assert "The moderator’s rationale" in html and "Followed 4,000 accounts" in html
    assert html.index("approve-btn") < html.index("Do not approve")


def test_the_page_costs_the_same_queries_for_two_or_twelve_decisions(client, django_assert_num_queries):
    decider = moderator()
    _awaiting(decider, 2)
    client.force_login(senior_moderator())
    client.get(reverse("review:approvals"))
    with CaptureQueriesContext(connection) as two:
        client.get(reverse("review:approvals"))
    _awaiting(decider, 10)
    with django_assert_num_queries(len(two)):
        response = client.get(reverse("review:approvals"))
    assert len(response.context["rows"]) == 12
