"""The supervisor pages as a supervisor uses them: measures, drill-down, audit log and
chain check, decision explorer with CSV, transparency report downloads."""

import csv
import io
import json

import pytest
from django.db import connection, transaction
from django.urls import reverse

from moderation.audit import record_event
from moderation.audit_sequencer import run_sequencer
from moderation.models import AuditEvent
from supervision.models import AuditChainCheck
from tests.db_support import audit_triggers_lifted
from tests.factories import DecisionFactory, supervisor
from tests.supervision.world import AI, build_world

pytestmark = pytest.mark.django_db

PERIOD_QUERY = {"start": "2026-03-02", "end": "2026-03-29"}


@pytest.fixture
def boss(client):
    user = supervisor(username="sam")
    client.force_login(user)
    return user


def test_dashboard_shows_the_bad_detector_release(client, boss):
    build_world()
    html = client.get(reverse("supervision:dashboard"), PERIOD_QUERY).content.decode()
    assert 'data-detector="ai-text-classifier@2.0"' in html
    row = html.split('data-detector="ai-text-classifier@2.0"')[1].split("</tr>")[0]
    assert "33%" in row and "1/3" in row and "low" in row
    assert 'class="sv-alert"' in html.split('data-detector="ai-text-classifier@2.0"')[0].rsplit("<tr", 1)[1]
    queue_a = html.split('data-queue="queue-a"')[1].split("</tr>")[0]
    assert "36.0 h" in queue_a and "132.0 h" in queue_a


def test_dashboard_rejects_a_backwards_period_without_a_500(client, boss):
    response = client.get(reverse("supervision:dashboard"), {"start": "2026-03-10", "end": "2026-03-01"})
    assert response.status_code == 200
    assert "The period ends before it starts." in response.content.decode()


def test_drill_down_from_a_detector_to_its_cases(client, boss):
    world = build_world()
    response = client.get(reverse("supervision:detector", args=["ai-text-classifier", "2.0"]), PERIOD_QUERY)
    html = response.content.decode()
    assert response.status_code == 200
    for name in ("c2", "c3", "c4"):
        assert f"#{world.cases[name].pk}<" in html
    assert f"#{world.cases['c1'].pk}<" not in html  # version 1.0's case
    assert "(1 wrong at decision, 1 finally)" in html


def test_unknown_detector_is_a_404_page(client, boss):
    assert client.get(reverse("supervision:detector", args=["nope", "0"])).status_code == 404


def _audit(verb, target, **refs):
    with transaction.atomic():
        return record_event(actor=None, verb=verb, target=target, **refs)


def test_audit_log_filters_and_links_each_event_to_its_object(client, boss, django_assert_max_num_queries):
    decision = DecisionFactory()
    case = decision.case
    _audit("demo.seeded", case, case_ref=case.pk)
    _audit("demo.seeded", boss, appeal_ref=99)
    url = reverse("supervision:audit")
    with django_assert_max_num_queries(12):
        html = client.get(url, {"case_ref": case.pk}).content.decode()
    assert f"cases.case #{case.pk}" in html
    assert "appeal_ref=99" not in html
    html = client.get(url, {"appeal_ref": 99}).content.decode()
    assert "?appeal_ref=99" in html
    assert f'href="{reverse("admin:auth_user_change", args=[boss.pk])}"' in html
    assert "system seeded demo data" in html
    assert client.get(url, {"verb": "not-a-verb"}).status_code == 200


def test_audit_log_query_count_does_not_grow_with_rows(client, boss, django_assert_max_num_queries):
    for _ in range(30):
        _audit("demo.seeded", boss)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("supervision:audit")).status_code == 200


def test_verify_chain_reports_intact_and_is_audited(client, boss):
    _audit("demo.seeded", boss)
    response = client.post(reverse("supervision:audit_verify"), follow=True)
    assert "Audit chain intact: 1 events verified." in response.content.decode()
    check = AuditChainCheck.objects.get()
    assert (check.checked_by, check.events_checked, check.broken_at) == (boss, 1, None)
    event = AuditEvent.objects.order_by("-id").first()
    assert (event.verb, event.actor, event.target_id) == ("audit.chain_verified", boss, str(check.pk))


def _tamper(event_id: int) -> None:
    """Edit one audit row behind the log's back, lifting the append-only triggers."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending on the table
    with audit_triggers_lifted(), connection.cursor() as cursor:
        cursor.execute("UPDATE moderation_auditevent SET reason='edited' WHERE id=%s", [event_id])


def test_verify_chain_names_the_first_broken_link(client, boss):
    first = _audit("demo.seeded", boss)
    second = _audit("demo.seeded", boss)
    run_sequencer()  # chained and signed: from here on an edit shows
    _tamper(second.pk)
    response = client.post(reverse("supervision:audit_verify"), follow=True)
    assert f"Audit chain broken at event #{second.pk}" in response.content.decode()
    assert AuditChainCheck.objects.get().broken_at == second.pk
    assert first.pk < second.pk


def test_verify_chain_needs_post(client, boss):
    assert client.get(reverse("supervision:audit_verify")).status_code == 405


def test_decision_explorer_filters_and_shows_appeal_outcome(client, boss, django_assert_max_num_queries):
    world = build_world()
    url = reverse("supervision:decisions")
    with django_assert_max_num_queries(14):
        html = client.get(url).content.decode()
    table = html.split('id="decision-table"')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 6  # header + six decisions
    html = client.get(url, {"appeal": "overturned"}).content.decode()
    assert f"#{world.cases['c1'].pk}<" in html and f"#{world.cases['c6'].pk}<" not in html
    html = client.get(url, {"detector": "ai-text-classifier@2.0"}).content.decode()
    assert "3 decisions" in html
    html = client.get(url, {"reviewer": world.users["mod2"].pk, "is_violation": "false"}).content.decode()
    assert "1 decision<" in html
    assert ">approver<" in client.get(url, {"policy": AI, "is_violation": "true"}).content.decode()


def test_decision_export_streams_csv_with_the_filters(client, boss):
    world = build_world()
    response = client.get(reverse("supervision:decisions_export"), {"policy": AI})
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(int(r["decision_id"]) for r in rows) == sorted(world.decisions[d].pk for d in ("d1", "d3"))
    d3 = next(r for r in rows if int(r["decision_id"]) == world.decisions["d3"].pk)
    assert (d3["reviewer"], d3["approver"], d3["appeal_status"], d3["detector_involved"]) == (
        "mod2",
        "approver",
        "submitted",
        "yes",
    )


def test_transparency_page_csv_and_json(client, boss):
    build_world()
    page = client.get(reverse("supervision:transparency"), PERIOD_QUERY).content.decode()
    assert "Followers restored" in page and "37 follows" in page
    data = json.loads(client.get(reverse("supervision:transparency_json"), PERIOD_QUERY).content)
    assert data["decisions"] == {"total": 5, "involving_automated_means": 4, "automated_share": 0.8}
    assert data["appeals"]["received"] == 3
    response = client.get(reverse("supervision:transparency_csv"), PERIOD_QUERY)
    assert response["Content-Disposition"] == 'attachment; filename="transparency-2026-03-02-2026-03-29.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "key", "detail", "value"]
    assert ["notices_received", "total", "", "7"] in rows
    assert ["time_to_decision", "median_seconds", "", "86400.0"] in rows


def test_transparency_bad_dates_are_a_form_error(client, boss):
    response = client.get(reverse("supervision:transparency"), {"start": "yesterday"})
    assert response.status_code == 400
    assert "Enter a valid date." in response.content.decode()
