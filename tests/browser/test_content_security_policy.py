"""The Content-Security-Policy holds in a real browser: every page people use, for
each role and for writers, sends a strict policy (no unsafe-inline, no unsafe-eval)
and Chromium, enforcing it, reports no violation."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.browser.conftest import CHROMIUM  # noqa: F401  (the chromium fixture lives there)
from tests.browser.test_accessibility import DEMO_PASSWORD, _pages_by_role, _writer_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


@pytest.fixture
def enforcing_page(chromium, live_server):
    """A page that enforces the CSP (the shared `page` fixture bypasses it for axe-core)."""
    context = chromium.new_context(base_url=live_server.url, bypass_csp=False)
    context.set_default_timeout(15_000)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    yield page
    context.close()


def _visit(page, url: str, found: list) -> None:
    response = page.goto(url)
    policy = response.headers.get("content-security-policy", "")
    if "script-src 'self'" not in policy or "unsafe-inline" in policy or "unsafe-eval" in policy:
        found.append((url, f"weak or missing policy: {policy!r}"))
    for header in ("referrer-policy", "permissions-policy", "x-content-type-options"):
        if not response.headers.get(header):
            found.append((url, f"no {header}"))
    page.wait_for_load_state("load")
    for violation in page.evaluate("window.__cspViolations"):
        found.append((url, violation))
    for error in page.console_errors:
        if "Content Security Policy" in error:
            found.append((url, error))
    page.console_errors.clear()


def test_no_page_breaks_the_content_security_policy_for_any_role_or_writer(enforcing_page):
    page = enforcing_page
    call_command("seed_demo", writers=60, verbosity=0)
    assert get_user_model().objects.filter(username="moderator").exists()
    found: list = []

    for url in [*_writer_pages(), "/api/docs/"]:
        _visit(page, url, found)

    for username, urls in _pages_by_role().items():
        page.context.clear_cookies()
        page.goto("/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        for url in [*urls, "/admin/review/bulk/", "/admin/password_change/"]:
            _visit(page, url, found)

    assert not found, "\n".join(f"{url}: {what}" for url, what in found)
