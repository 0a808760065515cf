"""A batch job applies approved actions at a fixed cost per group of actions, not per
action (issue 16): what the batch shares — the actions with their decisions, the gate's
follower threshold, who is a staff person — is read once per job, and a group's row
locks, standing actions, platform writes, moves to `applied`, audit rows and finished
entries are a statement or two each, however many actions the group holds."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.jobs import apply_actions_job
from cases.models import ActionStatus, EnforcementAction, OutboxEntry, OutboxOperation
from moderation.models import AccountStatus, AuditEvent
from tests.factories import CaseFactory, EnforcementActionFactory, moderator

pytestmark = pytest.mark.django_db


def _restrictions(n, decided_by):
    ids = []
    for _ in range(n):
        action = EnforcementActionFactory(
            decision__case=CaseFactory(story=None), decision__decided_by=decided_by, outcome="account.restrict"
        )
        OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
        ids.append(action.pk)
    return ids


def _queries_to_apply(ids):
    with CaptureQueriesContext(connection) as captured:
        assert apply_actions_job(ids) == len(ids)
    return len(captured)


def test_a_batch_applies_its_actions_in_a_number_of_queries_that_does_not_grow_with_them():
    decided_by = moderator()
    two, six = _restrictions(2, decided_by), _restrictions(6, decided_by)
    small, large = _queries_to_apply(two), _queries_to_apply(six)
    assert large == small <= 24
    applied = EnforcementAction.objects.filter(pk__in=two + six, status=ActionStatus.APPLIED)
    assert applied.count() == 8
    assert {a.account.status for a in applied.select_related("account")} == {AccountStatus.RESTRICTED}
    assert AuditEvent.objects.filter(verb="action.applied").count() == 8
    assert not OutboxEntry.objects.filter(action_id__in=two + six, done_at__isnull=True).exists()
