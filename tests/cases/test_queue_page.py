"""The queue page: a queue's cases to scan, sort, filter, preview and claim from the list."""

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseStatus
from cases.services import review
from moderation.models import AuditEvent
from tests.cases.review_factories import account_case, detector_signal, story_case
from tests.factories import QueueFactory, SignalFactory, moderator, policy, supervisor

pytestmark = pytest.mark.django_db


def _fill(queue, n, start=0):
    cases = []
    for i in range(start, start + n):
        case = story_case(code="spam.duplicate", queue=queue, followers=10 * i, partner=i % 3 == 0)
        detector_signal(case, policy=policy("spam.duplicate"), score=0.5 + i / 100)
        SignalFactory(source="reader_report", reporter=case.account, account=case.account, case=case, reason="copy")
        cases.append(case)
    return cases


def test_the_queue_page_lists_waiting_cases_with_what_a_moderator_sorts_by(client):
    queue = QueueFactory(slug="spam", name="Spam")
    partner_case = story_case(code="spam.duplicate", queue=queue, partner=True, followers=12_000)
    detector_signal(partner_case, policy=policy("spam.duplicate"), score=0.87)
    plain = account_case(code="engagement.bulk_interactions", queue=queue)
    client.force_login(moderator())
    html = client.get(reverse("review:queue", args=["spam"])).content.decode()
    assert f"#{partner_case.pk}" in html and f"#{plain.pk}" in html
    assert "spam.duplicate" in html and "12,000 followers" in html
    assert 'Partner earnings<br><span class="bo-muted">paywalled story' in html
    assert "ai-text-classifier 2.3.0 (0.87)" in html  # the preview's evidence summary
    assert "left" in html  # SLA time left
    assert 'aria-describedby="queue-keys"' in html and "<kbd>j</kbd>" in html


def test_the_page_sorts_and_filters(client):
    queue = QueueFactory(slug="spam")
    small = story_case(code="spam.duplicate", queue=queue, followers=5)
    big = story_case(code="spam.duplicate", queue=queue, followers=50_000)
    other = account_case(code="engagement.bulk_interactions", queue=queue)
    other.opened_at = timezone.now() - timedelta(days=4)
    other.save(update_fields=["opened_at"])
    detector_signal(small, policy=policy("spam.duplicate"), detector_name="dup-finder")
    client.force_login(moderator())
    url = reverse("review:queue", args=["spam"])

    by_reach = client.get(url, {"sort": "-reach"}).context["cases"]
    assert [c.pk for c in by_reach][:2] == [big.pk, small.pk]
    assert [c.pk for c in client.get(url, {"reach": "1000"}).context["cases"]] == [big.pk]
    assert [c.pk for c in client.get(url, {"detector": "dup-finder"}).context["cases"]] == [small.pk]
    assert [c.pk for c in client.get(url, {"age": "72"}).context["cases"]] == [other.pk]
    assert [c.pk for c in client.get(url, {"account": big.account.handle}).context["cases"]] == [big.pk]
    pol = policy("engagement.bulk_interactions")
    assert [c.pk for c in client.get(url, {"policy": pol.pk}).context["cases"]] == [other.pk]


def test_bad_filter_values_are_form_errors_not_500(client):
    QueueFactory(slug="spam")
    client.force_login(moderator())
    response = client.get(reverse("review:queue", args=["spam"]), {"age": "forever", "policy": "x"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_only_roles_that_work_the_queue_open_it(client):
    QueueFactory(slug="seniors", allowed_roles=["senior_moderator"])
    client.force_login(moderator())
    assert client.get(reverse("review:queue", args=["seniors"])).status_code == 403
    client.force_login(supervisor())
    assert client.get(reverse("review:queue", args=["seniors"])).status_code == 403


def test_the_query_count_does_not_grow_with_the_cases(client, django_assert_num_queries):
    queue = QueueFactory(slug="spam")
    _fill(queue, 2)
    user = moderator()
    client.force_login(user)
    url = reverse("review:queue", args=["spam"])
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url, {"sort": "-reach"}).status_code == 200
    _fill(queue, 12, start=2)
    review.claim_case(user=moderator(), case=queue.cases.last())
    with django_assert_num_queries(len(small)):
        response = client.get(url, {"sort": "-reach"})
    assert len(response.context["cases"]) == 14


def test_claim_from_the_list_opens_the_case_and_audits_the_claim(client):
    queue = QueueFactory(slug="spam")
    case = story_case(queue=queue)
    user = moderator()
    client.force_login(user)
    response = client.post(reverse("review:claim_from_list", args=["spam", case.pk]), {"back": "sort=-reach"})
    assert response.status_code == 302 and response.url == reverse("review:case", args=[case.pk])
    case.refresh_from_db()
    assert case.assignee == user and case.status == CaseStatus.IN_REVIEW
    assert AuditEvent.objects.filter(verb="claim.taken", actor=user, target_id=str(case.pk)).exists()


def test_the_second_moderator_claiming_the_same_case_hears_who_has_it(client):
    queue = QueueFactory(slug="spam")
    case = story_case(queue=queue)
    first = moderator(username="ana")
    review.claim_case(user=first, case=case)
    client.force_login(moderator(username="ben"))
    response = client.post(
        reverse("review:claim_from_list", args=["spam", case.pk]), {"back": "sort=-age"}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("review:queue", args=["spam"]) + "?sort=-age"
    assert f"Case #{case.pk} is being reviewed by ana." in response.content.decode()
    case.refresh_from_db()
    assert case.assignee == first


def test_claiming_a_case_of_another_queue_through_this_list_is_a_404(client):
    QueueFactory(slug="spam")
    case = story_case(queue=QueueFactory(slug="other"))
    client.force_login(moderator())
    assert client.post(reverse("review:claim_from_list", args=["spam", case.pk])).status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks race only on PostgreSQL")
def test_two_moderators_claim_the_same_case_at_once_one_wins():
    case = story_case(queue=QueueFactory(slug="spam"))
    users = [moderator(username="ana"), moderator(username="ben")]
    barrier = threading.Barrier(2)
    results = {}

    def claim(user):
        try:
            barrier.wait()
            review.claim_case(user=user, case=case)
            results[user.username] = "won"
        except review.ReviewError as exc:
            results[user.username] = str(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=claim, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()).count("won") == 1
    loser = next(v for v in results.values() if v != "won")
    assert loser.startswith(f"Case #{case.pk} is being reviewed by")
    case.refresh_from_db()
    assert case.assignee.username in results and results[case.assignee.username] == "won"
    assert AuditEvent.objects.filter(verb="claim.taken", target_id=str(case.pk)).count() == 1


def test_column_headers_sort_and_cases_without_a_score_come_last(client):
    queue = QueueFactory(slug="spam")
    unscored = story_case(code="spam.duplicate", queue=queue, priority=50)
    scored = story_case(code="spam.duplicate", queue=queue, max_detector_score=0.4)
    top = story_case(code="spam.duplicate", queue=queue, max_detector_score=0.9)
    client.force_login(moderator())
    url = reverse("review:queue", args=["spam"])
    response = client.get(url, {"sort": "-score"})
    assert [c.pk for c in response.context["cases"]] == [top.pk, scored.pk, unscored.pk]
    assert response.context["sort_links"]["score"] == {"query": "sort=score", "state": "descending"}
    html = response.content.decode()
    assert 'aria-sort="descending"><a href="?sort=score"' in html
    ascending = client.get(url, {"sort": "score"}).context["cases"]
    assert [c.pk for c in ascending] == [scored.pk, top.pk, unscored.pk]
