"""A trained moderator's loop with the keyboard alone: Review next, read, mark the
detectors, pick a canned rationale, submit, and land on the next case of the queue;
and the queue page driven by j/k/p/Enter. Screenshots at 1280 px."""

import pytest

from cases.models import CannedRationale, Case, CaseStatus, DetectorVerdict
from tests.browser.conftest import SCREENSHOTS
from tests.cases.review_factories import detector_signal, story_case
from tests.factories import QueueFactory, SignalFactory, moderator, policy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = "ai.undisclosed_generated"


def _tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_review_next_to_the_next_case_with_the_keyboard_alone(page, login, assert_accessible):
    queue = QueueFactory(slug="ai-content", name="AI content")
    first = story_case(code=CODE, queue=queue, priority=10)
    signals = [
        detector_signal(first, policy=policy(CODE), score=0.91),
        detector_signal(first, policy=policy(CODE), detector_name="style-probe", score=0.42),
    ]
    SignalFactory(
        source="reader_report",
        reporter=story_case(code=CODE).account,
        account=first.account,
        story=first.story,
        case=first,
        reason="Reads like a chatbot wrote it; the same phrases as in three other stories this week, word for word.",
    )
    second = story_case(code=CODE, queue=queue)
    canned, _ = CannedRationale.objects.get_or_create(
        policy_code=CODE, title="Generated, no disclosure", defaults={"text": "Generated text without disclosure."}
    )
    login(moderator(username="mira"))

    _tab_to(page, "#queue-ai-content button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/admin/review/case/{first.pk}/")
    width = page.evaluate(
        "() => [document.querySelector('#signals').scrollWidth, document.querySelector('#signals').clientWidth]"
    )
    assert width[0] <= width[1], f"the signals panel scrolls sideways: {width}"

    # Submitting with nothing marked names every missing piece at once, each on its field.
    with page.expect_navigation():
        page.keyboard.press("Control+Enter")
    assert page.locator(f"#detector_{signals[0].pk}-error").is_visible()
    assert page.locator(f"#detector_{signals[1].pk}-error").is_visible()
    assert page.locator("#rationale-error").inner_text() == "Write the internal rationale."
    page.keyboard.press("Escape")

    page.keyboard.press("v")
    page.keyboard.press("1")
    page.keyboard.press("Shift+Digit2")
    page.keyboard.press("Escape")
    page.keyboard.press("c")
    assert page.evaluate("() => document.activeElement.classList.contains('canned-item')")
    page.keyboard.press("Enter")
    assert page.locator("textarea[name=rationale]").input_value() == canned.text
    page.screenshot(path=str(SCREENSHOTS / "keyboard_decision_before_submit.png"), full_page=True)
    assert_accessible(page)
    page.keyboard.press("Control+Enter")

    page.wait_for_url(f"**/admin/review/case/{second.pk}/?previous={first.pk}")
    assert page.locator("#step-back").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "keyboard_decision_next_case.png"), full_page=True)
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == CaseStatus.DECIDED
    assert first.decisions.get().rationale == canned.text
    marks = dict(DetectorVerdict.objects.filter(signal__in=signals).values_list("signal_id", "was_correct"))
    assert marks == {signals[0].pk: True, signals[1].pk: False}
    assert second.assignee.username == "mira" and second.status == CaseStatus.IN_REVIEW

    page.keyboard.press("b")
    page.wait_for_url(f"**/admin/review/case/{first.pk}/")


def test_the_queue_page_by_keys_previews_and_claims(page, login, assert_accessible):
    queue = QueueFactory(slug="ai-content", name="AI content")
    cases = [story_case(code=CODE, queue=queue, priority=10 - i, followers=100 * i) for i in range(3)]
    for case in cases:
        detector_signal(case, policy=policy(CODE), score=0.8)
    login(moderator(username="mira"))
    page.goto("/admin/")
    page.get_by_role("link", name="AI content").click()
    page.wait_for_url("**/admin/review/queue/ai-content/")
    assert_accessible(page)

    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.evaluate("() => document.activeElement.id") == f"q-{cases[1].pk}"
    page.keyboard.press("p")
    assert page.locator(f"#preview-{cases[1].pk}").is_visible()
    assert "ai-text-classifier 2.3.0 (0.80)" in page.locator(f"#preview-{cases[1].pk}").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "queue_page_preview.png"), full_page=True)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/admin/review/case/{cases[1].pk}/")
    assert Case.objects.get(pk=cases[1].pk).assignee.username == "mira"
