"""The audit log's transparency side as a supervisor sees it: integration lag on the
dashboard (an alert over the limit), signed heads to download, and the chain check naming
a forged head."""

import json

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from moderation.audit import record_event
from moderation.audit_heads import Head, head_sink, verify_head
from moderation.audit_sequencer import run_sequencer
from supervision.models import AuditChainCheck
from tests.factories import AccountFactory, moderator, supervisor

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(client):
    user = supervisor(username="sam")
    client.force_login(user)
    return user


def _events(n=2):
    account = AccountFactory()
    with transaction.atomic():
        for _ in range(n):
            record_event(actor=None, verb="demo.seeded", target=account)


def _status(html):
    return html.split('id="audit-chain-status"')[1].split("</div>")[0]


def test_dashboard_shows_the_integration_lag_and_alerts_over_the_limit(client, boss, settings):
    _events(2)
    settings.AUDIT = {**settings.AUDIT, "MAX_INTEGRATION_DELAY_SECONDS": 0}
    status = _status(client.get(reverse("supervision:dashboard")).content.decode())
    assert 'data-alert="1"' in status and "integration lag" in status
    assert "2 audit events not yet chained" in status and "No signed head yet" in status

    run_sequencer()
    status = _status(client.get(reverse("supervision:dashboard")).content.decode())
    assert 'data-alert="0"' in status and "Integration lag: <strong>0.0 s</strong>" in status
    assert "Newest signed head: 2 events" in status
    assert reverse("supervision:audit_heads") in status


def test_supervisors_download_the_signed_heads(client, boss):
    _events(1)
    run_sequencer()
    _events(2)
    run_sequencer()
    response = client.get(reverse("supervision:audit_heads"))
    assert response.status_code == 200 and response["Content-Type"] == "application/x-ndjson"
    assert "attachment" in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode().splitlines()
    heads = [Head(**json.loads(line)) for line in lines]
    assert [h.size for h in heads] == [1, 3] and all(verify_head(h) for h in heads)


def test_only_those_who_may_verify_the_chain_download_heads(client):
    client.force_login(moderator())
    assert client.get(reverse("supervision:audit_heads")).status_code == 403
    client.logout()
    assert client.get(reverse("supervision:audit_heads")).status_code == 302


def test_verify_button_chains_waiting_events_first(client, boss):
    _events(3)
    response = client.post(reverse("supervision:audit_verify"), follow=True)
    html = response.content.decode()
    assert "Audit chain intact: 3 events verified. 1 signed heads checked." in html
    assert AuditChainCheck.objects.get().intact


def test_verify_button_names_a_forged_head(client, boss):
    _events(2)
    run_sequencer()
    genuine = head_sink().latest()
    head_sink().append(Head(9, "f" * 64, timezone.now().isoformat(), genuine.key, genuine.sig))
    html = client.post(reverse("supervision:audit_verify"), follow=True).content.decode()
    assert "Audit log tampered with: signed head no. 2 (size 9" in html and "forged" in html
    check = AuditChainCheck.objects.get()
    assert not check.intact and check.broken_at is None and "forged" in check.problem
    assert "tampered" in client.get(reverse("supervision:audit")).content.decode()
