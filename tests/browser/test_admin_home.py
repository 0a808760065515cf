import pytest

from tests.factories import moderator

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_moderator_logs_in_and_sees_the_back_office_home(page, login):
    user = moderator(username="mira", first_name="Mira")
    login(user)
    assert page.title().startswith("Review queues")
    assert page.locator("#site-name").inner_text() == "Trust & Safety back-office"
    assert page.locator("#user-tools").inner_text().upper().startswith("WELCOME, MIRA")
    assert page.get_by_role("heading", name="Welcome, Mira").is_visible()
