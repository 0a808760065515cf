import pytest

from cases.models import ActionStatus, CaseStatus, EnforcementAction
from cases.services import review
from moderation.models import AccountStatus
from tests.browser.conftest import SCREENSHOTS
from tests.cases.review_factories import account_case, detector_signal, story_case
from tests.factories import QueueFactory, moderator, policy, senior_moderator

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_moderator_reviews_next_reads_evidence_decides_and_sees_the_action_applied(page, login):
    queue = QueueFactory(slug="ai-content", name="AI content")
    case = story_case(code="ai.undisclosed_generated", queue=queue)
    signal = detector_signal(case, policy=policy("ai.undisclosed_generated"), score=0.91)
    login(moderator(username="mira", first_name="Mira"))

    page.screenshot(path=str(SCREENSHOTS / "review_queues_panel.png"), full_page=True)
    row = page.locator("#queue-ai-content")
    assert row.locator("td").nth(1).inner_text() == "1"
    row.get_by_role("button", name="Review next").click()
    page.wait_for_url(f"**/admin/review/case/{case.pk}/")
    assert page.locator("#story-snapshot").get_by_text(case.story.title).is_visible()
    assert "ai-text-classifier 2.3.0" in page.locator("#signals").inner_text()
    assert page.locator("#lease-left").inner_text().startswith("lease 1")

    # The policy preselects its default outcome and prefills the statement.
    assert page.locator("input[name=outcomes][value='distribution.network_only']").is_checked()
    assert page.locator("input[name=outcomes][value='account.suspend']").is_disabled()
    assert "@" + case.account.handle in page.locator("textarea[name=statement]").input_value()
    page.keyboard.press("v")
    page.locator(f"input[name=detector_{signal.pk}][value=right]").check()
    page.fill("textarea[name=rationale]", "Generic generated text, no disclosure in the first two paragraphs.")
    page.screenshot(path=str(SCREENSHOTS / "review_page_before_deciding.png"), full_page=True)
    page.locator("#decide-btn").click()
    page.wait_for_url(f"**/admin/review/queue/ai-content/?previous={case.pk}")

    assert "decided" in page.locator(".messagelist").inner_text()
    page.locator("#step-back a").click()
    assert "Applied" in page.locator("#actions").inner_text()
    case.refresh_from_db()
    case.story.refresh_from_db()
    assert case.status == CaseStatus.DECIDED
    assert case.story.distribution == "network_only"


def test_senior_moderator_approves_a_suspension(page, login):
    case = account_case(code="engagement.bulk_interactions")
    decider = moderator(username="malik")
    review.claim_case(user=decider, case=case)
    review.decide_case(
        case=case,
        user=decider,
        data=review.DecisionInput(
            is_violation=True,
            policy=policy("engagement.bulk_interactions"),
            outcomes=["account.suspend"],
            rationale="Followed 4,000 accounts in one hour from a data-centre IP.",
            statement="Your account followed thousands of accounts in an hour, which our rules forbid.",
        ),
    )
    login(senior_moderator(username="sofia", first_name="Sofia"))
    page.get_by_role("link", name="Approvals waiting: 1").click()
    card = page.locator(".approval")
    assert "Decided by malik" in card.inner_text()
    assert "severe outcome: Suspend account" in card.inner_text()
    card.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/admin/review/approvals/")
    assert "Approved the decision" in page.locator(".messagelist").inner_text()

    action = EnforcementAction.objects.get(case=case)
    assert action.status == ActionStatus.APPLIED
    assert action.decision.approved_by.username == "sofia"
    case.account.refresh_from_db()
    assert case.account.status == AccountStatus.SUSPENDED
    page.goto(f"/admin/review/case/{case.pk}/")
    assert "Approved by sofia" in page.locator(".decision").inner_text()
