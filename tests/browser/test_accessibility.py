"""Every page people use passes axe-core with no serious or critical violation.

The demo seed gives each page real content (queues with cases, a case under review,
an awaiting approval, appeals, supervision figures); each role then walks its pages.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from appeals.models import Appeal
from cases.models import Case, CaseStatus, Notice
from cases.notices import make_appeal_token
from tests.browser.conftest import SCREENSHOTS, axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "demo-pass-2026"


def _pages_by_role() -> dict[str, list[str]]:
    case = Case.objects.filter(status=CaseStatus.OPEN).order_by("id").first()
    appeal = Appeal.objects.order_by("id").first()
    return {
        "moderator": [
            "/admin/",
            "/admin/cases/case/",
            f"/admin/cases/case/{case.pk}/change/",
            f"/admin/review/case/{case.pk}/",
            f"/admin/review/case/{case.pk}/statement/",
            f"/admin/review/queue/{case.queue.slug}/",
            "/admin/cases/signal/",
        ],
        "senior": ["/admin/", "/admin/review/approvals/"],
        "appeals": ["/admin/", "/admin/appeals/appeal/", f"/admin/appeals/appeal/{appeal.pk}/change/"],
        "supervisor": [
            "/admin/",
            "/admin/supervision/",
            "/admin/supervision/audit/",
            "/admin/supervision/decisions/",
            "/admin/supervision/qa/",
            "/admin/supervision/recall/",
            "/admin/supervision/recall/follow-spam-detector/0.9.1/",
            "/admin/supervision/transparency/",
            "/admin/cases/strike/",
            "/admin/supervision/detectors/ai-text-classifier/2.4.0/",
            "/admin/moderation/backgroundjob/",
        ],
    }


def _writer_pages() -> list[str]:
    from appeals.tokens import make_magic_token

    appeal = Appeal.objects.filter(kind="action").order_by("id").first()
    followers = Appeal.objects.filter(kind="followers").order_by("id").first()
    writers = Notice.objects.filter(recipient_kind=Notice.Recipient.WRITER, decision__isnull=False).order_by("id")
    notice = writers.filter(account=appeal.account).first() or writers.first()
    with_email = writers.exclude(account__email="").first()
    pages = [
        "/appeal/",
        f"/appeal/status/{appeal.tracking_token}/",
        f"/appeal/notice/{make_appeal_token(notice)}/",
        f"/appeal/start/{make_magic_token(with_email.account)}/",
    ]
    if followers is not None:
        pages.append(f"/appeal/status/{followers.tracking_token}/?of=followers")
    return pages


NARROW = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 900}


def _check_layout(page, url: str, viewport: dict, failures: list) -> None:
    """Writer pages hold at a phone's width and at a laptop's: no horizontal scrolling."""
    page.set_viewport_size(viewport)
    try:
        _check(page, url, f"writer-{viewport['width']}", failures)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            failures.append((f"writer-{viewport['width']}", url, f"{overflow}px of horizontal overflow"))
    finally:
        page.set_viewport_size(WIDE)


def _check_statement_preview(page, failures: list) -> None:
    """The reviewer's preview, as the page's script shows it under the decision form."""
    page.goto("/admin/")
    page.locator("form[action$='/next/'] button").first.click()
    page.wait_for_url("**/admin/review/case/**")
    page.click("#statement-preview-btn")
    page.wait_for_selector("#statement-letter-title")
    page.screenshot(path=str(SCREENSHOTS / "a11y-moderator-statement-preview-inline.png"), full_page=True)
    problems = axe_violations(page)
    if problems:
        failures.append(("moderator", "statement preview (inline)", problems))


def _check(page, url: str, label: str, failures: list) -> None:
    page.goto(url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = re.sub(r"/(status|notice|start)/[^/]+/", r"/\1/TOKEN/", url)
    name = re.sub(r"[^\w.-]+", "_", f"a11y-{label}-{path}").strip("_")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    problems = axe_violations(page)
    if problems:
        failures.append((label, url, problems))


def test_every_page_passes_axe_core_for_each_role_and_for_writers(page):
    call_command("seed_demo", writers=60, verbosity=0)
    assert get_user_model().objects.filter(username="moderator").exists()
    failures: list = []

    for url in _writer_pages():
        for viewport in (NARROW, WIDE):
            _check_layout(page, url, viewport, failures)

    for username, urls in _pages_by_role().items():
        page.context.clear_cookies()
        page.goto("/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", DEMO_PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        for url in urls:
            _check(page, url, username, failures)
        if username == "moderator":
            _check_statement_preview(page, failures)

    assert not failures, "\n".join(f"{who} {url}: {problems}" for who, url, problems in failures)
