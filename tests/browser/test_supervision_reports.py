"""A supervisor reads the measures, drills from the low-precision detector release into
its cases, and downloads the transparency report."""

import csv
import io
from pathlib import Path

import pytest

from tests.factories import supervisor
from tests.supervision.world import build_world

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_supervisor_drills_from_a_bad_detector_into_its_cases_and_exports_the_report(page, login):
    world = build_world()
    login(supervisor(username="sam", first_name="Sam"))

    page.locator("#panel-supervision").get_by_role("link", name="Measures").click()
    page.fill("#id_start", "2026-03-02")
    page.fill("#id_end", "2026-03-29")
    page.get_by_role("button", name="Apply").click()
    bad_row = page.locator('tr[data-detector="ai-text-classifier@2.0"]')
    assert "33%" in bad_row.inner_text()
    assert "sv-alert" in bad_row.get_attribute("class")
    assert "100%" in page.locator('tr[data-detector="ai-text-classifier@1.0"]').inner_text()
    page.screenshot(path="test-artifacts/screenshots/supervision-dashboard.png", full_page=True)

    bad_row.get_by_role("link", name="ai-text-classifier").click()
    page.wait_for_url("**/detectors/ai-text-classifier/2.0/**")
    cases = page.locator("#detector-cases tbody tr")
    assert cases.count() == 3
    listed = page.locator("#detector-cases").inner_text()
    for name in ("c2", "c3", "c4"):
        assert f"#{world.cases[name].pk}" in listed
    page.screenshot(path="test-artifacts/screenshots/supervision-detector.png", full_page=True)

    page.get_by_role("link", name="Transparency report").click()
    page.fill("#id_start", "2026-03-02")
    page.fill("#id_end", "2026-03-29")
    page.get_by_role("button", name="Apply").click()
    assert "37 follows" in page.locator("#report").inner_text()
    with page.expect_download() as download_info:
        page.click("#download-csv")
    download = download_info.value
    assert download.suggested_filename == "transparency-2026-03-02-2026-03-29.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert ["decisions", "involving_automated_means", "", "4"] in rows
