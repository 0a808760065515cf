"""A writer opens the appeal link from the notice, files an appeal with a file and
checks the status page, on a desktop and a phone-width screen."""

import pytest

from appeals.models import Appeal
from cases.notices import make_appeal_token
from tests.appeals.factories import applied_action, notice_for
from tests.browser.conftest import SCREENSHOTS
from tests.factories import AccountFactory, StoryFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _notice():
    writer = AccountFactory(handle="ada", email="ada@example.com", partner=True)
    story = StoryFactory(author=writer, is_paywalled=True, title="Why I bake at night")
    action = applied_action("paywall.remove", story=story)
    return notice_for(action.decision)


def test_writer_files_an_appeal_from_the_notice_link(page):
    notice = _notice()
    page.goto(f"/appeal/notice/{make_appeal_token(notice)}/")
    assert page.get_by_role("heading", name="Your appeal").is_visible()
    page.get_by_label("Story removed from the paywall").check()
    page.get_by_role("button", name="Send my appeal").click()
    # Nothing typed: the page names every missing field, no 500, nothing lost.
    assert page.get_by_role("alert").is_visible()
    assert "Tell us why you think we got it wrong: This field is required." in page.get_by_role("alert").inner_text()

    page.get_by_label("Tell us why you think we got it wrong").fill(
        "I wrote every word myself over two weekends; the attached screenshot shows my draft history."
    )
    page.set_input_files("#id_files", files=[{"name": "draft-history.png", "mimeType": "image/png", "buffer": PNG}])
    page.get_by_role("button", name="Send my appeal").click()
    page.wait_for_url("**/appeal/status/**")
    appeal = Appeal.objects.get()
    assert page.url.endswith(f"/appeal/status/{appeal.tracking_token}/")
    assert page.get_by_role("heading", name=f"Your appeal A-{appeal.pk:06d}").is_visible()
    text = page.locator("main").inner_text()
    assert "We received your appeal" in text
    assert "Submitted" in text and "draft-history.png" in text
    assert appeal.files.get().content_type == "image/png"

    page.reload()
    assert page.locator(".status").inner_text() == "Submitted"


def test_appeal_form_fits_a_phone(chromium, live_server):
    notice = _notice()
    context = chromium.new_context(viewport={"width": 375, "height": 740}, base_url=live_server.url)
    phone = context.new_page()
    try:
        phone.goto(f"/appeal/notice/{make_appeal_token(notice)}/")
        assert phone.get_by_role("button", name="Send my appeal").is_visible()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"page scrolls sideways on a phone ({width}px)"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        phone.screenshot(path=str(SCREENSHOTS / "appeal_form_phone.png"), full_page=True)
    finally:
        context.close()
