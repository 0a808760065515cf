"""Signing in with the organisation's provider in Chromium: the login page's button (no
CSP violation, no axe-core violation), the provider's round trip, the admin for a known
staff member whose provider asserted a second factor, and the refusal for a stranger."""

import pytest

from tests.browser.conftest import SCREENSHOTS, axe_violations
from tests.browser.test_content_security_policy import RECORD_VIOLATIONS
from tests.factories import moderator
from tests.oidc_provider import oidc_provider, oidc_provider_server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.real_two_factor]


def _click_sign_in(page):
    page.goto("/admin/login/")
    page.get_by_role("link", name="Sign in with Example Org").click()


def test_staff_sign_in_through_the_organisations_provider(chromium, live_server, page, oidc_provider):  # noqa: F811
    moderator(username="ada", email="ada@org.example")
    oidc_provider.sign_in_as(sub="sub-ada", email="ada@org.example", amr=["pwd", "mfa"])

    enforcing = chromium.new_context(base_url=live_server.url, bypass_csp=False)
    enforcing.add_init_script(RECORD_VIOLATIONS)
    browser = enforcing.new_page()
    _click_sign_in(browser)
    browser.wait_for_url("**/admin/")
    assert browser.get_by_role("heading", name="Review queues").is_visible()
    assert browser.evaluate("window.__cspViolations") == []
    enforcing.close()

    oidc_provider.sign_in_as(sub="sub-stranger", email="stranger@org.example")
    _click_sign_in(page)
    page.wait_for_url("**/admin/login/")
    assert "does not match an active staff account" in page.locator(".messagelist").inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "oidc-refused-login-page.png"), full_page=True)
    assert axe_violations(page) == []
