"""An appeals reviewer overturns a follower purge and the writer's followers are back."""

import pytest
from django.utils import timezone

from appeals import services
from moderation.models import Account
from tests.appeals.factories import active_followers, purge_followers_of
from tests.browser.conftest import SCREENSHOTS
from tests.factories import AccountFactory, appeals_reviewer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_reviewer_overturns_a_follower_purge(page, login):
    writer = AccountFactory(handle="ada", email="ada@example.com", partner=True)
    purge = purge_followers_of(writer, genuine=2, fake=1)
    appeal = services.file_appeal(
        account=writer,
        action=None,
        followers_dropped_on=timezone.localdate(),
        writer_statement="Lost most of my readers overnight; they are people from my writing class.",
        contact_email=writer.email,
    )
    assert Account.objects.get(pk=writer.pk).follower_count == 0

    login(appeals_reviewer(username="arjun", first_name="Arjun"))
    page.get_by_role("button", name="Review next appeal").click()
    page.wait_for_url(f"**/admin/appeals/appeal/{appeal.pk}/change/")
    table = page.locator("#purged-followers")
    for f in purge.genuine + purge.fake:
        assert table.get_by_text(f"@{f.handle}").first.is_visible()
    page.get_by_label("Overturn: reverse every appealed action / judge every purged follower genuine").check()
    page.get_by_label("Statement to the writer").fill(
        "We checked each removed account: they were real readers. Your followers are restored."
    )
    page.get_by_role("button", name="Record decision: show what changes").click()
    plan = page.locator("#appeal-plan")
    for f in purge.genuine + purge.fake:
        assert f"@{f.handle} → @ada: 1 follow restored" in plan.inner_text()
    page.get_by_role("button", name="Confirm and apply").click()
    page.wait_for_selector("#follower-restorations")
    assert "Overturned" in page.locator("#appeal-decision").inner_text()
    assert "3 followers restored" in page.locator("#writer-sees").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "appeal_review_admin_decided.png"), full_page=True)

    writer.refresh_from_db()
    assert writer.follower_count == 3
    assert active_followers(writer) == {f.pk for f in purge.genuine + purge.fake}

    page.goto(f"/appeal/status/{appeal.tracking_token}/")
    main = page.locator("main").inner_text()
    assert "Overturned" in main and "3 followers restored" in main
    assert "arjun" not in main.lower()
