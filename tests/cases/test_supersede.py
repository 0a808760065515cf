"""A later decision on a re-opened case supersedes the earlier one: what it no longer
warrants is undone through the outbox, what it keeps is not applied twice, and the
writer hears once what changed."""

import pytest
from django.core import mail
from django.utils import timezone

from cases.models import ActionStatus, EnforcementAction, Notice, OutboxEntry, OutboxOperation, ReversalCause
from cases.services import enforcement, review
from moderation.models import AccountStatus, AuditEvent, Distribution, Follow
from supervision.services import requeue_case
from tests.cases.review_factories import account_case, story_case
from tests.cases.test_review_decisions import data
from tests.factories import (
    AccountFactory,
    DecisionFactory,
    EnforcementActionFactory,
    FollowFactory,
    moderator,
    senior_moderator,
    supervisor,
)

pytestmark = pytest.mark.django_db

SUPERSEDED_SUBJECTS = (
    "We reversed an earlier decision on your account",
    "We reversed an earlier decision on your story",
)


def decide(case, user, decision_data, run_on_commit):
    review.claim_case(user=user, case=case)
    with run_on_commit():
        return review.decide_case(case=case, user=user, data=decision_data)


def approve(decision, run_on_commit):
    with run_on_commit():
        return review.approve_decision(decision=decision, approver=senior_moderator())


def reopen(case):
    requeue_case(case=case, actor=supervisor(), reason="Detector recalled: fresh review")
    case.refresh_from_db()


def superseded_notices(account):
    return Notice.objects.filter(account=account, subject__in=SUPERSEDED_SUBJECTS)


def test_no_violation_on_re_review_lifts_the_suspension_restores_the_follows_and_tells_the_writer_once(
    run_on_commit,
):
    fake = AccountFactory(handle="reader42")
    followed = [AccountFactory(follower_count=1) for _ in range(3)]
    for target in followed:
        FollowFactory(follower=fake, followee=target)
    case = account_case(code="engagement.ring", account=fake)
    first = decide(
        case, moderator(), data("engagement.ring", outcomes=["account.suspend", "followers.purge"]), run_on_commit
    )
    approve(first, run_on_commit)
    fake.refresh_from_db()
    assert fake.status == AccountStatus.SUSPENDED
    assert not Follow.objects.filter(follower=fake, is_active=True).exists()
    mail.outbox.clear()

    reopen(case)
    second = decide(case, moderator(), data("engagement.ring", violation=False, outcomes=[]), run_on_commit)

    fake.refresh_from_db()
    assert fake.status == AccountStatus.ACTIVE
    assert Follow.objects.filter(follower=fake, is_active=True).count() == 3
    assert {a.follower_count for a in type(fake).objects.filter(pk__in=[t.pk for t in followed])} == {1}
    actions = list(EnforcementAction.objects.filter(decision=first))
    assert {(a.status, a.reversal_cause) for a in actions} == {(ActionStatus.REVERSED, ReversalCause.SUPERSEDED)}
    purge = next(a for a in actions if a.outcome == "followers.purge")
    assert purge.effect["reversal"]["restored_edges"] == 3

    notice = superseded_notices(fake).get()
    assert notice.decision == second
    assert "Suspend account" in notice.body and "Purge fake follows" in notice.body
    assert "does not break our rules" in notice.body
    assert [m.subject for m in mail.outbox if fake.email in m.to] == [notice.subject]
    event = AuditEvent.objects.get(verb="decision.superseded_earlier")
    assert event.target_id == str(second.pk)
    assert sorted(event.after["reversed"]) == sorted(a.pk for a in actions)
    requests = AuditEvent.objects.filter(verb="action.reversal_requested", case_ref=case.pk)
    assert requests.count() == 2 and {e.after["cause"] for e in requests} == {"superseded"}


