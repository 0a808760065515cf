"""The supervisor's date range: "To (included)" means the last day counts, and the page says so."""

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from cases.models import Case
from supervision.forms import PeriodForm
from supervision.selectors import queue_measures
from tests.cases.review_factories import story_case
from tests.factories import supervisor

pytestmark = pytest.mark.django_db


def _at(day: date, hours: int, minutes: int = 0) -> datetime:
    return datetime.combine(day, time(hours, minutes), tzinfo=timezone.get_current_timezone())


def test_the_end_date_is_included_and_the_day_after_is_not():
    form = PeriodForm({"start": "2026-03-01", "end": "2026-03-07"})
    period = form.period()
    assert form.fields["end"].label == "To (included)"
    assert period.last_day == date(2026, 3, 7)
    on_the_last_day = story_case()
    the_day_after = story_case(queue=on_the_last_day.queue)
    Case.objects.filter(pk=on_the_last_day.pk).update(opened_at=_at(date(2026, 3, 7), 23, 59))
    Case.objects.filter(pk=the_day_after.pk).update(opened_at=_at(date(2026, 3, 8), 0))
    row = next(r for r in queue_measures(period=period) if r["queue"] == on_the_last_day.queue)
    assert row["inflow"] == 1


def test_the_dashboard_says_both_days_are_included(client):
    client.force_login(supervisor())
    html = client.get("/admin/supervision/", {"start": "2026-03-01", "end": "2026-03-07"}).content.decode()
    assert "From 1 Mar 2026 to 7 Mar 2026, both days included" in html
    assert "end excluded" not in html
    assert PeriodForm({"end": "2026-03-07"}).period().start.date() == date(2026, 3, 7) - timedelta(days=27)
