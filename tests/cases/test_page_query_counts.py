"""The review pages cost the same number of queries whatever the data size (issue 16):
a case with three signals or thirty, an account with one earlier case or several, one
queue or many. The case list has its own such test (test_admin_cases.py)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseStatus
from cases.selectors.queues import queue_by_slug
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


def _review_next(client, queue) -> list[str]:
    with CaptureQueriesContext(connection) as run:
        response = client.post(reverse("review:next", args=[queue.slug]))
    assert response.status_code == 302 and "/review/case/" in response["Location"]
    return [q["sql"] for q in run.captured_queries]


def test_review_next_costs_the_same_queries_for_a_short_and_a_long_queue(client):
    """Around the claim, the request reads its session, its user (roles, permissions and
    API client with it, on PostgreSQL) and the queue, once each."""
    client.force_login(moderator())
    short, long = QueueFactory(), QueueFactory()
    story_case(queue=short)
    for _ in range(25):
        story_case(queue=long)
    counts = []
    for queue in (short, long):
        sql = _review_next(client, queue)
        assert len([s for s in sql if '"cases_queue"' in s and "cases_case" not in s]) == 1
        if connection.vendor == "postgresql":
            assert len([s for s in sql if '"auth_' in s]) == 1, sql
        counts.append(len(sql))
    assert counts[0] == counts[1]


def test_review_next_on_an_unknown_queue_is_a_404(client):
    client.force_login(moderator())
    assert client.post(reverse("review:next", args=["no-such-queue"])).status_code == 404


def test_the_queue_read_for_review_next_is_the_stored_queue():
    queue = QueueFactory(allowed_roles=["moderator"], sla_hours=12)
    found = queue_by_slug(queue.slug)
    assert found == queue and found.allowed_roles == ["moderator"] and found.sla_hours == 12
    assert found.description == queue.description and found.is_escalation is False
    assert queue_by_slug("no-such-queue") is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_the_queue_read_for_review_next_is_prepared_once_per_connection():
    queue = QueueFactory()
    queue_by_slug(queue.slug)
    queue_by_slug(queue.slug)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans + custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%FROM "cases_queue" q WHERE%'],
        )
        runs = cursor.fetchall()
    assert len(runs) == 1 and runs[0][0] >= 2