def test_a_lighter_decision_undoes_only_what_it_drops_and_keeps_the_rest_without_applying_it_twice(run_on_commit):
    case = story_case(code="ai.paywalled_generated")
    story = case.story
    type(story).objects.filter(pk=story.pk).update(is_paywalled=True)
    both = ["paywall.remove", "distribution.network_only"]
    first = decide(case, moderator(), data("ai.paywalled_generated", outcomes=both), run_on_commit)
    story.refresh_from_db()
    assert (story.is_paywalled, story.distribution) == (False, Distribution.NETWORK_ONLY)

    reopen(case)
    second = decide(case, moderator(), data("ai.paywalled_generated", outcomes=["paywall.remove"]), run_on_commit)

    story.refresh_from_db()
    assert (story.is_paywalled, story.distribution) == (False, Distribution.GENERAL)
    paywall = EnforcementAction.objects.get(case=case, outcome="paywall.remove")  # one, not two
    assert paywall.decision == first and paywall.status == ActionStatus.APPLIED
    assert AuditEvent.objects.filter(verb="action.applied", target_id=str(paywall.pk)).count() == 1
    assert not second.actions.exists()
    limit = EnforcementAction.objects.get(case=case, outcome="distribution.network_only")
    assert limit.status == ActionStatus.REVERSED and limit.reversal_cause == ReversalCause.SUPERSEDED

    notice = superseded_notices(case.account).get()
    undone, stays = notice.body.split("What stays in place:")
    assert "Network-only distribution" in undone and "Remove from paywall" not in undone
    assert "Remove from paywall" in stays
    # The new decision's own notice names the measure that stays.
    decision_notice = Notice.objects.get(decision=second, recipient_kind="writer", subject__startswith="Decision on")
    assert "Remove from paywall" in decision_notice.body


def test_a_re_decision_that_needs_four_eyes_supersedes_only_once_approved(run_on_commit):
    account = AccountFactory()
    case = account_case(code="engagement.ring", account=account)
    first = decide(case, moderator(), data("engagement.ring", outcomes=["account.suspend"]), run_on_commit)
    approve(first, run_on_commit)
    reopen(case)

    lighter = data("engagement.ring", outcomes=["account.restrict"])
    waiting = decide(case, moderator(), lighter, run_on_commit)
    assert waiting.needs_approval
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    assert not superseded_notices(account).exists()

    with run_on_commit():
        review.reject_decision(decision=waiting, approver=senior_moderator(), note="Keep the suspension for now.")
    account.refresh_from_db()
    assert account.status == AccountStatus.SUSPENDED
    assert EnforcementAction.objects.get(decision=first).status == ActionStatus.APPLIED

    again = decide(case, moderator(), lighter, run_on_commit)
    approve(again, run_on_commit)
    account.refresh_from_db()
    # The restriction stands; the suspension it replaces is gone.
    assert account.status == AccountStatus.RESTRICTED
    assert EnforcementAction.objects.get(decision=first).status == ActionStatus.REVERSED
    assert EnforcementAction.objects.get(decision=again).status == ActionStatus.APPLIED
    assert superseded_notices(account).count() == 1


def test_an_earlier_action_that_never_reached_the_platform_is_withdrawn_not_reversed(run_on_commit):
    case = story_case(code="spam.duplicate", status="decided", decided_at=timezone.now())
    earlier = DecisionFactory(case=case, outcomes=["story.remove"])
    failed = EnforcementActionFactory(
        decision=earlier, outcome="story.remove", status=ActionStatus.FAILED, last_error="HTTP 500"
    )
    entry = OutboxEntry.objects.create(
        action=failed, operation=OutboxOperation.APPLY, attempts=8, gave_up_at=timezone.now(), last_error="HTTP 500"
    )
    reopen(case)
    decide(case, moderator(), data("spam.duplicate", violation=False, outcomes=[]), run_on_commit)

    failed.refresh_from_db()
    entry.refresh_from_db()
    assert failed.status == ActionStatus.REJECTED
    assert entry.done_at is not None
    assert AuditEvent.objects.filter(verb="action.withdrawn", target_id=str(failed.pk)).count() == 1
    # Nothing can put it on the platform any more.
    assert enforcement.retry_outbox_entry(entry=entry, actor=senior_moderator()) is None
    case.story.refresh_from_db()
    assert case.story.is_removed is False
    assert "Remove story" in superseded_notices(case.account).get().body


def test_a_first_decision_supersedes_nothing(run_on_commit):
    case = story_case(code="spam.duplicate")
    decide(case, moderator(), data("spam.duplicate"), run_on_commit)
    assert not AuditEvent.objects.filter(verb="decision.superseded_earlier").exists()
    assert not superseded_notices(case.account).exists()
