"""Canned rationales are catalogue data: seeded for the demo policies, edited by
supervisors in the admin, every change audited, never deleted."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from cases.models import CannedRationale
from cases.services.canned import save_canned_rationale
from moderation.models import AuditEvent
from tests.factories import moderator, supervisor

pytestmark = pytest.mark.django_db


def test_the_demo_policies_come_with_canned_rationales():
    codes = set(CannedRationale.objects.filter(active=True).values_list("policy_code", flat=True))
    assert {"ai.undisclosed_generated", "spam.duplicate", "engagement.bulk_interactions"} <= codes


def test_a_supervisor_changes_one_in_the_admin_and_the_audit_log_keeps_before_and_after(client):
    item = CannedRationale.objects.get(policy_code="spam.duplicate", title="Repost of own story")
    client.force_login(supervisor(username="sam"))
    url = reverse("admin:cases_cannedrationale_change", args=[item.pk])
    response = client.post(
        url,
        {
            "policy_code": "spam.duplicate",
            "title": item.title,
            "text": "Same text, reposted.",
            "active": "on",
            "position": 0,
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(verb="canned_rationale.saved", target_id=str(item.pk))
    assert event.actor.username == "sam"
    assert event.before["text"] != "Same text, reposted." and event.after["text"] == "Same text, reposted."
    assert client.post(reverse("admin:cases_cannedrationale_delete", args=[item.pk])).status_code == 403


def test_moderators_may_not_edit_them_and_unknown_policies_are_refused():
    with pytest.raises(PermissionDenied):
        save_canned_rationale(
            actor=moderator(), rationale=CannedRationale(policy_code="spam.duplicate", title="t", text="x")
        )
    with pytest.raises(ValidationError):
        save_canned_rationale(actor=supervisor(), rationale=CannedRationale(policy_code="no.such", title="t", text="x"))
