"""Real pages in Debian's headless Chromium via Playwright; a screenshot is saved for
every browser test (and named *-FAILED on failure) under test-artifacts/screenshots/."""

import os
import re
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls tests make
# between page steps are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]

REPORTS = pytest.StashKey[dict]()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Browser tests need Debian's chromium at /usr/bin/chromium (scripts/ensure-chromium).")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash.setdefault(REPORTS, {})["call"] = report
    return report


@pytest.fixture
def page(chromium, live_server, request):
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    report = request.node.stash.get(REPORTS, {}).get("call")
    failed = report is not None and report.failed
    name = re.sub(r"[^\w.-]+", "_", request.node.nodeid.split("::", 1)[-1])
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{name}{'-FAILED' if failed else ''}.png"), full_page=True)
    finally:
        context.close()


@pytest.fixture
def login(page):
    """Log a staff user in through the real admin login form."""

    def _login(user, password="pw-for-tests-1"):
        page.goto("/admin/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/")
        return page

    return _login


def axe_violations(page) -> list[dict]:
    """Run axe-core (the npm package, `npm ci` installs it) on the page as it is now;
    return the serious and critical violations, each with the nodes that fail."""
    if not AXE.exists():
        pytest.fail("Accessibility checks need axe-core: run `npm ci` (make test does).")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in BLOCKING_IMPACTS
    ]


@pytest.fixture
def assert_accessible():
    """`assert_accessible(page)`: no serious or critical axe-core violation on this page."""

    def check(page):
        problems = axe_violations(page)
        assert not problems, f"axe-core on {page.url}: {problems}"

    return check
