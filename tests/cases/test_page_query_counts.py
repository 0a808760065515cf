"""The review pages cost the same number of queries whatever the data size (issue 16):
a case with three signals or thirty, an account with one earlier case or several, one
queue or many. The case list has its own such test (test_admin_cases.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseStatus
from cases.services import review
from tests.cases.review_factories import detector_signal, story_case
from tests.factories import (
    AccountFactory,
    CaseFactory,
    QueueFactory,
    SignalFactory,
    StoryFactory,
    moderator,
    policy,
)

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    client.get(url)  # warm the per-process caches (policies, roles) outside the count
    with CaptureQueriesContext(connection) as run:
        assert client.get(url).status_code == 200
    return len(run.captured_queries)


def _grow(case, *, signals: int, earlier: int) -> None:
    """More signals of every kind on the case, and earlier closed cases on its account."""
    pol = policy("spam.duplicate")
    for n in range(signals):
        detector_signal(case, policy=pol, detector_name=f"detector-{n % 3}", score=0.5 + n / 100)
        SignalFactory(
            source="reader_report", reporter=AccountFactory(), account=case.account, story=case.story, case=case
        )
    for _ in range(earlier):
        CaseFactory(
            account=case.account,
            story=StoryFactory(author=case.account),
            status=CaseStatus.DISMISSED,
            decided_at=timezone.now(),
            policy_family=pol.family,
            policy=pol,
        )


def test_the_review_page_costs_the_same_queries_for_a_small_and_a_large_case(client):
    user = moderator()
    client.force_login(user)
    small, large = story_case(code="spam.duplicate"), story_case(code="spam.duplicate")
    _grow(small, signals=1, earlier=1)
    _grow(large, signals=12, earlier=6)
    counts = []
    for case in (small, large):
        review.claim_case(user=user, case=case)
        counts.append(_queries(client, reverse("review:case", args=[case.pk])))
        review.release_case(user=user, case=case)
    assert counts[0] == counts[1], counts


def test_the_queues_panel_costs_the_same_queries_for_one_queue_or_many(client):
    client.force_login(moderator())
    story_case(queue=QueueFactory(allowed_roles=["moderator"]))
    one = _queries(client, "/admin/")
    for _ in range(6):
        queue = QueueFactory(allowed_roles=["moderator"])
        for _ in range(3):
            story_case(queue=queue)
    assert _queries(client, "/admin/") == one


def test_the_review_page_reads_the_signals_for_its_statement_previews_once(client):
    """One preview per policy in the catalogue, one read of the case's signals for all of them."""
    user = moderator()
    client.force_login(user)
    case = story_case(code="spam.duplicate")
    _grow(case, signals=2, earlier=0)
    review.claim_case(user=user, case=case)
    url = reverse("review:case", args=[case.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as run:
        page = client.get(url)
    assert page.status_code == 200
    signal_reads = [q["sql"] for q in run.captured_queries if q["sql"].startswith('SELECT "cases_signal"."source"')]
    assert len(signal_reads) == 1, signal_reads
    assert len(page.context["catalogue"]) > 1
