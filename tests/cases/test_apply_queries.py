"""A batch job applies approved actions at a fixed cost per action (issue 16): what the
chunk shares — the actions with their decisions, the gate's follower threshold, who
is a staff person — is read once per job, and the move to `applied` reuses the row lock
the apply already holds."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.jobs import apply_actions_job
from cases.models import ActionStatus, EnforcementAction, OutboxEntry, OutboxOperation
from moderation.models import AccountStatus, AuditEvent
from tests.factories import CaseFactory, EnforcementActionFactory, moderator

pytestmark = pytest.mark.django_db

# SQLite queues the audit row for the sequencer in a second statement (PostgreSQL: one CTE).
QUERIES_PER_ACTION = {"postgresql": 16}.get(connection.vendor, 17)


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


def test_a_batch_applies_each_action_in_a_fixed_number_of_queries():
    decided_by = moderator()
    two, six = _restrictions(2, decided_by), _restrictions(6, decided_by)
    small, large = _queries_to_apply(two), _queries_to_apply(six)
    assert (large - small) / 4 <= QUERIES_PER_ACTION
    applied = EnforcementAction.objects.filter(pk__in=two + six, status=ActionStatus.APPLIED)
    assert applied.count() == 8
    assert {a.account.status for a in applied.select_related("account")} == {AccountStatus.RESTRICTED}
    assert AuditEvent.objects.filter(verb="action.applied").count() == 8
    assert not OutboxEntry.objects.filter(action_id__in=two + six, done_at__isnull=True).exists()
