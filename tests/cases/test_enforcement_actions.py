import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from cases.models import ActionStatus, Decision, EnforcementAction, OutboxEntry, OutboxOperation, ReversalCause
from cases.selectors.review import restoration_progress
from cases.services import enforcement
from moderation.models import Account, AccountStatus, AuditEvent, Follow
from tests.cases.review_factories import service_user
from tests.factories import (
    AccountFactory,
    CaseFactory,
    DecisionFactory,
    EnforcementActionFactory,
    FollowFactory,
    StoryFactory,
    senior_moderator,
)
from tests.moderation.test_platform import FakePlatform

pytestmark = pytest.mark.django_db


def approved_action(outcome="story.remove", **kwargs):
    story = kwargs.pop("story", None) or StoryFactory()
    case = CaseFactory(account=story.author, story=story)
    action = EnforcementActionFactory(decision__case=case, outcome=outcome, **kwargs)
    OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
    return action


def test_apply_puts_the_action_on_the_platform_and_twice_is_once():
    action = approved_action()
    enforcement.apply_action(action_id=action.pk)
    enforcement.apply_action(action_id=action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.APPLIED and action.applied_at
    assert action.effect["story"]["after"] is True
    action.story.refresh_from_db()
    assert action.story.is_removed
    entry = action.outbox.get()
    assert entry.done_at and entry.attempts == 1
    applied = AuditEvent.objects.filter(verb="action.applied", case_ref=action.case_id)
    assert applied.count() == 1 and "decision #" in applied.get().reason


def test_the_job_refuses_an_action_whose_decision_awaits_a_second_approval():
    action = approved_action()
    # Slip past the service layer as a buggy shell session would; the job still refuses.
    Decision.objects.filter(pk=action.decision_id).update(needs_approval=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        EnforcementAction.objects.filter(pk=action.pk).update(status=ActionStatus.APPLIED, applied_at=timezone.now())
    enforcement.apply_action(action_id=action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.FAILED
    assert "awaits a second approval" in action.last_error
    assert not action.story.is_removed


def test_the_database_refuses_a_decision_by_a_service_user():
    bot = service_user()
    case = CaseFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        DecisionFactory(case=case, decided_by=bot)
    decision = DecisionFactory(case=case, needs_approval=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        Decision.objects.filter(pk=decision.pk).update(approved_by=bot, approved_at=timezone.now())


def test_the_database_refuses_approving_an_action_without_a_final_decision():
    case = CaseFactory()
    decision = DecisionFactory(case=case, needs_approval=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        EnforcementActionFactory(decision=decision, outcome="account.suspend", status=ActionStatus.APPROVED)
    waiting = EnforcementActionFactory(decision=decision, outcome="account.suspend", status="awaiting_approval")
    with pytest.raises(IntegrityError), transaction.atomic():
        EnforcementAction.objects.filter(pk=waiting.pk).update(status=ActionStatus.APPROVED)
    with pytest.raises(IntegrityError), transaction.atomic():
        EnforcementAction.objects.create(case=case, outcome="warning", account=case.account, status="approved")


def test_platform_failure_retries_with_backoff_then_fails_visibly_and_an_operator_retry_applies_it(run_on_commit):
    action = approved_action()
    with FakePlatform([500] * 6) as platform:
        conf = {"PLATFORM_ADAPTER": "moderation.platform.HttpPlatformAdapter", "PLATFORM_URL": platform.url}
        with override_settings(
            MODERATION={
                **_moderation(),
                **conf,
                "PLATFORM_RETRIES": 3,
                "PLATFORM_RETRY_BACKOFF": 0,
                "OUTBOX_MAX_ATTEMPTS": 2,
                "OUTBOX_RETRY_BACKOFF_SECONDS": 60,
            }
        ):
            before = timezone.now()
            enforcement.apply_action(action_id=action.pk)
            action.refresh_from_db()
            entry = action.outbox.get()
            # First attempt failed: the action waits for its retry, not failed yet.
            assert action.status == ActionStatus.APPROVED and "HTTP 500" in action.last_error
            assert entry.gave_up_at is None and "gave up after 3 tries" in entry.last_error
            assert before + timezone.timedelta(seconds=59) < entry.next_attempt_at
            assert entry.state() == "retrying"
            assert AuditEvent.objects.filter(verb="action.attempt_failed").count() == 1

            # Not due before the backoff ran out; due after it.
            assert enforcement.drain_outbox(older_than=timezone.timedelta(0)) == 0
            with run_on_commit():
                later = entry.next_attempt_at + timezone.timedelta(seconds=1)
                assert enforcement.drain_outbox(older_than=timezone.timedelta(0), now=later) == 1
            action.refresh_from_db()
            entry.refresh_from_db()
            assert action.status == ActionStatus.FAILED
            assert entry.gave_up_at and entry.attempts == 2 and entry.state() == "gave_up"
            assert AuditEvent.objects.filter(verb="action.failed").count() == 1

            # Nothing drains a given-up entry by itself.
            far = timezone.now() + timezone.timedelta(days=1)
            assert enforcement.drain_outbox(older_than=timezone.timedelta(0), now=far) == 0

            with run_on_commit():
                enforcement.retry_action(action=action, actor=senior_moderator())
    action.refresh_from_db()
    assert action.status == ActionStatus.APPLIED
    assert len(platform.requests) == 7
    assert {r[1] for r in platform.requests} == {action.idempotency_key}
    assert AuditEvent.objects.filter(verb="action.retried").count() == 1


def _moderation():
    from django.conf import settings

    return dict(settings.MODERATION)


def test_drain_outbox_picks_up_entries_whose_enqueue_was_lost(run_on_commit):
    action = approved_action()
    with run_on_commit():
        call_command("drain_outbox", "--older-than", "3600")
    action.refresh_from_db()
    assert action.status == ActionStatus.APPROVED
    with run_on_commit():
        call_command("drain_outbox", "--older-than", "0")
    action.refresh_from_db()
    assert action.status == ActionStatus.APPLIED


def _applied_purge(n=6):
    fake = AccountFactory(email="", handle="user123x9")
    targets = [AccountFactory(follower_count=5) for _ in range(n)]
    for t in targets:
        FollowFactory(follower=fake, followee=t)
    case = CaseFactory(account=fake, policy_family="engagement")
    action = EnforcementActionFactory(decision__case=case, outcome="followers.purge")
    OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
    enforcement.apply_action(action_id=action.pk)
    action.refresh_from_db()
    return action, targets


def test_purge_progress_is_kept_on_the_outbox_entry():
    action, targets = _applied_purge()
    entry = action.outbox.get(operation="apply")
    assert (entry.progress_total, entry.progress_done) == (6, 6)
    assert entry.cursor == Follow.objects.order_by("-id").values_list("id", flat=True)[0]
    assert action.effect["purged_edges"] == 6
    assert set(Account.objects.filter(pk__in=[t.pk for t in targets]).values_list("follower_count", flat=True)) == {4}


def test_reversal_restores_every_purged_edge_with_progress_and_audit(run_on_commit):
    action, targets = _applied_purge()
    senior = senior_moderator()
    with run_on_commit():
        entry = enforcement.request_reversal(
            action=action, actor=senior, reason="Genuine reader", cause=ReversalCause.APPEAL, appeal_ref=77
        )
    assert enforcement.request_reversal(action=action, actor=senior, reason="again") == entry
    action.refresh_from_db()
    assert action.status == ActionStatus.REVERSED and action.reversal_cause == "appeal"
    assert action.effect["reversal"] == {"restored_edges": 6}
    assert Follow.objects.filter(is_active=True).count() == 6
    assert set(Account.objects.filter(pk__in=[t.pk for t in targets]).values_list("follower_count", flat=True)) == {5}
    progress = restoration_progress(action)
    assert progress["state"] == "done" and progress["percent"] == 100 and progress["total"] == 6
    reversed_event = AuditEvent.objects.get(verb="action.reversed")
    assert reversed_event.appeal_ref == 77 and reversed_event.actor == senior

    enforcement.reverse_action(action_id=action.pk)  # twice is once
    assert Follow.objects.filter(is_active=True).count() == 6
    assert AuditEvent.objects.filter(verb="action.reversed").count() == 1


def test_reversal_of_a_suspension_restores_the_account(run_on_commit):
    account = AccountFactory()
    case = CaseFactory(account=account)
    action = EnforcementActionFactory(decision__case=case, outcome="account.suspend")
    OutboxEntry.objects.create(action=action, operation=OutboxOperation.APPLY)
    enforcement.apply_action(action_id=action.pk)
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    with run_on_commit():
        enforcement.request_reversal(action=action, actor=senior_moderator(), reason="overturned")
    account.refresh_from_db()
    assert account.status == AccountStatus.ACTIVE


def test_only_applied_actions_can_be_reversed_and_never_by_a_service_client():
    action = approved_action()
    with pytest.raises(enforcement.ReversalNotAllowed):
        enforcement.request_reversal(action=action, actor=senior_moderator(), reason="x")
    with pytest.raises(enforcement.HumanGateViolation):
        enforcement.request_reversal(action=action, actor=service_user(), reason="x")
    assert restoration_progress(action)["state"] == "not_requested"
