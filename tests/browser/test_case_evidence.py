import pytest

from moderation.models import SignalSource
from tests.cases.intake_helpers import detector_signal, make_client, reader_signal, send
from tests.factories import AccountFactory, StoryFactory, moderator

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_moderator_opens_a_case_and_sees_its_evidence(page, login):
    detector = make_client("ai-text-classifier")[0]
    platform = make_client("platform-web", [SignalSource.READER_REPORT])[0]
    author = AccountFactory(handle="delvewriter", partner=True, follower_count=5400)
    story = StoryFactory(
        author=author,
        title="In today's fast-paced world, productivity matters",
        body="In today's fast-paced world, productivity has become more important than ever.\n\n"
        "Let's delve into the key aspects of productivity.",
        is_paywalled=True,
    )
    result = send(
        detector,
        detector_signal(author, story, score=0.94, proposed_outcomes=["paywall.remove"], payload={"perplexity": 9.8}),
    )
    send(
        platform,
        reader_signal(
            author, story, reporter=AccountFactory(handle="carefulreader"), reason="Generic AI text behind the paywall."
        ),
    )

    login(moderator(username="mira", first_name="Mira"))
    page.goto("/admin/cases/case/")
    page.get_by_role("link", name=f"#{result.case_id}").click()
    page.wait_for_url(f"**/admin/cases/case/{result.case_id}/change/")

    timeline = page.locator("#evidence-timeline")
    assert timeline.get_by_text("Content snapshot").is_visible()
    assert timeline.get_by_text("ai-text-classifier 2.3.0: ai.paywalled_generated (score 0.94)").is_visible()
    assert timeline.get_by_text("Generic AI text behind the paywall.").is_visible()
    assert page.locator("#signals tbody tr").count() == 2
    assert page.locator("#proposals").get_by_text("Remove from paywall").is_visible()

    page.fill("#add-evidence textarea", "Checked the author's earlier stories: same template since March.")
    page.click("#add-evidence input[type=submit]")
    assert page.locator(".messagelist").get_by_text("Evidence added to the case.").is_visible()
    assert timeline.get_by_text("same template since March").is_visible()
    assert timeline.get_by_text("added by mira").is_visible()
