"""A state change and its audit row commit together or not at all."""

import pytest
from django.db import transaction

from cases.models import ActionStatus, EnforcementAction
from moderation.models import AuditEvent
from moderation.transitions import TransitionNotAllowed, transition
from tests.factories import EnforcementActionFactory, senior_moderator

pytestmark = pytest.mark.django_db

FLOW = {ActionStatus.APPROVED: {ActionStatus.FAILED}, ActionStatus.FAILED: {ActionStatus.APPROVED}}


def test_an_allowed_move_saves_and_writes_one_audit_row_with_before_and_after():
    action = EnforcementActionFactory()
    actor = senior_moderator()
    transition(action, to=ActionStatus.FAILED, allowed=FLOW, actor=actor, verb="account.status_changed", reason="x")
    assert EnforcementAction.objects.get(pk=action.pk).status == ActionStatus.FAILED
    event = AuditEvent.objects.get(target_type="cases.enforcementaction", target_id=str(action.pk))
    assert event.before == {"status": "approved"}
    assert event.after == {"status": "failed"}
    assert event.actor == actor and event.reason == "x"


def test_a_move_the_flow_does_not_allow_changes_nothing_and_audits_nothing():
    action = EnforcementActionFactory(status=ActionStatus.APPLIED, applied_at="2026-01-01T00:00:00Z")
    with pytest.raises(TransitionNotAllowed):
        transition(action, to=ActionStatus.FAILED, allowed=FLOW, actor=None, verb="account.status_changed")
    assert EnforcementAction.objects.get(pk=action.pk).status == ActionStatus.APPLIED
    assert not AuditEvent.objects.filter(target_id=str(action.pk)).exists()


def test_when_the_surrounding_transaction_rolls_back_the_audit_row_goes_with_the_change():
    action = EnforcementActionFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        transition(action, to=ActionStatus.FAILED, allowed=FLOW, actor=None, verb="account.status_changed")
        raise RuntimeError("the job crashed after the change")
    assert EnforcementAction.objects.get(pk=action.pk).status == ActionStatus.APPROVED
    assert not AuditEvent.objects.filter(target_id=str(action.pk)).exists()


def test_the_check_reads_the_stored_state_not_a_stale_object():
    action = EnforcementActionFactory()
    stale = EnforcementAction.objects.get(pk=action.pk)
    transition(action, to=ActionStatus.FAILED, allowed=FLOW, actor=None, verb="account.status_changed")
    with pytest.raises(TransitionNotAllowed):
        transition(stale, to=ActionStatus.FAILED, allowed=FLOW, actor=None, verb="account.status_changed")
    assert AuditEvent.objects.filter(target_id=str(action.pk)).count() == 1
