"""A moderator opens the review page of a ring case: the ring is drawn, its numbers and
every member's open cases are beside it, readable without colour and passing axe-core."""

from pathlib import Path

import pytest

from cases.models import Evidence, EvidenceKind
from tests.browser.a11y import assert_accessible
from tests.cases.evidence_fixtures import make_ring, outsiders
from tests.factories import CaseFactory, QueueFactory, moderator, policy

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_moderator_sees_the_ring_on_the_review_page(page, login):
    ring = make_ring(12, outside_stories=outsiders(8))
    queue = QueueFactory(slug="engagement", name="Engagement & Partner Program")
    pol = policy("engagement.ring")
    cases = [CaseFactory(account=m, policy_family="engagement", policy=pol, queue=queue) for m in ring]
    assert Evidence.objects.filter(case=cases[0], kind=EvidenceKind.ENGAGEMENT_GRAPH).exists()

    login(moderator(username="mira"))
    page.goto(f"/admin/review/case/{cases[0].pk}/")

    item = page.locator(".evidence-engagement").first
    assert item.get_by_text("Pattern: dense reciprocal group").is_visible()
    graph = item.locator("svg.engagement-graph")
    assert graph.is_visible()
    assert graph.locator("rect").count() == 11
    assert graph.locator("title").first.text_content().startswith(f"Engagement around @{ring[0].handle}")
    members = item.locator("table.eg-members tbody tr")
    assert members.count() == 11
    assert members.first.get_by_role("link").count() == 1
    assert item.get_by_role("link", name="Decide the group's 12 open cases together").is_visible()
    page.locator("#evidence-builders").get_by_role("button", name="Genuineness profile").is_visible()
    graph.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "evidence_ring_graph.png"))
    assert_accessible(page, ".evidence-engagement")
    assert_accessible(page, "#evidence-timeline")

    item.get_by_role("link", name="Decide the group's 12 open cases together").click()
    page.wait_for_url("**/admin/review/bulk/**")
    assert page.locator("input[name=case]:checked").count() == 12
